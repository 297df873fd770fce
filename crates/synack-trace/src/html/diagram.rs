//! One side's RFC 9293 state diagram (3.3.2, Figure 5): the eleven states
//! and the transitions of the figure, with the current state lit and the
//! transition just taken drawn over it with its cause. The page's script
//! moves both; as written here they show the end of the run.

use super::words::PageWords;
use crate::explain::state_text;
use crate::model::Col;
use crate::svg::xml;
use crate::Lang;
use std::fmt::Write as _;
use synack_proto::State;

/// Where each state's box is centred.
fn pos(s: State) -> (f64, f64) {
    match s {
        State::Closed => (170.0, 22.0),
        State::Listen => (170.0, 78.0),
        State::SynReceived => (62.0, 134.0),
        State::SynSent => (278.0, 134.0),
        State::Established => (170.0, 190.0),
        State::FinWait1 => (62.0, 246.0),
        State::CloseWait => (278.0, 246.0),
        State::FinWait2 => (50.0, 310.0),
        State::Closing => (158.0, 310.0),
        State::LastAck => (278.0, 310.0),
        State::TimeWait => (104.0, 372.0),
    }
}

/// The transitions of RFC 9293 Figure 5, with what drives each.
const EDGES: &[(State, State, &str)] = &[
    (State::Closed, State::Listen, "listen"),
    (State::Closed, State::SynSent, "connect / SYN"),
    (State::Listen, State::SynReceived, "SYN / SYN,ACK"),
    (State::Listen, State::SynSent, "send / SYN"),
    (State::Listen, State::Closed, "close"),
    (State::SynSent, State::SynReceived, "SYN / SYN,ACK"),
    (State::SynSent, State::Established, "SYN,ACK / ACK"),
    (State::SynSent, State::Closed, "close"),
    (State::SynReceived, State::Established, "ACK"),
    (State::SynReceived, State::FinWait1, "close / FIN"),
    (State::SynReceived, State::Listen, "RST"),
    (State::Established, State::FinWait1, "close / FIN"),
    (State::Established, State::CloseWait, "FIN / ACK"),
    (State::FinWait1, State::FinWait2, "ACK"),
    (State::FinWait1, State::Closing, "FIN / ACK"),
    (State::FinWait1, State::TimeWait, "FIN,ACK / ACK"),
    (State::FinWait2, State::TimeWait, "FIN / ACK"),
    (State::Closing, State::TimeWait, "ACK"),
    (State::CloseWait, State::LastAck, "close / FIN"),
    (State::LastAck, State::Closed, "ACK"),
    (State::TimeWait, State::Closed, "2MSL"),
];

const BW: f64 = 92.0;
const BH: f64 = 20.0;

/// The point where the segment from `a`'s centre towards `b`'s leaves
/// `a`'s box.
fn exit(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    if dx == 0.0 && dy == 0.0 {
        return a;
    }
    let sx = if dx == 0.0 {
        f64::INFINITY
    } else {
        (BW / 2.0 + 2.0) / dx.abs()
    };
    let sy = if dy == 0.0 {
        f64::INFINITY
    } else {
        (BH / 2.0 + 2.0) / dy.abs()
    };
    let s = sx.min(sy);
    (a.0 + dx * s, a.1 + dy * s)
}

/// The endpoints of a transition's arrow, box edge to box edge.
pub(crate) fn ends(from: State, to: State) -> (f64, f64, f64, f64) {
    let (a, b) = (pos(from), pos(to));
    let p = exit(a, b);
    let q = exit(b, a);
    (p.0, p.1, q.0, q.1)
}

/// The diagram of one side.
pub(crate) fn svg(
    col: Col,
    name: &str,
    state: Option<State>,
    last: Option<(State, usize)>,
    w: &PageWords,
    lang: Lang,
) -> String {
    let side = if col == Col::L { 0 } else { 1 };
    let mut o = String::with_capacity(8 * 1024);
    let _ = writeln!(
        o,
        r#"<figure class="sd"><svg xmlns="http://www.w3.org/2000/svg" id="sd{side}" viewBox="0 0 340 430" role="img" aria-label="{}">"#,
        xml(name)
    );
    let _ = writeln!(
        o,
        "<defs><marker id=\"e{side}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\" fill=\"#888\"/></marker><marker id=\"t{side}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"5\" markerHeight=\"5\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\" fill=\"#000\"/></marker></defs>"
    );
    for (a, b, what) in EDGES {
        let (x1, y1, x2, y2) = ends(*a, *b);
        let _ = writeln!(
            o,
            r#"<line class="se" data-e="{}>{}" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" marker-end="url(#e{side})"><title>{}</title></line>"#,
            a.name(),
            b.name(),
            xml(what)
        );
    }
    let (tx1, ty1, tx2, ty2, shown) = match (last, state) {
        (Some((f, _)), Some(t)) => {
            let (a, b, c, d) = ends(f, t);
            (a, b, c, d, "")
        }
        _ => (0.0, 0.0, 0.0, 0.0, " hidden"),
    };
    let _ = writeln!(
        o,
        r#"<line class="taken{shown}" id="tk{side}" x1="{tx1:.1}" y1="{ty1:.1}" x2="{tx2:.1}" y2="{ty2:.1}" marker-end="url(#t{side})"/>"#
    );
    for s in State::ALL {
        let (x, y) = pos(s);
        let on = if Some(s) == state { " on" } else { "" };
        let _ = writeln!(
            o,
            r#"<g class="sn{on}" data-s="{}"><title>{}</title><rect x="{:.1}" y="{:.1}" width="{BW}" height="{BH}" rx="10"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
            s.name(),
            xml(state_text(s, lang)),
            x - BW / 2.0,
            y - BH / 2.0,
            y + 4.0,
            s.name()
        );
    }
    let caption = match (state, last) {
        (Some(s), _) => format!("{}: {}", w.final_state, s.name()),
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        r#"</svg><figcaption><b>{}</b> <span class="cause" id="cause{side}">{}</span></figcaption></figure>"#,
        xml(name),
        xml(&caption)
    );
    o
}
