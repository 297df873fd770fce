//! The conformance ratchet, script by script and folder by folder: every
//! script of every corpus in the shared conformance folder (the FreeBSD
//! suite, Google's and NPLab's Linux scripts) runs in semantic and in strict
//! mode, against synack and (with the `smoltcp` feature) against smoltcp,
//! and each script listed in that stack's and mode's
//! `conformance/<list>.txt` must still pass. A script that stops passing
//! fails the test by folder and name, so fixing one script cannot hide
//! breaking another; a script that newly passes is reported, to be added.
//!
//! `SYNACK_BLESS=1` rewrites the lists from what passes now (refused under
//! CI): `SYNACK_BLESS=1 cargo test -p synack-drill --release --features
//! smoltcp --test conformance`.
//!
//! The corpus lives next to the checkout in `../shared/conformance/` (or
//! wherever `SYNACK_CONFORMANCE_DIR` points). Without it the test says
//! SKIPPED loudly; under CI (`CI` set) it fails, since a CI run that cannot
//! see the corpus proves nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use synack_drill::{run_paths, Mode, Outcome, RunOptions, StackKind};

/// The corpora the lists cover: each must be present and run.
const CORPORA: [&str; 3] = [
    "freebsd-tcp-testsuite",
    "google-packetdrill",
    "nplab-packetdrill",
];

fn corpus_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SYNACK_CONFORMANCE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    dir.is_dir().then_some(dir)
}

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The corpus, or `None` after saying SKIPPED (outside CI only).
fn corpus_or_skip() -> Option<PathBuf> {
    match corpus_dir() {
        Some(d) => Some(d),
        None if under_ci() => panic!(
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

/// Whether `SYNACK_BLESS` asks for the lists to be rewritten; refused
/// under CI, where a list must only ever be compared.
fn bless() -> bool {
    let on = std::env::var_os("SYNACK_BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    assert!(
        !(on && under_ci()),
        "SYNACK_BLESS is refused under CI: pass lists change only in a commit that says why"
    );
    on
}

fn list_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conformance")
        .join(name)
}

/// The committed list: paths relative to the corpus root.
fn committed(name: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(list_path(name))
        .unwrap_or_else(|e| panic!("conformance/{name}: {e}"));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn folder(p: &str) -> &str {
    p.rsplit_once('/').map_or("", |(f, _)| f)
}

/// Runs every corpus against `stack` in `mode`: the scripts that pass, and
/// every other script's outcome.
fn run_corpus(
    root: &Path,
    stack: StackKind,
    mode: Mode,
) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let opts = RunOptions {
        mode,
        stack,
        ..RunOptions::default()
    };
    let report = run_paths(&[root], &opts).expect("the runner runs");
    assert_eq!(report.totals().errors, 0, "scripts failed to parse");
    let mut passing = BTreeSet::new();
    let mut other = BTreeMap::new();
    for r in &report.results {
        let rel = r
            .path
            .strip_prefix(root)
            .unwrap_or(&r.path)
            .to_string_lossy()
            .into_owned();
        match &r.result {
            Ok(Outcome::Passed) => {
                passing.insert(rel);
            }
            Ok(Outcome::Failed(d)) => {
                let why = format!("line {}: expected {}; got {}", d.line, d.expected, d.actual);
                other.insert(rel, why);
            }
            Ok(Outcome::NotRun(why)) => {
                other.insert(rel, format!("not run: {why}"));
            }
            Err(e) => {
                other.insert(rel, format!("parse error: {e}"));
            }
        }
    }
    for c in CORPORA {
        let prefix = format!("{c}/");
        assert!(
            passing
                .iter()
                .chain(other.keys())
                .any(|p| p.starts_with(&prefix)),
            "no script of the {c} corpus ran: the ratchet must cover every corpus"
        );
    }
    (passing, other)
}

/// Run every corpus against `stack` in `mode` and compare with the list.
fn ratchet(stack: StackKind, mode: Mode, name: &str) {
    let Some(root) = corpus_or_skip() else {
        return;
    };
    let (passing, other) = run_corpus(&root, stack, mode);
    let what = format!("{name} ({}, {} mode)", stack.name(), mode.name());
    if bless() {
        write_list(name, stack, mode, &passing);
        eprintln!("{what}: rewritten, {} scripts pass", passing.len());
        return;
    }
    let want = committed(name);
    assert!(!want.is_empty(), "{name} lists no script");
    print_folders(&what, &want, &passing);
    let gained: Vec<&String> = passing.difference(&want).collect();
    if !gained.is_empty() {
        eprintln!(
            "{} scripts now pass and are not yet in {what}; add (or SYNACK_BLESS=1):",
            gained.len()
        );
        for g in &gained {
            eprintln!("{g}");
        }
    }
    let lost: BTreeSet<&String> = want.difference(&passing).collect();
    assert!(lost.is_empty(), "{}", losses(&what, &want, &lost, &other));
}

/// The losses by folder: how many each lost of how many listed, and each
/// script with why it no longer passes.
fn losses(
    what: &str,
    want: &BTreeSet<String>,
    lost: &BTreeSet<&String>,
    other: &BTreeMap<String, String>,
) -> String {
    let mut by_folder: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for p in lost {
        by_folder.entry(folder(p)).or_default().push(p);
    }
    let mut s = format!(
        "{} scripts listed in {what} no longer pass, in {} folders:\n",
        lost.len(),
        by_folder.len()
    );
    for (f, scripts) in by_folder {
        let listed = want.iter().filter(|p| folder(p) == f).count();
        s.push_str(&format!(
            "  {f}: {} of {listed} listed lost\n",
            scripts.len()
        ));
        for p in scripts {
            let why = other
                .get(p.as_str())
                .map_or("not found in the corpus", String::as_str);
            s.push_str(&format!("    {p}: {why}\n"));
        }
    }
    s
}

fn write_list(name: &str, stack: StackKind, mode: Mode, passing: &BTreeSet<String>) {
    let mut text = format!(
        "# Scripts of ../shared/conformance (paths relative to it) that pass against {} in {} mode.\n\
         # tests/conformance.rs fails, naming the folder and script, when one of them stops\n\
         # passing, and lists scripts that newly pass. Sorted; SYNACK_BLESS=1 rewrites it.\n",
        stack.name(),
        mode.name()
    );
    for p in passing {
        text.push_str(p);
        text.push('\n');
    }
    std::fs::write(list_path(name), text).unwrap_or_else(|e| panic!("conformance/{name}: {e}"));
}

/// Per folder of every corpus: scripts passing now against scripts listed,
/// so a run shows where a change gained or lost.
fn print_folders(what: &str, want: &BTreeSet<String>, passing: &BTreeSet<String>) {
    let mut folders: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for p in passing {
        folders.entry(folder(p)).or_default().0 += 1;
    }
    for p in want {
        folders.entry(folder(p)).or_default().1 += 1;
    }
    eprintln!("{what}, per folder (passing now / listed):");
    for (f, (now, listed)) in folders {
        eprintln!("  {now:4} / {listed:4}  {f}");
    }
}

#[test]
fn every_listed_script_passes_in_semantic_mode() {
    ratchet(StackKind::Synack, Mode::Semantic, "pass-semantic.txt");
}

#[test]
fn every_listed_script_passes_in_strict_mode() {
    ratchet(StackKind::Synack, Mode::Strict, "pass-strict.txt");
}

#[cfg(feature = "smoltcp")]
#[test]
fn every_listed_script_passes_against_smoltcp_in_semantic_mode() {
    ratchet(
        StackKind::Smoltcp,
        Mode::Semantic,
        "smoltcp-pass-semantic.txt",
    );
}

#[cfg(feature = "smoltcp")]
#[test]
fn every_listed_script_passes_against_smoltcp_in_strict_mode() {
    ratchet(StackKind::Smoltcp, Mode::Strict, "smoltcp-pass-strict.txt");
}
