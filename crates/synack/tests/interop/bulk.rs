//! Bulk transfers both ways, the bytes compared by SHA-256.

use super::*;
use synack::ConnStatus;

// ----- (3) bulk ------------------------------------------------------------------

/// Kernel to synack: a Python source sends `size` random bytes to a synack
/// listener; both SHA-256 digests and the count must agree. How long it took.
pub(super) fn kernel_to_synack(lab: &Lab, size: usize, secs: u32) -> Duration {
    let l = TcpListener::bind(&lab.rt, sa(S, 5001)).expect("bind");
    let rx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut h = Sha256::new();
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let k = s.read(&mut buf).expect("read");
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            n += k;
        }
        (n, hex(&h.finalize()))
    });
    let t = Instant::now();
    let out = lab.py(PY_SOURCE, &["10.77.0.2", "5001", &size.to_string()], secs);
    let took = t.elapsed();
    let (n, sha) = rx.join().expect("receiver");
    assert_eq!(
        out,
        format!("{n} {sha}"),
        "kernel->synack bytes or SHA-256 differ"
    );
    assert_eq!(n, size);
    took
}

/// Synack to kernel: synack sends `size` bytes of a pattern and its FIN to a
/// Python sink, which must read exactly them. How long it took, and the
/// status of synack's sending connection once the sink has read everything.
pub(super) fn synack_to_kernel(lab: &Lab, size: usize, secs: u32) -> (Duration, ConnStatus) {
    let l = TcpListener::bind(&lab.rt, sa(S, 5002)).expect("bind");
    let data = pattern(size, 77);
    let sha = hex(&Sha256::digest(&data));
    let tx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.write_all(&data).expect("write");
        s.shutdown(Shutdown::Write).expect("shutdown");
        s
    });
    let t = Instant::now();
    let out = lab.py(PY_SINK, &["10.77.0.2", "5002"], secs);
    let took = t.elapsed();
    let s = tx.join().expect("sender");
    assert_eq!(
        out,
        format!("{size} {sha}"),
        "synack->kernel bytes or SHA-256 differ"
    );
    (took, s.status().expect("status of the sender"))
}

/// Print the throughput of both directions (never asserted: speed is the
/// benchmark's business).
pub(super) fn report(what: &str, size: usize, up: Duration, down: Duration) {
    let mib = size as f64 / (1 << 20) as f64;
    eprintln!(
        "{what} {mib} MiB: kernel->synack {:.1} MiB/s, synack->kernel {:.1} MiB/s",
        mib / up.as_secs_f64(),
        mib / down.as_secs_f64()
    );
}

#[test]
fn bulk_64_mib_each_way_sha256_equal() {
    let Some(lab) = lab() else { return };
    let size = 64 << 20;
    let up = kernel_to_synack(&lab, size, 240);
    let (down, _) = synack_to_kernel(&lab, size, 240);
    report("bulk", size, up, down);
}
