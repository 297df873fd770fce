//! A packetdrill script parser and runner for the synack core.
