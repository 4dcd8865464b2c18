#![no_main]
//! Fuzzes what `verbatim import` does with a file's bytes: probe and full decode, behind
//! `catch_unwind` and the size/duration caps. A crash here (abort, huge allocation, hang) would
//! take the app down; a panic inside symphonia is caught and must come back as an error.

#[path = "../../../src/media/mod.rs"]
#[allow(dead_code)]
mod media;

use libfuzzer_sys::fuzz_target;

const HINTS: [Option<&str>; 5] = [None, Some("wav"), Some("flac"), Some("mp3"), Some("ogg")];

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let hint = HINTS[usize::from(*first) % HINTS.len()];
    let limits = media::ProbeLimits { max_bytes: 1 << 20, max_seconds: 600, ..Default::default() };
    let _ = media::probe_bytes(rest.to_vec(), hint, &limits);
});
