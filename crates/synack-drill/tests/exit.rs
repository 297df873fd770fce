//! The drill command's exit status: a failed script fails the command,
//! `--fail-under RATE` sets a threshold, `--help` explains both.

use synack_drill::{exit_status, run_cli, Totals};

/// A passive open, a write and a close, as synack does them.
const PASSIVE: &str = "\
--tolerance_usecs=10000
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0.1 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 1>
+0.1 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
+0 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
";

fn totals(passed: usize, failed: usize, not_run: usize, errors: usize) -> Totals {
    Totals {
        passed,
        failed,
        not_run,
        errors,
    }
}

#[test]
fn any_failure_fails_unless_a_threshold_is_met() {
    assert_eq!(exit_status(&totals(3, 0, 2, 0), None), 0);
    assert_eq!(exit_status(&totals(3, 1, 0, 0), None), 1);
    assert_eq!(exit_status(&totals(3, 0, 0, 1), None), 1);
    // 3 of 4 run passed: 75 %.
    assert_eq!(exit_status(&totals(3, 1, 9, 0), Some(0.75)), 0);
    assert_eq!(exit_status(&totals(3, 1, 9, 0), Some(0.76)), 1);
    assert_eq!(exit_status(&totals(0, 0, 4, 0), Some(0.0)), 0);
    assert_eq!(exit_status(&totals(0, 0, 4, 0), Some(0.5)), 1);
}

#[test]
fn the_command_exits_1_when_a_script_fails() {
    let dir = std::env::temp_dir().join(format!("synack-drill-exit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pass = dir.join("pass.pkt");
    let fail = dir.join("fail.pkt");
    std::fs::write(&pass, PASSIVE).expect("write");
    std::fs::write(&fail, PASSIVE.replace("= 1000\n", "= 7\n")).expect("write");
    let p = pass.display().to_string();
    let d = dir.display().to_string();
    assert_eq!(run_cli([p.as_str()]), 0);
    assert_eq!(run_cli([d.as_str()]), 1);
    assert_eq!(run_cli(["--fail-under", "0.5", d.as_str()]), 0);
    assert_eq!(run_cli(["--fail-under=50%", d.as_str()]), 0);
    assert_eq!(run_cli(["--fail-under", "0.6", d.as_str()]), 1);
    assert_eq!(run_cli(["--fail-under", "1.5", d.as_str()]), 2);
    assert_eq!(run_cli(["--fail-under", d.as_str()]), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
