//! Any-destination listeners: a listener that takes connections to any
//! address of a set of prefixes and any port of a range, whatever addresses
//! the stack owns, as the TCP engine of a transparent proxy does (Linux's
//! `IP_TRANSPARENT` sockets). Each accepted connection keeps the address and
//! port the client dialled as its local end.
//!
//! Lookup order (`Stack::find_listener`): a listener on the exact address
//! and port, then one on the unspecified address and the port, then the most
//! specific any-destination listener (longest prefix, then narrowest port
//! range).

use super::listener::Listener;
use super::Stack;
use crate::config::ConnConfig;
use crate::error::Error;
use crate::event::ListenerId;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::str::FromStr;

/// An IP prefix, `10.0.0.0/8` or `fd00::/8`: the address with its host bits
/// cleared and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

impl IpPrefix {
    /// The prefix of `addr` with `len` bits (at most 32 for IPv4, 128 for
    /// IPv6); host bits of `addr` are cleared. `InvalidArgument` when `len`
    /// is too long for the family.
    pub fn new(addr: IpAddr, len: u8) -> Result<IpPrefix, Error> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if len > max {
            return Err(Error::InvalidArgument);
        }
        Ok(IpPrefix {
            addr: mask(addr, len),
            len,
        })
    }

    /// The network address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether this is a zero-length prefix (every address of its family).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `ip` lies in the prefix (never across address families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.len) == self.addr
    }
}

/// `ip` with all but the first `len` bits cleared.
fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Why a prefix did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixParseError(String);

impl fmt::Display for PrefixParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected ADDRESS/LENGTH such as 10.0.0.0/8 or fd00::/8, not {:?}",
            self.0
        )
    }
}

impl std::error::Error for PrefixParseError {}

impl FromStr for IpPrefix {
    type Err = PrefixParseError;

    /// `ADDRESS/LENGTH`; a bare address is a host prefix (/32 or /128).
    fn from_str(s: &str) -> Result<IpPrefix, PrefixParseError> {
        let bad = || PrefixParseError(s.to_owned());
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let len = match l {
            Some(l) => l.parse().map_err(|_| bad())?,
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        IpPrefix::new(addr, len).map_err(|_| bad())
    }
}

/// Which connections an any-destination listener takes: a destination in
/// one of `prefixes` and a destination port in `ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnyDestination {
    /// The destination prefixes (both families may be mixed).
    pub prefixes: Vec<IpPrefix>,
    /// The destination ports.
    pub ports: RangeInclusive<u16>,
}

impl AnyDestination {
    /// Every address of both families on every port.
    pub fn everything() -> AnyDestination {
        AnyDestination {
            prefixes: vec![
                IpPrefix {
                    addr: IpAddr::V4([0, 0, 0, 0].into()),
                    len: 0,
                },
                IpPrefix {
                    addr: IpAddr::V6([0u16; 8].into()),
                    len: 0,
                },
            ],
            ports: 1..=u16::MAX,
        }
    }

    /// Every port of the addresses in `prefixes`.
    pub fn prefixes(prefixes: Vec<IpPrefix>) -> AnyDestination {
        AnyDestination {
            prefixes,
            ports: 1..=u16::MAX,
        }
    }

    /// The longest of `prefixes` holding `local`'s address when `local`'s
    /// port is in range: how specific a match is (`None`: no match).
    fn best_match(&self, local: &SocketAddr) -> Option<u8> {
        if !self.ports.contains(&local.port()) {
            return None;
        }
        self.prefixes
            .iter()
            .filter(|p| p.contains(local.ip()))
            .map(IpPrefix::len)
            .max()
    }

    fn port_span(&self) -> u32 {
        u32::from(*self.ports.end()).saturating_sub(u32::from(*self.ports.start()))
    }
}

impl Stack {
    /// Listen on every destination `dest` names (passive OPEN of a
    /// transparent proxy): a SYN to any address of its prefixes and any
    /// port of its range is taken, with the same SYN queue (`syn_backlog`),
    /// accept queue (`backlog`) and SYN-cookie behaviour as [`Stack::listen`].
    /// The addresses need not be the stack's own: the client's packets are
    /// routed to the device, and each connection's local end
    /// ([`Stack::tuple`]) is the address and port the client dialled.
    /// A listener on the exact address and port, or on the unspecified
    /// address and the port, wins over this one; among any-destination
    /// listeners the longest matching prefix wins, then the narrowest range.
    ///
    /// Errors: `InvalidArgument` for a backlog of 0, no prefix, an empty port
    /// range, port 0 in it or invalid settings; `AddrInUse` when another
    /// any-destination listener has exactly the same prefixes and ports.
    pub fn listen_any(
        &mut self,
        dest: AnyDestination,
        backlog: usize,
        syn_backlog: usize,
        cfg: ConnConfig,
    ) -> Result<ListenerId, Error> {
        if backlog == 0
            || dest.prefixes.is_empty()
            || dest.ports.is_empty()
            || *dest.ports.start() == 0
            || !cfg.is_valid()
        {
            return Err(Error::InvalidArgument);
        }
        let taken = self.any_listeners.iter().any(|l| {
            self.listener(*l)
                .ok()
                .and_then(|x| x.any.as_deref())
                .is_some_and(|d| *d == dest)
        });
        if taken {
            return Err(Error::AddrInUse);
        }
        let family_any = if dest.prefixes.iter().all(|p| p.addr.is_ipv6()) {
            SocketAddr::from(([0u16; 8], 0))
        } else {
            SocketAddr::from(([0, 0, 0, 0], 0))
        };
        let mut listener = Listener::new(
            family_any,
            backlog,
            syn_backlog,
            self.shared_conn_config(cfg),
        );
        listener.any = Some(Box::new(dest));
        let id = self.install_listener(listener)?;
        self.any_listeners.push(id);
        Ok(id)
    }

    /// What an any-destination listener takes (`None` for an ordinary listener).
    pub fn listener_destination(&self, l: ListenerId) -> Result<Option<AnyDestination>, Error> {
        Ok(self.listener(l)?.any.as_deref().cloned())
    }

    /// The most specific any-destination listener that takes `local`.
    pub(super) fn find_any_listener(&self, local: &SocketAddr) -> Option<ListenerId> {
        let mut best: Option<(u8, std::cmp::Reverse<u32>, ListenerId)> = None;
        for &l in &self.any_listeners {
            let Some(d) = self.listener(l).ok().and_then(|x| x.any.as_deref()) else {
                continue;
            };
            if let Some(len) = d.best_match(local) {
                let key = (len, std::cmp::Reverse(d.port_span()), l);
                if best.is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
                    best = Some(key);
                }
            }
        }
        best.map(|b| b.2)
    }

    /// Forget a closed listener in the any-destination list.
    pub(super) fn forget_any_listener(&mut self, l: ListenerId) {
        self.any_listeners.retain(|x| *x != l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpPrefix {
        s.parse().expect("prefix")
    }

    #[test]
    fn prefixes_parse_clear_host_bits_and_contain_their_addresses() {
        assert_eq!(p("10.1.2.3/16").to_string(), "10.1.0.0/16");
        assert_eq!(p("10.1.2.3").to_string(), "10.1.2.3/32");
        assert_eq!(p("fd00::1/8").to_string(), "fd00::/8");
        assert_eq!(p("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert!(p("10.1.0.0/16").contains("10.1.255.9".parse().expect("ip")));
        assert!(!p("10.1.0.0/16").contains("10.2.0.1".parse().expect("ip")));
        assert!(!p("0.0.0.0/0").contains("::1".parse().expect("ip")));
        assert!(p("::/0").contains("fd00::7".parse().expect("ip")));
        assert!("10.0.0.0/33".parse::<IpPrefix>().is_err());
        assert!("fd00::/129".parse::<IpPrefix>().is_err());
        assert!("10.0.0/8".parse::<IpPrefix>().is_err());
    }

    #[test]
    fn the_longest_prefix_in_range_is_the_match() {
        let d = AnyDestination {
            prefixes: vec![p("10.0.0.0/8"), p("10.9.0.0/16")],
            ports: 80..=443,
        };
        let sa = |s: &str| s.parse::<SocketAddr>().expect("addr");
        assert_eq!(d.best_match(&sa("10.9.1.1:80")), Some(16));
        assert_eq!(d.best_match(&sa("10.8.1.1:443")), Some(8));
        assert_eq!(d.best_match(&sa("10.9.1.1:444")), None);
        assert_eq!(d.best_match(&sa("11.0.0.1:80")), None);
    }
}
