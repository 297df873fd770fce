//! The application's socket calls, for the lane beside each lifeline that
//! shows which call caused which state.
//!
//! A driver that runs the application (the scenarios' world) records the
//! calls as they are made; for a capture, where no call is seen,
//! [`inferred_calls`] names the call each state change's cause implies.

use synack_proto::{Cause, EventKind, Instant};
use synack_sim::{HostId, TraceEntry, TraceKind};

/// A socket call an application made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Call {
    /// `listen()`: passive OPEN (RFC 9293 3.10.1).
    Listen,
    /// `connect()`: active OPEN (RFC 9293 3.10.1).
    Connect,
    /// `accept()` returned a connection the listener completed.
    Accept,
    /// `send()` queued this many bytes (RFC 9293 3.10.2).
    Send(usize),
    /// `recv()` returned this many bytes; 0 is the end of the stream (RFC 9293 3.10.3).
    Recv(usize),
    /// `shutdown(SHUT_WR)`: FIN after the data, keep reading.
    Shutdown,
    /// `close()` (RFC 9293 3.10.4).
    Close,
    /// `abort()` or `close()` with SO_LINGER 0: RST (RFC 9293 3.10.5).
    Abort,
}

impl Call {
    /// The call as a program writes it: `connect()`, `send(1200)`.
    pub fn label(self) -> String {
        match self {
            Call::Listen => "listen()".into(),
            Call::Connect => "connect()".into(),
            Call::Accept => "accept()".into(),
            Call::Send(n) => format!("send({n})"),
            Call::Recv(0) => "recv()=0 EOF".into(),
            Call::Recv(n) => format!("recv()={n}"),
            Call::Shutdown => "shutdown(WR)".into(),
            Call::Close => "close()".into(),
            Call::Abort => "abort()".into(),
        }
    }

    /// Whether this call causes a state change with `cause` (so the lane
    /// draws it beside that change).
    pub fn causes(self, cause: Cause) -> bool {
        matches!(
            (self, cause),
            (Call::Listen, Cause::Listen)
                | (Call::Connect, Cause::Connect)
                | (Call::Shutdown | Call::Close, Cause::Close)
                | (Call::Abort, Cause::Abort)
        )
    }
}

/// One call: when, by which host, and whether it was seen or only inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketCall {
    /// When the application made it.
    pub at: Instant,
    /// Which host's application.
    pub host: HostId,
    /// The call.
    pub call: Call,
    /// Inferred from a state change's cause, not seen.
    pub inferred: bool,
}

/// The calls a trace's state changes imply: `connect()` for an active open,
/// `listen()`, `close()` and `abort()`; each marked inferred.
pub fn inferred_calls(entries: &[TraceEntry]) -> Vec<SocketCall> {
    let mut out = Vec::new();
    for e in entries {
        let TraceKind::Stack(ev) = &e.kind else {
            continue;
        };
        let EventKind::StateChanged { cause, .. } = &ev.kind else {
            continue;
        };
        let call = match cause {
            Cause::Connect => Call::Connect,
            Cause::Listen => Call::Listen,
            Cause::Close => Call::Close,
            Cause::Abort => Call::Abort,
            _ => continue,
        };
        out.push(SocketCall {
            at: e.at,
            host: e.host,
            call,
            inferred: true,
        });
    }
    out
}
