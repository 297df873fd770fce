//! The scenarios of SCENARIOS.md, and the demo.
//!
//! One file per family: [`open`] (the handshake and its variants), [`close`]
//! (the teardown and its variants), [`loss`] (lost handshake and teardown
//! segments), [`failure`] (abort, keepalive, a rebooted peer), [`flood`] (a
//! SYN flood) and [`transfer`] (moving data). The table below lists them in
//! the order of SCENARIOS.md; the helpers here are shared by the families.

mod close;
mod congestion;
mod failure;
mod fastopen;
mod flood;
mod loss;
mod open;
mod transfer;

use crate::peer::{Action, Peer, Role, Trigger};
use crate::world::World;
use crate::{Options, Outcome, ScenarioError, ScenarioInfo};
use close::check_active_close;
use std::net::SocketAddr;
use synack_proto::wire::{emit_packet, IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr};
use synack_proto::{Duration, Instant};

/// How long an application "thinks" before its next call.
const THINK: Duration = Duration::from_millis(100);
/// The most virtual time a scenario runs (keepalive's defaults need ~4 h).
const LIMIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The demo's request.
pub(crate) const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
/// The demo's response.
pub(crate) const RESPONSE: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n";

/// Every scenario, in the order of SCENARIOS.md.
pub static SCENARIOS: &[ScenarioInfo] = &[
    ScenarioInfo {
        name: "handshake",
        description: "the three-way handshake: SYN, SYN,ACK, ACK (CLOSED -> SYN_SENT -> ESTABLISHED)",
        run: open::handshake,
    },
    ScenarioInfo {
        name: "teardown",
        description: "the four-way teardown, client closes first (FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT)",
        run: close::teardown,
    },
    ScenarioInfo {
        name: "server-closes-first",
        description: "the server closes first (HTTP/1.0 style): it holds TIME_WAIT, the client goes CLOSE_WAIT, LAST_ACK",
        run: close::server_closes_first,
    },
    ScenarioInfo {
        name: "three-segment-close",
        description: "the passive closer closes at once: its ACK and FIN share one segment, FIN_WAIT_2 is skipped",
        run: close::three_segment_close,
    },
    ScenarioInfo {
        name: "half-close",
        description: "shutdown(Write): the client sends FIN, the server keeps sending in CLOSE_WAIT, then closes",
        run: close::half_close,
    },
    ScenarioInfo {
        name: "simultaneous-close",
        description: "both sides send FIN at once: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both",
        run: close::simultaneous_close,
    },
    ScenarioInfo {
        name: "simultaneous-open",
        description: "both sides send SYN to each other: SYN_SENT -> SYN_RCVD -> ESTABLISHED, one connection",
        run: open::simultaneous_open,
    },
    ScenarioInfo {
        name: "lost-final-ack",
        description: "the last ACK of the teardown is lost: LAST_ACK resends FIN, TIME_WAIT answers again",
        run: loss::lost_final_ack,
    },
    ScenarioInfo {
        name: "lost-syn",
        description: "the SYN is lost: the client resends it after the initial RTO of 1 s",
        run: loss::lost_syn,
    },
    ScenarioInfo {
        name: "lost-syn-ack",
        description: "the SYN,ACK is lost: the client resends its SYN, the server its SYN,ACK",
        run: loss::lost_syn_ack,
    },
    ScenarioInfo {
        name: "lost-third-ack",
        description: "the handshake's ACK is lost: the server stays in SYN_RCVD and resends SYN,ACK",
        run: loss::lost_third_ack,
    },
    ScenarioInfo {
        name: "old-duplicate-syn",
        description: "a stale SYN reaches the server: the client answers its SYN,ACK with RST, nothing is accepted",
        run: open::old_duplicate_syn,
    },
    ScenarioInfo {
        name: "refused",
        description: "a SYN to a port nobody listens on: RST,ACK, connect fails with \"connection refused\"",
        run: open::refused,
    },
    ScenarioInfo {
        name: "abort",
        description: "the client aborts: RST, the server's next call fails with \"connection reset\"",
        run: failure::abort,
    },
    ScenarioInfo {
        name: "keepalive",
        description: "keepalive probes after the idle time: one answered, then the peer vanishes and the connection times out",
        run: failure::keepalive,
    },
    ScenarioInfo {
        name: "syn-flood",
        description: "spoofed SYNs fill the SYN queue; SYN cookies still serve the real client",
        run: flood::syn_flood,
    },
    ScenarioInfo {
        name: "peer-reboot",
        description: "the server loses its state: it answers the client's data with RST, the client sees \"connection reset\"",
        run: failure::peer_reboot,
    },
    ScenarioInfo {
        name: "congestion",
        description: "400 kB through a 400 kbit/s bottleneck with a short queue: slow start, a loss, CUBIC's cut and its concave then convex growth",
        run: congestion::congestion,
    },
    ScenarioInfo {
        name: "bulk-transfer",
        description: "20 000 bytes from client to server: seq/ack advance by bytes, every byte arrives in order",
        run: transfer::bulk_transfer,
    },
    ScenarioInfo {
        name: "ecn",
        description: "a congested queue marks a data segment CE instead of dropping it: ECE echoes, the sender halves cwnd and answers CWR, nothing is lost",
        run: transfer::ecn,
    },
    ScenarioInfo {
        name: "path-mtu",
        description: "a link on the path carries only 1280-byte packets: its router answers the first full-sized segments with ICMP; the sender lowers its MSS and resends",
        run: transfer::path_mtu,
    },
    ScenarioInfo {
        name: "fast-open",
        description: "TCP Fast Open: a first connection earns a cookie, the second sends its request on the SYN and has the response one round trip sooner",
        run: fastopen::fast_open,
    },
    ScenarioInfo {
        name: "fast-open-rejected",
        description: "a Fast Open cookie the server no longer accepts: it takes only the SYN, offers a fresh cookie, the request follows the handshake",
        run: fastopen::fast_open_rejected,
    },
    ScenarioInfo {
        name: "zero-window",
        description: "a slow reader's window closes to zero; the sender probes it (persist timer) until it opens",
        run: transfer::zero_window,
    },
];

fn at(d: Duration) -> Instant {
    Instant::ZERO + d
}

/// Bytes 0, 1, ... 250, 0, 1 ... so a misplaced byte shows.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// An IPv4 TCP packet built by hand (stale or spoofed segments).
fn raw_syn(src: SocketAddr, dst: SocketAddr, seq: u32) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(ip) = IpRepr::new(src.ip(), dst.ip()) {
        let tcp = TcpRepr {
            src_port: src.port(),
            dst_port: dst.port(),
            seq: SeqNum(seq),
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 65535,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                ..Default::default()
            },
            payload: &[],
        };
        emit_packet(&ip, &tcp, &mut buf);
    }
    buf
}

/// The demo: the client sends a request, the server answers, the client
/// closes first; both sides go through every state of a normal life.
pub fn demo(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    // The request is written once the handshake's ACK has left.
    let cp = Peer::new(w.connect_role())
        .send_after(Trigger::Established, Duration::ZERO, REQUEST.to_vec())
        .then(
            Trigger::Received(RESPONSE.len()),
            Duration::ZERO,
            Action::Close,
        );
    let sp = Peer::new(Role::Accept(l))
        .send_on(Trigger::Received(REQUEST.len()), RESPONSE.to_vec())
        .then(Trigger::Eof, THINK, Action::Close);
    let (cr, sr) = (cp.record(), sp.record());
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.run(LIMIT)?;
    let (c, s) = (cr.borrow().clone(), sr.borrow().clone());
    w.check_bytes("server", REQUEST, &s);
    w.check_bytes("client", RESPONSE, &c);
    let client = w.client;
    check_active_close(&mut w, client, "client");
    w.finish()
}
