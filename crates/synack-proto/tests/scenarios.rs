//! The lifecycle scenarios, pinned segment by segment and state by state.

mod util;

use synack_proto::{Duration, Shutdown, StackConfig, State};
use util::*;

fn cfg() -> StackConfig {
    StackConfig::default()
}

#[test]
fn handshake_and_teardown() {
    let mut n = Net::new(cfg());
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let now = n.now;
    let c = n.c().connect(now, None, s_addr(80)).unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.s().accept(l).unwrap();
    assert_eq!(n.c().state(c).unwrap(), State::Established);
    assert_eq!(n.s().state(s).unwrap(), State::Established);
    let now = n.now;
    n.c().close(now, c).unwrap();
    n.run_for(Duration::from_millis(100));
    let mut buf = [0u8; 10];
    let now = n.now;
    assert_eq!(n.s().recv(now, s, &mut buf), Ok(0));
    n.s().close(now, s).unwrap();
    n.run();
    assert_log(
        &n.take_log(),
        &[
            "C CLOSED->SYN_SENT",
            "C>S SYN seq=0 len=0",
            "S LISTEN->SYN_RCVD",
            "S>C SYN,ACK seq=0 ack=1 len=0",
            "C SYN_SENT->ESTABLISHED",
            "C>S ACK seq=1 ack=1 len=0",
            "S SYN_RCVD->ESTABLISHED",
            "C ESTABLISHED->FIN_WAIT_1",
            "C>S FIN,ACK seq=1 ack=1 len=0",
            "S ESTABLISHED->CLOSE_WAIT",
            "S>C ACK seq=1 ack=2 len=0",
            "C FIN_WAIT_1->FIN_WAIT_2",
            "S CLOSE_WAIT->LAST_ACK",
            "S>C FIN,ACK seq=1 ack=2 len=0",
            "C FIN_WAIT_2->TIME_WAIT",
            "C>S ACK seq=2 ack=2 len=0",
            "S LAST_ACK->CLOSED",
            "C TIME_WAIT->CLOSED",
        ],
    );
    assert_eq!(n.c().connection_count(), 0);
    assert_eq!(n.s().connection_count(), 0);
}
