//! The TCP Fast Open option (RFC 7413 4.1.1): kind 34, or the experimental
//! kind 254 with magic 0xF989 that Linux still understands (RFC 6994).

use core::fmt;

/// Option kind of Fast Open (RFC 7413 4.1.1).
pub const KIND: u8 = 34;
/// The shared experimental option kind (RFC 6994).
pub const KIND_EXPERIMENTAL: u8 = 254;
/// The experiment identifier of Fast Open under kind 254.
pub const EXPERIMENTAL_MAGIC: u16 = 0xF989;
/// The longest cookie (RFC 7413 4.1.1: at most 16 bytes).
pub const MAX_COOKIE_LEN: usize = 16;
/// The shortest cookie (RFC 7413 4.1.1: at least 4 bytes).
pub const MIN_COOKIE_LEN: usize = 4;

/// A Fast Open cookie as carried by the option: empty is a cookie request
/// (RFC 7413 4.1.1: "the option with an empty cookie"), else up to 16
/// bytes. A cookie of a length RFC 7413 forbids (odd, or under 4 bytes) is
/// kept as received; [`FastOpenCookie::is_valid_len`] says so and the
/// receiver decides (Linux treats it as no cookie).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FastOpenCookie {
    len: u8,
    bytes: [u8; MAX_COOKIE_LEN],
}

impl FastOpenCookie {
    /// The empty cookie: a cookie request.
    pub const REQUEST: FastOpenCookie = FastOpenCookie {
        len: 0,
        bytes: [0; MAX_COOKIE_LEN],
    };

    /// A cookie of these bytes; `None` when longer than 16 bytes.
    pub fn new(bytes: &[u8]) -> Option<FastOpenCookie> {
        let mut c = FastOpenCookie::REQUEST;
        c.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        c.len = bytes.len() as u8;
        Some(c)
    }

    /// A cookie from its hex digits, as `Display` writes it (an even count,
    /// at most 16 bytes; "" is a request). The length is not judged: see
    /// [`FastOpenCookie::is_valid_len`].
    pub fn from_hex(hex: &str) -> Option<FastOpenCookie> {
        if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut c = FastOpenCookie::REQUEST;
        let pairs = hex.as_bytes().chunks_exact(2);
        if pairs.len() > MAX_COOKIE_LEN {
            return None;
        }
        for (slot, pair) in c.bytes.iter_mut().zip(pairs) {
            let digits = std::str::from_utf8(pair).ok()?;
            *slot = u8::from_str_radix(digits, 16).ok()?;
        }
        c.len = (hex.len() / 2) as u8;
        Some(c)
    }

    /// The cookie's bytes (empty for a request).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Whether this is a cookie request (no cookie bytes).
    pub fn is_request(&self) -> bool {
        self.len == 0
    }

    /// Whether the length is one RFC 7413 4.1.1 allows for a cookie: even,
    /// 4 to 16 bytes.
    pub fn is_valid_len(&self) -> bool {
        let n = usize::from(self.len);
        (MIN_COOKIE_LEN..=MAX_COOKIE_LEN).contains(&n) && n % 2 == 0
    }
}

impl fmt::Debug for FastOpenCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_request() {
            return f.write_str("request");
        }
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Display for FastOpenCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The Fast Open option of a segment: a cookie (or request) in one of the
/// two encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FastOpenOption {
    /// The cookie; [`FastOpenCookie::REQUEST`] asks for one.
    pub cookie: FastOpenCookie,
    /// Carried as kind 254 with magic 0xF989 (RFC 6994), not kind 34.
    pub experimental: bool,
}

impl FastOpenOption {
    /// Bytes the option takes before padding: kind, length (and the
    /// magic for the experimental kind), then the cookie.
    pub fn raw_len(&self) -> usize {
        let head = if self.experimental { 4 } else { 2 };
        head + self.cookie.as_bytes().len()
    }

    /// Bytes it takes padded with NOPs to a multiple of 4, as Linux writes it.
    pub fn wire_len(&self) -> usize {
        (self.raw_len() + 3) & !3
    }

    /// Decode the body (after kind and length) of a kind-34 option; `None`
    /// when the cookie would be longer than 16 bytes.
    pub fn parse_rfc(body: &[u8]) -> Option<FastOpenOption> {
        Some(FastOpenOption {
            cookie: FastOpenCookie::new(body)?,
            experimental: false,
        })
    }

    /// Decode the body of a kind-254 option; `None` when it is not Fast
    /// Open's (another magic) or the cookie is too long.
    pub fn parse_experimental(body: &[u8]) -> Option<FastOpenOption> {
        match body {
            [a, b, rest @ ..] if u16::from_be_bytes([*a, *b]) == EXPERIMENTAL_MAGIC => {
                Some(FastOpenOption {
                    cookie: FastOpenCookie::new(rest)?,
                    experimental: true,
                })
            }
            _ => None,
        }
    }

    /// Write the option and its NOP padding into `buf[..self.wire_len()]`.
    ///
    /// # Panics
    /// If `buf` is shorter than [`FastOpenOption::wire_len`].
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let raw = self.raw_len();
        let mut at = 0;
        if self.experimental {
            let [m0, m1] = EXPERIMENTAL_MAGIC.to_be_bytes();
            buf[..4].copy_from_slice(&[KIND_EXPERIMENTAL, raw as u8, m0, m1]);
            at += 4;
        } else {
            buf[..2].copy_from_slice(&[KIND, raw as u8]);
            at += 2;
        }
        let c = self.cookie.as_bytes();
        buf[at..at + c.len()].copy_from_slice(c);
        at += c.len();
        let end = self.wire_len();
        buf[at..end].fill(1);
        end
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::FastOpenCookie;

    #[test]
    fn hex_reads_back_what_display_writes() {
        let c = FastOpenCookie::new(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]).unwrap();
        assert_eq!(FastOpenCookie::from_hex(&c.to_string()), Some(c));
        assert_eq!(FastOpenCookie::from_hex("DEADBEEF0001"), Some(c));
        assert_eq!(FastOpenCookie::from_hex(""), Some(FastOpenCookie::REQUEST));
    }

    #[test]
    fn hex_refuses_odd_foreign_or_long_text() {
        assert_eq!(FastOpenCookie::from_hex("abc"), None);
        assert_eq!(FastOpenCookie::from_hex("zz00"), None);
        assert_eq!(FastOpenCookie::from_hex("é0"), None);
        assert_eq!(FastOpenCookie::from_hex(&"00".repeat(17)), None);
        assert!(FastOpenCookie::from_hex(&"00".repeat(16)).is_some());
    }
}
