//! Bulk throughput: one connection, one thread, in memory.
//!
//! The application on each side copies: the sender hands `send` slices of the
//! pattern (copied into the stack's send buffer), the receiver reads into its
//! own 64 KiB buffer and compares every byte with the pattern. Both stacks
//! compute the TCP (and IPv4 header) checksum on transmit and verify it on
//! receive. The bound does, for the same bytes and the same segment size, only
//! what any stack must: copy into the send buffer, copy into the segment,
//! checksum it on send, checksum it on receive, copy it out to the
//! application; plus the same application compare.

use crate::pattern::{Pattern, CHUNK};
use crate::{smol_pair, synack_pair};
use smoltcp::socket::tcp;
use std::hint::black_box;
use std::time::{Duration, Instant};
use synack_proto::Error;

/// One timed transfer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// Wall time of the transfer.
    pub(crate) elapsed: Duration,
    /// Packets that crossed the link (both directions).
    pub(crate) packets: u64,
    /// Times the link went quiet and the clock jumped to a timer.
    pub(crate) timer_jumps: u64,
}

/// Gigabits per second for `bytes` in `run`.
pub(crate) fn gbps(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e9
}

/// synack: move `total` bytes from client to server at `mtu`.
pub(crate) fn synack(mtu: u16, total: u64, pat: &Pattern) -> Result<Run, String> {
    let e = |e: Error| format!("synack bulk: {e}");
    let mut p = synack_pair::Pair::new(synack_pair::config(mtu));
    let l = p
        .server
        .listen(synack_pair::server_addr(5001), 16)
        .map_err(e)?;
    let c = p
        .client
        .connect(p.now, None, synack_pair::server_addr(5001))
        .map_err(e)?;
    p.pump();
    let s = p.server.accept(l).map_err(e)?;
    let mut rbuf = vec![0u8; CHUNK];
    let (packets0, jumps0) = (p.packets, p.timer_jumps);
    let t0 = Instant::now();
    let (mut sent, mut recvd) = (0u64, 0u64);
    while recvd < total {
        let mut progress = false;
        while sent < total {
            let n = (total - sent).min(CHUNK as u64) as usize;
            match p.client.send(p.now, c, pat.slice(sent, n)) {
                Ok(k) => {
                    sent += k as u64;
                    progress = true;
                }
                Err(Error::WouldBlock) => break,
                Err(x) => return Err(e(x)),
            }
        }
        p.pump();
        loop {
            match p.server.recv(p.now, s, &mut rbuf) {
                Ok(0) => return Err("synack bulk: early end of stream".into()),
                Ok(n) => {
                    if !pat.check(recvd, &rbuf[..n]) {
                        return Err(format!("synack bulk: wrong bytes at offset {recvd}"));
                    }
                    recvd += n as u64;
                    progress = true;
                }
                Err(Error::WouldBlock) => break,
                Err(x) => return Err(e(x)),
            }
        }
        if !progress && !p.advance() {
            return Err("synack bulk: stalled with no timer".into());
        }
    }
    let elapsed = t0.elapsed();
    // The stream ends where it should: close, and the reader sees end of stream.
    p.client.close(p.now, c).map_err(e)?;
    p.settle("end of stream", |p| {
        matches!(p.server.recv(p.now, s, &mut [0u8; 1]), Ok(0))
    })?;
    Ok(Run {
        elapsed,
        packets: p.packets - packets0,
        timer_jumps: p.timer_jumps - jumps0,
    })
}

/// smoltcp: the same transfer over the equivalent link.
pub(crate) fn smoltcp(mtu: u16, total: u64, pat: &Pattern) -> Result<Run, String> {
    let mut p = smol_pair::Pair::new(usize::from(mtu));
    let server = {
        let mut s = smol_pair::socket(synack_pair::SOCKET_BUFFER);
        s.listen(5001).map_err(|e| format!("smoltcp listen: {e}"))?;
        p.ss.add(s)
    };
    let client = p.cs.add(smol_pair::socket(synack_pair::SOCKET_BUFFER));
    let cx = p.ci.context();
    p.cs.get_mut::<tcp::Socket>(client)
        .connect(cx, (smol_pair::SERVER, 5001), 49152)
        .map_err(|e| format!("smoltcp connect: {e}"))?;
    p.settle("handshake", |p| {
        p.csock(client).state() == tcp::State::Established
            && p.ssock(server).state() == tcp::State::Established
    })?;
    let mut rbuf = vec![0u8; CHUNK];
    let (packets0, jumps0) = (p.packets, p.timer_jumps);
    let t0 = Instant::now();
    let (mut sent, mut recvd) = (0u64, 0u64);
    while recvd < total {
        let mut progress = false;
        {
            let sock = p.csock(client);
            while sent < total && sock.can_send() {
                let n = (total - sent).min(CHUNK as u64) as usize;
                let k = sock
                    .send_slice(pat.slice(sent, n))
                    .map_err(|e| format!("smoltcp send: {e}"))?;
                if k == 0 {
                    break;
                }
                sent += k as u64;
                progress = true;
            }
        }
        p.pump();
        {
            let sock = p.ssock(server);
            while sock.can_recv() {
                let n = sock
                    .recv_slice(&mut rbuf)
                    .map_err(|e| format!("smoltcp recv: {e}"))?;
                if n == 0 {
                    break;
                }
                if !pat.check(recvd, &rbuf[..n]) {
                    return Err(format!("smoltcp bulk: wrong bytes at offset {recvd}"));
                }
                recvd += n as u64;
                progress = true;
            }
        }
        if !progress && !p.advance() {
            return Err("smoltcp bulk: stalled with no timer".into());
        }
    }
    let elapsed = t0.elapsed();
    p.csock(client).close();
    p.settle("end of stream", |p| !p.ssock(server).may_recv())?;
    Ok(Run {
        elapsed,
        packets: p.packets - packets0,
        timer_jumps: p.timer_jumps - jumps0,
    })
}

/// The physical bound: for `total` bytes in `mss`-byte segments, only the
/// copies and checksums any stack must do, plus the application's compare.
pub(crate) fn bound(mss: usize, total: u64, pat: &Pattern) -> Result<Run, String> {
    const HEADERS: usize = 40; // IPv4 + TCP without options
    let mut sndbuf = vec![0u8; CHUNK];
    let mut seg = vec![0u8; HEADERS + mss];
    let mut app = vec![0u8; CHUNK];
    let t0 = Instant::now();
    let mut pos = 0u64;
    let mut packets = 0u64;
    while pos < total {
        let n = (total - pos).min(CHUNK as u64) as usize;
        // Application into the send buffer.
        sndbuf[..n].copy_from_slice(pat.slice(pos, n));
        black_box(&mut sndbuf);
        let mut i = 0;
        while i < n {
            let k = mss.min(n - i);
            // Send buffer into the segment, checksummed (TCP header and payload).
            seg[HEADERS..HEADERS + k].copy_from_slice(&sndbuf[i..i + k]);
            let sent = synack_wire::checksum::checksum(0, black_box(&seg[20..HEADERS + k]));
            // The receiver verifies the checksum ...
            let got = synack_wire::checksum::sum(0, black_box(&seg[20..HEADERS + k]));
            black_box((sent, got));
            // ... and the application copies the payload out.
            app[i..i + k].copy_from_slice(&seg[HEADERS..HEADERS + k]);
            black_box(&mut app);
            i += k;
            packets += 1;
        }
        if !pat.check(pos, &app[..n]) {
            return Err("bound: wrong bytes".into());
        }
        pos += n as u64;
    }
    Ok(Run {
        elapsed: t0.elapsed(),
        packets,
        timer_jumps: 0,
    })
}
