//! Tables derived from the events: each side's connections and each
//! listener's SYN-flood counters.
//!
//! [`conns`] derives the connection rows, [`listeners`] the listener
//! counters, and [`table`] writes both as text for the ladder's summary.

mod conns;
mod listeners;
mod table;

pub use conns::{connection_summaries, ConnSummary};
pub use listeners::{listener_stats, ListenerStats, ListenerView};
pub(crate) use table::{conn_table, listener_text, listener_view_text, width};
