//! Fast Open's socket calls (RFC 7413) as Linux has them: a send with
//! `MSG_FASTOPEN` on an unconnected socket connects with the data on the
//! SYN (`tcp_sendmsg_fastopen`), the first write after a deferred
//! `connect` (`TCP_FASTOPEN_CONNECT`) sends the SYN with its data, and
//! while the handshake runs a send waits for it (`sk_stream_wait_connect`).

use std::net::SocketAddr;

use synack_proto::{FastOpenKey, FastOpenKeys, ListenerId, State};

use crate::ast::{Expr, SyscallEvent};
use crate::runner::expr::{int_of, symbol_of};
use crate::runner::socket::{SockKind, Socket};
use crate::runner::{not_run, Res, Runner};

use super::send_flags::SendFlags;
use super::{done, errno, errno_of, Attempt};

/// The most bytes a send hands the stack at once: a SYN carries less than
/// an MSS, and the script's count is input.
const MAX_SYN_SEND: usize = 1 << 16;

/// A send as Fast Open sees it.
pub(super) struct FoSend {
    /// The call's flags.
    pub(super) flags: SendFlags,
    /// The call does not block (`O_NONBLOCK` or `MSG_DONTWAIT`).
    pub(super) nonblocking: bool,
    /// The destination is `AF_UNSPEC` (a disconnect request).
    pub(super) unspec: bool,
    /// A blocked call tried again.
    pub(super) retry: bool,
    /// The buffer is the null pointer.
    pub(super) null: bool,
}

impl Runner<'_> {
    /// A send of `n` bytes on `fd` that Fast Open decides: `Some` with the
    /// call's outcome, `None` to go on as a plain send.
    pub(super) fn fastopen_send(
        &mut self,
        fd: i64,
        n: usize,
        call: &FoSend,
        progress: &mut usize,
    ) -> Res<Option<Attempt>> {
        if self.freebsd {
            return Ok(None);
        }
        let Some(s) = self.sockets.get(&fd).cloned() else {
            return Ok(None);
        };
        let fastopen = call.flags.fastopen;
        // Nothing can be copied for the SYN from a null buffer (EFAULT, and no
        // connection is opened).
        let fresh = matches!(s.kind, SockKind::Fresh);
        let deferred_conn = match s.kind {
            SockKind::Conn(id) => self.stack().fast_open_deferred(id),
            _ => false,
        };
        if call.null && n > 0 && ((fresh && fastopen) || deferred_conn) {
            return errno("EFAULT").map(Some);
        }
        // tcp_sendmsg_fastopen: EOPNOTSUPP with client Fast Open off, or to
        // AF_UNSPEC.
        let refused = !self.stack_cfg.fast_open.client || call.unspec;
        let id = match s.kind {
            SockKind::Fresh if fastopen && refused => return errno("EOPNOTSUPP").map(Some),
            SockKind::Fresh if fastopen => return self.fastopen_connect(fd, n, call, progress),
            SockKind::Conn(id) => id,
            _ => return Ok(None),
        };
        if call.retry {
            return self.wait_connect(id, call, *progress);
        }
        let deferred = self.stack().fast_open_deferred(id);
        if fastopen && refused && !deferred {
            return errno("EOPNOTSUPP").map(Some);
        }
        if deferred {
            // The first write of a deferred connect: its SYN takes what fits.
            let now = self.at();
            let data = vec![0u8; n.min(MAX_SYN_SEND)];
            return match self.stack().send(now, id, &data) {
                Ok(k) => {
                    *progress = k;
                    self.syn_sent(k, call)
                }
                Err(e) => errno(errno_of(e)).map(Some),
            };
        }
        let connecting = self.stack().state(id).is_ok_and(|st| st == State::SynSent);
        match (connecting, fastopen) {
            // __inet_stream_connect: a connect is already under way.
            (true, true) => errno("EALREADY").map(Some),
            (true, false) => self.wait_connect(id, call, *progress),
            // After the handshake MSG_FASTOPEN is a plain send.
            (false, _) => Ok(None),
        }
    }

    /// `MSG_FASTOPEN` on an unconnected socket: connect with the data.
    fn fastopen_connect(
        &mut self,
        fd: i64,
        n: usize,
        call: &FoSend,
        progress: &mut usize,
    ) -> Res<Option<Attempt>> {
        let Some(s) = self.sockets.get(&fd).cloned() else {
            return errno("EBADF").map(Some);
        };
        let remote = SocketAddr::new(self.remote_ip, self.connect_port);
        let cfg = Self::sock_cfg(&s);
        let now = self.at();
        let data = vec![0u8; n.min(MAX_SYN_SEND)];
        match self
            .stack()
            .connect_fast_open(now, s.bound, remote, cfg, Some(&data))
        {
            Ok((id, taken)) => {
                self.adopt_conn(fd, id);
                *progress = taken;
                self.syn_sent(taken, call)
            }
            Err(e) => errno(errno_of(e)).map(Some),
        }
    }

    /// After a SYN went with `taken` bytes: a call that does not block
    /// returns them (EINPROGRESS for none); one that blocks waits for the
    /// handshake and then sends the rest.
    fn syn_sent(&mut self, taken: usize, call: &FoSend) -> Res<Option<Attempt>> {
        if !call.nonblocking {
            return Ok(Some(Attempt::Block));
        }
        if taken > 0 {
            done(taken as i64).map(Some)
        } else {
            errno("EINPROGRESS").map(Some)
        }
    }

    /// A send while the handshake runs (`sk_stream_wait_connect`): it waits
    /// (EAGAIN when it may not); once the connection is up it goes on as a
    /// plain send, and a failed connect is its error.
    fn wait_connect(
        &mut self,
        id: synack_proto::ConnId,
        call: &FoSend,
        progress: usize,
    ) -> Res<Option<Attempt>> {
        let stack = self.stack();
        if stack.conn_error(id).ok().flatten().is_some() {
            return Ok(None);
        }
        if stack.state(id).is_ok_and(|st| st != State::SynSent) {
            return Ok(None);
        }
        if !call.nonblocking {
            Ok(Some(Attempt::Block))
        } else if progress > 0 {
            done(progress as i64).map(Some)
        } else {
            errno("EAGAIN").map(Some)
        }
    }
}

impl Runner<'_> {
    /// `TCP_FASTOPEN` on a socket that is not connected: the Fast Open queue
    /// its listener gets (RFC 7413 5.1 bounds pending Fast Open children);
    /// `false` for a negative length (EINVAL).
    fn fastopen_queue(
        &mut self,
        v: i64,
        listener: Option<synack_proto::ListenerId>,
        ns: &mut Socket,
    ) -> bool {
        let Ok(q) = usize::try_from(v) else {
            return false;
        };
        ns.fastopen_queue = Some(q);
        if let Some(l) = listener {
            let _ = self.stack().set_listener_fast_open(l, q);
        }
        true
    }

    /// `setsockopt` of a Fast Open option (`TCP_FASTOPEN*`): `Some` ends
    /// the call early (an error).
    pub(super) fn fastopen_sockopt(
        &mut self,
        call: &SyscallEvent,
        listener: Option<ListenerId>,
        ns: &mut Socket,
    ) -> Res<Option<Attempt>> {
        let name = call.args.get(2).and_then(symbol_of).unwrap_or("");
        let val = call.args.get(3);
        let conn = matches!(ns.kind, SockKind::Conn(_));
        match name {
            "TCP_FASTOPEN" if !conn => {
                let Some(v) = val.and_then(int_of) else {
                    return not_run("setsockopt TCP_FASTOPEN value");
                };
                if !self.fastopen_queue(v, listener, ns) {
                    return errno("EINVAL").map(Some);
                }
            }
            "TCP_FASTOPEN_CONNECT" => {
                // do_tcp_setsockopt: 0 or 1; EOPNOTSUPP with client Fast Open
                // off; only before connect.
                let v = val.and_then(int_of);
                if !matches!(v, Some(0 | 1)) {
                    return errno("EINVAL").map(Some);
                }
                if !self.stack_cfg.fast_open.client {
                    return errno("EOPNOTSUPP").map(Some);
                }
                if !matches!(ns.kind, SockKind::Fresh) {
                    return errno("EINVAL").map(Some);
                }
                ns.fastopen_connect = v == Some(1);
            }
            "TCP_FASTOPEN_KEY" => {
                // The primary key's 16 bytes, or 32 with a backup after it
                // (tcp_fastopen_reset_cipher); any other length is EINVAL.
                let len = call.args.get(4).and_then(int_of);
                let bytes = match val {
                    Some(Expr::Str(text)) => unescape(text),
                    _ => return not_run("TCP_FASTOPEN_KEY value"),
                };
                let Some(keys) = fastopen_keys(&bytes, len) else {
                    return errno("EINVAL").map(Some);
                };
                ns.fastopen_keys = Some(keys);
                if let Some(l) = listener {
                    let _ = self.stack().set_listener_fast_open_keys(l, Some(keys));
                }
            }
            other => return not_run(format!("Fast Open (setsockopt {other})")),
        }
        Ok(None)
    }
}

/// The keys a `TCP_FASTOPEN_KEY` value of `len` bytes names.
fn fastopen_keys(bytes: &[u8], len: Option<i64>) -> Option<FastOpenKeys> {
    let n = usize::try_from(len?).ok()?;
    let key = |b: &[u8]| -> Option<FastOpenKey> { Some(FastOpenKey(b.try_into().ok()?)) };
    match (n, bytes.len()) {
        (16, 16..) => Some(FastOpenKeys {
            primary: key(&bytes[..16])?,
            backup: None,
        }),
        (32, 32..) => Some(FastOpenKeys {
            primary: key(&bytes[..16])?,
            backup: Some(key(&bytes[16..32])?),
        }),
        _ => None,
    }
}

/// A string literal's bytes: C escapes (`\xHH`, `\\`, `\"`, `\n`, `\t`,
/// `\r`, `\0`) decoded, other characters as their UTF-8.
fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let (byte, used) = match b[i + 1] {
            b'x' => {
                let hex = text.get(i + 2..i + 4).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => (v, 4),
                    Err(_) => (b'x', 2),
                }
            }
            b'n' => (b'\n', 2),
            b't' => (b'\t', 2),
            b'r' => (b'\r', 2),
            b'0' => (0, 2),
            other => (other, 2),
        };
        out.push(byte);
        i += used;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bytes_are_read_from_c_escapes() {
        let b = unescape(r"\xf7\x63\xbf\xa0\x81\x3d\x80\xed\x30\x1d\x64\xcd\x90\x4a\xbc\xce");
        let keys = fastopen_keys(&b, Some(16)).expect("16 bytes");
        assert_eq!(
            keys.primary.linux_words(),
            [0xa0bf63f7, 0xed803d81, 0xcd641d30, 0xcebc4a90]
        );
        assert_eq!(fastopen_keys(&unescape(""), Some(0)), None);
        assert_eq!(fastopen_keys(&unescape(""), Some(3)), None);
        assert_eq!(fastopen_keys(&b, Some(32)), None);
    }
}
