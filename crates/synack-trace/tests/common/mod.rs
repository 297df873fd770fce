//! Shared by the test files: snapshot comparison.

use std::path::PathBuf;

/// Compare `actual` with `tests/snapshots/<name>`; with `SYNACK_BLESS=1`,
/// rewrite the file instead.
pub(crate) fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("snapshots")
        .join(name);
    if std::env::var("SYNACK_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "snapshot {} is missing: run SYNACK_BLESS=1 cargo test -p synack-trace, then read it",
            path.display()
        )
    });
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
