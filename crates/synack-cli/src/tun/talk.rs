//! `synack tun serve`, `connect` and `get`: synack on a TUN device the
//! command opens, against whatever the kernel routes to it.

use super::{cookies, http, open_runtime, ConnectArgs, GetArgs, ServeArgs, ServeKind};
use clap::ValueEnum;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;
use synack::{
    ConnectOptions, FastOpenMiss, FastOpenStatus, ListenOptions, Runtime, TcpListener, TcpStream,
    DEFAULT_FASTOPEN_QUEUE,
};

/// How long `connect` and `get` wait for the handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `connect --fastopen`: standard input that arrives this soon after the
/// command starts reading it rides on the SYN; the SYN does not wait longer.
const STDIN_READY: Duration = Duration::from_millis(50);

pub(super) fn serve(a: &ServeArgs) -> io::Result<()> {
    let port = a.port.unwrap_or(match a.kind {
        ServeKind::Echo => 7,
        ServeKind::Discard => 9,
        ServeKind::Http => 80,
    });
    let rt = open_runtime(&a.device)?;
    let addr = a.device.addr.addr;
    let opts = ListenOptions {
        fast_open: a
            .fastopen
            .map(|q| q.map_or(DEFAULT_FASTOPEN_QUEUE, |q| q as usize)),
        ..ListenOptions::default()
    };
    let l = TcpListener::bind_with(&rt, SocketAddr::new(IpAddr::V4(addr), port), opts)?;
    let kind = a.kind;
    let name = kind.to_possible_value().map(|v| v.get_name().to_owned());
    let fo = match opts.fast_open {
        Some(q) => format!(" with Fast Open (queue {q})"),
        None => String::new(),
    };
    eprintln!(
        "synack tun: serving {} on {addr}:{port}{fo}",
        name.unwrap_or_default()
    );
    let mut served = 0usize;
    while a.count.is_none_or(|c| served < c) {
        let (mut s, peer) = l.accept()?;
        served += 1;
        match opts.fast_open {
            Some(_) => eprintln!(
                "synack tun: connection from {peer} (Fast Open: {})",
                fast_open_text(s.fast_open()?)
            ),
            None => eprintln!("synack tun: connection from {peer}"),
        }
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
    let stdin = read_stdin();
    let s = if a.fastopen {
        connect_fast_open(&rt, a, &stdin)?
    } else {
        TcpStream::connect_timeout(&rt, &a.target, CONNECT_TIMEOUT)?
    };
    let s = Arc::new(s);
    eprintln!(
        "synack tun: connected to {} from {}",
        a.target,
        s.local_addr()?
    );
    if a.fastopen {
        eprintln!("synack tun: Fast Open: {}", fast_open_text(s.fast_open()?));
    }
    let up = Arc::clone(&s);
    // Not joined (nor is the reader): a read of standard input cannot be
    // interrupted, and the command must not wait for it once the peer is done.
    std::thread::spawn(move || {
        for chunk in stdin {
            if (&*up).write_all(&chunk).is_err() {
                break;
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

/// Standard input, read on a thread of its own, in the chunks each read
/// returned; the channel ends with it (or a read error).
fn read_stdin() -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::sync_channel(4);
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; 16384];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

pub(super) fn get(a: &GetArgs) -> io::Result<()> {
    let rt = open_runtime(&a.device)?;
    let r = http::get(&rt, &a.url, CONNECT_TIMEOUT)?;
    eprintln!("{}", r.head);
    io::stdout().write_all(&r.body)?;
    Ok(())
}

/// `connect --fastopen`: what standard input has ready when the
/// connection opens (its first read, if it returns within [`STDIN_READY`])
/// goes on the SYN (RFC 7413 4.2.1) when a cookie for the peer is cached,
/// from `--fastopen-cache` or an earlier connection; with nothing ready the
/// SYN goes without data. The peer's cookie is saved back to the file
/// afterwards.
fn connect_fast_open(
    rt: &Runtime,
    a: &ConnectArgs,
    stdin: &Receiver<Vec<u8>>,
) -> io::Result<TcpStream> {
    let peer = a.target.ip();
    if let Some(path) = &a.fastopen_cache {
        if let Some(c) = cookies::load(path)?.get(&peer) {
            rt.set_fast_open_cookie(peer, Some(*c));
        }
    }
    let first = stdin.recv_timeout(STDIN_READY).unwrap_or_default();
    let opts = ConnectOptions {
        timeout: Some(CONNECT_TIMEOUT),
        ..ConnectOptions::default()
    };
    let s = TcpStream::connect_with_data(rt, a.target, opts, &first)?;
    if let Some(path) = &a.fastopen_cache {
        let mut all = cookies::load(path)?;
        match rt.fast_open_cookie(peer) {
            Some(c) if !c.is_request() => all.insert(peer, c),
            _ => all.remove(&peer),
        };
        cookies::save(path, &all)?;
    }
    Ok(s)
}

/// How a connection fared with Fast Open, in a few words.
fn fast_open_text(st: FastOpenStatus) -> &'static str {
    match st {
        FastOpenStatus::Used => "used, data on the SYN",
        FastOpenStatus::NotTried => "not tried",
        FastOpenStatus::NotUsed(m) => match m {
            FastOpenMiss::CookieRequested => "not used, a cookie was asked for",
            FastOpenMiss::DataNotAcked => "not used, the SYN's data was not acknowledged",
            FastOpenMiss::SynRetransmitted => "not used, the SYN was sent again without data",
            FastOpenMiss::Blackholed => "not used, paused after a suspected blackhole",
            FastOpenMiss::ClientDisabled => "not used, off on this client",
            FastOpenMiss::NoCookie => "not used, no cookie on the SYN: one was offered",
            FastOpenMiss::InvalidCookie => "not used, invalid cookie: a fresh one was offered",
            FastOpenMiss::QueueFull => "not used, the Fast Open queue was full",
            FastOpenMiss::SynCookie => "not used, answered with a SYN cookie",
            FastOpenMiss::ServerDisabled => "not used, not a Fast Open listener",
            _ => "not used",
        },
    }
}
