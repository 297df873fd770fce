//! A transparent TCP forwarder in a few lines: every connection to an
//! address of PREFIX, on any port, is relayed to its real destination.
//!
//! ```text
//! # as root; the clients of namespace NS reach 10.88.0.0/16 through synack
//! cargo run --release -p synack --features forward --example forward -- 10.88.0.0/16 NS
//! ```
//!
//! The TUN device `synackf0` is created in namespace NS (or here without
//! one), brought up, and PREFIX routed into it; upstream connections leave
//! from the namespace this program runs in. `synack tun forward` is the
//! same with options.

use std::io;
use std::path::Path;
use synack::forward::{forward, ForwardOptions};
use synack::test_util::netns::ip;
use synack::{AnyDestination, IpPrefix, Runtime, RuntimeConfig, TunDevice};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let prefix: IpPrefix = args
        .next()
        .unwrap_or_else(|| "10.88.0.0/16".into())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let ns = args.next();
    let dev = match &ns {
        Some(n) => TunDevice::open_in_netns("synackf0", &Path::new("/run/netns").join(n))?,
        None => TunDevice::open("synackf0")?,
    };
    let name = dev.name().to_owned();
    let in_ns = |a: &[&str]| {
        let mut v: Vec<&str> = ns.iter().flat_map(|n| ["-n", n.as_str()]).collect();
        v.extend_from_slice(a);
        ip(&v).map(|_| ())
    };
    in_ns(&["link", "set", "dev", &name, "up"])?;
    in_ns(&["route", "add", &prefix.to_string(), "dev", &name])?;
    let rt = Runtime::new(dev, RuntimeConfig::new(Vec::new()))?;
    eprintln!("forwarding every connection to {prefix} (device {name}); Ctrl-C ends");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(forward(
            &rt,
            AnyDestination::prefixes(vec![prefix]),
            ForwardOptions::default(),
        ))
}
