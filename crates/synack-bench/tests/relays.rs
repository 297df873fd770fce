//! The relay memory figure as a test: a proxy stack holding idle relays
//! (any-destination listener, both legs on synack) stays within its 2 KiB
//! budget per relay. Heap bytes are counted by the benchmark's allocator,
//! so this checks memory, not timing. (The full figure holds 100,000
//! relays: `synack-bench --only relays`.)

use std::process::Command;

#[test]
fn an_idle_relay_costs_the_proxy_at_most_two_kib() {
    let out = Command::new(env!("CARGO_BIN_EXE_synack-bench"))
        .args(["--only", "relays", "--quick", "--json"])
        .output()
        .expect("run synack-bench");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "synack-bench failed: {text}");
    let row = text
        .lines()
        .find(|l| l.contains("\"key\":\"idle_relay_bytes\""))
        .unwrap_or_else(|| panic!("no relay row in: {text}"));
    let median: f64 = row
        .split("\"synack\":{\"median\":")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no synack median in: {row}"));
    // Two connection ends and a table entry: far more than nothing, at
    // most 2 KiB.
    assert!(
        (512.0..=2048.0).contains(&median),
        "{median} B per idle relay"
    );
    assert!(row.contains("\"met\":true"), "{row}");
    assert!(row.contains("10000 idle relays"), "{row}");
}
