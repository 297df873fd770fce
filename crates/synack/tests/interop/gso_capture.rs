//! What the kernel finally sends when synack hands it bursts: the kernel
//! forwards synack's data from the TUN device out of a veth pair with
//! segmentation and checksum offloads off, so it cuts every burst and
//! computes every checksum itself, and a capture
//! on the far end of the veth must show, in order and byte for byte, the
//! TCP segments synack's stack emitted one by one.
//!
//! Namespace A: the TUN device (kernel 10.77.0.1, synack 10.77.0.2) and
//! veth 10.80.0.1, forwarding on. Namespace B: veth 10.80.0.2, a Python
//! sink, and a packet capture (AF_PACKET) on its veth.

use super::*;
use synack::test_util::netns;
use synack::TunOptions;

/// Capture TCP segments from 10.77.0.2:5003 with data on interface argv[1]
/// until its FIN; print each as the hex of the TCP segment (header and payload).
const PY_CAPTURE: &str = r#"
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.setsockopt(socket.SOL_SOCKET, 33, 1 << 25)  # SO_RCVBUFFORCE
s.bind((sys.argv[1], 0))
print("ready", flush=True)
out = []
while True:
    f, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    ip = f[14:]
    ihl = (ip[0] & 15) * 4
    total = int.from_bytes(ip[2:4], "big")
    if ip[9] != 6 or ip[12:16] != bytes([10, 77, 0, 2]):
        continue
    tcp = ip[ihl:total]
    if int.from_bytes(tcp[0:2], "big") != 5003:
        continue
    doff = (tcp[12] >> 4) * 4
    if len(tcp) > doff:
        out.append(tcp.hex())
    if tcp[13] & 1:
        break
print("\n".join(out), flush=True)
"#;

/// Recorded TCP segments (header and payload) synack sent with data.
type Sent = Arc<Mutex<Vec<Vec<u8>>>>;

fn tcp_with_data_from_5003(packet: &[u8]) -> Option<Vec<u8>> {
    let (ip, seg) = parse_packet(packet, ChecksumMode::Verify).ok()?;
    if seg.src_port != 5003 || seg.payload.is_empty() || !ip.src().is_ipv4() {
        return None;
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    Some(packet[ihl..].to_vec())
}

#[test]
fn kernel_cuts_bursts_into_the_segments_synack_emitted() {
    if !can_set_up(&["ip", "python3", "ethtool", "sysctl"]) {
        return;
    }
    let a = Netns::create_unique().expect("namespace A");
    let mut b = Netns::create_unique().expect("namespace B");
    let (va, vb) = (unique_name("vga"), unique_name("vgb"));
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
    for (ns, v, addr) in [(&a, &va, "10.80.0.1/24"), (&b, &vb, "10.80.0.2/24")] {
        ns.ip(&["addr", "add", addr, "dev", v]).expect("address");
        ns.ip(&["link", "set", "dev", v, "up"]).expect("up");
        ns.run(
            "ethtool",
            &[
                "-K", v, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off",
            ],
        )
        .expect("offloads off on the veth");
    }
    a.run("sysctl", &["-qw", "net.ipv4.ip_forward=1"])
        .expect("forwarding");
    b.ip(&["route", "add", "10.77.0.0/24", "via", "10.80.0.1"])
        .expect("route");
    let dev = a
        .tun_with(
            &unique_name("skg"),
            TunOptions::default(),
            1500,
            &[(IpAddr::V4(K), 24)],
        )
        .expect("TUN device");
    assert!(dev.offload(), "the kernel refused TUN offloads");
    let sent: Sent = Arc::new(Mutex::new(Vec::new()));
    let rec = Arc::clone(&sent);
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(S)]);
    cfg.stack.conn.send_buffer = 1 << 20;
    cfg.on_packet = Some(Box::new(move |_, dir, p: &[u8]| {
        if dir == synack::Direction::Out {
            if let Some(t) = tcp_with_data_from_5003(p) {
                rec.lock().expect("record").push(t);
            }
        }
    }));
    let rt = Runtime::new(dev, cfg).expect("runtime");

    let mut cap = b.command("python3");
    cap.args(["-c", PY_CAPTURE, &vb])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let cap = b.spawn(&mut cap).expect("capture");
    let mut out = b
        .child(cap)
        .and_then(|c| c.stdout.take())
        .expect("capture output");
    let mut ready = [0u8; 6];
    out.read_exact(&mut ready).expect("capture ready");

    let l = TcpListener::bind(&rt, sa(S, 5003)).expect("bind");
    let data = pattern(2 << 20, 17);
    let tx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.write_all(&data).expect("write");
        s.shutdown(Shutdown::Write).expect("shutdown");
        s
    });
    let sink = netns::run(b.command("timeout").args([
        "60",
        "python3",
        "-c",
        PY_SINK,
        "10.77.0.2",
        "5003",
    ]))
    .expect("sink");
    assert!(String::from_utf8_lossy(&sink.stdout).starts_with(&(2 << 20).to_string()));
    drop(tx.join().expect("sender"));
    let mut text = String::new();
    out.read_to_string(&mut text).expect("capture");
    let captured: Vec<Vec<u8>> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            (0..l.len() / 2)
                .map(|i| u8::from_str_radix(&l[2 * i..2 * i + 2], 16).expect("hex"))
                .collect()
        })
        .collect();
    let (bursts, joined) = rt.bursts();
    assert!(
        bursts > 0 && joined > 2 * bursts,
        "{bursts} bursts of {joined} segments"
    );
    let mut sent = sent.lock().expect("sent").clone();
    // The capture stops at the first FIN, so the emitted list does too: a
    // loss probe or retransmission of the tail after it (legal, and seen
    // when the last ACK is slow on a loaded machine) is not on the capture.
    if let Some(fin) = sent
        .iter()
        .position(|t| t.get(13).is_some_and(|f| f & 1 != 0))
    {
        sent.truncate(fin + 1);
    }
    let seqs = |v: &[Vec<u8>]| -> Vec<String> {
        v.iter()
            .map(|t| match t.get(4..8) {
                Some(b) => format!(
                    "{}+{}",
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                    t.len()
                ),
                None => "short".into(),
            })
            .collect()
    };
    if captured.len() != sent.len() {
        let at = captured
            .iter()
            .zip(&sent)
            .take_while(|(c, s)| c == s)
            .count();
        panic!(
            "segments captured {} vs emitted {}; first difference at {at}: captured {:?} emitted {:?}",
            captured.len(),
            sent.len(),
            seqs(&captured[at.min(captured.len())..(at + 3).min(captured.len())]),
            seqs(&sent[at.min(sent.len())..(at + 3).min(sent.len())]),
        );
    }
    for (i, (c, s)) in captured.iter().zip(&sent).enumerate() {
        // The headers first, for a readable failure; then everything.
        let h = s.len().min(40);
        assert_eq!(c.get(..h), s.get(..h), "segment {i}: headers differ");
        assert!(c == s, "segment {i}: payloads differ");
    }
    drop(rt);
}
