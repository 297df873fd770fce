//! One TCP connection seen in a capture: each endpoint's state, inferred
//! by RFC 9293's rules ([`synack_proto::rules`]) from the segments that
//! passed the capture point, and the events the views draw.
//!
//! # What a capture point can tell
//! A capture sees each segment once, where it was taken: at one host it
//! sees that host's segments before any loss on the path, and the peer's
//! after it. So a segment's arrival at the other end is taken as shown
//! only when that end acknowledges it (or, for segments that occupy no
//! sequence space, when nothing before them is still unshown): a SYN or a
//! FIN changes its receiver's state when the receiver's ACK of it passes,
//! and the state change is drawn where the segment passed (or after the
//! receiver's last segment that did not acknowledge it). A connection
//! whose opening is not in the capture starts UNKNOWN on both sides; the
//! first FIN or RST gives them a state (taking the connection as
//! established until then), and nothing is drawn for leaving UNKNOWN.

use crate::classify::classify;
use crate::decode::Decoded;
use crate::flow::{seg_space, Dir, Pending};
use std::net::SocketAddr;
use synack_proto::rules::{self, Input, Observation, Seen, Steps};
use synack_proto::wire::{SeqNum, TcpFlags};
use synack_proto::{Cause, ConnId, Event, EventKind, FourTuple, Instant, SegmentSummary};
use synack_proto::{SendReason, State};
use synack_sim::{TraceEntry, TraceKind};

/// What is known of an endpoint's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The connection opened before the capture began.
    Unknown,
    /// A SYN went to it and it has not answered yet: LISTEN, or CLOSED.
    Fresh,
    /// Inferred.
    Known(State),
}

/// Most states an endpoint's history keeps.
const MAX_REACHED: usize = 24;

/// The recorded events of a connection, for the views.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder {
    pub(crate) entries: Vec<TraceEntry>,
    pub(crate) cap: usize,
    /// Events not recorded because of the cap.
    pub(crate) dropped: u64,
}

/// Handshake timing at the capture point, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Handshake {
    pub(crate) syn: Option<u64>,
    pub(crate) syn_ack: Option<u64>,
    pub(crate) ack: Option<u64>,
}

/// A connection.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    /// 1 for the first connection of the capture.
    pub(crate) id: u64,
    /// End 0 (the client: it sent the first SYN) and end 1.
    pub(crate) ends: [SocketAddr; 2],
    /// A SYN opened it in the capture, so the roles are known.
    pub(crate) opened: bool,
    pub(crate) dirs: [Dir; 2],
    pub(crate) state: [End; 2],
    /// The states each end went through, `None` for UNKNOWN.
    pub(crate) reached: [Vec<Option<State>>; 2],
    pub(crate) first_us: u64,
    pub(crate) last_us: u64,
    pub(crate) rec: Option<Recorder>,
    /// The end that closed first, and whether with a RST.
    pub(crate) closed_first: Option<(usize, bool)>,
    /// The end that entered TIME_WAIT.
    pub(crate) time_wait: Option<usize>,
    pub(crate) hs: Handshake,
    /// The first RST: its sender and its likely cause.
    pub(crate) rst: Option<(usize, Seen)>,
    pub(crate) bad_checksums: u64,
    pub(crate) snapped: u64,
    /// A SYN with a new ISN ended this record (the ports were reused).
    pub(crate) reused: bool,
}

fn initial(e: End) -> Option<State> {
    match e {
        End::Known(s) => Some(s),
        End::Unknown | End::Fresh => None,
    }
}

impl Conn {
    /// A connection whose first captured segment goes from `src` to `dst`.
    pub(crate) fn new(
        id: u64,
        src: SocketAddr,
        dst: SocketAddr,
        flags: TcpFlags,
        at_us: u64,
        cap: Option<usize>,
    ) -> Conn {
        let opened = flags.syn() && !flags.ack();
        // Without the SYN, guess the server by its port: the lower one, usually well known.
        let (ends, state) = if opened {
            ([src, dst], [End::Known(State::Closed), End::Fresh])
        } else if dst.port() <= src.port() {
            ([src, dst], [End::Unknown, End::Unknown])
        } else {
            ([dst, src], [End::Unknown, End::Unknown])
        };
        Conn {
            id,
            ends,
            opened,
            dirs: [Dir::default(), Dir::default()],
            state,
            reached: [vec![initial(state[0])], Vec::new()],
            first_us: at_us,
            last_us: at_us,
            rec: cap.map(|cap| Recorder {
                entries: Vec::new(),
                cap,
                dropped: 0,
            }),
            closed_first: None,
            time_wait: None,
            hs: Handshake::default(),
            rst: None,
            bad_checksums: 0,
            snapped: 0,
            reused: false,
        }
        .with_reached_b()
    }

    fn with_reached_b(mut self) -> Conn {
        if self.state[1] != End::Fresh {
            self.reached[1].push(initial(self.state[1]));
        }
        self
    }

    /// The end that sent from `src`.
    pub(crate) fn end_of(&self, src: SocketAddr) -> usize {
        usize::from(self.ends[0] != src)
    }

    /// Both ends are done: CLOSED or TIME_WAIT (which only re-ACKs).
    pub(crate) fn finished(&self) -> bool {
        self.state
            .iter()
            .all(|e| matches!(e, End::Known(State::Closed | State::TimeWait)))
    }

    fn conn_id(&self) -> ConnId {
        ConnId {
            index: u32::try_from(self.id).unwrap_or(u32::MAX),
            generation: 0,
        }
    }

    fn tuple(&self, end: usize) -> FourTuple {
        FourTuple {
            local: self.ends[end & 1],
            remote: self.ends[(end + 1) & 1],
        }
    }

    fn push(&mut self, host: usize, at_us: u64, kind: EventKind) {
        if let Some(rec) = &mut self.rec {
            if rec.entries.len() >= rec.cap {
                rec.dropped += 1;
                return;
            }
            let at = Instant::from_micros(at_us);
            rec.entries.push(TraceEntry {
                at,
                host,
                kind: TraceKind::Stack(Event { at, kind }),
            });
        }
    }

    fn rec_len(&self) -> usize {
        self.rec.as_ref().map_or(0, |r| r.entries.len())
    }

    /// Record a state in the end's history.
    fn reach(&mut self, end: usize, s: State) {
        let r = &mut self.reached[end & 1];
        if r.len() < MAX_REACHED && r.last() != Some(&Some(s)) {
            r.push(Some(s));
        }
        if s == State::TimeWait && self.time_wait.is_none() {
            self.time_wait = Some(end);
        }
    }

    /// Set an end's state without drawing a change (leaving UNKNOWN or
    /// Fresh: the state before is not known).
    fn settle(&mut self, end: usize, s: State) {
        let end = end & 1;
        if self.state[end] == End::Fresh && self.reached[end].is_empty() {
            self.reached[end].push(Some(s));
        }
        self.state[end] = End::Known(s);
        self.reach(end, s);
    }

    /// Apply transitions to `end`, drawing them at `pos` (or at the end of
    /// the record when `None`).
    fn apply(&mut self, end: usize, steps: Steps, at_us: u64, pos: Option<usize>) {
        let end = end & 1;
        let mut pos = pos;
        for t in steps.iter() {
            self.state[end] = End::Known(t.to);
            self.reach(end, t.to);
            let kind = EventKind::StateChanged {
                conn: Some(self.conn_id()),
                listener: None,
                tuple: self.tuple(end),
                from: t.from,
                to: t.to,
                cause: t.cause,
            };
            match pos {
                Some(p) if p < self.rec_len() => {
                    self.insert(end, p, kind, at_us);
                    pos = Some(p + 1);
                }
                _ => self.push(end, at_us, kind),
            }
        }
    }

    /// Insert an event at `p`, stamped with the time of the event before it,
    /// and move every remembered position at or after `p` along.
    fn insert(&mut self, host: usize, p: usize, kind: EventKind, at_us: u64) {
        let Some(rec) = &mut self.rec else { return };
        if rec.entries.len() >= rec.cap {
            rec.dropped += 1;
            return;
        }
        let at = p
            .checked_sub(1)
            .and_then(|q| rec.entries.get(q))
            .map_or_else(|| Instant::from_micros(at_us), |e| e.at);
        let p = p.min(rec.entries.len());
        rec.entries.insert(
            p,
            TraceEntry {
                at,
                host,
                kind: TraceKind::Stack(Event { at, kind }),
            },
        );
        for d in &mut self.dirs {
            if d.last_sent_pos >= p {
                d.last_sent_pos += 1;
            }
            for q in &mut d.pending {
                if q.pos >= p {
                    q.pos += 1;
                }
            }
        }
    }

    /// Process a segment from end `i`, captured at `at_us`; what it did.
    pub(crate) fn segment(&mut self, i: usize, dec: &Decoded, at_us: u64, first: bool) -> Seen {
        let i = i & 1;
        let j = 1 - i;
        let seg = dec.seg;
        self.last_us = at_us;
        // What this segment acknowledges, its sender had received before sending it.
        self.resolve_fresh(i, &seg);
        if seg.flags.ack() {
            self.flush_pending(i, Some(seg.ack));
        }
        let mut seen = classify(self, i, &seg, at_us);
        if first && seen == Seen::Normal && !self.opened {
            seen = Seen::MidStream;
        }
        let steps = self.send_steps(i, &seg, seen);
        self.apply(i, steps, at_us, None);
        self.note_summary(i, &seg, seen, at_us);
        let obs = Observation {
            seen,
            bad_checksum: dec.checksum_ok == Some(false),
            snapped: dec.snapped,
        };
        self.bad_checksums += u64::from(obs.bad_checksum);
        self.snapped += u64::from(obs.snapped);
        let reason = if obs == Observation::new(Seen::Normal) {
            SendReason::Normal
        } else {
            SendReason::Observed(obs)
        };
        let conn = Some(self.conn_id());
        self.push(i, at_us, EventKind::SegmentSent { conn, seg, reason });
        self.push(j, at_us, EventKind::SegmentReceived { conn, seg });
        self.dirs[i].last_sent_pos = self.rec_len();
        crate::classify::update(self, i, &seg, seen, at_us);
        self.receive(i, &seg, at_us);
        seen
    }

    /// The first segment from an end that had not spoken tells what it was.
    fn resolve_fresh(&mut self, i: usize, seg: &SegmentSummary) {
        if self.state[i] != End::Fresh {
            return;
        }
        let f = seg.flags;
        let j = 1 - i;
        let acks_peer_syn = f.ack() && self.dirs[j].isn.is_some_and(|isn| seg.ack == isn + 1);
        if f.syn() && !f.ack() {
            // Its own SYN: it was CLOSED and opens too (simultaneous open, RFC 9293 3.5).
            self.settle(i, State::Closed);
        } else if f.syn() && acks_peer_syn {
            // RFC 9293 3.10.7.2: only a LISTEN answers a SYN with SYN,ACK.
            self.settle(i, State::Listen);
        } else if f.rst() {
            // RFC 9293 3.10.7.1: CLOSED answers anything but a RST with RST.
            self.settle(i, State::Closed);
        } else {
            // An ACK or data: it was already synchronized (a connection the capture missed).
            self.state[i] = End::Unknown;
            self.reached[i].push(None);
        }
    }

    /// Apply the segments end `i`'s peer sent that `ack` (from end `i`)
    /// shows arrived, in order; stop at the first one not shown.
    ///
    /// RFC 9293 3.4: an acknowledgment number is the next sequence number
    /// its sender expects, so every octet (and SYN or FIN) before it arrived;
    /// 3.10.7.4: a receiver processes segments in sequence order, so nothing
    /// after an unshown SYN or FIN is taken as processed before it.
    fn flush_pending(&mut self, i: usize, ack: Option<SeqNum>) {
        let j = 1 - i;
        while let Some(p) = self.dirs[j].pending.front().copied() {
            let shown = !p.needs_ack || ack.is_some_and(|a| p.end.le(a));
            if !shown {
                break;
            }
            self.dirs[j].pending.pop_front();
            // Drawn where it passed, or after end i's last segment that did not acknowledge it.
            let pos = p.pos.max(self.dirs[i].last_sent_pos);
            self.received_at(i, p, pos);
        }
    }

    /// End `i` received and accepted `p`.
    fn received_at(&mut self, i: usize, p: Pending, pos: usize) {
        let d = &self.dirs[i];
        let acks_syn = p.flags.ack() && d.isn.is_some_and(|isn| p.ack.gt(isn));
        let acks_fin = p.flags.ack() && d.fin_seq.is_some_and(|f| p.ack.gt(f));
        match self.state[i] {
            End::Known(s) => {
                let seg = rules::Segment {
                    flags: p.flags,
                    acks_syn,
                    acks_fin,
                };
                let steps = rules::next(s, Input::Received(seg));
                self.apply(i, steps, p.at_us, Some(pos));
            }
            // Taken as established until now: its FIN makes it CLOSE_WAIT (RFC 9293 3.10.7.4).
            End::Unknown if p.flags.rst() => self.settle(i, State::Closed),
            End::Unknown if p.flags.fin() => self.settle(i, State::CloseWait),
            End::Unknown | End::Fresh => {}
        }
    }

    /// The state changes of the sender: the user call its segment reveals.
    fn send_steps(&mut self, i: usize, seg: &SegmentSummary, seen: Seen) -> Steps {
        let f = seg.flags;
        let st = match self.state[i] {
            End::Known(s) => s,
            End::Unknown | End::Fresh => {
                if f.rst() {
                    self.settle(i, State::Closed);
                } else if f.fin() && seen != Seen::Retransmit {
                    // Taken as ESTABLISHED until now: RFC 9293 3.10.4 CLOSE.
                    self.settle(i, State::FinWait1);
                }
                return Steps::default();
            }
        };
        if f.rst() {
            return match seen {
                // RFC 9293 3.10.7.1, 3.10.7.3: a RST answering a segment changes nothing.
                Seen::RstRefused | Seen::RstChallengeAnswer | Seen::RstBadAck => Steps::default(),
                // It answered as CLOSED: its connection was already gone (RFC 9293 3.5.1).
                Seen::RstHalfOpen => rules::next(st, Input::Timeout(Cause::StackClosed)),
                // RFC 9293 3.10.5 ABORT.
                _ => rules::next(st, Input::Sent(rules::Segment::new(f))),
            };
        }
        if (f.syn() || f.fin()) && matches!(seen, Seen::Retransmit | Seen::SpuriousRetransmit) {
            return Steps::default();
        }
        if f.fin() && self.dirs[i].fin_seq.is_some() {
            return Steps::default();
        }
        // RFC 9293 3.10.1 (SYN: OPEN), 3.10.7.2 (SYN,ACK from LISTEN), 3.10.4 (FIN: CLOSE).
        rules::next(st, Input::Sent(rules::Segment::new(f)))
    }

    /// The segment from end `i` reaches end `j`: at once, or once shown.
    fn receive(&mut self, i: usize, seg: &SegmentSummary, at_us: u64) {
        let j = 1 - i;
        let f = seg.flags;
        let p = Pending {
            flags: f,
            ack: seg.ack,
            end: seg.seq + seg_space(f, seg.len),
            needs_ack: (f.syn() || f.fin()) && !f.rst(),
            pos: self.rec_len(),
            at_us,
        };
        if f.rst() {
            if self.rst_acceptable(j, seg) {
                self.dirs[i].pending.clear();
                self.received_at(j, p, p.pos);
            } else {
                self.dirs[i].rst_ignored = true;
            }
            return;
        }
        let mut p = p;
        if p.needs_ack && self.dirs[j].max_ack.is_some_and(|a| p.end.le(a)) {
            // Its SYN or FIN was received before (the receiver acknowledged it):
            // RFC 9293 3.10.7.4 trims what was received, only the ACK is new.
            p.flags = TcpFlags(p.flags.0 & !(TcpFlags::SYN.0 | TcpFlags::FIN.0));
            p.needs_ack = false;
        }
        if p.needs_ack {
            if !self.dirs[i]
                .pending
                .iter()
                .any(|q| q.end == p.end && q.needs_ack && q.flags == p.flags)
            {
                self.dirs[i].push_pending(p);
            }
        } else if self.dirs[i].pending.is_empty() {
            self.received_at(j, p, p.pos);
        } else {
            self.dirs[i].push_pending(p);
        }
    }

    /// Whether end `j` accepts a RST from its peer (RFC 9293 3.10.7, RFC 5961 3.2).
    fn rst_acceptable(&self, j: usize, seg: &SegmentSummary) -> bool {
        let i = 1 - j;
        match self.state[j] {
            // RFC 9293 3.10.7.3: in SYN-SENT a RST counts only if it acknowledges our SYN.
            End::Known(State::SynSent) => {
                seg.flags.ack() && self.dirs[j].isn.is_some_and(|isn| seg.ack == isn + 1)
            }
            End::Known(State::Listen | State::Closed) | End::Fresh => false,
            _ => {
                // RFC 5961 3.2: only a RST at exactly RCV.NXT resets.
                let exp = [self.dirs[j].max_ack, self.dirs[i].snd_max];
                exp.iter().all(Option::is_none) || exp.contains(&Some(seg.seq))
            }
        }
    }

    /// Keep what the summary tells: handshake times, who closed first, the first RST.
    fn note_summary(&mut self, i: usize, seg: &SegmentSummary, seen: Seen, at_us: u64) {
        let f = seg.flags;
        let j = 1 - i;
        if f.syn() && !f.ack() && self.hs.syn.is_none() {
            self.hs.syn = Some(at_us);
        } else if f.syn() && f.ack() && self.hs.syn_ack.is_none() {
            self.hs.syn_ack = Some(at_us);
        } else if !f.syn()
            && f.ack()
            && self.hs.syn_ack.is_some()
            && self.hs.ack.is_none()
            && self.dirs[j].isn.is_some_and(|isn| seg.ack == isn + 1)
        {
            self.hs.ack = Some(at_us);
        }
        if f.fin() && self.closed_first.is_none() {
            self.closed_first = Some((i, false));
        }
        if f.rst() {
            if self.rst.is_none() {
                self.rst = Some((i, seen));
            }
            if self.closed_first.is_none() && !matches!(seen, Seen::RstRefused) {
                self.closed_first = Some((i, true));
            }
        }
    }

    /// Events recorded so far.
    pub(crate) fn recorded(&self) -> usize {
        self.rec_len()
    }

    /// Record nothing more (the table's event budget is spent).
    pub(crate) fn freeze_record(&mut self) {
        if let Some(rec) = &mut self.rec {
            rec.cap = rec.cap.min(rec.entries.len());
        }
    }

    /// The state an end is in, `None` for UNKNOWN.
    pub(crate) fn state_of(&self, end: usize) -> Option<State> {
        initial(self.state[end & 1])
    }

    /// Whether end `end` has not sent anything yet.
    pub(crate) fn is_fresh(&self, end: usize) -> bool {
        self.state[end & 1] == End::Fresh
    }
}
