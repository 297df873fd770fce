//! Integration tests for synack-wire: golden packets, per-error unit tests,
//! round-trip and mutation properties.
#![allow(missing_docs, unreachable_pub)]

mod common;
mod errors;
mod golden;
mod icmp;
mod props;
