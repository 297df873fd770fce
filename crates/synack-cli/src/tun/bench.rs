//! `synack tun bench`: bulk throughput of synack against the kernel's TCP
//! over TUN, next to the kernel against itself over veth with offloads off,
//! each in namespaces of its own.

use super::{check_privileges, check_tools, netns, BenchArgs};
use netns::{unique_name, Netns};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant as StdInstant};
use synack::{Runtime, RuntimeConfig, TcpListener};

const PY_SOURCE_TIMED: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
left = int(sys.argv[3]); chunk = b'\x5a' * (1 << 20)
t = time.monotonic()
while left:
    n = min(len(chunk), left)
    s.sendall(chunk[:n]); left -= n
s.shutdown(socket.SHUT_WR)
s.recv(1)
print(time.monotonic() - t)
"#;

const PY_SINK_TIMED: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
t = time.monotonic(); n = 0
buf = bytearray(1 << 20)
while True:
    k = s.recv_into(buf)
    if not k:
        break
    n += k
print(time.monotonic() - t)
"#;

const PY_SERVER: &str = r#"
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen()
mode = sys.argv[3]; size = int(sys.argv[4])
for i in range(2):
    c, peer = l.accept()
    if mode == 'sink' or i == 0:
        buf = bytearray(1 << 20)
        while c.recv_into(buf):
            pass
        c.close()
    else:
        chunk = b'\xa5' * (1 << 20); left = size
        while left:
            n = min(len(chunk), left); c.sendall(chunk[:n]); left -= n
        c.close()
"#;

fn py_secs(ns: &Netns, script: &str, args: &[&str]) -> io::Result<f64> {
    let out = netns::run(
        ns.command("timeout")
            .args(["300", "python3", "-c", script])
            .args(args),
    )?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| {
            io::Error::other(format!(
                "python said {:?}",
                String::from_utf8_lossy(&out.stdout)
            ))
        })
}

fn wait_listen(ns: &Netns, needle: &str) -> io::Result<()> {
    let end = StdInstant::now() + Duration::from_secs(10);
    while StdInstant::now() < end {
        let out = ns.run("ss", &["-tln"])?;
        if String::from_utf8_lossy(&out.stdout).contains(needle) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(io::Error::other(format!("nothing listens on {needle}")))
}

pub(super) fn bench(a: &BenchArgs) -> io::Result<()> {
    check_privileges()?;
    check_tools("bench", &["ip", "python3", "ethtool", "ss", "timeout"])?;
    let size = (a.size as usize) << 20;
    println!(
        "bulk transfer of {} MiB per direction, MTU 1500, python3 sockets on the kernel side",
        a.size
    );
    let (k2s, s2k) = synack_to_kernel(size)?;
    let (kk_up, kk_down) = kernel_to_kernel(size)?;
    let mib = f64::from(a.size);
    let rate = |secs: f64| mib / secs.max(1e-9);
    println!("kernel -> synack (TUN): {:>9.1} MiB/s", rate(k2s));
    println!("synack -> kernel (TUN): {:>9.1} MiB/s", rate(s2k));
    println!(
        "kernel -> kernel (veth, offloads off): {:>9.1} MiB/s up, {:>9.1} MiB/s down",
        rate(kk_up),
        rate(kk_down)
    );
    println!(
        "ratio synack/kernel: receive {:.2}, send {:.2}",
        rate(k2s) / rate(kk_up),
        rate(s2k) / rate(kk_down)
    );
    Ok(())
}

/// Seconds to move `size` bytes kernel -> synack, then synack -> kernel, over TUN.
fn synack_to_kernel(size: usize) -> io::Result<(f64, f64)> {
    let ns = Netns::create_unique()?;
    let kernel = Ipv4Addr::new(10, 77, 0, 1);
    let ours = Ipv4Addr::new(10, 77, 0, 2);
    let dev = ns.tun(&unique_name("skb"), kernel, 24, 1500)?;
    let rt = Runtime::new(dev, RuntimeConfig::new(vec![IpAddr::V4(ours)]))?;
    let l = TcpListener::bind(&rt, SocketAddr::new(IpAddr::V4(ours), 5201))?;
    let srv = std::thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = l.accept()?;
        io::copy(&mut s, &mut io::sink())?;
        drop(s);
        let (mut s, _) = l.accept()?;
        let chunk = vec![0xa5u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            s.write_all(&chunk[..n])?;
            left -= n;
        }
        Ok(())
    });
    let sz = size.to_string();
    let k2s = py_secs(&ns, PY_SOURCE_TIMED, &["10.77.0.2", "5201", &sz])?;
    let s2k = py_secs(&ns, PY_SINK_TIMED, &["10.77.0.2", "5201"])?;
    srv.join()
        .map_err(|_| io::Error::other("server panicked"))??;
    drop(rt);
    drop(ns);
    Ok((k2s, s2k))
}

/// Seconds to move `size` bytes up, then down, kernel to kernel over veth
/// with offloads off.
fn kernel_to_kernel(size: usize) -> io::Result<(f64, f64)> {
    let a = Netns::create_unique()?;
    let mut b = Netns::create_unique()?;
    let (va, vb) = (unique_name("vba"), unique_name("vbb"));
    netns::ip(&[
        "link",
        "add",
        &va,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        &vb,
        "netns",
        b.name(),
    ])?;
    for (ns, v, addr) in [(&a, &va, "10.78.0.1/24"), (&b, &vb, "10.78.0.2/24")] {
        ns.ip(&["link", "set", "dev", v, "mtu", "1500"])?;
        ns.ip(&["addr", "add", addr, "dev", v])?;
        ns.ip(&["link", "set", "dev", v, "up"])?;
        let off = ns.run(
            "ethtool",
            &[
                "-K", v, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off",
            ],
        );
        if let Err(e) = off {
            eprintln!("note: ethtool -K on {v}: {e}");
        }
    }
    let sz = size.to_string();
    let mut cmd = b.command("python3");
    cmd.args(["-c", PY_SERVER, "10.78.0.2", "5201", "both", &sz]);
    b.spawn(&mut cmd)?;
    wait_listen(&b, "10.78.0.2:5201")?;
    let up = py_secs(&a, PY_SOURCE_TIMED, &["10.78.0.2", "5201", &sz])?;
    let down = py_secs(&a, PY_SINK_TIMED, &["10.78.0.2", "5201"])?;
    Ok((up, down))
}
