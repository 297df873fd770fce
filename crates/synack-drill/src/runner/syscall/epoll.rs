//! `epoll_create`, `epoll_ctl` and `epoll_wait` (epoll(7)) over the same
//! readiness `poll` reports: level-triggered by default; `EPOLLET`
//! reporting a descriptor again only after a wakeup, which Linux gives when
//! an event rises anew or more data arrives (`sk_data_ready`; a writer is
//! woken only after it found no room, `sk_stream_write_space`); and
//! `EPOLLONESHOT` disarming it after one report until `EPOLL_CTL_MOD`.

use std::collections::BTreeMap;

use crate::ast::{Expr, SyscallEvent};
use crate::runner::expr::{fmt_expr, int_of, symbol_of};
use crate::runner::{fail, not_run, Res, Runner};

use super::poll::{mask_names, mask_of};
use super::{done, errno, Attempt};

/// `<sys/epoll.h>`'s event bits (Linux's values; the readiness bits are
/// `poll`'s).
const EPOLL_BITS: &[(&str, i64)] = &[
    ("EPOLLIN", 0x1),
    ("EPOLLPRI", 0x2),
    ("EPOLLOUT", 0x4),
    ("EPOLLERR", 0x8),
    ("EPOLLHUP", 0x10),
    ("EPOLLRDNORM", 0x40),
    ("EPOLLRDBAND", 0x80),
    ("EPOLLWRNORM", 0x100),
    ("EPOLLWRBAND", 0x200),
    ("EPOLLRDHUP", 0x2000),
    ("EPOLLEXCLUSIVE", 1 << 28),
    ("EPOLLWAKEUP", 1 << 29),
    ("EPOLLONESHOT", 1 << 30),
    ("EPOLLET", 1 << 31),
];
const EPOLLONESHOT: i64 = 1 << 30;
const EPOLLET: i64 = 1 << 31;
/// Reported whether asked for or not (epoll_ctl(2)).
const ALWAYS: i64 = 0x8 | 0x10;

/// One descriptor's registration in an epoll instance.
#[derive(Debug, Clone, Copy)]
pub(in crate::runner) struct Interest {
    /// The events asked for, with `EPOLLET` and `EPOLLONESHOT`.
    events: i64,
    /// The `data` the caller registered (its `fd` or `ptr`), given back.
    data: i64,
    /// Edge-triggered: events that rose since the last report.
    pending: i64,
    /// The level last observed, to see events rise.
    seen: i64,
    /// The unread octets last observed, to see data arrive.
    unread: usize,
    /// A one-shot registration that has reported, until `EPOLL_CTL_MOD`.
    disarmed: bool,
}

/// An epoll instance: its registrations by descriptor.
pub(in crate::runner) type Epoll = BTreeMap<i64, Interest>;

/// A `struct epoll_event` field (`events`, or the data as `fd`, `u32`,
/// `u64` or `ptr`).
fn field(e: &Expr, names: &[&str]) -> Option<i64> {
    let Expr::Struct(fields) = e else { return None };
    fields.iter().find_map(|f| match f {
        Expr::Field { lhs, rhs } if matches!(lhs.as_ref(), Expr::Symbol(n) if names.contains(&n.as_str())) => {
            mask_of(EPOLL_BITS, rhs)
        }
        _ => None,
    })
}

const DATA: &[&str] = &["fd", "u32", "u64", "ptr"];

impl Runner<'_> {
    /// `epoll_create(size)` / `epoll_create1(flags)`: a new instance at the
    /// script's descriptor number.
    pub(super) fn epoll_create(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let Some(fd) = int_of(&call.result.value).filter(|fd| *fd >= 0) else {
            return not_run("epoll_create without a descriptor number");
        };
        if call.name == "epoll_create" && call.args.first().and_then(int_of).unwrap_or(1) <= 0 {
            return errno("EINVAL");
        }
        self.epolls.insert(fd, Epoll::new());
        done(fd)
    }

    /// `epoll_ctl(epfd, op, fd, event)`.
    pub(super) fn epoll_ctl(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let epfd = self.fd_arg(call)?;
        let op = call.args.get(1).and_then(symbol_of).unwrap_or("");
        let Some(fd) = call.args.get(2).and_then(int_of) else {
            return not_run("epoll_ctl without a target descriptor");
        };
        let ev = call.args.get(3);
        if !self.epolls.contains_key(&epfd) || !self.sockets.contains_key(&fd) {
            return errno("EBADF");
        }
        let level = self.level(fd);
        let unread = self.unread(fd);
        let Some(ep) = self.epolls.get_mut(&epfd) else {
            return errno("EBADF");
        };
        let registration = |ev: Option<&Expr>| -> Res<Interest> {
            let ev = ev
                .ok_or(())
                .or_else(|_| not_run("epoll_ctl without an event"))?;
            let Some(events) = field(ev, &["events"]) else {
                return not_run(format!("epoll event {}", fmt_expr(ev)));
            };
            let data = field(ev, DATA).unwrap_or(fd);
            // ep_insert / ep_modify poll the file at once: what is ready now
            // is reported by the next wait, edge-triggered or not.
            let now = level & (events | ALWAYS);
            Ok(Interest {
                events,
                data,
                pending: now,
                seen: now,
                unread,
                disarmed: false,
            })
        };
        match op {
            "EPOLL_CTL_ADD" => {
                if ep.contains_key(&fd) {
                    return errno("EEXIST");
                }
                ep.insert(fd, registration(ev)?);
            }
            "EPOLL_CTL_MOD" => {
                if !ep.contains_key(&fd) {
                    return errno("ENOENT");
                }
                ep.insert(fd, registration(ev)?);
            }
            "EPOLL_CTL_DEL" => {
                if ep.remove(&fd).is_none() {
                    return errno("ENOENT");
                }
            }
            other => return not_run(format!("epoll_ctl operation {other}")),
        }
        done(0)
    }

    /// `epoll_wait(epfd, events, maxevents, timeout_ms)`: the ready
    /// registrations, checked against the script's first event. `progress`
    /// holds when the call began (microseconds + 1) while it waits.
    pub(super) fn epoll_wait(
        &mut self,
        line: u32,
        call: &SyscallEvent,
        progress: &mut usize,
    ) -> Res<Attempt> {
        let epfd = self.fd_arg(call)?;
        let max = call.args.get(2).and_then(int_of).unwrap_or(1);
        let timeout = call.args.get(3).and_then(int_of).unwrap_or(-1);
        if max <= 0 {
            return errno("EINVAL");
        }
        let Some(ep) = self.epolls.get(&epfd) else {
            return errno("EBADF");
        };
        if ep
            .keys()
            .any(|fd| self.sockets.get(fd).is_some_and(|s| s.zerocopy))
        {
            // Its EPOLLERR reports zero-copy completions (msg_zerocopy).
            return not_run("kernel zero-copy (completion notices on the error queue)");
        }
        if *progress == 0 {
            *progress = self.now as usize + 1;
        }
        let began = (*progress - 1) as u64;
        self.epoll_observe();
        let ready = self.epoll_ready(epfd, max as usize);
        let expired =
            timeout >= 0 && self.now >= began.saturating_add((timeout as u64).saturating_mul(1000));
        if ready.is_empty() && !expired {
            return Ok(Attempt::Block);
        }
        // Reported: an edge is used up, a one-shot registration disarmed.
        if let Some(ep) = self.epolls.get_mut(&epfd) {
            for (fd, _, _) in &ready {
                if let Some(i) = ep.get_mut(fd) {
                    i.pending = 0;
                    i.disarmed = i.events & EPOLLONESHOT != 0;
                }
            }
        }
        let want = match call.args.get(1) {
            Some(Expr::Array(v)) => v.first(),
            other => other,
        };
        if let (Some(want), Some(&(_, events, data))) = (want, ready.first()) {
            let w_events = field(want, &["events"]);
            let w_data = field(want, DATA);
            if w_events.is_some_and(|w| w != events) || w_data.is_some_and(|w| w != data) {
                return fail(
                    line,
                    format!("epoll_wait event {}", fmt_expr(want)),
                    format!(
                        "epoll_wait event {{events={}, data={data}}}",
                        mask_names(EPOLL_BITS, events)
                    ),
                );
            }
        }
        done(ready.len() as i64)
    }

    /// The ready registrations of instance `epfd`, at most `max`: each
    /// descriptor with its events and data.
    fn epoll_ready(&mut self, epfd: i64, max: usize) -> Vec<(i64, i64, i64)> {
        let Some(ep) = self.epolls.get(&epfd).cloned() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (fd, i) in ep {
            if i.disarmed {
                continue;
            }
            let now = self.level(fd) & (i.events | ALWAYS);
            // ep_send_events polls again: an edge whose event has fallen
            // since is not reported.
            let report = if i.events & EPOLLET != 0 {
                if i.pending != 0 {
                    now
                } else {
                    0
                }
            } else {
                now
            };
            if report != 0 && out.len() < max {
                out.push((fd, report, i.data));
            }
        }
        out
    }

    /// Every edge-triggered registration notes the events that rose since
    /// it last looked (the runner looks after every script line).
    pub(in crate::runner) fn epoll_observe(&mut self) {
        if self.epolls.is_empty() {
            return;
        }
        let fds: Vec<i64> = self
            .epolls
            .values()
            .flat_map(|ep| ep.keys().copied())
            .collect();
        let levels: BTreeMap<i64, (i64, usize)> = fds
            .into_iter()
            .map(|fd| (fd, (self.level(fd), self.unread(fd))))
            .collect();
        for ep in self.epolls.values_mut() {
            for (fd, i) in ep.iter_mut() {
                let (level, unread) = levels.get(fd).copied().unwrap_or((0, 0));
                let now = level & (i.events | ALWAYS);
                i.pending |= now & !i.seen;
                if unread > i.unread {
                    i.pending |= now & 0x1;
                }
                i.seen = now;
                i.unread = unread;
            }
        }
    }

    /// `fd`'s readiness as `poll` reports it (0 when it has none to report).
    fn level(&mut self, fd: i64) -> i64 {
        self.poll_mask(fd).unwrap_or(0)
    }

    /// The octets `fd`'s connection holds unread (0 without one).
    fn unread(&self, fd: i64) -> usize {
        self.conn_of(fd)
            .and_then(|id| self.stack.as_ref()?.recv_ready(id).ok())
            .unwrap_or(0)
    }

    /// `close` on an epoll instance's descriptor; `None` when `fd` is none.
    pub(super) fn epoll_close(&mut self, fd: i64) -> Option<Res<Attempt>> {
        self.epolls.remove(&fd).map(|_| done(0))
    }
}
