//! Setting a run up from the script's header: its `--` options (addresses,
//! ports, tolerances, MTU) and the defaults of the system it was written for.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use synack_proto::profile::Profile;
use synack_proto::StackConfig;

use crate::ast::{EventKind, Script};

use super::socket::KeepParams;
use super::{not_run, Mode, Res, Runner, StackKind};

impl<'a> Runner<'a> {
    pub(super) fn new(script: &'a Script, mode: Mode, kind: StackKind) -> Res<Runner<'a>> {
        let ipv6 = is_ipv6(script)?;
        check_options(script)?;
        let (local_ip, remote_ip) = addresses(script, ipv6)?;
        let mut stack_cfg = StackConfig {
            trace: false,
            ..StackConfig::default()
        };
        // The systems these scripts were written for offer timestamps and
        // SACK by default (FreeBSD rfc1323=1, sack.enable=1; Linux
        // tcp_timestamps=1, tcp_sack=1); scripts turn them off explicitly.
        stack_cfg.conn.timestamps = true;
        stack_cfg.conn.sack = true;
        if let Some(mtu) = num_option(script, "mtu")? {
            stack_cfg.mtu = u16::try_from(mtu).or_else(|_| not_run(format!("--mtu={mtu}")))?;
        }
        let tol_pct = match script.option("tolerance_percent").flatten() {
            None => 0.0,
            Some(v) => v
                .parse::<f64>()
                .or_else(|_| not_run(format!("--tolerance_percent={v}")))?,
        };
        let freebsd = is_freebsd(script);
        // The behaviour switches of the system the script was written for,
        // as the core's named profiles hold them.
        let profile = if freebsd {
            Profile::FreeBsd
        } else {
            Profile::Linux
        };
        profile.apply(&mut stack_cfg.conn, ipv6);
        if !freebsd {
            // Linux's slow start adds every segment an ACK delivers
            // (`tcp_slow_start`); its HyStart is not HyStart++ and has no
            // per-ACK limit (RFC 9406 4.2's L), which synack keeps by default.
            stack_cfg.conn.slow_start_ack_limit = false;
        }
        let def = profile.keepalive();
        Ok(Runner {
            script,
            mode,
            stack_cfg,
            kind,
            stack: None,
            keep_defaults: KeepParams {
                idle: def.idle,
                interval: def.interval,
                count: def.count,
            },
            now: 0,
            last_event: 0,
            local_ip,
            remote_ip,
            bind_port: port_option(script, "bind_port")?,
            connect_port: port_option(script, "connect_port")?,
            sockets: BTreeMap::new(),
            epolls: BTreeMap::new(),
            out: VecDeque::new(),
            isn_offset: None,
            ts_base: None,
            ts_ports: (0, 0),
            nstat_base: None,
            pending: None,
            tol_us: num_option(script, "tolerance_usecs")?.unwrap_or(4000),
            tol_pct,
            freebsd,
            strict_segments: script.option("strict_segments").is_some(),
            current: None,
            current_tuple: None,
            subject_fd: None,
            scratch: Vec::new(),
            fastopen_bits: 0,
            fastopen_keys: None,
            remote_isn: 0,
            passive_opens: 0,
            listener_got_syn: false,
        })
    }
}

/// Whether the script runs over IPv6 (`--ip_version`).
fn is_ipv6(script: &Script) -> Res<bool> {
    let ipv = script.ip_version().unwrap_or("ipv4");
    match ipv {
        "ipv4" | "ipv4-mapped-ipv6" => Ok(false),
        "ipv6" => Ok(true),
        other => not_run(format!("--ip_version={other}")),
    }
}

/// Refuses script options the runner does not know.
fn check_options(script: &Script) -> Res<()> {
    for o in &script.options {
        match o.name.as_str() {
            "ip_version" | "tolerance_usecs" | "tolerance_percent" | "mtu" | "bind_port"
            | "connect_port" | "local_ip" | "remote_ip" | "strict_segments"
            | "tcp_ts_tick_usecs" | "gateway_ip" | "netmask_ip" | "non_fatal" => {}
            // Inbound TS ecr values in the script's clock: the runner maps every
            // inbound ecr onto synack's TSval clock anyway (`inject`).
            "tcp_ts_ecr_scaled" => {}
            "udp_encapsulation" => return not_run("TCP over UDP encapsulation"),
            other => return not_run(format!("script option --{other}")),
        }
    }
    Ok(())
}

/// The local and remote addresses: `--local_ip`/`--remote_ip`, or the
/// runner's defaults for the IP version.
fn addresses(script: &Script, ipv6: bool) -> Res<(IpAddr, IpAddr)> {
    let parse_ip = |name: &str, default: IpAddr| -> Res<IpAddr> {
        match script.option(name).flatten() {
            None => Ok(default),
            Some(v) => v
                .parse()
                .or_else(|_| not_run(format!("--{name}={v} (not an address)"))),
        }
    };
    let (local_default, remote_default) = if ipv6 {
        (
            IpAddr::V6(Ipv6Addr::new(0xfd3d, 0xfa7b, 0xd17d, 0, 0, 0, 0, 1)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        )
    };
    let local_ip = parse_ip("local_ip", local_default)?;
    let remote_ip = parse_ip("remote_ip", remote_default)?;
    Ok((local_ip, remote_ip))
}

/// A numeric script option, if given.
fn num_option(script: &Script, name: &str) -> Res<Option<u64>> {
    match script.option(name).flatten() {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .or_else(|_| not_run(format!("--{name}={v}"))),
    }
}

/// A port script option; 8080 if not given (or beyond 16 bits).
fn port_option(script: &Script, name: &str) -> Res<u16> {
    Ok(num_option(script, name)?
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(8080))
}

/// Whether the script was written for FreeBSD: by its path, or by its
/// FreeBSD-only commands.
fn is_freebsd(script: &Script) -> bool {
    script.name.contains("freebsd")
        || script.name.contains("/bsd/")
        || script.events.iter().any(|e| {
            matches!(&e.kind, EventKind::Command(c) if c.contains("net.inet.") || c.contains("sockstat"))
        })
}
