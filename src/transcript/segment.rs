//! A segment of a transcript version: a stretch of the audio and what was said in it. The
//! editor works on these, versions are saved from them, exports render them and imports
//! produce them; the storage layer reads and writes them.

use serde::{Deserialize, Serialize};

/// One segment. Its index in a version is its position in the version's (time-ordered) list.
/// Its words (`words_json`, see [`super::words`]) follow edits of its text and timing: an
/// edit aligns them again, and what it cannot place stays untimed.
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

    /// Forgets what the model said about this segment's text and timing as a whole (its
    /// no-speech and log-probabilities) after an edit changed them. Its words are kept and
    /// aligned with the new text and bounds.
    pub fn forget_model_output(&mut self) {
        self.no_speech = None;
        self.avg_logprob = None;
        let mut words = self.words();
        super::words::clip(&mut words, self.start_ms, self.end_ms);
        self.set_words(&words);
    }

    /// Its words, one per whitespace-separated word of its text (aligned again when the text
    /// changed since they were stored); none when it has no word times.
    pub fn words(&self) -> Vec<super::words::Word> {
        let words = super::words::parse(self.words_json.as_deref());
        if words.is_empty() {
            return words;
        }
        let tokens = super::words::tokens(&self.text);
        let same = tokens.len() == words.len()
            && tokens.iter().zip(&words).all(|((_, t), w)| *t == w.text);
        if same {
            words
        } else {
            super::words::realign(&words, &self.text)
        }
    }

    pub fn set_words(&mut self, words: &[super::words::Word]) {
        self.words_json = super::words::to_json(words);
    }
}
