//! Every scenario's own checks hold for many seeds with default options.
//!
//! A run that records no check proves nothing, and "every check passed" is
//! true of an empty list: every outcome here goes through [`checked`], which
//! fails on an empty list before it looks at what passed.

use synack_scenarios::{find, names, Options, Outcome, ScenarioError, SCENARIOS};

/// The outcome of the run `what`, after asserting that it recorded at least
/// one check and that every check passed.
fn checked(what: &str, run: Result<Outcome, ScenarioError>) -> Outcome {
    let outcome = match run {
        Ok(o) => o,
        Err(ScenarioError::Misbehaved(o)) => *o,
        Err(e) => panic!("{what}: {e}"),
    };
    assert!(
        !outcome.checks.is_empty(),
        "{what} recorded no checks: an empty list is not a pass"
    );
    for c in &outcome.checks {
        assert!(c.passed, "{what}: check {:?} failed", c.what);
    }
    outcome
}

/// The checks a run recorded, passed or not (the run may misbehave under
/// faults; what matters here is that it checked something).
fn recorded(what: &str, run: Result<Outcome, ScenarioError>) -> usize {
    let outcome = match run {
        Ok(o) => o,
        Err(ScenarioError::Misbehaved(o)) => *o,
        Err(e) => panic!("{what}: {e}"),
    };
    outcome.checks.len()
}

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
        "congestion",
        "bulk-transfer",
        "ecn",
        "path-mtu",
        "fast-open",
        "fast-open-rejected",
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
            checked(&format!("{} seed {seed}", s.name), (s.run)(&opts));
        }
    }
}

#[test]
fn the_demo_passes_its_checks_for_seeds_1_to_20() {
    for seed in 1..=20 {
        let run = synack_scenarios::demo(&Options {
            seed,
            ..Options::default()
        });
        checked(&format!("demo seed {seed}"), run);
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
            checked(&format!("{name} seed {seed}"), (s.run)(&opts));
        }
        checked(&format!("demo seed {seed}"), synack_scenarios::demo(&opts));
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
    let run = (find("lost-syn").expect("in the catalog").run)(&opts);
    checked("lost-syn with the SYN,ACK dropped", run);
}

/// Every scenario and the demo record checks, on a clean link and on a
/// faulty one (where the checks of the textbook path are left out).
#[test]
fn no_run_records_an_empty_list_of_checks() {
    let faulty = Options {
        seed: 5,
        loss: 0.1,
        duplicate: 0.05,
        reorder: 0.05,
        ..Options::default()
    };
    for opts in [Options::default(), faulty] {
        let clean = opts.is_clean();
        for s in SCENARIOS {
            let n = recorded(&format!("{} (clean: {clean})", s.name), (s.run)(&opts));
            assert!(n > 0, "{} (clean: {clean}) recorded no checks", s.name);
        }
        let n = recorded(
            &format!("demo (clean: {clean})"),
            synack_scenarios::demo(&opts),
        );
        assert!(n > 0, "demo (clean: {clean}) recorded no checks");
    }
}
