//! The synack runtime: the sans-IO core ([`synack_proto::Stack`]) driven
//! over a real device, with sockets applications can use.
//!
//! * [`device`]: where packets come from: a Linux TUN device
//!   ([`TunDevice`]) or an in-memory pair ([`MemDevice`]) for tests.
//! * [`Runtime`]: a driver thread that owns the device side of a stack,
//!   feeds it packets and the monotonic clock, sleeps until the next
//!   deadline or packet, and wakes the applications; with several device
//!   queues ([`RuntimeConfig::queues`]), one stack and one driver per queue.
//! * Blocking sockets with `std::net`'s shape: [`TcpListener`], [`TcpStream`]
//!   (`Read` + `Write`, timeouts, shutdown, keepalive, status), errors with
//!   the `io::ErrorKind` std's sockets report.
//! * Async sockets for tokio (feature `tokio`): [`tokio::TcpListener`] and
//!   [`tokio::TcpStream`], implementing `AsyncRead` + `AsyncWrite`.
//! * Any-destination listeners ([`AnyListener`], and
//!   [`tokio::AnyListener`]): every address of a set of prefixes, every port
//!   of a range, each stream's `local_addr()` the destination the client
//!   dialled; optionally deciding on each SYN ([`PendingConn`]: accept,
//!   refuse, ignore) before the handshake, as a transparent proxy does.
//! * `forward` (feature `forward`): a transparent TCP forwarder on top of
//!   them, relaying each connection to its real destination.
//! * `test_util` (feature `test-util`, off by default): network namespaces
//!   with TUN links and a minimal HTTP/1.0 responder, for tests, demos and
//!   benchmarks against the kernel's TCP.
//!
//! The `synack tun` command (serve, connect, get, demo, bench, forward) lives in the
//! `synack-cli` crate.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use synack::{Runtime, RuntimeConfig, TcpListener, TunDevice};
//!
//! let dev = TunDevice::open("synack0")?; // then: ip addr add 10.77.0.1/24 dev synack0; ip link set synack0 up
//! let rt = Runtime::new(dev, RuntimeConfig::new(vec!["10.77.0.2".parse().unwrap()]))?;
//! let listener = TcpListener::bind(&rt, "10.77.0.2:7")?;
//! let (mut s, _) = listener.accept()?;
//! let mut buf = [0; 1024];
//! let n = s.read(&mut buf)?;
//! s.write_all(&buf[..n])?;
//! # Ok::<(), std::io::Error>(())
//! ```

mod any;
#[cfg(feature = "tokio")]
mod any_tokio;
pub mod blocking;
pub mod device;
pub mod error;
#[cfg(feature = "forward")]
pub mod forward;
mod listeners;
mod multi;
mod pcap;
mod runtime;
mod socket;
mod sys;
#[cfg(feature = "test-util")]
pub mod test_util;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use any::{AnyListenOptions, AnyListener, PendingConn};
pub use blocking::{TcpListener, TcpStream};
pub use device::{Device, MemDevice, Received, TunDevice, TunOptions};
pub use error::to_io;
pub use multi::Runtime;
pub use runtime::{Direction, EventHook, Impairment, PacketHook, RuntimeConfig};
pub use socket::{ConnectOptions, ListenOptions, DEFAULT_BACKLOG, DEFAULT_FASTOPEN_QUEUE};
pub use synack_proto as proto;
pub use synack_proto::{
    AnyDestination, ConnConfig, ConnStatus, Decision, FastOpenCookie, FastOpenMiss, FastOpenStatus,
    IpPrefix, Keepalive, StackConfig, State,
};
pub use sys::euid;

/// The README's Rust examples, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
