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

/// `text` parsed with the standard defines; a test's own script that does
/// not parse is a bug in the test.
pub(crate) fn script(text: &str) -> Script {
    match parse_str(text, "t.pkt", &Defines::standard()) {
        Ok(s) => s,
        Err(e) => panic!("script does not parse: {e}"),
    }
}
