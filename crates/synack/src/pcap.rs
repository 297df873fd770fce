//! The live capture of [`crate::RuntimeConfig::pcap`]: every packet in and
//! out of the device, with wall-clock timestamps, in the pcap format of
//! [`synack_trace::PcapWriter`] (readable by tcpdump and Wireshark).

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Records packets as they pass; stops quietly after the first write error
/// so a full disk never stalls the driver.
pub(crate) struct PcapWriter {
    out: Option<synack_trace::PcapWriter<Box<dyn Write + Send>>>,
}

impl PcapWriter {
    /// Write the pcap header to `out`.
    pub(crate) fn new(out: Box<dyn Write + Send>) -> io::Result<PcapWriter> {
        Ok(PcapWriter {
            out: Some(synack_trace::PcapWriter::new(out)?),
        })
    }

    pub(crate) fn record(&mut self, packet: &[u8]) {
        let Some(out) = self.out.as_mut() else { return };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if out.write_packet(now, packet).is_err() {
            self.out = None;
        }
    }

    pub(crate) fn flush(&mut self) {
        if let Some(out) = self.out.as_mut() {
            let _ = out.flush();
        }
    }
}
