//! Explanations of segments read from a capture
//! ([`SendReason::Observed`](synack_proto::SendReason::Observed)), in
//! English and Chinese: retransmissions, duplicate ACKs with their SACK
//! blocks, window events, probes, and the likely cause of a RST.

use crate::explain::segment_text;
use crate::model::SegStep;
use crate::Lang;
use synack_proto::rules::{Observation, Seen};
use synack_proto::SendReason;

/// A stable snake_case name of what a captured segment did, for JSON.
pub(crate) fn name(o: Observation) -> &'static str {
    match o.seen {
        Seen::Normal if o.bad_checksum => "bad_checksum",
        Seen::Normal if o.snapped => "snapped",
        Seen::Normal => "normal",
        Seen::MidStream => "mid_stream",
        Seen::Retransmit => "retransmit",
        Seen::FastRetransmit => "fast_retransmit",
        Seen::SpuriousRetransmit => "spurious_retransmit",
        Seen::OutOfOrder => "out_of_order",
        Seen::Gap { .. } => "gap_before",
        Seen::DuplicateAck { .. } => "duplicate_ack",
        Seen::WindowUpdate => "window_update",
        Seen::ZeroWindow => "zero_window",
        Seen::WindowProbe => "window_probe",
        Seen::KeepaliveProbe => "keepalive_probe",
        Seen::KeepaliveAck => "keepalive_ack",
        Seen::ChallengeAck => "challenge_ack",
        Seen::TimeWaitAck => "time_wait_ack",
        Seen::RstRefused => "rst_refused",
        Seen::RstAbort => "rst_abort",
        Seen::RstUnreadData => "rst_unread_data",
        Seen::RstChallengeAnswer => "rst_challenge_answer",
        Seen::RstHalfOpen => "rst_half_open",
        Seen::RstBadAck => "rst_bad_ack",
        _ => crate::explain::UNNAMED,
    }
}

/// The explanation of a captured segment.
pub(crate) fn text(o: Observation, s: &SegStep, absolute: bool, lang: Lang) -> String {
    let base = segment_text(
        s.meaning,
        Some(SendReason::Normal),
        s.seq,
        s.ack,
        absolute,
        lang,
    );
    let (seq, ack, len) = (s.seq, s.ack, s.seg.len);
    let ctl = u32::from(s.seg.flags.syn()) + u32::from(s.seg.flags.fin());
    let end = seq.wrapping_add(len).wrapping_add(ctl);
    let what = match lang {
        Lang::En => en(o.seen, s, &base, seq, ack, end),
        Lang::Zh => zh(o.seen, s, &base, seq, ack, end),
    };
    let mut out = what;
    if let Seen::DuplicateAck { .. } = o.seen {
        out.push_str(&sack_text(s, lang));
    }
    if o.bad_checksum {
        out.push_str(match lang {
            Lang::En => "; bad TCP checksum: corrupted, or captured on the sender before checksum offload filled it in",
            Lang::Zh => "；TCP 校验和错误：传输中损坏，或在发送方网卡校验和卸载之前被抓取",
        });
    }
    if o.snapped {
        out.push_str(match lang {
            Lang::En => "; the capture kept only part of this packet (snap length)",
            Lang::Zh => "；抓包只保存了该报文的一部分（snap 长度）",
        });
    }
    out
}

/// `; SACK: it holds 1001..2000`, with each block in the numbers shown.
fn sack_text(s: &SegStep, lang: Lang) -> String {
    let blocks = s.seg.options.sack;
    if blocks.is_empty() {
        return String::new();
    }
    // The shown ack is the raw one minus the peer's ISN (or equal to it).
    let shift = s.seg.ack.get().wrapping_sub(s.ack);
    let list: Vec<String> = blocks
        .as_slice()
        .iter()
        .map(|(l, r)| {
            format!(
                "{}..{}",
                l.get().wrapping_sub(shift),
                r.get().wrapping_sub(shift).wrapping_sub(1)
            )
        })
        .collect();
    match lang {
        Lang::En => format!(
            "; SACK (RFC 2018): it already holds {}, only the bytes before them are missing",
            list.join(", ")
        ),
        Lang::Zh => format!(
            "；SACK（RFC 2018）：接收方已收到 {}，只缺它们之前的字节",
            list.join("、")
        ),
    }
}

fn en(seen: Seen, s: &SegStep, base: &str, seq: u32, ack: u32, end: u32) -> String {
    let f = s.seg.flags;
    let last = end.wrapping_sub(1);
    match seen {
        Seen::Normal => base.to_string(),
        Seen::MidStream => format!(
            "the capture began after this connection opened: both ends' states are UNKNOWN until a FIN or RST shows them; {base}"
        ),
        Seen::Retransmit if f.syn() && f.ack() => {
            "SYN,ACK again: the handshake's ACK did not come in time, or the SYN came again".to_string()
        }
        Seen::Retransmit if f.syn() => {
            "SYN again: no SYN,ACK came in time (the first retry waits the initial RTO, 1 s, RFC 6298)".to_string()
        }
        Seen::Retransmit if f.fin() && s.seg.len == 0 => {
            format!("FIN again (seq={seq}): its ACK did not come in time")
        }
        Seen::Retransmit => format!(
            "retransmission of seq {seq}..{last}: sent before, no ACK came in time (RFC 6298)"
        ),
        Seen::FastRetransmit => format!(
            "fast retransmission of seq {seq}..{last}: three duplicate ACKs said it was lost (RFC 5681 3.2)"
        ),
        Seen::SpuriousRetransmit => format!(
            "spurious retransmission of seq {seq}..{last}: the peer had already acknowledged it; the original or its ACK was only late"
        ),
        Seen::OutOfOrder => format!(
            "out of order: seq {seq}..{last} passes after later bytes (reordered on the path, or a retransmission of a segment lost before the capture point)"
        ),
        Seen::Gap { missing } => format!(
            "{base}; {missing} bytes before seq {seq} were not captured: lost before the capture point, or reordered"
        ),
        Seen::DuplicateAck { n } if n >= 3 => format!(
            "duplicate ACK #{n}: the receiver still expects seq {ack}; three in a row tell the sender to retransmit it now (RFC 5681 3.2)"
        ),
        Seen::DuplicateAck { n } => format!(
            "duplicate ACK #{n}: the receiver still expects seq {ack}, a later segment arrived instead (RFC 5681 4.2)"
        ),
        Seen::WindowUpdate => format!(
            "window update: same ack, the window is now {}: the receiving application read data (RFC 9293 3.8.6)",
            s.seg.window
        ),
        Seen::ZeroWindow => format!(
            "zero window: the receiver's buffer is full, the sender must stop and probe (RFC 9293 3.8.6.1); ack={ack}"
        ),
        Seen::WindowProbe => "zero-window probe: asks whether the peer's window has opened (RFC 9293 3.8.6.1)".to_string(),
        Seen::KeepaliveProbe => "keepalive probe: seq=SND.NXT-1 after an idle time; the peer must answer with an ACK (RFC 1122 4.2.3.6)".to_string(),
        Seen::KeepaliveAck => format!("answer to the keepalive probe: ack={ack}, the peer is alive"),
        Seen::ChallengeAck => format!(
            "challenge ACK (RFC 5961): answers an in-window SYN or an inexact RST with what I expect (ack={ack}); only a real peer can answer it"
        ),
        Seen::TimeWaitAck => format!(
            "TIME_WAIT sends the final ACK again (ack={ack}): the peer repeated its FIN, so the first ACK was lost"
        ),
        Seen::RstRefused => "RST: nobody listens on this port, the connection is refused (RFC 9293 3.10.7.1)".to_string(),
        Seen::RstAbort => "RST: the application aborted (close with SO_LINGER 0): no FIN, no TIME_WAIT (RFC 9293 3.10.5)".to_string(),
        Seen::RstUnreadData => "RST: the application closed with received data it had not read, so its stack resets instead of sending FIN (RFC 2525 2.17)".to_string(),
        Seen::RstChallengeAnswer => format!(
            "RST answering the challenge ACK (seq={seq} is exactly its ack): the sender has no such connection (RFC 5961)"
        ),
        Seen::RstHalfOpen => format!(
            "RST: the sender has no connection for this segment (it lost its state, e.g. in a reboot): a half-open connection, reset (RFC 9293 3.5.1); seq={seq} is the ack it answers"
        ),
        Seen::RstBadAck => "RST: the segment acknowledges something never sent, e.g. an old duplicate SYN's answer (RFC 9293 3.10.7.3)".to_string(),
        _ => base.to_string(),
    }
}

fn zh(seen: Seen, s: &SegStep, base: &str, seq: u32, ack: u32, end: u32) -> String {
    let f = s.seg.flags;
    let last = end.wrapping_sub(1);
    match seen {
        Seen::Normal => base.to_string(),
        Seen::MidStream => format!(
            "抓包开始时连接已经建立：在看到 FIN 或 RST 之前，两端的状态都是 UNKNOWN（未知）；{base}"
        ),
        Seen::Retransmit if f.syn() && f.ack() => "再次发送 SYN,ACK：握手的 ACK 没有按时到达，或者 SYN 又来了一次".to_string(),
        Seen::Retransmit if f.syn() => "再次发送 SYN：没有按时收到 SYN,ACK（第一次重试等待初始 RTO 1 秒，RFC 6298）".to_string(),
        Seen::Retransmit if f.fin() && s.seg.len == 0 => {
            format!("再次发送 FIN（seq={seq}）：它的 ACK 没有按时到达")
        }
        Seen::Retransmit => format!("重传 seq {seq}..{last}：之前发过，没有按时收到 ACK（RFC 6298）"),
        Seen::FastRetransmit => format!(
            "快速重传 seq {seq}..{last}：三个重复 ACK 表明它丢了（RFC 5681 3.2）"
        ),
        Seen::SpuriousRetransmit => format!(
            "虚假重传 seq {seq}..{last}：对端早已确认过这些字节；原报文段或它的 ACK 只是迟到了"
        ),
        Seen::OutOfOrder => format!(
            "乱序：seq {seq}..{last} 在更靠后的字节之后经过（路径上被重排，或是抓包点之前丢失的报文段的重传）"
        ),
        Seen::Gap { missing } => format!(
            "{base}；seq {seq} 之前的 {missing} 字节没有被抓到：在抓包点之前丢失，或被重排"
        ),
        Seen::DuplicateAck { n } if n >= 3 => format!(
            "第 {n} 个重复 ACK：接收方仍在等待 seq {ack}；连续三个会让发送方立即重传（RFC 5681 3.2）"
        ),
        Seen::DuplicateAck { n } => format!(
            "第 {n} 个重复 ACK：接收方仍在等待 seq {ack}，却先收到了后面的报文段（RFC 5681 4.2）"
        ),
        Seen::WindowUpdate => format!(
            "窗口更新：ack 不变，窗口变为 {}：接收方应用读走了数据（RFC 9293 3.8.6）",
            s.seg.window
        ),
        Seen::ZeroWindow => format!(
            "零窗口：接收方缓冲区已满，发送方必须停下并探测（RFC 9293 3.8.6.1）；ack={ack}"
        ),
        Seen::WindowProbe => "零窗口探测：询问对端的窗口是否已打开（RFC 9293 3.8.6.1）".to_string(),
        Seen::KeepaliveProbe => "保活探测：空闲一段时间后发送 seq=SND.NXT-1，对端必须以 ACK 回应（RFC 1122 4.2.3.6）".to_string(),
        Seen::KeepaliveAck => format!("对保活探测的回应：ack={ack}，对端还活着"),
        Seen::ChallengeAck => format!(
            "挑战 ACK（RFC 5961）：以我期望的序号（ack={ack}）回应窗口内的 SYN 或不精确的 RST；只有真正的对端能回答它"
        ),
        Seen::TimeWaitAck => format!(
            "TIME_WAIT 再次发送最后的 ACK（ack={ack}）：对端重复了它的 FIN，说明第一个 ACK 丢了"
        ),
        Seen::RstRefused => "RST：该端口无人监听，连接被拒绝（RFC 9293 3.10.7.1）".to_string(),
        Seen::RstAbort => "RST：应用中止了连接（SO_LINGER 为 0 的 close）：没有 FIN，也没有 TIME_WAIT（RFC 9293 3.10.5）".to_string(),
        Seen::RstUnreadData => "RST：应用关闭时还有收到的数据没有读，于是协议栈发送 RST 而不是 FIN（RFC 2525 2.17）".to_string(),
        Seen::RstChallengeAnswer => format!(
            "回应挑战 ACK 的 RST（seq={seq} 恰好等于挑战 ACK 的 ack）：发送方没有这个连接（RFC 5961）"
        ),
        Seen::RstHalfOpen => format!(
            "RST：发送方没有与该报文段对应的连接（它丢失了状态，例如重启）：半开连接被重置（RFC 9293 3.5.1）；seq={seq} 是它回应的 ack"
        ),
        Seen::RstBadAck => "RST：该报文段确认了从未发送的内容，例如旧的重复 SYN 的应答（RFC 9293 3.10.7.3）".to_string(),
        _ => base.to_string(),
    }
}
