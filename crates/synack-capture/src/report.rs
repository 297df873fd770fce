//! Summaries: per connection (what `ss` would have shown over its life),
//! per listening port (SYNs, handshakes, half-open connections and their
//! sources: the SYN-flood signature), and the capture's counts; as text
//! in English or Chinese, and as JSON lines.

use crate::conn::Conn;
use crate::flow::RttStats;
use crate::reader::ReadStats;
use std::fmt::Write as _;
use std::net::SocketAddr;
use synack_proto::rules::Seen;
use synack_proto::State;
use synack_trace::Lang;

/// What a connection did over the capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSummary {
    /// 1 for the first connection of the capture.
    pub id: u64,
    /// End 0 (the client, when the SYN was seen) and end 1.
    pub ends: [SocketAddr; 2],
    /// The SYN was captured, so the roles and start states are known.
    pub opened: bool,
    /// The states each end went through; `None` is UNKNOWN (before the capture).
    pub states: [Vec<Option<State>>; 2],
    /// The state at the end of the capture (`None`: unknown).
    pub last: [Option<State>; 2],
    /// The end that closed first, and whether with a RST.
    pub closed_first: Option<(usize, bool)>,
    /// The end that held TIME_WAIT.
    pub time_wait: Option<usize>,
    /// SYN to the ACK completing the handshake, at the capture point (us).
    pub handshake_us: Option<u64>,
    /// SYN to SYN,ACK (us).
    pub syn_to_syn_ack_us: Option<u64>,
    /// SYN,ACK to ACK (us).
    pub syn_ack_to_ack_us: Option<u64>,
    /// Payload octets each end sent (each octet once).
    pub bytes: [u64; 2],
    /// Segments each end sent.
    pub segments: [u64; 2],
    /// Retransmissions each end sent.
    pub retransmissions: [u64; 2],
    /// RTT samples of each end's data, from the other end's ACKs.
    pub rtt: [RttStats; 2],
    /// The first RST: its sender and likely cause.
    pub rst: Option<(usize, Seen)>,
    /// First and last segment, microseconds since the capture began.
    pub first_us: u64,
    /// See `first_us`.
    pub last_us: u64,
    /// Segments with a wrong checksum.
    pub bad_checksums: u64,
    /// Segments cut by the snap length.
    pub snapped: u64,
    /// Finished early because the table was full.
    pub evicted: bool,
    /// A SYN with a new ISN reused its ports after it.
    pub reused: bool,
}

impl ConnSummary {
    pub(crate) fn of(c: &Conn, evicted: bool) -> ConnSummary {
        let hs = c.hs;
        let diff = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        ConnSummary {
            id: c.id,
            ends: c.ends,
            opened: c.opened,
            states: c.reached.clone(),
            last: [c.state_of(0), c.state_of(1)],
            closed_first: c.closed_first,
            time_wait: c.time_wait,
            handshake_us: diff(hs.syn, hs.ack),
            syn_to_syn_ack_us: diff(hs.syn, hs.syn_ack),
            syn_ack_to_ack_us: diff(hs.syn_ack, hs.ack),
            bytes: [c.dirs[0].bytes, c.dirs[1].bytes],
            segments: [c.dirs[0].segs, c.dirs[1].segs],
            retransmissions: [c.dirs[0].retrans, c.dirs[1].retrans],
            rtt: [c.dirs[0].rtt, c.dirs[1].rtt],
            rst: c.rst,
            first_us: c.first_us,
            last_us: c.last_us,
            bad_checksums: c.bad_checksums,
            snapped: c.snapped,
            evicted,
            reused: c.reused,
        }
    }

    /// The two ends' names: `client`/`server`, or their addresses.
    pub fn names(&self) -> [String; 2] {
        if self.opened {
            ["client".into(), "server".into()]
        } else {
            [self.ends[0].to_string(), self.ends[1].to_string()]
        }
    }
}

/// A listening port: the server end of connections whose SYN was captured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenerSummary {
    /// Its address and port.
    pub addr: Option<SocketAddr>,
    /// SYN segments to it (retransmissions included).
    pub syns: u64,
    /// Connections attempted (distinct SYNs).
    pub connections: u64,
    /// Handshakes completed.
    pub handshakes: u64,
    /// SYNs answered with RST: nobody listened.
    pub refused: u64,
    /// Connections left in SYN_RCVD at the end (or when evicted).
    pub half_open: u64,
    /// Distinct source addresses among them.
    pub half_open_sources: u64,
    /// SYNs never answered at all.
    pub unanswered: u64,
}

/// The counts of a whole capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Frames read.
    pub frames: u64,
    /// TCP segments decoded.
    pub tcp_segments: u64,
    /// Frames that are not IP.
    pub not_ip: u64,
    /// IP packets that are not TCP.
    pub not_tcp: u64,
    /// IP fragments (not reassembled).
    pub fragments: u64,
    /// Frames that end inside a header.
    pub truncated: u64,
    /// Frames with nonsense in a header.
    pub malformed: u64,
    /// Frames of a link type synack does not decode.
    pub unknown_link: u64,
    /// The last such link type.
    pub last_unknown_link: Option<u32>,
    /// Segments with a wrong TCP checksum.
    pub bad_checksums: u64,
    /// Segments whose checksum was left to the sender's checksum offload
    /// (captured before the device filled it in): not counted as bad.
    pub offload_checksums: u64,
    /// Segments the snap length cut.
    pub snapped: u64,
    /// Segments whose options did not parse.
    pub bad_options: u64,
    /// Connections seen.
    pub connections: u64,
    /// Connections finished.
    pub finished: u64,
    /// Connections finished early because the table was full.
    pub evicted: u64,
    /// What the reader saw.
    pub reader: ReadStats,
}

/// `s` padded with spaces to `width` terminal columns (CJK characters take two).
fn pad(s: &str, width: usize) -> String {
    let cols: usize = s
        .chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115f
            | 0x2e80..=0xa4cf
            | 0xac00..=0xd7a3
            | 0xf900..=0xfaff
            | 0xfe30..=0xfe4f
            | 0xff00..=0xff60
            | 0xffe0..=0xffe6 => 2,
            _ => 1,
        })
        .sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(cols)))
}

fn ms(us: u64) -> String {
    format!("{}.{:03} ms", us / 1000, us % 1000)
}

fn states_line(v: &[Option<State>]) -> String {
    let names: Vec<&str> = v.iter().map(|s| s.map_or("UNKNOWN", State::name)).collect();
    if names.is_empty() {
        "(sent nothing)".into()
    } else {
        names.join(" → ")
    }
}

fn rst_words(s: Seen, lang: Lang) -> &'static str {
    match (lang, s) {
        (Lang::En, Seen::RstRefused) => "refused: nobody listened on the port",
        (Lang::En, Seen::RstAbort) => "abort (SO_LINGER 0 or an error)",
        (Lang::En, Seen::RstUnreadData) => "closed with unread data (or an abort)",
        (Lang::En, Seen::RstChallengeAnswer) => "answer to a challenge ACK (RFC 5961)",
        (Lang::En, Seen::RstHalfOpen) => "half-open: the sender had lost the connection (reboot?)",
        (Lang::En, Seen::RstBadAck) => "answer to a segment acknowledging nothing sent",
        (Lang::En, _) => "reset",
        (Lang::Zh, Seen::RstRefused) => "拒绝：该端口无人监听",
        (Lang::Zh, Seen::RstAbort) => "中止（SO_LINGER 为 0 或出错）",
        (Lang::Zh, Seen::RstUnreadData) => "关闭时仍有未读数据（或中止）",
        (Lang::Zh, Seen::RstChallengeAnswer) => "回应挑战 ACK（RFC 5961）",
        (Lang::Zh, Seen::RstHalfOpen) => "半开连接：发送方已丢失该连接（重启？）",
        (Lang::Zh, Seen::RstBadAck) => "回应确认了未发送内容的报文段",
        (Lang::Zh, _) => "重置",
    }
}

/// A stable name of a RST's cause, as the events' `reason` says it.
fn rst_name(s: Seen) -> &'static str {
    match s {
        Seen::RstRefused => "rst_refused",
        Seen::RstAbort => "rst_abort",
        Seen::RstUnreadData => "rst_unread_data",
        Seen::RstChallengeAnswer => "rst_challenge_answer",
        Seen::RstHalfOpen => "rst_half_open",
        Seen::RstBadAck => "rst_bad_ack",
        _ => "rst",
    }
}

/// The summary of one connection as text.
pub fn summary_text(s: &ConnSummary, lang: Lang) -> String {
    let n = s.names();
    let zh = lang == Lang::Zh;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} {}  {} → {}  {} {}, {}",
        if zh { "连接" } else { "connection" },
        s.id,
        s.ends[0],
        s.ends[1],
        s.segments[0] + s.segments[1],
        if zh { "个报文段" } else { "segments" },
        ms(s.last_us.saturating_sub(s.first_us))
    );
    for ((name, end), states) in n.iter().zip(&s.ends).zip(&s.states) {
        let _ = writeln!(
            o,
            "  {name:<8} {:<22} {}",
            end.to_string(),
            states_line(states)
        );
    }
    let who = |e: usize| n.get(e).cloned().unwrap_or_default();
    let first = match s.closed_first {
        Some((e, false)) => format!("{} (FIN)", who(e)),
        Some((e, true)) => format!("{} (RST)", who(e)),
        None => "-".into(),
    };
    let tw = s.time_wait.map_or("-".into(), who);
    let (l1, l2, l3, l4, l5, l6) = if zh {
        (
            "先关闭",
            "TIME_WAIT 持有者",
            "握手 RTT",
            "字节",
            "报文段",
            "ACK 测得 RTT",
        )
    } else {
        (
            "closed first",
            "TIME_WAIT held by",
            "handshake RTT",
            "bytes",
            "segments",
            "RTT from ACKs",
        )
    };
    let _ = writeln!(o, "  {} {first}; {l2} {tw}", pad(l1, 18));
    if let (Some(h), Some(a), Some(b)) = (s.handshake_us, s.syn_to_syn_ack_us, s.syn_ack_to_ack_us)
    {
        let _ = writeln!(
            o,
            "  {} {} (SYN → SYN,ACK {}, SYN,ACK → ACK {}{})",
            pad(l3, 18),
            ms(h),
            ms(a),
            ms(b),
            if zh {
                "，在抓包点测得"
            } else {
                ", at the capture point"
            }
        );
    }
    let _ = writeln!(
        o,
        "  {} {} → {} {}, {} → {} {}",
        pad(l4, 18),
        n[0],
        n[1],
        s.bytes[0],
        n[1],
        n[0],
        s.bytes[1]
    );
    let _ = writeln!(
        o,
        "  {} {} {}, {} {}; {} {} {}, {} {}",
        pad(l5, 18),
        n[0],
        s.segments[0],
        n[1],
        s.segments[1],
        if zh { "重传" } else { "retransmissions" },
        n[0],
        s.retransmissions[0],
        n[1],
        s.retransmissions[1]
    );
    let rtt = rtt_words(s, &n, zh);
    if !rtt.is_empty() {
        let _ = writeln!(o, "  {} {}", pad(l6, 18), rtt.join("; "));
    }
    if let Some((e, k)) = s.rst {
        let _ = writeln!(o, "  {:<18} {}: {}", "RST", who(e), rst_words(k, lang));
    }
    notes(&mut o, s, zh);
    o
}

/// Each direction's RTT samples in words.
fn rtt_words(s: &ConnSummary, n: &[String; 2], zh: bool) -> Vec<String> {
    (0..2)
        .filter(|e| s.rtt[*e].samples > 0)
        .map(|e| {
            let r = s.rtt[e];
            if zh {
                format!(
                    "{} 的数据：最小 {}，平均 {}，最大 {}（{} 个样本）",
                    n[e],
                    ms(r.min_us),
                    ms(r.mean_us().unwrap_or(0)),
                    ms(r.max_us),
                    r.samples
                )
            } else {
                format!(
                    "{}'s data: min {}, avg {}, max {} ({} sample{})",
                    n[e],
                    ms(r.min_us),
                    ms(r.mean_us().unwrap_or(0)),
                    ms(r.max_us),
                    r.samples,
                    if r.samples == 1 { "" } else { "s" }
                )
            }
        })
        .collect()
}

fn notes(o: &mut String, s: &ConnSummary, zh: bool) {
    if !s.opened {
        o.push_str(if zh {
            "  注意：连接的建立不在抓包中，开始时两端状态为 UNKNOWN\n"
        } else {
            "  note: the capture missed the opening, so both ends start UNKNOWN\n"
        });
    }
    if s.bad_checksums > 0 {
        let _ = writeln!(
            o,
            "  {} {}",
            s.bad_checksums,
            if zh {
                "个报文段校验和错误（常见原因：在发送方网卡校验和卸载之前抓包）"
            } else {
                "segments with a bad TCP checksum (often: captured on the sender before checksum offload)"
            }
        );
    }
    if s.evicted {
        o.push_str(if zh {
            "  连接表已满，该连接被提前结束\n"
        } else {
            "  the connection table was full: this connection was finished early\n"
        });
    }
    if s.reused {
        o.push_str(if zh {
            "  之后一个新的 SYN 复用了这对端口\n"
        } else {
            "  a new SYN reused its ports afterwards\n"
        });
    }
}

/// The listening ports as text.
pub fn listeners_text(ls: &[ListenerSummary], lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut o = String::new();
    for l in ls {
        let Some(addr) = l.addr else { continue };
        let _ = writeln!(
            o,
            "{} {addr}",
            if zh { "服务器端口" } else { "server port" }
        );
        let rows: [(&str, &str, u64); 7] = [
            ("SYNs seen", "收到的 SYN", l.syns),
            ("connection attempts", "连接尝试", l.connections),
            ("handshakes completed", "完成的握手", l.handshakes),
            ("refused (RST)", "被拒绝（RST）", l.refused),
            ("half-open at the end", "结束时的半开连接", l.half_open),
            (
                "distinct sources among them",
                "其中不同的源地址",
                l.half_open_sources,
            ),
            ("SYNs never answered", "从未回应的 SYN", l.unanswered),
        ];
        for (en, cn, v) in rows {
            let _ = writeln!(o, "  {} {v}", pad(if zh { cn } else { en }, 28));
        }
        if l.half_open >= 16 && l.half_open_sources * 2 >= l.half_open {
            o.push_str(if zh {
                "  大量来自不同地址的半开连接：SYN 洪泛的特征（RFC 4987）\n"
            } else {
                "  many half-open connections from many addresses: the signature of a SYN flood (RFC 4987)\n"
            });
        }
    }
    o
}

/// The capture's counts as text.
pub fn totals_text(t: &Totals, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut o = String::new();
    if zh {
        let _ = writeln!(
            o,
            "抓包：{} 帧，{} 个 TCP 报文段，{} 个连接（{} 个因连接表已满被提前结束）",
            t.frames, t.tcp_segments, t.connections, t.evicted
        );
        let _ = writeln!(
            o,
            "  跳过：非 IP {}，非 TCP {}，IP 分片 {}，首部被截断 {}，格式错误 {}，未知链路类型 {}",
            t.not_ip, t.not_tcp, t.fragments, t.truncated, t.malformed, t.unknown_link
        );
        let _ = writeln!(
            o,
            "  TCP 校验和错误 {}，留给校验和卸载的 {}（在发送方网卡填写之前抓到，不是错误），被 snap 长度截断 {}，选项无法解析 {}",
            t.bad_checksums, t.offload_checksums, t.snapped, t.bad_options
        );
    } else {
        let _ = writeln!(
            o,
            "capture: {} frames, {} TCP segments, {} connections ({} finished early: the table was full)",
            t.frames, t.tcp_segments, t.connections, t.evicted
        );
        let _ = writeln!(
            o,
            "  skipped: {} not IP, {} not TCP, {} IP fragments, {} cut inside a header, {} malformed, {} of an unknown link type{}",
            t.not_ip,
            t.not_tcp,
            t.fragments,
            t.truncated,
            t.malformed,
            t.unknown_link,
            t.last_unknown_link.map_or(String::new(), |l| format!(" ({l})"))
        );
        let _ = writeln!(
            o,
            "  {} bad TCP checksums, {} left to checksum offload (captured on the sending host before its device filled them in: not errors), {} segments cut by the snap length, {} with options that did not parse",
            t.bad_checksums, t.offload_checksums, t.snapped, t.bad_options
        );
    }
    if t.reader.truncated {
        o.push_str(if zh {
            "  文件在一条记录中间结束（被截断）：之前的报文都已处理\n"
        } else {
            "  the file ends in the middle of a record (truncated): everything before it was read\n"
        });
    }
    o
}

/// What a capture point can and cannot show, said once.
pub fn capture_point_text(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "A capture sees each segment once, where it was taken: at one host it sees that host's segments before any loss and its peer's after it. Times are when segments passed the capture point; a SYN or FIN changes its receiver's state once the receiver's ACK of it is seen. A connection whose opening the capture missed starts UNKNOWN.\n",
        Lang::Zh => "抓包只在抓取点看到每个报文段一次：在某台主机上抓包，看到的是该主机发出的报文段（在任何丢包之前）和对端发来的报文段（在丢包之后）。时间是报文段经过抓包点的时刻；SYN 或 FIN 在看到接收方对它的 ACK 后才改变接收方的状态。抓包中缺少建立过程的连接，起始状态为 UNKNOWN（未知）。\n",
    }
}

/// Append `s` as a JSON string.
fn jstr(o: &mut String, s: &str) {
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

fn jopt(v: Option<u64>) -> String {
    v.map_or("null".into(), |v| v.to_string())
}

/// A connection's summary as one JSON object (`"event":"connection"`).
pub fn summary_json(s: &ConnSummary) -> String {
    let n = s.names();
    let mut o = format!("{{\"event\":\"connection\",\"conn\":\"{}/0\"", s.id);
    for (k, e) in [("client", 0usize), ("server", 1)] {
        let _ = write!(o, ",\"{k}\":");
        jstr(&mut o, &s.ends[e].to_string());
    }
    for (k, e) in [("client_states", 0usize), ("server_states", 1)] {
        let _ = write!(o, ",\"{k}\":[");
        for (x, st) in s.states[e].iter().enumerate() {
            if x > 0 {
                o.push(',');
            }
            jstr(&mut o, st.map_or("UNKNOWN", State::name));
        }
        o.push(']');
    }
    let who = |e: Option<usize>| e.map_or("null".to_string(), |e| format!("\"{}\"", n[e & 1]));
    let _ = write!(
        o,
        ",\"closed_first\":{},\"closed_with\":{},\"time_wait\":{},\"handshake_rtt_us\":{},\"bytes_client_to_server\":{},\"bytes_server_to_client\":{},\"segments\":[{},{}],\"retransmissions\":[{},{}],\"rtt_us\":[{},{}],\"rst\":{},\"bad_checksums\":{},\"evicted\":{}}}",
        who(s.closed_first.map(|x| x.0)),
        s.closed_first.map_or("null", |x| if x.1 { "\"rst\"" } else { "\"fin\"" }),
        who(s.time_wait),
        jopt(s.handshake_us),
        s.bytes[0],
        s.bytes[1],
        s.segments[0],
        s.segments[1],
        s.retransmissions[0],
        s.retransmissions[1],
        jopt(s.rtt[0].mean_us()),
        jopt(s.rtt[1].mean_us()),
        s.rst.map_or("null".into(), |(e, k)| format!(
            "{{\"by\":\"{}\",\"cause\":\"{}\"}}",
            n[e & 1],
            rst_name(k)
        )),
        s.bad_checksums,
        s.evicted
    );
    o
}

/// A listening port as one JSON object (`"event":"listener"`).
pub fn listener_json(l: &ListenerSummary) -> String {
    let mut o = String::from("{\"event\":\"listener\",\"addr\":");
    jstr(&mut o, &l.addr.map_or(String::new(), |a| a.to_string()));
    let _ = write!(
        o,
        ",\"syns\":{},\"connections\":{},\"handshakes\":{},\"refused\":{},\"half_open\":{},\"half_open_sources\":{},\"unanswered\":{}}}",
        l.syns, l.connections, l.handshakes, l.refused, l.half_open, l.half_open_sources, l.unanswered
    );
    o
}

/// The capture's counts as one JSON object (`"event":"capture"`).
pub fn totals_json(t: &Totals) -> String {
    format!(
        "{{\"event\":\"capture\",\"frames\":{},\"tcp_segments\":{},\"connections\":{},\"evicted\":{},\"not_ip\":{},\"not_tcp\":{},\"fragments\":{},\"truncated\":{},\"malformed\":{},\"unknown_link\":{},\"bad_checksums\":{},\"offload_checksums\":{},\"snapped\":{},\"file_truncated\":{}}}",
        t.frames,
        t.tcp_segments,
        t.connections,
        t.evicted,
        t.not_ip,
        t.not_tcp,
        t.fragments,
        t.truncated,
        t.malformed,
        t.unknown_link,
        t.bad_checksums,
        t.offload_checksums,
        t.snapped,
        t.reader.truncated
    )
}
