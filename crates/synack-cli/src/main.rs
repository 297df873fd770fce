//! The synack command: watch every segment and every state of a TCP
//! connection, run in the simulator (no privileges, no network), or run
//! synack on a TUN device against real hosts.
//!
//! * `synack demo`: a client and a server open a connection, exchange a
//!   request and a response, and close it (client first).
//! * `synack scenario --list`, `synack scenario NAME`: the lifecycle
//!   scenarios, each with its own checks (exit code 1 if the stack misbehaves).
//! * `synack drill PATH...`: packetdrill scripts against synack.
//! * `synack tun serve|connect|get|demo|bench`: synack on a TUN device,
//!   against real hosts (needs root).
//!
//! Exit codes: 0 success, 1 failure (the stack broke an RFC rule, or on a
//! clean link did not do what the scenario requires; the output could not
//! be written; a drill script failed), 2 bad usage. A run whose injected
//! faults led it along another legal path, or kept its story from
//! finishing, exits 0 and says so in its verdict.
#![forbid(unsafe_code)]

mod cli;
mod explain;
mod output;
mod plot;
mod tun;
mod words;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
