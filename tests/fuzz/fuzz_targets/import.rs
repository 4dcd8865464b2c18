#![no_main]
//! Fuzzes what `verbatim import` does with a file's bytes: probe and full decode, behind
//! `catch_unwind` and the size/duration caps. A crash here (abort, huge allocation, stack
//! overflow, hang) would take the app down. A panic inside symphonia is caught by the import
//! path and comes back as an error, as in the app: libfuzzer-sys's abort-on-panic hook is
//! replaced by a silent one, so only what escapes `catch_unwind` ends a run. Inputs that made
//! symphonia panic belong in corpus/import (tests/fuzz_corpus.rs replays them).

#[path = "../../../src/media/mod.rs"]
#[allow(dead_code)]
mod media;

use libfuzzer_sys::fuzz_target;

const HINTS: [Option<&str>; 5] = [None, Some("wav"), Some("flac"), Some("mp3"), Some("ogg")];

static QUIET_PANICS: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_PANICS.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Some((first, rest)) = data.split_first() else { return };
    let hint = HINTS[usize::from(*first) % HINTS.len()];
    let limits = media::ProbeLimits { max_bytes: 1 << 20, max_seconds: 600, ..Default::default() };
    let _ = media::probe_bytes(rest.to_vec(), hint, &limits);
});
