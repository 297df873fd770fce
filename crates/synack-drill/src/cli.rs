//! The `drill` command line: its options, its report and its exit status.

use std::io;

use crate::compare::compare_paths;
use crate::report::{run_paths, RunOptions, Totals};
use crate::runner::{Mode, StackKind};

const USAGE: &str = "usage: drill [--stack synack|smoltcp | --compare] [--mode strict|semantic] [--json] [--jobs N] [--fail-under RATE] PATH...";

const HELP: &str = "\
Run packetdrill scripts against synack's core on a virtual clock: each
script plays the remote host, its syscalls map onto synack's socket calls,
its inbound packets are injected and its outbound ones matched. Each script
is passed, failed (the first differing line, expected vs actual), not run
(a feature synack or the runner lacks, named) or a parse error.

Usage: drill [OPTIONS] PATH...

Arguments:
  PATH...              .pkt files, or folders searched for them

Options:
  --stack STACK        the stack the scripts run against: synack (the
                       default) or smoltcp (0.14: its interface, sockets and
                       clock; not run where it has no API for a call)
  --compare            run every script against both stacks and print the
                       counts per folder side by side (with --json: each
                       script's two outcomes, each folder's two counts)
  --mode MODE          strict: compare as packetdrill does; semantic (the
                       default): options as a set, any nonzero window, PSH
                       and buffer sizes ignored
  --json               one JSON object per script, then one with the totals
  --jobs N, -j N       run N scripts at once (default: the CPUs)
  --fail-under RATE    exit 1 only if the share of scripts run that passed is
                       below RATE (0 to 1, or a percentage such as 90%);
                       without it, any failed or unparsable script exits 1
  -h, --help           this text

Exit status: 0 every script run passed (or the pass rate reached
--fail-under); 1 a script failed or did not parse (or the rate fell short),
or the scripts could not be read; 2 bad usage. Scripts not run do not count
against the rate: the report names what each lacks. With --compare the
status is synack's.
";

/// A `--fail-under` value: `0.9`, `90%`.
fn parse_rate(text: &str) -> Option<f64> {
    let (num, scale) = match text.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (text, 1.0),
    };
    let r = num.trim().parse::<f64>().ok()? / scale;
    (0.0..=1.0).contains(&r).then_some(r)
}

/// The exit status of a report: see [`run_cli`].
pub fn exit_status(t: &Totals, fail_under: Option<f64>) -> i32 {
    let run = t.passed + t.failed + t.errors;
    match fail_under {
        None => i32::from(t.failed + t.errors > 0),
        // Nothing run: no rate to reach, unless none was asked for.
        Some(rate) if run == 0 => i32::from(rate > 0.0),
        Some(rate) => i32::from((t.passed as f64) < rate * run as f64),
    }
}

/// The command line, read.
struct Args {
    opts: RunOptions,
    json: bool,
    compare: bool,
    fail_under: Option<f64>,
    paths: Vec<String>,
}

/// What the command line asks, or the exit status to return at once
/// (after `--help`, or 2 after a usage error already reported).
fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, i32> {
    let usage = |msg: String| {
        eprintln!("{msg}\n{USAGE}");
        Err(2)
    };
    let mut a = Args {
        opts: RunOptions::default(),
        json: false,
        compare: false,
        fail_under: None,
        paths: Vec::new(),
    };
    let mut it = args;
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next());
        match flag.as_str() {
            "--json" => a.json = true,
            "--compare" => a.compare = true,
            "--stack" => match value().as_deref().map(StackKind::from_name) {
                Some(Some(k)) if k.available() => a.opts.stack = k,
                Some(Some(k)) => {
                    return usage(format!(
                        "this build cannot run {0}: it was built without the `{0}` feature",
                        k.name()
                    ))
                }
                other => return usage(format!("--stack takes synack or smoltcp, not {other:?}")),
            },
            "--mode" => match value().as_deref() {
                Some("strict") => a.opts.mode = Mode::Strict,
                Some("semantic") => a.opts.mode = Mode::Semantic,
                other => return usage(format!("unknown mode {other:?}")),
            },
            "--jobs" | "-j" => match value().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => a.opts.jobs = n,
                _ => return usage("--jobs needs a positive number".into()),
            },
            "--fail-under" => match value().as_deref().and_then(parse_rate) {
                Some(r) => a.fail_under = Some(r),
                None => {
                    return usage(
                        "--fail-under needs a rate from 0 to 1 or 0% to 100%, e.g. 0.9".into(),
                    )
                }
            },
            "-h" | "--help" => {
                print!("{HELP}");
                return Err(0);
            }
            f if f.starts_with('-') && f.len() > 1 => return usage(format!("unknown option {f}")),
            _ => a.paths.push(arg),
        }
    }
    if a.paths.is_empty() {
        return usage(String::new());
    }
    if a.compare && !StackKind::Smoltcp.available() {
        return usage("--compare needs smoltcp: this build lacks the `smoltcp` feature".into());
    }
    Ok(a)
}

/// The `drill` command: `[--stack synack|smoltcp | --compare] [--mode
/// strict|semantic] [--json] [--jobs N] [--fail-under RATE] PATH...`
/// (arguments after the program name). Prints the report on standard
/// output and returns the exit status: 0 when every script run passed (or,
/// with `--fail-under`, when the share that passed reaches the rate), 1 when
/// a script failed or did not parse (or the rate fell short) or the runner
/// itself failed, 2 for a usage error. With `--compare` the status is
/// synack's.
pub fn run_cli<I, S>(args: I) -> i32
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let a = match parse_args(args.into_iter().map(Into::into)) {
        Ok(a) => a,
        Err(status) => return status,
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let run = if a.compare {
        compare_paths(&a.paths, &a.opts).map(|c| {
            let w = if a.json {
                c.write_json(&mut out)
            } else {
                c.write_text(&mut out)
            };
            (w, c.synack.totals())
        })
    } else {
        run_paths(&a.paths, &a.opts).map(|r| {
            let w = if a.json {
                r.write_json(&mut out)
            } else {
                r.write_text(&mut out)
            };
            (w, r.totals())
        })
    };
    let totals = match run {
        Ok((Ok(()), t)) => t,
        Ok((Err(e), _)) => {
            eprintln!("drill: {e}");
            return 1;
        }
        Err(e) => {
            eprintln!("drill: {e}");
            return 1;
        }
    };
    let status = exit_status(&totals, a.fail_under);
    if status != 0 {
        let run = totals.passed + totals.failed + totals.errors;
        match a.fail_under {
            Some(rate) => eprintln!(
                "drill: {} of {run} scripts run passed, below --fail-under {:.1}%",
                totals.passed,
                rate * 100.0
            ),
            None => eprintln!(
                "drill: {} failed and {} did not parse (of {run} run); --fail-under RATE sets a threshold",
                totals.failed, totals.errors
            ),
        }
    }
    status
}
