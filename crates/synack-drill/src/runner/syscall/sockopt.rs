//! `setsockopt` and `getsockopt`: socket, TCP and IP options mapped onto a
//! socket's synack settings (and onto its live connection, if any).

use synack_proto::{ConnId, Duration, Instant, State};

use crate::ast::{Expr, SyscallEvent};
use crate::runner::expr::{fmt_expr, int_of, struct_field, symbol_of, tos_of};
use crate::runner::socket::{SockKind, Socket};
use crate::runner::{fail, not_run, Mode, Res, Runner};

use super::{done, errno, Attempt, SysRet};

impl Runner<'_> {
    /// `setsockopt`: the option's value into the socket's settings, and onto
    /// its connection if it has one.
    pub(super) fn setsockopt(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let fd = self.fd_arg(call)?;
        let level = symbol_arg(call, 1);
        let name = symbol_arg(call, 2);
        let val = call.args.get(3);
        let int = val.and_then(int_of);
        let now = self.at();
        let Some(s) = self.sockets.get(&fd).cloned() else {
            return errno("EBADF");
        };
        let (conn, listener) = match s.kind {
            SockKind::Conn(id) => (Some(id), None),
            SockKind::Listener(l) => (None, Some(l)),
            SockKind::Fresh => (None, None),
        };
        let live = !matches!(s.kind, SockKind::Fresh);
        let mut ns = s.clone();
        let need =
            |v: Option<i64>| v.map_or_else(|| not_run(format!("setsockopt {name} value")), Ok);
        match name.as_str() {
            "SO_REUSEADDR" | "SO_REUSEPORT" => {}
            // A mark for the host's routing and filtering (socket(7)); it
            // changes nothing on the wire, and synack has no host rules to match it.
            "SO_MARK" => {
                need(int)?;
            }
            "SO_SNDBUF" => {
                // The value is a C int, as the kernel reads it.
                let v = need(int)?.clamp(0, i64::from(i32::MAX)) as usize;
                // Linux doubles the value (socket(7)) and charges each buffer's
                // whole footprint against it; with TSO-sized buffers nearly all
                // of it is payload, the octets synack counts. FreeBSD counts
                // the payload against the value itself.
                let bytes = if self.freebsd { v } else { 2 * v };
                ns.cfg.send_buffer = bytes;
                if let Some(id) = conn {
                    let _ = self.stack().set_send_buffer(id, bytes);
                }
            }
            "SO_RCVBUF" if conn.is_some() => return not_run("SO_RCVBUF on a connected socket"),
            "SO_RCVBUF" => ns.cfg.recv_buffer = need(int)?.max(0) as usize,
            "SO_LINGER" => ns.linger_zero = linger_zero(val)?,
            "TCP_INQ" => ns.inq = need(int)? != 0,
            // Accepted: a zero-copy send is a copy into synack's send buffer.
            "SO_ZEROCOPY" => ns.zerocopy = need(int)? != 0,
            "SO_KEEPALIVE" => ns.keep_on = need(int)? != 0,
            "TCP_NODELAY" | "TCP_CORK" => self.set_send_shaping(&name, need(int)?, conn, &mut ns),
            "TCP_NOTSENT_LOWAT" => self.set_notsent_lowat(need(int)?, conn, &mut ns),
            "TCP_MAXSEG" => ns.cfg.mss = Some(maxseg(need(int)?, conn)?),
            "TCP_KEEPIDLE" => ns.keep.idle = Duration::from_secs(need(int)?.max(0) as u64),
            "TCP_KEEPINTVL" => ns.keep.interval = Duration::from_secs(need(int)?.max(0) as u64),
            "TCP_KEEPCNT" => ns.keep.count = need(int)?.max(0) as u32,
            "TCP_KEEPINIT" => {
                if !self.set_keepinit(need(int)?, conn, &mut ns, now) {
                    return errno("EINVAL");
                }
            }
            "TCP_USER_TIMEOUT" => {
                if !self.set_user_timeout(need(int)?, conn, &mut ns) {
                    return errno("EINVAL");
                }
            }
            "TCP_NOOPT" => {
                if live {
                    return not_run("TCP_NOOPT on a connected or listening socket");
                }
                let off = need(int)? != 0;
                ns.cfg.window_scaling = !off && self.stack_cfg.conn.window_scaling;
                ns.cfg.timestamps = !off && self.stack_cfg.conn.timestamps;
                ns.cfg.sack = !off && self.stack_cfg.conn.sack;
                ns.cfg.mss_option = !off;
            }
            "IP_TTL" | "IPV6_UNICAST_HOPS" => {
                // RFC 791 3.1 TTL / RFC 8200 3 hop limit; -1 is the default (RFC 3493 5.1).
                let Some(ttl) = ttl_value(need(int)?) else {
                    return errno("EINVAL");
                };
                ns.cfg.ttl = ttl;
            }
            "IP_TOS" | "IPV6_TCLASS" => match dscp_value(need(val.and_then(tos_of))?) {
                Some(d) => ns.cfg.dscp = d,
                None => return errno("EINVAL"),
            },
            "IP_MTU_DISCOVER" | "IPV6_MTU_DISCOVER" => match val.and_then(pmtudisc_of) {
                Some(v) => ns.pmtudisc = v,
                None => return errno("EINVAL"),
            },
            "TCP_SYNCNT" => {
                if !self.set_syn_count(need(int)?, conn, &mut ns) {
                    return errno("EINVAL");
                }
            }
            other if other.starts_with("TCP_FASTOPEN") => {
                if let Some(a) = self.fastopen_sockopt(call, listener, &mut ns)? {
                    return Ok(a);
                }
            }
            other => return not_run(format!("setsockopt {level} {other}")),
        }
        if let (Some(l), "SO_RCVBUF" | "SO_SNDBUF" | "TCP_MAXSEG") = (listener, name.as_str()) {
            // Inherited by the connections the listener accepts from now on.
            if self
                .stack()
                .set_listener_config(l, Self::sock_cfg(&ns))
                .is_err()
            {
                return errno("EINVAL");
            }
        }
        self.apply_ip_options(&name, &mut ns)?;
        self.apply_keepalive(&name, conn, &ns, now);
        self.sockets.insert(fd, ns);
        done(0)
    }

    /// After an IP option changed: the connection's packets, or a bound
    /// socket's RSTs, carry the new TTL and DSCP.
    fn apply_ip_options(&mut self, name: &str, ns: &mut Socket) -> Res<()> {
        if !matches!(
            name,
            "IP_TTL" | "IPV6_UNICAST_HOPS" | "IP_TOS" | "IPV6_TCLASS"
        ) {
            return Ok(());
        }
        match ns.kind {
            SockKind::Conn(id) => {
                let _ = self.stack().set_ip_options(id, ns.cfg.ttl, ns.cfg.dscp);
            }
            SockKind::Listener(_) => {
                return not_run(format!("{name} on a listening socket"));
            }
            SockKind::Fresh => {
                // A bound socket's RSTs carry the new values: bind again.
                if let (Some(b), Some(addr)) = (ns.bind_id, ns.bound) {
                    let cfg = Self::sock_cfg(ns);
                    let stack = self.stack();
                    let _ = stack.unbind(b);
                    ns.bind_id = stack.bind(addr, cfg).ok();
                }
            }
        }
        Ok(())
    }

    /// After a keepalive option changed: the connection's keepalive timer
    /// follows.
    fn apply_keepalive(&mut self, name: &str, conn: Option<ConnId>, ns: &Socket, now: Instant) {
        if !matches!(
            name,
            "SO_KEEPALIVE" | "TCP_KEEPIDLE" | "TCP_KEEPINTVL" | "TCP_KEEPCNT"
        ) {
            return;
        }
        if let (Some(id), true) = (conn, ns.keep_on) {
            let k = Self::sock_cfg(ns).keepalive;
            let _ = self.stack().set_keepalive(now, id, k);
        } else if let (Some(id), false) = (conn, ns.keep_on) {
            let _ = self.stack().set_keepalive(now, id, None);
        }
    }

    /// `getsockopt`: the value synack has, checked against the script's.
    pub(super) fn getsockopt(&mut self, line: u32, call: &SyscallEvent) -> Res<Attempt> {
        let fd = self.fd_arg(call)?;
        let name = symbol_arg(call, 2);
        let want = call.args.get(3);
        let Some(s) = self.sockets.get(&fd).cloned() else {
            return errno("EBADF");
        };
        let conn = match s.kind {
            SockKind::Conn(id) => Some(id),
            _ => None,
        };
        let semantic = self.mode == Mode::Semantic;
        // The value synack has, as a number or an errno name.
        let (value, wildcard): (Result<i64, &'static str>, bool) = match name.as_str() {
            "SO_RCVBUF" => (Ok(s.cfg.recv_buffer as i64), semantic),
            // What setsockopt stored: on Linux twice the value set, as
            // Linux reads it back (socket(7)).
            "SO_SNDBUF" => (Ok(s.cfg.send_buffer as i64), semantic),
            "SO_ERROR" => match self.take_error(fd) {
                Some(e) => (Err(e), false),
                None => (Ok(0), false),
            },
            "SO_KEEPALIVE" => (Ok(i64::from(s.keep_on)), false),
            "TCP_INQ" => (Ok(i64::from(s.inq)), false),
            "SO_ZEROCOPY" => (Ok(i64::from(s.zerocopy)), false),
            "TCP_NODELAY" => (Ok(i64::from(!s.cfg.nagle)), false),
            "TCP_CORK" => (Ok(i64::from(s.cfg.cork)), false),
            "TCP_NOTSENT_LOWAT" => (Ok(s.notsent_lowat), false),
            "IP_TTL" | "IPV6_UNICAST_HOPS" => (
                Ok(i64::from(s.cfg.ttl.unwrap_or(synack_proto::DEFAULT_TTL))),
                false,
            ),
            "IP_TOS" | "IPV6_TCLASS" => (Ok(i64::from(s.cfg.dscp) << 2), false),
            "IP_MTU_DISCOVER" | "IPV6_MTU_DISCOVER" => (Ok(s.pmtudisc), false),
            "TCP_KEEPIDLE" => (Ok(s.keep.idle.as_secs() as i64), false),
            "TCP_KEEPINTVL" => (Ok(s.keep.interval.as_secs() as i64), false),
            "TCP_KEEPCNT" => (Ok(i64::from(s.keep.count)), false),
            "TCP_KEEPINIT" => {
                let t = s.cfg.establish_timeout.unwrap_or_default();
                (Ok(i64::try_from(t.as_secs()).unwrap_or(i64::MAX)), false)
            }
            "TCP_MAXSEG" => {
                let mss = match conn.and_then(|id| self.stack.as_ref()?.status(id)) {
                    Some(st) if st.state != State::SynSent => i64::from(st.snd_mss),
                    _ => i64::from(s.cfg.mss.unwrap_or(536)),
                };
                (Ok(mss), false)
            }
            other => return not_run(format!("getsockopt {other}")),
        };
        let Some(want) = want else {
            return Ok(Attempt::Done(SysRet::Value(0)));
        };
        let shown = match value {
            Ok(v) => v.to_string(),
            Err(e) => e.to_string(),
        };
        let ok = wildcard
            || *want == Expr::Ellipsis
            || match (value, want) {
                (Ok(v), w) if name.ends_with("MTU_DISCOVER") => pmtudisc_of(w) == Some(v),
                (Ok(v), w) => int_of(w) == Some(v),
                (Err(e), w) => symbol_of(w) == Some(e),
            };
        if !ok {
            return fail(
                line,
                format!("getsockopt {name} = {}", fmt_expr(want)),
                format!("getsockopt {name} = [{shown}]"),
            );
        }
        Ok(Attempt::Done(SysRet::Value(0)))
    }
}

/// An `SO_LINGER` value: whether close aborts (linger on with a zero time);
/// other linger times are not modelled.
fn linger_zero(val: Option<&Expr>) -> Res<bool> {
    let Some(v) = val else {
        return not_run("SO_LINGER value");
    };
    let on = struct_field(v, &["l_onoff", "onoff"]).unwrap_or(0);
    let secs = struct_field(v, &["l_linger", "linger"]).unwrap_or(0);
    if on != 0 && secs != 0 {
        return not_run("SO_LINGER with a non-zero timeout");
    }
    Ok(on != 0)
}

/// The symbol in argument `i` (a level or option name), or "".
fn symbol_arg(call: &SyscallEvent, i: usize) -> String {
    call.args
        .get(i)
        .and_then(symbol_of)
        .unwrap_or("")
        .to_string()
}

/// The DSCP of an `IP_TOS`/`IPV6_TCLASS` value, `None` beyond a byte. RFC
/// 2474 3: the DSCP is the upper six bits; the ECN bits stay TCP's (RFC 3168
/// 5; Linux masks them off too). -1 is the default.
fn dscp_value(v: i64) -> Option<u8> {
    match v {
        -1 => Some(0),
        _ => u8::try_from(v).ok().map(|t| t >> 2),
    }
}

/// A `TCP_MAXSEG` value set before the connection exists; synack does not
/// change a live connection's MSS.
fn maxseg(v: i64, conn: Option<ConnId>) -> Res<u16> {
    if conn.is_some() {
        return not_run("TCP_MAXSEG on a connected socket");
    }
    u16::try_from(v).or_else(|_| not_run(format!("TCP_MAXSEG {v}")))
}

/// An `IP_MTU_DISCOVER`/`IPV6_MTU_DISCOVER` value (ip(7), ipv6(7)): a
/// number or a `IP_PMTUDISC_*`/`IPV6_PMTUDISC_*` name, `None` for one Linux
/// refuses (EINVAL). synack sets DF and follows ICMP's path MTU (RFC 1191,
/// RFC 8201) whatever the value, which is what `DO` and `WANT` ask of TCP;
/// the others differ only when an ICMP error arrives (`inbound_icmp`).
fn pmtudisc_of(e: &Expr) -> Option<i64> {
    let v = match int_of(e) {
        Some(v) => v,
        None => {
            let name = symbol_of(e)?;
            let rest = name
                .strip_prefix("IP_PMTUDISC_")
                .or_else(|| name.strip_prefix("IPV6_PMTUDISC_"))?;
            ["DONT", "WANT", "DO", "PROBE", "INTERPRET", "OMIT"]
                .iter()
                .position(|n| *n == rest)? as i64
        }
    };
    (0..=5).contains(&v).then_some(v)
}

/// An `IP_TTL`/`IPV6_UNICAST_HOPS` value: `Some(None)` for -1 (the default,
/// RFC 3493 5.1), `None` beyond a byte.
fn ttl_value(v: i64) -> Option<Option<u8>> {
    match v {
        -1 => Some(None),
        _ => u8::try_from(v).ok().map(Some),
    }
}
