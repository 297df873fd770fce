//! TCP Fast Open on one connection (RFC 7413): the client's SYN with a
//! cookie and data, the SYN,ACK that acknowledges it (or only the SYN),
//! and the server's taking of data on a SYN. The state lives beside the
//! TCB (in the stack's Fast Open table, `stack/fastopen.rs`), so that a
//! connection that never used Fast Open pays nothing for it.

use super::{OutSegment, Tcb};
use crate::event::ListenerId;
use crate::fastopen::{FastOpenMiss, FastOpenOption, FastOpenStatus};
use crate::state::State;
use std::ops::Range;
use synack_wire::TcpRepr;

/// A connection's Fast Open state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FoConn {
    /// What the connection reports.
    pub(crate) status: FastOpenStatus,
    /// Client: the option on our first SYN (a cookie or a request).
    /// Server: the option on our SYN,ACK (a fresh cookie).
    pub(crate) option: Option<FastOpenOption>,
    /// Client: bytes of the send buffer that ride on the first SYN.
    pub(crate) syn_data: u32,
    /// Client: the SYN waits for the first send (`TCP_FASTOPEN_CONNECT`).
    pub(crate) deferred: bool,
    /// Server: a child that took data on its SYN, in the listener's accept
    /// queue before the handshake completed and counted in its Fast Open queue.
    pub(crate) early_child: Option<ListenerId>,
    /// Client: this connection already counted as a suspected blackhole.
    pub(crate) blackhole_seen: bool,
}

impl Tcb {
    /// Client: dress our SYN. The first carries the option and the SYN data
    /// (RFC 7413 4.2.1); a retransmission goes bare, without data or
    /// option, in case a middlebox drops SYNs with either (RFC 7413 4.2.2
    /// leaves the retransmission to the client; Linux's choice).
    pub(crate) fn fo_dress_syn(
        &mut self,
        fo: &mut FoConn,
        out: &mut OutSegment,
        payload: &mut Range<usize>,
    ) {
        if out.flags.ack() {
            // Server: RFC 7413 4.1.2, the cookie rides on the SYN,ACK.
            out.options.fast_open = fo.option;
            return;
        }
        if self.snd.max.since(self.snd.iss) > 1 || out.seq != self.snd.iss {
            if fo.syn_data > 0 && fo.status != FastOpenStatus::Used {
                fo.status = FastOpenStatus::NotUsed(FastOpenMiss::SynRetransmitted);
            }
            return;
        }
        let Some(opt) = fo.option else {
            return;
        };
        let room = (out.options.wire_len() + opt.wire_len()) <= synack_wire::tcp::MAX_OPTIONS_LEN;
        if room {
            out.options.fast_open = Some(opt);
        }
        let n = (fo.syn_data as usize).min(self.snd.buf.len());
        if n > 0 {
            *payload = 0..n;
            self.snd.nxt = self.snd.iss + 1 + n as u32;
            self.snd.max = self.snd.nxt;
            self.counters.bytes_sent += n as u64;
        }
    }

    /// Client: after our SYN-SENT handled a segment. A SYN,ACK that took
    /// the SYN's data makes Fast Open used; one that acknowledged only the
    /// SYN (RFC 7413 4.2.2) sends the data again at once.
    pub(crate) fn fo_after_syn_sent(&mut self, fo: &mut FoConn, was: State) {
        if was != State::SynSent || self.state == State::SynSent || fo.syn_data == 0 {
            return;
        }
        let data_end = self.snd.iss + 1 + fo.syn_data;
        if self.snd.una.ge(data_end) {
            if !matches!(fo.status, FastOpenStatus::NotUsed(_)) {
                fo.status = FastOpenStatus::Used;
            }
        } else {
            if fo.status == FastOpenStatus::NotTried {
                fo.status = FastOpenStatus::NotUsed(FastOpenMiss::DataNotAcked);
            }
            // Go back to what was acknowledged: the rest of the SYN's data is
            // the next segment's.
            self.snd.nxt = self.snd.una;
        }
    }

    /// Server: the data (and FIN) of a SYN with a valid cookie, taken into
    /// the receive space before the handshake completes (RFC 7413 4.2.2),
    /// so the SYN,ACK acknowledges it.
    pub(crate) fn fo_take_syn_data(&mut self, syn: &TcpRepr<'_>) -> usize {
        // RFC 7413 4.2.2: the data is the application's at once; what does not
        // fit the receive buffer is left unacknowledged for the client to resend.
        let room = self.cfg.recv_buffer.saturating_sub(self.rcv.buf.len());
        let n = syn.payload.len().min(room);
        self.rcv.buf.extend(&syn.payload[..n]);
        self.rcv.nxt += n as u32;
        self.rcv.adv = self.rcv.nxt;
        self.counters.bytes_received += n as u64;
        // The child may send at once, with the initial window (Linux's
        // `tcp_fastopen_create_child` starts the transfer).
        self.probes.set(crate::probe::Probes::EARLY_DATA, true);
        self.init_cwnd();
        n
    }
}
