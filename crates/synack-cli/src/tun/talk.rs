//! `synack tun serve`, `connect` and `get`: synack on a TUN device the
//! command opens, against whatever the kernel routes to it.

use super::{http, open_runtime, ConnectArgs, GetArgs, ServeArgs, ServeKind};
use clap::ValueEnum;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use synack::{TcpListener, TcpStream};

/// How long `connect` and `get` wait for the handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn serve(a: &ServeArgs) -> io::Result<()> {
    let port = a.port.unwrap_or(match a.kind {
        ServeKind::Echo => 7,
        ServeKind::Discard => 9,
        ServeKind::Http => 80,
    });
    let rt = open_runtime(&a.device)?;
    let addr = a.device.addr.addr;
    let l = TcpListener::bind(&rt, SocketAddr::new(IpAddr::V4(addr), port))?;
    let kind = a.kind;
    let name = kind.to_possible_value().map(|v| v.get_name().to_owned());
    eprintln!(
        "synack tun: serving {} on {addr}:{port}",
        name.unwrap_or_default()
    );
    let mut served = 0usize;
    while a.count.is_none_or(|c| served < c) {
        let (mut s, peer) = l.accept()?;
        served += 1;
        eprintln!("synack tun: connection from {peer}");
        let h = std::thread::spawn(move || serve_conn(kind, &mut s));
        if a.count.is_some() {
            let _ = h.join();
        }
    }
    Ok(())
}

fn serve_conn(kind: ServeKind, s: &mut TcpStream) -> io::Result<()> {
    match kind {
        ServeKind::Http => http::serve_conn(s).map(|_| ()),
        ServeKind::Echo => {
            let mut buf = vec![0u8; 65536];
            loop {
                let n = s.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                s.write_all(&buf[..n])?;
            }
        }
        ServeKind::Discard => io::copy(s, &mut io::sink()).map(|_| ()),
    }
}

/// Like ncat: standard input goes to the peer (its end becomes our FIN),
/// what the peer sends goes to standard output, and the command ends once
/// the peer has closed its side and all of that has been written out, even
/// while standard input is still open.
pub(super) fn connect(a: &ConnectArgs) -> io::Result<()> {
    let rt = open_runtime(&a.device)?;
    let s = Arc::new(TcpStream::connect_timeout(&rt, &a.target, CONNECT_TIMEOUT)?);
    eprintln!(
        "synack tun: connected to {} from {}",
        a.target,
        s.local_addr()?
    );
    let up = Arc::clone(&s);
    // Not joined: a read of standard input cannot be interrupted, and the
    // command must not wait for it once the peer is done.
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; 16384];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if (&*up).write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = up.shutdown(Shutdown::Write);
    });
    let mut out = io::stdout().lock();
    io::copy(&mut &*s, &mut out)?;
    out.flush()?;
    // Our FIN, whatever standard input is doing; dropping the runtime then
    // waits (up to its linger) for the closing handshake.
    let _ = s.shutdown(Shutdown::Write);
    drop(rt);
    Ok(())
}

pub(super) fn get(a: &GetArgs) -> io::Result<()> {
    let rt = open_runtime(&a.device)?;
    let r = http::get(&rt, &a.url, CONNECT_TIMEOUT)?;
    eprintln!("{}", r.head);
    io::stdout().write_all(&r.body)?;
    Ok(())
}
