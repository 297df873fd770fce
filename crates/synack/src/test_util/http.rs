//! A minimal HTTP/1.0 server response and client, enough for demos and
//! interop tests without an HTTP library.

use crate::{Runtime, TcpStream};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// Most bytes of request or response head read.
const MAX_HEAD: usize = 16 * 1024;

/// The page `serve_conn` answers with for `path`.
pub fn page(path: &str) -> Vec<u8> {
    format!("hello from synack\npath: {path}\n").into_bytes()
}

/// Read one request from `s` and answer it with [`page`]; returns the path.
pub fn serve_conn<S: Read + Write>(s: &mut S) -> io::Result<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "request ended early",
            ));
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut first = text.lines().next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("");
    let path = first.next().unwrap_or("/").to_owned();
    let (status, body) = if method == "GET" || method == "HEAD" {
        ("200 OK", page(&path))
    } else {
        ("405 Method Not Allowed", b"method not allowed\n".to_vec())
    };
    let resp = format!(
        "HTTP/1.0 {status}\r\nServer: synack\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(resp.as_bytes())?;
    if method != "HEAD" {
        s.write_all(&body)?;
    }
    Ok(path)
}

/// A parsed `http://IP:PORT/PATH` URL (the host must be an IP literal).
pub fn parse_url(url: &str) -> io::Result<(SocketAddr, String)> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not an http://IP[:PORT]/PATH URL: {url}"),
        )
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = match hostport.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => SocketAddr::new(hostport.parse().map_err(|_| bad())?, 80),
    };
    Ok((addr, path.to_owned()))
}

/// A response: status code, head, body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// The head as text.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
}

/// Split a raw response.
pub fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no end of response head"))?;
    let head = String::from_utf8_lossy(&raw[..split.0]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no status code"))?;
    Ok(Response {
        status,
        head,
        body: raw[split.1..].to_vec(),
    })
}

/// GET `url` over synack with HTTP/1.0 and read the whole response.
pub fn get(rt: &Runtime, url: &str, timeout: Duration) -> io::Result<Response> {
    let (addr, path) = parse_url(url)?;
    let mut s = TcpStream::connect_timeout(rt, &addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: synack\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw)
}
