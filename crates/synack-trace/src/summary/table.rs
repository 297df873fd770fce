//! The summary tables as text: connections, listener counters, listener
//! snapshots.

use super::{ConnSummary, ListenerStats, ListenerView};
use crate::explain::words;
use crate::Lang;

/// Display width: CJK characters take two columns.
pub(crate) fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let c = c as u32;
            if (0x1100..=0x115F).contains(&c)
                || (0x2E80..=0xA4CF).contains(&c)
                || (0xAC00..=0xD7A3).contains(&c)
                || (0xF900..=0xFAFF).contains(&c)
                || (0xFE30..=0xFE4F).contains(&c)
                || (0xFF00..=0xFF60).contains(&c)
                || (0xFFE0..=0xFFE6).contains(&c)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    for _ in width(s)..w {
        out.push(' ');
    }
    out
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The connection table, as text.
pub(crate) fn conn_table(rows: &[ConnSummary], lang: Lang) -> String {
    let head: [&str; 11] = match lang {
        Lang::En => [
            "host", "local", "remote", "state", "ISN", "SND.NXT", "RCV.NXT", "sent", "rcvd",
            "segs", "rexmit",
        ],
        Lang::Zh => [
            "主机",
            "本地",
            "远端",
            "状态",
            "ISN",
            "SND.NXT",
            "RCV.NXT",
            "发送字节",
            "接收字节",
            "报文段",
            "重传",
        ],
    };
    let mut table: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        table.push(vec![
            r.host.clone(),
            r.local.to_string(),
            r.remote.to_string(),
            opt(r.state.map(|s| s.name())),
            opt(r.isn),
            opt(r.snd_nxt),
            opt(r.rcv_nxt),
            r.bytes_sent.to_string(),
            r.bytes_received.to_string(),
            r.segments_sent.to_string(),
            r.retransmissions.to_string(),
        ]);
    }
    let mut widths = [0usize; 11];
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let mut out = format!("{}\n", words(lang).connections);
    for row in &table {
        let mut line = String::from(" ");
        for (w, cell) in widths.iter().zip(row) {
            line.push(' ');
            line.push_str(&pad(cell, *w));
            line.push(' ');
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn kv(out: &mut String, rows: &[(&str, String)]) {
    let w = rows.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
    for (k, v) in rows {
        out.push_str("  ");
        out.push_str(&pad(k, w));
        out.push_str("  ");
        out.push_str(v);
        out.push('\n');
    }
}

fn limit(v: u64, l: Option<u64>) -> String {
    match l {
        Some(l) => format!("{v} / {l}"),
        None => v.to_string(),
    }
}

/// The listener counters derived from events, as text.
pub(crate) fn listener_text(s: &ListenerStats, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut out = format!("{} {} {}\n", words(lang).listener, s.host, s.local);
    let rows = [
        (
            if zh {
                "已创建的半开连接"
            } else {
                "half-open entries created"
            },
            s.half_open_created.to_string(),
        ),
        (
            if zh {
                "当前半开连接"
            } else {
                "half-open now"
            },
            s.half_open_now.to_string(),
        ),
        (
            if zh {
                "不同的源地址"
            } else {
                "distinct source addresses"
            },
            s.distinct_sources.to_string(),
        ),
        (
            if zh {
                "已发送 SYN cookie"
            } else {
                "SYN cookies sent"
            },
            s.cookies_sent.to_string(),
        ),
        (
            if zh {
                "已验证 SYN cookie"
            } else {
                "SYN cookies validated"
            },
            s.cookies_validated.to_string(),
        ),
        (
            if zh {
                "丢弃的 SYN（队列满）"
            } else {
                "SYNs dropped (queue full)"
            },
            s.syns_dropped.to_string(),
        ),
        (
            if zh {
                "SYN,ACK 重传"
            } else {
                "SYN,ACK retransmissions"
            },
            s.synack_retransmits.to_string(),
        ),
        (
            if zh {
                "已建立的连接"
            } else {
                "connections established"
            },
            s.established.to_string(),
        ),
    ];
    kv(&mut out, &rows);
    out
}

/// A supplied listener snapshot, as text.
pub(crate) fn listener_view_text(v: &ListenerView, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut out = format!("{} {}\n", words(lang).listener, v.name);
    let rows = [
        (
            if zh { "半开连接" } else { "half-open" },
            limit(v.half_open, v.half_open_limit),
        ),
        (
            if zh { "accept 队列" } else { "accept queue" },
            match v.accept_queue {
                Some(q) => limit(q, v.accept_limit),
                None => opt(v.accept_limit.map(|l| format!("- / {l}"))),
            },
        ),
        (
            if zh {
                "不同的源地址"
            } else {
                "distinct source addresses"
            },
            v.distinct_sources.to_string(),
        ),
        (
            if zh {
                "已发送 SYN cookie"
            } else {
                "SYN cookies sent"
            },
            v.cookies_sent.to_string(),
        ),
        (
            if zh {
                "已验证 SYN cookie"
            } else {
                "SYN cookies validated"
            },
            v.cookies_validated.to_string(),
        ),
        (
            if zh {
                "丢弃的 SYN（队列满）"
            } else {
                "SYNs dropped (queue full)"
            },
            v.syns_dropped.to_string(),
        ),
        (
            if zh {
                "SYN,ACK 重传"
            } else {
                "SYN,ACK retransmissions"
            },
            v.synack_retransmits.to_string(),
        ),
        (
            if zh {
                "已建立的连接"
            } else {
                "connections established"
            },
            v.established.to_string(),
        ),
    ];
    kv(&mut out, &rows);
    out
}
