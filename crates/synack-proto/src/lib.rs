//! The sans-IO TCP core of synack.
//!
//! The protocol code takes segments, user calls and the current time, and
//! returns segments, events and its next deadline. It never reads a clock,
//! sleeps, spawns or touches a socket: the simulator, the TUN driver, the
//! socket APIs and the CLI all drive a [`Stack`].
//!
//! # Driving a stack
//! After any input (`handle_packet`, `handle_timeout`, a socket call), call
//! [`Stack::poll_transmit`] until it returns `false`, then drain
//! [`Stack::poll_event`], then sleep until [`Stack::poll_timeout`] or the
//! next packet, whichever comes first, and call `handle_timeout(now)` when the
//! deadline passes.
//!
//! # Example: two stacks joined by a wire
//!
//! ```
//! use synack_proto::{Duration, Instant, Stack, StackConfig, State};
//!
//! // Tests repeat runs with the deterministic constructor; real traffic uses
//! // `Stack::new`, whose ISN and cookie keys come from the OS's random source.
//! let mut client = Stack::new_deterministic(StackConfig::default(), 1);
//! let mut server = Stack::new_deterministic(StackConfig::default(), 2);
//! client.add_address("10.0.0.1".parse().unwrap());
//! server.add_address("10.0.0.2".parse().unwrap());
//! let l = server.listen("10.0.0.2:80".parse().unwrap(), 8)?;
//! let mut now = Instant::ZERO;
//! let c = client.connect(now, None, "10.0.0.2:80".parse().unwrap())?;
//! let mut pkt = Vec::new();
//! // SYN, SYN,ACK, ACK: move packets until the wire is quiet.
//! loop {
//!     let mut moved = false;
//!     while client.poll_transmit(now, &mut pkt) { server.handle_packet(now, &pkt); moved = true }
//!     while server.poll_transmit(now, &mut pkt) { client.handle_packet(now, &pkt); moved = true }
//!     if !moved { break }
//! }
//! assert_eq!(client.state(c)?, State::Established);
//! let s = server.accept(l)?;
//! client.close(now, c)?;
//! // Time passes only when the driver says so.
//! now = now + Duration::from_millis(1);
//! client.handle_timeout(now);
//! while client.poll_transmit(now, &mut pkt) { server.handle_packet(now, &pkt) }
//! let mut buf = [0u8; 8];
//! assert_eq!(server.recv(now, s, &mut buf)?, 0); // end of stream: the FIN arrived
//! assert_eq!(server.state(s)?, State::CloseWait);
//! # Ok::<(), synack_proto::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod event;
pub mod fastopen;
pub mod profile;
pub mod rules;
pub mod secrets;
pub mod state;
pub mod time;

pub use config::{
    CongestionAlgorithm, ConnConfig, EcnMode, Keepalive, StackConfig, SynCookies, DEFAULT_TTL,
    MAX_BUFFER,
};
pub use error::{ConnError, Error};
pub use event::{
    Cause, CcPhase, CcReason, ConnId, DropReason, Event, EventKind, FourTuple, ListenerId,
    SegmentSummary, SendReason, TimerKind,
};
pub use fastopen::{
    FastOpenConfig, FastOpenCookie, FastOpenKey, FastOpenKeys, FastOpenMiss, FastOpenOption,
    FastOpenStatus,
};
pub use offload::{Burst, DeviceCaps, Transmitter};
pub use profile::Profile;
pub use secrets::{SecretKey, Secrets, SecretsError};
pub use state::State;
pub use synack_wire as wire;
pub use synack_wire::SeqNum;
pub use time::{Duration, Epoch, Instant};

mod cc;
mod compact;
mod conn;
mod cookie;
mod crypto;
mod ecn;
mod hash;
mod icmp;
mod offload;
mod probe;
mod recovery;
mod rtt;
mod sink;
mod spare;
mod stack;

pub use stack::{
    AnyDestination, BindId, ConnStatus, Decision, IpPrefix, ListenerStatus, PendingSyn,
    PrefixParseError, Readiness, Ready, Shutdown, Stack, StackStats, MAX_BOUND,
};
