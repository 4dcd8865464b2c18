//! Replays the import fuzzer's corpus (`tests/fuzz/corpus/import`) through the same code the
//! fuzz target runs: every input must come back as a result, never a crash or a hang.
//! Input format (as in `tests/fuzz/fuzz_targets/import.rs`): the first byte picks the
//! extension hint, the rest is the file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;

use verbatim::media::{ProbeLimits, probe_bytes};

const HINTS: [Option<&str>; 5] = [None, Some("wav"), Some("flac"), Some("mp3"), Some("ogg")];

#[test]
fn every_corpus_input_is_handled() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus/import");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 15,
        "the corpus lost its seeds: {} files",
        entries.len()
    );
    let limits = ProbeLimits {
        max_bytes: 1 << 20,
        max_seconds: 600,
        ..Default::default()
    };
    let mut ok = Vec::new();
    for path in &entries {
        let data = std::fs::read(path).unwrap();
        let Some((first, rest)) = data.split_first() else {
            continue;
        };
        let hint = HINTS[usize::from(*first) % HINTS.len()];
        // The hint must not matter for what is accepted: try it and no hint at all.
        let with_hint = probe_bytes(rest.to_vec(), hint, &limits);
        let without = probe_bytes(rest.to_vec(), None, &limits);
        assert_eq!(
            with_hint.is_ok(),
            without.is_ok(),
            "{}: {with_hint:?} vs {without:?}",
            path.display()
        );
        if with_hint.is_ok() {
            ok.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    // The intact seeds decode; the damaged ones do not.
    for good in [
        "jfk-1s-flac",
        "jfk-1s-mp3",
        "jfk-1s-ogg",
        "tone-stereo-44k-ogg",
        "wav-s16-8k",
    ] {
        assert!(
            ok.iter().any(|n| n == good),
            "{good} should decode; decoded: {ok:?}"
        );
    }
    for bad in [
        "wav-truncated",
        "wav-header-only",
        "id3-only",
        "xing-zero-frames",
        "jfk-1s-flac-cut",
        // Found by `make fuzz`: symphonia panics on a 65,535-channel fmt chunk; caught.
        "crash-riff-65535-channels-panic",
    ] {
        assert!(!ok.iter().any(|n| n == bad), "{bad} should be refused");
    }
}
