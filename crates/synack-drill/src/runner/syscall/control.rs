//! Descriptor control syscalls: `fcntl` (the `O_NONBLOCK` status flag) and
//! `ioctl` (bytes queued for reading).

use crate::ast::SyscallEvent;
use crate::runner::expr::{has_symbol, int_of, symbol_of};
use crate::runner::{fail, not_run, Res, Runner};

use super::{done, errno, Attempt};

const O_RDWR: i64 = 0x2;
const O_NONBLOCK_FREEBSD: i64 = 0x4;
const O_NONBLOCK_LINUX: i64 = 0x800;

impl Runner<'_> {
    /// `fcntl`: `F_GETFL` and `F_SETFL` with `O_NONBLOCK`.
    pub(super) fn fcntl(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let args = &call.args;
        let fd = self.fd_arg(call)?;
        let cmd = args.get(1).and_then(symbol_of).unwrap_or("");
        let Some(s) = self.sockets.get_mut(&fd) else {
            return errno("EBADF");
        };
        match cmd {
            "F_GETFL" => {
                let nb = if s.nonblocking {
                    if self.freebsd {
                        O_NONBLOCK_FREEBSD
                    } else {
                        O_NONBLOCK_LINUX
                    }
                } else {
                    0
                };
                // The script's own dialect decides the numbers.
                match int_of(&call.result.value) {
                    Some(v) if v & !(O_NONBLOCK_FREEBSD | O_NONBLOCK_LINUX) == O_RDWR => {
                        let want_nb = v & (O_NONBLOCK_FREEBSD | O_NONBLOCK_LINUX) != 0;
                        if want_nb == s.nonblocking {
                            done(v)
                        } else {
                            done(O_RDWR | nb)
                        }
                    }
                    _ => done(O_RDWR | nb),
                }
            }
            "F_SETFL" => {
                s.nonblocking = args.get(2).is_some_and(|a| has_symbol(a, "O_NONBLOCK"));
                done(0)
            }
            other => not_run(format!("fcntl {other}")),
        }
    }

    /// `ioctl`: `SIOCINQ`/`FIONREAD`, the bytes ready to be read.
    pub(super) fn ioctl(&mut self, line: u32, call: &SyscallEvent) -> Res<Attempt> {
        let args = &call.args;
        let fd = self.fd_arg(call)?;
        let cmd = args.get(1).and_then(symbol_of).unwrap_or("");
        if !matches!(cmd, "SIOCINQ" | "FIONREAD") {
            return not_run(format!("ioctl {cmd}"));
        }
        let Some(id) = self.conn_of(fd) else {
            return errno("ENOTCONN");
        };
        let ready = self.stack().recv_ready(id).unwrap_or(0) as i64;
        match args.get(2).and_then(int_of) {
            Some(want) if want != ready => fail(
                line,
                format!("ioctl {cmd} = [{want}]"),
                format!("ioctl {cmd} = [{ready}]"),
            ),
            _ => done(0),
        }
    }
}
