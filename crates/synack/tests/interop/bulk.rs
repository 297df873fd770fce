//! Bulk transfers both ways, on a clean link and under faults.

use super::*;

// ----- (3) bulk ------------------------------------------------------------------

fn bulk_both_ways(lab: &Lab, size: usize, secs: u32) {
    // Kernel to synack.
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
    let up = t.elapsed();
    let (n, sha) = rx.join().expect("receiver");
    assert_eq!(
        out,
        format!("{n} {sha}"),
        "kernel->synack bytes or SHA-256 differ"
    );
    assert_eq!(n, size);

    // Synack to kernel.
    let l = TcpListener::bind(&lab.rt, sa(S, 5002)).expect("bind");
    let data = pattern(size, 77);
    let sha = hex(&Sha256::digest(&data));
    let tx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.write_all(&data).expect("write");
    });
    let t = Instant::now();
    let out = lab.py(PY_SINK, &["10.77.0.2", "5002"], secs);
    let down = t.elapsed();
    tx.join().expect("sender");
    assert_eq!(
        out,
        format!("{size} {sha}"),
        "synack->kernel bytes or SHA-256 differ"
    );
    let mib = size as f64 / (1 << 20) as f64;
    eprintln!(
        "bulk {mib} MiB: kernel->synack {:.1} MiB/s, synack->kernel {:.1} MiB/s",
        mib / up.as_secs_f64(),
        mib / down.as_secs_f64()
    );
}

#[test]
fn bulk_64_mib_each_way_sha256_equal() {
    let Some(lab) = lab() else { return };
    bulk_both_ways(&lab, 64 << 20, 240);
}

/// netem on the TUN device when the kernel has it (`sch_netem`); otherwise
/// the same faults applied by synack's runtime on both directions of the link.
#[test]
fn bulk_under_loss_delay_duplication_reordering() {
    // Without `tc` this would silently become another test.
    if let Some(why) = cannot_run(&["tc"]) {
        cannot_set_up(&why);
        return;
    }
    let probe = Netns::create_unique().ok();
    let netem = probe.as_ref().is_some_and(|ns| {
        ns.run(
            "tc",
            &["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
        )
        .is_ok()
    });
    drop(probe);
    let impair = Impairment {
        loss: 0.02,
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        duplicate: 0.01,
        reorder: 0.05,
        seed: 42,
    };
    let Some(lab) = lab_with(|c| {
        if !netem {
            c.impairment = Some(impair);
        }
    }) else {
        return;
    };
    if netem {
        lab.ns
            .run(
                "tc",
                &[
                    "qdisc",
                    "add",
                    "dev",
                    &lab.dev,
                    "root",
                    "netem",
                    "loss",
                    "2%",
                    "delay",
                    "10ms",
                    "5ms",
                    "duplicate",
                    "1%",
                    "reorder",
                    "5%",
                ],
            )
            .expect("netem");
    } else {
        eprintln!("note: this kernel has no netem qdisc; synack's runtime applies the same faults to both directions");
    }
    // 4 MiB each way keeps the run short at a 20-30 ms RTT with 2 % loss.
    bulk_both_ways(&lab, 4 << 20, 120);
}
