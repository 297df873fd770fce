//! `sendmsg` and `recvmsg`: the message header's iovec read as one byte
//! count, and `recvmsg`'s `TCP_CM_INQ` control message (`TCP_INQ`).

use synack_proto::State;

use crate::ast::{Expr, SyscallEvent};
use crate::runner::expr::{has_symbol, int_of, symbol_of};
use crate::runner::{fail, not_run, Res, Runner};

use super::{Attempt, SysRet};

impl Runner<'_> {
    /// `sendmsg(fd, msghdr, flags)`: the iovec's bytes, as one send.
    pub(super) fn sendmsg(
        &mut self,
        call: &SyscallEvent,
        progress: &mut usize,
        retry: bool,
    ) -> Res<Attempt> {
        let fd = self.fd_arg(call)?;
        let msg = Msghdr::read(call.args.get(1))?;
        if !msg.control.is_empty() {
            return not_run("sendmsg with control messages");
        }
        let how = super::io::SendCall {
            retry,
            unspec: false,
        };
        self.write_n(fd, msg.total, call.args.get(2), false, progress, how)
    }

    /// `recvmsg(fd, msghdr, flags)`: up to the iovec's bytes; with `TCP_INQ`
    /// on, the `TCP_CM_INQ` control message says how many bytes are left to
    /// read (1 at end of stream with none left, as Linux says it).
    pub(super) fn recvmsg(&mut self, line: u32, call: &SyscallEvent) -> Res<Attempt> {
        let fd = self.fd_arg(call)?;
        if call
            .args
            .get(2)
            .is_some_and(|f| has_symbol(f, "MSG_ERRQUEUE"))
        {
            return not_run("kernel zero-copy (completion notices on the error queue)");
        }
        let msg = Msghdr::read(call.args.get(1))?;
        let mut want_inq = None;
        for c in &msg.control {
            match c {
                Cmsg { level, kind, data } if level == "SOL_TCP" && kind == "TCP_CM_INQ" => {
                    want_inq = Some(*data);
                }
                Cmsg { level, kind, .. } => {
                    return not_run(format!("recvmsg control message {level} {kind}"))
                }
            }
        }
        let r = self.read_n(fd, msg.total, call.args.get(2), false)?;
        let (Attempt::Done(SysRet::Value(_)), Some(want)) = (&r, want_inq) else {
            return Ok(r);
        };
        let inq_on = self.sockets.get(&fd).is_some_and(|s| s.inq);
        let got = match self.conn_of(fd) {
            Some(id) if inq_on => {
                let stack = self.stack();
                let ready = stack.recv_ready(id).unwrap_or(0) as i64;
                let fin = matches!(
                    stack.state(id),
                    Ok(State::CloseWait | State::LastAck | State::Closing | State::TimeWait)
                );
                Some(if ready == 0 && fin { 1 } else { ready })
            }
            _ => None,
        };
        if got != Some(want) {
            let shown = got.map_or("no TCP_CM_INQ message".to_string(), |g| {
                format!("TCP_CM_INQ {g}")
            });
            return fail(line, format!("recvmsg TCP_CM_INQ {want}"), shown);
        }
        Ok(r)
    }
}

/// One control message as a script writes it.
struct Cmsg {
    level: String,
    kind: String,
    data: i64,
}

/// What the runner reads of a `struct msghdr`.
struct Msghdr {
    /// The iovec's total length.
    total: usize,
    control: Vec<Cmsg>,
}

impl Msghdr {
    fn read(e: Option<&Expr>) -> Res<Msghdr> {
        let Some(Expr::Struct(fields)) = e else {
            return not_run("a msghdr the runner cannot read");
        };
        let mut total = 0usize;
        let mut control = Vec::new();
        for f in fields {
            let Expr::Field { lhs, rhs } = f else {
                return not_run("a msghdr the runner cannot read");
            };
            let name = match lhs.as_ref() {
                Expr::Symbol(n) => n.as_str(),
                Expr::Call { name, .. } => name.as_str(),
                _ => return not_run("a msghdr the runner cannot read"),
            };
            match (name, rhs.as_ref()) {
                ("msg_name" | "msg_flags", _) => {}
                ("msg_iov", Expr::Array(iovs)) => {
                    for iov in iovs {
                        // `{..., LEN}`: the base is the runner's buffer.
                        let len = match iov {
                            Expr::Struct(v) => v.last().and_then(int_of),
                            _ => None,
                        };
                        let Some(len) = len.and_then(|l| usize::try_from(l).ok()) else {
                            return not_run("an iovec the runner cannot read");
                        };
                        total = total.saturating_add(len);
                    }
                }
                ("msg_control", Expr::Array(msgs)) => {
                    for m in msgs {
                        control.push(cmsg(m)?);
                    }
                }
                (other, _) => return not_run(format!("msghdr field {other}")),
            }
        }
        Ok(Msghdr { total, control })
    }
}

/// `{cmsg_level=L, cmsg_type=T, cmsg_data=N}`.
fn cmsg(e: &Expr) -> Res<Cmsg> {
    let Expr::Struct(fields) = e else {
        return not_run("a control message the runner cannot read");
    };
    let (mut level, mut kind, mut data) = (None, None, None);
    for f in fields {
        if let Expr::Field { lhs, rhs } = f {
            match symbol_of(lhs) {
                Some("cmsg_level") => level = symbol_of(rhs).map(str::to_string),
                Some("cmsg_type") => kind = symbol_of(rhs).map(str::to_string),
                Some("cmsg_data") => data = int_of(rhs),
                _ => {}
            }
        }
    }
    match (level, kind, data) {
        (Some(level), Some(kind), Some(data)) => Ok(Cmsg { level, kind, data }),
        _ => not_run("a control message the runner cannot read"),
    }
}
