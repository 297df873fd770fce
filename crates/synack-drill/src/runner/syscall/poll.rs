//! `poll`: each descriptor's events from synack's readiness, as Linux's
//! `tcp_poll` reports them. A call with nothing ready waits (on the
//! virtual clock) until something is or its timeout passes.

use synack_proto::State;

use crate::ast::{Expr, SyscallEvent};
use crate::runner::expr::{fmt_expr, int_of};
use crate::runner::socket::SockKind;
use crate::runner::{fail, not_run, Res, Runner};

use super::{done, Attempt};

/// `<poll.h>`'s bits (Linux's values).
const POLL_BITS: &[(&str, i64)] = &[
    ("POLLIN", 0x1),
    ("POLLPRI", 0x2),
    ("POLLOUT", 0x4),
    ("POLLERR", 0x8),
    ("POLLHUP", 0x10),
    ("POLLNVAL", 0x20),
    ("POLLRDNORM", 0x40),
    ("POLLRDBAND", 0x80),
    ("POLLWRNORM", 0x100),
    ("POLLWRBAND", 0x200),
    ("POLLRDHUP", 0x2000),
];

/// An event mask written as names from `bits`, `|` and numbers (`poll`'s
/// and `epoll`'s masks alike).
pub(super) fn mask_of(bits: &[(&str, i64)], e: &Expr) -> Option<i64> {
    match e {
        Expr::Int(v) => Some(*v),
        Expr::Symbol(s) => bits.iter().find(|(n, _)| n == s).map(|(_, v)| *v),
        Expr::BitOr(v) => v.iter().try_fold(0, |a, x| Some(a | mask_of(bits, x)?)),
        _ => None,
    }
}

/// The names from `bits` of the bits set in `mask`, for a difference.
pub(super) fn mask_names(bits: &[(&str, i64)], mask: i64) -> String {
    let names: Vec<&str> = bits
        .iter()
        .filter(|(_, v)| mask & v != 0)
        .map(|(n, _)| *n)
        .collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

/// A `struct pollfd` field's expression.
fn field<'e>(e: &'e Expr, name: &str) -> Option<&'e Expr> {
    let Expr::Struct(fields) = e else { return None };
    fields.iter().find_map(|f| match f {
        Expr::Field { lhs, rhs } if matches!(lhs.as_ref(), Expr::Symbol(n) if n == name) => {
            Some(rhs.as_ref())
        }
        _ => None,
    })
}

impl Runner<'_> {
    /// `poll(fds, nfds, timeout_ms)`. `progress` holds when the call began
    /// (microseconds + 1) while it waits.
    pub(super) fn poll(
        &mut self,
        line: u32,
        call: &SyscallEvent,
        progress: &mut usize,
    ) -> Res<Attempt> {
        let Some(Expr::Array(fds)) = call.args.first() else {
            return not_run("poll without a pollfd array");
        };
        let timeout = call.args.get(2).and_then(int_of).unwrap_or(-1);
        if *progress == 0 {
            *progress = self.now as usize + 1;
        }
        let began = (*progress - 1) as u64;
        let mut got = Vec::with_capacity(fds.len());
        for pfd in fds {
            let (Some(fd), Some(events)) = (
                field(pfd, "fd").and_then(int_of),
                field(pfd, "events").and_then(|e| mask_of(POLL_BITS, e)),
            ) else {
                return not_run(format!("poll entry {}", fmt_expr(pfd)));
            };
            got.push((pfd, self.poll_mask(fd)? & (events | 0x8 | 0x10 | 0x20)));
        }
        let ready = got.iter().filter(|(_, m)| *m != 0).count();
        let expired =
            timeout >= 0 && self.now >= began.saturating_add((timeout as u64).saturating_mul(1000));
        if ready == 0 && !expired {
            return Ok(Attempt::Block);
        }
        for (pfd, mask) in got {
            let Some(want) = field(pfd, "revents") else {
                continue;
            };
            let Some(want) = mask_of(POLL_BITS, want) else {
                return not_run(format!("poll revents {}", fmt_expr(want)));
            };
            if want != mask {
                return fail(
                    line,
                    format!("poll revents {}", mask_names(POLL_BITS, want)),
                    format!("poll revents {}", mask_names(POLL_BITS, mask)),
                );
            }
        }
        done(ready as i64)
    }

    /// What `tcp_poll` reports for `fd` before masking with its events:
    /// POLLHUP once closed, POLLIN|POLLRDHUP once the peer's FIN or an error
    /// ended reading, POLLIN and POLLOUT from synack's readiness after the
    /// handshake, POLLERR for an error not yet reported (SO_ERROR, a read or a
    /// write report it once).
    pub(super) fn poll_mask(&mut self, fd: i64) -> Res<i64> {
        let Some(kind) = self.sockets.get(&fd).map(|s| s.kind) else {
            return Ok(0x20);
        };
        let SockKind::Conn(id) = kind else {
            return not_run("poll on a socket that is not connected");
        };
        let Some(stack) = self.stack.as_ref() else {
            return Ok(0);
        };
        let (Some(r), Ok(state)) = (stack.readiness(id), stack.state(id)) else {
            return not_run("poll: the stack reports no readiness");
        };
        let failed = stack.conn_error(id).ok().flatten().is_some();
        let unreported = failed && self.sockets.get(&fd).is_some_and(|s| !s.err_reported);
        let mut m = 0;
        if r.is_closed() || state == State::Closed {
            m |= 0x10;
        }
        let peer_done = failed
            || matches!(
                state,
                State::CloseWait
                    | State::Closing
                    | State::LastAck
                    | State::TimeWait
                    | State::Closed
            );
        if peer_done {
            m |= 0x1 | 0x2000;
        }
        if !matches!(state, State::SynSent | State::SynReceived) || failed {
            if r.is_readable() {
                m |= 0x1;
            }
            if r.is_writable() {
                m |= 0x4;
            }
        }
        if state == State::SynSent && stack.fast_open_deferred(id) {
            // tcp_poll: a Fast Open connect deferred to the first write is
            // writable, so the application writes the data its SYN carries.
            m |= 0x4;
        }
        if unreported {
            m |= 0x8;
        }
        Ok(m)
    }
}
