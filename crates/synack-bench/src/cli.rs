//! The command line: which figures to run, how long, and how to print them.
//!
//! Bad usage exits with status 2 (clap's own), a failed correctness check
//! with 1, success with 0.

use clap::{Parser, ValueEnum};

/// One figure of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Figure {
    /// Bulk throughput of one connection, beside smoltcp and the bound.
    Bulk,
    /// Connection lifecycles per second, beside smoltcp and the kernel.
    Lifecycle,
    /// Heap bytes per idle established connection.
    Memory,
    /// Spoofed SYNs absorbed with SYN cookies.
    Flood,
    /// Cost of one connection with N idle connections beside it.
    Scale,
    /// Goodput of bulk flows over simulated bottlenecks, beside smoltcp and theory.
    Paths,
    /// Heap bytes per idle relayed connection of a transparent proxy.
    Relays,
}

/// synack measured side by side with smoltcp and the Linux kernel.
#[derive(Debug, Parser)]
#[command(name = "synack-bench", version, about, long_about = None)]
pub(crate) struct Args {
    /// A few seconds in all: smaller counts, one repetition.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Comma-separated subset of the figures (default: all).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub(crate) only: Option<Vec<Figure>>,
    /// Repetitions of each timed measurement (default 5, quick 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) reps: Option<u16>,
    /// Skip the peers and the bound (to profile synack alone).
    #[arg(long)]
    pub(crate) synack_only: bool,
    /// The paths figure's cases whose label holds one of these
    /// `;`-separated strings (e.g. `10 ms, queue 0.25;loss 1e-4;four
    /// flows;published`); default all.
    #[arg(long, value_delimiter = ';', value_name = "LIST")]
    pub(crate) cases: Option<Vec<String>>,
}

impl Args {
    /// Whether `f` is to be run.
    pub(crate) fn wants(&self, f: Figure) -> bool {
        self.only.as_ref().is_none_or(|o| o.contains(&f))
    }
}
