//! Replays the import fuzzer's corpus (`tests/fuzz/corpus/import`) through the same code the
//! fuzz target runs: every input must come back as a result, never a crash or a hang.
//! Input format (as in `tests/fuzz/fuzz_targets/import.rs`): the first byte picks the
//! extension hint, the rest is the file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::PathBuf;

use verbatim::media::{ProbeLimits, probe_bytes};

const HINTS: [Option<&str>; 5] = [None, Some("wav"), Some("flac"), Some("mp3"), Some("ogg")];

#[test]
fn every_corpus_input_is_handled() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus/import");
    let entries = common::sorted_files(&dir);
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

/// The transcript fuzzer's input: the first byte picks the format (as in
/// `tests/fuzz/fuzz_targets/transcript.rs`).
fn parse_transcript(
    data: &[u8],
) -> Result<Vec<verbatim::transcript::Segment>, verbatim::transcript::import::ImportError> {
    use verbatim::transcript::export::Format;
    const FORMATS: [Format; 3] = [Format::Srt, Format::Vtt, Format::Json];
    let Some((first, rest)) = data.split_first() else {
        return Ok(Vec::new());
    };
    let format = FORMATS[usize::from(*first) % FORMATS.len()];
    verbatim::transcript::import::parse(format, &String::from_utf8_lossy(rest))
}

fn check_segments(name: &str, segs: &[verbatim::transcript::Segment]) {
    use verbatim::transcript::import::MAX_TIME_MS;
    for s in segs {
        assert!(s.start_ms <= s.end_ms, "{name}: {s:?}");
        assert!(s.end_ms <= MAX_TIME_MS, "{name}: {s:?}");
        if let Some(w) = &s.words_json {
            let words: Vec<serde_json::Value> = serde_json::from_str(w).unwrap();
            for word in words {
                // A word is timed (both times, inside its segment) or untimed (neither).
                match (word["start_ms"].as_u64(), word["end_ms"].as_u64()) {
                    (Some(a), Some(b)) => assert!(
                        s.start_ms <= a && a <= b && b <= s.end_ms,
                        "{name}: {word} in {s:?}"
                    ),
                    (None, None) => {
                        assert!(word.get("start_ms").is_none() && word.get("end_ms").is_none())
                    }
                    _ => panic!("{name}: half a time: {word} in {s:?}"),
                }
                assert!(word["text"].is_string(), "{name}: {word}");
            }
        }
    }
}

fn transcript_corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus/transcript");
    common::sorted_files(&dir)
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_transcript_corpus_input_is_handled() {
    let corpus = transcript_corpus();
    assert!(
        corpus.len() >= 20,
        "the corpus lost its seeds: {}",
        corpus.len()
    );
    let mut ok = Vec::new();
    for (name, data) in &corpus {
        if let Ok(segs) = parse_transcript(data) {
            check_segments(name, &segs);
            ok.push(name.clone());
        }
    }
    for good in [
        "srt-good",
        "srt-crlf-bom",
        "vtt-good",
        "json-good",
        "json-words-outside",
    ] {
        assert!(ok.iter().any(|n| n == good), "{good} should parse: {ok:?}");
    }
    for bad in [
        "srt-hour-wrap",
        "srt-u64-max",
        "srt-backwards",
        "srt-no-arrow",
        "srt-minutes-99",
        "vtt-huge-minutes",
        "json-words-bad",
        "json-words-object",
        "json-negative",
        "json-float-time",
        "json-huge-time",
        "json-deep",
        "json-empty",
        "json-not-json",
    ] {
        assert!(!ok.iter().any(|n| n == bad), "{bad} should be refused");
    }
}

/// A seeded mutation fuzz of the transcript importers over the corpus, so CI (without
/// nightly and cargo-fuzz) still throws thousands of hostile inputs at them. Byte flips,
/// insertions of digits and separators, cuts and splices; `VERBATIM_FUZZ_INPUTS` sets the
/// count (default 20,000).
#[test]
fn mutated_transcripts_never_crash() {
    let corpus = transcript_corpus();
    let n = common::env_count("VERBATIM_FUZZ_INPUTS", 20_000);
    let mut rng = common::XorShift(0x9e37_79b9_7f4a_7c15);
    let mut next = move || rng.next();
    const TOKENS: [&[u8]; 12] = [
        b"9999999999999999999",
        b":",
        b",",
        b".",
        b" --> ",
        b"\n\n",
        b"\"start_ms\":",
        b"-1",
        b"1e308",
        b"[",
        b"{\"words\":[{}]}",
        b"\xff\xfe",
    ];
    let mut accepted = 0;
    for i in 0..n {
        let (_, seed) = &corpus[(next() as usize) % corpus.len()];
        let mut data = seed.clone();
        for _ in 0..1 + next() % 4 {
            let at = if data.is_empty() {
                0
            } else {
                (next() as usize) % data.len()
            };
            match next() % 4 {
                0 if !data.is_empty() => data[at] = next() as u8,
                1 => {
                    let t = TOKENS[(next() as usize) % TOKENS.len()];
                    data.splice(at..at, t.iter().copied());
                }
                2 => data.truncate(at.max(1)),
                _ => {
                    let (_, other) = &corpus[(next() as usize) % corpus.len()];
                    let from = (next() as usize) % other.len().max(1);
                    data.extend_from_slice(other.get(from..).unwrap_or_default());
                }
            }
        }
        let result = std::panic::catch_unwind(|| parse_transcript(&data));
        match result {
            Ok(Ok(segs)) => {
                check_segments(&format!("mutation {i}"), &segs);
                accepted += 1;
            }
            Ok(Err(_)) => {}
            Err(_) => panic!(
                "mutation {i} panicked: {:?}",
                String::from_utf8_lossy(&data)
            ),
        }
    }
    eprintln!(
        "{n} mutated transcripts: {accepted} parsed, {} refused, none crashed",
        n - accepted
    );
}
