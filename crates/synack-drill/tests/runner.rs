//! Unit tests of the script runner: one small hand-written script per kind
//! of line and per outcome.

mod support;
use support::{accepted, write_and_close};

use synack_drill::{
    compare_paths, parse_str, run_paths, run_script, Defines, Mode, Outcome, RunOptions,
};

fn run(text: &str, mode: Mode) -> Outcome {
    let script = support::script(text);
    run_script(&script, mode)
}

fn semantic(text: &str) -> Outcome {
    run(text, Mode::Semantic)
}

/// A passive open with data both ways and a close, Linux style.
const PASSIVE: &str = concat!(
    accepted!(),
    "+0 %{ assert tcpi_state == TCP_ESTABLISHED }%\n",
    write_and_close!(),
    "+0 `sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1`\n",
);

#[test]
fn passes_a_passive_open_data_and_close() {
    assert_eq!(semantic(PASSIVE), Outcome::Passed);
}

#[test]
fn strict_mode_compares_option_order_and_wscale() {
    // synack writes <mss,nop,nop,sackOK,nop,wscale 1>; the script asks for
    // another layout and shift, which only strict mode checks.
    let text = PASSIVE.replace(
        "<mss 1460,nop,nop,sackOK,nop,wscale 1>",
        "<mss 1460,sackOK,nop,wscale 7>",
    );
    assert_eq!(semantic(&text), Outcome::Passed);
    match run(&text, Mode::Strict) {
        Outcome::Failed(d) => {
            assert_eq!(d.line, 7);
            assert!(d.actual.contains("options differs"), "{d:?}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn fails_at_an_outbound_packet_with_expected_and_actual() {
    let text = PASSIVE.replace("> P. 1:1001(1000) ack 1", "> P. 1:501(500) ack 1");
    match semantic(&text) {
        Outcome::Failed(d) => {
            assert_eq!(d.line, 12);
            assert_eq!(d.expected, "P. 1:501(500) ack 1");
            assert!(d.actual.starts_with("P. 1:1001(1000) ack 1"), "{d:?}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn fails_at_a_syscall_return() {
    let text = PASSIVE.replace("write(4, ..., 1000) = 1000", "write(4, ..., 1000) = 999");
    match semantic(&text) {
        Outcome::Failed(d) => {
            assert_eq!(d.line, 11);
            assert_eq!(d.expected, "write(...) = 999");
            assert_eq!(d.actual, "write(...) = 1000");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn fails_on_timing_outside_the_tolerance() {
    let text = PASSIVE.replace("+0 > P. 1:1001(1000) ack 1", "+0.5 > P. 1:1001(1000) ack 1");
    match semantic(&text) {
        Outcome::Failed(d) => assert_eq!(d.line, 12, "{d:?}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn not_run_for_an_unknown_backtick_command() {
    let text = PASSIVE.replace(
        "--tolerance_usecs=10000\n",
        "--tolerance_usecs=10000\n0 `tc qdisc add dev tun0 root netem delay 10ms`\n",
    );
    match semantic(&text) {
        Outcome::NotRun(reason) => assert!(reason.contains("tc qdisc"), "{reason}"),
        other => panic!("expected not run, got {other:?}"),
    }
}

#[test]
fn not_run_for_an_unknown_tcp_info_field() {
    let text = PASSIVE.replace("tcpi_state == TCP_ESTABLISHED", "tcpi_fancy_field == 3");
    match semantic(&text) {
        Outcome::NotRun(reason) => assert!(reason.contains("tcpi_fancy_field"), "{reason}"),
        other => panic!("expected not run, got {other:?}"),
    }
}

#[test]
fn a_false_tcp_info_assertion_fails() {
    let text = PASSIVE.replace("tcpi_state == TCP_ESTABLISHED", "tcpi_state == TCP_LISTEN");
    match semantic(&text) {
        Outcome::Failed(d) => {
            assert_eq!(d.line, 10);
            assert!(d.actual.contains("ESTABLISHED"), "{d:?}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_wrong_sockstat_count_fails() {
    let text = PASSIVE.replace("grep -c TIME_WAIT | grep 1", "grep -c TIME_WAIT | grep 2");
    match semantic(&text) {
        Outcome::Failed(d) => assert_eq!(d.actual, "1 connection(s) in TIME_WAIT"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn active_open_maps_the_isn_and_reports_reset_errors() {
    // FreeBSD style: nonblocking connect, sysctls, SO_ERROR after a RST.
    let text = "\
--tolerance_usecs=10000
0 `sysctl -w net.inet.tcp.rfc1323=0`
+0 `sysctl -w net.inet.tcp.sack.enable=0`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 fcntl(3, F_GETFL) = 0x6 (flags O_RDWR|O_NONBLOCK)
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460>
+0.1 < S. 0:0(0) ack 1 win 32767 <mss 1460>
+0 > . 1:1(0) ack 1 win 65535
+0.1 recv(3, ..., 1024, 0) = -1 EAGAIN (Resource temporarily unavailable)
+0 < R 1:1(0) win 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0 close(3) = 0
";
    assert_eq!(semantic(text), Outcome::Passed);
    assert_eq!(run(text, Mode::Strict), Outcome::Passed);
}

#[test]
fn blocking_calls_wait_on_the_virtual_clock() {
    let text = "\
--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0...0.2 accept(3, ..., ...) = 4
+0.1 < S 0:0(0) win 32792 <mss 1000>
+0 > S. 0:0(0) ack 1 <...>
+0.1 < . 1:1(0) ack 1 win 32792
+0...0.1 read(4, ..., 100) = 100
+0.1 < P. 1:101(100) ack 1 win 32792
+0 > . 1:1(0) ack 101
";
    assert_eq!(semantic(text), Outcome::Passed);
    // A blocking call that returns at the wrong time fails at its own line.
    let late = text.replace("+0...0.1 read", "+0...0.3 read");
    match semantic(&late) {
        Outcome::Failed(d) => assert_eq!(d.line, 9, "{d:?}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn blocking_connect_times_out_on_the_virtual_clock() {
    let text = "\
--tolerance_usecs=10000
0 `sysctl -q net.ipv4.tcp_syn_retries=1`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
0...3 connect(3, ..., ...) = -1 ETIMEDOUT (Connection timed out)
0 > S 0:0(0) <...>
1 > S 0:0(0) <...>
";
    assert_eq!(semantic(text), Outcome::Passed);
}

/// A blocking FreeBSD connect limited by TCP_KEEPINIT (`keepinit` seconds).
fn keepinit_script(keepinit: u32, returns_at: &str) -> String {
    format!(
        "\
--tolerance_usecs=50000
0 `sysctl -w net.inet.tcp.rexmit_initial=1000`
+0 `sysctl -w net.inet.tcp.rexmit_slop=200`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, IPPROTO_TCP, TCP_KEEPINIT, [{keepinit}], 4) = 0
+0 getsockopt(3, IPPROTO_TCP, TCP_KEEPINIT, [{keepinit}], [4]) = 0
1.00...{returns_at} connect(3, ..., ...) = -1 ETIMEDOUT (Operation timed out)
+0 > S 0:0(0) <...>
+1.0 > S 0:0(0) <...>
+2.2 > S 0:0(0) <...>
7 close(3) = 0
"
    )
}

#[test]
fn tcp_keepinit_ends_a_blocking_connect() {
    // SYNs at 1.0, 2.0 and 4.2 s (1 s, then 2 s + 200 ms of slop); the next would
    // go at 8.4 s, but the 5-second TCP_KEEPINIT ends the attempt at 6 s.
    assert_eq!(semantic(&keepinit_script(5, "6.00")), Outcome::Passed);
    // The limit counts from the connect: 4 seconds end it at 5 s, not 6 s.
    match semantic(&keepinit_script(4, "6.00")) {
        Outcome::Failed(d) => {
            assert_eq!(d.line, 7, "{d:?}");
            assert!(d.actual.contains("returned at 5.0"), "{d:?}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    // Without the slop the third SYN is 200 ms early.
    let no_slop = keepinit_script(5, "6.00").replace("rexmit_slop=200", "rexmit_slop=0");
    match semantic(&no_slop) {
        Outcome::Failed(d) => assert_eq!(d.line, 10, "{d:?}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn tcp_keepinit_follows_the_sysctl_and_zero_restores_it() {
    let text = "\
--tolerance_usecs=10000
0 `sysctl -w net.inet.tcp.keepinit=75000`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 getsockopt(3, IPPROTO_TCP, TCP_KEEPINIT, [75], [4]) = 0
+0 `sysctl -w net.inet.tcp.keepinit=15000`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4
+0 getsockopt(4, IPPROTO_TCP, TCP_KEEPINIT, [15], [4]) = 0
+0 setsockopt(4, IPPROTO_TCP, TCP_KEEPINIT, [7], 4) = 0
+0 getsockopt(4, IPPROTO_TCP, TCP_KEEPINIT, [7], [4]) = 0
+0 setsockopt(4, IPPROTO_TCP, TCP_KEEPINIT, [0], 4) = 0
+0 getsockopt(4, IPPROTO_TCP, TCP_KEEPINIT, [15], [4]) = 0
+0 `sysctl -w net.inet.tcp.keepinit=0`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 5
+0 getsockopt(5, IPPROTO_TCP, TCP_KEEPINIT, [0], [4]) = 0
";
    assert_eq!(semantic(text), Outcome::Passed);
    let wrong = text.replace(
        "[15], [4]) = 0\n+0 setsockopt",
        "[75], [4]) = 0\n+0 setsockopt",
    );
    match semantic(&wrong) {
        Outcome::Failed(d) => assert_eq!(d.line, 7, "{d:?}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn rexmit_drop_options_strips_the_fourth_syn() {
    let text = "\
--tolerance_usecs=50000
0 `sysctl -w net.inet.tcp.rexmit_drop_options=1`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 1>
+1.0 > S 0:0(0) win 65535 <mss 1460,sackOK,TS val 1100 ecr 0,nop,wscale 1>
+2.2 > S 0:0(0) win 65535 <mss 1460,sackOK,TS val 3300 ecr 0,nop,wscale 1>
+4.2 > S 0:0(0) win 65535 <mss 1460>
+0 close(3) = 0
";
    // FreeBSD's defaults (rexmit_slop 200 ms) apply without a sysctl for them.
    assert_eq!(semantic(text), Outcome::Passed);
    let off = text.replace("rexmit_drop_options=1", "rexmit_drop_options=0");
    match semantic(&off) {
        Outcome::Failed(d) => {
            assert_eq!(d.line, 9, "{d:?}");
            assert!(d.actual.contains("options differs"), "{d:?}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn passive_reset_to_a_bare_ack_and_ipv6() {
    let text = "\
--ip_version=ipv6
--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0.1 < . 17:17(0) ack 34 win 32767
+0 > R 34:34(0) win 0
+0 %{ assert tcpi_state == TCPI_LISTEN }%
+0 close(3) = 0
";
    assert_eq!(semantic(text), Outcome::Passed);
}

/// A passive ECN connection: ECE/CWR flags and the IP ECN field both ways.
const PASSIVE_ECN: &str = "\
--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0.1 < SEW 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 >[noecn] SE. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 1>
+0.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
+0 %{ assert tcpi_options & TCPI_OPT_ECN == TCPI_OPT_ECN }%
+0 write(4, ..., 1000) = 1000
+0 >[ect0] P. 1:1001(1000) ack 1
+0.1 <[ce] P. 1:101(100) ack 1001 win 257
+0 >[noecn] E. 1001:1001(0) ack 101
+0.1 <[ect0] P. 101:201(100) ack 1001 win 257
+0 > E. 1001:1001(0) ack 201
+0.1 <[ect0] PW. 201:301(100) ack 1001 win 257
+0 >[noecn] . 1001:1001(0) ack 301
";

#[test]
fn ecn_flags_and_codepoints_are_compared_and_injected() {
    for mode in [Mode::Semantic, Mode::Strict] {
        assert_eq!(run(PASSIVE_ECN, mode), Outcome::Passed, "{mode:?}");
    }
    // The IP ECN field and the E/W flags are compared in both modes.
    for (from, to, line) in [
        (">[ect0] P. 1:1001", ">[ect1] P. 1:1001", 12),
        (
            ">[noecn] E. 1001:1001(0) ack 101",
            ">[noecn] . 1001:1001(0) ack 101",
            14,
        ),
        ("<[ce] P. 1:101", "<[ect0] P. 1:101", 14),
    ] {
        let text = PASSIVE_ECN.replace(from, to);
        for mode in [Mode::Semantic, Mode::Strict] {
            match run(&text, mode) {
                Outcome::Failed(d) => assert_eq!(d.line, line, "{from} {mode:?}: {d:?}"),
                other => panic!("{from} {mode:?}: expected a failure, got {other:?}"),
            }
        }
    }
    // A differing codepoint is named on both sides.
    match semantic(&PASSIVE_ECN.replace(">[ect0] P. 1:1001", ">[ect1] P. 1:1001")) {
        Outcome::Failed(d) => {
            assert_eq!(d.expected, "[ect1] P. 1:1001(1000) ack 1");
            assert!(
                d.actual.starts_with("[ect0] P. 1:1001(1000) ack 1")
                    && d.actual.ends_with("(ECN field differs)"),
                "{d:?}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let off = PASSIVE_ECN.replace(
        "0 socket",
        "0 `sysctl -w net.inet.tcp.ecn.enable=0`\n0 socket",
    );
    match semantic(&off) {
        Outcome::Failed(d) => {
            assert_eq!(d.line, 8);
            assert!(d.actual.starts_with("S. 0:0(0) ack 1"), "{d:?}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let either = PASSIVE_ECN.replace("<[ce] P. 1:101", "<[ect01] P. 1:101");
    assert!(matches!(semantic(&either), Outcome::NotRun(r) if r.contains("ect01")));
}

#[test]
fn ecn_sysctls_ask_on_active_opens_and_fall_back() {
    for (sysctls, second) in [
        ("`sysctl -w net.inet.tcp.ecn.enable=1`", "SEW"),
        (
            "`sysctl -w net.inet.tcp.ecn.enable=1`\n+0 `sysctl -w net.inet.tcp.ecn.maxretries=0`",
            "S",
        ),
        // Linux's tcp_ecn_fallback (1 by default) clears ECE and CWR on a
        // retransmitted SYN.
        ("`sysctl -q net.ipv4.tcp_ecn=1`", "S"),
    ] {
        let text = format!(
            "\
--tolerance_usecs=10000
0 {sysctls}
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 >[noecn] SEW 0:0(0) <...>
+1 >[noecn] {second} 0:0(0) <...>
"
        );
        assert_eq!(semantic(&text), Outcome::Passed, "{sysctls}");
    }
    let accurate = "0 `sysctl -w net.inet.tcp.ecn.enable=3`\n";
    assert!(matches!(semantic(accurate), Outcome::NotRun(r) if r.contains("accurate ECN")));
}

#[test]
fn unsupported_packets_and_options_are_not_run() {
    let icmp = format!("{PASSIVE}+0 > icmp unreachable port_unreachable [1:1(0)]\n");
    assert!(matches!(semantic(&icmp), Outcome::NotRun(r) if r.contains("ICMP")));
    let icmp = format!("{PASSIVE}+0 < icmp unreachable martian_code [1:1(0)]\n");
    assert!(matches!(semantic(&icmp), Outcome::NotRun(r) if r.contains("martian_code")));
    let icmp = format!("{PASSIVE}+0 < icmp unreachable port_unreachable mtu 1000 [1:1(0)]\n");
    assert!(matches!(semantic(&icmp), Outcome::NotRun(r) if r.contains("MTU")));
    let opt = PASSIVE.replace(
        "+0 write(4",
        "+0 setsockopt(4, IPPROTO_IP, IP_MULTICAST_TTL, [3], 4) = 0\n+0 write(4",
    );
    assert!(matches!(semantic(&opt), Outcome::NotRun(r) if r.contains("IP_MULTICAST_TTL")));
}

#[test]
fn run_paths_reports_all_three_outcomes_and_json() {
    let dir = std::env::temp_dir().join(format!("synack-drill-test-{}", std::process::id()));
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).expect("temp dir");
    std::fs::write(dir.join("a-pass.pkt"), PASSIVE).expect("write");
    std::fs::write(sub.join("b-fail.pkt"), PASSIVE.replace("= 1000\n", "= 7\n")).expect("write");
    std::fs::write(
        sub.join("c-notrun.pkt"),
        PASSIVE.replace("+0 bind(", "+0 `iptables -A OUTPUT -j DROP`\n+0 bind("),
    )
    .expect("write");
    let opts = RunOptions {
        mode: Mode::Semantic,
        jobs: 2,
        ..RunOptions::default()
    };
    let report = run_paths(&[&dir], &opts).expect("run");
    let t = report.totals();
    assert_eq!((t.passed, t.failed, t.not_run, t.errors), (1, 1, 1, 0));
    assert_eq!(report.folder_totals().len(), 2);
    let mut out = Vec::new();
    report.write_json(&mut out).expect("json");
    let text = String::from_utf8(out).expect("utf8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["outcome"], "passed");
    assert_eq!(lines[1]["outcome"], "failed");
    assert_eq!(lines[1]["line"], 11);
    assert!(lines[1]["expected"].is_string() && lines[1]["actual"].is_string());
    assert_eq!(lines[2]["outcome"], "not_run");
    assert!(lines[2]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("iptables")));
    assert_eq!(lines[3]["totals"]["passed"], 1);
    assert_eq!(lines[3]["totals"]["mode"], "semantic");
    let mut txt = Vec::new();
    report.write_text(&mut txt).expect("text");
    let txt = String::from_utf8(txt).expect("utf8");
    assert!(txt.starts_with("mode: semantic\n"));
    assert!(txt.contains("1 passed    1 failed    1 not run  total (semantic mode)"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A script that does not parse reads the same in one stack's report and
/// in the comparison of both: its outcome, line and reason, and its folder
/// counted under the folder given.
#[test]
fn a_parse_error_reads_the_same_in_a_report_and_a_comparison() {
    let dir = std::env::temp_dir().join(format!("synack-drill-err-{}", std::process::id()));
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).expect("temp dir");
    std::fs::write(sub.join("bad.pkt"), "0 socket(..., SOCK_STREAM\n").expect("write");
    let opts = RunOptions {
        jobs: 1,
        ..RunOptions::default()
    };
    let json = |write: &dyn Fn(&mut Vec<u8>)| -> serde_json::Value {
        let mut out = Vec::new();
        write(&mut out);
        let text = String::from_utf8(out).expect("utf8");
        serde_json::from_str(text.lines().next().expect("a line")).expect("JSON")
    };
    let report = run_paths(&[&dir], &opts).expect("run");
    let compared = compare_paths(&[&dir], &opts).expect("compare");
    let _ = std::fs::remove_dir_all(&dir);
    let one = json(&|w| report.write_json(w).expect("json"));
    let both = json(&|w| compared.write_json(w).expect("json"));
    assert_eq!(one["outcome"], "error");
    assert_eq!(one["line"], 1);
    assert!(one["reason"].as_str().is_some_and(|r| !r.is_empty()));
    for stack in ["synack", "smoltcp"] {
        for key in ["outcome", "line", "reason"] {
            assert_eq!(both[stack][key], one[key], "{stack} {key}");
        }
    }
    assert_eq!(both["path"], "sub/bad.pkt");
    let folders = compared.folders();
    assert_eq!(folders.keys().collect::<Vec<_>>(), ["sub"]);
    assert_eq!(folders["sub"].synack.errors, 1);
}

#[test]
fn cli_exit_status() {
    assert_eq!(synack_drill::run_cli(["--mode", "bogus", "x"]), 2);
    assert_eq!(synack_drill::run_cli(Vec::<String>::new()), 2);
    assert_eq!(synack_drill::run_cli(["/nonexistent/synack/drill/path"]), 1);
}

/// An active open the script answers with ICMP errors about the SYN.
const ICMP_ACTIVE: &str = "\
--tolerance_usecs=10000
0 `sysctl -w net.inet.tcp.icmp_may_rst=MAY_RST`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <...>
+0.1 < icmp unreachable port_unreachable [1:1(0)]
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0.1 < icmp unreachable port_unreachable [0:0(0)]
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [WANT], [4]) = 0
";

#[test]
fn icmp_errors_about_the_syn_run() {
    // The quoted sequence number is mapped through the ISN: 1 is past the SYN
    // and ignored (RFC 5927 4.1), 0 is the SYN.
    let refused = ICMP_ACTIVE
        .replace("MAY_RST", "1")
        .replace("WANT", "ECONNREFUSED");
    assert_eq!(semantic(&refused), Outcome::Passed);
    // With icmp_may_rst=0 the error is soft: nothing to report yet.
    let soft = ICMP_ACTIVE.replace("MAY_RST", "0").replace("WANT", "0");
    assert_eq!(semantic(&soft), Outcome::Passed);
    let wrong = ICMP_ACTIVE
        .replace("MAY_RST", "0")
        .replace("WANT", "ECONNREFUSED");
    assert!(matches!(semantic(&wrong), Outcome::Failed(d) if d.line == 10));
}

#[test]
fn icmp_frag_needed_shrinks_the_segments_in_flight() {
    let text = "\
--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0.1 < S 0:0(0) win 65535 <mss 1460>
+0 > S. 0:0(0) ack 1 <mss 1460>
+0.1 < . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
+0 setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0
+0 write(4, ..., 2000) = 2000
+0 > . 1:1461(1460) ack 1
+0 > P. 1461:2001(540) ack 1
+0.01 < icmp unreachable frag_needed mtu 1000 [1:1461(1460)]
+0 > . 1:961(960) ack 1
+0 > . 961:1921(960) ack 1
+0 > P. 1921:2001(80) ack 1
+0.1 < . 1:1(0) ack 2001 win 65535
";
    assert_eq!(semantic(text), Outcome::Passed);
}

/// FreeBSD's socket-api-setsockopt-tos-passive-ipv4, trimmed: a bound socket's
/// RST, the SYN,ACK and data carry IP_TOS (ECN bits masked), a live change
/// applies to the next segment.
const TOS: &str = "\
--ip_version=ipv4
--tolerance_usecs=50000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, IPPROTO_IP, IP_TOS, [IPTOS_DSCP_CS1], 4) = 0
+0 setsockopt(3, IPPROTO_IP, IP_TTL, [4], 4) = 0
+0 bind(3, ..., ...) = 0
+0 < (tos 0x28) S 0:0(0) win 32767 <mss 1460>
+0 > (tos 0x20) R. 0:0(0) ack 1 win 0
+0 listen(3, 1) = 0
+0 < (tos 0x28) S 0:0(0) win 32767 <mss 1460>
+0 > (ttl 4) S. 0:0(0) ack 1 <...>
+0.1 < (ttl 3) . 1:1(0) ack 1 win 32767
+0 accept(3, ..., ...) = 4
+0 getsockopt(4, IPPROTO_IP, IP_TOS, [32], [4]) = 0
+0 setsockopt(4, IPPROTO_IP, IP_TOS, [0xe3], 4) = 0
+0 getsockopt(4, IPPROTO_IP, IP_TOS, [224], [4]) = 0
+0 setsockopt(4, IPPROTO_IP, IP_TTL, [6], 4) = 0
+0 write(4, ..., 100) = 100
+0 > (tos 0xe0) P. 1:101(100) ack 1
";

#[test]
fn ip_tos_and_ttl_reach_every_segment() {
    let text = TOS.to_string();
    assert_eq!(semantic(&text), Outcome::Passed);
    assert_eq!(
        semantic(&text.replace("> (tos 0xe0) P.", "> (ttl 6) P.")),
        Outcome::Passed
    );
    for (from, to, what) in [
        ("> (tos 0xe0) P.", "> (tos 0x20) P.", "tos differs"),
        ("> (ttl 4) S.", "> (ttl 64) S.", "ttl differs"),
        ("> (tos 0x20) R.", "> (tos 0x00) R.", "tos differs"),
    ] {
        match semantic(&text.replace(from, to)) {
            Outcome::Failed(d) => assert!(d.actual.contains(what), "{d:?}"),
            other => panic!("expected a failure for {to}, got {other:?}"),
        }
    }
}

#[test]
fn huge_read_and_write_counts_allocate_only_what_the_buffers_take() {
    // A non-blocking write of a terabyte returns what the send buffer took, and
    // a read of a terabyte what had arrived: the runner never allocates the
    // script's count.
    let script = concat!(
        accepted!(),
        "\
+0 fcntl(4, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 < P. 1:11(10) ack 1 win 257
+0 read(4, ..., 1000000000000) = 10
+0 write(4, ..., 1000000000000) = 65536
"
    );
    assert_eq!(semantic(script), Outcome::Passed);
}

/// The corpus's helper files are read from the script's folder and applied
/// line by line, a checkout's link-as-text followed; a missing one is named.
#[test]
fn helper_files_are_read_and_applied() {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("drill-helpers");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("common")).expect("scratch folder");
    std::fs::create_dir_all(root.join("tcp/common")).expect("scratch folder");
    std::fs::create_dir_all(root.join("tcp/t")).expect("scratch folder");
    std::fs::write(
        root.join("common/defaults.sh"),
        "#!/bin/bash\n# one retry\nsysctl -q net.ipv4.tcp_syn_retries=$((2-1)) \\\n  net.ipv4.tcp_sack=1\n\
         ip tcp_metrics flush all > /dev/null 2>&1\ntc qdisc add dev tun0 root pfifo\n",
    )
    .expect("helper written");
    std::fs::write(
        root.join("tcp/common/defaults.sh"),
        "../../common/defaults.sh",
    )
    .expect("link written");
    let body = "\
--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
0...3 connect(3, ..., ...) = -1 ETIMEDOUT (Connection timed out)
0 > S 0:0(0) <...>
1 > S 0:0(0) <...>
";
    let run_at = |path: std::path::PathBuf, text: String| {
        let script =
            parse_str(&text, &path.display().to_string(), &Defines::standard()).expect("parses");
        run_script(&script, Mode::Semantic)
    };
    let with = format!("`../common/defaults.sh`\n{body}");
    assert_eq!(
        run_at(root.join("tcp/t/s.pkt"), with.clone()),
        Outcome::Passed
    );
    // Without the helper's one retry, the connect is still trying at 3 s.
    assert!(matches!(
        run_at(root.join("tcp/t/s.pkt"), body.to_string()),
        Outcome::Failed(_)
    ));
    assert_eq!(
        run_at(root.join("elsewhere/s.pkt"), with),
        Outcome::NotRun("helper file `../common/defaults.sh` not found".into())
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A null buffer fails with EFAULT and leaves the received bytes queued.
#[test]
fn null_buffers_fail_with_efault() {
    let head = &PASSIVE[..PASSIVE.find("+0 write(4").expect("a write")];
    let text = format!(
        "{head}+0 write(4, NULL, 1000) = -1 EFAULT (Bad address)\n\
         +0 < P. 1:11(10) ack 1 win 257\n\
         +0 read(4, NULL, 10) = -1 EFAULT (Bad address)\n\
         +0 read(4, ..., 10) = 10\n\
         +0 write(4, ..., 1000) = 1000\n\
         +0 > P. 1:1001(1000) ack 11\n"
    );
    assert_eq!(semantic(&text), Outcome::Passed);
    let wrong = text.replace(
        "read(4, NULL, 10) = -1 EFAULT",
        "read(4, NULL, 10) = 10 EFAULT",
    );
    assert!(matches!(semantic(&wrong), Outcome::Failed(_)));
}

/// A Fast Open server (Linux's `tcp_fastopen` 0x400 and its key): data on a
/// SYN with the key's cookie (`TFO_COOKIE`) is acknowledged by the SYN,ACK
/// and readable once accepted; a wrong cookie gets a normal handshake that
/// offers the right one. `TCP_FASTOPEN_KEY` on the socket runs.
#[test]
fn fast_open_server_runs() {
    let server = |syn: &str, synack: &str, read: &str| {
        format!(
            "0 `sysctl -q net.ipv4.tcp_fastopen=0x403 net.ipv4.tcp_fastopen_key=a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4`\n\
             0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
             +0 bind(3, ..., ...) = 0\n\
             +0 listen(3, 1) = 0\n\
             +0 < S 0:10(10) win 32792 <mss 1460,sackOK,nop,nop,{syn}>\n\
             +0 > S. 0:0(0) ack {synack}\n\
             +.1 accept(3, ..., ...) = 4\n\
             +0 read(4, ..., 512) = {read}\n"
        )
    };
    let good = server("FO TFO_COOKIE", "11 <mss 1460,nop,nop,sackOK>", "10");
    assert_eq!(semantic(&good), Outcome::Passed);
    let bad = server(
        "FO 0011223344556677",
        "1 <mss 1460,nop,nop,sackOK,FO 3021b9d889017eeb,nop,nop>",
        "-1 EAGAIN (Resource temporarily unavailable)",
    );
    let bad = bad.replace("+.1 accept", "+0 < . 1:1(0) ack 1 win 257\n+.1 accept");
    let bad = bad.replace(
        "socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
        "socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n",
    );
    let bad = bad.replace(
        "read(4, ..., 512) = -1",
        "fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 read(4, ..., 512) = -1",
    );
    assert_eq!(semantic(&bad), Outcome::Passed);
    let sockopt = PASSIVE.replace(
        "+0 listen(3, 1) = 0\n",
        "+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN_KEY, \"0123456789abcdef\", 16) = 0\n+0 listen(3, 1) = 0\n",
    );
    assert_eq!(semantic(&sockopt), Outcome::Passed);
    let short = sockopt.replace("\", 16) = 0", "\", 15) = -1 EINVAL (Invalid argument)");
    assert_eq!(semantic(&short), Outcome::Passed);
}

/// The first part of a Fast Open client script: a cookie request, then
/// `sendto` with `MSG_FASTOPEN` sending its data on the SYN with the cookie.
const FAST_OPEN_CLIENT: &str = "\
0 `sysctl -q net.ipv4.tcp_fastopen=0x1 net.ipv4.tcp_timestamps=0`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 sendto(3, ..., 0, MSG_FASTOPEN, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO,nop,nop>
+.01 < S. 123:123(0) ack 1 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6,FO abcd1234,nop,nop>
+0 > . 1:1(0) ack 1
+0 close(3) = 0
+0 > F. 1:1(0) ack 1
+0 < F. 1:1(0) ack 2 win 92
+0 > . 2:2(0) ack 2
+.1 socket(..., SOCK_STREAM, IPPROTO_TCP) = 4
+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0
";

/// A Fast Open client: `MSG_FASTOPEN` asks for a cookie, then sends data on
/// the SYN with it (EALREADY and EAGAIN while the handshake runs,
/// `TCPI_OPT_SYN_DATA` once the SYN,ACK acknowledged it);
/// `TCP_FASTOPEN_CONNECT` defers the SYN to the first write.
#[test]
fn fast_open_client_runs() {
    let sendto = format!(
        "{FAST_OPEN_CLIENT}\
+0 sendto(4, ..., 1000, MSG_FASTOPEN, ..., ...) = 1000
+0 > S 0:1000(1000) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO abcd1234,nop,nop>
+0 sendto(4, ..., 1000, MSG_FASTOPEN, ..., ...) = -1 EALREADY (Operation already in progress)
+0 write(4, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)
+.01 < S. 5678:5678(0) ack 1001 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>
+0 > . 1001:1001(0) ack 1
+0 %{{ assert (tcpi_options & TCPI_OPT_SYN_DATA) != 0, tcpi_options }}%
+0 < P. 1:501(500) ack 1001 win 257
+0 > . 1001:1001(0) ack 501
+0 read(4, ..., 4096) = 500
"
    );
    assert_eq!(semantic(&sendto), Outcome::Passed);
    // A cookie the SYN does not carry fails at its line.
    let wrong = sendto.replace(
        "1000(1000) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO abcd1234",
        "1000(1000) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO abcd1235",
    );
    assert!(matches!(semantic(&wrong), Outcome::Failed(d) if d.line == 15));
    let deferred = format!(
        "{FAST_OPEN_CLIENT}\
+0 setsockopt(4, SOL_TCP, TCP_FASTOPEN_CONNECT, [1], 4) = 0
+0 connect(4, ..., ...) = 0
+0 connect(4, ..., ...) = -1 EISCONN (Transport endpoint is already connected)
+.01 write(4, ..., 2000) = 1420
+0 > S 0:1420(1420) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO abcd1234,nop,nop>
+.01 < S. 5678:5678(0) ack 1421 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>
+0 > . 1421:1421(0) ack 1
"
    );
    assert_eq!(semantic(&deferred), Outcome::Passed);
    let off = deferred.replace("tcp_fastopen=0x1 ", "tcp_fastopen=0x0 ");
    assert!(matches!(semantic(&off), Outcome::Failed(d) if d.line == 4));
}

/// A SYN,ACK's cookie longer than RFC 7413 4.1.1's 16 bytes (built byte by
/// byte, as synack's options hold no more) is no cookie: the next
/// `MSG_FASTOPEN` asks again. 16 bytes are a cookie. `tcpi_delivered`
/// counts the SYN once the SYN,ACK acknowledged it.
#[test]
fn a_cookie_over_16_bytes_is_not_cached() {
    let with =
        |cookie: &str| FAST_OPEN_CLIENT.replace("FO abcd1234,nop,nop>", &format!("FO {cookie}>"));
    let again = "\
+0 sendto(4, ..., 1000, MSG_FASTOPEN, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 8,FO,nop,nop>
+0 %{ assert tcpi_delivered == 0 }%
+.01 < S. 5678:5678(0) ack 1 win 14600 <mss 1460,nop,nop,sackOK,nop,wscale 6>
+0 %{ assert tcpi_delivered == 1 }%
";
    let long = format!("{}{again}", with("01234567aabbccdd0123456701234567afaf"));
    assert_eq!(semantic(&long), Outcome::Passed);
    let sixteen = format!("{}{again}", with("01234567aabbccdd0123456701234567"));
    assert!(matches!(semantic(&sixteen), Outcome::Failed(d) if d.line == 14));
}

/// `sendmsg` sends its iovec's bytes; `recvmsg` with `TCP_INQ` reports the
/// bytes left to read, and a wrong count fails at its line.
#[test]
fn sendmsg_and_recvmsg_with_tcp_inq() {
    let head = &PASSIVE[..PASSIVE.find("+0 write(4").expect("a write")];
    let recvmsg = |n: u32, left: u32| {
        format!(
            "+0 recvmsg(4, {{msg_name(...)=..., msg_iov(1)=[{{..., {n}}}], msg_flags=0, \
             msg_control=[{{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data={left}}}]}}, 0) = {n}\n"
        )
    };
    let text = format!(
        "{head}+0 setsockopt(4, SOL_TCP, TCP_INQ, [1], 4) = 0\n\
         +0 sendmsg(4, {{msg_name(...)=..., msg_iov(2)=[{{..., 0}}, {{..., 40}}], msg_flags=0}}, 0) = 40\n\
         +0 > P. 1:41(40) ack 1\n\
         +0 < P. 1:101(100) ack 41 win 257\n{}{}",
        recvmsg(30, 70),
        recvmsg(70, 0)
    );
    assert_eq!(semantic(&text), Outcome::Passed);
    let wrong = text.replace("cmsg_data=70", "cmsg_data=69");
    assert!(matches!(semantic(&wrong), Outcome::Failed(d) if d.actual == "TCP_CM_INQ 70"));
}

/// FreeBSD's `net.inet.tcp.delayed_ack=0`: data is acknowledged at once
/// (the FreeBSD default waits `delacktime`, 100 ms).
#[test]
fn freebsd_delayed_ack_sysctl() {
    let script = |sysctl: &str| {
        format!(
            "--tolerance_usecs=10000
0 `sysctl -w net.inet.tcp.msl=1000{sysctl}`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0.1 < S 0:0(0) win 65535 <mss 1460>
+0 > S. 0:0(0) ack 1 <...>
+0.1 < . 1:1(0) ack 1 win 65535
+0 accept(3, ..., ...) = 4
+0 < P. 1:11(10) ack 1 win 65535
+0 > . 1:1(0) ack 11
"
        )
    };
    assert_eq!(
        semantic(&script(" net.inet.tcp.delayed_ack=0")),
        Outcome::Passed
    );
    assert!(matches!(semantic(&script("")), Outcome::Failed(_)));
}
