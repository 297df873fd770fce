//! Explain a real capture: read pcap or pcapng, follow every TCP
//! connection in it, infer each endpoint's state by RFC 9293's rules
//! ([`synack_proto::rules`], the same table the stack follows), and say
//! in plain words why each segment was sent and what it did.
//!
//! The result is the stack's own event stream ([`synack_proto::Event`]
//! inside [`synack_sim::TraceEntry`]), so the ladder text, JSON lines and
//! SVG come from `synack-trace`'s renderers, exactly as for `synack demo`.
//!
//! | module | what |
//! |---|---|
//! | [`reader`] | streaming pcap/pcapng reading with `pcap-parser` |
//! | [`decode`] | link layers, IPv4/IPv6, TCP header, checksum |
//! | `flow` | what one direction sent: ISN, highest seq, FIN, ACKs, RTT |
//! | `classify` | what a segment did: retransmission, duplicate ACK, probe, RST cause |
//! | `conn` | one connection: both ends' states, the recorded events |
//! | [`table`] | the bounded connection table, listening ports, counts |
//! | [`report`] | per-connection and per-port summaries, text and JSON |
//!
//! ```
//! use synack_capture::{explain_bytes, Config};
//! // An empty pcap file (global header only): no connection, no error.
//! let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
//! pcap.extend_from_slice(&[0; 8]);
//! pcap.extend_from_slice(&65535u32.to_le_bytes());
//! pcap.extend_from_slice(&101u32.to_le_bytes());
//! let run = explain_bytes(&pcap, Config::default()).unwrap();
//! assert_eq!(run.totals.frames, 0);
//! assert!(run.connections.is_empty());
//! ```
#![forbid(unsafe_code)]

mod classify;
mod conn;
pub mod decode;
mod error;
mod flow;
pub mod reader;
pub mod report;
pub mod table;

pub use error::CaptureError;
pub use flow::RttStats;
pub use reader::{read_frames, Format, Frame, ReadStats};
pub use report::{
    capture_point_text, listener_json, listeners_text, summary_json, summary_text, totals_json,
    totals_text, ConnSummary, ListenerSummary, Totals,
};
pub use table::{Config, Explainer, Finished, Record, Trace};

use std::io::Read;

/// Everything a capture gave, kept in memory (for tests and small files;
/// the CLI streams with [`Explainer`] instead).
#[derive(Debug, Clone)]
pub struct Run {
    /// Every connection, in the order they finished.
    pub connections: Vec<Finished>,
    /// The listening ports.
    pub listeners: Vec<ListenerSummary>,
    /// The counts.
    pub totals: Totals,
    /// The error that stopped the reading, if any (what came before it is above).
    pub error: Option<CaptureError>,
}

/// Explain a whole capture from a reader, streaming each finished
/// connection to `out`; the listening ports and counts at the end.
pub fn explain_stream<R: Read>(
    input: R,
    cfg: Config,
    out: &mut dyn FnMut(Finished),
) -> (Vec<ListenerSummary>, Totals, Option<CaptureError>) {
    let mut ex = Explainer::new(cfg);
    let res = read_frames(input, |f| ex.frame(f, out));
    let (ls, mut totals) = ex.finish(out);
    match res {
        Ok(stats) => {
            totals.reader = stats;
            (ls, totals, None)
        }
        Err(e) => (ls, totals, Some(e)),
    }
}

/// Explain a capture held in memory.
pub fn explain_bytes(bytes: &[u8], cfg: Config) -> Result<Run, CaptureError> {
    let mut connections = Vec::new();
    let (listeners, totals, error) = explain_stream(bytes, cfg, &mut |f| connections.push(f));
    if totals.frames == 0 {
        if let Some(e) = error {
            return Err(e);
        }
    }
    Ok(Run {
        connections,
        listeners,
        totals,
        error,
    })
}
