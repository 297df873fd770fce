//! Write a large pcap file of many interleaved TCP connections, for
//! measuring `synack explain`'s throughput:
//!
//! ```sh
//! cargo run --release -p synack-capture --example gen_capture -- /tmp/big.pcap 60000
//! time synack explain --summary /tmp/big.pcap > /dev/null
//! ```
//!
//! Each connection: handshake, 10 data segments of 64 bytes each way with
//! their ACKs, the client closes first: 47 packets. Connections run 1000 at
//! a time, their packets interleaved.

use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr};
use synack_proto::wire::{emit_packet, IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr};

const BATCH: u32 = 1000;
const ROUNDS: u32 = 10;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).map_or("/tmp/big.pcap", String::as_str);
    let conns: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60_000);
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut head = Vec::new();
    head.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    head.extend_from_slice(&2u16.to_le_bytes());
    head.extend_from_slice(&4u16.to_le_bytes());
    head.extend_from_slice(&[0; 8]);
    head.extend_from_slice(&65535u32.to_le_bytes());
    head.extend_from_slice(&101u32.to_le_bytes());
    w.write_all(&head)?;
    let mut t_us: u64 = 1_700_000_000_000_000;
    let mut buf = Vec::new();
    let payload = [0x61u8; 64];
    let mut n = 0u64;
    let mut put = |w: &mut BufWriter<std::fs::File>,
                   t: &mut u64,
                   c: u32,
                   to_server: bool,
                   flags: u8,
                   seq: u32,
                   ack: u32,
                   data: &[u8]|
     -> std::io::Result<()> {
        let client = IpAddr::V4(Ipv4Addr::from(
            0x0a00_0000 | (c / 60_000 + 1) << 16 | (c % 250),
        ));
        let server = IpAddr::V4(Ipv4Addr::new(10, 255, 0, 1));
        let cport = 1024 + (c % 60_000) as u16;
        let (src, dst, sp, dp) = if to_server {
            (client, server, cport, 80)
        } else {
            (server, client, 80, cport)
        };
        let ip = IpRepr::new(src, dst).expect("v4");
        let tcp = TcpRepr {
            src_port: sp,
            dst_port: dp,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags: TcpFlags(flags),
            window: 65535,
            urgent: 0,
            options: TcpOptions::default(),
            payload: data,
        };
        emit_packet(&ip, &tcp, &mut buf);
        *t += 3;
        let len = buf.len() as u32;
        w.write_all(&((*t / 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&((*t % 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&buf)?;
        n += 1;
        Ok(())
    };
    let (syn, ack, fin, psh) = (0x02u8, 0x10u8, 0x01u8, 0x08u8);
    let mut start = 0;
    while start < conns {
        let end = (start + BATCH).min(conns);
        let isn = |c: u32| c.wrapping_mul(2_654_435_761);
        let sisn = |c: u32| c.wrapping_mul(40_503).wrapping_add(7);
        for c in start..end {
            put(&mut w, &mut t_us, c, true, syn, isn(c), 0, &[])?;
        }
        for c in start..end {
            put(
                &mut w,
                &mut t_us,
                c,
                false,
                syn | ack,
                sisn(c),
                isn(c) + 1,
                &[],
            )?;
        }
        for c in start..end {
            put(
                &mut w,
                &mut t_us,
                c,
                true,
                ack,
                isn(c) + 1,
                sisn(c) + 1,
                &[],
            )?;
        }
        for r in 0..ROUNDS {
            for c in start..end {
                let (q, a) = (isn(c) + 1 + 64 * r, sisn(c) + 1 + 64 * r);
                put(&mut w, &mut t_us, c, true, psh | ack, q, a, &payload)?;
                put(&mut w, &mut t_us, c, false, psh | ack, a, q + 64, &payload)?;
            }
            for c in start..end {
                let (q, a) = (isn(c) + 1 + 64 * (r + 1), sisn(c) + 1 + 64 * (r + 1));
                put(&mut w, &mut t_us, c, true, ack, q, a, &[])?;
                put(&mut w, &mut t_us, c, false, ack, a, q, &[])?;
            }
        }
        for c in start..end {
            let (q, a) = (isn(c) + 1 + 64 * ROUNDS, sisn(c) + 1 + 64 * ROUNDS);
            put(&mut w, &mut t_us, c, true, fin | ack, q, a, &[])?;
            put(&mut w, &mut t_us, c, false, fin | ack, a, q + 1, &[])?;
            put(&mut w, &mut t_us, c, true, ack, q + 1, a + 1, &[])?;
        }
        start = end;
    }
    w.flush()?;
    eprintln!("{n} packets, {conns} connections written to {path}");
    Ok(())
}
