//! TUN offloads on and off, over IPv4 and IPv6: bulk both ways with the
//! bytes compared by SHA-256, proof that the offloads were (or were not)
//! in use (super-segments from the kernel, bursts to it), and a page over
//! IPv6 with curl.

use super::*;
use std::net::Ipv6Addr;
use synack::TunOptions;

const K6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x77, 0, 0, 0, 0, 0, 1);
const S6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x77, 0, 0, 0, 0, 0, 2);

/// An echo server on an IPv6 address, a thread per connection.
const PY_ECHO6: &str = r#"
import socket, sys, threading
l = socket.socket(socket.AF_INET6)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen()
def h(c):
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=h, args=(c,), daemon=True).start()
"#;

/// The largest packet that came in from the kernel.
type Largest = Arc<Mutex<usize>>;

/// A lab on a TUN device opened with or without offloads, the kernel's
/// side with 10.77.0.1/24 and fd00:77::1/64, synack with .2 and ::2.
fn lab_opts(offload: bool) -> Option<(Lab, Largest)> {
    if !can_set_up(&TOOLS) {
        return None;
    }
    let ns = Netns::create_unique().expect("create namespace");
    let opts = TunOptions {
        offload,
        ..TunOptions::default()
    };
    let dev = ns
        .tun_with(
            &unique_name("skt"),
            opts,
            1500,
            &[(IpAddr::V4(K), 24), (IpAddr::V6(K6), 64)],
        )
        .expect("TUN device in the namespace");
    assert_eq!(dev.offload(), offload, "the kernel refused TUN offloads");
    let dev_name = dev.name().to_owned();
    let largest: Largest = Arc::new(Mutex::new(0));
    let seen = Arc::clone(&largest);
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(S), IpAddr::V6(S6)]);
    cfg.stack.conn.send_buffer = 1 << 20;
    cfg.stack.conn.recv_buffer = 1 << 20;
    cfg.on_packet = Some(Box::new(move |_, dir, p: &[u8]| {
        if dir == synack::Direction::In {
            if let Ok(mut m) = seen.lock() {
                *m = (*m).max(p.len());
            }
        }
    }));
    let rt = Runtime::new(dev, cfg).expect("runtime");
    Some((
        Lab {
            rt,
            dev: dev_name,
            ns,
        },
        largest,
    ))
}

/// `size` random bytes kernel -> synack, then `size` bytes of a pattern
/// synack -> kernel, to and from `ours`; both compared by SHA-256.
fn both_ways(lab: &Lab, ours: IpAddr, size: usize) {
    let l = TcpListener::bind(&lab.rt, SocketAddr::new(ours, 5001)).expect("bind");
    let rx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut h = Sha256::new();
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let k = s.read(&mut buf).expect("read");
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            n += k;
        }
        (n, hex(&h.finalize()))
    });
    let host = ours.to_string();
    let out = lab.py(PY_SOURCE, &[&host, "5001", &size.to_string()], 120);
    let (n, sha) = rx.join().expect("receiver");
    assert_eq!(out, format!("{n} {sha}"), "kernel->synack differs");
    assert_eq!(n, size);

    let l = TcpListener::bind(&lab.rt, SocketAddr::new(ours, 5002)).expect("bind");
    let data = pattern(size, 91);
    let sha = hex(&Sha256::digest(&data));
    let tx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.write_all(&data).expect("write");
        s.shutdown(Shutdown::Write).expect("shutdown");
        s
    });
    let out = lab.py(PY_SINK, &[&host, "5002"], 120);
    drop(tx.join().expect("sender"));
    assert_eq!(out, format!("{size} {sha}"), "synack->kernel differs");
}

fn offloads(offload: bool, ours: IpAddr) {
    let Some((lab, largest)) = lab_opts(offload) else {
        return;
    };
    both_ways(&lab, ours, 8 << 20);
    let (bursts, segments) = lab.rt.bursts();
    let largest = *largest.lock().expect("largest");
    if offload {
        // The kernel handed over super-segments, and took bursts it cut.
        assert!(largest > 1500, "largest packet in: {largest} bytes");
        assert!(
            bursts > 0 && segments > 2 * bursts,
            "{bursts} bursts, {segments} segments"
        );
    } else {
        assert!(largest <= 1500, "largest packet in: {largest} bytes");
        assert_eq!((bursts, segments), (0, 0));
    }
}

#[test]
fn bulk_ipv4_offloads_on() {
    offloads(true, IpAddr::V4(S));
}

#[test]
fn bulk_ipv4_offloads_off() {
    offloads(false, IpAddr::V4(S));
}

#[test]
fn bulk_ipv6_offloads_on() {
    offloads(true, IpAddr::V6(S6));
}

#[test]
fn bulk_ipv6_offloads_off() {
    offloads(false, IpAddr::V6(S6));
}

#[test]
fn curl_fetches_a_page_over_ipv6() {
    let Some((lab, _)) = lab_opts(true) else {
        return;
    };
    let l = TcpListener::bind(&lab.rt, SocketAddr::new(IpAddr::V6(S6), 80)).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut s, peer) = l.accept().expect("accept");
        assert_eq!(peer.ip(), IpAddr::V6(K6));
        http::serve_conn(&mut s).expect("serve")
    });
    let out = lab
        .ns
        .run(
            "curl",
            &["-sS", "--max-time", "10", &format!("http://[{S6}]/six")],
        )
        .expect("curl");
    assert_eq!(out.stdout, http::page("/six"));
    assert_eq!(server.join().expect("server"), "/six");
}

#[test]
fn synack_connects_to_a_kernel_server_over_ipv6() {
    let Some((mut lab, _)) = lab_opts(true) else {
        return;
    };
    lab.py_bg(PY_ECHO6, &["fd00:77::1", "9006"], false);
    let needle = format!("[{K6}]:9006");
    assert!(lab.wait_ss("LISTEN", &needle, 30), "{}", lab.ss());
    let c = TcpStream::connect_timeout(
        &lab.rt,
        &SocketAddr::new(IpAddr::V6(K6), 9006),
        Duration::from_secs(20),
    )
    .expect("connect");
    let data = pattern(2 << 20, 5);
    let mut back = Vec::new();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            (&c).write_all(&data).expect("write");
            c.shutdown(Shutdown::Write).expect("shutdown");
        });
        (&c).read_to_end(&mut back).expect("read");
    });
    assert_eq!(back, data);
}
