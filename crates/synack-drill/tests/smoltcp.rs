//! The smoltcp backend: the same scripts driven through smoltcp 0.14's
//! interface, sockets and clock, with "not run" naming what smoltcp has no
//! API for. Built only with the `smoltcp` feature.
#![cfg(feature = "smoltcp")]

mod support;
use support::{accepted, write_and_close};

use synack_drill::{
    compare_paths, run_cli, run_script_on, Mode, Outcome, RunOptions, StackKind, Totals,
};

fn run_on(text: &str, kind: StackKind) -> Outcome {
    let script = support::script(text);
    run_script_on(&script, Mode::Semantic, kind)
}

fn smol(text: &str) -> Outcome {
    run_on(text, StackKind::Smoltcp)
}

/// A passive open, a write and a close: smoltcp's SYN,ACK, data and FIN.
const PASSIVE: &str = concat!(accepted!(), write_and_close!());

#[test]
fn smoltcp_passes_a_passive_open_data_and_close() {
    assert_eq!(smol(PASSIVE), Outcome::Passed);
}

#[test]
fn a_wrong_segment_fails_naming_what_smoltcp_sent() {
    let text = PASSIVE.replace("> F. 1001:1001(0) ack 1", "> R. 1001:1001(0) ack 1");
    match smol(&text) {
        Outcome::Failed(d) => {
            assert_eq!(d.line, 14);
            assert!(d.actual.starts_with("F. 1001:1001(0) ack 1"), "{d:?}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// smoltcp's timers run on the script's clock: its first retransmission
/// comes one second (its initial RTO) after the data, where synack's comes
/// sooner.
#[test]
fn smoltcp_retransmits_on_the_virtual_clock() {
    let text = PASSIVE
        .lines()
        .take(11)
        .chain(["+1 > P. 1:1001(1000) ack 1"])
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(smol(&text), Outcome::Passed);
    assert!(matches!(
        run_on(&text, StackKind::Synack),
        Outcome::Failed(_)
    ));
}

const ACTIVE: &str = "\
--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>
";

#[test]
fn a_reset_after_the_handshake_is_econnreset() {
    let text = format!(
        "{ACTIVE}\
+0.1 < S. 0:0(0) ack 1 win 5792 <mss 1460,sackOK,nop,nop,nop,wscale 7>
+0 > . 1:1(0) ack 1
+0.1 < R. 1:1(0) ack 1 win 5792
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
"
    );
    assert_eq!(smol(&text), Outcome::Passed);
}

#[test]
fn a_reset_answering_the_syn_is_econnrefused() {
    let text = format!(
        "{ACTIVE}\
+0.1 < R. 0:0(0) ack 1 win 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
"
    );
    assert_eq!(smol(&text), Outcome::Passed);
}

/// RFC 9293 3.10.7.4: a reset in SYN-RECEIVED reached from SYN-SENT (a
/// simultaneous open) refuses the connection, as in SYN-SENT.
#[test]
fn a_reset_during_a_simultaneous_open_is_econnrefused() {
    let text = format!(
        "{ACTIVE}\
+0.1 < S 0:0(0) win 5792 <mss 1460,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,nop,wscale 8>
+0.1 < R 1:1(0) win 5792
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
"
    );
    assert_eq!(smol(&text), Outcome::Passed);
}

#[test]
fn a_call_smoltcp_has_no_api_for_is_not_run_naming_it() {
    let cork = PASSIVE.replace(
        "+0 write(4, ..., 1000) = 1000",
        "+0 setsockopt(4, SOL_TCP, TCP_CORK, [1], 4) = 0\n+0 write(4, ..., 1000) = 1000",
    );
    assert_eq!(
        smol(&cork),
        Outcome::NotRun("smoltcp lacks TCP_CORK".into())
    );
    let info = PASSIVE.replace(
        "+0 write(4, ..., 1000) = 1000",
        "+0 %{ assert tcpi_state == TCP_ESTABLISHED }%\n+0 write(4, ..., 1000) = 1000",
    );
    assert_eq!(
        smol(&info),
        Outcome::NotRun("smoltcp lacks TCP_INFO (a connection's status)".into())
    );
}

#[test]
fn the_command_line_takes_a_stack_and_refuses_an_unknown_one() {
    assert_eq!(run_cli(["--stack", "lwip", "t.pkt"]), 2);
    let dir = std::env::temp_dir().join(format!("synack-drill-smol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("passive.pkt");
    std::fs::write(&path, PASSIVE).expect("write script");
    let p = path.display().to_string();
    assert_eq!(run_cli(["--stack", "smoltcp", p.as_str()]), 0);
    assert_eq!(run_cli(["--stack=smoltcp", "--json", p.as_str()]), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same two scripts against both stacks: counts per folder (relative to
/// the folder given), side by side.
#[test]
fn compare_puts_the_two_stacks_side_by_side_per_folder() {
    let dir = std::env::temp_dir().join(format!("synack-drill-cmp-{}", std::process::id()));
    let sub = dir.join("linux");
    std::fs::create_dir_all(&sub).expect("temp dir");
    std::fs::write(sub.join("a.pkt"), PASSIVE).expect("write script");
    let info = PASSIVE.replace(
        "+0 write(4, ..., 1000) = 1000",
        "+0 %{ assert tcpi_state == TCP_ESTABLISHED }%\n+0 write(4, ..., 1000) = 1000",
    );
    std::fs::write(sub.join("b.pkt"), info).expect("write script");
    let opts = RunOptions {
        jobs: 1,
        ..RunOptions::default()
    };
    let c = compare_paths(&[&dir], &opts).expect("runs");
    let folders = c.folders();
    let _ = std::fs::remove_dir_all(&dir);
    let row = folders.get("linux").expect("a row for the folder");
    let counts = |passed, not_run| Totals {
        passed,
        failed: 0,
        not_run,
        errors: 0,
    };
    assert_eq!(row.synack, counts(2, 0));
    assert_eq!(row.smoltcp, counts(1, 1));
    let mut text = Vec::new();
    c.write_text(&mut text).expect("writes");
    let text = String::from_utf8(text).expect("utf-8");
    assert!(
        text.contains("     2      0        0        1      0        1  linux\n"),
        "{text}"
    );
    let mut json = Vec::new();
    c.write_json(&mut json).expect("writes");
    let rows: Vec<serde_json::Value> = String::from_utf8(json)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(rows.len(), 4, "two scripts, one folder, the totals");
    assert_eq!(rows[1]["path"], "linux/b.pkt");
    assert_eq!(rows[1]["synack"]["outcome"], "passed");
    assert_eq!(rows[1]["smoltcp"]["outcome"], "not_run");
    assert_eq!(rows[3]["totals"]["smoltcp"]["passed"], 1);
}

/// A SYN asking for a Fast Open cookie needs what smoltcp lacks; the same
/// listener serves a plain SYN.
#[test]
fn a_syn_asking_for_a_fast_open_cookie_is_not_run() {
    let text = PASSIVE.replace(
        "<mss 1000,sackOK,nop,nop,nop,wscale 7>",
        "<mss 1000,sackOK,nop,nop,nop,wscale 7,FO,nop,nop>",
    );
    assert_eq!(
        smol(&text),
        Outcome::NotRun(
            "smoltcp lacks TCP Fast Open (a SYN asking for a cookie or bringing data)".into()
        )
    );
}

/// The experimental Fast Open option (kind 254, magic 0xF989) asks the
/// same; data on a SYN needs Fast Open only from a Fast Open listener.
#[test]
fn an_experimental_cookie_request_or_a_data_syn_to_a_fast_open_listener_is_not_run() {
    let lacks = Outcome::NotRun(
        "smoltcp lacks TCP Fast Open (a SYN asking for a cookie or bringing data)".into(),
    );
    let exp = PASSIVE.replace(
        "<mss 1000,sackOK,nop,nop,nop,wscale 7>",
        "<mss 1000,sackOK,nop,nop,nop,wscale 7,FOEXP,nop,nop>",
    );
    assert_eq!(smol(&exp), lacks);
    let data_syn = PASSIVE.replace("< S 0:0(0) win 32792", "< S 0:10(10) win 32792");
    let fo_listener = data_syn.replace(
        "+0 listen(3, 1) = 0",
        "+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN, [1], 4) = 0\n+0 listen(3, 1) = 0",
    );
    assert_eq!(smol(&fo_listener), lacks);
    assert_ne!(smol(&data_syn), lacks);
}
