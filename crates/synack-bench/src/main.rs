//! `synack-bench`: synack side by side with smoltcp and the Linux kernel.
//!
//! Five figures, each measured in one run and printed as a table with the
//! ratio synack / peer:
//!
//! 1. bulk throughput of one connection in memory (MTU 1500 and 9000), beside
//!    smoltcp over an equivalent link and beside the physical bound (the copies
//!    and checksums any stack must do for the same bytes);
//! 2. connection lifecycles per second (handshake, 1-byte request and response,
//!    teardown, TIME_WAIT run out), beside smoltcp and the kernel on 127.0.0.1;
//! 3. heap bytes per idle established connection and the connections that fit
//!    in 4 GiB, beside smoltcp's socket;
//! 4. spoofed SYNs per second absorbed with SYN cookies while interleaved
//!    legitimate handshakes complete;
//! 5. the cost of one connection beside N idle established connections
//!    (bulk and round trips, with and without live keepalive timers), beside
//!    smoltcp.
//!
//! Every measurement is repeated and the median reported with its spread.
//! `--quick` runs in a few seconds; `--json` prints the results as JSON. The
//! exit status is 1 when a correctness condition fails (after the table), 2
//! for bad usage; goals are printed, not enforced.

mod alloc;
mod bulk;
mod cli;
mod cpu;
mod figures;
mod flood;
mod integrity;
mod lifecycle;
mod memory;
mod paths;
mod pattern;
mod relay;
mod report;
mod scale;
mod smol_pair;
mod synack_pair;

use clap::Parser;
use cli::{Args, Figure};
use figures::Plan;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Print a progress line to stderr (not in JSON mode, whose stdout is read by programs).
pub(crate) fn progress(json: bool, msg: &str) {
    if !json {
        eprintln!("  {msg}");
    }
}

/// Run the figures asked for and print them; `Err` when a condition failed.
fn run(args: &Args) -> Result<(), String> {
    let mut plan = Plan::new(args.quick);
    if let Some(n) = args.reps {
        plan.reps = usize::from(n);
    }
    plan.synack_only = args.synack_only;
    plan.cases.clone_from(&args.cases);
    plan.json = args.json;
    let json = args.json;
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful figures");
    }
    let t0 = std::time::Instant::now();
    let mut out = report::Report::default();
    if args.wants(Figure::Bulk) {
        figures::bulk(&plan, &mut out)?;
    }
    if args.wants(Figure::Lifecycle) {
        figures::lifecycle(&plan, &mut out)?;
    }
    if args.wants(Figure::Memory) {
        figures::memory(&plan, &mut out)?;
    }
    if args.wants(Figure::Flood) {
        figures::flood(&plan, &mut out)?;
    }
    if args.wants(Figure::Relays) {
        figures::relays(&plan, &mut out)?;
    }
    if args.wants(Figure::Scale) {
        scale::run(&plan, &mut out)?;
    }
    if args.wants(Figure::Paths) {
        paths::figure(&plan, &mut out)?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    if json {
        println!(
            "{{\n  \"quick\": {},\n  \"reps\": {},\n  \"cpus\": {cpus},\n  \"seconds\": {},\n  \"rows\": {},{}\n  \"failures\": {}\n}}",
            plan.quick,
            plan.reps,
            report::jnum(secs),
            report::json_rows(&out.rows),
            out.json
                .iter()
                .map(|(k, v)| format!("\n  {}: {v},", report::jstr(k)))
                .collect::<String>(),
            report::json_strings(&out.failures)
        );
    } else {
        println!(
            "synack-bench: {} run, {} repetitions, medians (± half the max-min spread), {cpus} CPUs, {secs:.1} s\n",
            if plan.quick { "quick" } else { "full" },
            plan.reps
        );
        print!("{}", report::table(&out.rows));
        for section in &out.sections {
            print!("\n{section}");
        }
        for f in &out.failures {
            println!("\nFAILED: {f}");
        }
    }
    if out.failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} correctness condition(s) failed: {}",
            out.failures.len(),
            out.failures.join("; ")
        ))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synack-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
