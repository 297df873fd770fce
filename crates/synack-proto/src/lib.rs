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
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod event;
pub mod profile;
pub mod secrets;
pub mod state;
pub mod time;

pub use config::{
    CongestionAlgorithm, ConnConfig, EcnMode, Keepalive, StackConfig, SynCookies, DEFAULT_TTL,
    MAX_BUFFER,
};
pub use error::{ConnError, Error};
pub use event::{
    Cause, ConnId, DropReason, Event, EventKind, FourTuple, ListenerId, SegmentSummary, SendReason,
    TimerKind,
};
pub use profile::Profile;
pub use secrets::{SecretKey, Secrets, SecretsError};
pub use state::State;
pub use synack_wire as wire;
pub use synack_wire::SeqNum;
pub use time::{Duration, Instant};

mod cc;
mod compact;
mod conn;
mod cookie;
mod crypto;
mod ecn;
mod hash;
mod icmp;
mod probe;
mod recovery;
mod rtt;
mod sink;
mod stack;

pub use stack::{BindId, ConnStatus, ListenerStatus, Shutdown, Stack, StackStats, MAX_BOUND};
