//! A classic pcap capture (LINKTYPE_RAW) of the packets on the device, with
//! wall-clock timestamps, readable by tcpdump and Wireshark.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

const MAGIC: u32 = 0xa1b2_c3d4;
const LINKTYPE_RAW: u32 = 101;
const SNAPLEN: u32 = 65_535;

/// Writes packets as pcap records; stops quietly after the first write error.
pub(crate) struct PcapWriter {
    out: Option<Box<dyn Write + Send>>,
}

impl PcapWriter {
    pub(crate) fn new(mut out: Box<dyn Write + Send>) -> io::Result<PcapWriter> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&MAGIC.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out: Some(out) })
    }

    pub(crate) fn record(&mut self, packet: &[u8]) {
        let Some(out) = self.out.as_mut() else { return };
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let orig = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let cap = orig.min(SNAPLEN);
        let mut rec = Vec::with_capacity(16 + cap as usize);
        rec.extend_from_slice(&(t.as_secs() as u32).to_le_bytes());
        rec.extend_from_slice(&t.subsec_micros().to_le_bytes());
        rec.extend_from_slice(&cap.to_le_bytes());
        rec.extend_from_slice(&orig.to_le_bytes());
        rec.extend_from_slice(packet.get(..cap as usize).unwrap_or(packet));
        if out.write_all(&rec).is_err() {
            self.out = None;
        }
    }

    pub(crate) fn flush(&mut self) {
        if let Some(out) = self.out.as_mut() {
            let _ = out.flush();
        }
    }
}
