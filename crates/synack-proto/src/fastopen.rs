//! TCP Fast Open (RFC 7413): the public vocabulary (settings, keys, what a
//! connection reports), the server's cookie function and the client's
//! cookie cache.
//!
//! The server's cookie is Linux's: SipHash-2-4 of the client's and the
//! server's IP addresses (source then destination of the SYN, network byte
//! order) under a 128-bit key, the 64-bit result written little-endian, so
//! a synack server and a Linux server with the same key give a client the
//! same cookie (RFC 7413 4.1.2 leaves the function to the server).

use crate::crypto::{siphash, SipKey};
use crate::time::{Duration, Instant};
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use synack_wire::listed_enum;
pub use synack_wire::{FastOpenCookie, FastOpenOption};

/// Stack-wide Fast Open settings, Linux's `net.ipv4.tcp_fastopen` bits and
/// its companions. All off by default: Fast Open is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastOpenConfig {
    /// Clients may send data on the SYN (`0x1`): [`crate::Stack::connect_fast_open`]
    /// asks for a cookie, caches it per destination and uses it next time.
    pub client: bool,
    /// Listeners may be Fast Open servers (`0x2`): a listener with a Fast
    /// Open queue ([`crate::Stack::set_listener_fast_open`]) hands out cookies
    /// and takes data on a SYN with a valid one.
    pub server: bool,
    /// Clients send data on the SYN even without a cookie (`0x4`).
    pub client_no_cookie: bool,
    /// Servers take data on a SYN without a cookie (`0x200`; RFC 7413 4.1.2
    /// allows it where the application tolerates replayed SYNs).
    pub server_no_cookie: bool,
    /// Every listener is a Fast Open server with this queue length even
    /// without its own setting (`0x400`; Linux uses the backlog).
    pub server_default_queue: Option<usize>,
    /// Most destinations whose cookie the client remembers (the oldest is
    /// forgotten first).
    pub max_cached_cookies: usize,
    /// After a Fast Open connection looked blackholed (RFC 7413 7: a
    /// middlebox dropping SYNs with data or the option), the client sends
    /// no data on SYNs for this long, doubling on each repeat
    /// (`tcp_fastopen_blackhole_timeout_sec`, 0 in current Linux: `None`).
    pub blackhole_timeout: Option<Duration>,
}

impl Default for FastOpenConfig {
    fn default() -> Self {
        FastOpenConfig {
            client: false,
            server: false,
            client_no_cookie: false,
            server_no_cookie: false,
            server_default_queue: None,
            max_cached_cookies: 1024,
            blackhole_timeout: None,
        }
    }
}

impl FastOpenConfig {
    /// The settings Linux's `net.ipv4.tcp_fastopen` value stands for (bits
    /// other than 0x1, 0x2, 0x4, 0x200 and 0x400 are ignored); `backlog` is
    /// the queue that 0x400 gives a listener without its own.
    pub fn from_linux_bits(bits: u32, backlog: usize) -> FastOpenConfig {
        FastOpenConfig {
            client: bits & 0x1 != 0,
            server: bits & 0x2 != 0,
            client_no_cookie: bits & 0x4 != 0,
            server_no_cookie: bits & 0x200 != 0,
            server_default_queue: (bits & 0x400 != 0).then_some(backlog),
            ..FastOpenConfig::default()
        }
    }
}

/// A server's 128-bit cookie key, in Linux's byte order: the 16 bytes of
/// `TCP_FASTOPEN_KEY`, or the four 32-bit words of the
/// `net.ipv4.tcp_fastopen_key` sysctl each stored little-endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FastOpenKey(pub [u8; 16]);

impl FastOpenKey {
    /// A fresh key from the operating system's random source.
    #[cfg(feature = "os-random")]
    pub fn from_os() -> Result<FastOpenKey, crate::secrets::SecretsError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(crate::secrets::SecretsError::from)?;
        Ok(FastOpenKey(b))
    }

    /// The key the sysctl text `a0bf63f7-ed803d81-cd641d30-cebc4a90` names.
    pub fn from_linux_words(words: [u32; 4]) -> FastOpenKey {
        let mut b = [0u8; 16];
        for (i, w) in words.iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        FastOpenKey(b)
    }

    /// The four words as the sysctl shows them.
    pub fn linux_words(&self) -> [u32; 4] {
        let mut w = [0u32; 4];
        for (i, c) in self.0.chunks_exact(4).enumerate() {
            w[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        w
    }

    pub(crate) fn sip(&self) -> SipKey {
        let (a, b) = self.0.split_at(8);
        let word = |s: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(s);
            u64::from_le_bytes(w)
        };
        SipKey(word(a), word(b))
    }
}

impl fmt::Debug for FastOpenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FastOpenKey(<redacted>)")
    }
}

/// A server's keys: cookies are made with `primary`; one made with `backup`
/// (the key before the last rotation) is still accepted, so rotating never
/// fails a client holding a cookie from just before (as Linux keeps two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FastOpenKeys {
    /// Makes and checks cookies.
    pub primary: FastOpenKey,
    /// Only checks them.
    pub backup: Option<FastOpenKey>,
}

/// The cookie `key` gives a client at `client` talking to `server`
/// (RFC 7413 4.1.2), 8 bytes; `None` when the families differ.
pub fn make_cookie(key: &FastOpenKey, client: IpAddr, server: IpAddr) -> Option<FastOpenCookie> {
    let mut words = [0u64; 4];
    let n = match (client, server) {
        (IpAddr::V4(c), IpAddr::V4(s)) => {
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&c.octets());
            b[4..].copy_from_slice(&s.octets());
            words[0] = u64::from_le_bytes(b);
            1
        }
        (IpAddr::V6(c), IpAddr::V6(s)) => {
            let mut b = [0u8; 32];
            b[..16].copy_from_slice(&c.octets());
            b[16..].copy_from_slice(&s.octets());
            for (w, c) in words.iter_mut().zip(b.chunks_exact(8)) {
                let mut x = [0u8; 8];
                x.copy_from_slice(c);
                *w = u64::from_le_bytes(x);
            }
            4
        }
        _ => return None,
    };
    FastOpenCookie::new(&siphash(key.sip(), &words[..n]).to_le_bytes())
}

impl FastOpenKeys {
    /// Whether `cookie` is one of these keys' for the pair (RFC 7413 4.1.2:
    /// the server checks the cookie by computing it again).
    pub fn check(&self, cookie: &FastOpenCookie, client: IpAddr, server: IpAddr) -> bool {
        let ok = |k: &FastOpenKey| make_cookie(k, client, server).as_ref() == Some(cookie);
        ok(&self.primary) || self.backup.as_ref().is_some_and(ok)
    }
}

listed_enum! {
    /// Why a connection did not use Fast Open, or used it only in part.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum FastOpenMiss {
        /// Client: no cookie was cached for the destination, so the SYN
        /// asked for one and carried no data (RFC 7413 4.1.1; Linux's
        /// `TFO_COOKIE_UNAVAILABLE`).
        CookieRequested,
        /// Client: the SYN,ACK acknowledged the SYN but not its data, which
        /// went again after the handshake (RFC 7413 4.2.2; `TFO_DATA_NOT_ACKED`).
        DataNotAcked,
        /// Client: the SYN with data timed out and was sent again without it
        /// (RFC 7413 4.2.2; `TFO_SYN_RETRANSMITTED`).
        SynRetransmitted,
        /// Client: Fast Open is paused after a suspected blackhole (RFC 7413 7).
        Blackholed,
        /// Client: Fast Open is off in [`FastOpenConfig::client`].
        ClientDisabled,
        /// Server: the SYN carried data but no cookie (RFC 7413 4.2.2: a
        /// normal handshake, the data dropped and a cookie offered).
        NoCookie,
        /// Server: the cookie did not validate under either key.
        InvalidCookie,
        /// Server: the listener's Fast Open queue was full (RFC 7413 5.1).
        QueueFull,
        /// Server: the SYN was answered with a SYN cookie, which keeps no
        /// state for SYN data (RFC 7413 5: under a flood the server may
        /// disable Fast Open).
        SynCookie,
        /// Server: the listener is not a Fast Open server.
        ServerDisabled,
    }
}

impl FastOpenMiss {
    /// Linux's `tcpi_fastopen_client_fail` value: 1 cookie unavailable, 2
    /// data not acknowledged, 3 SYN retransmitted, else 0.
    pub fn linux_client_fail(self) -> u8 {
        match self {
            FastOpenMiss::CookieRequested => 1,
            FastOpenMiss::DataNotAcked => 2,
            FastOpenMiss::SynRetransmitted => 3,
            _ => 0,
        }
    }
}

/// Whether and how a connection used Fast Open, for [`crate::ConnStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FastOpenStatus {
    /// Neither end tried (a plain connect, or no option on the SYN).
    #[default]
    NotTried,
    /// Data on the SYN was taken: a client whose SYN's data the SYN,ACK
    /// acknowledged, a server that accepted it (Linux's `TCPI_OPT_SYN_DATA`).
    Used,
    /// Tried or asked for, and not used, with why.
    NotUsed(FastOpenMiss),
}

impl FastOpenStatus {
    /// Linux's `TCPI_OPT_SYN_DATA` bit.
    pub fn syn_data_acked(self) -> bool {
        self == FastOpenStatus::Used
    }
}

/// What the client remembers of a destination (Linux keeps it in its TCP
/// metrics): the cookie, its encoding, and the MSS the server last gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CachedCookie {
    pub(crate) cookie: FastOpenCookie,
    pub(crate) experimental: bool,
    pub(crate) mss: Option<u16>,
    pub(crate) stamp: u64,
}

/// The client's cookie cache, per destination IP address (RFC 7413 4.1.3:
/// "the client caches the cookie ... with the server IP"), bounded.
#[derive(Debug, Default)]
pub(crate) struct CookieCache {
    map: HashMap<IpAddr, CachedCookie>,
    clock: u64,
    /// The last suspected blackhole and how many came in a row (Linux's
    /// `tfo_active_disable_stamp` and `tfo_active_disable_times`).
    pub(crate) blackhole: Option<(Instant, u32)>,
}

impl CookieCache {
    pub(crate) fn get(&self, dst: IpAddr) -> Option<CachedCookie> {
        self.map.get(&dst).copied()
    }

    /// Remember (or with `None` forget) what `dst` gave; the oldest entry
    /// goes when `max` would be exceeded.
    pub(crate) fn put(&mut self, dst: IpAddr, entry: Option<CachedCookie>, max: usize) {
        let Some(mut e) = entry else {
            self.map.remove(&dst);
            return;
        };
        self.clock += 1;
        e.stamp = self.clock;
        if !self.map.contains_key(&dst) && self.map.len() >= max {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, v)| v.stamp)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.map.remove(&k);
            }
        }
        if max > 0 {
            self.map.insert(dst, e);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }

    /// Whether client Fast Open is paused at `now`: for `timeout` after a
    /// suspected blackhole, doubled for each one in a row up to 64 times
    /// (Linux's `tcp_fastopen_active_should_disable`).
    pub(crate) fn paused(&self, now: Instant, timeout: Option<Duration>) -> bool {
        let (Some(t), Some((stamp, times))) = (timeout, self.blackhole) else {
            return false;
        };
        let factor = 1u32 << times.saturating_sub(1).min(6);
        now < stamp + t * factor
    }

    /// A Fast Open connection looked blackholed at `now`.
    pub(crate) fn blackholed(&mut self, now: Instant) {
        let times = self.blackhole.map_or(0, |(_, n)| n);
        self.blackhole = Some((now, times.saturating_add(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cookies Linux gives for its documented keys and addresses.
    #[test]
    fn cookies_match_linux() {
        let key = FastOpenKey::from_linux_words([0xa0bf63f7, 0xed803d81, 0xcd641d30, 0xcebc4a90]);
        let c = make_cookie(&key, [10, 248, 0, 2].into(), [192, 168, 0, 2].into());
        assert_eq!(
            c.map(|c| c.to_string()).as_deref(),
            Some("00abaaabe8e954c2")
        );
        let key = FastOpenKey::from_linux_words([0xa1a1a1a1, 0xb2b2b2b2, 0xc3c3c3c3, 0xd4d4d4d4]);
        let c = make_cookie(&key, [192, 0, 2, 1].into(), [192, 168, 0, 1].into());
        assert_eq!(
            c.map(|c| c.to_string()).as_deref(),
            Some("3021b9d889017eeb")
        );
        let zero = FastOpenKey::default();
        let c = make_cookie(&zero, [10, 248, 0, 2].into(), [192, 168, 0, 2].into());
        assert_eq!(
            c.map(|c| c.to_string()).as_deref(),
            Some("93b7aa4f550f8a1a")
        );
    }

    #[test]
    fn the_backup_key_still_validates() {
        let old = FastOpenKey([1; 16]);
        let new = FastOpenKey([2; 16]);
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let cookie = make_cookie(&old, a, b).expect("same family");
        let rotated = FastOpenKeys {
            primary: new,
            backup: Some(old),
        };
        assert!(rotated.check(&cookie, a, b));
        let forgotten = FastOpenKeys {
            primary: new,
            backup: None,
        };
        assert!(!forgotten.check(&cookie, a, b));
    }
}
