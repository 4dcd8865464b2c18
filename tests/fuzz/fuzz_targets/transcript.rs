#![no_main]
//! Fuzzes the transcript importers (`verbatim import FILE --transcript ID`): SRT, WebVTT and
//! Verbatim JSON, with their time arithmetic and word lists. Every input must come back as
//! segments or an error with a line or segment number: no panic, no overflow, no hang. The
//! importer compiles on its own here (with stand-ins for the two types it uses), so the
//! fuzzer does not build Bevy. Inputs worth keeping belong in corpus/transcript
//! (tests/fuzz_corpus.rs replays them). The first byte picks the format.

// The importer's `super::Segment` and `super::export::Format` are these (crate root).
/// The fields of `transcript::Segment` the importer sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub confidence: Option<f32>,
    pub words_json: Option<String>,
}

impl Segment {
    pub fn new(start_ms: u64, end_ms: u64, text: impl Into<String>) -> Self {
        Self { start_ms, end_ms, text: text.into(), confidence: None, words_json: None }
    }
}

mod export {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[allow(dead_code)]
    pub enum Format {
        Srt,
        Vtt,
        Json,
        Txt,
        Csv,
    }
}

#[path = "../../../src/transcript/import.rs"]
#[allow(dead_code)]
mod import;

use libfuzzer_sys::fuzz_target;
use export::Format;

const FORMATS: [Format; 3] = [Format::Srt, Format::Vtt, Format::Json];

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let format = FORMATS[usize::from(*first) % FORMATS.len()];
    let text = String::from_utf8_lossy(rest);
    if let Ok(segs) = import::parse(format, &text) {
        for s in &segs {
            assert!(s.start_ms <= s.end_ms, "{s:?}");
            assert!(s.end_ms <= import::MAX_TIME_MS, "{s:?}");
        }
    }
});
