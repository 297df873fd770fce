//! The conformance ratchet, script by script: every script of the shared
//! corpus runs in semantic and in strict mode, and each script listed in
//! `conformance/pass-<mode>.txt` must still pass. A script that stops passing
//! fails the test by name, so fixing one script cannot hide breaking another;
//! a script that newly passes is reported, to be added to the list.
//!
//! The corpus lives next to the checkout in `../shared/conformance/` (or
//! wherever `SYNACK_CONFORMANCE_DIR` points). Without it the test says
//! SKIPPED loudly; under CI (`CI` set) it fails, since a CI run that cannot
//! see the corpus proves nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use synack_drill::{run_paths, Mode, Outcome, RunOptions};

fn corpus_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SYNACK_CONFORMANCE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    dir.is_dir().then_some(dir)
}

/// The corpus, or `None` after saying SKIPPED (outside CI only).
fn corpus_or_skip() -> Option<PathBuf> {
    match corpus_dir() {
        Some(d) => Some(d),
        None if std::env::var_os("CI").is_some() => panic!(
            "the conformance corpus is missing (../shared/conformance or \
             SYNACK_CONFORMANCE_DIR) and CI is set: the ratchet cannot run"
        ),
        None => {
            eprintln!(
                "!!! SKIPPED: conformance corpus not found (../shared/conformance or \
                 SYNACK_CONFORMANCE_DIR); the ratchet did not run !!!"
            );
            None
        }
    }
}

/// The committed list for a mode: paths relative to the corpus root.
fn committed(list: &str) -> BTreeSet<String> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Run the corpus in `mode` and compare with the committed list.
fn ratchet(mode: Mode, list: &str, name: &str) {
    let Some(root) = corpus_or_skip() else {
        return;
    };
    let want = committed(list);
    assert!(!want.is_empty(), "{name} lists no script");
    let opts = RunOptions {
        mode,
        ..RunOptions::default()
    };
    let report = run_paths(&[&root], &opts).expect("the runner runs");
    let totals = report.totals();
    assert_eq!(totals.errors, 0, "scripts failed to parse");
    let mut passing = BTreeSet::new();
    let mut other = std::collections::BTreeMap::new();
    for r in &report.results {
        let rel = r
            .path
            .strip_prefix(&root)
            .unwrap_or(&r.path)
            .to_string_lossy()
            .into_owned();
        match &r.result {
            Ok(Outcome::Passed) => {
                passing.insert(rel);
            }
            Ok(o) => {
                other.insert(rel, format!("{o:?}"));
            }
            Err(e) => {
                other.insert(rel, format!("parse error: {e}"));
            }
        }
    }
    let lost: Vec<String> = want
        .difference(&passing)
        .map(|p| {
            let why = other
                .get(p)
                .map_or("not found in the corpus", String::as_str);
            format!("  {p}: {why}")
        })
        .collect();
    let gained: Vec<&String> = passing.difference(&want).collect();
    print_folders(name, &want, &passing);
    eprintln!(
        "{name}: {} of {} scripts pass ({} listed)",
        passing.len(),
        totals.total(),
        want.len()
    );
    if !gained.is_empty() {
        eprintln!(
            "{} scripts now pass and are not yet in {name}; add:",
            gained.len()
        );
        for g in &gained {
            eprintln!("{g}");
        }
    }
    assert!(
        lost.is_empty(),
        "{} scripts listed in {name} no longer pass:\n{}",
        lost.len(),
        lost.join("\n")
    );
}

/// Per folder of every corpus: scripts passing now against scripts listed,
/// so a run shows where a change gained or lost.
fn print_folders(name: &str, want: &BTreeSet<String>, passing: &BTreeSet<String>) {
    let mut folders: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    let folder = |p: &str| p.rsplit_once('/').map_or("", |(f, _)| f).to_owned();
    let names: BTreeSet<String> = want.union(passing).map(|p| folder(p)).collect();
    for f in &names {
        folders.insert(f.as_str(), (0, 0));
    }
    for p in passing {
        if let Some(e) = folders.get_mut(folder(p).as_str()) {
            e.0 += 1;
        }
    }
    for p in want {
        if let Some(e) = folders.get_mut(folder(p).as_str()) {
            e.1 += 1;
        }
    }
    eprintln!("{name}, per folder (passing now / listed):");
    for (f, (now, listed)) in folders {
        eprintln!("  {now:4} / {listed:4}  {f}");
    }
}

#[test]
fn every_listed_script_passes_in_semantic_mode() {
    ratchet(
        Mode::Semantic,
        include_str!("../conformance/pass-semantic.txt"),
        "conformance/pass-semantic.txt",
    );
}

#[test]
fn every_listed_script_passes_in_strict_mode() {
    ratchet(
        Mode::Strict,
        include_str!("../conformance/pass-strict.txt"),
        "conformance/pass-strict.txt",
    );
}
