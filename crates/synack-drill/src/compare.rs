//! Two stacks side by side: every script run against synack and against
//! smoltcp, the counts per folder in two columns (`drill --compare`).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::report::{
    outcome_json, relative, run_paths, totals_json, Report, RunError, RunOptions, Totals,
};
use crate::runner::{Mode, StackKind};

/// The same scripts run against synack and against smoltcp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The comparison mode used for both.
    pub mode: Mode,
    /// The folders given, stripped from the front of the names shown.
    pub roots: Vec<PathBuf>,
    /// synack's results.
    pub synack: Report,
    /// smoltcp's results, script for script.
    pub smoltcp: Report,
}

/// Counts for one folder: synack's and smoltcp's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FolderPair {
    /// synack's counts.
    pub synack: Totals,
    /// smoltcp's counts.
    pub smoltcp: Totals,
}

/// Runs every script named by `paths` against synack, then against smoltcp
/// (`opts.stack` is ignored). smoltcp's column is all "not run" in a build
/// without the `smoltcp` feature.
pub fn compare_paths<P: AsRef<Path>>(
    paths: &[P],
    opts: &RunOptions,
) -> Result<Comparison, RunError> {
    let on = |stack| run_paths(paths, &RunOptions { stack, ..*opts });
    Ok(Comparison {
        mode: opts.mode,
        roots: paths
            .iter()
            .map(|p| p.as_ref().to_path_buf())
            .filter(|p| p.is_dir())
            .collect(),
        synack: on(StackKind::Synack)?,
        smoltcp: on(StackKind::Smoltcp)?,
    })
}

impl Comparison {
    /// Counts per folder (relative to the roots), for both stacks.
    pub fn folders(&self) -> BTreeMap<String, FolderPair> {
        let mut m: BTreeMap<String, FolderPair> = BTreeMap::new();
        for (folder, t) in self.synack.folder_totals_under(&self.roots) {
            m.entry(folder).or_default().synack = t;
        }
        for (folder, t) in self.smoltcp.folder_totals_under(&self.roots) {
            m.entry(folder).or_default().smoltcp = t;
        }
        m
    }

    /// A table: a row per folder, synack's counts then smoltcp's, then the
    /// totals.
    pub fn write_text(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w, "mode: {}", self.mode.name())?;
        writeln!(
            w,
            "{:^22}   {:^22}",
            StackKind::Synack.name(),
            StackKind::Smoltcp.name()
        )?;
        let head = "passed failed not run";
        writeln!(w, "{head:>22}   {head:>22}  folder")?;
        for (folder, p) in self.folders() {
            writeln!(w, "{}   {}  {folder}", cells(&p.synack), cells(&p.smoltcp))?;
        }
        writeln!(
            w,
            "{}   {}  total ({} mode)",
            cells(&self.synack.totals()),
            cells(&self.smoltcp.totals()),
            self.mode.name()
        )
    }

    /// One JSON object per script (each stack's outcome), one per folder
    /// (each stack's counts), then one with the totals.
    pub fn write_json(&self, w: &mut dyn Write) -> io::Result<()> {
        let mode = self.mode.name();
        for (a, b) in self.synack.results.iter().zip(&self.smoltcp.results) {
            let v = serde_json::json!({
                "path": relative(&a.path, &self.roots).display().to_string(),
                "mode": mode,
                "synack": outcome_json(&a.result),
                "smoltcp": outcome_json(&b.result),
            });
            writeln!(w, "{v}")?;
        }
        for (folder, p) in self.folders() {
            let v = serde_json::json!({
                "folder": folder, "mode": mode,
                "synack": totals_json(&p.synack), "smoltcp": totals_json(&p.smoltcp),
            });
            writeln!(w, "{v}")?;
        }
        let total = serde_json::json!({ "totals": {
            "mode": mode,
            "synack": totals_json(&self.synack.totals()),
            "smoltcp": totals_json(&self.smoltcp.totals()),
        }});
        writeln!(w, "{total}")
    }
}

/// One stack's three counts (parse errors count as failures here: the
/// report of each stack names them).
fn cells(t: &Totals) -> String {
    format!(
        "{:>6} {:>6} {:>8}",
        t.passed,
        t.failed + t.errors,
        t.not_run
    )
}
