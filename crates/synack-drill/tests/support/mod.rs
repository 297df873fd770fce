//! What the runner's test files share: the parse step and the passive open
//! most of their scripts start from.
#![allow(dead_code)]

use synack_drill::{parse_str, Defines, Script};

/// A listening socket that takes a SYN (MSS 1000, SACK, window scale 7),
/// answers it, and accepts the connection as fd 4, Linux style.
macro_rules! accepted {
    () => {
        "\
--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0.1 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 1>
+0.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
"
    };
}
pub(crate) use accepted;

/// After [`accepted!`]: a write of 1000 bytes the peer acknowledges, then
/// a close, the peer's FIN and the last ACK (not every test file uses it).
#[allow(unused_macros)]
macro_rules! write_and_close {
    () => {
        "\
+0 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
+0.1 < . 1:1(0) ack 1001 win 257
+0 close(4) = 0
+0 > F. 1001:1001(0) ack 1
+0.1 < F. 1:1(0) ack 1002 win 257
+0 > . 1002:1002(0) ack 2
"
    };
}
#[allow(unused_imports)]
pub(crate) use write_and_close;

/// `text` parsed with the standard defines; a test's own script that does
/// not parse is a bug in the test.
pub(crate) fn script(text: &str) -> Script {
    match parse_str(text, "t.pkt", &Defines::standard()) {
        Ok(s) => s,
        Err(e) => panic!("script does not parse: {e}"),
    }
}
