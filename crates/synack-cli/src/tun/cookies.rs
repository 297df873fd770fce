//! `synack tun connect --fastopen-cache FILE`: the Fast Open cookies a
//! client learned (RFC 7413 4.1.3), kept between runs.
//!
//! One line per server: its IP address and the cookie in hex, e.g.
//! `10.77.0.1 f3506b042cce1a42`. Blank lines and lines starting with `#`
//! are skipped; any other line that does not parse is an error naming the
//! file and the line, so a damaged cache is noticed rather than ignored.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use synack::FastOpenCookie;

/// The cookies of a cache file, by server address.
pub(super) type Cookies = BTreeMap<IpAddr, FastOpenCookie>;

/// Read the cache; a missing file is an empty cache.
pub(super) fn load(path: &Path) -> io::Result<Cookies> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Cookies::new()),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    parse(&text).map_err(|(line, why)| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}:{line}: {why}", path.display()),
        )
    })
}

/// Write the cache, one line per server, in address order.
pub(super) fn save(path: &Path, cookies: &Cookies) -> io::Result<()> {
    std::fs::write(path, format(cookies))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// The cookies of `text`, or the first bad line (1-based) and what is wrong.
fn parse(text: &str) -> Result<Cookies, (usize, String)> {
    let mut out = Cookies::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(ip), Some(hex), None) = (words.next(), words.next(), words.next()) else {
            return Err((i + 1, "expected `IP COOKIE-HEX`".to_owned()));
        };
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| (i + 1, format!("not an IP address: {ip:?}")))?;
        let cookie = parse_cookie(hex).ok_or_else(|| {
            (
                i + 1,
                format!("not a cookie (4 to 16 bytes, an even number, in hex): {hex:?}"),
            )
        })?;
        out.insert(ip, cookie);
    }
    Ok(out)
}

/// A cookie from hex digits: 4 to 16 bytes, an even number of them (RFC
/// 7413 4.1.1).
fn parse_cookie(hex: &str) -> Option<FastOpenCookie> {
    FastOpenCookie::from_hex(hex).filter(|c| c.is_valid_len())
}

fn format(cookies: &Cookies) -> String {
    cookies
        .iter()
        .map(|(ip, c)| format!("{ip} {c}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_reads_back_what_was_written() {
        let mut c = Cookies::new();
        let cookie = FastOpenCookie::new(&[0xf3, 0x50, 0x6b, 0x04, 0x2c, 0xce, 0x1a, 0x42]);
        let ip = IpAddr::from([10, 77, 0, 1]);
        c.insert(ip, cookie.expect("an 8-byte cookie"));
        let text = format(&c);
        assert_eq!(text, "10.77.0.1 f3506b042cce1a42\n");
        assert_eq!(parse(&text), Ok(c));
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let c = parse("# cookies\n\n  ::1 0011aabb  \n").expect("one cookie");
        let ip = IpAddr::from(std::net::Ipv6Addr::LOCALHOST);
        assert_eq!(
            c.get(&ip).map(|c| c.as_bytes()),
            Some(&[0, 0x11, 0xaa, 0xbb][..])
        );
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number() {
        let err = |text: &str| parse(text).expect_err("an error");
        assert_eq!(err("10.0.0.1 0011aabb\nnonsense").0, 2);
        assert!(err("10.0.0.300 0011aabb").1.contains("IP"));
        let long = "00".repeat(17);
        for bad in ["001", "00", "0011aabbx", "zz11aabb", long.as_str()] {
            let e = err(&format!("10.0.0.1 {bad}"));
            assert!(e.1.contains("not a cookie"), "{bad}: {e:?}");
        }
        assert!(parse("10.0.0.1 0011aabb extra").is_err());
    }
}
