//! Readiness reports: a connection or listener is reported when a call on
//! it would stop blocking, and a driver that sleeps until a report neither
//! misses progress nor wakes for nothing.
#![allow(clippy::unwrap_used)]

mod util;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::cell::RefCell;
use std::rc::Rc;
use synack_proto::{
    ConnError, ConnId, Duration, Error, Instant, Readiness, Ready, Shutdown, Stack, StackConfig,
    State,
};
use util::*;

fn reports(st: &mut Stack) -> Vec<Ready> {
    std::iter::from_fn(|| st.poll_ready()).collect()
}

fn conn(id: ConnId, r: Readiness) -> Ready {
    Ready::Conn { id, readiness: r }
}

const RW: Readiness = Readiness::READABLE.union(Readiness::WRITABLE);

#[test]
fn each_step_of_a_connection_is_reported_once() {
    let mut n = Net::new(StackConfig::default());
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    // SYN_SENT: nothing can progress yet.
    assert_eq!(reports(n.c()), vec![]);
    n.run_for(Duration::from_millis(100));
    // The handshake is done: the client may write (connect finished), the
    // listener may accept.
    assert_eq!(reports(n.c()), vec![conn(c, Readiness::WRITABLE)]);
    assert_eq!(reports(n.s()), vec![Ready::Acceptable { listener: l }]);
    let s = n.s().accept(l).unwrap();
    assert_eq!(n.s().accept(l), Err(Error::WouldBlock));
    assert_eq!(reports(n.s()), vec![conn(s, Readiness::WRITABLE)]);
    // Data: readable once, however many segments carry it.
    let now = n.now;
    assert_eq!(n.c().send(now, c, &[7; 3000]).unwrap(), 3000);
    n.run_for(Duration::from_millis(100));
    assert_eq!(reports(n.s()), vec![conn(s, RW)]);
    assert_eq!(reports(n.c()), vec![]);
    let mut buf = [0; 4000];
    assert_eq!(n.s().recv(now, s, &mut buf).unwrap(), 3000);
    assert_eq!(n.s().recv(now, s, &mut buf), Err(Error::WouldBlock));
    assert_eq!(reports(n.s()), vec![]);
    // The client's FIN: readable again (end of stream).
    n.c().shutdown(now, c, Shutdown::Write).unwrap();
    n.run_for(Duration::from_millis(100));
    assert_eq!(reports(n.s()), vec![conn(s, RW)]);
    assert_eq!(n.s().recv(now, s, &mut buf), Ok(0));
    // The server closes; the client reads the end, closes its handle, and
    // is told when the connection is gone: after TIME_WAIT.
    n.s().close(now, s).unwrap();
    n.run_for(Duration::from_millis(100));
    assert_eq!(reports(n.c()), vec![conn(c, RW)]);
    assert_eq!(n.s().state(s), Err(Error::InvalidHandle));
    assert_eq!(reports(n.s()), vec![Ready::Closed { id: s, error: None }]);
    assert_eq!(n.c().state(c), Ok(State::TimeWait));
    n.c().close(now, c).unwrap();
    assert_eq!(reports(n.c()), vec![]);
    n.run();
    assert_eq!(reports(n.c()), vec![Ready::Closed { id: c, error: None }]);
}

#[test]
fn a_reset_is_reported_with_its_error_and_a_full_buffer_reopens() {
    let mut cfg = StackConfig::default();
    cfg.conn.send_buffer = 2000;
    let mut n = Net::new(cfg);
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.s().accept(l).unwrap();
    reports(n.c());
    reports(n.s());
    // Fill the send buffer: not writable until the peer's ACK frees room.
    let now = n.now;
    assert_eq!(n.c().send(now, c, &[1; 5000]).unwrap(), 2000);
    assert_eq!(n.c().send(now, c, &[1; 5000]), Err(Error::WouldBlock));
    assert_eq!(n.c().readiness(c), Ok(Readiness::NONE));
    assert_eq!(reports(n.c()), vec![]);
    n.run_for(Duration::from_millis(100));
    assert_eq!(reports(n.c()), vec![conn(c, Readiness::WRITABLE)]);
    // The server aborts: the client's handle reports the reset as final.
    n.s().abort(now, s).unwrap();
    n.run_for(Duration::from_millis(100));
    let all = Readiness::READABLE | Readiness::WRITABLE | Readiness::CLOSED;
    assert_eq!(reports(n.c()), vec![conn(c, all)]);
    assert_eq!(n.c().conn_error(c), Ok(Some(ConnError::Reset)));
    let now = n.now;
    n.c().close(now, c).unwrap();
    assert_eq!(
        reports(n.c()),
        vec![Ready::Closed {
            id: c,
            error: Some(ConnError::Reset)
        }]
    );
}

/// One side of the property test: a driver that calls only when a report
/// says it can, and counts the reports that found nothing to do.
#[derive(Default)]
struct Side {
    conn: Option<ConnId>,
    listener: Option<synack_proto::ListenerId>,
    out: Vec<u8>,
    sent: usize,
    shut: bool,
    got: Vec<u8>,
    eof: bool,
    closed_handle: bool,
    gone: bool,
    reports: u64,
    idle_reports: u64,
}

impl Side {
    fn drive(&mut self, st: &mut Stack, now: Instant) {
        let mut in_a_row = 0;
        while let Some(r) = st.poll_ready() {
            self.reports += 1;
            in_a_row += 1;
            assert!(in_a_row < 1000, "reports keep coming: the driver spins");
            let progress = match r {
                Ready::Acceptable { listener } => {
                    assert_eq!(Some(listener), self.listener);
                    let mut any = false;
                    while let Ok(id) = st.accept(listener) {
                        assert!(self.conn.is_none(), "one connection expected");
                        self.conn = Some(id);
                        any = true;
                    }
                    any
                }
                Ready::Conn { id, readiness } => {
                    assert_eq!(Some(id), self.conn);
                    assert!(!readiness.is_empty());
                    self.work(st, now, id)
                }
                Ready::Closed { id, error } => {
                    assert_eq!(Some(id), self.conn);
                    assert!(self.closed_handle, "only handles the driver closed end");
                    assert_eq!(error, None, "a clean run ends cleanly");
                    self.gone = true;
                    true
                }
                Ready::Lost { .. } => panic!("the queue cannot overflow here"),
                Ready::Pending { .. } => panic!("no listener here decides before the handshake"),
            };
            if !progress {
                self.idle_reports += 1;
            }
        }
    }

    /// Read until WouldBlock, write until WouldBlock; true if anything moved.
    fn work(&mut self, st: &mut Stack, now: Instant, id: ConnId) -> bool {
        let mut moved = false;
        let mut buf = [0u8; 1500];
        while !self.eof {
            match st.recv(now, id, &mut buf) {
                Ok(0) => {
                    self.eof = true;
                    moved = true;
                }
                Ok(k) => {
                    self.got.extend_from_slice(&buf[..k]);
                    moved = true;
                }
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("recv failed in a clean run: {e}"),
            }
        }
        while self.sent < self.out.len() {
            match st.send(now, id, &self.out[self.sent..]) {
                Ok(k) => {
                    self.sent += k;
                    moved = true;
                }
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("send failed in a clean run: {e}"),
            }
        }
        if self.sent == self.out.len() && !self.shut {
            st.shutdown(now, id, Shutdown::Write).unwrap();
            self.shut = true;
            moved = true;
        }
        if self.eof && self.shut && !self.closed_handle {
            st.close(now, id).unwrap();
            self.closed_handle = true;
            moved = true;
        }
        moved
    }
}

/// Under a not-sent low-water mark, sending alone (no ACK yet) makes room
/// under the mark: the connection is reported writable again as its
/// segments go out.
#[test]
fn segments_going_out_under_a_notsent_mark_reopen_the_connection() {
    let mut n = Net::new(StackConfig::default());
    let _l = n.s().listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    reports(n.c());
    n.c().set_notsent_lowat(c, Some(3000)).unwrap();
    n.c().set_nodelay(c, true).unwrap();
    let now = n.now;
    assert_eq!(n.c().send(now, c, &[7; 10_000]), Ok(3000));
    assert_eq!(n.c().readiness(c), Ok(Readiness::NONE));
    assert_eq!(reports(n.c()), vec![]);
    let mut buf = Vec::new();
    while n.c().poll_transmit(now, &mut buf) {}
    assert_eq!(n.c().readiness(c), Ok(Readiness::WRITABLE));
    assert_eq!(reports(n.c()), vec![conn(c, Readiness::WRITABLE)]);
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ salt)
        .collect()
}

proptest! {
    #![proptest_config(Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(0x5eed_4ead),
        failure_persistence: None,
        ..Config::default()
    })]

    /// A driver that sleeps until a report moves every byte both ways and
    /// closes both ends, over a lossy link, with small buffers; every
    /// report but at most one per direction finds work to do.
    #[test]
    fn a_driver_sleeping_until_readiness_never_misses_progress_nor_spins(
        up in 0usize..60_000,
        down in 0usize..60_000,
        send_buffer in 1_000usize..20_000,
        recv_buffer in 1_000usize..20_000,
        loss_per_mille in 0u32..80,
        seed in any::<u64>(),
    ) {
        let mut cfg = StackConfig::default();
        cfg.conn.send_buffer = send_buffer;
        cfg.conn.recv_buffer = recv_buffer;
        let mut n = Net::new(cfg);
        let mut rng = seed | 1;
        n.drop = Some(Box::new(move |_, _, _, _| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % 1000) < u64::from(loss_per_mille)
        }));
        let client = Rc::new(RefCell::new(Side { out: pattern(up, 1), ..Side::default() }));
        let server = Rc::new(RefCell::new(Side { out: pattern(down, 2), ..Side::default() }));
        server.borrow_mut().listener = Some(n.s().listen(s_addr(80), 8).unwrap());
        let id = n.hosts[0].connect(n.now, Some(c_addr(40000)), s_addr(80)).unwrap();
        client.borrow_mut().conn = Some(id);
        for (h, side) in [(0, &client), (1, &server)] {
            let side = Rc::clone(side);
            n.apps[h] = Some(Box::new(move |st: &mut Stack, now| side.borrow_mut().drive(st, now)));
        }
        n.run();
        for (side, peer) in [(&client, &server), (&server, &client)] {
            let (s, p) = (side.borrow(), peer.borrow());
            prop_assert_eq!(s.got.len(), p.out.len());
            prop_assert!(s.got == p.out, "bytes differ");
            prop_assert!(s.eof && s.closed_handle && s.gone, "did not finish");
            // Writable once more after the last write, readable once more
            // after the end of stream was read: the only reports that may
            // find nothing to do.
            prop_assert!(s.idle_reports <= 2, "{} of {} reports found nothing to do", s.idle_reports, s.reports);
        }
    }
}
