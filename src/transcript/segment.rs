//! A segment of a transcript version: a stretch of the audio and what was said in it. The
//! editor works on these, versions are saved from them, exports render them and imports
//! produce them; the storage layer reads and writes them.

use serde::{Deserialize, Serialize};

/// One segment. Its index in a version is its position in the version's (time-ordered) list.
/// Word timings (`words_json`, as the model gave them) are cleared when an edit changes the
/// text or the timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub confidence: Option<f32>,
    pub words_json: Option<String>,
    pub speaker: Option<String>,
    /// whisper's probability that the segment's window held no speech (model output only).
    #[serde(default)]
    pub no_speech: Option<f32>,
    /// The mean log-probability of its text tokens (model output only).
    #[serde(default)]
    pub avg_logprob: Option<f32>,
}

impl Segment {
    pub fn new(start_ms: u64, end_ms: u64, text: impl Into<String>) -> Self {
        Self {
            start_ms,
            end_ms,
            text: text.into(),
            confidence: None,
            words_json: None,
            speaker: None,
            no_speech: None,
            avg_logprob: None,
        }
    }

    /// Forgets what the model said about this segment's text and timing (its words, its
    /// no-speech and log-probabilities) after an edit changed them.
    pub fn forget_model_output(&mut self) {
        self.words_json = None;
        self.no_speech = None;
        self.avg_logprob = None;
    }
}
