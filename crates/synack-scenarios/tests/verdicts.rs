//! Honest verdicts: every scenario under random loss, duplication,
//! reordering, corruption and delay breaks no RFC rule; and a deliberately
//! broken stack (each [`Mutation`]) is caught as a violation.
//!
//! `SYNACK_VERDICT_SEEDS=N` runs N seeds per scenario instead of the CI
//! number (a soak); `SYNACK_MUTATION=name` runs only that mutation.

use synack_proto::Duration;
use synack_scenarios::{
    demo, CheckKind, Mutation, Options, Outcome, ScenarioError, ScenarioInfo, Verdict, SCENARIOS,
};
use synack_sim::Rng;

/// Seeds per scenario in CI: enough to meet every kind of fault on every
/// scenario, short enough for the test command.
const CI_SEEDS: u64 = 1000;

fn seeds() -> u64 {
    std::env::var("SYNACK_VERDICT_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_SEEDS)
}

/// Random faults for one seed: loss up to 10 %, duplication, reordering and
/// corruption up to 3 %, a one-way delay of 1 to 80 ms, jitter up to 20 ms.
fn faulty(seed: u64) -> Options {
    let mut rng = Rng::stream(seed, 0xfa17);
    let p = |rng: &mut Rng, max: u64| rng.below(max + 1) as f64 / 1000.0;
    Options {
        seed,
        loss: p(&mut rng, 100),
        duplicate: p(&mut rng, 30),
        reorder: p(&mut rng, 30),
        corrupt: p(&mut rng, 30),
        delay: Duration::from_millis(1 + rng.below(80)),
        jitter: Duration::from_millis(rng.below(21)),
        ..Options::default()
    }
}

/// How a scenario is run.
type Run = fn(&Options) -> Result<Outcome, ScenarioError>;

/// Every scenario and the demo.
fn all() -> Vec<(&'static str, Run)> {
    let mut v: Vec<(&str, Run)> = SCENARIOS
        .iter()
        .map(|s: &ScenarioInfo| (s.name, s.run))
        .collect();
    v.push(("demo", demo));
    v
}

/// The run's outcome, whatever its verdict; other errors fail the test.
fn outcome(what: &str, run: Result<Outcome, ScenarioError>) -> Outcome {
    match run {
        Ok(o) => o,
        Err(ScenarioError::Misbehaved(o)) => *o,
        Err(e) => panic!("{what}: {e}"),
    }
}

#[test]
fn no_fault_makes_the_stack_break_a_rule() {
    let mut counts = [0usize; 4];
    let total = seeds();
    for (name, run) in all() {
        // A soak says how far it has got (seen with `-- --nocapture`).
        if total > CI_SEEDS {
            eprintln!("{name}: seeds 1-{total}");
        }
        for seed in 1..=total {
            let opts = faulty(seed);
            let what = format!("{name} with {opts:?}");
            let o = outcome(&what, run(&opts));
            assert!(
                o.rule_checks.iter().all(|c| c.kind == CheckKind::Rule)
                    && !o.rule_checks.is_empty(),
                "{what}: no rule checked"
            );
            let broken: Vec<&str> = o.violations().map(|c| c.what.as_str()).collect();
            assert!(broken.is_empty(), "{what}: {}", broken.join("; "));
            counts[match o.verdict {
                Verdict::AsExpected => 0,
                Verdict::LegalPath { differed: 0 } => 1,
                Verdict::LegalPath { .. } => 2,
                Verdict::Incomplete { .. } => 3,
                Verdict::Violation => unreachable!("no violation was found above"),
            }] += 1;
        }
    }
    // The faults did make runs take other paths and leave stories unfinished:
    // the generator is not so mild that it proves nothing.
    assert_eq!(counts[0], 0, "every run had faults");
    assert!(counts[2] > 0 && counts[3] > 0, "verdicts {counts:?}");
}

/// The mutations to try: all, or the one `SYNACK_MUTATION` names.
fn mutations() -> Vec<Mutation> {
    match std::env::var("SYNACK_MUTATION") {
        Ok(m) => Mutation::ALL
            .into_iter()
            .filter(|x| format!("{x:?}").eq_ignore_ascii_case(&m))
            .collect(),
        Err(_) => Mutation::ALL.to_vec(),
    }
}

#[test]
fn a_broken_stack_is_caught_as_a_violation() {
    for mutation in mutations() {
        let mut caught = 0;
        let mut runs = 0;
        for (name, run) in all() {
            // Clean links and faulty ones: a rule holds on both.
            for seed in 1..=4 {
                for opts in [
                    Options {
                        seed,
                        ..Options::default()
                    },
                    Options {
                        loss: 0.2,
                        ..faulty(seed)
                    },
                ] {
                    let opts = Options {
                        mutation: Some(mutation),
                        ..opts
                    };
                    let what = format!("{name} under {mutation:?} with {opts:?}");
                    let o = outcome(&what, run(&opts));
                    runs += 1;
                    if o.verdict.is_violation() {
                        assert!(
                            o.violations().any(|c| c.kind == CheckKind::Rule),
                            "{what}: caught, but not by a rule"
                        );
                        caught += 1;
                    }
                }
            }
        }
        // Every mutation shows in some runs (a run that never backs off
        // twice cannot show a missing backoff); what each rule catches is
        // pinned below.
        assert!(caught > 0, "{mutation:?} was caught in none of {runs} runs");
        eprintln!("{mutation:?}: caught in {caught} of {runs} runs");
    }
}

#[test]
fn each_mutation_is_caught_by_its_rule() {
    // The clean demo: one connection through every state of a normal life.
    let rules = [
        (Mutation::ShortTimeWait, "RFC 9293 3.10.8"),
        (Mutation::SkipTimeWait, "RFC 9293 3.3.2"),
        (Mutation::RepeatByte, "read the bytes in the order"),
    ];
    for (mutation, rule) in rules {
        let opts = Options {
            mutation: Some(mutation),
            ..Options::default()
        };
        let o = outcome("demo", demo(&opts));
        assert!(o.verdict.is_violation(), "{mutation:?} not caught");
        assert!(
            o.violations().any(|c| c.what.contains(rule)),
            "{mutation:?}: {:?}",
            o.violations().collect::<Vec<_>>()
        );
    }
    // Without backoff, a SYN lost three times is resent every second.
    let lost = synack_scenarios::find("lost-syn").expect("in the catalog");
    let opts = Options {
        mutation: Some(Mutation::NoBackoff),
        drops: vec!["client:*:SYN@0-2500ms".into()],
        ..Options::default()
    };
    let o = outcome("lost-syn", (lost.run)(&opts));
    assert!(
        o.violations().any(|c| c.what.contains("RFC 6298 5.5")),
        "{:?}",
        o.violations().collect::<Vec<_>>()
    );
    // The same drops on the stack as built: another legal path.
    let o = outcome(
        "lost-syn",
        (lost.run)(&Options {
            mutation: None,
            ..opts
        }),
    );
    assert!(
        matches!(o.verdict, Verdict::LegalPath { .. }),
        "{:?}",
        o.verdict
    );
}

#[test]
fn a_story_the_faults_prevent_is_incomplete_not_a_violation() {
    let cases = [
        // Every SYN lost: the client gives up, nothing opens.
        (
            "handshake",
            "client:*:SYN",
            "accept() returned the connection",
        ),
        (
            "refused",
            "client:*:SYN",
            "connect failed with \"connection refused\"",
        ),
        // The abort's RST lost: RFC 9293 never resends a RST.
        ("abort", "client:1:RST", "the server's next call failed"),
    ];
    for (name, drop, unmet) in cases {
        let s = synack_scenarios::find(name).expect("in the catalog");
        let opts = Options {
            drops: vec![drop.into()],
            ..Options::default()
        };
        let o = outcome(name, (s.run)(&opts));
        let broken: Vec<&str> = o.violations().map(|c| c.what.as_str()).collect();
        assert!(broken.is_empty(), "{name} with {drop}: {broken:?}");
        match &o.verdict {
            Verdict::Incomplete { unmet: u } => {
                assert!(u.iter().any(|x| x.starts_with(unmet)), "{name}: {u:?}")
            }
            v => panic!("{name} with {drop}: {v:?}"),
        }
    }
}
