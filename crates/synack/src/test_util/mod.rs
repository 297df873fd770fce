//! Helpers for tests, demos and benchmarks that run synack against the
//! kernel's TCP (feature `test-util`, off by default; not part of the
//! runtime's API proper):
//!
//! * [`netns`]: network namespaces with a TUN link to a synack runtime,
//!   removed on drop.
//! * [`http`]: a minimal HTTP/1.0 responder and client.
//!
//! synack's interop tests and examples use them, and so does the `synack
//! tun` command (its `demo`, `bench`, `serve http` and `get`).

pub mod http;
pub mod netns;
