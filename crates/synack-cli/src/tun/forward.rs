//! `synack tun forward`: synack as the TCP engine of a transparent proxy.
//!
//! Creates a TUN device (in `--netns NAME` when given), brings it up and
//! routes each `--route PREFIX` into it. Every TCP connection to an address
//! of those prefixes, on any port, then ends at synack: the destination is
//! first dialled with this process's own sockets (from the namespace the
//! command runs in), and the client's SYN is accepted, refused (RST) or left
//! unanswered to match; accepted connections are relayed both ways,
//! half-closes and resets included (`synack::forward`).

use super::{check_privileges, event_line, netns};
use clap::Args;
use std::io;
use std::path::Path;
use synack::forward::{forward, ForwardOptions};
use synack::{AnyDestination, IpPrefix, Runtime, RuntimeConfig, TunDevice};
use synack_proto::{Event, EventKind};

#[derive(Debug, Args)]
pub(super) struct ForwardArgs {
    /// Route this prefix into the device and forward every connection to
    /// it (IPv4 or IPv6, e.g. 10.88.0.0/16; repeat for more).
    #[arg(long, value_name = "PREFIX", required = true)]
    route: Vec<IpPrefix>,
    /// Create the device in this network namespace (/run/netns/NAME): its
    /// clients are forwarded, while the upstream connections leave from the
    /// namespace the command runs in.
    #[arg(long, value_name = "NAME")]
    netns: Option<String>,
    /// Name of the TUN device.
    #[arg(long, value_name = "NAME", default_value = "synack0")]
    dev: String,
    /// Print every event of the stack to stderr as it happens.
    #[arg(long)]
    trace: bool,
    /// Seconds an upstream connection may take before the client's SYN is
    /// left unanswered.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    connect_timeout: u64,
}

/// `ip ARGS` in the device's namespace.
fn ip_in(ns: Option<&str>, args: &[&str]) -> io::Result<()> {
    let mut v: Vec<&str> = Vec::new();
    if let Some(n) = ns {
        v.extend(["-n", n]);
    }
    v.extend_from_slice(args);
    netns::ip(&v).map(|_| ())
}

/// The device, up, with the prefixes routed into it.
fn open_device(a: &ForwardArgs) -> io::Result<TunDevice> {
    let ns = a.netns.as_deref();
    let dev = match ns {
        Some(n) => TunDevice::open_in_netns(&a.dev, &Path::new("/run/netns").join(n))?,
        None => TunDevice::open(&a.dev)?,
    };
    let name = dev.name().to_owned();
    ip_in(ns, &["link", "set", "dev", &name, "mtu", "1500", "up"])?;
    for p in &a.route {
        let family = if p.addr().is_ipv4() { "-4" } else { "-6" };
        ip_in(ns, &[family, "route", "add", &p.to_string(), "dev", &name])?;
    }
    Ok(dev)
}

pub(super) fn forward_cmd(a: &ForwardArgs) -> io::Result<()> {
    check_privileges()?;
    let dev = open_device(a)?;
    let routes: Vec<String> = a.route.iter().map(ToString::to_string).collect();
    eprintln!(
        "synack tun forward: device {}{} routes {} into synack; connections go out from this namespace",
        dev.name(),
        a.netns
            .as_deref()
            .map(|n| format!(" (namespace {n})"))
            .unwrap_or_default(),
        routes.join(", ")
    );
    let mut cfg = RuntimeConfig::new(Vec::new());
    if a.trace {
        cfg.on_event = Some(Box::new(|ev: &Event| {
            if !matches!(ev.kind, EventKind::EventsLost { .. }) {
                eprintln!("{}", event_line(ev));
            }
        }));
    }
    let rt = Runtime::new(dev, cfg)?;
    let opts = ForwardOptions {
        connect_timeout: std::time::Duration::from_secs(a.connect_timeout.max(1)),
        ..ForwardOptions::default()
    };
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio.block_on(forward(
        &rt,
        AnyDestination::prefixes(a.route.clone()),
        opts,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        f: ForwardArgs,
    }

    #[test]
    fn routes_parse_in_both_families_and_one_is_required() {
        let c = Cli::try_parse_from(["x", "--route", "10.88.0.0/16", "--route", "fd88::/64"])
            .expect("parse");
        let r: Vec<String> = c.f.route.iter().map(ToString::to_string).collect();
        assert_eq!(r, ["10.88.0.0/16", "fd88::/64"]);
        assert_eq!(c.f.dev, "synack0");
        assert!(Cli::try_parse_from(["x"]).is_err());
        assert!(Cli::try_parse_from(["x", "--route", "10.88.0/16"]).is_err());
    }
}
