//! The socket APIs over an in-memory link between two synack runtimes: no
//! privileges needed.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::Duration;
use synack::{
    ConnConfig, ConnectOptions, MemDevice, Runtime, RuntimeConfig, TcpListener, TcpStream,
};

const A: &str = "10.99.0.1";
const B: &str = "10.99.0.2";

fn pair() -> (Runtime, Runtime) {
    let (da, db) = MemDevice::pair().expect("socketpair");
    let ip = |s: &str| s.parse::<IpAddr>().expect("addr");
    let mut ca = RuntimeConfig::new(vec![ip(A)]);
    ca.deterministic_seed = Some(1);
    let mut cb = RuntimeConfig::new(vec![ip(B)]);
    cb.deterministic_seed = Some(2);
    (
        Runtime::new(da, ca).expect("rt a"),
        Runtime::new(db, cb).expect("rt b"),
    )
}

/// A packet hook calling `f` with the sequence number of every SYN the
/// runtime sends.
fn on_syn_sent(mut f: impl FnMut(u32) + Send + 'static) -> synack::PacketHook {
    Box::new(move |_, dir, pkt| {
        let parsed =
            synack::proto::wire::parse_packet(pkt, synack::proto::wire::ChecksumMode::Verify);
        if let (synack::Direction::Out, Ok((_, tcp))) = (dir, parsed) {
            if tcp.flags.syn() {
                f(tcp.seq.get());
            }
        }
    })
}

fn sa(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("ip"), port)
}

#[test]
fn echo_and_half_close() {
    let (a, b) = pair();
    let l = TcpListener::bind(&b, sa(B, 7)).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut s, peer) = l.accept().expect("accept");
        assert_eq!(peer.ip().to_string(), A);
        let mut all = Vec::new();
        s.read_to_end(&mut all).expect("read");
        s.write_all(&all).expect("echo");
        drop(s);
        all.len()
    });
    let c = TcpStream::connect_timeout(&a, &sa(B, 7), Duration::from_secs(5)).expect("connect");
    assert_eq!(c.peer_addr().expect("peer"), sa(B, 7));
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut back = Vec::new();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            (&c).write_all(&data).expect("write");
            c.shutdown(Shutdown::Write).expect("shutdown");
        });
        (&c).read_to_end(&mut back).expect("read back");
    });
    assert_eq!(server.join().expect("server"), data.len());
    assert_eq!(back, data);
    let st = c.status().expect("status");
    assert!(st.bytes_received as usize == data.len());
}

#[test]
fn refused_and_addr_in_use() {
    let (a, b) = pair();
    let e = TcpStream::connect_timeout(&a, &sa(B, 9), Duration::from_secs(5))
        .expect_err("nobody listens");
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    let _l = TcpListener::bind(&b, sa(B, 80)).expect("bind");
    let e = TcpListener::bind(&b, sa(B, 80)).expect_err("taken");
    assert_eq!(e.kind(), ErrorKind::AddrInUse);
}

#[test]
fn read_timeout_and_reset_on_abort() {
    let (a, b) = pair();
    let l = TcpListener::bind(&b, sa(B, 7)).expect("bind");
    let mut c = TcpStream::connect(&a, sa(B, 7)).expect("connect");
    let (s, _) = l.accept().expect("accept");
    c.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    let e = c.read(&mut buf).expect_err("nothing to read");
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.abort().expect("abort");
    let e = c.read(&mut buf).expect_err("reset");
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

#[test]
fn drop_with_unread_data_resets() {
    let (a, b) = pair();
    let l = TcpListener::bind(&b, sa(B, 7)).expect("bind");
    let mut c = TcpStream::connect(&a, sa(B, 7)).expect("connect");
    let (s, _) = l.accept().expect("accept");
    c.write_all(b"unread").expect("write");
    // Wait until the bytes are there, then drop without reading.
    let mut one = [0u8; 1];
    s.peek(&mut one).expect("peek");
    drop(s);
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let e = c.read(&mut one).expect_err("reset");
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

#[test]
fn connect_timeout_when_nobody_answers() {
    let (a, _b) = pair();
    // 10.99.0.3 is nobody: the SYNs go unanswered.
    let e = TcpStream::connect_timeout(&a, &sa("10.99.0.3", 80), Duration::from_millis(200))
        .expect_err("timeout");
    assert_eq!(e.kind(), ErrorKind::TimedOut);
}

#[test]
fn establish_timeout_of_the_config_ends_a_connect() {
    // No wall-clock limit: the stack's own connection-establishment timer
    // (TCP_KEEPINIT) ends the attempt at 300 ms, before the first SYN
    // retransmission (the initial RTO is 1 s): exactly one SYN goes out.
    // Counted on the wire, not timed, so a loaded machine cannot fail it.
    let (da, _db) = MemDevice::pair().expect("socketpair");
    let mut cfg = RuntimeConfig::new(vec![A.parse().expect("addr")]);
    cfg.deterministic_seed = Some(1);
    let syns = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = std::sync::Arc::clone(&syns);
    cfg.on_packet = Some(on_syn_sent(move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }));
    let a = Runtime::new(da, cfg).expect("runtime");
    let opts = ConnectOptions {
        config: Some(ConnConfig {
            establish_timeout: Some(Duration::from_millis(300)),
            ..ConnConfig::default()
        }),
        ..ConnectOptions::default()
    };
    let e = TcpStream::connect_with(&a, sa("10.99.0.3", 80), opts).expect_err("timeout");
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert_eq!(
        syns.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "SYNs sent"
    );
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_connect_timeout_when_nobody_answers() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let (a, _b) = pair();
    let e = rt
        .block_on(synack::tokio::TcpStream::connect_timeout(
            &a,
            &sa("10.99.0.3", 80),
            Duration::from_millis(200),
        ))
        .expect_err("timeout");
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
}

#[test]
fn dropping_the_runtime_closes_connections() {
    let (a, b) = pair();
    let l = TcpListener::bind(&b, sa(B, 7)).expect("bind");
    let c = TcpStream::connect(&a, sa(B, 7)).expect("connect");
    let (mut s, _) = l.accept().expect("accept");
    drop(a);
    let mut buf = [0u8; 4];
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    assert_eq!(s.read(&mut buf).expect("eof"), 0);
    let e = (&c).write(b"x").expect_err("runtime gone");
    assert_eq!(e.kind(), ErrorKind::ConnectionAborted);
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_echo() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (a, b) = pair();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let l = synack::tokio::TcpListener::bind(&b, sa(B, 7))
            .await
            .expect("bind");
        let server = tokio::spawn(async move {
            for _ in 0..20 {
                let (mut s, _) = l.accept().await.expect("accept");
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        let n = s.read(&mut buf).await.expect("read");
                        if n == 0 {
                            break;
                        }
                        s.write_all(&buf[..n]).await.expect("write");
                    }
                });
            }
        });
        let mut tasks = Vec::new();
        for i in 0..20u8 {
            let c = synack::tokio::TcpStream::connect(&a, sa(B, 7));
            let mut c = c.await.expect("connect");
            tasks.push(tokio::spawn(async move {
                let msg = vec![i; 50_000];
                let (mut r, mut w) = tokio::io::split(&mut c);
                let wr = async {
                    w.write_all(&msg).await.expect("write");
                    w.shutdown().await.expect("shutdown");
                };
                let mut back = Vec::new();
                let rd = r.read_to_end(&mut back);
                let (_, n) = tokio::join!(wr, rd);
                n.expect("read");
                assert_eq!(back, msg);
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        server.await.expect("server");
    });
}

#[test]
fn ip_options_set_on_a_stream_reach_its_packets() {
    use std::sync::{Arc, Mutex};
    // Runtime A records the TTL and TOS byte of every IPv4 packet it sends.
    let seen: Arc<Mutex<Vec<(u8, u8)>>> = Arc::default();
    let (da, db) = MemDevice::pair().expect("socketpair");
    let ip = |s: &str| s.parse::<IpAddr>().expect("addr");
    let mut ca = RuntimeConfig::new(vec![ip(A)]);
    ca.deterministic_seed = Some(1);
    let log = Arc::clone(&seen);
    ca.on_packet = Some(Box::new(move |_, dir, p: &[u8]| {
        if dir == synack::Direction::Out && p.len() >= 20 {
            log.lock().expect("lock").push((p[8], p[1]));
        }
    }));
    let mut cb = RuntimeConfig::new(vec![ip(B)]);
    cb.deterministic_seed = Some(2);
    let a = Runtime::new(da, ca).expect("rt a");
    let b = Runtime::new(db, cb).expect("rt b");
    let l = TcpListener::bind(&b, sa(B, 9)).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut all = Vec::new();
        s.read_to_end(&mut all).expect("read");
        all.len()
    });
    let mut c = TcpStream::connect_timeout(&a, &sa(B, 9), Duration::from_secs(5)).expect("connect");
    // TTL 7 and DSCP CS1 (TOS 0x20) from now on.
    c.set_ip_options(Some(7), 8).expect("set");
    c.write_all(b"marked").expect("write");
    c.shutdown(Shutdown::Write).expect("shutdown");
    assert_eq!(server.join().expect("server"), 6);
    let seen = seen.lock().expect("lock").clone();
    // The handshake went with the defaults, what followed with the new values.
    assert_eq!(seen.first(), Some(&(64, 0)));
    assert!(seen.contains(&(7, 0x20)), "{seen:?}");
}

/// The ISN of the SYN a fresh runtime sends from A:40000 to B:80 (nobody
/// answers: the other end of the in-memory link is left unread).
fn first_isn(seed: Option<u64>) -> u32 {
    let (da, _db) = MemDevice::pair().expect("socketpair");
    let mut cfg = RuntimeConfig::new(vec![A.parse().expect("addr")]);
    cfg.deterministic_seed = seed;
    let (tx, rx) = std::sync::mpsc::channel();
    cfg.on_packet = Some(on_syn_sent(move |isn| {
        let _ = tx.send(isn);
    }));
    let rt = Runtime::new(da, cfg).expect("runtime");
    let opts = ConnectOptions {
        timeout: Some(Duration::from_millis(300)),
        local: Some(sa(A, 40000)),
        config: None,
    };
    let t = std::thread::spawn(move || {
        let r = TcpStream::connect_with(&rt, sa(B, 80), opts);
        assert!(r.is_err(), "nobody answers");
    });
    let isn = rx.recv_timeout(Duration::from_secs(10)).expect("a SYN");
    t.join().expect("connect thread");
    isn
}

#[test]
fn runtimes_started_together_choose_unrelated_isns() {
    // RFC 6528: ISN = M + F(4-tuple, secret). With keys from the OS, two
    // runtimes opening the same 4-tuple at nearly the same instant differ in
    // F; with the same deterministic seed only the 4 µs clock M differs,
    // by the few milliseconds between the two starts.
    let (a, b) = (first_isn(None), first_isn(None));
    assert_ne!(a, b);
    let (c, d) = (first_isn(Some(5)), first_isn(Some(5)));
    let gap = c.wrapping_sub(d).min(d.wrapping_sub(c));
    assert!(
        gap < 2_500_000,
        "same seed, ISNs {c} and {d} are {gap} ticks apart"
    );
}

/// A `Write` whose bytes the test can read afterwards.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn pcap_capture_holds_every_packet_in_and_out() {
    let (da, db) = MemDevice::pair().expect("socketpair");
    let ip = |s: &str| s.parse::<IpAddr>().expect("addr");
    let file = Shared::default();
    let seen = Shared::default();
    let mut ca = RuntimeConfig::new(vec![ip(A)]);
    ca.pcap = Some(Box::new(file.clone()));
    let mut log = seen.clone();
    ca.on_packet = Some(Box::new(move |_, _, p: &[u8]| {
        let _ = log.write_all(&(p.len() as u32).to_le_bytes());
        let _ = log.write_all(p);
    }));
    let a = Runtime::new(da, ca).expect("rt a");
    let b = Runtime::new(db, RuntimeConfig::new(vec![ip(B)])).expect("rt b");
    let l = TcpListener::bind(&b, sa(B, 7)).expect("bind");
    let mut c = TcpStream::connect_timeout(&a, &sa(B, 7), Duration::from_secs(5)).expect("connect");
    let (mut s, _) = l.accept().expect("accept");
    c.write_all(b"hello").expect("write");
    let mut got = [0u8; 5];
    s.read_exact(&mut got).expect("read");
    drop((c, s));
    drop(a);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let pcap = file.0.lock().expect("lock").clone();
    let word = |at: usize| u32::from_le_bytes(pcap[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!(word(0), 0xa1b2_c3d4, "magic");
    assert_eq!(word(20), 101, "LINKTYPE_RAW");
    // The records are the packets the hook saw, in the same order.
    let mut expected = Vec::new();
    let log = seen.0.lock().expect("lock").clone();
    let mut at = 0;
    while at < log.len() {
        let n = u32::from_le_bytes(log[at..at + 4].try_into().expect("len")) as usize;
        expected.push(log[at + 4..at + 4 + n].to_vec());
        at += 4 + n;
    }
    let mut records = Vec::new();
    let mut at = 24;
    while at < pcap.len() {
        let (secs, cap, orig) = (word(at), word(at + 8) as usize, word(at + 12) as usize);
        assert!(u64::from(secs) + 60 >= now, "wall-clock time");
        assert_eq!(cap, orig);
        records.push(pcap[at + 16..at + 16 + cap].to_vec());
        at += 16 + cap;
    }
    assert!(
        expected.len() >= 7,
        "handshake, data, ACK, FINs: {}",
        expected.len()
    );
    assert_eq!(records, expected);
}

#[test]
fn addresses_as_std_takes_them_and_setters_on_shared_references() {
    let (a, b) = pair();
    // A string and a (host, port) pair, as std::net accepts them.
    let l = TcpListener::bind(&b, "10.99.0.2:7").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let e = l.accept().expect_err("nothing to accept yet");
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    l.set_nonblocking(false).expect("blocking");
    let c = TcpStream::connect(&a, ("10.99.0.2", 7)).expect("connect");
    let (s, _) = l.accept().expect("accept");
    // Setters take &self, getters report what was set.
    let shared = &c;
    shared
        .set_read_timeout(Some(Duration::from_millis(40)))
        .expect("timeout");
    assert_eq!(
        c.read_timeout().expect("get"),
        Some(Duration::from_millis(40))
    );
    let zero = c.set_read_timeout(Some(Duration::ZERO)).expect_err("zero");
    assert_eq!(zero.kind(), ErrorKind::InvalidInput);
    assert!(!c.nodelay().expect("nodelay"));
    c.set_nodelay(true).expect("set nodelay");
    assert!(c.nodelay().expect("nodelay"));
    assert_eq!(c.ttl().expect("ttl"), 64);
    c.set_ttl(9).expect("ttl");
    assert_eq!(c.ttl().expect("ttl"), 9);
    assert_eq!(
        c.set_ttl(0).expect_err("ttl 0").kind(),
        ErrorKind::InvalidInput
    );
    // Nothing to read: the timeout ends the read with WouldBlock, as std's.
    let mut one = [0u8; 1];
    let e = (&c).read(&mut one).expect_err("timeout");
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    drop(s);
    // No address at all is std's error.
    let none: &[SocketAddr] = &[];
    let e = TcpStream::connect(&a, none).expect_err("no address");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_into_split_halves_work_apart_and_the_write_half_sends_the_fin() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (a, b) = pair();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio");
    rt.block_on(async {
        let l = synack::tokio::TcpListener::bind(&b, (B, 7))
            .await
            .expect("bind");
        let server = tokio::spawn(async move {
            let (s, _) = l.accept().await.expect("accept");
            let (mut r, mut w) = s.into_split();
            // Echo until the client's FIN, then close our side.
            let mut all = Vec::new();
            r.read_to_end(&mut all).await.expect("read");
            w.write_all(&all).await.expect("echo");
            drop(w);
            all.len()
        });
        let c = synack::tokio::TcpStream::connect(&a, sa(B, 7))
            .await
            .expect("connect");
        let (mut r, mut w) = c.into_split();
        let writer = tokio::spawn(async move {
            w.write_all(&[7u8; 5000]).await.expect("write");
            // Dropping the write half sends the FIN.
        });
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.expect("read back");
        writer.await.expect("writer");
        assert_eq!(server.await.expect("server"), 5000);
        assert_eq!(back, vec![7u8; 5000]);
    });
}

#[test]
fn runtime_time_converts_to_and_from_std_instants() {
    let (a, _b) = pair();
    let e = a.epoch();
    let before = std::time::Instant::now();
    let now = a.now();
    let after = std::time::Instant::now();
    // The stack's now lies between two real instants read around it.
    assert!(e.instant(before) <= now && now <= e.instant(after));
    // And back: a stack instant maps to the real instant it stands for.
    let t = e.std_instant(now);
    assert!(t <= after + Duration::from_micros(1));
    assert_eq!(e.instant(t), now);
}

#[test]
fn the_driver_rotates_keys_on_schedule() {
    // Rotate both keys every millisecond: the driver must actually rotate
    // while it runs, each time with fresh keys from getrandom.
    let (da, _db) = MemDevice::pair().expect("socketpair");
    let mut cfg = RuntimeConfig::new(vec![A.parse().expect("addr")]);
    cfg.cookie_key_rotation = Some(Duration::from_millis(1));
    cfg.isn_key_rotation = Some(Duration::from_millis(1));
    let rt = Runtime::new(da, cfg).expect("runtime");
    // Bring the driver round its loop: a connect attempt keeps it busy.
    let _ = TcpStream::connect_timeout(&rt, &sa("10.99.0.3", 80), Duration::from_millis(50));
    let (done, failed) = rt.key_rotations();
    assert!(done >= 2, "{done} keys rotated");
    assert_eq!(failed, 0);
}

#[test]
fn more_queues_than_a_single_queue_device_has_is_an_error() {
    let (da, _db) = MemDevice::pair().expect("socketpair");
    let ip = A.parse::<IpAddr>().expect("addr");
    let mut cfg = RuntimeConfig::new(vec![ip]);
    cfg.queues = 2;
    let e = Runtime::new(da, cfg).expect_err("two queues of a MemDevice");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(e.to_string(), "this device has a single queue");
}

#[test]
fn fast_open_second_connection_carries_its_request_on_the_syn() {
    use synack::{FastOpenMiss, FastOpenStatus, ListenOptions};
    let (a, b) = pair();
    let opts = ListenOptions {
        fast_open: Some(4),
        ..ListenOptions::default()
    };
    let l = TcpListener::bind_with(&b, sa(B, 7), opts).expect("bind");
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let (s, _) = l.accept().expect("accept");
            let mut buf = [0u8; 64];
            let n = (&s).read(&mut buf).expect("read");
            (&s).write_all(&buf[..n]).expect("echo");
            seen.push((buf[..n].to_vec(), s.fast_open().expect("status")));
        }
        seen
    });
    let opts = ConnectOptions {
        timeout: Some(Duration::from_secs(5)),
        ..ConnectOptions::default()
    };
    let b_ip: IpAddr = B.parse().expect("ip");
    let mut client = Vec::new();
    for req in [&b"one"[..], b"two"] {
        let c = TcpStream::connect_with_data(&a, sa(B, 7), opts, req).expect("connect");
        let mut back = Vec::new();
        (&c).read_to_end(&mut back).expect("read");
        assert_eq!(back, req);
        client.push(c.fast_open().expect("status"));
        assert!(a.fast_open_cookie(b_ip).is_some(), "the cookie is cached");
    }
    assert_eq!(
        client,
        [
            FastOpenStatus::NotUsed(FastOpenMiss::CookieRequested),
            FastOpenStatus::Used,
        ]
    );
    // The tokio stream uses the same cache.
    #[cfg(feature = "tokio")]
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio");
        let fo = rt.block_on(async {
            use tokio::io::AsyncReadExt;
            let mut c = synack::tokio::TcpStream::connect_with_data(&a, sa(B, 7), opts, b"three")
                .await
                .expect("connect");
            let mut back = Vec::new();
            c.read_to_end(&mut back).await.expect("read");
            assert_eq!(back, b"three");
            c.fast_open().expect("status")
        });
        assert_eq!(fo, FastOpenStatus::Used);
    }
    #[cfg(not(feature = "tokio"))]
    {
        let c = TcpStream::connect_with_data(&a, sa(B, 7), opts, b"three").expect("connect");
        let mut back = Vec::new();
        (&c).read_to_end(&mut back).expect("read");
    }
    let seen = server.join().expect("server");
    assert_eq!(seen[1], (b"two".to_vec(), FastOpenStatus::Used));
    assert_eq!(seen[2], (b"three".to_vec(), FastOpenStatus::Used));
    assert_ne!(seen[0].1, FastOpenStatus::Used);
    // A cookie set by hand survives a forget-and-restore, as a client
    // keeping cookies across restarts does.
    let cookie = a.fast_open_cookie(b_ip);
    a.set_fast_open_cookie(b_ip, None);
    assert_eq!(a.fast_open_cookie(b_ip), None);
    a.set_fast_open_cookie(b_ip, cookie);
    assert_eq!(a.fast_open_cookie(b_ip), cookie);
}

#[test]
fn the_fast_open_key_turns_with_the_cookie_key_keeping_the_previous_one() {
    let (da, _db) = MemDevice::pair().expect("socketpair");
    let mut cfg = RuntimeConfig::new(vec![A.parse().expect("addr")]);
    cfg.cookie_key_rotation = Some(Duration::from_millis(1));
    let rt = Runtime::new(da, cfg).expect("runtime");
    let first = rt.with_stack(|s, _| s.fast_open_keys());
    let _ = TcpStream::connect_timeout(&rt, &sa("10.99.0.3", 80), Duration::from_millis(50));
    let (done, _) = rt.key_rotations();
    assert!(done >= 1, "{done} keys rotated");
    let now = rt.with_stack(|s, _| s.fast_open_keys());
    assert_ne!(now.primary, first.primary, "a fresh key");
    assert!(now.backup.is_some(), "the previous key still validates");
    assert_ne!(now.backup, Some(now.primary));
}
