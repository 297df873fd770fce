//! The stack's secret keys: the RFC 6528 ISN function, the RFC 4987 SYN-cookie
//! MAC, the RFC 7323 timestamp offsets and the RFC 6056 ephemeral-port choice.
//!
//! Each is a 128-bit SipHash key. Anyone who learns them can predict the
//! stack's initial sequence numbers (and so inject data into its connections
//! blind) and forge SYN cookies (and so open connections that skip the
//! handshake). They must therefore come from a cryptographically secure
//! random source: [`Secrets::from_os`] reads the operating system's, and
//! [`Secrets::from_bytes`] takes 64 bytes from any other (a unikernel's RNG,
//! a hardware TRNG). [`Secrets::deterministic`] exists for the simulator, the
//! conformance runner and tests, which must repeat a run exactly; it is
//! insecure on a real network and says so in its name's documentation.
//!
//! The core never draws randomness itself (it stays sans-IO and exact under
//! simulation): rotation is a call that hands it fresh keys, see
//! [`crate::Stack::rotate_cookie_secret`] and [`crate::Stack::rotate_isn_secret`].

use crate::crypto::SipKey;
use std::fmt;

/// 128 bits of key material for one of the stack's keyed functions.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretKey([u8; 16]);

impl SecretKey {
    /// A key from 16 bytes of secure random data.
    pub fn from_bytes(bytes: [u8; 16]) -> SecretKey {
        SecretKey(bytes)
    }

    /// A fresh key from the operating system's random source.
    #[cfg(feature = "os-random")]
    pub fn from_os() -> Result<SecretKey, SecretsError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(SecretsError::from)?;
        Ok(SecretKey(b))
    }

    pub(crate) fn sip(self) -> SipKey {
        let (a, b) = self.0.split_at(8);
        let word = |s: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(s);
            u64::from_le_bytes(w)
        };
        SipKey(word(a), word(b))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The operating system's random source could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsError {
    /// What the random source reported.
    pub detail: String,
}

impl fmt::Display for SecretsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot read the operating system's random source for the stack's secrets: {}",
            self.detail
        )
    }
}

impl std::error::Error for SecretsError {}

#[cfg(feature = "os-random")]
impl From<getrandom::Error> for SecretsError {
    fn from(e: getrandom::Error) -> SecretsError {
        SecretsError {
            detail: e.to_string(),
        }
    }
}

/// The four keys a [`crate::Stack`] hashes with. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    pub(crate) isn: SipKey,
    pub(crate) cookie: SipKey,
    pub(crate) ts: SipKey,
    pub(crate) port: SipKey,
}

impl Secrets {
    /// Fresh keys from the operating system's random source (`getrandom`):
    /// what every stack on a real network should use.
    #[cfg(feature = "os-random")]
    pub fn from_os() -> Result<Secrets, SecretsError> {
        let mut b = [0u8; 64];
        getrandom::fill(&mut b).map_err(SecretsError::from)?;
        Ok(Secrets::from_bytes(&b))
    }

    /// Keys from 64 bytes that the caller drew from a cryptographically
    /// secure random source (for platforms without `getrandom`).
    pub fn from_bytes(bytes: &[u8; 64]) -> Secrets {
        let key = |i: usize| {
            let mut k = [0u8; 16];
            k.copy_from_slice(&bytes[i * 16..(i + 1) * 16]);
            SecretKey(k).sip()
        };
        Secrets {
            isn: key(0),
            cookie: key(1),
            ts: key(2),
            port: key(3),
        }
    }

    /// **Insecure on a real network.** Keys stretched from one 64-bit number,
    /// so the same seed repeats every ISN, cookie, timestamp offset and port:
    /// what the simulator, the conformance runner, benchmarks and tests need.
    /// Anyone who guesses the seed predicts the stack's ISNs and forges its
    /// SYN cookies (RFC 6528 3, RFC 4987 3.6), so never use it for traffic
    /// that leaves a test.
    pub fn deterministic(seed: u64) -> Secrets {
        Secrets {
            isn: SipKey::from_seed(seed, 1),
            cookie: SipKey::from_seed(seed, 2),
            ts: SipKey::from_seed(seed, 4),
            port: SipKey(seed, 3),
        }
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_material() {
        let s = Secrets::from_bytes(&[0xab; 64]);
        assert_eq!(format!("{s:?}"), "Secrets(<redacted>)");
        let k = SecretKey::from_bytes([0xab; 16]);
        assert_eq!(format!("{k:?}"), "SecretKey(<redacted>)");
    }

    #[test]
    fn from_bytes_uses_each_quarter_for_its_own_key() {
        let mut b = [0u8; 64];
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i / 16) as u8 + 1;
        }
        let s = Secrets::from_bytes(&b);
        let keys = [s.isn, s.cookie, s.ts, s.port];
        for (i, k) in keys.iter().enumerate() {
            let w = u64::from_le_bytes([(i + 1) as u8; 8]);
            assert_eq!(*k, SipKey(w, w), "key {i}");
        }
    }

    #[cfg(feature = "os-random")]
    #[test]
    fn two_draws_from_the_os_differ() {
        let a = Secrets::from_os().expect("os random");
        let b = Secrets::from_os().expect("os random");
        assert!(a != b);
        assert!(a.isn != a.cookie && a.cookie != a.ts && a.ts != a.port);
    }
}
