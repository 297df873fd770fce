//! Views of a synack trace: ladder diagram, JSON lines, Mermaid, SVG, pcap.
//!
//! Every view is rendered from the simulator's record of a run, a slice of
//! [`TraceEntry`], plus the names and addresses of its hosts ([`HostInfo`]).
//! Segment fields come from the stacks' own events
//! ([`EventKind::SegmentSent`](synack_proto::EventKind::SegmentSent) on the
//! sender, `SegmentReceived` on the receiver); a packet the link dropped is
//! matched to the `SegmentSent` of the same host at the same instant (in the
//! same order), or read from the packet bytes when no such event exists.
//!
//! | view | function | options |
//! |---|---|---|
//! | ladder diagram (text, optionally coloured, English or Chinese) | [`render_text`] | [`TextOptions`] |
//! | one JSON object per event | [`render_jsonl`] | [`JsonOptions`] |
//! | Mermaid `sequenceDiagram` | [`render_mermaid`] | [`MermaidOptions`] |
//! | standalone SVG ladder | [`render_svg`] | [`SvgOptions`] |
//! | classic pcap file | [`write_pcap`] | [`PcapOptions`] |
//! | self-contained HTML page: animated ladder, state diagrams, socket calls, header fields, plots | [`render_html`] | [`HtmlOptions`] |
//! | time-sequence graph (SVG) | [`render_tseq`] | [`PlotOptions`] |
//! | cwnd, ssthresh, in flight, SRTT and RTO against time (SVG) | [`render_cwnd`] | [`PlotOptions`] |
//!
//! Sequence and acknowledgment numbers are shown relative by default: each
//! direction's initial sequence number (ISN), learned from the first SYN
//! seen in that direction, counts as 0, so a SYN shows `seq=0` and the
//! SYN,ACK answering it `ack=1`. A direction whose SYN is not in the trace
//! keeps absolute numbers. Every option struct has `absolute` to show the
//! raw 32-bit values instead.
//!
//! The renderers never panic, whatever the trace: unknown hosts get
//! generated names, unmatched packets are still drawn, and every arithmetic
//! on sequence numbers wraps modulo 2^32.
//!
//! [`fixture`] builds the events of a textbook connection for tests and demos.
//!
//! ```
//! use synack_trace::{fixture, render_text, TextOptions};
//!
//! let ladder = render_text(&fixture::textbook(), &fixture::hosts(), &TextOptions::default());
//! assert!(ladder.contains("CLOSED → SYN_SENT"));
//! assert!(ladder.contains("SYN,ACK seq=0 ack=1"));
//! ```
//!
//! # Snapshots
//! The expected output of every view for [`fixture::textbook`] is kept in
//! `crates/synack-trace/tests/snapshots/` and compared byte for byte by
//! `cargo test -p synack-trace`. After a deliberate change of a view, run
//! `SYNACK_BLESS=1 cargo test -p synack-trace` to rewrite them, then read
//! the diff: the snapshots are the specification of what a learner sees.
//! The pcap test reads files back with `tcpdump`, which must be installed.

mod calls;
mod explain;
pub mod fixture;
mod html;
mod json;
mod label;
mod layout;
mod mermaid;
mod model;
mod observed;
mod pcap;
mod plot;
mod series;
mod summary;
mod svg;
mod text;

pub use calls::{inferred_calls, Call, SocketCall};
pub use explain::{
    cause_name, cause_text, conn_error_name, conn_error_text, drop_reason_name, drop_reason_text,
    link_drop_text, send_reason_name, send_reason_text, state_text, timer_text, UNEXPLAINED,
    UNNAMED,
};
pub use html::{render_html, HtmlOptions};
pub use json::{json_string, render_jsonl, JsonOptions};
pub use mermaid::{render_mermaid, MermaidOptions};
pub use pcap::{write_pcap, PcapOptions, PcapWriter, LINKTYPE_RAW, PCAP_MAGIC};
pub use plot::{render_cwnd, render_plot, render_tseq, PlotKind, PlotOptions};
pub use series::{Sample, Series, MAX_SAMPLES};
pub use summary::{connection_summaries, listener_stats, ConnSummary, ListenerStats, ListenerView};
pub use svg::{render_svg, SvgOptions};
pub use text::{render_text, TextOptions, Theme};

use std::net::IpAddr;
pub use synack_sim::TraceEntry;

/// A host of the simulation as the views name it: `hosts[i]` describes
/// [`HostId`](synack_sim::HostId) `i`. Hosts missing from the slice are
/// called `host<i>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostInfo<'a> {
    /// Display name (`client`, `server`...).
    pub name: &'a str,
    /// The host's IP address, used to tell which host a segment is for.
    pub addr: IpAddr,
}

/// The language of the explanations and headings. State and flag names
/// (`SYN_SENT`, `SYN,ACK`) are never translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Chinese (simplified).
    Zh,
}

/// `12.000 ms`: a virtual instant in milliseconds with microsecond precision.
pub(crate) fn fmt_ms(micros: u64) -> String {
    format!("{}.{:03} ms", micros / 1000, micros % 1000)
}
