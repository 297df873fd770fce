//! Hand-made traces for tests and demos: the events of a textbook
//! connection, built without a running stack or simulator.
//!
//! [`TraceBuilder`] records what a simulator would: for each segment, the
//! sender's `SegmentSent`, the link's packet and fate, and (when delivered)
//! the receiver's `SegmentReceived`. [`textbook`] uses it to build a whole
//! connection with one lost and retransmitted segment.

use crate::HostInfo;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_proto::wire::{SeqNum, TcpFlags, TcpOptions};
use synack_proto::{
    Cause, ConnId, Event, EventKind, FourTuple, Instant, ListenerId, SegmentSummary, SendReason,
    State, TimerKind,
};
use synack_sim::{DropCause, HostId, LinkEvent, LinkFate, TraceEntry, TraceKind};

/// The client's address in [`textbook`].
pub const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
/// The server's address in [`textbook`].
pub const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80);
/// The client's initial sequence number in [`textbook`].
pub const CLIENT_ISN: u32 = 1_000_000;
/// The server's initial sequence number in [`textbook`]: close to 2^32, so
/// its numbers wrap during the connection.
pub const SERVER_ISN: u32 = 4_294_967_290;
/// One-way delay of the link in [`textbook`], in milliseconds.
pub const DELAY_MS: u64 = 10;

/// The host list of [`textbook`]: `client` (host 0) and `server` (host 1).
pub fn hosts() -> Vec<HostInfo<'static>> {
    vec![
        HostInfo {
            name: "client",
            addr: CLIENT.ip(),
        },
        HostInfo {
            name: "server",
            addr: SERVER.ip(),
        },
    ]
}

/// The Internet checksum (RFC 1071) of `data`, folded and complemented.
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(2);
        for c in &mut chunks {
            sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        }
        if let [last] = chunks.remainder() {
            sum = sum.wrapping_add(u32::from(*last) << 8);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet carrying `seg` with `payload` (MSS option included when
/// `seg.options.mss` is set), with correct checksums. IPv6 endpoints give
/// an IPv6 packet.
pub fn packet(seg: &SegmentSummary, payload: &[u8]) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(24 + payload.len());
    tcp.extend_from_slice(&seg.src.port().to_be_bytes());
    tcp.extend_from_slice(&seg.dst.port().to_be_bytes());
    tcp.extend_from_slice(&seg.seq.get().to_be_bytes());
    tcp.extend_from_slice(&seg.ack.get().to_be_bytes());
    let opts: Vec<u8> = match seg.options.mss {
        Some(mss) => {
            let m = mss.to_be_bytes();
            vec![2, 4, m[0], m[1]]
        }
        None => Vec::new(),
    };
    let off = ((20 + opts.len()) / 4) as u8;
    tcp.push(off << 4);
    tcp.push(seg.flags.0);
    tcp.extend_from_slice(&seg.window.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(&opts);
    tcp.extend_from_slice(payload);
    let tcp_len = tcp.len() as u16;
    match (seg.src.ip(), seg.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut pseudo = Vec::with_capacity(12);
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&[0, 6]);
            pseudo.extend_from_slice(&tcp_len.to_be_bytes());
            let c = checksum(&[&pseudo, &tcp]).to_be_bytes();
            tcp[16] = c[0];
            tcp[17] = c[1];
            let total = (20 + tcp.len()) as u16;
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let c = checksum(&[&ip]).to_be_bytes();
            ip[10] = c[0];
            ip[11] = c[1];
            ip.extend_from_slice(&tcp);
            ip
        }
        (s, d) => {
            let (s, d) = (to_v6(s), to_v6(d));
            let mut pseudo = Vec::with_capacity(40);
            pseudo.extend_from_slice(&s);
            pseudo.extend_from_slice(&d);
            pseudo.extend_from_slice(&u32::from(tcp_len).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 6]);
            let c = checksum(&[&pseudo, &tcp]).to_be_bytes();
            tcp[16] = c[0];
            tcp[17] = c[1];
            let mut ip = vec![0x60, 0, 0, 0];
            ip.extend_from_slice(&tcp_len.to_be_bytes());
            ip.extend_from_slice(&[6, 64]);
            ip.extend_from_slice(&s);
            ip.extend_from_slice(&d);
            ip.extend_from_slice(&tcp);
            ip
        }
    }
}

fn to_v6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Records trace entries in the order a simulator would, and sorts them
/// by time (stably) at the end.
#[derive(Debug, Default, Clone)]
pub struct TraceBuilder {
    entries: Vec<TraceEntry>,
}

impl TraceBuilder {
    /// An empty trace.
    pub fn new() -> TraceBuilder {
        TraceBuilder::default()
    }

    fn stack(&mut self, at_ms: u64, host: HostId, kind: EventKind) {
        let at = Instant::from_millis(at_ms);
        self.entries.push(TraceEntry {
            at,
            host,
            kind: TraceKind::Stack(Event { at, kind }),
        });
    }

    /// A state change of `host`'s connection `conn` (or of a listener when
    /// `conn` is `None`).
    #[allow(clippy::too_many_arguments)]
    pub fn state(
        &mut self,
        at_ms: u64,
        host: HostId,
        conn: Option<ConnId>,
        listener: Option<ListenerId>,
        tuple: FourTuple,
        from: State,
        to: State,
        cause: Cause,
    ) -> &mut Self {
        self.stack(
            at_ms,
            host,
            EventKind::StateChanged {
                conn,
                listener,
                tuple,
                from,
                to,
                cause,
            },
        );
        self
    }

    /// A timer of `host`'s connection `conn` fired.
    pub fn timer(&mut self, at_ms: u64, host: HostId, conn: ConnId, timer: TimerKind) -> &mut Self {
        self.stack(at_ms, host, EventKind::TimerFired { conn, timer });
        self
    }

    /// Any other stack event.
    pub fn event(&mut self, at_ms: u64, host: HostId, kind: EventKind) -> &mut Self {
        self.stack(at_ms, host, kind);
        self
    }

    /// `from` sends `seg` (with `payload`, whose length must be `seg.len`)
    /// to `to` at `at_ms`; the link delivers it after `delay_ms` unless
    /// `drop` says why it is lost. A delivered segment is recorded as
    /// received by `to` (with connection `to_conn`) on arrival.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        at_ms: u64,
        from: HostId,
        conn: Option<ConnId>,
        to: HostId,
        to_conn: Option<ConnId>,
        seg: SegmentSummary,
        payload: &[u8],
        reason: SendReason,
        delay_ms: u64,
        drop: Option<DropCause>,
    ) -> &mut Self {
        self.stack(at_ms, from, EventKind::SegmentSent { conn, seg, reason });
        let arrive = at_ms.saturating_add(delay_ms);
        let fate = match drop {
            Some(c) => LinkFate::Dropped(c),
            None => LinkFate::Delivered {
                at: Instant::from_millis(arrive),
            },
        };
        let delivered = matches!(fate, LinkFate::Delivered { .. });
        self.entries.push(TraceEntry {
            at: Instant::from_millis(at_ms),
            host: from,
            kind: TraceKind::Link(LinkEvent {
                from,
                to,
                packet: packet(&seg, payload),
                fate,
            }),
        });
        if delivered {
            self.stack(
                arrive,
                to,
                EventKind::SegmentReceived { conn: to_conn, seg },
            );
        }
        self
    }

    /// The entries, stably sorted by time.
    pub fn build(&self) -> Vec<TraceEntry> {
        let mut v = self.entries.clone();
        v.sort_by_key(|e| e.at);
        v
    }
}

/// A segment summary between the textbook endpoints with absolute numbers.
pub fn seg(
    src: SocketAddr,
    dst: SocketAddr,
    flags: TcpFlags,
    seq: u32,
    ack: u32,
    len: u32,
) -> SegmentSummary {
    let mut options = TcpOptions::default();
    if flags.syn() {
        options.mss = Some(1460);
    }
    SegmentSummary {
        src,
        dst,
        flags,
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        window: 65535,
        len,
        options,
    }
}

/// The events of a textbook connection between `client` (host 0) and
/// `server` (host 1), 10 ms apart:
///
/// * the server listens; the client connects (SYN, SYN,ACK, ACK);
/// * the client's 5-byte request is lost on the link (random loss), its
///   retransmission timer fires at 220 ms and it is sent again;
/// * the server answers with 7 bytes, the client acknowledges;
/// * the client closes (FIN_WAIT_1, FIN_WAIT_2), the server closes
///   (CLOSE_WAIT, LAST_ACK, CLOSED), the client waits in TIME_WAIT until
///   its timer fires 60 s later.
///
/// The server's sequence numbers wrap past 2^32 during the exchange.
pub fn textbook() -> Vec<TraceEntry> {
    let mut book = Textbook {
        b: TraceBuilder::new(),
        c: CLIENT_ISN,
        s: SERVER_ISN,
    };
    book.handshake();
    book.exchange();
    book.teardown();
    book.b.build()
}

/// The client's host in [`textbook`].
const C: HostId = 0;
/// The server's host in [`textbook`].
const S: HostId = 1;
/// The connection's id, on both hosts, in [`textbook`].
const CONN: ConnId = ConnId {
    index: 0,
    generation: 0,
};
/// The server's listener in [`textbook`].
const LISTENER: ListenerId = ListenerId(0);

/// [`textbook`] being written: the trace so far and both initial
/// sequence numbers.
struct Textbook {
    b: TraceBuilder,
    /// The client's ISN.
    c: u32,
    /// The server's ISN.
    s: u32,
}

impl Textbook {
    /// A state change of the client's connection.
    fn client(&mut self, at_ms: u64, from: State, to: State, cause: Cause) {
        let ct = FourTuple {
            local: CLIENT,
            remote: SERVER,
        };
        self.b
            .state(at_ms, C, Some(CONN), None, ct, from, to, cause);
    }

    /// A state change of the server's connection (`listener` while the
    /// listener still holds it, half-open).
    fn server(
        &mut self,
        at_ms: u64,
        listener: Option<ListenerId>,
        from: State,
        to: State,
        cause: Cause,
    ) {
        let st = FourTuple {
            local: SERVER,
            remote: CLIENT,
        };
        self.b
            .state(at_ms, S, Some(CONN), listener, st, from, to, cause);
    }

    /// `from` sends `seg` on the connection; the link delivers it to the
    /// other host's connection [`DELAY_MS`] later.
    fn send(&mut self, at_ms: u64, from: HostId, seg: SegmentSummary, payload: &[u8]) {
        let to = if from == C { S } else { C };
        let n = SendReason::Normal;
        self.b.segment(
            at_ms,
            from,
            Some(CONN),
            to,
            Some(CONN),
            seg,
            payload,
            n,
            DELAY_MS,
            None,
        );
    }

    /// The server listens; the client connects: SYN, SYN,ACK, ACK. The
    /// SYN reaches the listener, not yet a connection.
    fn handshake(&mut self) {
        let (c, s, d) = (self.c, self.s, DELAY_MS);
        let (syn, ack) = (TcpFlags::SYN, TcpFlags::ACK);
        let l = Some(LISTENER);
        let lt = FourTuple {
            local: SERVER,
            remote: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        };
        let (closed, listen) = (State::Closed, State::Listen);
        self.b
            .state(0, S, None, l, lt, closed, listen, Cause::Listen);
        self.client(0, State::Closed, State::SynSent, Cause::Connect);
        let first = seg(CLIENT, SERVER, syn, c, 0, 0);
        let n = SendReason::Normal;
        self.b
            .segment(0, C, Some(CONN), S, None, first, b"", n, d, None);
        self.server(10, l, State::Listen, State::SynReceived, Cause::RecvSyn);
        self.send(10, S, seg(SERVER, CLIENT, syn | ack, s, c + 1, 0), b"");
        self.client(20, State::SynSent, State::Established, Cause::RecvSynAck);
        let third = seg(CLIENT, SERVER, ack, c + 1, s.wrapping_add(1), 0);
        self.send(20, C, third, b"");
    }

    /// The request is lost on the link (the server's handshake completes
    /// meanwhile) and resent when the retransmission timer fires; the
    /// response and its ACK follow.
    fn exchange(&mut self) {
        let (c, s, d) = (self.c, self.s, DELAY_MS);
        let psh = TcpFlags::PSH | TcpFlags::ACK;
        let cc = Some(CONN);
        let req = seg(CLIENT, SERVER, psh, c + 1, s.wrapping_add(1), 5);
        let (n, loss) = (SendReason::Normal, Some(DropCause::Loss));
        self.b.segment(20, C, cc, S, cc, req, b"hello", n, d, loss);
        let (half_open, est) = (State::SynReceived, State::Established);
        self.server(30, Some(LISTENER), half_open, est, Cause::RecvAckOfSyn);
        self.b.timer(220, C, CONN, TimerKind::Retransmit);
        let again = SendReason::Retransmit;
        self.b
            .segment(220, C, cc, S, cc, req, b"hello", again, d, None);
        let resp = seg(SERVER, CLIENT, psh, s.wrapping_add(1), c + 6, 7);
        self.send(230, S, resp, b"welcome");
        let ack_resp = seg(CLIENT, SERVER, TcpFlags::ACK, c + 6, s.wrapping_add(8), 0);
        self.send(240, C, ack_resp, b"");
    }

    /// The client closes first and waits out TIME_WAIT; the server closes
    /// from CLOSE_WAIT.
    fn teardown(&mut self) {
        let (c, s) = (self.c, self.s);
        let (ack, fin) = (TcpFlags::ACK, TcpFlags::FIN | TcpFlags::ACK);
        let cfin = seg(CLIENT, SERVER, fin, c + 6, s.wrapping_add(8), 0);
        let sack = seg(SERVER, CLIENT, ack, s.wrapping_add(8), c + 7, 0);
        let sfin = seg(SERVER, CLIENT, fin, s.wrapping_add(8), c + 7, 0);
        let last = seg(CLIENT, SERVER, ack, c + 7, s.wrapping_add(9), 0);
        let (est, closed) = (State::Established, State::Closed);
        self.client(250, est, State::FinWait1, Cause::Close);
        self.send(250, C, cfin, b"");
        self.server(260, None, est, State::CloseWait, Cause::RecvFin);
        self.send(260, S, sack, b"");
        self.client(270, State::FinWait1, State::FinWait2, Cause::RecvAckOfFin);
        self.server(280, None, State::CloseWait, State::LastAck, Cause::Close);
        self.send(280, S, sfin, b"");
        self.client(290, State::FinWait2, State::TimeWait, Cause::RecvFin);
        self.send(290, C, last, b"");
        self.server(300, None, State::LastAck, closed, Cause::RecvAckOfFin);
        self.b.timer(60_290, C, CONN, TimerKind::TimeWait);
        self.client(60_290, State::TimeWait, closed, Cause::TimeWaitExpired);
    }
}
