//! Command-line parsing and the commands.

use crate::output::{self, Format, Rendering};
use crate::tun::{self, TunArgs};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use synack_proto::{Duration, Keepalive, SynCookies};
use synack_scenarios::{Options, ScenarioError, SCENARIOS};
use synack_trace::Lang;

/// Exit code of bad usage.
const USAGE: u8 = 2;
/// Exit code of a failure.
const FAILURE: u8 = 1;

/// See every segment and every state of a TCP connection, in a simulator.
#[derive(Debug, Parser)]
#[command(name = "synack", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open a connection, exchange a request and a response, close it (client
    /// first), and print the ladder diagram.
    Demo(Common),
    /// Run one lifecycle scenario (see --list) and print its ladder diagram.
    Scenario(ScenarioArgs),
    /// Run packetdrill scripts against synack (or smoltcp) on a virtual
    /// clock: `synack drill [--stack synack|smoltcp] [--mode strict|semantic] [--json] [--jobs N]
    /// [--fail-under RATE] PATH...`; exits 1 if a script fails (see
    /// `synack drill --help`).
    #[command(disable_help_flag = true)]
    Drill(PassThrough),
    /// Talk to real hosts through a TUN device (needs root or a user
    /// namespace): serve, connect, get, demo, bench.
    Tun(TunArgs),
    /// Explain a real capture (pcap or pcapng, - for standard input): every
    /// TCP connection, each endpoint's state, why each segment was sent.
    Explain(crate::explain::ExplainArgs),
}

/// Arguments handed unchanged to a subcommand with its own parser.
#[derive(Debug, Args)]
struct PassThrough {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<String>,
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[derive(Debug, Args)]
struct ScenarioArgs {
    /// List every scenario, one per line: name and description.
    #[arg(long)]
    list: bool,
    /// The scenario to run (e.g. handshake, lost-syn, syn-flood).
    #[arg(value_name = "NAME", required_unless_present = "list")]
    name: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CookiesArg {
    /// Never: a full SYN queue drops new SYNs.
    Off,
    /// Only when the SYN queue is full (Linux tcp_syncookies=1).
    Auto,
    /// For every SYN (Linux tcp_syncookies=2).
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LangArg {
    /// English.
    En,
    /// Chinese (simplified).
    Zh,
}

/// Options shared by every command.
#[derive(Debug, Args)]
struct Common {
    /// Seed of every random decision: the same seed gives the same run.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Probability that a packet is lost (0 to 1).
    #[arg(long, value_name = "P", value_parser = parse_probability, default_value = "0")]
    loss: f64,
    /// One-way delay of the link in milliseconds.
    #[arg(long, value_name = "MS", value_parser = parse_millis, default_value = "10")]
    delay: Duration,
    /// Extra random delay per packet, up to this many milliseconds.
    #[arg(long, value_name = "MS", value_parser = parse_millis, default_value = "0")]
    jitter: Duration,
    /// Probability that a packet is held back and overtaken (0 to 1).
    #[arg(long, value_name = "P", value_parser = parse_probability, default_value = "0")]
    reorder: f64,
    /// Probability that a packet is delivered twice (0 to 1).
    #[arg(long, value_name = "P", value_parser = parse_probability, default_value = "0")]
    duplicate: f64,
    /// Probability that a packet arrives with bytes flipped (0 to 1).
    #[arg(long, value_name = "P", value_parser = parse_probability, default_value = "0")]
    corrupt: f64,
    /// Link and stack MTU in bytes.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(i64::from(synack_scenarios::MIN_MTU)..))]
    mtu: Option<u16>,
    /// A targeted drop, HOST[>HOST]:N|*:FLAGS[@START-END][+DELAY|=ce] with hosts
    /// client and server, e.g. client:2:ACK,!SYN,!FIN (the 2nd pure ACK from
    /// the client) or server:1:SYN,ACK; +DELAY delays instead, =ce sets
    /// Congestion Experienced on an ECN-capable packet. Repeatable; replaces
    /// the scenario's own drop.
    #[arg(long = "drop", value_name = "SPEC")]
    drops: Vec<String>,
    /// Maximum segment lifetime in seconds (TIME_WAIT lasts 2*MSL).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    msl: Option<Duration>,
    /// Keepalive: idle seconds, interval seconds, probe count (default 7200,75,9).
    #[arg(long, value_name = "IDLE,INTERVAL,COUNT", value_parser = parse_keepalive)]
    keepalive: Option<Keepalive>,
    /// SYN cookie policy of the server.
    #[arg(long, value_name = "MODE", value_enum)]
    syn_cookies: Option<CookiesArg>,
    /// The server's listen backlog (accept queue and SYN queue limits).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65535))]
    backlog: Option<u32>,
    /// Show raw 32-bit sequence numbers instead of numbers relative to each ISN.
    #[arg(long)]
    absolute: bool,
    /// Language of the explanations.
    #[arg(long, value_enum, default_value = "en")]
    lang: LangArg,
    /// Output format: ladder diagram, JSON lines, Mermaid, SVG or HTML.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Also write a plot as SVG: tseq (the time-sequence graph) or cwnd
    /// (cwnd, ssthresh, bytes in flight, SRTT, RTO). Repeatable.
    #[arg(long, num_args = 2, value_names = ["tseq|cwnd", "FILE"], action = clap::ArgAction::Append)]
    plot: Vec<String>,
    /// Also write every segment on the wire to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// No colour, even on a terminal (NO_COLOR in the environment does the same).
    #[arg(long)]
    no_color: bool,
}

fn parse_probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("expected a probability between 0 and 1, e.g. 0.05".into()),
    }
}

fn parse_millis(s: &str) -> Result<Duration, String> {
    match s.parse::<u64>() {
        Ok(ms) if ms <= 3_600_000 => Ok(Duration::from_millis(ms)),
        _ => Err("expected whole milliseconds from 0 to 3600000, e.g. 10".into()),
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err("expected seconds greater than 0 and at most 86400, e.g. 30 or 0.5".into()),
    }
}

fn parse_keepalive(s: &str) -> Result<Keepalive, String> {
    let bad =
        || "expected IDLE,INTERVAL,COUNT: seconds, seconds, probes, e.g. 7200,75,9".to_string();
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [idle, interval, count] = parts.as_slice() else {
        return Err(bad());
    };
    let secs = |t: &str| match t.parse::<u64>() {
        Ok(v) if (1..=86_400).contains(&v) => Ok(Duration::from_secs(v)),
        _ => Err(bad()),
    };
    let count = match count.parse::<u32>() {
        Ok(c) if (1..=1000).contains(&c) => c,
        _ => return Err(bad()),
    };
    Ok(Keepalive {
        idle: secs(idle)?,
        interval: secs(interval)?,
        count,
    })
}

impl Common {
    fn options(&self) -> Options {
        Options {
            seed: self.seed,
            delay: self.delay,
            jitter: self.jitter,
            loss: self.loss,
            reorder: self.reorder,
            duplicate: self.duplicate,
            corrupt: self.corrupt,
            mtu: self.mtu,
            drops: self.drops.clone(),
            msl: self.msl,
            keepalive: self.keepalive,
            syn_cookies: self.syn_cookies.map(|c| match c {
                CookiesArg::Off => SynCookies::Off,
                CookiesArg::Auto => SynCookies::WhenFull,
                CookiesArg::Always => SynCookies::Always,
            }),
            backlog: self.backlog.map(|b| b as usize),
            mutation: None,
        }
    }

    fn rendering(&self, title: String) -> Rendering {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Rendering {
            format: self.format,
            absolute: self.absolute,
            lang: match self.lang {
                LangArg::En => Lang::En,
                LangArg::Zh => Lang::Zh,
            },
            color: !self.no_color && !no_color_env && std::io::stdout().is_terminal(),
            title,
        }
    }
}

/// Parse the command line and run; the process's exit code.
pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    match cli.command {
        Command::Demo(common) => run(synack_scenarios::demo, &common, "synack demo".into()),
        Command::Drill(p) => exit(synack_drill::run_cli(p.args)),
        Command::Tun(args) => tun::run(args),
        Command::Explain(a) => crate::explain::run(&a),
        Command::Scenario(args) => {
            if args.list {
                let width = SCENARIOS.iter().map(|s| s.name.len()).max().unwrap_or(0);
                let mut out = String::new();
                for s in SCENARIOS {
                    out.push_str(&format!("{:width$}  {}\n", s.name, s.description));
                }
                return output::print(&out);
            }
            let lang = args.common.rendering(String::new()).lang;
            let said = |text: String| {
                let w = crate::words::words(lang);
                format!("{}: {}", w.error, crate::words::error(lang, &text))
            };
            let Some(name) = args.name else {
                return fail(
                    USAGE,
                    &said(format!("name a scenario; valid scenarios: {}", valid())),
                );
            };
            match synack_scenarios::find(&name) {
                Some(s) => run(s.run, &args.common, format!("synack scenario {name}")),
                None => fail(
                    USAGE,
                    &said(format!(
                        "unknown scenario {name:?}; valid scenarios: {}",
                        valid()
                    )),
                ),
            }
        }
    }
}

fn valid() -> String {
    synack_scenarios::names().join(", ")
}

/// Print one line to stderr and return `code`.
fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::from(code)
}

/// Help and version go to stdout with 0; a usage error becomes one line on
/// stderr with 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(USAGE)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            if let Some(line) = usage_error_zh(&e) {
                return fail(USAGE, &line);
            }
            let text = e.render().to_string();
            let line = text
                .lines()
                .map(str::trim)
                .filter(|l| {
                    !l.is_empty()
                        && !l.starts_with("For more information")
                        && !l.starts_with("Usage:")
                })
                .collect::<Vec<_>>()
                .join(" ");
            fail(USAGE, &format!("{line} (see --help)"))
        }
    }
}

/// Whether the command line asks for Chinese (`--lang zh` or `--lang=zh`),
/// read before clap has parsed it, so that its errors can be said in Chinese.
fn asks_for_chinese() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--lang=zh")
        || args.windows(2).any(|w| w[0] == "--lang" && w[1] == "zh")
}

/// A usage error in Chinese, for the kinds whose parts clap names (an
/// invalid value with the reason synack's parser gave, an unknown
/// argument); `None` for the others, which stay as clap says them.
fn usage_error_zh(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ErrorKind};
    if !asks_for_chinese() {
        return None;
    }
    let arg = e.get(ContextKind::InvalidArg).map(|v| v.to_string())?;
    match e.kind() {
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let value = e
                .get(ContextKind::InvalidValue)
                .map(|v| v.to_string())
                .unwrap_or_default();
            let why = std::error::Error::source(e)
                .map(|s| crate::words::error(Lang::Zh, &s.to_string()))
                .unwrap_or_default();
            Some(format!(
                "错误: {arg} 的值 '{value}' 无效：{why}（见 --help）"
            ))
        }
        ErrorKind::UnknownArgument => Some(format!("错误: 未知的参数 '{arg}'（见 --help）")),
        ErrorKind::MissingRequiredArgument => {
            Some(format!("错误: 缺少必需的参数 {arg}（见 --help）"))
        }
        _ => None,
    }
}

fn run(
    scenario: fn(&Options) -> Result<synack_scenarios::Outcome, ScenarioError>,
    common: &Common,
    title: String,
) -> ExitCode {
    let lang = common.rendering(String::new()).lang;
    let w = crate::words::words(lang);
    // An error, said in the language asked for.
    let said = |text: String| format!("{}: {}", w.error, crate::words::error(lang, &text));
    let opts = common.options();
    if let Err(e) = opts.validate() {
        return fail(USAGE, &said(e.to_string()));
    }
    let plots = match crate::plot::requests(&common.plot) {
        Ok(p) => p,
        Err(e) => return fail(USAGE, &said(e.to_string())),
    };
    // Claim the pcap file's place first, so a bad path is reported before
    // anything runs and nothing partial is left behind.
    let pcap = match &common.pcap {
        Some(path) => match output::PcapTarget::create(path) {
            Ok(t) => Some(t),
            Err(e) => return fail(USAGE, &said(e.to_string())),
        },
        None => None,
    };
    let (outcome, misbehaved) = match scenario(&opts) {
        Ok(o) => (o, false),
        Err(ScenarioError::Misbehaved(o)) => (*o, true),
        Err(e @ (ScenarioError::BadOption { .. } | ScenarioError::BadDrop { .. })) => {
            let e = crate::words::error(lang, &e.to_string());
            return fail(USAGE, &format!("{}: {e}", w.error));
        }
        Err(e) => {
            let e = crate::words::error(lang, &e.to_string());
            return fail(FAILURE, &format!("{}: {e}", w.error));
        }
    };
    if let Some(target) = pcap {
        if let Err(e) = target.finish(&outcome.trace) {
            return fail(FAILURE, &format!("{}: {e}", w.error));
        }
    }
    let rendering = common.rendering(title);
    if let Err(e) = crate::plot::write_all(&plots, &outcome, &rendering) {
        return fail(FAILURE, &said(e));
    }
    let text = output::render(&outcome, &rendering);
    let code = output::print(&text);
    if code != ExitCode::SUCCESS {
        return code;
    }
    if rendering.format != output::Format::Text {
        // The text view says these in its checks; the others on stderr.
        for idle in outcome.idle_rules() {
            eprintln!("{}: {}", w.note, crate::words::check(lang, &idle));
        }
        if outcome.faulty && !misbehaved {
            eprintln!("{}", crate::words::verdict(lang, &outcome));
        }
    }
    if misbehaved {
        let failed: Vec<String> = outcome
            .violations()
            .map(|c| crate::words::check(lang, &c.what))
            .collect();
        let sep = if lang == Lang::Zh { "；" } else { "; " };
        return fail(
            FAILURE,
            &format!("{}: {}: {}", w.error, w.misbehaved, failed.join(sep)),
        );
    }
    ExitCode::SUCCESS
}
