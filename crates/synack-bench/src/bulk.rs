//! Bulk throughput: one connection, one thread, in memory.
//!
//! The application on each side copies: the sender hands `send` slices of the
//! pattern (copied into the stack's send buffer), the receiver reads into its
//! own 64 KiB buffer and compares every byte with the pattern. Both stacks
//! compute the TCP (and IPv4 header) checksum on transmit and verify it on
//! receive; before each timed run, segments with a flipped payload bit show
//! that the receiver drops them (`integrity`). The bound does, for the same bytes and the same segment size, only
//! what any stack must: copy into the send buffer, copy into the segment,
//! checksum it on send, checksum it on receive, copy it out to the
//! application; plus the same application compare.

use crate::pattern::{Pattern, CHUNK};
use crate::{alloc, cpu, integrity, smol_pair, synack_pair};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use std::hint::black_box;
use std::time::{Duration, Instant};
use synack_proto::{ConnId, Error};

/// How the application hands bytes to the stack and takes them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `send(&[u8])` and `recv(&mut [u8])`: a copy from and into the
    /// application's own buffer.
    Copy,
    /// synack's `send_with` / `recv_with`, smoltcp's `send` / `recv` with a
    /// closure: the application writes into the send buffer and checks the
    /// bytes in the receive buffer where they lie.
    InPlace,
}

/// Corrupted segments handed to each receiver before each run.
pub(crate) const CORRUPTED: u32 = integrity::SEGMENTS;

/// One timed transfer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// Bytes received (and checked) within the timed part.
    pub(crate) bytes: u64,
    /// Wall time of the timed part.
    pub(crate) elapsed: Duration,
    /// CPU time of this thread in the timed part, where the system tells it.
    pub(crate) cpu: Option<Duration>,
    /// Packets that crossed the link (both directions) in the timed part.
    pub(crate) packets: u64,
    /// Times the link went quiet and the clock jumped to a timer.
    pub(crate) timer_jumps: u64,
    /// Heap allocation calls in the timed part (both stacks, the link, the application).
    pub(crate) allocs: u64,
    /// Segments with a flipped payload bit the receiver dropped before the transfer.
    pub(crate) corrupt_dropped: u32,
}

/// The counters a timed part starts from, and the run they make when it stops.
struct Meter {
    t0: Instant,
    cpu0: Option<Duration>,
    packets0: u64,
    jumps0: u64,
    allocs0: u64,
}

impl Meter {
    fn start(packets: u64, timer_jumps: u64) -> Meter {
        Meter {
            packets0: packets,
            jumps0: timer_jumps,
            allocs0: alloc::calls(),
            cpu0: cpu::now(),
            t0: Instant::now(),
        }
    }

    /// Whether the wall-time cap, if any, has passed.
    fn past(&self, cap: Option<Duration>) -> bool {
        cap.is_some_and(|c| self.t0.elapsed() >= c)
    }

    /// The run so far: `bytes` received, the link's counters now.
    fn stop(&self, bytes: u64, packets: u64, timer_jumps: u64) -> Run {
        Run {
            bytes,
            elapsed: self.t0.elapsed(),
            cpu: cpu::since(self.cpu0),
            packets: packets - self.packets0,
            timer_jumps: timer_jumps - self.jumps0,
            allocs: alloc::calls() - self.allocs0,
            corrupt_dropped: 0,
        }
    }
}

impl Run {
    /// Gigabits per second of the measuring thread's CPU time (the wall
    /// time where the system does not tell): on a shared machine the wall
    /// time also holds the time spent waiting for a core.
    pub(crate) fn gbps(&self) -> f64 {
        gbps(self.bytes, self.cpu.unwrap_or(self.elapsed))
    }
}

/// Gigabits per second for `bytes` in `run`.
pub(crate) fn gbps(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e9
}

/// synack: move `total` bytes from client to server at `mtu`, after proving
/// that the server drops segments with a corrupted payload.
pub(crate) fn synack(mtu: u16, total: u64, pat: &Pattern, api: Api) -> Result<Run, String> {
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
    let corrupt_dropped = integrity::synack(&mut p, c, s, pat)?;
    let run = synack_transfer(&mut p, c, s, total, None, pat, api)?;
    // The stream ends where it should: close, and the reader sees end of stream.
    p.client.close(p.now, c).map_err(e)?;
    p.settle("end of stream", |p| {
        matches!(p.server.recv(p.now, s, &mut [0u8; 1]), Ok(0))
    })?;
    Ok(Run {
        corrupt_dropped,
        ..run
    })
}

/// synack: move `total` bytes from `c` to `s` on an established connection,
/// or as many as arrive before `cap` has passed; the bytes still in flight at
/// the cap are then received (and checked) outside the timed part.
pub(crate) fn synack_transfer(
    p: &mut synack_pair::Pair,
    c: ConnId,
    s: ConnId,
    total: u64,
    cap: Option<Duration>,
    pat: &Pattern,
    api: Api,
) -> Result<Run, String> {
    let e = |e: Error| format!("synack bulk: {e}");
    let mut rbuf = vec![0u8; CHUNK];
    let meter = Meter::start(p.packets, p.timer_jumps);
    let (mut sent, mut recvd) = (0u64, 0u64);
    let mut timed: Option<Run> = None;
    while recvd < sent || (timed.is_none() && recvd < total) {
        let mut progress = false;
        while timed.is_none() && sent < total {
            let n = (total - sent).min(CHUNK as u64) as usize;
            let r = match api {
                Api::Copy => p.client.send(p.now, c, pat.slice(sent, n)),
                Api::InPlace => p.client.send_with(p.now, c, |free| {
                    let k = free.len().min(n);
                    free[..k].copy_from_slice(pat.slice(sent, k));
                    (k, k)
                }),
            };
            match r {
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
            let r = match api {
                Api::Copy => p
                    .server
                    .recv(p.now, s, &mut rbuf)
                    .map(|n| (n, pat.check(recvd, &rbuf[..n]))),
                Api::InPlace => p.server.recv_with(p.now, s, |data| {
                    (data.len(), (data.len(), pat.check(recvd, data)))
                }),
            };
            match r {
                Ok((0, _)) => return Err("synack bulk: early end of stream".into()),
                Ok((n, right)) => {
                    if !right {
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
        if timed.is_none() && (recvd >= total || meter.past(cap)) {
            timed = Some(meter.stop(recvd, p.packets, p.timer_jumps));
        }
    }
    timed.ok_or_else(|| "synack bulk: no transfer".into())
}

/// smoltcp: the same transfer over the equivalent link, after the same
/// corrupted segments.
pub(crate) fn smoltcp(mtu: u16, total: u64, pat: &Pattern, api: Api) -> Result<Run, String> {
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
    let corrupt_dropped = integrity::smoltcp(&mut p, client, server, pat)?;
    let run = smoltcp_transfer(&mut p, client, server, total, None, pat, api)?;
    p.csock(client).close();
    p.settle("end of stream", |p| !p.ssock(server).may_recv())?;
    Ok(Run {
        corrupt_dropped,
        ..run
    })
}

/// smoltcp: as [`synack_transfer`].
pub(crate) fn smoltcp_transfer(
    p: &mut smol_pair::Pair,
    client: SocketHandle,
    server: SocketHandle,
    total: u64,
    cap: Option<Duration>,
    pat: &Pattern,
    api: Api,
) -> Result<Run, String> {
    let mut rbuf = vec![0u8; CHUNK];
    let meter = Meter::start(p.packets, p.timer_jumps);
    let (mut sent, mut recvd) = (0u64, 0u64);
    let mut timed: Option<Run> = None;
    while recvd < sent || (timed.is_none() && recvd < total) {
        let mut progress = false;
        {
            let sock = p.csock(client);
            while timed.is_none() && sent < total && sock.can_send() {
                let n = (total - sent).min(CHUNK as u64) as usize;
                let k = match api {
                    Api::Copy => sock.send_slice(pat.slice(sent, n)),
                    Api::InPlace => sock.send(|free| {
                        let k = free.len().min(n);
                        free[..k].copy_from_slice(pat.slice(sent, k));
                        (k, k)
                    }),
                }
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
                let (n, right) = match api {
                    Api::Copy => sock
                        .recv_slice(&mut rbuf)
                        .map(|n| (n, pat.check(recvd, &rbuf[..n]))),
                    Api::InPlace => {
                        sock.recv(|data| (data.len(), (data.len(), pat.check(recvd, data))))
                    }
                }
                .map_err(|e| format!("smoltcp recv: {e}"))?;
                if n == 0 {
                    break;
                }
                if !right {
                    return Err(format!("smoltcp bulk: wrong bytes at offset {recvd}"));
                }
                recvd += n as u64;
                progress = true;
            }
        }
        if !progress && !p.advance() {
            return Err("smoltcp bulk: stalled with no timer".into());
        }
        if timed.is_none() && (recvd >= total || meter.past(cap)) {
            timed = Some(meter.stop(recvd, p.packets, p.timer_jumps));
        }
    }
    timed.ok_or_else(|| "smoltcp bulk: no transfer".into())
}

/// The physical bound: for `total` bytes in `mss`-byte segments, only the
/// copies and checksums any stack must do, plus the application's compare.
pub(crate) fn bound(mss: usize, total: u64, pat: &Pattern) -> Result<Run, String> {
    const HEADERS: usize = 40; // IPv4 + TCP without options
    let mut sndbuf = vec![0u8; CHUNK];
    let mut seg = vec![0u8; HEADERS + mss];
    let mut app = vec![0u8; CHUNK];
    let cpu0 = cpu::now();
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
        bytes: total,
        elapsed: t0.elapsed(),
        cpu: cpu::since(cpu0),
        packets,
        timer_jumps: 0,
        allocs: 0,
        corrupt_dropped: 0,
    })
}
