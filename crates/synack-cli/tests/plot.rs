//! `--plot tseq|cwnd FILE.svg`: the plots written as files, and the errors.

use std::path::PathBuf;
use std::process::{Command, Output};

fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .output()
        .expect("run synack")
}

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("plot-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

fn attr(svg: &str, name: &str) -> usize {
    let key = format!("{name}=\"");
    let i = svg.find(&key).unwrap_or_else(|| panic!("no {name}")) + key.len();
    svg[i..]
        .split('"')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} is not a number"))
}

#[test]
fn zero_window_plots_show_the_probes_and_the_window() {
    let dir = scratch("zw");
    let (t, c) = (dir.join("tseq.svg"), dir.join("cwnd.svg"));
    let o = synack(&[
        "scenario",
        "zero-window",
        "--plot",
        "tseq",
        t.to_str().expect("path"),
        "--plot",
        "cwnd",
        c.to_str().expect("path"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!o.stdout.is_empty(), "the ladder is still printed");
    let tseq = std::fs::read_to_string(&t).expect("tseq written");
    assert!(tseq.starts_with("<?xml"));
    assert!(
        attr(&tseq, "data-probes") >= 1,
        "the persist timer's probes are marked"
    );
    assert!(
        tseq.contains("class=\"rwnd\""),
        "the window's edge is drawn"
    );
    let cwnd = std::fs::read_to_string(&c).expect("cwnd written");
    assert!(attr(&cwnd, "data-samples") >= 2);
    for line in ["cwnd", "ssth", "infl", "srtt", "rto"] {
        assert!(
            cwnd.contains(&format!("<polyline class=\"{line}\"")),
            "{line}"
        );
    }
}

#[test]
fn nothing_to_plot_is_an_error() {
    let dir = scratch("none");
    let t = dir.join("tseq.svg");
    let o = synack(&[
        "scenario",
        "handshake",
        "--plot",
        "tseq",
        t.to_str().expect("p"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nothing to plot") && err.contains("no data was sent"),
        "{err}"
    );
    assert!(!t.exists(), "no empty file is left");
}

#[test]
fn an_unknown_plot_is_a_usage_error() {
    let o = synack(&["demo", "--plot", "rtt", "x.svg"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("expected tseq or cwnd"), "{err}");
}
