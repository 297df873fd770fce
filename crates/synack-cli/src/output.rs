//! Rendering an outcome in the chosen format, printing it, and the pcap file.

use clap::ValueEnum;
use core::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use synack_scenarios::Outcome;
use synack_trace::{
    render_html, render_jsonl, render_mermaid, render_svg, render_text, write_pcap, HtmlOptions,
    JsonOptions, Lang, MermaidOptions, PcapOptions, SvgOptions, TextOptions, TraceEntry,
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
        Format::Json => render_jsonl(
            &o.trace,
            &hosts,
            &JsonOptions {
                absolute: r.absolute,
                explain: false,
                lang: r.lang,
            },
        ),
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

fn checks_text(o: &Outcome, r: &Rendering) -> String {
    if o.checks.is_empty() {
        return String::new();
    }
    let title = match r.lang {
        Lang::En => "checks",
        Lang::Zh => "检查",
    };
    let mut s = format!("\n{title}\n");
    for c in &o.checks {
        let (mark, color) = if c.passed {
            ("ok  ", "32")
        } else {
            ("FAIL", "1;31")
        };
        if r.color {
            s.push_str(&format!("  \x1b[{color}m{mark}\x1b[0m  {}\n", c.what));
        } else {
            s.push_str(&format!("  {mark}  {}\n", c.what));
        }
    }
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
