//! Explicit Congestion Notification (RFC 3168), pinned segment by segment:
//! the stack under test talks to a scripted peer that builds each segment
//! by hand, flags and IP ECN field included, and every segment the stack
//! sends is shown with its flags, relative sequence numbers and ECN field.
#![allow(clippy::unwrap_used)]

mod util;

use std::net::SocketAddr;
use synack_proto::wire::{
    emit_packet, parse_packet, ChecksumMode, Ecn, IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr,
};
use synack_proto::{
    CongestionAlgorithm, ConnConfig, ConnId, Duration, EcnMode, Instant, Shutdown, Stack,
    StackConfig,
};

const US: &str = "10.0.0.2";
const PEER: &str = "10.0.0.1";
/// The peer's initial sequence number; its segments are given relative to it.
const PEER_ISS: u32 = 7000;
const MSS: u32 = 1460;

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const ECE: TcpFlags = TcpFlags::ECE;
const CWR: TcpFlags = TcpFlags::CWR;
const PSH: TcpFlags = TcpFlags::PSH;

/// Settings that keep the segments plain: no options beyond the MSS (the
/// peer offers none) and every data segment acknowledged at once.
fn cfg(ecn: EcnMode) -> ConnConfig {
    ConnConfig {
        ecn,
        delayed_ack: None,
        // NewReno's halving (RFC 3168 6.1.2: "treated just as a congestion
        // loss"), whose numbers these tests pin; CUBIC's 0.7 is tested apart.
        congestion: CongestionAlgorithm::NewReno,
        prr: false,
        ..ConnConfig::default()
    }
}

/// The stack under test and the peer's side of one connection.
struct Host {
    stack: Stack,
    now: Instant,
    /// Our ISS, learnt from our first SYN; our sequence numbers are shown relative to it.
    iss: Option<u32>,
    us: SocketAddr,
    peer: SocketAddr,
}

impl Host {
    fn new() -> Host {
        let mut stack = Stack::new_deterministic(StackConfig::default(), 7);
        stack.add_address(US.parse().unwrap());
        Host {
            stack,
            now: Instant::ZERO,
            iss: None,
            us: SocketAddr::new(US.parse().unwrap(), 80),
            peer: SocketAddr::new(PEER.parse().unwrap(), 40000),
        }
    }

    /// Active open from port 40000 to the peer's port 80.
    fn connect(&mut self, conn: ConnConfig) -> ConnId {
        self.us.set_port(40000);
        self.peer.set_port(80);
        self.stack
            .connect_with(self.now, Some(self.us), self.peer, conn)
            .unwrap()
    }

    /// A listener on port 80: the connection is opened by [`Host::inject`]ed SYNs.
    fn listen(&mut self, conn: ConnConfig) -> synack_proto::ListenerId {
        self.stack.listen_with(self.us, 8, 8, conn).unwrap()
    }

    /// The peer sends `len` bytes at `seq` (relative to its ISS) acknowledging
    /// `ack` (relative to ours), in an IP header with ECN field `ecn`.
    fn inject(&mut self, seq: u32, ack: u32, flags: TcpFlags, ecn: Ecn, len: usize) {
        let payload = vec![0u8; len];
        let iss = self.iss.unwrap_or(0);
        let tcp = TcpRepr {
            src_port: self.peer.port(),
            dst_port: self.us.port(),
            seq: SeqNum(PEER_ISS.wrapping_add(seq)),
            ack: if flags.ack() {
                SeqNum(iss.wrapping_add(ack))
            } else {
                SeqNum(0)
            },
            flags,
            window: 65535,
            urgent: 0,
            options: TcpOptions {
                mss: flags.syn().then_some(MSS as u16),
                ..TcpOptions::default()
            },
            payload: &payload,
        };
        let ip = IpRepr::new(self.peer.ip(), self.us.ip())
            .unwrap()
            .with_ecn(ecn);
        let mut buf = Vec::new();
        emit_packet(&ip, &tcp, &mut buf);
        self.stack.handle_packet(self.now, &buf);
    }

    /// Every segment the stack sends now, as `FLAGS seq=S ack=A len=L ECN`.
    fn out(&mut self) -> Vec<String> {
        let mut buf = Vec::new();
        let mut segs = Vec::new();
        while self.stack.poll_transmit(self.now, &mut buf) {
            let (ip, tcp) = parse_packet(&buf, ChecksumMode::Verify).unwrap();
            if tcp.flags.syn() && self.iss.is_none() {
                self.iss = Some(tcp.seq.get());
            }
            let seq = tcp.seq.get().wrapping_sub(self.iss.unwrap_or(0));
            let mut s = format!("{} seq={seq}", tcp.flags);
            if tcp.flags.ack() {
                let ack = tcp.ack.get().wrapping_sub(PEER_ISS);
                s += &format!(" ack={ack}");
            }
            let ecn = match ip.ecn() {
                Ecn::NotEct => "not-ect",
                Ecn::Ect0 => "ect0",
                Ecn::Ect1 => "ect1",
                Ecn::Ce => "ce",
            };
            s += &format!(" len={} {ecn}", tcp.payload.len());
            segs.push(s);
        }
        while self.stack.poll_event().is_some() {}
        segs
    }

    /// Move the clock to the next deadline and fire it.
    fn fire(&mut self) {
        let t = self.stack.poll_timeout().unwrap();
        self.now = self.now.max(t);
        self.stack.handle_timeout(self.now);
    }

    fn send(&mut self, id: ConnId, len: usize) {
        let n = self.stack.send(self.now, id, &vec![0u8; len]).unwrap();
        assert_eq!(n, len);
    }

    /// Passive open completed by an ECN-setup SYN and the ACK of our SYN,ACK.
    fn accepted(&mut self, conn: ConnConfig) -> ConnId {
        let l = self.listen(conn);
        self.inject(0, 0, SYN | ECE | CWR, Ecn::NotEct, 0);
        assert_eq!(self.out(), ["SYN,ACK,ECE seq=0 ack=1 len=0 not-ect"]);
        self.inject(1, 1, ACK, Ecn::NotEct, 0);
        assert_eq!(self.out(), Vec::<String>::new());
        self.stack.accept(l).unwrap()
    }

    /// Active open answered by an ECN-setup SYN,ACK.
    fn connected(&mut self, conn: ConnConfig) -> ConnId {
        let c = self.connect(conn);
        assert_eq!(self.out(), ["SYN,ECE,CWR seq=0 len=0 not-ect"]);
        self.inject(0, 1, SYN | ACK | ECE, Ecn::NotEct, 0);
        assert_eq!(self.out(), ["ACK seq=1 ack=1 len=0 not-ect"]);
        c
    }

    fn ecn(&self, id: ConnId) -> bool {
        self.stack.status(id).unwrap().ecn
    }
}

#[test]
fn active_open_asks_and_data_goes_out_ect0() {
    let mut h = Host::new();
    let c = h.connected(cfg(EcnMode::Request));
    assert!(h.ecn(c));
    h.send(c, 100);
    // RFC 3168 6.1.2: new data ECT(0); 6.1.4: the pure ACK before it not-ECT.
    assert_eq!(h.out(), ["PSH,ACK seq=1 ack=1 len=100 ect0"]);
    h.inject(1, 101, ACK | PSH, Ecn::Ect0, 10);
    assert_eq!(h.out(), ["ACK seq=101 ack=11 len=0 not-ect"]);
}

#[test]
fn passive_open_agrees_with_ece_only() {
    for mode in [EcnMode::Accept, EcnMode::Request] {
        let mut h = Host::new();
        let s = h.accepted(cfg(mode));
        assert!(h.ecn(s));
        h.send(s, 10);
        assert_eq!(h.out(), ["PSH,ACK seq=1 ack=1 len=10 ect0"]);
    }
}

#[test]
fn two_stacks_negotiate_only_when_the_client_asks() {
    for (client, server, lines, on) in [
        (
            EcnMode::Request,
            EcnMode::Accept,
            [
                "C>S SYN,ECE,CWR seq=0 len=0",
                "S>C SYN,ACK,ECE seq=0 ack=1 len=0",
            ],
            true,
        ),
        (
            EcnMode::Accept,
            EcnMode::Accept,
            ["C>S SYN seq=0 len=0", "S>C SYN,ACK seq=0 ack=1 len=0"],
            false,
        ),
        (
            EcnMode::Request,
            EcnMode::Off,
            [
                "C>S SYN,ECE,CWR seq=0 len=0",
                "S>C SYN,ACK seq=0 ack=1 len=0",
            ],
            false,
        ),
    ] {
        let mut c_cfg = StackConfig::default();
        c_cfg.conn.ecn = client;
        let mut s_cfg = StackConfig::default();
        s_cfg.conn.ecn = server;
        let mut n = util::Net::with_configs(c_cfg, s_cfg);
        let l = n.hosts[1].listen(util::s_addr(80), 8).unwrap();
        let c = n.hosts[0]
            .connect(n.now, Some(util::c_addr(40000)), util::s_addr(80))
            .unwrap();
        n.run_for(Duration::from_millis(100));
        let s = n.hosts[1].accept(l).unwrap();
        let segs: Vec<String> = n
            .take_log()
            .into_iter()
            .filter(|l| l.starts_with("C>S") || l.starts_with("S>C"))
            .collect();
        assert_eq!(segs[..2], lines, "{client:?} to {server:?}");
        assert_eq!(segs[2], "C>S ACK seq=1 ack=1 len=0");
        assert_eq!(n.hosts[0].status(c).unwrap().ecn, on);
        assert_eq!(n.hosts[1].status(s).unwrap().ecn, on);
    }
}

#[test]
fn without_agreement_there_is_no_ecn() {
    // RFC 3168 6.1.1: a plain SYN,ACK means no ECN: not-ECT data, ECE ignored.
    let mut h = Host::new();
    let c = h.connect(cfg(EcnMode::Request));
    assert_eq!(h.out(), ["SYN,ECE,CWR seq=0 len=0 not-ect"]);
    h.inject(0, 1, SYN | ACK, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["ACK seq=1 ack=1 len=0 not-ect"]);
    assert!(!h.ecn(c));
    h.send(c, 3 * MSS as usize);
    assert_eq!(
        h.out(),
        [
            "ACK seq=1 ack=1 len=1460 not-ect",
            "ACK seq=1461 ack=1 len=1460 not-ect",
            "PSH,ACK seq=2921 ack=1 len=1460 not-ect",
        ]
    );
    let cwnd = h.stack.status(c).unwrap().cwnd;
    h.inject(1, 1461, ACK | ECE, Ecn::NotEct, 0);
    assert!(h.stack.status(c).unwrap().cwnd > cwnd);
    // CE marks on data are not echoed either.
    h.inject(1, 1461, ACK | PSH, Ecn::Ce, 10);
    assert_eq!(h.out(), ["ACK seq=4381 ack=11 len=0 not-ect"]);

    // RFC 3168 6.1.1.2: a SYN,ACK reflecting ECE and CWR is not ECN-setup.
    let mut h = Host::new();
    let c = h.connect(cfg(EcnMode::Request));
    h.out();
    h.inject(0, 1, SYN | ACK | ECE | CWR, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["ACK seq=1 ack=1 len=0 not-ect"]);
    assert!(!h.ecn(c));

    // A listener with ECN off, or a SYN that is not ECN-setup: a plain SYN,ACK.
    for (mode, syn) in [
        (EcnMode::Off, SYN | ECE | CWR),
        (EcnMode::Accept, SYN | ECE),
        (EcnMode::Accept, SYN | CWR),
        (EcnMode::Accept, SYN),
    ] {
        let mut h = Host::new();
        let l = h.listen(cfg(mode));
        h.inject(0, 0, syn, Ecn::NotEct, 0);
        assert_eq!(
            h.out(),
            ["SYN,ACK seq=0 ack=1 len=0 not-ect"],
            "{mode:?} {syn}"
        );
        h.inject(1, 1, ACK, Ecn::NotEct, 0);
        let s = h.stack.accept(l).unwrap();
        assert!(!h.ecn(s));
        h.send(s, 10);
        assert_eq!(h.out(), ["PSH,ACK seq=1 ack=1 len=10 not-ect"]);
    }
}

#[test]
fn ce_is_echoed_with_ece_until_cwr() {
    let mut h = Host::new();
    let s = h.accepted(cfg(EcnMode::Accept));
    // RFC 3168 6.1.3: a CE data packet: ECE on the ACK ...
    h.inject(1, 1, ACK | PSH, Ecn::Ce, 100);
    assert_eq!(h.out(), ["ACK,ECE seq=1 ack=101 len=0 not-ect"]);
    // ... and on every ACK after it, data segments included, until CWR.
    h.inject(101, 1, ACK | PSH, Ecn::Ect0, 100);
    assert_eq!(h.out(), ["ACK,ECE seq=1 ack=201 len=0 not-ect"]);
    h.send(s, 10);
    assert_eq!(h.out(), ["PSH,ACK,ECE seq=1 ack=201 len=10 ect0"]);
    h.inject(201, 11, ACK | PSH | CWR, Ecn::Ect0, 100);
    assert_eq!(h.out(), ["ACK seq=11 ack=301 len=0 not-ect"]);
    h.inject(301, 11, ACK | PSH, Ecn::Ect0, 100);
    assert_eq!(h.out(), ["ACK seq=11 ack=401 len=0 not-ect"]);
    // RFC 3168 6.1.4: a mark on a pure ACK is not congestion of our data.
    h.inject(401, 11, ACK, Ecn::Ce, 0);
    assert_eq!(h.out(), Vec::<String>::new());
    // RFC 3168 6.1.5: nor on data outside the window (answered by a plain ACK).
    h.inject(401 + 200_000, 11, ACK | PSH, Ecn::Ce, 100);
    assert_eq!(h.out(), ["ACK seq=11 ack=401 len=0 not-ect"]);
    // CWR with a new mark: the new mark is echoed.
    h.inject(401, 11, ACK | PSH | CWR, Ecn::Ce, 100);
    assert_eq!(h.out(), ["ACK,ECE seq=11 ack=501 len=0 not-ect"]);
}

#[test]
fn ece_halves_cwnd_once_per_window_and_cwr_goes_on_new_data() {
    let mut h = Host::new();
    let c = h.connected(cfg(EcnMode::Request));
    h.send(c, 20 * MSS as usize);
    let first = h.out();
    assert_eq!(first.len(), 10, "{first:#?}");
    assert!(first.iter().all(|s| s.ends_with("len=1460 ect0")));
    let st = h.stack.status(c).unwrap();
    assert_eq!((st.cwnd, st.ssthresh), (10 * MSS, u32::MAX));
    // RFC 3168 6.1.2: the first ECE halves cwnd and ssthresh ...
    h.inject(1, 1 + MSS, ACK | ECE, Ecn::NotEct, 0);
    assert_eq!(h.out(), Vec::<String>::new());
    let st = h.stack.status(c).unwrap();
    assert_eq!((st.cwnd, st.ssthresh), (5 * MSS, 5 * MSS));
    // ... and more ECEs for the same window of data change nothing.
    for k in 2..=10 {
        h.inject(1, 1 + k * MSS, ACK | ECE, Ecn::NotEct, 0);
        let st = h.stack.status(c).unwrap();
        assert_eq!((st.cwnd, st.ssthresh), (5 * MSS, 5 * MSS), "ACK {k}");
    }
    // The window is open again: the first new segment carries CWR, the next not.
    let next = h.out();
    assert_eq!(next[0], "ACK,CWR seq=14601 ack=1 len=1460 ect0");
    assert_eq!(next[1], "ACK seq=16061 ack=1 len=1460 ect0");
    assert_eq!(next.len(), 5, "{next:#?}");
    // An ECE for data sent after the reduction is a new congestion event.
    h.inject(1, 14601 + MSS, ACK | ECE, Ecn::NotEct, 0);
    let st = h.stack.status(c).unwrap();
    assert_eq!((st.cwnd, st.ssthresh), (5 * MSS / 2, 5 * MSS / 2));
    let after = h.out();
    assert_eq!(after, Vec::<String>::new());
    h.inject(1, 14601 + 5 * MSS, ACK, Ecn::NotEct, 0);
    let more = h.out();
    assert_eq!(
        more[0], "ACK,CWR seq=21901 ack=1 len=1460 ect0",
        "{more:#?}"
    );
}

#[test]
fn retransmissions_are_not_ect_and_a_timeout_is_announced_with_cwr() {
    let mut h = Host::new();
    let c = h.connected(cfg(EcnMode::Request));
    h.send(c, 100);
    assert_eq!(h.out(), ["PSH,ACK seq=1 ack=1 len=100 ect0"]);
    h.fire();
    // RFC 3168 6.1.5: a retransmission is not-ECT and carries no CWR.
    assert_eq!(h.out(), ["PSH,ACK seq=1 ack=1 len=100 not-ect"]);
    h.inject(1, 101, ACK, Ecn::NotEct, 0);
    h.send(c, 100);
    // RFC 3168 6.1.2: the timeout reduced the window; the first new data says so.
    assert_eq!(h.out(), ["PSH,ACK,CWR seq=101 ack=1 len=100 ect0"]);
    h.send(c, 100);
    h.inject(1, 201, ACK, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["PSH,ACK seq=201 ack=1 len=100 ect0"]);
}

#[test]
fn ecn_setup_syn_falls_back_after_ecn_syn_retries() {
    // RFC 3168 6.1.1.1, FreeBSD's ecn.maxretries: 1 by default.
    let mut h = Host::new();
    let c = h.connect(cfg(EcnMode::Request));
    assert_eq!(h.out(), ["SYN,ECE,CWR seq=0 len=0 not-ect"]);
    h.fire();
    assert_eq!(h.out(), ["SYN,ECE,CWR seq=0 len=0 not-ect"]);
    h.fire();
    assert_eq!(h.out(), ["SYN seq=0 len=0 not-ect"]);
    h.fire();
    assert_eq!(h.out(), ["SYN seq=0 len=0 not-ect"]);
    // The answer to the first SYN arrives late: having sent a plain SYN, no ECT
    // (RFC 3168 6.1.1) ...
    h.inject(0, 1, SYN | ACK | ECE, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["ACK seq=1 ack=1 len=0 not-ect"]);
    assert!(!h.ecn(c));
    h.send(c, 10);
    assert_eq!(h.out(), ["PSH,ACK seq=1 ack=1 len=10 not-ect"]);
    // ... but the ECN-setup SYN promised to echo CE marks, and that stays.
    h.inject(1, 11, ACK | PSH, Ecn::Ce, 10);
    assert_eq!(h.out(), ["ACK,ECE seq=11 ack=11 len=0 not-ect"]);

    // With no ECN-setup retransmission at all (Linux's fallback).
    let mut h = Host::new();
    let conn = ConnConfig {
        ecn_syn_retries: 0,
        ..cfg(EcnMode::Request)
    };
    let _ = h.connect(conn);
    assert_eq!(h.out(), ["SYN,ECE,CWR seq=0 len=0 not-ect"]);
    h.fire();
    assert_eq!(h.out(), ["SYN seq=0 len=0 not-ect"]);
}

#[test]
fn a_listener_answers_a_fallback_syn_without_ecn() {
    // RFC 3168 6.1.1.1: the peer's ECN-setup SYN, then its plain retransmission:
    // the SYN,ACK to the latter is plain and ECN stays off both ways.
    let mut h = Host::new();
    let l = h.listen(cfg(EcnMode::Accept));
    h.inject(0, 0, SYN | ECE | CWR, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["SYN,ACK,ECE seq=0 ack=1 len=0 not-ect"]);
    h.inject(0, 0, SYN, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["SYN,ACK seq=0 ack=1 len=0 not-ect"]);
    h.inject(1, 1, ACK, Ecn::NotEct, 0);
    let s = h.stack.accept(l).unwrap();
    assert!(!h.ecn(s));
    h.inject(1, 1, ACK | PSH, Ecn::Ce, 10);
    assert_eq!(h.out(), ["ACK seq=1 ack=11 len=0 not-ect"]);
}

#[test]
fn simultaneous_open() {
    // Our SYN and the peer's cross; our SYN,ACK answers the peer's SYN as a
    // listener would (FreeBSD's snippets/syn-rcvd-via-syn-sent-*-ecn{11,10,01}).
    for (mode, our_syn, peer_syn, syn_ack, data) in [
        (
            EcnMode::Request,
            "SYN,ECE,CWR seq=0 len=0 not-ect",
            SYN | ECE | CWR,
            "SYN,ACK,ECE seq=0 ack=1 len=0 not-ect",
            "PSH,ACK seq=1 ack=1 len=10 ect0",
        ),
        (
            EcnMode::Request,
            "SYN,ECE,CWR seq=0 len=0 not-ect",
            SYN,
            "SYN,ACK seq=0 ack=1 len=0 not-ect",
            "PSH,ACK seq=1 ack=1 len=10 not-ect",
        ),
        // Our plain SYN forbids ECT (RFC 3168 6.1.1: "has sent no non-ECN-setup
        // SYN"), although the SYN,ACK agrees to echo CE marks.
        (
            EcnMode::Accept,
            "SYN seq=0 len=0 not-ect",
            SYN | ECE | CWR,
            "SYN,ACK,ECE seq=0 ack=1 len=0 not-ect",
            "PSH,ACK seq=1 ack=1 len=10 not-ect",
        ),
    ] {
        let mut h = Host::new();
        let c = h.connect(cfg(mode));
        assert_eq!(h.out(), [our_syn]);
        h.inject(0, 0, peer_syn, Ecn::NotEct, 0);
        assert_eq!(h.out(), [syn_ack], "{mode:?} {peer_syn}");
        h.inject(1, 1, ACK, Ecn::NotEct, 0);
        h.send(c, 10);
        assert_eq!(h.out(), [data], "{mode:?} {peer_syn}");
        let echo = if peer_syn.contains(ECE) { ",ECE" } else { "" };
        h.inject(1, 11, ACK | PSH, Ecn::Ce, 10);
        assert_eq!(h.out(), [format!("ACK{echo} seq=11 ack=11 len=0 not-ect")]);
    }
}

#[test]
fn time_wait_forgets_ecn() {
    // RFC 3168 6.1.1: TIME-WAIT ignores the negotiation: its ACKs carry no ECE.
    let mut h = Host::new();
    let c = h.connected(cfg(EcnMode::Request));
    h.inject(1, 1, ACK | PSH, Ecn::Ce, 10);
    assert_eq!(h.out(), ["ACK,ECE seq=1 ack=11 len=0 not-ect"]);
    h.stack.shutdown(h.now, c, Shutdown::Write).unwrap();
    assert_eq!(h.out(), ["FIN,ACK,ECE seq=1 ack=11 len=0 not-ect"]);
    h.inject(11, 2, ACK | TcpFlags::FIN, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["ACK seq=2 ack=12 len=0 not-ect"]);
}

#[test]
fn a_loss_after_an_ece_is_still_fast_retransmitted() {
    // Queues that mark first and drop later: an ECE halves the window, then a
    // segment of the same window is lost. Three duplicate ACKs still trigger fast
    // retransmit at once (RFC 5681 3.2), without halving ssthresh a second time.
    let mut h = Host::new();
    let c = h.connected(cfg(EcnMode::Request));
    h.send(c, 10 * MSS as usize);
    assert_eq!(h.out().len(), 10);
    h.inject(1, 1 + MSS, ACK | ECE, Ecn::NotEct, 0);
    let st = h.stack.status(c).unwrap();
    assert_eq!((st.cwnd, st.ssthresh), (5 * MSS, 5 * MSS));
    // The second segment is lost: the later ones each bring a duplicate ACK.
    for _ in 0..3 {
        h.inject(1, 1 + MSS, ACK, Ecn::NotEct, 0);
    }
    let out = h.out();
    assert_eq!(out[0], "ACK seq=1461 ack=1 len=1460 not-ect", "{out:#?}");
    let st = h.stack.status(c).unwrap();
    assert_eq!((st.cwnd, st.ssthresh), (8 * MSS, 5 * MSS));
}
