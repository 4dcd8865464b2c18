//! `make run` after `make test` reuses the test build: every crate the app builds has the
//! same features in the test build. Cargo unifies a crate's features over the dependencies
//! a build needs, so a dev-dependency that turns on one more feature of a crate the app uses
//! (proptest turned on rand's `sys_rng`, under bevy_math; the glyph test named skrifa's
//! `default`, under egui) made the app build compile the bevy/egui stack a second time
//! (7 min 10 s on a 2-core machine from a fresh clone). The fix is in `Cargo.toml`; this
//! test keeps it: it compares `cargo tree`'s feature sets of the two builds.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::process::Command;

/// `cargo tree` of this package over the given edge kinds: one line per crate with its
/// features.
fn crates(edges: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--prefix", "none", "-e", edges])
        .args(["-f", "{p} [{f}]"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_end_matches(" (*)").to_string())
        .collect()
}

#[test]
fn the_app_build_is_the_test_build() {
    let app = crates("normal,build");
    let tests = crates("normal,build,dev");
    assert!(
        app.len() > 100,
        "{} crates: is cargo tree's output read?",
        app.len()
    );
    let differ: Vec<&String> = app.difference(&tests).collect();
    assert!(
        differ.is_empty(),
        "crates the app builds with other features than the tests do (each is built twice, \
         with everything above it): {differ:#?}"
    );
}
