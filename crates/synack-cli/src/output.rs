//! Rendering an outcome in the chosen format, printing it, and the pcap file.

use clap::ValueEnum;
use core::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use synack_scenarios::{Check, CheckKind, Outcome, Verdict};
use synack_trace::{
    json_string, render_html, render_jsonl, render_mermaid, render_svg, render_text, write_pcap,
    HtmlOptions, JsonOptions, Lang, MermaidOptions, PcapOptions, SvgOptions, TextOptions,
    TraceEntry,
};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The ladder diagram, with a summary table.
    Text,
    /// JSON lines: one object per event.
    Json,
    /// A Mermaid sequence diagram.
    Mermaid,
    /// A standalone SVG picture.
    Svg,
    /// One self-contained HTML page: the animated ladder, each side's state
    /// diagram, the socket calls, header fields, time-sequence and
    /// congestion-control plots.
    Html,
}

/// How to render.
#[derive(Debug, Clone)]
pub(crate) struct Rendering {
    pub(crate) format: Format,
    pub(crate) absolute: bool,
    pub(crate) lang: Lang,
    pub(crate) color: bool,
    /// The page's title (HTML).
    pub(crate) title: String,
}

/// The outcome in the chosen format (for text: the ladder, the summary
/// table, the listeners as their stack reports them, then the checks).
pub(crate) fn render(o: &Outcome, r: &Rendering) -> String {
    let hosts = o.host_infos();
    match r.format {
        Format::Text => {
            let opts = TextOptions {
                absolute: r.absolute,
                color: r.color,
                lang: r.lang,
                listeners: o.listeners.clone(),
                ..TextOptions::default()
            };
            let mut s = render_text(&o.trace, &hosts, &opts);
            s.push_str(&checks_text(o, r));
            s
        }
        Format::Json => {
            let mut s = render_jsonl(
                &o.trace,
                &hosts,
                &JsonOptions {
                    absolute: r.absolute,
                    explain: false,
                    lang: r.lang,
                },
            );
            s.push_str(&checks_json(o, r));
            s
        }
        Format::Mermaid => render_mermaid(
            &o.trace,
            &hosts,
            &MermaidOptions {
                absolute: r.absolute,
                explain: true,
                lang: r.lang,
            },
        ),
        Format::Svg => render_svg(
            &o.trace,
            &hosts,
            &SvgOptions {
                absolute: r.absolute,
                explain: true,
                lang: r.lang,
            },
        ),
        Format::Html => render_html(
            &o.trace,
            &hosts,
            &HtmlOptions {
                absolute: r.absolute,
                lang: r.lang,
                title: r.title.clone(),
                series: o.series.clone(),
                calls: o.calls.clone(),
            },
        ),
    }
}

/// The checks: on a clean link that held, the scenario's own list as it
/// has always been; with faults or a failure, every check by its kind, the
/// rules that never fired and the verdict.
fn checks_text(o: &Outcome, r: &Rendering) -> String {
    if o.checks.is_empty() && o.rule_checks.is_empty() {
        return String::new();
    }
    let w = crate::words::words(r.lang);
    let paint = |mark: &str, color: &str| {
        if r.color {
            format!("\x1b[{color}m{mark}\x1b[0m")
        } else {
            mark.to_string()
        }
    };
    let line = |s: &mut String, indent: &str, c: &Check| {
        let (mark, color) = match (c.passed, c.kind, o.faulty) {
            (true, CheckKind::Path, true) => (w.same, "32"),
            (false, CheckKind::Path, true) => (w.differs, "33"),
            (false, CheckKind::Story, true) => (w.unmet, "33"),
            (true, _, _) => ("ok  ", "32"),
            (false, _, _) => ("FAIL", "1;31"),
        };
        let what = crate::words::check(r.lang, &c.what);
        // With faults the marks are words of their own: pad them to one width.
        let mark = if o.faulty {
            let pad = 7usize.saturating_sub(synack_trace_width(mark));
            format!("{mark}{}", " ".repeat(pad))
        } else {
            mark.to_string()
        };
        s.push_str(&format!("{indent}{}  {what}\n", paint(&mark, color)));
    };
    let mut s = format!("\n{}\n", w.checks);
    if !o.faulty && o.verdict == Verdict::AsExpected {
        for c in &o.checks {
            line(&mut s, "  ", c);
        }
        return s;
    }
    s.push_str(&format!("  {}\n", w.rules_heading));
    for c in &o.rule_checks {
        line(&mut s, "    ", c);
    }
    let groups = [
        (w.story_heading, CheckKind::Story),
        (w.rule_story_heading, CheckKind::Rule),
        (w.path_heading, CheckKind::Path),
    ];
    for (heading, kind) in groups {
        let of_kind: Vec<&Check> = o.checks.iter().filter(|c| c.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        s.push_str(&format!("  {heading}\n"));
        for c in of_kind {
            line(&mut s, "    ", c);
        }
    }
    for idle in o.idle_rules() {
        s.push_str(&format!(
            "\n{}: {}\n",
            w.note,
            crate::words::check(r.lang, &idle)
        ));
    }
    s.push_str(&format!("\n{}\n", crate::words::verdict(r.lang, o)));
    s
}

/// The lines after the events: each check, each fault rule, the verdict.
/// They share `t_us` (the end of the run), `host` (`null`) and `event`.
fn checks_json(o: &Outcome, r: &Rendering) -> String {
    let end = o.trace.last().map_or(0, |e| e.at.micros());
    let head = |event: &str| format!("{{\"t_us\":{end},\"host\":null,\"event\":\"{event}\"");
    let mut s = String::new();
    for c in o.all_checks() {
        s.push_str(&format!(
            "{},\"kind\":\"{}\",\"passed\":{},\"what\":{}}}\n",
            head("check"),
            c.kind.name(),
            c.passed,
            json_string(&crate::words::check(r.lang, &c.what))
        ));
    }
    for f in &o.rules {
        s.push_str(&format!(
            "{},\"spec\":{},\"description\":{},\"user\":{},\"matched\":{},\"fired\":{},\"not_ect\":{}}}\n",
            head("fault_rule"),
            json_string(&f.spec),
            json_string(&f.description),
            f.user,
            f.matched,
            f.fired,
            f.not_ect
        ));
    }
    let t = &o.tally;
    let unmet = match &o.verdict {
        synack_scenarios::Verdict::Incomplete { unmet } => unmet
            .iter()
            .map(|u| json_string(&crate::words::check(r.lang, u)))
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    s.push_str(&format!(
        "{},\"verdict\":\"{}\",\"faulty\":{},\"lost\":{},\"duplicated\":{},\"reordered\":{},\"corrupted\":{},\"dropped_by_rule\":{},\"delayed_by_rule\":{},\"ce_marked\":{},\"unmet\":[{unmet}],\"text\":{}}}\n",
        head("verdict"),
        o.verdict.name(),
        o.faulty,
        t.lost,
        t.duplicated,
        t.reordered,
        t.corrupted,
        t.dropped_by_rule,
        t.delayed_by_rule,
        t.ce_marked,
        json_string(&crate::words::verdict(r.lang, o))
    ));
    s
}

/// Write to stdout; a closed pipe is not an error worth a message.
pub(crate) fn print(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}

/// Why the pcap file could not be written.
#[derive(Debug)]
pub(crate) struct OutputError {
    path: PathBuf,
    error: io::Error,
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot write pcap file {}: {} (give a file path in a writable directory)",
            self.path.display(),
            self.error
        )
    }
}

impl std::error::Error for OutputError {}

/// A pcap file being written: a temporary file beside the target, renamed
/// over it once complete, removed if anything fails.
pub(crate) struct PcapTarget {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl PcapTarget {
    /// Create the temporary file now (so a bad path fails before the run).
    pub(crate) fn create(path: &Path) -> Result<PcapTarget, OutputError> {
        let err = |error| OutputError {
            path: path.to_path_buf(),
            error,
        };
        if path.is_dir() {
            return Err(err(io::Error::other("it is a directory")));
        }
        let name = path
            .file_name()
            .ok_or_else(|| err(io::Error::other("no file name")))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(err)?;
        Ok(PcapTarget {
            path: path.to_path_buf(),
            tmp,
            file: Some(file),
        })
    }

    /// Write every packet on the wire and move the file into place.
    pub(crate) fn finish(mut self, trace: &[TraceEntry]) -> Result<usize, OutputError> {
        let err = |error| OutputError {
            path: self.path.clone(),
            error,
        };
        let Some(file) = self.file.take() else {
            return Err(err(io::Error::other("already written")));
        };
        let mut w = BufWriter::new(file);
        let n = write_pcap(trace, &mut w, &PcapOptions::default()).map_err(err)?;
        let file = w.into_inner().map_err(|e| err(e.into_error()))?;
        file.sync_all().map_err(err)?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(err)?;
        Ok(n)
    }
}

impl Drop for PcapTarget {
    fn drop(&mut self) {
        // Still holding the file: the run failed; leave nothing behind.
        if self.file.is_some() || self.tmp.exists() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Display width of a mark: CJK characters take two columns.
fn synack_trace_width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 })
        .sum()
}
