//! Loss recovery: the SACK scoreboard of RFC 6675.

pub(crate) mod scoreboard;
