//! The ladder as one self-contained HTML page: the ladder drawn as SVG
//! (readable as it is, without JavaScript), animated in virtual time by a
//! small inline script; each side's RFC 9293 state diagram with the current
//! state lit and the transition just taken with its cause; a lane of
//! socket calls beside each lifeline; the selected segment's header fields
//! and explanation; the time-sequence graph and the congestion-control plot.
//!
//! Nothing is fetched: styles, script and data are inline, so the file
//! opens from disk with the network off.

mod data;
mod diagram;
mod ladder;
mod words;

use crate::calls::SocketCall;
use crate::layout::{lay_out, Layout, Marks};
use crate::model::{Col, StepKind};
use crate::plot::{cwnd_svg, tseq_svg, PlotOptions};
use crate::series::Series;
use crate::svg::xml;
use crate::{HostInfo, Lang, TraceEntry};
use std::fmt::Write as _;
use synack_proto::State;
use words::page_words;

/// Options of [`render_html`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HtmlOptions {
    /// Raw 32-bit sequence numbers in the ladder instead of relative ones
    /// (the header panel shows both).
    pub absolute: bool,
    /// Language of the page and its explanations.
    pub lang: Lang,
    /// The page's title (`synack demo`, `synack scenario lost-syn`...).
    pub title: String,
    /// The senders' numbers over time, for the congestion-control plot
    /// (empty: no plot).
    pub series: Series,
    /// The applications' socket calls, for the lanes beside the lifelines.
    pub calls: Vec<SocketCall>,
}

/// The HTML view's marks: Unicode, short.
const MARKS: Marks = Marks {
    to: "→",
    timer: "◷",
    cross: "✖",
    detailed: false,
};

/// One line of the page's ladder: a drawn step, or a socket call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// `Layout::rows[i]`.
    Row(usize),
    /// `HtmlOptions::calls[i]`, beside this column.
    Call(usize, Col),
}

/// Render the page.
///
/// ```
/// use synack_trace::{fixture, render_html, HtmlOptions};
/// let page = render_html(&fixture::textbook(), &fixture::hosts(), &HtmlOptions::default());
/// assert!(page.starts_with("<!DOCTYPE html>"));
/// assert!(page.contains(r#"data-s="SYN_SENT""#));
/// assert!(!page.contains("http://") || !page.contains("<script src"));
/// ```
pub fn render_html(entries: &[TraceEntry], hosts: &[HostInfo<'_>], opts: &HtmlOptions) -> String {
    let layout = lay_out(entries, hosts, opts.absolute, opts.lang, &MARKS);
    let items = merge(&layout, &opts.calls);
    let w = page_words(opts.lang);
    let m = &layout.model;
    let mut o = String::with_capacity(64 * 1024);
    let title = if opts.title.is_empty() {
        "synack".to_string()
    } else {
        opts.title.clone()
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <title>{}</title><style>{}</style></head>\n<body>\n",
        w.lang,
        xml(&title),
        include_str!("page.css")
    );
    let _ = writeln!(
        o,
        "<header><h1>{}</h1><p class=\"sub\">{} ↔ {}</p>",
        xml(&title),
        xml(&m.name(m.left)),
        xml(&m.right_name())
    );
    controls(&mut o, w);
    o.push_str("</header>\n<main>\n");
    let _ = writeln!(
        o,
        "<section id=\"ladder-box\"><h2>{}</h2><noscript><p class=\"note\">{}</p></noscript><div class=\"scroll\">",
        w.ladder, w.no_js
    );
    o.push_str(&ladder::svg(&layout, &items, &opts.calls, opts.lang));
    o.push_str("</div></section>\n<section id=\"side\">\n");
    let _ = writeln!(o, "<h2>{}</h2><div class=\"diagrams\">", w.diagram);
    for (col, name) in [(Col::L, m.name(m.left)), (Col::R, m.right_name())] {
        let (state, last) = final_state(&layout, col);
        o.push_str(&diagram::svg(col, &name, state, last, w, opts.lang));
    }
    o.push_str("</div>\n");
    let names: Vec<String> = w.f.iter().map(|f| data::js(f)).collect();
    let _ = writeln!(
        o,
        "<h2>{}</h2><div id=\"fields\" data-names=\"{}\"><p class=\"note\">{}</p></div>",
        w.fields,
        xml(&format!("[{}]", names.join(","))),
        w.pick
    );
    o.push_str("</section>\n");
    plots(&mut o, &layout, opts, w);
    o.push_str("</main>\n");
    o.push_str(&data::json(&layout, &items, &opts.calls, opts.lang));
    let _ = writeln!(o, "<script>{}</script>", include_str!("page.js"));
    o.push_str("</body></html>\n");
    o
}

fn controls(o: &mut String, w: &words::PageWords) {
    let _ = writeln!(
        o,
        "<nav id=\"controls\" class=\"js-only\">\
         <button id=\"b-first\" title=\"{}\" aria-label=\"{}\">«</button>\
         <button id=\"b-prev\" title=\"{}\" aria-label=\"{}\">‹</button>\
         <button id=\"b-play\" title=\"{}\" aria-label=\"{}\">▶</button>\
         <button id=\"b-next\" title=\"{}\" aria-label=\"{}\">›</button>\
         <button id=\"b-last\" title=\"{}\" aria-label=\"{}\">»</button>\
         <input id=\"scrub\" type=\"range\" min=\"0\" max=\"0\" value=\"0\" aria-label=\"step\">\
         <label>{} <select id=\"speed\"><option value=\"0.5\">0.5×</option>\
         <option value=\"1\" selected>1×</option><option value=\"2\">2×</option>\
         <option value=\"4\">4×</option></select></label>\
         <span id=\"clock\">t = 0 ms</span> <span id=\"count\"></span>\
         <p class=\"keys\">{}</p></nav>",
        w.first,
        w.first,
        w.prev,
        w.prev,
        w.play,
        w.play,
        w.next,
        w.next,
        w.last,
        w.last,
        w.speed,
        w.keys
    );
}

fn plots(o: &mut String, layout: &Layout, opts: &HtmlOptions, w: &words::PageWords) {
    let popts = PlotOptions {
        absolute: opts.absolute,
        lang: opts.lang,
    };
    let _ = writeln!(o, "<section id=\"plots\"><h2>{}</h2>", w.plots);
    match tseq_svg(&layout.model, &popts) {
        Some(svg) => {
            let _ = write!(o, "<div class=\"plot\">{svg}</div>");
        }
        None => {
            let _ = writeln!(o, "<p class=\"note\" id=\"no-tseq\">{}</p>", w.no_data);
        }
    }
    match cwnd_svg(&layout.model, &opts.series, &popts) {
        Some(svg) => {
            let _ = write!(o, "<div class=\"plot\">{svg}</div>");
        }
        None => {
            let _ = writeln!(o, "<p class=\"note\" id=\"no-cwnd\">{}</p>", w.no_samples);
        }
    }
    o.push_str("</section>\n");
}

/// A column's state at the end and the last transition into it (from,
/// cause's row), for the page as it shows without JavaScript.
fn final_state(layout: &Layout, col: Col) -> (Option<State>, Option<(State, usize)>) {
    let mut state = None;
    let mut last = None;
    for (i, r) in layout.rows.iter().enumerate() {
        if r.col != col {
            continue;
        }
        if let Some(StepKind::State { from, to, .. }) =
            layout.model.steps.get(r.step).map(|s| &s.kind)
        {
            state = Some(*to);
            last = Some((*from, i));
        }
    }
    (state, last)
}

/// The ladder's lines: every drawn row, and each socket call placed just
/// before what it caused (a state change, the data it queued), or else
/// after everything up to its instant.
fn merge(layout: &Layout, calls: &[SocketCall]) -> Vec<Item> {
    let rows = &layout.rows;
    let mut used = vec![false; rows.len()];
    let mut before: Vec<Vec<usize>> = vec![Vec::new(); rows.len() + 1];
    for (ci, c) in calls.iter().enumerate() {
        let Some(col) = layout.model.col(c.host) else {
            continue;
        };
        let at = c.at.micros();
        let caused = rows.iter().enumerate().position(|(i, r)| {
            if r.at < at || r.col != col || used[i] {
                return false;
            }
            match layout.model.steps.get(r.step).map(|s| &s.kind) {
                Some(StepKind::State { cause, .. }) => c.call.causes(*cause),
                Some(StepKind::Segment(s)) => {
                    matches!(c.call, crate::calls::Call::Send(_)) && s.seg.len > 0
                }
                _ => false,
            }
        });
        let pos = match caused {
            Some(i) if rows[i].at == at => {
                used[i] = true;
                i
            }
            _ => rows.iter().position(|r| r.at > at).unwrap_or(rows.len()),
        };
        before[pos].push(ci);
    }
    let mut items = Vec::with_capacity(rows.len() + calls.len());
    for (i, b) in before.iter().enumerate() {
        for &ci in b {
            let col = calls
                .get(ci)
                .and_then(|c| layout.model.col(c.host))
                .unwrap_or(Col::L);
            items.push(Item::Call(ci, col));
        }
        if i < rows.len() {
            items.push(Item::Row(i));
        }
    }
    items
}
