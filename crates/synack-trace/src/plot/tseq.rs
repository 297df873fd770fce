//! The time-sequence graph of the data sender: each data segment a vertical
//! bar from its first to past its last sequence number at the time it was
//! sent, the receiver's ACK line and the right edge of its advertised
//! window (ACK + window, RFC 9293 3.8.6) where the ACKs arrived, SACK
//! blocks (RFC 2018) beside the ACK that carried them, retransmissions and
//! zero-window probes (RFC 9293 3.8.6.1) marked.

use super::axes::Chart;
use super::{standalone, PlotOptions};
use crate::model::{build, Arrival, Model, StepKind};
use crate::{HostInfo, Lang, TraceEntry};
use std::fmt::Write as _;
use synack_proto::SendReason;
use synack_sim::HostId;

/// A data segment on the graph.
struct Bar {
    at: u64,
    lo: f64,
    hi: f64,
    retransmit: bool,
    probe: bool,
    lost: bool,
}

/// An ACK from the receiver, at the sender.
struct AckPoint {
    at: u64,
    ack: f64,
    /// ACK + scaled window.
    edge: f64,
    sacks: Vec<(f64, f64)>,
}

/// What the graph draws.
struct Tseq {
    sender: HostId,
    receiver: HostId,
    bars: Vec<Bar>,
    acks: Vec<AckPoint>,
}

/// The sender of the most payload bytes among the two hosts drawn.
fn data_sender(m: &Model) -> Option<(HostId, HostId)> {
    let right = m.right?;
    let (mut l, mut r) = (0u64, 0u64);
    for st in &m.steps {
        if let StepKind::Segment(s) = &st.kind {
            if s.from == Some(m.left) {
                l += u64::from(s.seg.len);
            } else if s.from == Some(right) {
                r += u64::from(s.seg.len);
            }
        }
    }
    match (l, r) {
        (0, 0) => None,
        (l, r) if l >= r => Some((m.left, right)),
        _ => Some((right, m.left)),
    }
}

/// The receiver's window shift for its non-SYN segments: its SYN's
/// shift, when both SYNs carried the option (RFC 7323 2.2).
fn receiver_shift(m: &Model, sender: HostId, receiver: HostId) -> u8 {
    let mut mine = None;
    let mut theirs = None;
    for st in &m.steps {
        if let StepKind::Segment(s) = &st.kind {
            if s.seg.flags.syn() {
                if s.from == Some(receiver) && mine.is_none() {
                    mine = Some(s.seg.options.window_scale);
                } else if s.from == Some(sender) && theirs.is_none() {
                    theirs = Some(s.seg.options.window_scale);
                }
            }
        }
    }
    match (mine, theirs) {
        (Some(Some(a)), Some(Some(_))) => a.min(14),
        _ => 0,
    }
}

fn collect(m: &Model) -> Option<Tseq> {
    let (sender, receiver) = data_sender(m)?;
    let shift = receiver_shift(m, sender, receiver);
    let mut bars = Vec::new();
    let mut acks = Vec::new();
    let mut highest: Option<f64> = None;
    for st in &m.steps {
        let StepKind::Segment(s) = &st.kind else {
            continue;
        };
        if s.from == Some(sender) && s.seg.len > 0 {
            let lo = f64::from(s.seq);
            let hi = lo + f64::from(s.seg.len);
            let by_reason = matches!(
                s.reason,
                Some(
                    SendReason::Retransmit
                        | SendReason::FastRetransmit
                        | SendReason::LossProbe
                        | SendReason::PathMtuRetransmit
                )
            );
            bars.push(Bar {
                at: st.at,
                lo,
                hi,
                retransmit: by_reason || highest.is_some_and(|h| hi <= h),
                probe: s.reason == Some(SendReason::WindowProbe),
                lost: matches!(s.arrival, Arrival::LinkDropped(_)),
            });
            highest = Some(highest.map_or(hi, |h: f64| h.max(hi)));
        } else if s.from == Some(receiver) && s.seg.flags.ack() && !s.seg.flags.rst() {
            let at = match s.arrival {
                Arrival::Delivered(t)
                | Arrival::Duplicated(t, _)
                | Arrival::Marked(t)
                | Arrival::Corrupted(t) => t,
                Arrival::LinkDropped(_) => continue,
                Arrival::Unknown => st.at,
            };
            let sh = if s.seg.flags.syn() { 0 } else { shift };
            let wnd = u64::from(s.seg.window) << sh;
            let ack = f64::from(s.ack);
            let offset = s.seg.ack.get().wrapping_sub(s.ack);
            let sacks = s
                .seg
                .options
                .sack
                .as_slice()
                .iter()
                .map(|(a, b)| {
                    (
                        f64::from(a.get().wrapping_sub(offset)),
                        f64::from(b.get().wrapping_sub(offset)),
                    )
                })
                .collect();
            acks.push(AckPoint {
                at,
                ack,
                edge: ack + wnd as f64,
                sacks,
            });
        }
    }
    if bars.is_empty() {
        return None;
    }
    Some(Tseq {
        sender,
        receiver,
        bars,
        acks,
    })
}

struct Words {
    title: &'static str,
    time: &'static str,
    seq: &'static str,
    legend: [&'static str; 6],
}

fn words(lang: Lang) -> Words {
    match lang {
        Lang::En => Words {
            title: "time-sequence graph",
            time: "time (ms)",
            seq: "sequence number",
            legend: [
                "data",
                "retransmission",
                "ACK",
                "ACK + window",
                "SACK",
                "zero-window probe",
            ],
        },
        Lang::Zh => Words {
            title: "时间-序号图",
            time: "时间 (毫秒)",
            seq: "序号",
            legend: [
                "数据",
                "重传",
                "确认号",
                "确认号 + 窗口",
                "SACK",
                "零窗口探测",
            ],
        },
    }
}

/// The graph as an inline `<svg>` element, or `None` without data.
pub(crate) fn tseq_svg(m: &Model, opts: &PlotOptions) -> Option<String> {
    let g = collect(m)?;
    let w = words(opts.lang);
    let times = g
        .bars
        .iter()
        .map(|b| b.at)
        .chain(g.acks.iter().map(|a| a.at));
    let t0 = times.clone().min().unwrap_or(0);
    let t1 = times.max().unwrap_or(1);
    let lows = g
        .bars
        .iter()
        .map(|b| b.lo)
        .chain(g.acks.iter().map(|a| a.ack));
    let y0 = lows.fold(f64::INFINITY, f64::min);
    // The window's edge may lie far above the data (a 64 KiB window over a
    // few bytes): the graph shows it up to twice the data's span, clipped.
    let data_top = g
        .bars
        .iter()
        .map(|b| b.hi)
        .chain(g.acks.iter().map(|a| a.ack))
        .fold(f64::NEG_INFINITY, f64::max);
    let edge = g.acks.iter().map(|a| a.edge).fold(data_top, f64::max);
    let y1 = edge.min(data_top + (data_top - y0).max(1.0));
    let c = Chart::new(t0, t1, y0, y1, None);
    let mut o = String::new();
    let title = format!("{}: {} → {}", w.title, m.name(g.sender), m.name(g.receiver));
    c.frame(&mut o, "tseq", &title, [w.time, w.seq, ""]);
    let _ = writeln!(
        o,
        r#"<g data-segs="{}" data-acks="{}" data-retransmits="{}" data-probes="{}">"#,
        g.bars.len(),
        g.acks.len(),
        g.bars.iter().filter(|b| b.retransmit).count(),
        g.bars.iter().filter(|b| b.probe).count()
    );
    ack_lines(&mut o, &c, &g.acks);
    for b in &g.bars {
        let x = c.x(b.at);
        let class = match (b.lost, b.retransmit) {
            (true, _) => "d lost",
            (false, true) => "d rx",
            (false, false) => "d",
        };
        let _ = writeln!(
            o,
            r#"<line class="{class}" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/>"#,
            c.y(b.lo),
            c.y(b.hi).min(c.y(b.lo) - 1.5)
        );
        if b.retransmit {
            let _ = writeln!(
                o,
                r#"<path class="rxm" d="M{:.1},{:.1}l4,-7h-8z"/>"#,
                x,
                c.y(b.hi) - 2.0
            );
        }
        if b.probe {
            let _ = writeln!(
                o,
                r#"<rect class="zwp" x="{:.1}" y="{:.1}" width="7" height="7" transform="rotate(45 {x:.1} {:.1})"/>"#,
                x - 3.5,
                c.y(b.hi) - 3.5,
                c.y(b.hi)
            );
        }
    }
    o.push_str("</g>\n");
    let l = w.legend;
    c.legend(
        &mut o,
        &[
            ("d", l[0]),
            ("rx", l[1]),
            ("ack", l[2]),
            ("rwnd", l[3]),
            ("sack", l[4]),
            ("zwp", l[5]),
        ],
    );
    o.push_str("</svg>\n");
    Some(o)
}

/// The ACK line and the window's right edge as steps, then SACK blocks.
fn ack_lines(o: &mut String, c: &Chart, acks: &[AckPoint]) {
    let mut ack = String::new();
    let mut edge = String::new();
    for (i, a) in acks.iter().enumerate() {
        let x = c.x(a.at);
        if i > 0 {
            let _ = write!(ack, "{x:.1},{:.1} ", c.y(acks[i - 1].ack));
            let _ = write!(edge, "{x:.1},{:.1} ", c.y(acks[i - 1].edge));
        }
        let _ = write!(ack, "{x:.1},{:.1} ", c.y(a.ack));
        let _ = write!(edge, "{x:.1},{:.1} ", c.y(a.edge));
    }
    let _ = writeln!(o, r#"<polyline class="ack" points="{}"/>"#, ack.trim_end());
    let _ = writeln!(
        o,
        r#"<polyline class="rwnd" points="{}"/>"#,
        edge.trim_end()
    );
    for a in acks {
        let x = c.x(a.at) + 3.0;
        for (lo, hi) in &a.sacks {
            let _ = writeln!(
                o,
                r#"<line class="sack" x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}"/>"#,
                c.y(*lo),
                c.y(*hi)
            );
        }
    }
}

/// The time-sequence graph of a trace's data sender as a standalone SVG
/// file, or `None` when no payload was sent.
///
/// ```
/// use synack_trace::{fixture, render_tseq, PlotOptions};
/// let svg = render_tseq(&fixture::textbook(), &fixture::hosts(), &PlotOptions::default())
///     .expect("the textbook connection carries a request and a response");
/// assert!(svg.contains("time-sequence graph"));
/// ```
pub fn render_tseq(
    entries: &[TraceEntry],
    hosts: &[HostInfo<'_>],
    opts: &PlotOptions,
) -> Option<String> {
    let m = build(entries, hosts, opts.absolute);
    tseq_svg(&m, opts).map(standalone)
}
