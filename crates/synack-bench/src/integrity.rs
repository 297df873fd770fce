//! Proof that both stacks verify the TCP checksum on receive: on an
//! established connection, data segments are taken off the link, a copy with
//! one payload bit flipped is handed to the receiver first, and only then the
//! original. The copy must be dropped (synack counts it under its bad-checksum
//! drop reason; smoltcp must neither deliver nor acknowledge it) and the
//! original must arrive intact.

use crate::pattern::Pattern;
use crate::{smol_pair, synack_pair};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use synack_proto::{ConnId, DropReason, Error};
use synack_wire::WireError;

/// Corrupted segments handed to each receiver per check.
pub(crate) const SEGMENTS: u32 = 4;

/// Payload bytes of each probing segment.
const LEN: usize = 100;

/// Flip one payload bit of the IPv4/TCP packet `pkt`, a different one for each `k`.
fn flip_payload_bit(pkt: &mut [u8], k: u32) -> Result<(), String> {
    let ihl = usize::from(pkt.first().ok_or("empty packet")? & 0x0f) * 4;
    let doff = usize::from(pkt.get(ihl + 12).ok_or("short packet")? >> 4) * 4;
    let payload = pkt.len().checked_sub(ihl + doff).ok_or("short packet")?;
    if payload == 0 {
        return Err("a data segment without payload".into());
    }
    let i = ihl + doff + (k as usize * 37) % payload;
    pkt[i] ^= 1 << (k % 8);
    Ok(())
}

/// The acknowledgment number of an IPv4/TCP packet with ACK set.
fn ack_number(pkt: &[u8]) -> Option<u32> {
    let ihl = usize::from(pkt.first()? & 0x0f) * 4;
    let tcp = pkt.get(ihl..)?;
    let ack_flag = tcp.get(13)? & 0x10 != 0;
    ack_flag.then(|| u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]))
}

/// The sequence number of an IPv4/TCP packet.
fn seq_number(pkt: &[u8]) -> Option<u32> {
    let ihl = usize::from(pkt.first()? & 0x0f) * 4;
    let b = pkt.get(ihl + 4..ihl + 8)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// synack: `SEGMENTS` corrupted segments from `c` to `s`; returns how many the
/// server dropped as bad checksums (all of them, or an error).
pub(crate) fn synack(
    p: &mut synack_pair::Pair,
    c: ConnId,
    s: ConnId,
    pat: &Pattern,
) -> Result<u32, String> {
    let e = |e: Error| format!("synack checksum check: {e}");
    let bad = DropReason::Malformed(WireError::BadTcpChecksum);
    let count = |p: &synack_pair::Pair| p.server.stats().drops.get(&bad).copied().unwrap_or(0);
    let mut pkt = Vec::new();
    let mut back = Vec::new();
    let mut rbuf = [0u8; LEN];
    let mut dropped = 0;
    for k in 0..SEGMENTS {
        let data = pat.slice(u64::from(k) * LEN as u64, LEN);
        if p.client.send(p.now, c, data).map_err(e)? != LEN {
            return Err("synack checksum check: send refused".into());
        }
        if !p.client.poll_transmit(p.now, &mut pkt) {
            return Err("synack checksum check: no data segment".into());
        }
        let mut corrupt = pkt.clone();
        flip_payload_bit(&mut corrupt, k)?;
        let before = count(p);
        p.server.handle_packet(p.now, &corrupt);
        let answered = p.server.poll_transmit(p.now, &mut back);
        if p.server.recv_ready(s).map_err(e)? != 0 || answered {
            return Err(format!(
                "synack accepted a segment with a flipped payload bit (checksum not verified): {} bytes delivered, answered: {answered}",
                p.server.recv_ready(s).map_err(e)?
            ));
        }
        dropped += u32::from(count(p) == before + 1);
        p.server.handle_packet(p.now, &pkt);
        p.pump();
        if p.server.recv(p.now, s, &mut rbuf).map_err(e)? != LEN || rbuf[..] != *data {
            return Err("synack checksum check: the intact segment did not arrive intact".into());
        }
        // Acknowledged, so that Nagle's algorithm lets the next segment go at once.
        p.settle("checksum check ACK", |p| {
            p.client.status(c).is_ok_and(|st| st.bytes_in_flight == 0)
        })?;
    }
    Ok(dropped)
}

/// smoltcp: `SEGMENTS` corrupted segments from `client` to `server`; returns
/// how many the server neither delivered nor acknowledged (all, or an error).
pub(crate) fn smoltcp(
    p: &mut smol_pair::Pair,
    client: SocketHandle,
    server: SocketHandle,
    pat: &Pattern,
) -> Result<u32, String> {
    let mut rbuf = [0u8; LEN];
    let mut refused = 0;
    for k in 0..SEGMENTS {
        let data = pat.slice(u64::from(k) * LEN as u64, LEN);
        let sock: &mut tcp::Socket = p.csock(client);
        if sock
            .send_slice(data)
            .map_err(|e| format!("smoltcp send: {e}"))?
            != LEN
        {
            return Err("smoltcp checksum check: send refused".into());
        }
        p.ci.poll(p.now, &mut p.cd, &mut p.cs);
        let pkt =
            p.cd.pop_tx()
                .ok_or("smoltcp checksum check: no data segment")?;
        if p.cd.tx_packets().next().is_some() {
            return Err("smoltcp checksum check: more than one segment".into());
        }
        let end = seq_number(&pkt)
            .ok_or("smoltcp checksum check: bad packet")?
            .wrapping_add(LEN as u32);
        let mut corrupt = pkt.clone();
        flip_payload_bit(&mut corrupt, k)?;
        p.sd.inject(corrupt);
        p.si.poll(p.now, &mut p.sd, &mut p.ss);
        let delivered = p.ssock(server).recv_queue();
        let acked = p.sd.tx_packets().filter_map(ack_number).any(|a| a == end);
        if delivered != 0 || acked {
            return Err(format!(
                "smoltcp accepted a segment with a flipped payload bit (checksum not verified): {delivered} bytes delivered, acknowledged: {acked}"
            ));
        }
        refused += 1;
        p.sd.inject(pkt);
        p.pump();
        let n = p
            .ssock(server)
            .recv_slice(&mut rbuf)
            .map_err(|e| format!("smoltcp recv: {e}"))?;
        if n != LEN || rbuf[..] != *data {
            return Err("smoltcp checksum check: the intact segment did not arrive intact".into());
        }
        p.settle("checksum check ACK", |p| p.csock(client).send_queue() == 0)?;
    }
    Ok(refused)
}
