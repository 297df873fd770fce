//! Socket options that shape what is sent (`TCP_NODELAY`, Nagle, and
//! `TCP_CORK`) and the connection's time limits (`TCP_KEEPINIT`,
//! `TCP_USER_TIMEOUT`, `TCP_SYNCNT`).

use synack_proto::{ConnId, Duration, Instant};

use crate::runner::socket::Socket;
use crate::runner::Runner;

impl Runner<'_> {
    /// `TCP_NODELAY` or `TCP_CORK` set to `v` on a socket (and its
    /// connection, if it has one).
    pub(super) fn set_send_shaping(
        &mut self,
        name: &str,
        v: i64,
        conn: Option<ConnId>,
        ns: &mut Socket,
    ) {
        match name {
            "TCP_NODELAY" => {
                ns.cfg.nagle = v == 0;
                if let Some(id) = conn {
                    let _ = self.stack().set_nodelay(id, !ns.cfg.nagle);
                    // tcp(7): setting it flushes what waits, even while corked.
                    if !ns.cfg.nagle {
                        let _ = self.stack().push(id);
                    }
                }
            }
            "TCP_CORK" => {
                ns.cfg.cork = v != 0;
                if let Some(id) = conn {
                    // A cork an earlier MSG_MORE put in is this one now.
                    ns.more = false;
                    let _ = self.stack().set_cork(id, ns.cfg.cork);
                }
            }
            _ => {}
        }
    }

    /// `TCP_KEEPINIT` set to `v` on a socket (and its connection, if it
    /// has one); `false` for a negative value.
    pub(super) fn set_keepinit(
        &mut self,
        v: i64,
        conn: Option<ConnId>,
        ns: &mut Socket,
        now: Instant,
    ) -> bool {
        // FreeBSD: seconds; 0 falls back to net.inet.tcp.keepinit. On a
        // connection still in its handshake the timer restarts now.
        let Ok(secs) = u64::try_from(v) else {
            return false;
        };
        let t = match secs {
            0 => self.stack_cfg.conn.establish_timeout,
            s => Some(Duration::from_secs(s)),
        };
        ns.cfg.establish_timeout = t;
        if let Some(id) = conn {
            let _ = self.stack().set_establish_timeout(now, id, t);
        }
        true
    }

    /// `TCP_USER_TIMEOUT` (RFC 5482) set to `v` milliseconds on a socket
    /// (and its connection); 0 is none. `false` for a negative value, as
    /// Linux's EINVAL.
    pub(super) fn set_user_timeout(
        &mut self,
        v: i64,
        conn: Option<ConnId>,
        ns: &mut Socket,
    ) -> bool {
        let Ok(ms) = u64::try_from(v) else {
            return false;
        };
        let t = (ms > 0).then(|| Duration::from_millis(ms));
        ns.cfg.user_timeout = t;
        if let Some(id) = conn {
            let _ = self.stack().set_user_timeout(id, t);
        }
        true
    }

    /// `TCP_SYNCNT` set to `v` on a socket (and its connection): Linux takes
    /// 1 to `MAX_TCP_SYNCNT` (127); `false` for any other value (EINVAL).
    pub(super) fn set_syn_count(&mut self, v: i64, conn: Option<ConnId>, ns: &mut Socket) -> bool {
        let Ok(v @ 1..=127) = u32::try_from(v) else {
            return false;
        };
        ns.cfg.syn_retries = v;
        if let Some(id) = conn {
            let _ = self.stack().set_syn_retries(id, v);
        }
        true
    }

    /// `TCP_NOTSENT_LOWAT` set to `v` on a socket (and its connection): as
    /// Linux, 0 falls back to the `tcp_notsent_lowat` sysctl's mark and a
    /// mark of 2^32 - 1 or more is none.
    pub(super) fn set_notsent_lowat(&mut self, v: i64, conn: Option<ConnId>, ns: &mut Socket) {
        ns.notsent_lowat = v;
        let mark = match v {
            0 => self.stack_cfg.conn.notsent_lowat,
            v => super::super::sysctl::lowat_mark(v),
        };
        ns.cfg.notsent_lowat = mark;
        if let Some(id) = conn {
            let _ = self.stack().set_notsent_lowat(id, mark);
        }
    }
}
