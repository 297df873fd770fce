//! `synack explain FILE`: every TCP connection of a real capture, each
//! endpoint's state as it unfolds, and why each segment was sent, drawn
//! by the same views as `synack demo`.

use clap::{Args, ValueEnum};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use synack_capture::{
    capture_point_text, explain_stream, listener_json, listeners_text, summary_json, summary_text,
    totals_json, totals_text, Config, Finished, Record,
};
use synack_trace::{
    inferred_calls, render_html, render_jsonl, render_svg, render_text, HtmlOptions, JsonOptions,
    Lang, Series, SvgOptions, TextOptions,
};

/// Output format of `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExplainFormat {
    /// A ladder diagram per connection, with its summary.
    Text,
    /// JSON lines: the events (as `synack demo --format json`), then a
    /// `connection`, `listener` and `capture` object.
    Json,
    /// A standalone SVG picture of one connection (--conn N, the first by default).
    Svg,
    /// A self-contained HTML page of one connection (--conn N, the first by
    /// default): the animated ladder, each endpoint's state diagram, the
    /// socket calls the state changes imply, header fields, the
    /// time-sequence graph.
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExplainLang {
    /// English.
    En,
    /// Chinese (simplified).
    Zh,
}

/// Arguments of `synack explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The capture: a pcap or pcapng file, or - for standard input
    /// (`tcpdump -w - | synack explain -`).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Only connection N (numbered from 1 in the order they appear).
    #[arg(long, value_name = "N", conflicts_with = "port")]
    conn: Option<u64>,
    /// Only connections with port P at either end.
    #[arg(long, value_name = "P")]
    port: Option<u16>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: ExplainFormat,
    /// Language of the explanations.
    #[arg(long, value_enum, default_value = "en")]
    lang: ExplainLang,
    /// Show raw 32-bit sequence numbers instead of numbers relative to each ISN.
    #[arg(long)]
    absolute: bool,
    /// Only the summaries and counts, no ladder (fast, for large captures).
    #[arg(long)]
    summary: bool,
    /// Connections tracked at once; the longest idle are evicted beyond it.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_conns: usize,
    /// Events kept per connection for the ladder; beyond, they are only counted.
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    max_events: usize,
    /// No colour, even on a terminal (NO_COLOR in the environment does the same).
    #[arg(long)]
    no_color: bool,
}

struct Out<'a> {
    args: &'a ExplainArgs,
    lang: Lang,
    color: bool,
    w: BufWriter<io::StdoutLock<'static>>,
    svg_done: bool,
    failed: Option<io::Error>,
}

impl Out<'_> {
    fn selected(&self, f: &Finished) -> bool {
        let s = &f.summary;
        match (self.args.conn, self.args.port) {
            (Some(n), _) => s.id == n,
            (_, Some(p)) => s.ends.iter().any(|e| e.port() == p),
            _ => true,
        }
    }

    fn write(&mut self, text: &str) {
        if self.failed.is_none() {
            if let Err(e) = self.w.write_all(text.as_bytes()) {
                self.failed = Some(e);
            }
        }
    }

    fn conn(&mut self, f: Finished) {
        if !self.selected(&f) {
            return;
        }
        let a = self.args;
        let s = &f.summary;
        match a.format {
            ExplainFormat::Text => {
                let mut t = String::new();
                if let (Some(tr), false) = (&f.trace, a.summary) {
                    t.push('\n');
                    t.push_str(&render_text(
                        &tr.entries,
                        &tr.hosts(),
                        &TextOptions {
                            absolute: a.absolute,
                            color: self.color,
                            lang: self.lang,
                            summary: false,
                            ..TextOptions::default()
                        },
                    ));
                    if tr.dropped > 0 {
                        t.push_str(&format!(
                            "  ({} more events not drawn: --max-events)\n",
                            tr.dropped
                        ));
                    }
                }
                t.push('\n');
                t.push_str(&summary_text(s, self.lang));
                self.write(&t);
            }
            ExplainFormat::Json => {
                let mut t = String::new();
                if let (Some(tr), false) = (&f.trace, a.summary) {
                    t.push_str(&render_jsonl(
                        &tr.entries,
                        &tr.hosts(),
                        &JsonOptions {
                            absolute: a.absolute,
                            explain: true,
                            lang: self.lang,
                        },
                    ));
                }
                t.push_str(&summary_json(s));
                t.push('\n');
                self.write(&t);
            }
            ExplainFormat::Svg | ExplainFormat::Html => {
                if self.svg_done {
                    return;
                }
                if let Some(tr) = &f.trace {
                    self.svg_done = true;
                    let picture = if a.format == ExplainFormat::Svg {
                        render_svg(
                            &tr.entries,
                            &tr.hosts(),
                            &SvgOptions {
                                absolute: a.absolute,
                                explain: true,
                                lang: self.lang,
                            },
                        )
                    } else {
                        render_html(
                            &tr.entries,
                            &tr.hosts(),
                            &HtmlOptions {
                                absolute: a.absolute,
                                lang: self.lang,
                                title: format!(
                                    "synack explain {}, connection {}",
                                    a.file.display(),
                                    s.id
                                ),
                                series: Series::new(),
                                calls: inferred_calls(&tr.entries),
                            },
                        )
                    };
                    self.write(&picture);
                }
            }
        }
        if !matches!(a.format, ExplainFormat::Svg | ExplainFormat::Html) {
            let _ = self.w.flush();
        }
    }
}

fn open(path: &PathBuf) -> io::Result<Box<dyn Read>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(io::stdin().lock()))
    } else {
        // The capture reader buffers by itself.
        Ok(Box::new(File::open(path)?))
    }
}

/// Run `synack explain`; the process's exit code.
pub(crate) fn run(args: &ExplainArgs) -> ExitCode {
    let lang = match args.lang {
        ExplainLang::En => Lang::En,
        ExplainLang::Zh => Lang::Zh,
    };
    // An error, said in the language asked for.
    let say = |text: String| {
        let w = crate::words::words(lang);
        eprintln!("{}: {}", w.error, crate::words::error(lang, &text));
    };
    let input = match open(&args.file) {
        Ok(r) => r,
        Err(e) => {
            say(format!("cannot open {}: {e}", args.file.display()));
            return ExitCode::from(2);
        }
    };
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let mut out = Out {
        args,
        lang,
        color: !args.no_color && !no_color_env && io::stdout().is_terminal(),
        w: BufWriter::new(io::stdout().lock()),
        svg_done: false,
        failed: None,
    };
    // An SVG or HTML page is one picture: connection --conn N, or else the first one.
    let record = match (args.format, args.summary, args.conn, args.port) {
        (_, _, Some(n), _) => Record::Conn(n),
        (ExplainFormat::Svg | ExplainFormat::Html, _, None, None) => Record::Conn(1),
        (_, true, None, _) => Record::None,
        (_, false, None, Some(p)) => Record::Port(p),
        _ => Record::All,
    };
    let cfg = Config {
        max_conns: args.max_conns.max(1),
        max_events: args.max_events,
        record,
        ..Config::default()
    };
    if args.format == ExplainFormat::Text {
        out.write(capture_point_text(lang));
    }
    let (listeners, totals, err) = explain_stream(input, cfg, &mut |f| out.conn(f));
    match args.format {
        ExplainFormat::Text => {
            let ls: Vec<_> = listeners
                .into_iter()
                .filter(|l| {
                    args.port
                        .is_none_or(|p| l.addr.is_some_and(|a| a.port() == p))
                })
                .collect();
            let mut t = String::from("\n");
            t.push_str(&listeners_text(&ls, lang));
            t.push('\n');
            t.push_str(&totals_text(&totals, lang));
            out.write(&t);
        }
        ExplainFormat::Json => {
            let mut t = String::new();
            for l in &listeners {
                t.push_str(&listener_json(l));
                t.push('\n');
            }
            t.push_str(&totals_json(&totals));
            t.push('\n');
            out.write(&t);
        }
        ExplainFormat::Svg | ExplainFormat::Html => {
            if !out.svg_done {
                say("no connection to draw (see --conn)".into());
                return ExitCode::from(1);
            }
        }
    }
    let _ = out.w.flush();
    if let Some(e) = out.failed {
        if e.kind() != io::ErrorKind::BrokenPipe {
            say(format!("cannot write the output: {e}"));
            return ExitCode::from(1);
        }
    }
    if let Some(e) = err {
        say(e.to_string());
        return ExitCode::from(1);
    }
    if totals.reader.truncated {
        eprintln!(
            "{}",
            if lang == Lang::Zh {
                "警告：抓包文件在一条记录中间结束（被截断）；之前的内容都已解释"
            } else {
                "warning: the capture ends in the middle of a record (truncated); everything before it was explained"
            }
        );
    }
    ExitCode::SUCCESS
}
