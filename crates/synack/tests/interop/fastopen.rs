//! TCP Fast Open (RFC 7413) against the kernel's, seen by `tcpdump` on the
//! kernel's side of the TUN device.
//!
//! The runtime delays every packet by [`ONE_WAY`] each way, so the link's
//! round trip is 20 ms and a saved round trip shows plainly. Each test
//! captures the connections, finds the SYN of each, whether it carried
//! data and a Fast Open option (cookie request or cookie), and counts the
//! round trips the client waited from its SYN to the first byte of the
//! response.

use super::*;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use synack::{FastOpenMiss, FastOpenStatus, ListenOptions, DEFAULT_FASTOPEN_QUEUE};

/// The delay the runtime adds to each packet, each way.
const ONE_WAY: Duration = Duration::from_millis(10);

/// TCP option kind of Fast Open (RFC 7413 4.1.1).
const TFO_OPTION: u8 = 34;

/// A lab whose link has a round trip of two [`ONE_WAY`]s.
fn slow_lab() -> Option<Lab> {
    if !can_set_up(&["tcpdump"]) {
        return None;
    }
    lab_with(|cfg| {
        cfg.impairment = Some(Impairment {
            loss: 0.0,
            delay: ONE_WAY,
            jitter: Duration::ZERO,
            duplicate: 0.0,
            reorder: 0.0,
            seed: 1,
        });
    })
}

fn sysctl(lab: &Lab, setting: &str) {
    let out = lab.ns.run("sysctl", &["-w", setting]).expect("sysctl");
    assert!(out.status.success(), "sysctl -w {setting} failed");
}

/// `tcpdump` on the kernel's side of the TUN device, writing every packet
/// at once (`-U`, `--immediate-mode`) to a file; stopped with SIGINT.
struct Capture {
    child: usize,
    path: PathBuf,
}

impl Capture {
    /// Start capturing TCP on the lab's device; returns once tcpdump listens.
    fn start(lab: &mut Lab) -> Capture {
        let path = std::env::temp_dir().join(format!("{}.pcap", unique_name("sfo")));
        let mut cmd = lab.ns.command("tcpdump");
        cmd.args(["-i", &lab.dev, "-w"])
            .arg(&path)
            .args(["-U", "--immediate-mode", "-s", "2048", "-B", "8192"])
            .args(["-Z", "root", "tcp"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = lab.ns.spawn(&mut cmd).expect("start tcpdump");
        let err = lab
            .ns
            .child(child)
            .and_then(|c| c.stderr.take())
            .expect("tcpdump's stderr");
        let mut first = String::new();
        BufReader::new(err)
            .read_line(&mut first)
            .expect("tcpdump's first line");
        assert!(first.contains("listening on"), "tcpdump: {first}");
        Capture { child, path }
    }

    /// Wait (up to 10 s) until the capture holds the FIN of `conns`
    /// clients of `server` (the runtime delays the last segments), stop
    /// tcpdump (SIGINT, so it closes the file) and read the capture.
    fn finish(self, lab: &mut Lab, server: SocketAddr, conns: usize) -> Vec<Seg> {
        let fins = |segs: &[Seg]| {
            segs.iter()
                .filter(|s| s.dst == server && s.flags.fin())
                .map(|s| s.src)
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            let bytes = std::fs::read(&self.path).unwrap_or_default();
            if bytes.len() >= 24 && fins(&read_pcap(&bytes)) >= conns {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let c = lab.ns.child(self.child).expect("tcpdump child");
        let pid = c.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status();
        let _ = c.wait();
        let bytes = std::fs::read(&self.path).expect("read the capture");
        let _ = std::fs::remove_file(&self.path);
        read_pcap(&bytes)
    }
}

/// One TCP segment of the capture.
#[derive(Debug, Clone)]
struct Seg {
    /// Capture time, µs.
    t: u64,
    src: SocketAddr,
    dst: SocketAddr,
    flags: TcpFlags,
    payload: Vec<u8>,
    /// The Fast Open option: `Some(empty)` is a cookie request.
    tfo: Option<Vec<u8>>,
}

/// The TCP segments of a pcap file from a TUN device (raw IP frames).
fn read_pcap(b: &[u8]) -> Vec<Seg> {
    assert!(b.len() >= 24, "capture shorter than its header");
    let magic = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        m => panic!("not a pcap file (magic {m:#x})"),
    };
    let u32_at = |o: usize| {
        let w = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let link = u32_at(20);
    // LINKTYPE_RAW (101) and its DLT (12 or 14), or LINKTYPE_IPV4 (228).
    assert!(
        matches!(link, 101 | 12 | 14 | 228),
        "link type {link}, not raw IP"
    );
    let mut out = Vec::new();
    let mut o = 24;
    while o + 16 <= b.len() {
        let frac = u64::from(u32_at(o + 4));
        let t = u64::from(u32_at(o)) * 1_000_000 + if nanos { frac / 1000 } else { frac };
        let len = u32_at(o + 8) as usize;
        let end = (o + 16 + len).min(b.len());
        if let Some(s) = segment(t, &b[o + 16..end]) {
            out.push(s);
        }
        o = end;
    }
    out
}

fn segment(t: u64, pkt: &[u8]) -> Option<Seg> {
    let (ip, tcp) = parse_packet(pkt, ChecksumMode::Ignore).ok()?;
    let ihl = usize::from(pkt.first()? & 0x0f) * 4;
    let doff = usize::from(pkt.get(ihl + 12)? >> 4) * 4;
    let opts = pkt.get(ihl + 20..ihl + doff)?;
    Some(Seg {
        t,
        src: SocketAddr::new(ip.src(), tcp.src_port),
        dst: SocketAddr::new(ip.dst(), tcp.dst_port),
        flags: tcp.flags,
        payload: tcp.payload.to_vec(),
        tfo: tfo_option(opts),
    })
}

/// The Fast Open option's cookie among raw TCP options.
fn tfo_option(mut o: &[u8]) -> Option<Vec<u8>> {
    while let Some(&kind) = o.first() {
        match kind {
            0 => return None,
            1 => o = &o[1..],
            _ => {
                let len = usize::from(*o.get(1)?);
                if len < 2 || len > o.len() {
                    return None;
                }
                if kind == TFO_OPTION {
                    return Some(o[2..len].to_vec());
                }
                o = &o[len..];
            }
        }
    }
    None
}

/// One connection of a capture, from the client's SYN on.
#[derive(Debug)]
struct Conn {
    syn: Seg,
    syn_ack: Seg,
    segs: Vec<Seg>,
}

/// The connections to `server` in the capture, in the order of their SYNs.
fn conns(segs: &[Seg], server: SocketAddr) -> Vec<Conn> {
    let mut out = Vec::new();
    for s in segs
        .iter()
        .filter(|s| s.dst == server && s.flags.syn() && !s.flags.ack())
    {
        if out.iter().any(|c: &Conn| c.syn.src == s.src) {
            continue; // a retransmitted SYN
        }
        let of_it: Vec<Seg> = segs
            .iter()
            .filter(|x| x.t >= s.t && (x.src == s.src || x.dst == s.src))
            .cloned()
            .collect();
        let syn_ack = of_it
            .iter()
            .find(|x| x.src == server && x.flags.syn() && x.flags.ack())
            .unwrap_or_else(|| panic!("no SYN,ACK for {}: {of_it:?}", s.src))
            .clone();
        out.push(Conn {
            syn: s.clone(),
            syn_ack,
            segs: of_it,
        });
    }
    out
}

/// Where the capture was taken: next to the client or next to the server.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Seen {
    AtClient,
    AtServer,
}

impl Conn {
    /// The first segment from the server with data.
    fn response(&self) -> &Seg {
        self.segs
            .iter()
            .find(|x| x.src == self.syn.dst && !x.payload.is_empty())
            .unwrap_or_else(|| panic!("no response in {:?}", self.segs))
    }

    /// The data the client sent, in capture order (retransmissions as sent).
    fn client_data(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for s in self.segs.iter().filter(|x| x.src == self.syn.src) {
            if !v.ends_with(&s.payload) || s.payload.is_empty() {
                v.extend_from_slice(&s.payload);
            }
        }
        v
    }

    /// The client's first segment after its SYN (the handshake's ACK,
    /// alone or with data): its second flight.
    fn second_flight(&self) -> &Seg {
        self.segs
            .iter()
            .find(|x| x.src == self.syn.src && x.flags.ack())
            .unwrap_or_else(|| panic!("no ACK from the client in {:?}", self.segs))
    }

    /// Round trips the client waited from its SYN to the response's first
    /// byte: 1 when the server answered before the client's second flight
    /// could have reached it, else 2. Decided by causality, not by timing
    /// thresholds, so a loaded machine cannot blur it: next to the server,
    /// the response left before that flight arrived; next to the client,
    /// the response arrived sooner than a round trip of the link after the
    /// flight left.
    fn round_trips(&self, seen: Seen) -> u32 {
        let resp = self.response().t;
        let second = self.second_flight().t;
        let rtt = 2 * ONE_WAY.as_micros() as u64;
        let answered_the_syn = match seen {
            Seen::AtServer => resp < second,
            Seen::AtClient => resp < second + rtt,
        };
        if answered_the_syn {
            1
        } else {
            2
        }
    }

    /// From the SYN to the response's first byte at the capture, ms.
    fn ms_to_response(&self) -> f64 {
        (self.response().t - self.syn.t) as f64 / 1000.0
    }
}

/// Connect `n` times with `MSG_FASTOPEN` (`sendto` before connecting, as
/// Linux's Fast Open client does), send argv[4] and read the reply to its
/// end; print each reply.
const PY_TFO_CLIENT: &str = r#"
import socket, sys
host, port, n, req = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].encode()
fast = sys.argv[5] == "1"
for i in range(n):
    s = socket.socket()
    if fast:
        s.sendto(req, socket.MSG_FASTOPEN, (host, port))
    else:
        s.connect((host, port)); s.sendall(req)
    s.settimeout(20)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    print(got.decode(), flush=True)
"#;

/// A Fast Open server (TCP_FASTOPEN with queue argv[3], 0 for none) that
/// answers each request with "re:" and the request, then closes.
const PY_TFO_SERVER: &str = r#"
import socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if int(sys.argv[3]):
    l.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, int(sys.argv[3]))
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(16)
while True:
    c, _ = l.accept()
    c.sendall(b"re:" + c.recv(65536))
    c.close()
"#;

/// Run [`PY_TFO_CLIENT`] with `args` under a capture; its output and the
/// segments to `server`. When the client fails, the capture is shown.
fn kernel_client(lab: &mut Lab, server: SocketAddr, args: &[&str]) -> (String, Vec<Seg>) {
    let n: usize = args.get(2).and_then(|n| n.parse().ok()).expect("a count");
    let cap = Capture::start(lab);
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lab.py(PY_TFO_CLIENT, args, 30)
    }));
    let segs = cap.finish(lab, server, n);
    match out {
        Ok(out) => (out, segs),
        Err(e) => {
            for s in &segs {
                eprintln!("{s:?}");
            }
            std::panic::resume_unwind(e)
        }
    }
}

/// Answer `n` connections of `l` one after the other: read one request,
/// write "re:" and it, close; each request with the connection's Fast Open
/// status.
fn answer(l: TcpListener, n: usize) -> std::thread::JoinHandle<Vec<(String, FastOpenStatus)>> {
    std::thread::spawn(move || {
        let mut reqs = Vec::new();
        for _ in 0..n {
            let (s, _) = l.accept().expect("accept");
            let mut buf = [0u8; 1024];
            let got = (&s).read(&mut buf).expect("read the request");
            let mut reply = b"re:".to_vec();
            reply.extend_from_slice(&buf[..got]);
            (&s).write_all(&reply).expect("write");
            let req = String::from_utf8_lossy(&buf[..got]).into_owned();
            reqs.push((req, s.fast_open().expect("status")));
        }
        reqs
    })
}

// ----- a server without Fast Open: the client falls back --------------------

#[test]
fn kernel_fast_open_client_falls_back_against_a_plain_synack_server() {
    let Some(mut lab) = slow_lab() else { return };
    // 0x1: Linux's client side of Fast Open.
    sysctl(&lab, "net.ipv4.tcp_fastopen=1");
    let l = TcpListener::bind(&lab.rt, sa(S, 7)).expect("bind");
    let server = answer(l, 2);
    let (out, segs) = kernel_client(&mut lab, sa(S, 7), &["10.77.0.2", "7", "2", "hello", "1"]);
    assert_eq!(out, "re:hello\nre:hello");
    let served = server.join().expect("server");
    assert_eq!(served.len(), 2);
    for (req, fo) in served {
        assert_eq!(req, "hello");
        assert_eq!(fo, FastOpenStatus::NotTried);
    }
    let cs = conns(&segs, sa(S, 7));
    assert_eq!(cs.len(), 2, "{cs:?}");
    // RFC 7413 4.1.2: without a cookie the client asks for one on a SYN
    // without data; a server without Fast Open ignores the option (and
    // Linux remembers that and stops asking for a while).
    assert_eq!(cs[0].syn.tfo.as_deref(), Some(&[][..]), "cookie request");
    for c in &cs {
        assert!(c.syn.payload.is_empty());
        assert_eq!(c.syn_ack.tfo, None);
        assert_eq!(c.client_data(), b"hello");
        assert_eq!(c.round_trips(Seen::AtClient), 2, "{c:?}");
        eprintln!(
            "without Fast Open: {:.1} ms to the response",
            c.ms_to_response()
        );
    }
}

#[test]
fn capture_counts_two_round_trips_without_fast_open() {
    let Some(mut lab) = slow_lab() else { return };
    lab.py_bg(PY_TFO_SERVER, &["10.77.0.1", "9100", "0"], false);
    lab.wait_listen(9100);
    let cap = Capture::start(&mut lab);
    let t0 = Instant::now();
    let c = TcpStream::connect_timeout(&lab.rt, &sa(K, 9100), Duration::from_secs(20))
        .expect("connect");
    (&c).write_all(b"hello").expect("write");
    let mut back = Vec::new();
    (&c).read_to_end(&mut back).expect("read");
    let took = t0.elapsed();
    assert_eq!(back, b"re:hello");
    drop(c);
    let cs = conns(&cap.finish(&mut lab, sa(K, 9100), 1), sa(K, 9100));
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(cs[0].syn.tfo, None);
    assert_eq!(cs[0].round_trips(Seen::AtServer), 2, "{cs:?}");
    assert!(took >= 4 * ONE_WAY, "{took:?}");
}

// ----- Fast Open both ways: the second connection saves a round trip --------

#[test]
fn kernel_fast_open_client_saves_a_round_trip_to_synack_server() {
    let Some(mut lab) = slow_lab() else { return };
    sysctl(&lab, "net.ipv4.tcp_fastopen=1");
    let opts = ListenOptions {
        fast_open: Some(DEFAULT_FASTOPEN_QUEUE),
        ..ListenOptions::default()
    };
    let l = TcpListener::bind_with(&lab.rt, sa(S, 7), opts).expect("bind");
    let server = answer(l, 2);
    let (out, segs) = kernel_client(&mut lab, sa(S, 7), &["10.77.0.2", "7", "2", "hello", "1"]);
    assert_eq!(out, "re:hello\nre:hello");
    let served = server.join().expect("server");
    let cs = conns(&segs, sa(S, 7));
    assert_eq!(cs.len(), 2, "{cs:?}");
    // The first connection asks for a cookie and gets one (RFC 7413 4.1.1).
    let (first, second) = (&cs[0], &cs[1]);
    assert_eq!(first.syn.tfo.as_deref(), Some(&[][..]), "cookie request");
    assert!(first.syn.payload.is_empty());
    let cookie = first.syn_ack.tfo.clone().expect("a cookie on the SYN,ACK");
    assert_eq!(cookie.len(), 8, "synack's cookies are 8 bytes, as Linux's");
    assert_eq!(first.round_trips(Seen::AtClient), 2, "{first:?}");
    assert_ne!(served[0].1, FastOpenStatus::Used);
    // The second carries its request on the SYN with that cookie; synack
    // takes it and answers in the SYN,ACK's round trip.
    assert_eq!(second.syn.tfo.as_ref(), Some(&cookie));
    assert_eq!(second.syn.payload, b"hello");
    assert_eq!(second.round_trips(Seen::AtClient), 1, "{second:?}");
    assert_eq!(served[1], ("hello".to_owned(), FastOpenStatus::Used));
    eprintln!(
        "kernel client, synack server: {:.1} ms to the response, {:.1} ms with Fast Open",
        first.ms_to_response(),
        second.ms_to_response()
    );
}

#[test]
fn synack_fast_open_client_saves_a_round_trip_to_kernel_server() {
    let Some(mut lab) = slow_lab() else { return };
    // 0x2: Linux's server side of Fast Open; the listener sets its queue.
    sysctl(&lab, "net.ipv4.tcp_fastopen=2");
    lab.py_bg(PY_TFO_SERVER, &["10.77.0.1", "9101", "16"], false);
    lab.wait_listen(9101);
    let cap = Capture::start(&mut lab);
    let opts = ConnectOptions {
        timeout: Some(Duration::from_secs(20)),
        ..ConnectOptions::default()
    };
    let mut seen = Vec::new();
    for _ in 0..2 {
        let t0 = Instant::now();
        let c =
            TcpStream::connect_with_data(&lab.rt, sa(K, 9101), opts, b"hello").expect("connect");
        let mut back = Vec::new();
        (&c).read_to_end(&mut back).expect("read");
        assert_eq!(back, b"re:hello");
        seen.push((c.fast_open().expect("status"), t0.elapsed()));
    }
    // The async stream: the cookie is still cached, the SYN carries the data.
    let back = block_on(async {
        use ::tokio::io::AsyncReadExt;
        let mut c = synack::tokio::TcpStream::connect_with_data(&lab.rt, sa(K, 9101), opts, b"hi")
            .await
            .expect("connect");
        let mut back = Vec::new();
        c.read_to_end(&mut back).await.expect("read");
        assert_eq!(c.fast_open().expect("status"), FastOpenStatus::Used);
        back
    });
    assert_eq!(back, b"re:hi");
    assert_eq!(
        seen[0].0,
        FastOpenStatus::NotUsed(FastOpenMiss::CookieRequested)
    );
    assert_eq!(seen[1].0, FastOpenStatus::Used);
    let cs = conns(&cap.finish(&mut lab, sa(K, 9101), 3), sa(K, 9101));
    assert_eq!(cs.len(), 3, "{cs:?}");
    assert_eq!(cs[0].syn.tfo.as_deref(), Some(&[][..]), "cookie request");
    assert!(cs[0].syn.payload.is_empty());
    let cookie = cs[0].syn_ack.tfo.clone().expect("Linux's cookie");
    assert_eq!(cs[0].round_trips(Seen::AtServer), 2, "{:?}", cs[0]);
    for (c, data) in [(&cs[1], &b"hello"[..]), (&cs[2], &b"hi"[..])] {
        assert_eq!(c.syn.tfo.as_ref(), Some(&cookie));
        assert_eq!(c.syn.payload, data);
        assert_eq!(c.round_trips(Seen::AtServer), 1, "{c:?}");
    }
    eprintln!(
        "synack client, kernel server: {:.1} ms to the whole response, {:.1} ms with Fast Open",
        seen[0].1.as_secs_f64() * 1000.0,
        seen[1].1.as_secs_f64() * 1000.0
    );
}
