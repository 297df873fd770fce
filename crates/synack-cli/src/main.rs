//! The synack command.
fn main() {}
