//! ICMPv6 Packet Too Big over the TUN link: synack sends to a kernel server
//! beyond a router whose next hop is narrower than both ends' links, the
//! kernel router answers synack's full-sized segments with Packet Too Big,
//! and synack must shrink its segments to the reported MTU (RFC 8201 4,
//! RFC 9293 3.7.2) and deliver every byte.
//!
//! Namespace A: the TUN device (kernel fd00:77::1, synack fd00:77::2) and
//! veth fd00:80::1 with MTU 1280, forwarding on. Namespace B: veth
//! fd00:80::2 with MTU 1500 (so its SYN,ACK offers a 1440-octet MSS) and a
//! Python sink.

use super::*;
use std::net::Ipv6Addr;
use synack::test_util::netns;
use synack::TunOptions;

const K6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x77, 0, 0, 0, 0, 0, 1);
const S6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x77, 0, 0, 0, 0, 0, 2);
const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x80, 0, 0, 0, 0, 0, 2);

/// Read to EOF on [argv1]:argv2, print the byte count and the SHA-256.
const PY_SINK6: &str = r#"
import hashlib, socket, sys
l = socket.socket(socket.AF_INET6)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen()
print("ready", flush=True)
c, _ = l.accept()
h = hashlib.sha256(); n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b); n += len(b)
print(n, h.hexdigest(), flush=True)
"#;

/// What synack's device saw: Packet Too Big messages in (their MTU), and
/// the largest IPv6 packet with TCP data out before and after the first.
#[derive(Default)]
struct Seen {
    too_big: Vec<u32>,
    largest_before: usize,
    largest_after: usize,
}

fn record(seen: &Mutex<Seen>, dir: synack::Direction, p: &[u8]) {
    // IPv6 only: version 6, next header at 6, payload from 40.
    if p.len() < 48 || p[0] >> 4 != 6 {
        return;
    }
    let Ok(mut s) = seen.lock() else { return };
    match (dir, p[6]) {
        // ICMPv6 type 2 (Packet Too Big): the MTU at 4..8 of the message.
        (synack::Direction::In, 58) if p[40] == 2 => {
            s.too_big
                .push(u32::from_be_bytes([p[44], p[45], p[46], p[47]]));
        }
        (synack::Direction::Out, 6) => {
            if s.too_big.is_empty() {
                s.largest_before = s.largest_before.max(p.len());
            } else {
                s.largest_after = s.largest_after.max(p.len());
            }
        }
        _ => {}
    }
}

#[test]
fn packet_too_big_from_a_kernel_router_shrinks_synack_segments() {
    too_big(false);
}

#[test]
fn packet_too_big_shrinks_the_bursts_of_an_offloading_tun_device() {
    too_big(true);
}

/// The test, with the TUN device's offloads on or off.
fn too_big(offload: bool) {
    if !can_set_up(&["ip", "python3", "ethtool", "sysctl"]) {
        return;
    }
    let a = Netns::create_unique().expect("namespace A");
    let mut b = Netns::create_unique().expect("namespace B");
    let (va, vb) = (unique_name("vpa"), unique_name("vpb"));
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
    ])
    .expect("veth pair");
    for (ns, v, addr, mtu) in [
        (&a, &va, "fd00:80::1/64", "1280"),
        (&b, &vb, "fd00:80::2/64", "1500"),
    ] {
        ns.ip(&["link", "set", "dev", v, "mtu", mtu]).expect("mtu");
        ns.ip(&["addr", "add", addr, "dev", v, "nodad"])
            .expect("address");
        ns.ip(&["link", "set", "dev", v, "up"]).expect("up");
    }
    a.run("sysctl", &["-qw", "net.ipv6.conf.all.forwarding=1"])
        .expect("forwarding");
    b.ip(&["-6", "route", "add", "fd00:77::/64", "via", "fd00:80::1"])
        .expect("route");
    let dev = a
        .tun_with(
            &unique_name("skp"),
            TunOptions {
                offload,
                ..TunOptions::default()
            },
            1500,
            &[(IpAddr::V6(K6), 64)],
        )
        .expect("TUN device");
    assert_eq!(dev.offload(), offload, "TUN offloads");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let rec = Arc::clone(&seen);
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V6(S6)]);
    cfg.stack.conn.send_buffer = 1 << 20;
    cfg.on_packet = Some(Box::new(move |_, dir, p: &[u8]| record(&rec, dir, p)));
    let rt = Runtime::new(dev, cfg).expect("runtime");

    let mut sink = b.command("timeout");
    sink.args(["60", "python3", "-c", PY_SINK6, "fd00:80::2", "5004"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let sink = b.spawn(&mut sink).expect("sink");
    let mut out = b
        .child(sink)
        .and_then(|c| c.stdout.take())
        .expect("sink output");
    let mut ready = [0u8; 6];
    out.read_exact(&mut ready).expect("sink ready");

    let data = pattern(1 << 20, 23);
    let mut s = TcpStream::connect(&rt, SocketAddr::new(IpAddr::V6(B6), 5004)).expect("connect");
    s.write_all(&data).expect("write");
    s.shutdown(Shutdown::Write).expect("shutdown");
    let mut text = String::new();
    out.read_to_string(&mut text).expect("sink result");
    let want = format!("{} {}", data.len(), hex(&Sha256::digest(&data)));
    assert_eq!(text.trim(), want, "bytes the server received");
    let st = s.status().expect("status");
    drop(s);
    drop(rt);

    let seen = seen.lock().expect("seen");
    assert!(
        seen.too_big.contains(&1280),
        "no Packet Too Big for MTU 1280 reached synack: {:?}",
        seen.too_big
    );
    assert_eq!(
        seen.largest_before, 1500,
        "synack's first segments should fill the 1500-octet link"
    );
    assert!(
        (1000..=1280).contains(&seen.largest_after),
        "after the Packet Too Big synack sent packets of up to {} octets",
        seen.largest_after
    );
    // RFC 8201 4: 1280 - 40 (IPv6) - 20 (TCP) - 12 (timestamps).
    assert!(
        st.snd_mss <= 1220,
        "sender MSS {} after the Packet Too Big",
        st.snd_mss
    );
}
