//! The conformance ratchet: runs every script of the shared corpus in
//! semantic mode and fails if fewer pass than the number committed in
//! `conformance-baseline.txt`. Raise that number when synack gets better.
//!
//! The corpus lives next to the checkout in `../shared/conformance/` (or
//! wherever `SYNACK_CONFORMANCE_DIR` points); without it the test skips
//! loudly.

use std::path::{Path, PathBuf};

use synack_drill::{run_paths, Mode, RunOptions};

fn corpus_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SYNACK_CONFORMANCE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    dir.is_dir().then_some(dir)
}

fn baseline() -> usize {
    include_str!("../conformance-baseline.txt")
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.parse().ok())
        .expect("conformance-baseline.txt holds a number")
}

#[test]
fn semantic_pass_count_does_not_regress() {
    let Some(root) = corpus_dir() else {
        eprintln!(
            "!!! conformance corpus not found (../shared/conformance or \
             SYNACK_CONFORMANCE_DIR): SKIPPING the conformance ratchet !!!"
        );
        return;
    };
    let opts = RunOptions {
        mode: Mode::Semantic,
        ..RunOptions::default()
    };
    let report = run_paths(&[&root], &opts).expect("the runner runs");
    let mut out = Vec::new();
    report.write_text(&mut out).expect("report");
    let text = String::from_utf8_lossy(&out);
    // Per-folder totals, for the log.
    for line in text.lines().skip_while(|l| !l.is_empty()) {
        eprintln!("{line}");
    }
    let totals = report.totals();
    assert_eq!(totals.errors, 0, "scripts failed to parse:\n{text}");
    let want = baseline();
    assert!(
        totals.passed >= want,
        "conformance regressed: {} scripts pass in semantic mode, baseline is {want}",
        totals.passed
    );
    if totals.passed > want {
        eprintln!(
            "{} scripts pass, baseline {want}: raise conformance-baseline.txt",
            totals.passed
        );
    }
}
