//! The pcap file, read back by a real reader (tcpdump).
//!
//! tcpdump must be installed (`apt-get install -y tcpdump`); without it
//! this test fails rather than pass unchecked.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use synack_proto::Instant;
use synack_sim::{DropCause, LinkEvent, LinkFate, TraceEntry, TraceKind};
use synack_trace::{fixture, write_pcap, PcapOptions};

/// Reference Internet checksum (RFC 1071), written plainly.
fn reference_checksum(data: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut i = 0;
    while i + 1 < data.len() {
        sum += u64::from(data[i]) << 8 | u64::from(data[i + 1]);
        i += 2;
    }
    if i < data.len() {
        sum += u64::from(data[i]) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet carrying a TCP segment, checksums computed with the
/// reference function.
fn ipv4_tcp(
    src: SocketAddr,
    dst: SocketAddr,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
        panic!("IPv4 only");
    };
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&src.port().to_be_bytes());
    tcp.extend_from_slice(&dst.port().to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&s.octets());
    pseudo.extend_from_slice(&d.octets());
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(&tcp);
    let c = reference_checksum(&pseudo);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 6, 0, 0]);
    ip.extend_from_slice(&s.octets());
    ip.extend_from_slice(&d.octets());
    let c = reference_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&tcp);
    ip
}

fn link(at_us: u64, from: usize, packet: Vec<u8>, fate: LinkFate) -> TraceEntry {
    TraceEntry {
        at: Instant::from_micros(at_us),
        host: from,
        kind: TraceKind::Link(LinkEvent {
            from,
            to: 1 - from,
            packet,
            fate,
        }),
    }
}

fn delivered(at_us: u64) -> LinkFate {
    LinkFate::Delivered {
        at: Instant::from_micros(at_us),
    }
}

fn tcpdump(path: &std::path::Path) -> String {
    let out = Command::new("tcpdump")
        .args(["-nn", "-vv", "-r"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "tcpdump could not be run ({e}): install it (apt-get update && apt-get install -y tcpdump) to check the pcap writer"
            )
        });
    assert!(
        out.status.success(),
        "tcpdump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tcpdump_reads_the_segments() {
    let c = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
    let s = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80);
    let entries = vec![
        link(0, 0, ipv4_tcp(c, s, 0x02, 100, 0, b""), delivered(10_000)),
        link(
            10_000,
            1,
            ipv4_tcp(s, c, 0x12, 500, 101, b""),
            delivered(20_000),
        ),
        link(
            20_000,
            0,
            ipv4_tcp(c, s, 0x10, 101, 501, b""),
            delivered(30_000),
        ),
        link(
            20_000,
            0,
            ipv4_tcp(c, s, 0x18, 101, 501, b"lost!"),
            LinkFate::Dropped(DropCause::Loss),
        ),
        link(
            1_220_500,
            0,
            ipv4_tcp(c, s, 0x18, 101, 501, b"hello"),
            delivered(1_230_500),
        ),
        link(
            1_240_000,
            1,
            ipv4_tcp(s, c, 0x11, 501, 106, b""),
            delivered(1_250_000),
        ),
        link(
            1_250_000,
            0,
            ipv4_tcp(c, s, 0x04, 106, 0, b""),
            delivered(1_260_000),
        ),
    ];
    let dir = std::env::temp_dir().join(format!("synack-trace-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("handshake.pcap");
    let mut buf = Vec::new();
    let n = write_pcap(&entries, &mut buf, &PcapOptions::default()).expect("write");
    assert_eq!(n, 6, "the dropped packet is left out by default");
    assert_eq!(&buf[..4], &0xa1b2c3d4u32.to_le_bytes());
    std::fs::write(&path, &buf).expect("write file");
    let text = tcpdump(&path);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("Flags [")).collect();
    assert_eq!(lines.len(), 6, "{text}");
    let expect = [
        ("00:00:00.000000", "10.0.0.1.40000 > 10.0.0.2.80: Flags [S]"),
        (
            "00:00:00.010000",
            "10.0.0.2.80 > 10.0.0.1.40000: Flags [S.]",
        ),
        ("00:00:00.020000", "Flags [.]"),
        ("00:00:01.220500", "Flags [P.]"),
        ("00:00:01.240000", "Flags [F.]"),
        ("00:00:01.250000", "Flags [R]"),
    ];
    // tcpdump -vv puts the IP header on one line and TCP on the next.
    let flat = text.replace("\n    ", " ");
    let recs: Vec<&str> = flat.lines().collect();
    for (i, (time, what)) in expect.iter().enumerate() {
        let rec = recs
            .get(i)
            .unwrap_or_else(|| panic!("record {i} missing:\n{text}"));
        assert!(rec.contains(time), "record {i} time {time}: {rec}");
        assert!(rec.contains(what), "record {i} {what}: {rec}");
        assert!(
            !rec.contains("incorrect"),
            "bad checksum in record {i}: {rec}"
        );
    }
    assert!(
        flat.contains("length 5: HTTP") || flat.contains("length 5"),
        "{text}"
    );

    // With drops included, the lost segment is there too.
    let mut buf = Vec::new();
    let n = write_pcap(
        &entries,
        &mut buf,
        &PcapOptions {
            include_dropped: true,
        },
    )
    .expect("write");
    assert_eq!(n, 7);
    std::fs::write(&path, &buf).expect("write file");
    let text = tcpdump(&path);
    assert_eq!(text.matches("Flags [").count(), 7, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn textbook_packets_have_valid_checksums() {
    let entries = fixture::textbook();
    let mut count = 0;
    for e in &entries {
        let TraceKind::Link(l) = &e.kind else {
            continue;
        };
        let p = &l.packet;
        assert_eq!(reference_checksum(&p[..20]), 0, "IPv4 header checksum");
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]);
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&((p.len() - 20) as u16).to_be_bytes());
        pseudo.extend_from_slice(&p[20..]);
        assert_eq!(reference_checksum(&pseudo), 0, "TCP checksum");
        count += 1;
    }
    assert_eq!(count, 11);
    let mut buf = Vec::new();
    assert_eq!(
        write_pcap(&entries, &mut buf, &PcapOptions::default()).expect("pcap"),
        10
    );
    let dir = std::env::temp_dir().join(format!("synack-trace-textbook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("textbook.pcap");
    std::fs::write(&path, &buf).expect("write");
    let text = tcpdump(&path);
    assert_eq!(text.matches("Flags [").count(), 10, "{text}");
    assert!(!text.contains("incorrect"), "{text}");
    assert!(text.contains("mss 1460"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
