//! One-line explanations for learners, in English and Chinese, for every
//! state, cause, send reason, drop reason, timer and link fate.

use crate::model::Meaning;
use crate::Lang;
use synack_proto::wire::WireError;
use synack_proto::{Cause, ConnError, DropReason, SendReason, State, TimerKind};
use synack_sim::DropCause;

/// What a view shows for a kind the views do not describe yet. The tests
/// walk every value of every event enum (`all()`, listed by construction in
/// the core) and fail when any of them gets this, so a new variant cannot
/// ship without its text in both languages.
pub const UNEXPLAINED: &str = "(not explained: a kind of event newer than this view)";

/// The JSON name of a kind the views do not name yet; the tests fail on it
/// as they do on [`UNEXPLAINED`].
pub const UNNAMED: &str = "unnamed";

/// What a state means, e.g. `FIN_WAIT_2: my side is closed, the peer may still send`.
pub fn state_text(s: State, lang: Lang) -> &'static str {
    match lang {
        Lang::En => match s {
            State::Closed => "CLOSED: no connection",
            State::Listen => "LISTEN: waiting for a SYN from any client",
            State::SynSent => "SYN_SENT: my SYN is out, waiting for the peer's SYN,ACK",
            State::SynReceived => "SYN_RCVD: got a SYN and answered SYN,ACK, waiting for its ACK",
            State::Established => "ESTABLISHED: handshake done, data may flow both ways",
            State::FinWait1 => "FIN_WAIT_1: I sent FIN, waiting for its ACK",
            State::FinWait2 => "FIN_WAIT_2: my side is closed, the peer may still send",
            State::CloseWait => {
                "CLOSE_WAIT: the peer is done sending, waiting for my application to close"
            }
            State::Closing => "CLOSING: both sides sent FIN at once, waiting for the ACK of mine",
            State::LastAck => "LAST_ACK: I closed after the peer, waiting for the ACK of my FIN",
            State::TimeWait => "TIME_WAIT: waiting 2*MSL so a lost final ACK can be sent again",
        },
        Lang::Zh => match s {
            State::Closed => "CLOSED：没有连接",
            State::Listen => "LISTEN：等待任意客户端的 SYN",
            State::SynSent => "SYN_SENT：我的 SYN 已发出，等待对端的 SYN,ACK",
            State::SynReceived => "SYN_RCVD：收到 SYN 并回复了 SYN,ACK，等待对它的 ACK",
            State::Established => "ESTABLISHED：握手完成，双方都可以发送数据",
            State::FinWait1 => "FIN_WAIT_1：我已发出 FIN，等待它的 ACK",
            State::FinWait2 => "FIN_WAIT_2：我这一侧已关闭，对端仍可发送数据",
            State::CloseWait => "CLOSE_WAIT：对端已不再发送，等待我方应用关闭",
            State::Closing => "CLOSING：双方同时发出 FIN，等待对我方 FIN 的 ACK",
            State::LastAck => "LAST_ACK：我在对端之后关闭，等待对我方 FIN 的 ACK",
            State::TimeWait => "TIME_WAIT：等待 2*MSL，以便在最后的 ACK 丢失时重发它",
        },
    }
}

/// Why a state changed, e.g. `the application called connect (active open)`.
pub fn cause_text(c: Cause, lang: Lang) -> &'static str {
    match lang {
        Lang::En => match c {
            Cause::Connect => "the application called connect (active open)",
            Cause::Listen => "the application called listen (passive open)",
            Cause::RecvSyn => "a SYN arrived at the listener",
            Cause::RecvSynSimultaneous => {
                "a SYN arrived while my own SYN was out (simultaneous open)"
            }
            Cause::RecvSynAck => "a SYN,ACK acknowledging my SYN arrived",
            Cause::RecvAckOfSyn => "the ACK of my SYN arrived",
            Cause::SynCookie => {
                "a valid ACK carried a SYN cookie: the connection is rebuilt from it"
            }
            Cause::RecvAckOfFin => "the ACK of my FIN arrived",
            Cause::RecvFin => "the peer's FIN arrived",
            Cause::RecvFinAck => "the peer's FIN arrived and acknowledged my FIN",
            Cause::Close => "the application closed",
            Cause::Abort => "the application aborted",
            Cause::RecvRst => "a RST arrived",
            Cause::TimeWaitExpired => "2*MSL passed",
            Cause::FinWait2Timeout => "the FIN_WAIT_2 timer expired for an orphaned connection",
            Cause::RetransmitLimit => "retransmissions ran out",
            Cause::KeepaliveTimeout => "keepalive probes went unanswered",
            Cause::UserTimeout => "the user timeout expired with data unacknowledged",
            Cause::EstablishTimeout => "the connection was not established in time",
            Cause::BadAck => "an ACK for something never sent arrived (answered with RST)",
            Cause::StackClosed => "the stack was closed",
            Cause::TimeWaitReuse => "a new SYN reused the TIME_WAIT connection (RFC 6191)",
            Cause::IcmpError => {
                "an ICMP error (unreachable, prohibited, time exceeded) ended the connection attempt"
            }
            _ => UNEXPLAINED,
        },
        Lang::Zh => match c {
            Cause::Connect => "应用调用了 connect（主动打开）",
            Cause::Listen => "应用调用了 listen（被动打开）",
            Cause::RecvSyn => "监听者收到了 SYN",
            Cause::RecvSynSimultaneous => "我的 SYN 尚未被确认时收到了对端的 SYN（同时打开）",
            Cause::RecvSynAck => "收到了确认我方 SYN 的 SYN,ACK",
            Cause::RecvAckOfSyn => "收到了对我方 SYN 的 ACK",
            Cause::SynCookie => "有效的 ACK 携带了 SYN cookie：据此重建连接",
            Cause::RecvAckOfFin => "收到了对我方 FIN 的 ACK",
            Cause::RecvFin => "收到了对端的 FIN",
            Cause::RecvFinAck => "收到了对端的 FIN，它同时确认了我方的 FIN",
            Cause::Close => "应用关闭了连接",
            Cause::Abort => "应用中止了连接",
            Cause::RecvRst => "收到了 RST",
            Cause::TimeWaitExpired => "2*MSL 已过",
            Cause::FinWait2Timeout => "孤儿连接的 FIN_WAIT_2 定时器到期",
            Cause::RetransmitLimit => "重传次数用尽",
            Cause::KeepaliveTimeout => "保活探测没有得到回应",
            Cause::UserTimeout => "用户超时到期，数据仍未被确认",
            Cause::EstablishTimeout => "连接未能在限定时间内建立",
            Cause::BadAck => "收到了确认从未发送内容的 ACK（以 RST 回应）",
            Cause::StackClosed => "协议栈已关闭",
            Cause::TimeWaitReuse => "新的 SYN 复用了 TIME_WAIT 连接（RFC 6191）",
            Cause::IcmpError => "ICMP 差错（不可达、被禁止、超时）终止了连接尝试",
            _ => UNEXPLAINED,
        },
    }
}

/// A stable snake_case name of a cause, for JSON.
pub fn cause_name(c: Cause) -> &'static str {
    match c {
        Cause::Connect => "connect",
        Cause::Listen => "listen",
        Cause::RecvSyn => "recv_syn",
        Cause::RecvSynSimultaneous => "recv_syn_simultaneous",
        Cause::RecvSynAck => "recv_syn_ack",
        Cause::RecvAckOfSyn => "recv_ack_of_syn",
        Cause::SynCookie => "syn_cookie",
        Cause::RecvAckOfFin => "recv_ack_of_fin",
        Cause::RecvFin => "recv_fin",
        Cause::RecvFinAck => "recv_fin_ack",
        Cause::Close => "close",
        Cause::Abort => "abort",
        Cause::RecvRst => "recv_rst",
        Cause::TimeWaitExpired => "time_wait_expired",
        Cause::FinWait2Timeout => "fin_wait_2_timeout",
        Cause::RetransmitLimit => "retransmit_limit",
        Cause::KeepaliveTimeout => "keepalive_timeout",
        Cause::UserTimeout => "user_timeout",
        Cause::EstablishTimeout => "establish_timeout",
        Cause::BadAck => "bad_ack",
        Cause::StackClosed => "stack_closed",
        Cause::TimeWaitReuse => "time_wait_reuse",
        Cause::IcmpError => "icmp_error",
        _ => UNNAMED,
    }
}

/// Why a segment was sent, e.g. `retransmission: no ACK within the RTO`.
pub fn send_reason_text(r: SendReason, lang: Lang) -> &'static str {
    match lang {
        Lang::En => match r {
            SendReason::Normal => "ordinary output: handshake, data, FIN or ACK",
            SendReason::Retransmit => "retransmission: no ACK within the RTO, so it is sent again",
            SendReason::FastRetransmit => {
                "fast retransmission: three duplicate ACKs say this segment was lost"
            }
            SendReason::PathMtuRetransmit => {
                "sent again in smaller segments: the path MTU fell and the original was dropped on the way"
            }
            SendReason::LossProbe => {
                "tail loss probe (RFC 8985): no ACK for about two round trips, so new data or the last segment goes out to draw one"
            }
            SendReason::KeepaliveProbe => "keepalive probe: seq=SND.NXT-1 asks the peer to answer",
            SendReason::WindowProbe => {
                "zero-window probe: asks whether the peer's window has opened"
            }
            SendReason::ChallengeAck => {
                "challenge ACK (RFC 5961): a real peer answers it, a blind attacker cannot"
            }
            SendReason::UnacceptableAck => {
                "ACK for an unacceptable segment: tells the peer what I expect"
            }
            SendReason::DuplicateAck => {
                "duplicate ACK: data arrived out of order, a gap is missing"
            }
            SendReason::DelayedAck => "delayed ACK: the timer fired with nothing to piggyback on",
            SendReason::Reset => {
                "RST: no connection matches this segment (no one listens on this port)"
            }
            SendReason::Abort => "RST: the application aborted the connection",
            SendReason::SynCookie => {
                "SYN,ACK with a SYN cookie: no state kept, the ISN encodes the connection"
            }
            SendReason::WindowUpdate => {
                "window update: the application read data, there is room again"
            }
            SendReason::TimeWaitAck => {
                "TIME_WAIT re-sends the final ACK: the peer repeated its FIN"
            }
            SendReason::Observed(_) => "seen in a capture",
            _ => UNEXPLAINED,
        },
        Lang::Zh => match r {
            SendReason::Normal => "普通输出：握手、数据、FIN 或 ACK",
            SendReason::Retransmit => "重传：RTO 内没有收到 ACK，于是再发一次",
            SendReason::FastRetransmit => "快速重传：三个重复 ACK 表明这个报文段丢了",
            SendReason::PathMtuRetransmit => "以更小的报文段重发：路径 MTU 降低，原报文段在途中被丢弃",
            SendReason::LossProbe => {
                "尾部丢失探测（RFC 8985）：约两个往返时间没有 ACK，发送新数据或重发最后一个报文段来引出 ACK"
            }
            SendReason::KeepaliveProbe => "保活探测：seq=SND.NXT-1，要求对端回应",
            SendReason::WindowProbe => "零窗口探测：询问对端的窗口是否已打开",
            SendReason::ChallengeAck => "挑战 ACK（RFC 5961）：真正的对端会回应，盲目的攻击者不能",
            SendReason::UnacceptableAck => "对不可接受报文段的 ACK：告诉对端我期望的序号",
            SendReason::DuplicateAck => "重复 ACK：数据乱序到达，中间缺了一段",
            SendReason::DelayedAck => "延迟 ACK：定时器到期，没有数据可以捎带",
            SendReason::Reset => "RST：没有连接与此报文段匹配（该端口无人监听）",
            SendReason::Abort => "RST：应用中止了连接",
            SendReason::SynCookie => "带 SYN cookie 的 SYN,ACK：不保存状态，ISN 编码了连接信息",
            SendReason::WindowUpdate => "窗口更新：应用读走了数据，又有空间了",
            SendReason::TimeWaitAck => "TIME_WAIT 重发最后的 ACK：对端重复了它的 FIN",
            SendReason::Observed(_) => "从抓包中看到",
            _ => UNEXPLAINED,
        },
    }
}

/// A stable snake_case name of a send reason, for JSON.
pub fn send_reason_name(r: SendReason) -> &'static str {
    match r {
        SendReason::Normal => "normal",
        SendReason::Retransmit => "retransmit",
        SendReason::FastRetransmit => "fast_retransmit",
        SendReason::PathMtuRetransmit => "path_mtu_retransmit",
        SendReason::LossProbe => "loss_probe",
        SendReason::KeepaliveProbe => "keepalive_probe",
        SendReason::WindowProbe => "window_probe",
        SendReason::ChallengeAck => "challenge_ack",
        SendReason::UnacceptableAck => "unacceptable_ack",
        SendReason::DuplicateAck => "duplicate_ack",
        SendReason::DelayedAck => "delayed_ack",
        SendReason::Reset => "reset",
        SendReason::Abort => "abort",
        SendReason::SynCookie => "syn_cookie",
        SendReason::WindowUpdate => "window_update",
        SendReason::TimeWaitAck => "time_wait_ack",
        SendReason::Observed(o) => crate::observed::name(o),
        _ => UNNAMED,
    }
}

fn wire_text(k: WireError, lang: Lang) -> &'static str {
    match lang {
        Lang::En => match k {
            WireError::Truncated => "truncated",
            WireError::BadIpVersion => "bad IP version",
            WireError::BadLength => "IP length fields disagree with the packet",
            WireError::BadIpChecksum => "bad IPv4 header checksum",
            WireError::Fragment => "an IPv4 fragment",
            WireError::IpOptions => "IPv4 options",
            WireError::UnsupportedExtension => "an unsupported IPv6 extension header",
            WireError::NotTcp => "not TCP",
            WireError::BadDataOffset => "bad TCP data offset",
            WireError::BadOption => "a malformed TCP option",
            WireError::BadTcpChecksum => "bad TCP checksum (corrupted on the way)",
            WireError::BadAddress => "an address that cannot be a TCP endpoint",
            WireError::NotIcmp => "not ICMP",
            WireError::BadIcmpChecksum => "bad ICMP checksum (corrupted on the way)",
            _ => UNEXPLAINED,
        },
        Lang::Zh => match k {
            WireError::Truncated => "报文被截断",
            WireError::BadIpVersion => "IP 版本错误",
            WireError::BadLength => "IP 长度字段与报文不符",
            WireError::BadIpChecksum => "IPv4 首部校验和错误",
            WireError::Fragment => "IPv4 分片",
            WireError::IpOptions => "带 IPv4 选项",
            WireError::UnsupportedExtension => "不支持的 IPv6 扩展首部",
            WireError::NotTcp => "不是 TCP",
            WireError::BadDataOffset => "TCP 数据偏移错误",
            WireError::BadOption => "TCP 选项格式错误",
            WireError::BadTcpChecksum => "TCP 校验和错误（传输中损坏）",
            WireError::BadAddress => "不能作为 TCP 端点的地址",
            WireError::NotIcmp => "不是 ICMP",
            WireError::BadIcmpChecksum => "ICMP 校验和错误（传输中损坏）",
            _ => UNEXPLAINED,
        },
    }
}

fn wire_name(k: WireError) -> &'static str {
    match k {
        WireError::Truncated => "truncated",
        WireError::BadIpVersion => "bad_ip_version",
        WireError::BadLength => "bad_length",
        WireError::BadIpChecksum => "bad_ip_checksum",
        WireError::Fragment => "fragment",
        WireError::IpOptions => "ip_options",
        WireError::UnsupportedExtension => "unsupported_extension",
        WireError::NotTcp => "not_tcp",
        WireError::BadDataOffset => "bad_data_offset",
        WireError::BadOption => "bad_option",
        WireError::BadTcpChecksum => "bad_tcp_checksum",
        WireError::BadAddress => "bad_address",
        WireError::NotIcmp => "not_icmp",
        WireError::BadIcmpChecksum => "bad_icmp_checksum",
        _ => UNNAMED,
    }
}

/// Why the stack dropped a segment, e.g. `the listener's SYN queue is full`.
pub fn drop_reason_text(r: DropReason, lang: Lang) -> String {
    let s = match lang {
        Lang::En => match r {
            DropReason::Malformed(k) => return format!("malformed packet: {}", wire_text(k, lang)),
            DropReason::NotOurAddress => "not addressed to this host",
            DropReason::RstNoConnection => "a RST for no connection is never answered",
            DropReason::NoConnection => "RST: no one listens on this port, answered with RST",
            DropReason::ListenerIgnored => "a listener only takes a SYN: this segment is ignored",
            DropReason::SynQueueFull => "the listener's SYN queue is full and SYN cookies are off",
            DropReason::AcceptQueueFull => "the listener's accept queue is full",
            DropReason::BadCookie => "the ACK's SYN cookie is not valid",
            DropReason::ConnectionLimit => "the stack's connection limit is reached",
            DropReason::Unacceptable => {
                "outside the receive window: dropped and answered with an ACK"
            }
            DropReason::RstNotExact => {
                "a RST whose seq is not exactly RCV.NXT is ignored (RFC 5961), a challenge ACK may follow"
            }
            DropReason::RstInTimeWait => "a RST in TIME_WAIT is ignored (RFC 1337)",
            DropReason::NoAck => "no ACK bit in a synchronized state: dropped",
            DropReason::AckTooNew => "it acknowledges data never sent (RFC 5961)",
            DropReason::AckTooOld => "its ACK is older than the window (RFC 5961)",
            DropReason::BadAckSynSent => "in SYN_SENT, an ACK that does not acknowledge my SYN",
            DropReason::SynSentNoSyn => "in SYN_SENT, only a SYN or a RST is expected",
            DropReason::ForeignEchoSynSent => {
                "in SYN_SENT, a SYN,ACK echoing a timestamp I never sent: it answers another SYN"
            }
            DropReason::ReassemblyFull => "out-of-order data beyond what the stack will hold",
            DropReason::SynInWindow => {
                "a SYN on an open connection: answered with a challenge ACK (RFC 5961)"
            }
            DropReason::ChallengeAckLimited => "challenge ACK suppressed by the rate limit (RFC 5961)",
            DropReason::OowAckLimited => {
                "out-of-window ACK not answered: one was answered less than 500 ms ago (no ACK war)"
            }
            DropReason::Closed => "the connection is closed",
            DropReason::PawsRejected => {
                "its timestamp is older than the last one accepted: an old duplicate, dropped and answered with an ACK (PAWS, RFC 7323)"
            }
            DropReason::IcmpMalformed(k) => {
                return format!("malformed ICMP message or quote: {}", wire_text(k, lang))
            }
            DropReason::IcmpNotError => "an ICMP message that is not an error: nothing for TCP",
            DropReason::IcmpSourceQuench => "an ICMP Source Quench is ignored (RFC 6633)",
            DropReason::IcmpRedirect => "an ICMP Redirect changes routes, not TCP connections",
            DropReason::IcmpUnknownCode => "an ICMP error type or code with no meaning for TCP",
            DropReason::IcmpNoConnection => "an ICMP error about a segment of no connection",
            DropReason::IcmpSeqOutOfWindow => {
                "an ICMP error quoting a sequence number not in flight: stale or forged (RFC 5927)"
            }
            DropReason::IcmpMtuNotLower => {
                "a Packet Too Big that does not lower the path MTU (RFC 1191, RFC 8201)"
            }
            DropReason::SynPending => {
                "a SYN for a connection the application is still deciding on, or ignored"
            }
            _ => UNEXPLAINED,
        },
        Lang::Zh => match r {
            DropReason::Malformed(k) => return format!("格式错误的报文：{}", wire_text(k, lang)),
            DropReason::NotOurAddress => "目的地址不是本主机",
            DropReason::RstNoConnection => "没有连接的 RST 永远不回应",
            DropReason::NoConnection => "RST：该端口无人监听，以 RST 回应",
            DropReason::ListenerIgnored => "监听者只接受 SYN：忽略此报文段",
            DropReason::SynQueueFull => "监听者的 SYN 队列已满且未启用 SYN cookie",
            DropReason::AcceptQueueFull => "监听者的 accept 队列已满",
            DropReason::BadCookie => "ACK 中的 SYN cookie 无效",
            DropReason::ConnectionLimit => "已达到协议栈的连接数上限",
            DropReason::Unacceptable => "不在接收窗口内：丢弃并以 ACK 回应",
            DropReason::RstNotExact => "seq 不恰好等于 RCV.NXT 的 RST 被忽略（RFC 5961），可能随后发送挑战 ACK",
            DropReason::RstInTimeWait => "TIME_WAIT 中的 RST 被忽略（RFC 1337）",
            DropReason::NoAck => "同步状态下没有 ACK 位：丢弃",
            DropReason::AckTooNew => "它确认了从未发送的数据（RFC 5961）",
            DropReason::AckTooOld => "它的 ACK 比窗口还旧（RFC 5961）",
            DropReason::BadAckSynSent => "SYN_SENT 中，ACK 没有确认我方的 SYN",
            DropReason::SynSentNoSyn => "SYN_SENT 中只期望 SYN 或 RST",
            DropReason::ForeignEchoSynSent => "SYN_SENT 中，SYN,ACK 回显的时间戳不是我方发出的：它应答的是另一个 SYN",
            DropReason::ReassemblyFull => "乱序数据超出了协议栈愿意保存的范围",
            DropReason::SynInWindow => "已打开的连接上出现 SYN：以挑战 ACK 回应（RFC 5961）",
            DropReason::ChallengeAckLimited => "挑战 ACK 被速率限制抑制（RFC 5961）",
            DropReason::OowAckLimited => "窗口外的 ACK 未回应：500 毫秒内已回应过一次（防止 ACK 风暴）",
            DropReason::Closed => "连接已关闭",
            DropReason::PawsRejected => {
                "时间戳早于上次接受的时间戳：旧的重复报文段，丢弃并以 ACK 回应（PAWS，RFC 7323）"
            }
            DropReason::IcmpMalformed(k) => {
                return format!("格式错误的 ICMP 报文或引用：{}", wire_text(k, lang))
            }
            DropReason::IcmpNotError => "不是差错报文的 ICMP：与 TCP 无关",
            DropReason::IcmpSourceQuench => "ICMP 源抑制被忽略（RFC 6633）",
            DropReason::IcmpRedirect => "ICMP 重定向改变的是路由，不是 TCP 连接",
            DropReason::IcmpUnknownCode => "对 TCP 没有意义的 ICMP 差错类型或代码",
            DropReason::IcmpNoConnection => "ICMP 差错引用的报文段不属于任何连接",
            DropReason::IcmpSeqOutOfWindow => {
                "ICMP 差错引用的序号不在发送中的范围内：过时或伪造（RFC 5927）"
            }
            DropReason::IcmpMtuNotLower => "没有降低路径 MTU 的“报文过大”消息（RFC 1191、RFC 8201）",
            DropReason::SynPending => "应用仍在决定是否接受（或已选择忽略）的连接的 SYN",
            _ => UNEXPLAINED,
        },
    };
    s.to_string()
}

/// A stable snake_case name of a drop reason, for JSON (`malformed:bad_tcp_checksum`).
pub fn drop_reason_name(r: DropReason) -> String {
    let s = match r {
        DropReason::Malformed(k) => return format!("malformed:{}", wire_name(k)),
        DropReason::NotOurAddress => "not_our_address",
        DropReason::RstNoConnection => "rst_no_connection",
        DropReason::NoConnection => "no_connection",
        DropReason::ListenerIgnored => "listener_ignored",
        DropReason::SynQueueFull => "syn_queue_full",
        DropReason::AcceptQueueFull => "accept_queue_full",
        DropReason::BadCookie => "bad_cookie",
        DropReason::ConnectionLimit => "connection_limit",
        DropReason::Unacceptable => "unacceptable",
        DropReason::RstNotExact => "rst_not_exact",
        DropReason::RstInTimeWait => "rst_in_time_wait",
        DropReason::NoAck => "no_ack",
        DropReason::AckTooNew => "ack_too_new",
        DropReason::AckTooOld => "ack_too_old",
        DropReason::BadAckSynSent => "bad_ack_syn_sent",
        DropReason::SynSentNoSyn => "syn_sent_no_syn",
        DropReason::ForeignEchoSynSent => "foreign_echo_syn_sent",
        DropReason::ReassemblyFull => "reassembly_full",
        DropReason::SynInWindow => "syn_in_window",
        DropReason::ChallengeAckLimited => "challenge_ack_limited",
        DropReason::OowAckLimited => "oow_ack_limited",
        DropReason::Closed => "closed",
        DropReason::PawsRejected => "paws_rejected",
        DropReason::IcmpMalformed(k) => return format!("icmp_malformed:{}", wire_name(k)),
        DropReason::IcmpNotError => "icmp_not_error",
        DropReason::IcmpSourceQuench => "icmp_source_quench",
        DropReason::IcmpRedirect => "icmp_redirect",
        DropReason::IcmpUnknownCode => "icmp_unknown_code",
        DropReason::IcmpNoConnection => "icmp_no_connection",
        DropReason::IcmpSeqOutOfWindow => "icmp_seq_out_of_window",
        DropReason::IcmpMtuNotLower => "icmp_mtu_not_lower",
        DropReason::SynPending => "syn_pending",
        _ => UNNAMED,
    };
    s.to_string()
}

/// What a fired timer means, e.g. `retransmission timer: no ACK within the RTO`.
pub fn timer_text(t: TimerKind, lang: Lang) -> &'static str {
    match lang {
        Lang::En => match t {
            TimerKind::Retransmit => {
                "retransmission timer: no ACK within the RTO, send the oldest segment again"
            }
            TimerKind::DelayedAck => "delayed-ACK timer: time to acknowledge what arrived",
            TimerKind::Persist => "persist timer: the peer's window is zero, probe it",
            TimerKind::Keepalive => "keepalive timer: the connection was idle, probe the peer",
            TimerKind::TimeWait => "TIME_WAIT timer: 2*MSL passed, the connection can go",
            TimerKind::FinWait2 => {
                "FIN_WAIT_2 timer: the orphaned connection waited long enough for the peer's FIN"
            }
            TimerKind::UserTimeout => "user timeout: data stayed unacknowledged too long",
            TimerKind::Establish => {
                "connection-establishment timer: the handshake took too long, give up"
            }
            TimerKind::LossProbe => {
                "loss probe timer (PTO): no ACK for about two round trips, send one probe before resorting to the RTO"
            }
            TimerKind::Reorder => {
                "reordering timer (RACK): a segment sent before one that arrived is still missing after the reordering window, so it is lost"
            }
            _ => UNEXPLAINED,
        },
        Lang::Zh => match t {
            TimerKind::Retransmit => "重传定时器：RTO 内没有 ACK，重发最早的报文段",
            TimerKind::DelayedAck => "延迟 ACK 定时器：该确认已到达的数据了",
            TimerKind::Persist => "坚持定时器：对端窗口为零，发送探测",
            TimerKind::Keepalive => "保活定时器：连接空闲，探测对端",
            TimerKind::TimeWait => "TIME_WAIT 定时器：2*MSL 已过，连接可以释放",
            TimerKind::FinWait2 => "FIN_WAIT_2 定时器：孤儿连接等对端的 FIN 已经够久",
            TimerKind::UserTimeout => "用户超时：数据太久没有被确认",
            TimerKind::Establish => "连接建立定时器：握手耗时过长，放弃连接",
            TimerKind::LossProbe => "丢失探测定时器（PTO）：约两个往返时间没有 ACK，先发一个探测，之后才依靠 RTO",
            TimerKind::Reorder => "乱序定时器（RACK）：比它后发的报文段已到达，它在乱序窗口过后仍未到，判为丢失",
            _ => UNEXPLAINED,
        },
    }
}

/// Why the link dropped a packet, e.g. `random loss on the link`.
pub fn link_drop_text(c: &DropCause, lang: Lang) -> String {
    match lang {
        Lang::En => match c {
            DropCause::Loss => "random loss on the link".to_string(),
            DropCause::Rule(d) => format!("dropped by fault rule: {d}"),
            DropCause::QueueFull => "the link's queue was full".to_string(),
            DropCause::TooBig => "larger than the link MTU".to_string(),
            DropCause::NoRoute => "no route to the receiver".to_string(),
        },
        Lang::Zh => match c {
            DropCause::Loss => "链路随机丢包".to_string(),
            DropCause::Rule(d) => format!("被故障规则丢弃：{d}"),
            DropCause::QueueFull => "链路队列已满".to_string(),
            DropCause::TooBig => "超过链路 MTU".to_string(),
            DropCause::NoRoute => "没有到接收方的路由".to_string(),
        },
    }
}

/// A stable name of a link drop cause, for JSON.
pub(crate) fn link_drop_name(c: &DropCause) -> &'static str {
    match c {
        DropCause::Loss => "loss",
        DropCause::Rule(_) => "rule",
        DropCause::QueueFull => "queue_full",
        DropCause::TooBig => "too_big",
        DropCause::NoRoute => "no_route",
    }
}

/// What a connection error means to the application.
pub fn conn_error_text(e: ConnError, lang: Lang) -> &'static str {
    match lang {
        Lang::En => match e {
            ConnError::Refused => "connection refused: the peer answered the SYN with RST",
            ConnError::Reset => "connection reset by the peer",
            ConnError::TimedOut => "connection timed out",
            ConnError::Aborted => "connection aborted by the application",
            ConnError::StackClosed => "the stack was closed",
            ConnError::HostUnreachable => "no route to host: an ICMP error said the host cannot be reached",
            ConnError::NetworkUnreachable => {
                "network unreachable: an ICMP error said the network cannot be reached"
            }
            ConnError::ProtocolError => {
                "protocol error: an ICMP Parameter Problem said a router could not process the headers"
            }
            _ => UNEXPLAINED,
        },
        Lang::Zh => match e {
            ConnError::Refused => "连接被拒绝：对端以 RST 回应 SYN",
            ConnError::Reset => "连接被对端重置",
            ConnError::TimedOut => "连接超时",
            ConnError::Aborted => "连接被应用中止",
            ConnError::StackClosed => "协议栈已关闭",
            ConnError::HostUnreachable => "主机不可达：ICMP 差错表明无法到达该主机",
            ConnError::NetworkUnreachable => "网络不可达：ICMP 差错表明无法到达该网络",
            ConnError::ProtocolError => "协议错误：ICMP 参数问题表明路由器无法处理首部",
            _ => UNEXPLAINED,
        },
    }
}

/// A stable name of a connection error, for JSON.
pub fn conn_error_name(e: ConnError) -> &'static str {
    match e {
        ConnError::Refused => "refused",
        ConnError::Reset => "reset",
        ConnError::TimedOut => "timed_out",
        ConnError::Aborted => "aborted",
        ConnError::StackClosed => "stack_closed",
        ConnError::HostUnreachable => "host_unreachable",
        ConnError::NetworkUnreachable => "network_unreachable",
        ConnError::ProtocolError => "protocol_error",
        _ => UNNAMED,
    }
}

/// The explanation of a segment from its meaning and why it was sent.
pub(crate) fn segment_text(
    m: Meaning,
    reason: Option<SendReason>,
    seq: u32,
    ack: u32,
    absolute: bool,
    lang: Lang,
) -> String {
    if let Some(r) = reason {
        if r != SendReason::Normal {
            return send_reason_text(r, lang).to_string();
        }
    }
    let next = seq.wrapping_add(match m {
        Meaning::Data { len } | Meaning::Fin { len } => len,
        _ => 0,
    });
    match lang {
        Lang::En => match m {
            Meaning::Rst => "RST: abort the connection at once".to_string(),
            Meaning::Syn if absolute => format!(
                "SYN: opens a connection with ISN {seq}; the SYN consumes one sequence number"
            ),
            Meaning::Syn => {
                "SYN: opens a connection; its ISN counts as 0 and the SYN consumes one sequence number"
                    .to_string()
            }
            Meaning::SynAck { acks_isn: true } => format!(
                "SYN,ACK: my SYN plus the ACK of the peer's; a SYN consumes one sequence number, so the ACK is the peer's ISN+1 = {ack}"
            ),
            Meaning::SynAck { acks_isn: false } => {
                "SYN,ACK: my own SYN plus the ACK of the peer's SYN".to_string()
            }
            Meaning::HandshakeAck => {
                format!("ACK of the SYN,ACK (ack={ack}): the three-way handshake is complete")
            }
            Meaning::Fin { len: 0 } => format!(
                "FIN: I have no more data; the FIN consumes one sequence number, so its ACK is {}",
                seq.wrapping_add(1)
            ),
            Meaning::Fin { len } => format!(
                "{len} bytes then FIN: no more data after them; the FIN's ACK is {}",
                next.wrapping_add(1)
            ),
            Meaning::Data { len } => format!(
                "data: {len} bytes, seq {seq}..{}; the peer acknowledges them with ack={next}",
                next.wrapping_sub(1)
            ),
            Meaning::AckOfFin => {
                format!("ACK of the FIN: a FIN consumes one sequence number, so ack = FIN's seq + 1 = {ack}")
            }
            Meaning::Ack { newly: 0 } => format!("ACK: everything before {ack} has arrived"),
            Meaning::Ack { newly } => {
                format!("ACK: {newly} more bytes arrived, everything before {ack}")
            }
        },
        Lang::Zh => match m {
            Meaning::Rst => "RST：立即中止连接".to_string(),
            Meaning::Syn if absolute => {
                format!("SYN：以 ISN {seq} 打开连接；SYN 占用一个序号")
            }
            Meaning::Syn => "SYN：打开连接；其 ISN 记为 0，SYN 占用一个序号".to_string(),
            Meaning::SynAck { acks_isn: true } => format!(
                "SYN,ACK：我方的 SYN 加上对对端 SYN 的确认；SYN 占用一个序号，所以 ACK 是对端的 ISN+1 = {ack}"
            ),
            Meaning::SynAck { acks_isn: false } => {
                "SYN,ACK：我方的 SYN 加上对对端 SYN 的确认".to_string()
            }
            Meaning::HandshakeAck => format!("对 SYN,ACK 的 ACK（ack={ack}）：三次握手完成"),
            Meaning::Fin { len: 0 } => format!(
                "FIN：我没有更多数据了；FIN 占用一个序号，所以它的 ACK 是 {}",
                seq.wrapping_add(1)
            ),
            Meaning::Fin { len } => format!(
                "{len} 字节数据后接 FIN：此后不再有数据；FIN 的 ACK 是 {}",
                next.wrapping_add(1)
            ),
            Meaning::Data { len } => format!(
                "数据：{len} 字节，seq {seq}..{}；对端用 ack={next} 确认它们",
                next.wrapping_sub(1)
            ),
            Meaning::AckOfFin => {
                format!("对 FIN 的 ACK：FIN 占用一个序号，所以 ack = FIN 的 seq + 1 = {ack}")
            }
            Meaning::Ack { newly: 0 } => format!("ACK：{ack} 之前的数据都已收到"),
            Meaning::Ack { newly } => format!("ACK：又收到 {newly} 字节，{ack} 之前的都已收到"),
        },
    }
}

/// Small fixed words of the views.
pub(crate) struct Words {
    pub(crate) arrives: &'static str,
    pub(crate) again: &'static str,
    pub(crate) corrupted: &'static str,
    pub(crate) ce_marked: &'static str,
    pub(crate) ece_note: &'static str,
    pub(crate) ecn_setup_note: &'static str,
    pub(crate) ecn_agreed_note: &'static str,
    pub(crate) cwr_note: &'static str,
    pub(crate) tfo_request_note: &'static str,
    pub(crate) tfo_cookie_note: &'static str,
    pub(crate) tfo_offer_note: &'static str,
    pub(crate) lost: &'static str,
    pub(crate) dropped_by: &'static str,
    pub(crate) no_arrival: &'static str,
    pub(crate) sender_unseen: &'static str,
    pub(crate) timer: &'static str,
    pub(crate) error: &'static str,
    pub(crate) events_lost: &'static str,
    pub(crate) events_lost_text: &'static str,
    pub(crate) dropped: &'static str,
    pub(crate) time: &'static str,
    pub(crate) connections: &'static str,
    pub(crate) listener: &'static str,
    pub(crate) relative: &'static str,
    pub(crate) absolute: &'static str,
    pub(crate) others_hidden: &'static str,
    pub(crate) sep: &'static str,
    pub(crate) colon: &'static str,
}

pub(crate) fn words(lang: Lang) -> &'static Words {
    const EN: Words = Words {
        arrives: "arrives",
        again: "and again",
        corrupted: "arrives corrupted",
        ce_marked: "a congested queue set CE (Congestion Experienced) in its IP header; arrives",
        ece_note: "; ECE: data arrived marked CE, echoed until the sender answers CWR",
        ecn_setup_note: "; ECE,CWR on a SYN: I ask to use ECN",
        ecn_agreed_note: "; ECE on a SYN,ACK: ECN agreed, data will go ECN-capable",
        cwr_note: "; CWR: I halved my congestion window for the ECE (once per window of data)",
        tfo_request_note: "; Fast Open: an empty option asks the server for a cookie",
        tfo_cookie_note: "; Fast Open: my cookie from an earlier connection, so the server may take the data on this SYN at once",
        tfo_offer_note: "; Fast Open: a cookie for the client's next SYN",
        lost: "lost",
        dropped_by: "dropped by",
        no_arrival: "no arrival recorded",
        sender_unseen: "the sender's event is not in the trace",
        timer: "timer fired",
        error: "error",
        events_lost: "events lost",
        events_lost_text: "the event queue overflowed: some events are missing from this view",
        dropped: "dropped",
        time: "time",
        connections: "connections",
        listener: "listener",
        relative: "relative seq/ack (each side's ISN = 0)",
        absolute: "absolute seq/ack",
        others_hidden: "events of other hosts not shown",
        sep: "; ",
        colon: ": ",
    };
    const ZH: Words = Words {
        arrives: "到达",
        again: "再次到达",
        corrupted: "到达但已损坏",
        ce_marked: "拥塞的队列在其 IP 首部置了 CE（拥塞经历）标记；到达",
        ece_note: "；ECE：收到带 CE 标记的数据，持续回显直到发送方以 CWR 回应",
        ecn_setup_note: "；SYN 上的 ECE,CWR：我请求使用 ECN",
        ecn_agreed_note: "；SYN,ACK 上的 ECE：同意使用 ECN，数据将带 ECN 能力标记",
        cwr_note: "；CWR：我已因 ECE 将拥塞窗口减半（每个数据窗口至多一次）",
        tfo_request_note: "；Fast Open：空选项向服务器请求 cookie",
        tfo_cookie_note:
            "；Fast Open：带上先前连接得到的 cookie，服务器可以立即接收这个 SYN 上的数据",
        tfo_offer_note: "；Fast Open：给客户端下一个 SYN 用的 cookie",
        lost: "丢失",
        dropped_by: "被丢弃于",
        no_arrival: "没有到达记录",
        sender_unseen: "发送方的事件不在记录中",
        timer: "定时器到期",
        error: "错误",
        events_lost: "个事件丢失",
        events_lost_text: "事件队列溢出：本视图缺少部分事件",
        dropped: "丢弃",
        time: "时间",
        connections: "连接汇总",
        listener: "监听者",
        relative: "相对 seq/ack（每一方的 ISN 记为 0）",
        absolute: "绝对 seq/ack",
        others_hidden: "其他主机的事件未显示",
        sep: "；",
        colon: "：",
    };
    match lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

/// A short name for an ICMP message.
pub(crate) fn icmp_name(m: &synack_proto::wire::IcmpMessage) -> String {
    use synack_proto::wire::{IcmpMessage, Icmpv4Message, Icmpv4Unreachable, Icmpv6Message};
    match m {
        IcmpMessage::V4(Icmpv4Message::DestUnreachable {
            code: Icmpv4Unreachable::FragNeeded,
            next_hop_mtu,
        }) => format!("fragmentation needed, next-hop MTU {next_hop_mtu}"),
        IcmpMessage::V4(Icmpv4Message::DestUnreachable { code, .. }) => {
            format!("destination unreachable ({code:?})")
        }
        IcmpMessage::V6(Icmpv6Message::PacketTooBig { mtu }) => {
            format!("packet too big, MTU {mtu}")
        }
        IcmpMessage::V6(Icmpv6Message::DestUnreachable { code }) => {
            format!("destination unreachable ({code:?})")
        }
        IcmpMessage::V4(Icmpv4Message::TimeExceeded { .. })
        | IcmpMessage::V6(Icmpv6Message::TimeExceeded { .. }) => "time exceeded".to_string(),
        IcmpMessage::V4(Icmpv4Message::ParameterProblem { .. })
        | IcmpMessage::V6(Icmpv6Message::ParameterProblem { .. }) => {
            "parameter problem".to_string()
        }
        other => format!("{other:?}"),
    }
}

/// The side label of an ICMP note.
pub(crate) fn note_label(n: &crate::model::Note) -> String {
    use crate::model::Note;
    match n {
        Note::Icmp { message, seq } => match seq {
            Some(q) => format!("✉ ICMP {} (about seq={q})", icmp_name(message)),
            None => format!("✉ ICMP {}", icmp_name(message)),
        },
        Note::PathMtu { mtu, mss } => format!("path MTU {mtu}: segments ≤ {mss} bytes"),
        Note::SoftError(e) => format!("soft error: {e}"),
    }
}

/// What an ICMP note means.
pub(crate) fn note_text(n: &crate::model::Note, lang: Lang) -> &'static str {
    use crate::model::Note;
    use synack_proto::wire::{IcmpMessage, Icmpv4Message, Icmpv4Unreachable, Icmpv6Message};
    let too_big = matches!(
        n,
        Note::Icmp {
            message: IcmpMessage::V4(Icmpv4Message::DestUnreachable {
                code: Icmpv4Unreachable::FragNeeded,
                ..
            }) | IcmpMessage::V6(Icmpv6Message::PacketTooBig { .. }),
            ..
        }
    );
    match (lang, n) {
        (Lang::En, Note::Icmp { .. }) if too_big => "a router could not forward my segment, larger than its link's MTU, and said so; it counts only because it quotes a segment I have in flight (RFC 5927)",
        (Lang::En, Note::Icmp { .. }) => "an ICMP error about a segment I have in flight (RFC 5927): hard errors end an opening connection, others are only recorded",
        (Lang::En, Note::PathMtu { .. }) => "path MTU discovery (RFC 1191, RFC 8201): smaller segments from now on, and what was in flight goes again at once, without a congestion response",
        (Lang::En, Note::SoftError(_)) => "recorded; reported instead of \"timed out\" only if the connection gives up",
        (Lang::Zh, Note::Icmp { .. }) if too_big => "路由器无法转发我的报文段（超过其链路 MTU）并发来通知；只因它引用了我在途的报文段才被采纳（RFC 5927）",
        (Lang::Zh, Note::Icmp { .. }) => "关于我在途报文段的 ICMP 错误（RFC 5927）：硬错误终止正在建立的连接，其余只记录",
        (Lang::Zh, Note::PathMtu { .. }) => "路径 MTU 发现（RFC 1191、RFC 8201）：此后发送更小的报文段，在途数据立即重发，不视为拥塞",
        (Lang::Zh, Note::SoftError(_)) => "已记录；仅当连接放弃时代替\u{201c}超时\u{201d}报告",
    }
}
