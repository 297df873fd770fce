//! Arbitrary bytes into `parse_packet` and `parse_icmp_packet` with both
//! checksum modes: parsing never panics, and whatever parses re-emits to a
//! packet that parses back to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack_wire::{emit_icmp_packet, emit_packet, parse_icmp_packet, parse_packet, ChecksumMode};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    for mode in [ChecksumMode::Verify, ChecksumMode::Ignore] {
        let Ok((ip, tcp)) = parse_packet(data, mode) else {
            continue;
        };
        // Re-emitted options can take up to 4 bytes more than a tightly
        // packed original (NOP padding); a segment that no longer fits in
        // the IP length field cannot be emitted and is skipped.
        if tcp.buffer_len() > ip.max_payload_len() {
            continue;
        }
        emit_packet(&ip, &tcp, &mut out);
        let (ip2, tcp2) = match parse_packet(&out, ChecksumMode::Verify) {
            Ok(r) => r,
            Err(e) => panic!("re-emitted packet rejected: {e:?}"),
        };
        assert_eq!(ip2, ip);
        // Unknown options are not re-emitted and SACK blocks that do not
        // fit are dropped: compare against what emit promises.
        let mut expected = tcp;
        expected.options = tcp.options.normalized();
        assert_eq!(tcp2, expected);
        // A second round is byte-for-byte stable.
        let mut again = Vec::new();
        emit_packet(&ip2, &tcp2, &mut again);
        assert_eq!(again, out);
    }
    for mode in [ChecksumMode::Verify, ChecksumMode::Ignore] {
        let Ok((ip, icmp)) = parse_icmp_packet(data, mode) else {
            continue;
        };
        let _ = icmp.quoted_tcp();
        if let Err(e) = emit_icmp_packet(&ip, &icmp, &mut out) {
            panic!("parsed ICMP packet not re-emitted: {e:?}");
        }
        let (ip2, icmp2) = match parse_icmp_packet(&out, ChecksumMode::Verify) {
            Ok(r) => r,
            Err(e) => panic!("re-emitted ICMP packet rejected: {e:?}"),
        };
        assert_eq!(ip2, ip);
        assert_eq!(icmp2, icmp);
    }
});
