//! Running many scripts (in parallel threads) and reporting the results as
//! text or JSON lines.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::runner::{run_script_on, Mode, Outcome, StackKind};
use crate::{parse_file, Defines, ParseError};

/// Settings of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// How strictly packets and results are compared.
    pub mode: Mode,
    /// Scripts run at once (each in its own thread with its own stack).
    pub jobs: usize,
    /// The stack the scripts run against.
    pub stack: StackKind,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            mode: Mode::Semantic,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            stack: StackKind::Synack,
        }
    }
}

/// The result for one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptResult {
    /// The script's path as found.
    pub path: PathBuf,
    /// What happened: an outcome, or the parse error that kept it from running.
    pub result: Result<Outcome, ParseError>,
}

/// Passed / failed / not-run counts (and scripts that did not parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Scripts that passed.
    pub passed: usize,
    /// Scripts where synack differed.
    pub failed: usize,
    /// Scripts needing a feature synack or the runner lacks.
    pub not_run: usize,
    /// Scripts that did not parse.
    pub errors: usize,
}

impl Totals {
    pub(crate) fn add(&mut self, r: &Result<Outcome, ParseError>) {
        match r {
            Ok(Outcome::Passed) => self.passed += 1,
            Ok(Outcome::Failed(_)) => self.failed += 1,
            Ok(Outcome::NotRun(_)) => self.not_run += 1,
            Err(_) => self.errors += 1,
        }
    }

    /// All scripts counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.not_run + self.errors
    }
}

/// The results of a run, in path order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The comparison mode used.
    pub mode: Mode,
    /// The stack the scripts ran against.
    pub stack: StackKind,
    /// One entry per script.
    pub results: Vec<ScriptResult>,
}

/// Why a run could not be carried out at all.
#[derive(Debug)]
pub enum RunError {
    /// A path given does not exist or cannot be read.
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: io::Error,
    },
    /// A worker thread failed.
    Worker(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            RunError::Worker(m) => write!(f, "runner thread failed: {m}"),
        }
    }
}

impl std::error::Error for RunError {}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), RunError> {
    let io = |error| RunError::Io {
        path: path.to_path_buf(),
        error,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                collect(&e, out)?;
            } else if e.extension().is_some_and(|x| x == "pkt") {
                out.push(e);
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Runs one script file against synack.
pub fn run_file(path: &Path, mode: Mode) -> Result<Outcome, ParseError> {
    run_file_on(path, mode, StackKind::Synack)
}

/// Runs one script file against the stack `kind`.
pub fn run_file_on(path: &Path, mode: Mode, kind: StackKind) -> Result<Outcome, ParseError> {
    let script = parse_file(path, &Defines::standard())?;
    Ok(run_script_on(&script, mode, kind))
}

/// Runs every script named by `paths` (files, or folders searched
/// recursively for `.pkt` files) with `opts.jobs` threads.
pub fn run_paths<P: AsRef<Path>>(paths: &[P], opts: &RunOptions) -> Result<Report, RunError> {
    let mut files = Vec::new();
    for p in paths {
        collect(p.as_ref(), &mut files)?;
    }
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<ScriptResult>>> = Mutex::new(vec![None; files.len()]);
    let jobs = opts.jobs.clamp(1, files.len().max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let result = run_file_on(path, opts.mode, opts.stack);
                    if let Ok(mut s) = slots.lock() {
                        s[i] = Some(ScriptResult {
                            path: path.clone(),
                            result,
                        });
                    }
                })
            })
            .collect();
        for h in handles {
            if h.join().is_err() {
                return Err(RunError::Worker("a script run panicked".into()));
            }
        }
        Ok(())
    })?;
    let results = slots
        .into_inner()
        .map_err(|_| RunError::Worker("result table poisoned".into()))?
        .into_iter()
        .flatten()
        .collect();
    Ok(Report {
        mode: opts.mode,
        stack: opts.stack,
        results,
    })
}

impl Report {
    /// Overall totals.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for r in &self.results {
            t.add(&r.result);
        }
        t
    }

    /// Totals per folder (the folder each script is in).
    pub fn folder_totals(&self) -> BTreeMap<String, Totals> {
        self.folder_totals_under(&[])
    }

    /// Totals per folder, each named relative to the first of `roots` it
    /// lies under (as found where it lies under none).
    pub fn folder_totals_under(&self, roots: &[PathBuf]) -> BTreeMap<String, Totals> {
        let mut m: BTreeMap<String, Totals> = BTreeMap::new();
        for r in &self.results {
            let folder = relative(&r.path, roots)
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            m.entry(folder).or_default().add(&r.result);
        }
        m
    }

    /// Whether any script failed to parse.
    pub fn has_errors(&self) -> bool {
        self.results.iter().any(|r| r.result.is_err())
    }

    /// One line per script, then totals per folder and overall.
    pub fn write_text(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "mode: {}", self.mode.name())?;
        if self.stack != StackKind::Synack {
            writeln!(w, "stack: {}", self.stack.name())?;
        }
        for r in &self.results {
            let path = r.path.display();
            match &r.result {
                Ok(Outcome::Passed) => writeln!(w, "PASS     {path}")?,
                Ok(Outcome::Failed(d)) => writeln!(
                    w,
                    "FAIL     {path}:{}: expected {}; {}: {}",
                    d.line,
                    d.expected,
                    self.stack.name(),
                    d.actual
                )?,
                Ok(Outcome::NotRun(reason)) => writeln!(w, "NOT RUN  {path}: {reason}")?,
                Err(e) => writeln!(w, "ERROR    {e}")?,
            }
        }
        writeln!(w)?;
        for (folder, t) in self.folder_totals() {
            writeln!(w, "{}  {folder}", fmt_totals(&t))?;
        }
        writeln!(
            w,
            "{}  total ({} mode)",
            fmt_totals(&self.totals()),
            self.mode.name()
        )
    }

    /// One JSON object per script, then one with the totals.
    pub fn write_json(&self, w: &mut dyn Write) -> io::Result<()> {
        for r in &self.results {
            let mut v = outcome_json(&r.result);
            if let Some(o) = v.as_object_mut() {
                o.insert("path".into(), r.path.display().to_string().into());
                o.insert("mode".into(), self.mode.name().into());
                if self.stack != StackKind::Synack {
                    o.insert("stack".into(), self.stack.name().into());
                }
            }
            writeln!(w, "{v}")?;
        }
        let folders: serde_json::Map<String, serde_json::Value> = self
            .folder_totals()
            .into_iter()
            .map(|(k, t)| (k, totals_json(&t)))
            .collect();
        let mut total = totals_json(&self.totals());
        if let Some(o) = total.as_object_mut() {
            o.insert("mode".into(), self.mode.name().into());
            o.insert("folders".into(), folders.into());
        }
        writeln!(w, "{}", serde_json::json!({ "totals": total }))
    }
}

/// `path` with the first of `roots` it lies under removed.
pub(crate) fn relative<'p>(path: &'p Path, roots: &[PathBuf]) -> &'p Path {
    roots
        .iter()
        .find_map(|r| path.strip_prefix(r).ok())
        .unwrap_or(path)
}

/// A script's outcome as JSON: its name (`passed`, `failed`, `not_run`,
/// `error`) and the line, packets or reason that go with it.
pub(crate) fn outcome_json(r: &Result<Outcome, ParseError>) -> serde_json::Value {
    match r {
        Ok(Outcome::Passed) => serde_json::json!({ "outcome": "passed" }),
        Ok(Outcome::Failed(d)) => serde_json::json!({
            "outcome": "failed", "line": d.line, "expected": d.expected, "actual": d.actual,
        }),
        Ok(Outcome::NotRun(reason)) => {
            serde_json::json!({ "outcome": "not_run", "reason": reason })
        }
        Err(e) => serde_json::json!({
            "outcome": "error", "line": e.line, "reason": e.to_string(),
        }),
    }
}

/// A report's counts as JSON.
pub(crate) fn totals_json(t: &Totals) -> serde_json::Value {
    serde_json::json!({
        "passed": t.passed, "failed": t.failed, "not_run": t.not_run,
        "errors": t.errors, "total": t.total(),
    })
}

pub(crate) fn fmt_totals(t: &Totals) -> String {
    let mut s = format!(
        "{:>4} passed {:>4} failed {:>4} not run",
        t.passed, t.failed, t.not_run
    );
    if t.errors > 0 {
        s.push_str(&format!(" {:>4} parse errors", t.errors));
    }
    s
}
