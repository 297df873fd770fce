//! Sysctls: the FreeBSD and Linux settings scripts change, mapped onto
//! synack's stack and connection settings. [`SYSCTLS`] lists every name the
//! runner knows with how its value is applied; any other sysctl is not run.

use synack_proto::{ConnConfig, Duration, EcnMode, StackConfig, SynCookies};

use super::socket::KeepParams;
use super::{not_run, Res, Runner};

impl Runner<'_> {
    /// Changes the connection defaults, in the stack too once it runs.
    pub(super) fn set_conn(&mut self, f: impl FnOnce(&mut ConnConfig)) {
        f(&mut self.stack_cfg.conn);
        let c = self.stack_cfg.conn;
        if let Some(s) = self.stack.as_mut() {
            s.set_conn_config(c);
        }
    }

    /// Changes a stack setting; only before the stack starts.
    pub(super) fn set_stack(&mut self, what: &str, f: impl FnOnce(&mut StackConfig)) -> Res<()> {
        if self.stack.is_some() {
            return not_run(format!("{what} changed after the stack started"));
        }
        f(&mut self.stack_cfg);
        Ok(())
    }

    /// `key=value`: applies the sysctl as [`SYSCTLS`] says, or does not run
    /// the script for one synack has no equivalent of.
    pub(super) fn sysctl(&mut self, key: &str, value: &str) -> Res<()> {
        let setting = Setting {
            key,
            name: key.trim_start_matches("net.ipv4."),
            value,
        };
        let Some((_, apply)) = SYSCTLS
            .iter()
            .find(|(names, _)| names.contains(&setting.name))
        else {
            return setting.unsupported();
        };
        match apply {
            Apply::Conn(f) => {
                let v = setting.num()?;
                self.set_conn(|c| f(c, v));
            }
            Apply::KeepDefault(f) => {
                let v = setting.num()?;
                f(&mut self.keep_defaults, v);
            }
            Apply::Ignored => {}
            Apply::Other(f) => f(self, &setting)?,
        }
        Ok(())
    }
}

/// One sysctl assignment as the script writes it.
struct Setting<'s> {
    /// The name as written (for messages).
    key: &'s str,
    /// The name without Linux's `net.ipv4.` prefix, as [`SYSCTLS`] lists it.
    name: &'s str,
    value: &'s str,
}

impl Setting<'_> {
    /// The value as a number.
    fn num(&self) -> Res<i64> {
        self.value
            .trim()
            .parse::<i64>()
            .or_else(|_| not_run(format!("sysctl {}={}", self.key, self.value)))
    }

    /// Not run: a value (or a sysctl) synack has no equivalent of.
    fn unsupported<T>(&self) -> Res<T> {
        not_run(format!("sysctl {}={}", self.key, self.value))
    }
}

/// How a sysctl's value is applied.
enum Apply {
    /// A connection default, from the value as a number: it applies to
    /// sockets and connections opened from then on.
    Conn(fn(&mut ConnConfig, i64)),
    /// A keepalive default for sockets created later, from the value as a
    /// number.
    KeepDefault(fn(&mut KeepParams, i64)),
    /// Accepted whatever the value (which is not read).
    Ignored,
    /// A rule of its own.
    Other(fn(&mut Runner<'_>, &Setting<'_>) -> Res<()>),
}

/// Every sysctl the runner knows, by name (Linux's without `net.ipv4.`), and
/// how its value is applied.
const SYSCTLS: &[(&[&str], Apply)] = &[
    // FreeBSD.
    (
        &["net.inet.tcp.rfc1323"],
        Apply::Conn(|c, v| {
            let on = v != 0;
            c.window_scaling = on;
            c.timestamps = on;
        }),
    ),
    (
        &["net.inet.tcp.sack.enable", "tcp_sack"],
        Apply::Conn(|c, v| c.sack = v != 0),
    ),
    (&["net.inet.tcp.blackhole"], Apply::Other(blackhole)),
    (
        &["net.inet.tcp.insecure_rst"],
        Apply::Conn(|c, v| c.rst_challenge = v == 0),
    ),
    (
        &["net.inet.tcp.insecure_syn"],
        Apply::Conn(|c, v| c.syn_challenge = v == 0),
    ),
    (&["net.inet.tcp.ecn.enable", "tcp_ecn"], Apply::Other(ecn)),
    (
        &["net.inet.tcp.ecn.maxretries"],
        Apply::Conn(|c, v| c.ecn_syn_retries = u32::try_from(v.max(0)).unwrap_or(u32::MAX)),
    ),
    (
        &["net.inet.tcp.recvspace"],
        Apply::Conn(|c, v| c.recv_buffer = v.max(0) as usize),
    ),
    (
        &["net.inet.tcp.sendspace"],
        Apply::Conn(|c, v| c.send_buffer = v.max(0) as usize),
    ),
    (
        &["net.inet.tcp.rexmit_initial"],
        Apply::Conn(|c, v| c.initial_rto = Duration::from_millis(v.max(1) as u64)),
    ),
    (
        &["net.inet.tcp.rexmit_min"],
        Apply::Conn(|c, v| c.min_rto = Duration::from_millis(v.max(1) as u64)),
    ),
    (
        &["net.inet.tcp.rexmit_slop"],
        Apply::Conn(|c, v| c.rto_slop = Duration::from_millis(v.max(0) as u64)),
    ),
    (
        &["net.inet.tcp.delacktime"],
        Apply::Conn(|c, v| {
            let v = v.max(0) as u64;
            c.delayed_ack = (v > 0).then(|| Duration::from_millis(v));
        }),
    ),
    (
        &["net.inet.tcp.keepidle"],
        Apply::KeepDefault(|k, v| k.idle = Duration::from_millis(v.max(0) as u64)),
    ),
    (
        &["net.inet.tcp.keepintvl"],
        Apply::KeepDefault(|k, v| k.interval = Duration::from_millis(v.max(0) as u64)),
    ),
    (
        &["net.inet.tcp.keepcnt"],
        Apply::KeepDefault(|k, v| k.count = v.max(0) as u32),
    ),
    (
        &["net.inet.tcp.keepinit"],
        // Milliseconds; 0 stops the timer.
        Apply::Conn(|c, v| {
            let v = v.max(0) as u64;
            c.establish_timeout = (v > 0).then(|| Duration::from_millis(v));
        }),
    ),
    (
        &["net.inet.tcp.syncookies", "tcp_syncookies"],
        Apply::Other(syncookies),
    ),
    (
        &["net.inet.tcp.syncookies_only"],
        Apply::Other(syncookies_only),
    ),
    // FreeBSD (tcp(4)): TIME_WAIT lasts 2 * msl (milliseconds).
    (
        &["net.inet.tcp.msl"],
        Apply::Conn(|c, v| c.msl = Duration::from_millis(v.max(1) as u64)),
    ),
    // FreeBSD: an orphaned FIN_WAIT_2 connection's timeout (milliseconds).
    (
        &["net.inet.tcp.finwait2_timeout"],
        Apply::Conn(|c, v| c.fin_wait_2_timeout = Duration::from_millis(v.max(0) as u64)),
    ),
    // FreeBSD: 0 acknowledges every segment at once.
    (
        &["net.inet.tcp.delayed_ack"],
        Apply::Conn(|c, v| {
            if v == 0 {
                c.delayed_ack = None;
            } else if c.delayed_ack.is_none() {
                c.delayed_ack = Some(Duration::from_millis(100));
            }
        }),
    ),
    // FreeBSD: the initial window in segments (RFC 6928).
    (
        &["net.inet.tcp.initcwnd_segments"],
        Apply::Conn(|c, v| c.initial_cwnd_segments = v.clamp(1, 1000) as u32),
    ),
    // Linux: keepalive defaults (seconds) and data retransmissions.
    (
        &["tcp_keepalive_time"],
        Apply::KeepDefault(|k, v| k.idle = Duration::from_secs(v.max(0) as u64)),
    ),
    (
        &["tcp_keepalive_intvl"],
        Apply::KeepDefault(|k, v| k.interval = Duration::from_secs(v.max(0) as u64)),
    ),
    (
        &["tcp_keepalive_probes"],
        Apply::KeepDefault(|k, v| k.count = v.max(0) as u32),
    ),
    (
        &["tcp_retries2"],
        Apply::Conn(|c, v| c.data_retries = v.max(0) as u32),
    ),
    // Segmentation offload: synack hands the link one segment at a time.
    (&["net.inet.tcp.tso"], Apply::Ignored),
    // Settings of mechanisms synack does not have, at values that
    // leave the tested behaviour alone.
    (
        &["net.inet.tcp.icmp_may_rst"],
        Apply::Conn(|c, v| c.icmp_may_rst = v != 0),
    ),
    (
        &[
            "kern.ipc.maxsockbuf",
            "net.inet.tcp.hostcache.purgenow",
            "net.inet.tcp.tolerate_missing_ts",
            "tcp_min_tso_segs",
            "tcp_fack",
            "tcp_frto",
            "tcp_reordering",
            "tcp_congestion_control",
            // Pacing applies only under a pacing queue (`tc qdisc fq`), which
            // scripts that install one report as not run.
            "tcp_pacing_ss_ratio",
            "tcp_pacing_ca_ratio",
            // The AccECN option goes only on AccECN connections (tcp_ecn 3
            // and 4), which are not run.
            "tcp_ecn_option",
            // How long Linux defers a send to build a larger TSO packet;
            // synack sends each segment when the window allows.
            "tcp_tso_win_divisor",
        ],
        Apply::Ignored,
    ),
    // Linux: 1 restarts the window after an idle RTO (RFC 5681 4.1).
    (
        &["tcp_slow_start_after_idle"],
        Apply::Conn(|c, v| c.restart_after_idle = v != 0),
    ),
    // Packetization-layer path MTU discovery (RFC 4821) is not modelled:
    // only "off" runs.
    (&["tcp_mtu_probing"], Apply::Other(mtu_probing)),
    // The unsent-data mark of sockets that set none (TCP_NOTSENT_LOWAT 0);
    // Linux's default, 2^32 - 1, is none.
    (
        &["tcp_notsent_lowat"],
        Apply::Conn(|c, v| c.notsent_lowat = lowat_mark(v)),
    ),
    // Linux: 3 and 4 enable the tail loss probe (RFC 8985 7), every
    // other value leaves it off (`tcp_schedule_loss_probe`).
    (
        &["tcp_early_retrans"],
        Apply::Conn(|c, v| c.tail_loss_probe = matches!(v, 3 | 4)),
    ),
    // Linux: bit 0 (TCP_RACK_LOSS_DETECTION) turns RACK (RFC 8985 6) on;
    // the static-window and no-DupThresh bits are not modelled.
    (&["tcp_recovery"], Apply::Conn(|c, v| c.rack = v & 1 != 0)),
    (
        &["net.inet.tcp.rexmit_drop_options"],
        Apply::Conn(|c, v| c.syn_rexmit_drop_options = v != 0),
    ),
    (&["tcp_dsack"], Apply::Conn(|c, v| c.dsack = v != 0)),
    (
        &["tcp_timestamps"],
        Apply::Conn(|c, v| c.timestamps = v != 0),
    ),
    (
        &["tcp_window_scaling"],
        Apply::Conn(|c, v| c.window_scaling = v != 0),
    ),
    (
        &["tcp_syn_retries"],
        Apply::Conn(|c, v| c.syn_retries = v.max(0) as u32),
    ),
    (
        &["tcp_synack_retries"],
        Apply::Conn(|c, v| c.synack_retries = v.max(0) as u32),
    ),
    (
        &["tcp_fin_timeout"],
        Apply::Conn(|c, v| c.fin_wait_2_timeout = Duration::from_secs(v.max(0) as u64)),
    ),
    (&["tcp_rmem", "tcp_wmem"], Apply::Other(buffer_sizes)),
    (&["tcp_notsent_lowat"], Apply::Other(notsent_lowat)),
    (&["tcp_fastopen"], Apply::Other(fastopen)),
    (&["tcp_fastopen_key"], Apply::Other(fastopen_key)),
    (&["tcp_fastopen_cookies"], Apply::Other(fastopen_cookies)),
    (
        &["tcp_fastopen_blackhole_timeout_sec"],
        Apply::Other(fastopen_blackhole),
    ),
];

/// `net.inet.tcp.blackhole`: only 0 (synack answers segments to closed ports).
fn blackhole(_: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    if s.num()? != 0 {
        return s.unsupported();
    }
    Ok(())
}

/// Linux's tcp_mtu_probing: 0 off (synack's behaviour); 1 and 2 turn on
/// packetization-layer path MTU discovery (RFC 4821), which synack lacks.
fn mtu_probing(_: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    match s.num()? {
        0 => Ok(()),
        v => not_run(format!(
            "packetization-layer path MTU discovery (RFC 4821; sysctl tcp_mtu_probing={v}): \
             synack learns the path MTU from ICMP only (RFC 1191, RFC 8201)"
        )),
    }
}

/// FreeBSD's net.inet.tcp.ecn.enable and Linux's tcp_ecn: 0 off, 1 ask
/// and accept, 2 accept only; 3 and 4 are accurate ECN.
fn ecn(r: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    let mode = match s.num()? {
        0 => EcnMode::Off,
        1 => EcnMode::Request,
        2 => EcnMode::Accept,
        _ => return not_run(format!("accurate ECN (sysctl {}={})", s.name, s.value)),
    };
    // Linux's tcp_ecn_fallback (1 by default): a retransmitted SYN goes
    // without ECE and CWR.
    let linux = s.name == "tcp_ecn";
    r.set_conn(|c| {
        c.ecn = mode;
        if linux {
            c.ecn_syn_retries = 0;
        }
    });
    Ok(())
}

/// SYN cookies: off, when the listen queue is full, or (Linux's 2) always.
fn syncookies(r: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    let mode = match s.num()? {
        0 => SynCookies::Off,
        2 if s.name == "tcp_syncookies" => SynCookies::Always,
        _ => SynCookies::WhenFull,
    };
    r.set_stack("syncookies", |c| c.syn_cookies = mode)
}

/// FreeBSD's `syncookies_only`: SYN cookies always when set.
fn syncookies_only(r: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    if s.num()? != 0 {
        r.set_stack("syncookies_only", |c| c.syn_cookies = SynCookies::Always)?;
    }
    Ok(())
}

/// Linux's `tcp_rmem`/`tcp_wmem` "min default max": the default buffer size.
fn buffer_sizes(r: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    let parts: Vec<usize> = s
        .value
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let Some(&def) = parts.get(1) else {
        return s.unsupported();
    };
    if s.name == "tcp_rmem" {
        r.set_conn(|c| c.recv_buffer = def);
    } else {
        r.set_conn(|c| c.send_buffer = def);
    }
    Ok(())
}

/// Linux's `tcp_notsent_lowat`: the default limit on bytes written but not
/// yet sent; 4294967295 (no limit, what `defaults.sh` sets) runs.
fn notsent_lowat(_: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    if s.num()? < i64::from(u32::MAX) {
        return s.unsupported();
    }
    Ok(())
}

/// Linux's `tcp_fastopen` bits: 0x1 client, 0x2 server, 0x4 client data
/// without a cookie, 0x200 server data without a cookie, 0x400 every
/// listener a Fast Open server (its queue the backlog).
fn fastopen(r: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    let v = match s.value.trim().strip_prefix("0x") {
        Some(h) => i64::from_str_radix(h, 16).or_else(|_| s.unsupported())?,
        None => s.num()?,
    };
    let bits = u32::try_from(v).or_else(|_| s.unsupported())?;
    r.fastopen_bits = bits;
    let was = r.stack_cfg.fast_open;
    let cfg = synack_proto::FastOpenConfig {
        max_cached_cookies: was.max_cached_cookies,
        blackhole_timeout: was.blackhole_timeout,
        ..synack_proto::FastOpenConfig::from_linux_bits(bits & !0x400, 0)
    };
    set_fast_open(r, cfg);
    Ok(())
}

/// New Fast Open settings, for the stack and the ones made later.
fn set_fast_open(r: &mut Runner<'_>, cfg: synack_proto::FastOpenConfig) {
    r.stack_cfg.fast_open = cfg;
    if let Some(st) = r.stack.as_mut() {
        st.set_fast_open_config(cfg);
    }
}

/// Linux's `tcp_fastopen_cookies`: how many destinations' cookies the
/// client caches; writing it (0 in particular) flushes the cache.
fn fastopen_cookies(r: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    let n = usize::try_from(s.num()?).or_else(|_| s.unsupported())?;
    let cfg = synack_proto::FastOpenConfig {
        max_cached_cookies: n,
        ..r.stack_cfg.fast_open
    };
    set_fast_open(r, cfg);
    if let Some(st) = r.stack.as_mut() {
        st.clear_fast_open_cookies();
    }
    Ok(())
}

/// Linux's `tcp_fastopen_blackhole_timeout_sec`: how long active Fast Open
/// pauses after a suspected blackhole (0: never).
fn fastopen_blackhole(r: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    let secs = u64::try_from(s.num()?).or_else(|_| s.unsupported())?;
    let cfg = synack_proto::FastOpenConfig {
        blackhole_timeout: (secs > 0).then(|| synack_proto::Duration::from_secs(secs)),
        ..r.stack_cfg.fast_open
    };
    set_fast_open(r, cfg);
    Ok(())
}

/// Linux's `tcp_fastopen_key`: `w-w-w-w` in hex, a backup key after a comma.
fn fastopen_key(r: &mut Runner<'_>, s: &Setting<'_>) -> Res<()> {
    let key = |text: &str| -> Option<synack_proto::FastOpenKey> {
        let mut w = [0u32; 4];
        let mut parts = text.trim().split('-');
        for x in &mut w {
            *x = u32::from_str_radix(parts.next()?, 16).ok()?;
        }
        parts
            .next()
            .is_none()
            .then(|| synack_proto::FastOpenKey::from_linux_words(w))
    };
    let mut it = s.value.split(',');
    let primary = it.next().and_then(key);
    let backup = it.next().map(key);
    let (Some(primary), None | Some(Some(_))) = (primary, backup) else {
        return s.unsupported();
    };
    r.fastopen_keys = Some(synack_proto::FastOpenKeys {
        primary,
        backup: backup.flatten(),
    });
    Ok(())
}

/// An unsent-data mark as Linux reads `TCP_NOTSENT_LOWAT` and its sysctl:
/// 2^32 - 1 (the default) or more, or a negative value, is no mark.
pub(super) fn lowat_mark(v: i64) -> Option<u32> {
    u32::try_from(v).ok().filter(|m| *m != u32::MAX)
}
