//! Connection lifecycle rate: connect, three-way handshake, a 1-byte request,
//! a 1-byte response, close, four-way teardown, and TIME_WAIT run out.
//!
//! The in-memory stacks run every step to completion before the next
//! connection starts; TIME_WAIT ends on the virtual clock (the clock jumps
//! past 2*MSL after each connection). The kernel run is two threads on
//! 127.0.0.1 with a normal close (no SO_LINGER tricks): the client closes
//! first and its TIME_WAIT is the kernel's own business.

use crate::{alloc, cpu, smol_pair, synack_pair};
use smoltcp::socket::tcp;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use synack_proto::{Duration as VDuration, Error};

/// One timed series of lifecycles.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// Lifecycles completed.
    pub(crate) count: u64,
    /// Wall time.
    pub(crate) elapsed: Duration,
    /// CPU time of the measuring thread (in-memory runs, where the system
    /// tells; the kernel's runs span two threads and the kernel: wall time).
    pub(crate) cpu: Option<Duration>,
    /// Packets that crossed the link (in-memory runs).
    pub(crate) packets: u64,
    /// Heap allocation calls in the timed part (in-memory runs: both stacks,
    /// the link and the application).
    pub(crate) allocs: u64,
}

impl Run {
    /// Lifecycles per second of CPU time where measured, else of wall time.
    pub(crate) fn rate(&self) -> f64 {
        self.count as f64 / self.cpu.unwrap_or(self.elapsed).as_secs_f64()
    }

    /// Lifecycles per second of wall time.
    pub(crate) fn wall_rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }
}

/// synack: `n` lifecycles between two stacks.
pub(crate) fn synack(n: u64) -> Result<Run, String> {
    let e = |e: Error| format!("synack lifecycle: {e}");
    let mut p = synack_pair::Pair::new(synack_pair::config(1500));
    let server = synack_pair::server_addr(80);
    let l = p.server.listen(server, 128).map_err(e)?;
    let msl2 = p.client.config().conn.msl * 2 + VDuration::from_millis(1);
    let allocs0 = alloc::calls();
    let cpu0 = cpu::now();
    let t0 = Instant::now();
    for _ in 0..n {
        let c = p.client.connect(p.now, None, server).map_err(e)?;
        p.pump();
        let s = p.server.accept(l).map_err(e)?;
        p.client.send(p.now, c, b"q").map_err(e)?;
        p.pump();
        let mut b = [0u8; 1];
        if p.server.recv(p.now, s, &mut b).map_err(e)? != 1 || b[0] != b'q' {
            return Err("synack lifecycle: request lost".into());
        }
        p.server.send(p.now, s, b"r").map_err(e)?;
        p.pump();
        if p.client.recv(p.now, c, &mut b).map_err(e)? != 1 || b[0] != b'r' {
            return Err("synack lifecycle: response lost".into());
        }
        p.client.close(p.now, c).map_err(e)?;
        p.pump();
        if p.server.recv(p.now, s, &mut b).map_err(e)? != 0 {
            return Err("synack lifecycle: no end of stream".into());
        }
        p.server.close(p.now, s).map_err(e)?;
        p.pump();
        // The client is in TIME_WAIT: run 2*MSL out on the virtual clock.
        p.now += msl2;
        p.client.handle_timeout(p.now);
        p.server.handle_timeout(p.now);
        p.pump();
        // The application takes the readiness reports, as the runtime's
        // driver does each turn; left alone they pile up to the queue's bound.
        while p.client.poll_ready().is_some() {}
        while p.server.poll_ready().is_some() {}
    }
    let elapsed = t0.elapsed();
    let cpu = cpu::since(cpu0);
    let allocs = alloc::calls() - allocs0;
    if p.client.connection_count() != 0 || p.server.connection_count() != 0 {
        return Err(format!(
            "synack lifecycle: {} client and {} server connections left",
            p.client.connection_count(),
            p.server.connection_count()
        ));
    }
    Ok(Run {
        count: n,
        elapsed,
        cpu,
        packets: p.packets,
        allocs,
    })
}

/// smoltcp: `n` lifecycles between two interfaces, one socket each, reused.
pub(crate) fn smoltcp(n: u64) -> Result<Run, String> {
    let mut p = smol_pair::Pair::new(1500);
    let server = {
        let mut s = smol_pair::socket(synack_pair::SOCKET_BUFFER);
        s.listen(80).map_err(|e| format!("smoltcp listen: {e}"))?;
        p.ss.add(s)
    };
    let client = p.cs.add(smol_pair::socket(synack_pair::SOCKET_BUFFER));
    let allocs0 = alloc::calls();
    let cpu0 = cpu::now();
    let t0 = Instant::now();
    for i in 0..n {
        let port = 49152 + (i % 16384) as u16;
        let cx = p.ci.context();
        p.cs.get_mut::<tcp::Socket>(client)
            .connect(cx, (smol_pair::SERVER, 80), port)
            .map_err(|e| format!("smoltcp connect: {e}"))?;
        p.settle("handshake", |p| {
            p.csock(client).state() == tcp::State::Established
                && p.ssock(server).state() == tcp::State::Established
        })?;
        p.csock(client)
            .send_slice(b"q")
            .map_err(|e| format!("smoltcp send: {e}"))?;
        p.pump();
        let mut b = [0u8; 1];
        if p.ssock(server)
            .recv_slice(&mut b)
            .map_err(|e| format!("smoltcp recv: {e}"))?
            != 1
            || b[0] != b'q'
        {
            return Err("smoltcp lifecycle: request lost".into());
        }
        p.ssock(server)
            .send_slice(b"r")
            .map_err(|e| format!("smoltcp send: {e}"))?;
        p.pump();
        if p.csock(client)
            .recv_slice(&mut b)
            .map_err(|e| format!("smoltcp recv: {e}"))?
            != 1
            || b[0] != b'r'
        {
            return Err("smoltcp lifecycle: response lost".into());
        }
        p.csock(client).close();
        p.settle("peer FIN", |p| !p.ssock(server).may_recv())?;
        p.ssock(server).close();
        p.settle("teardown", |p| {
            p.ssock(server).state() == tcp::State::Closed
                && p.csock(client).state() == tcp::State::TimeWait
        })?;
        p.ssock(server)
            .listen(80)
            .map_err(|e| format!("smoltcp listen: {e}"))?;
        // The client is in TIME_WAIT: run it out on the virtual clock.
        p.settle("TIME_WAIT expiry", |p| {
            p.csock(client).state() == tcp::State::Closed
        })?;
    }
    Ok(Run {
        count: n,
        elapsed: t0.elapsed(),
        cpu: cpu::since(cpu0),
        packets: p.packets,
        allocs: alloc::calls() - allocs0,
    })
}

/// The kernel on 127.0.0.1: one client thread, one server thread, for `limit`.
pub(crate) fn kernel(limit: Duration) -> Result<Run, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("kernel bind: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("kernel addr: {e}"))?;
    let server = std::thread::spawn(move || -> Result<u64, String> {
        let mut served = 0u64;
        for stream in listener.incoming() {
            let mut s = stream.map_err(|e| format!("kernel accept: {e}"))?;
            let mut b = [0u8; 1];
            s.read_exact(&mut b)
                .map_err(|e| format!("kernel server read: {e}"))?;
            match b[0] {
                b'x' => return Ok(served),
                b'q' => {}
                other => return Err(format!("kernel: request byte {other:#04x}, not 'q'")),
            }
            s.write_all(b"r")
                .map_err(|e| format!("kernel server write: {e}"))?;
            let mut rest = [0u8; 1];
            if s.read(&mut rest)
                .map_err(|e| format!("kernel server read: {e}"))?
                != 0
            {
                return Err("kernel: no end of stream".into());
            }
            served += 1;
            // Dropping the stream closes it: FIN, LAST_ACK.
        }
        Ok(served)
    });
    let t0 = Instant::now();
    let mut count = 0u64;
    let mut error = None;
    while t0.elapsed() < limit {
        let r = (|| -> std::io::Result<u8> {
            let mut s = TcpStream::connect(addr)?;
            s.write_all(b"q")?;
            let mut b = [0u8; 1];
            s.read_exact(&mut b)?;
            Ok(b[0])
        })();
        match r {
            Ok(b'r') => count += 1,
            Ok(other) => {
                error = Some(format!(
                    "kernel client after {count} connections: response byte {other:#04x}, not 'r'"
                ));
                break;
            }
            Err(e) => {
                error = Some(format!("kernel client after {count} connections: {e}"));
                break;
            }
        }
    }
    let elapsed = t0.elapsed();
    let stop = TcpStream::connect(addr).and_then(|mut s| s.write_all(b"x"));
    let served = server
        .join()
        .map_err(|_| "kernel server thread panicked".to_string())??;
    stop.map_err(|e| format!("kernel stop: {e}"))?;
    if let Some(e) = error {
        return Err(e);
    }
    if served != count {
        return Err(format!("kernel: client completed {count}, server {served}"));
    }
    Ok(Run {
        count,
        elapsed,
        cpu: None,
        packets: 0,
        allocs: 0,
    })
}
