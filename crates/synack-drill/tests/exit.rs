//! The drill command's exit status: a failed script fails the command,
//! `--fail-under RATE` sets a threshold, `--help` explains both.

mod support;
use support::accepted;

use synack_drill::{exit_status, run_cli, Totals};

/// A passive open, a write and a close, as synack does them.
const PASSIVE: &str = concat!(
    accepted!(),
    "+0 write(4, ..., 1000) = 1000\n",
    "+0 > P. 1:1001(1000) ack 1\n",
);

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
