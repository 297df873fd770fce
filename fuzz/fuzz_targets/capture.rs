//! Arbitrary bytes as a capture file into `synack_capture`: the pcap and
//! pcapng reader, the link and IP decoding and the connection inference
//! never panic, whatever the input; the counts stay consistent; and the
//! views render whatever connections came out. The input is read twice,
//! whole and through a reader that returns one byte at a time (a pipe),
//! and both readings must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Read;
use synack_capture::{explain_bytes, explain_stream, Config};

/// A reader that hands out at most one byte per call.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = Config {
        max_conns: 8,
        max_events: 64,
        ..Config::default()
    };
    let whole = explain_bytes(data, cfg);
    let mut n = 0;
    let (_, totals, _) = explain_stream(Trickle(data), cfg, &mut |_| n += 1);
    if let Ok(run) = whole {
        assert_eq!(run.totals.frames, totals.frames);
        assert_eq!(run.connections.len(), n);
        assert!(run.totals.tcp_segments <= run.totals.frames);
        for f in &run.connections {
            if let Some(tr) = &f.trace {
                let _ = synack_trace::render_text(&tr.entries, &tr.hosts(), &Default::default());
            }
        }
    }
});
