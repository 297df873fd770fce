//! The smoltcp backend against synack's core as its peer: the sockets it
//! holds are the ones the script has open, however many it opened.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use synack_proto::{ConnConfig, ConnId, Duration, Instant, ListenerId, StackConfig, State};

use super::super::synack::Synack;
use super::super::StackUnderTest;
use super::Smoltcp;

const SMOL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

/// The two stacks on one wire and one clock.
struct Pair {
    smol: Smoltcp,
    peer: Synack,
    now: Instant,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            smol: Smoltcp::new(StackConfig::default(), SMOL, 1),
            peer: Synack::new(StackConfig::default(), PEER, 2),
            now: Instant::from_micros(0),
        }
    }

    /// Carries packets both ways until neither side sends.
    fn settle(&mut self) {
        let mut buf = Vec::new();
        for _ in 0..1000 {
            let mut moved = false;
            while self.smol.poll_transmit(self.now, &mut buf) {
                self.peer.handle_packet(self.now, &buf);
                moved = true;
            }
            while self.peer.poll_transmit(self.now, &mut buf) {
                self.smol.handle_packet(self.now, &buf);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the two stacks never went quiet");
    }

    /// Runs both stacks' timers for `span` of virtual time.
    fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        self.settle();
        for _ in 0..10_000 {
            let next = [self.smol.poll_timeout(), self.peer.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .filter(|&t| t <= end);
            let Some(next) = next else { break };
            self.now = self.now.max(next);
            self.smol.handle_timeout(self.now);
            self.peer.handle_timeout(self.now);
            self.settle();
        }
        self.now = end;
        self.smol.handle_timeout(self.now);
        self.settle();
    }

    /// An active open from smoltcp to a listener of the peer's, carried
    /// through: smoltcp's connection and the peer's.
    fn open(&mut self, peer_listener: ListenerId) -> (ConnId, ConnId) {
        let server = SocketAddr::new(PEER, 80);
        let id = self
            .smol
            .connect(self.now, None, server, cfg())
            .expect("connect");
        self.settle();
        let theirs = self.peer.accept(peer_listener).expect("peer accepts");
        (id, theirs)
    }

    /// A listener of the peer's for [`Pair::open`].
    fn peer_listener(&mut self) -> ListenerId {
        let server = SocketAddr::new(PEER, 80);
        self.peer.listen(server, 16, cfg()).expect("peer listens")
    }

    /// The sockets smoltcp's socket set holds.
    fn smol_sockets(&self) -> usize {
        self.smol.sockets.iter().count()
    }
}

fn cfg() -> ConnConfig {
    ConnConfig::default()
}

#[test]
fn active_opens_closed_by_the_script_are_freed_after_time_wait() {
    let mut p = Pair::new();
    let l = p.peer_listener();
    for round in 0..20 {
        let (id, theirs) = p.open(l);
        assert_eq!(p.smol.state(id), Ok(State::Established), "round {round}");
        // smoltcp closes first, so it is the side that waits in TIME-WAIT.
        p.smol.close(p.now, id).expect("close");
        p.settle();
        p.peer.close(p.now, theirs).expect("peer closes");
        p.settle();
        assert_eq!(p.smol.state(id), Ok(State::TimeWait), "round {round}");
        assert_eq!(p.smol_sockets(), 1, "round {round}: held in TIME-WAIT");
        p.run_for(Duration::from_secs(11));
        assert_eq!(p.smol_sockets(), 0, "round {round}: freed once over");
        assert!(
            p.smol.state(id).is_err(),
            "round {round}: the handle is gone"
        );
    }
}

#[test]
fn an_aborted_connection_is_freed_once_its_reset_is_sent() {
    let mut p = Pair::new();
    let l = p.peer_listener();
    let (id, theirs) = p.open(l);
    p.smol.abort(p.now, id).expect("abort");
    // Held until the RST is out: the peer must see it.
    assert_eq!(p.smol_sockets(), 1);
    p.settle();
    assert_eq!(p.smol_sockets(), 0);
    assert!(p.peer.conn_error(theirs).is_ok_and(|e| e.is_some()));
}

#[test]
fn a_reset_connection_is_held_until_the_script_closes_it() {
    let mut p = Pair::new();
    let l = p.peer_listener();
    let (id, theirs) = p.open(l);
    p.peer.abort(p.now, theirs).expect("peer aborts");
    p.settle();
    // The script may still read the error from its descriptor.
    assert!(p.smol.conn_error(id).is_ok_and(|e| e.is_some()));
    assert_eq!(p.smol_sockets(), 1);
    p.smol.close(p.now, id).expect("close");
    assert_eq!(p.smol_sockets(), 0);
}

#[test]
fn a_listener_and_its_connections_are_freed_when_closed() {
    let mut p = Pair::new();
    let local = SocketAddr::new(SMOL, 8080);
    let l = p.smol.listen(local, 4, cfg()).expect("listen");
    assert_eq!(p.smol_sockets(), 1);
    let mut accepted: Vec<ConnId> = Vec::new();
    for _ in 0..3 {
        p.peer
            .connect(p.now, None, local, cfg())
            .expect("peer connects");
        p.settle();
        accepted.push(p.smol.accept(l).expect("accept"));
    }
    // Three accepted and one listening in their place.
    assert_eq!(p.smol_sockets(), 4);
    // One more waits in the queue, never accepted.
    p.peer
        .connect(p.now, None, local, cfg())
        .expect("peer connects");
    p.settle();
    assert_eq!(p.smol_sockets(), 5);
    for id in accepted {
        p.smol.abort(p.now, id).expect("abort");
    }
    p.smol.close_listener(p.now, l).expect("close the listener");
    p.settle();
    assert_eq!(p.smol_sockets(), 0);
}

#[test]
fn a_connection_reset_before_accept_is_freed() {
    let mut p = Pair::new();
    let local = SocketAddr::new(SMOL, 8080);
    let l = p.smol.listen(local, 4, cfg()).expect("listen");
    let theirs = p.peer.connect(p.now, None, local, cfg()).expect("connect");
    p.settle();
    assert_eq!(p.smol_sockets(), 2, "the child and a fresh listener");
    p.peer.abort(p.now, theirs).expect("peer aborts");
    p.settle();
    assert_eq!(p.smol.accept(l), Err(synack_proto::Error::WouldBlock));
    assert_eq!(p.smol_sockets(), 1, "only the listening socket");
}
