//! Shared by the test files: snapshot comparison.
//!
//! With `SYNACK_BLESS=1` a snapshot that differs (or is missing) is written
//! and the test still FAILS, naming it: a blessing run never passes on what
//! it just wrote, so a leaked variable cannot make the comparisons vacuous.
//! Rerun without the variable to see them pass. Under CI (`CI` set) blessing
//! is refused outright.

use std::path::PathBuf;

/// Compare `actual` with `tests/snapshots/<name>`; with `SYNACK_BLESS=1`,
/// rewrite the file when it differs and fail, saying so.
pub(crate) fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("snapshots")
        .join(name);
    let expected = std::fs::read_to_string(&path).ok();
    if std::env::var("SYNACK_BLESS").is_ok_and(|v| v == "1") {
        assert!(
            std::env::var_os("CI").is_none(),
            "SYNACK_BLESS=1 under CI: snapshots are never rewritten in CI (unset SYNACK_BLESS)"
        );
        if expected.as_deref() == Some(actual) {
            return;
        }
        std::fs::write(&path, actual).expect("write snapshot");
        panic!(
            "blessed {name}: rerun without SYNACK_BLESS (and review the diff of {})",
            path.display()
        );
    }
    let Some(expected) = expected else {
        panic!(
            "snapshot {} is missing: run SYNACK_BLESS=1 cargo test -p synack-trace, then read it",
            path.display()
        )
    };
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its snapshot at line {}:\nexpected: {:?}\nactual:   {:?}\n(run SYNACK_BLESS=1 cargo test -p synack-trace to accept, then review the diff)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}
