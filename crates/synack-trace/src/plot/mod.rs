//! The plots of flow and congestion control, as SVG: the time-sequence
//! graph ([`render_tseq`]) and the sender's numbers over time
//! ([`render_cwnd`]). Both are drawn inline in the HTML view too.
//!
//! Colours are the Okabe-Ito palette, safe for the common colour-vision
//! deficiencies, and every series also differs by dash or marker shape.

mod axes;
mod cwnd;
mod tseq;

pub use cwnd::render_cwnd;
pub use tseq::render_tseq;

pub(crate) use cwnd::cwnd_svg;
pub(crate) use tseq::tseq_svg;

use crate::Lang;

/// Options of the plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlotOptions {
    /// Raw 32-bit sequence numbers on the time-sequence graph instead of
    /// numbers relative to the ISN.
    pub absolute: bool,
    /// Language of the titles and legends.
    pub lang: Lang,
}

impl Default for PlotOptions {
    /// Relative numbers, English.
    fn default() -> PlotOptions {
        PlotOptions {
            absolute: false,
            lang: Lang::En,
        }
    }
}

/// Which plot `--plot` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlotKind {
    /// The time-sequence graph.
    Tseq,
    /// cwnd, ssthresh, bytes in flight, SRTT and RTO against time.
    Cwnd,
}

/// A plot as a standalone SVG file (with its XML declaration), or `None`
/// when the run has nothing to plot (no data sent, no samples).
pub fn render_plot(
    kind: PlotKind,
    entries: &[crate::TraceEntry],
    hosts: &[crate::HostInfo<'_>],
    series: &crate::Series,
    opts: &PlotOptions,
) -> Option<String> {
    match kind {
        PlotKind::Tseq => render_tseq(entries, hosts, opts),
        PlotKind::Cwnd => render_cwnd(entries, hosts, series, opts),
    }
}

/// The Okabe-Ito colours the plots use, by role.
pub(crate) const STYLE: &str = concat!(
    ".pl text{font:11px sans-serif;fill:#222}.pl .ax{stroke:#555;fill:none}",
    ".pl .grid{stroke:#ddd}.pl .d{stroke:#0072B2;stroke-width:2}",
    ".pl .rx{stroke:#D55E00;stroke-width:2.5}.pl .rxm{fill:#D55E00}",
    ".pl .lost{stroke:#D55E00;stroke-width:2;stroke-dasharray:2 2}",
    ".pl .zwp{fill:#CC79A7;stroke:#000}.pl .sack{stroke:#56B4E9;stroke-width:4;opacity:.8}",
    ".pl .ack{stroke:#009E73;fill:none;stroke-width:1.5}",
    ".pl .rwnd{stroke:#E69F00;fill:none;stroke-width:1.5;stroke-dasharray:6 3}",
    ".pl .cwnd{stroke:#0072B2;fill:none;stroke-width:2}",
    ".pl .ssth{stroke:#D55E00;fill:none;stroke-width:1.5;stroke-dasharray:6 3}",
    ".pl .infl{stroke:#009E73;fill:none;stroke-width:1.5}",
    ".pl .srtt{stroke:#E69F00;fill:none;stroke-width:1.5;stroke-dasharray:2 2}",
    ".pl .rto{stroke:#CC79A7;fill:none;stroke-width:1.5;stroke-dasharray:8 2 2 2}",
    ".pl .cursor{stroke:#000;stroke-width:1;opacity:.6}",
);

/// Wrap an inline plot as a standalone SVG file.
pub(crate) fn standalone(svg: String) -> String {
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    o.push_str(&svg);
    o
}
