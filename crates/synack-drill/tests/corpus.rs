//! Parses every `.pkt` script of the shared conformance corpus.
//!
//! The corpus is not part of the repository: it lives next to the checkout in
//! `../shared/conformance/` (or wherever `SYNACK_CONFORMANCE_DIR` points).
//! Without it this test reports that it skipped and passes.
//!
//! Scripts that cannot be parsed for a real reason are listed, with the
//! reason, in `corpus-known-failures.txt` next to this crate's manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use synack_drill::{parse_file, Defines};

/// Fraction of corpus scripts that must parse (committed baseline); the
/// scripts listed in `corpus-known-failures.txt` are excused from it.
const BASELINE_FRACTION: f64 = 1.0;

fn corpus_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SYNACK_CONFORMANCE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    dir.is_dir().then_some(dir)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "pkt") {
            out.push(path);
        }
    }
}

/// `relative/path -> reason` from the known-failures list.
fn known_failures() -> BTreeMap<String, String> {
    let list = include_str!("../corpus-known-failures.txt");
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (path, reason) = l.split_once(char::is_whitespace)?;
            Some((path.to_string(), reason.trim().to_string()))
        })
        .collect()
}

fn run_corpus(defines: &Defines, label: &str) {
    let Some(root) = corpus_dir() else {
        eprintln!("conformance corpus not found; skipping the corpus check");
        return;
    };
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no .pkt files under {}", root.display());

    let known = known_failures();
    let mut per_folder: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut unexpected = Vec::new();
    let mut events = 0usize;
    for file in &files {
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        let folder = rel.split('/').next().unwrap_or("").to_string();
        let entry = per_folder.entry(folder).or_default();
        entry.1 += 1;
        match parse_file(file, defines) {
            Ok(script) => {
                entry.0 += 1;
                events += script.events.len();
            }
            Err(e) => {
                if !known.contains_key(&rel) {
                    unexpected.push(e.to_string());
                }
                failures.push(e.to_string());
            }
        }
    }

    let parsed: usize = per_folder.values().map(|v| v.0).sum();
    eprintln!(
        "corpus ({label}): {parsed}/{} scripts parse, {events} events",
        files.len()
    );
    for (folder, (ok, total)) in &per_folder {
        eprintln!("  {folder}: {ok}/{total}");
    }
    for f in &failures {
        eprintln!("  FAIL {f}");
    }
    assert!(
        unexpected.is_empty(),
        "{} corpus scripts failed to parse and are not in corpus-known-failures.txt:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    // Known failures are excused from the baseline; anything else counts.
    let required = BASELINE_FRACTION * files.len() as f64 - known.len() as f64;
    assert!(
        parsed as f64 + 1e-9 >= required,
        "only {parsed} of {} corpus scripts parse (baseline {BASELINE_FRACTION}):\n{}",
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_parses_with_standard_defined() {
    run_corpus(&Defines::standard(), "STANDARD");
}

#[test]
fn corpus_parses_with_freebsd_branches() {
    // The other side of the `#ifdef STANDARD` / `#ifdef FreeBSD` pairs must
    // be valid too, so that switching dialects never hits a syntax error.
    run_corpus(&Defines::new().with("FreeBSD"), "FreeBSD");
}
