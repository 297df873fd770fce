//! Every scenario's own checks hold for many seeds with default options.

use synack_scenarios::{find, names, Options, ScenarioError, SCENARIOS};

#[test]
fn catalog_matches_scenarios_md() {
    let expected = [
        "handshake",
        "teardown",
        "server-closes-first",
        "three-segment-close",
        "half-close",
        "simultaneous-close",
        "simultaneous-open",
        "lost-final-ack",
        "lost-syn",
        "lost-syn-ack",
        "lost-third-ack",
        "old-duplicate-syn",
        "refused",
        "abort",
        "keepalive",
        "syn-flood",
        "peer-reboot",
        "bulk-transfer",
        "ecn",
        "path-mtu",
        "zero-window",
    ];
    assert_eq!(names(), expected);
    for s in SCENARIOS {
        assert!(!s.description.is_empty() && !s.description.contains('\n'));
    }
    assert!(find("nope").is_none());
}

#[test]
fn every_scenario_passes_its_checks_for_seeds_1_to_20() {
    for s in SCENARIOS {
        for seed in 1..=20 {
            let opts = Options {
                seed,
                ..Options::default()
            };
            let outcome = match (s.run)(&opts) {
                Ok(o) => o,
                Err(ScenarioError::Misbehaved(o)) => *o,
                Err(e) => panic!("{} seed {seed}: {e}", s.name),
            };
            assert!(!outcome.checks.is_empty(), "{} has no checks", s.name);
            for c in &outcome.checks {
                assert!(
                    c.passed,
                    "{} seed {seed}: check {:?} failed",
                    s.name, c.what
                );
            }
        }
    }
}

#[test]
fn the_demo_passes_its_checks_for_seeds_1_to_20() {
    for seed in 1..=20 {
        let o = synack_scenarios::demo(&Options {
            seed,
            ..Options::default()
        })
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(o.checks.iter().all(|c| c.passed));
    }
}

#[test]
fn faulty_links_still_deliver_every_byte() {
    for seed in 1..=10 {
        let opts = Options {
            seed,
            loss: 0.1,
            duplicate: 0.05,
            reorder: 0.05,
            ..Options::default()
        };
        for name in ["bulk-transfer", "half-close"] {
            let s = find(name).expect("in the catalog");
            match (s.run)(&opts) {
                Ok(_) => {}
                Err(e) => panic!("{name} seed {seed}: {e}"),
            }
        }
        synack_scenarios::demo(&opts).unwrap_or_else(|e| panic!("demo seed {seed}: {e}"));
    }
}

#[test]
fn bad_options_are_typed_errors() {
    let bad = Options {
        loss: 1.5,
        ..Options::default()
    };
    assert!(matches!(
        synack_scenarios::demo(&bad),
        Err(ScenarioError::BadOption {
            option: "--loss",
            ..
        })
    ));
    let bad = Options {
        drops: vec!["mallory:1:SYN".into()],
        ..Options::default()
    };
    let e = synack_scenarios::demo(&bad).expect_err("unknown host");
    assert!(matches!(e, ScenarioError::BadDrop { .. }));
    assert!(e.to_string().contains("client, server"), "{e}");
}

#[test]
fn a_user_drop_replaces_the_scenario_drop() {
    // lost-syn with the SYN,ACK dropped instead: still completes.
    let opts = Options {
        drops: vec!["server:1:SYN,ACK".into()],
        ..Options::default()
    };
    let o = (find("lost-syn").expect("in the catalog").run)(&opts).expect("behaves");
    assert!(o.checks.iter().all(|c| c.passed));
}
