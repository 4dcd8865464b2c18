//! One take's live transcript: the words committed (for good), the tentative tail, and how a
//! step's hypothesis moves words from one to the other under each commit policy.

use std::time::Instant;

use super::*;

/// The live text of a recording session.
#[derive(Component, Debug, Clone, Default, PartialEq)]
pub struct LiveTranscript {
    /// Committed text, one piece per step that committed words (never rewritten).
    pub committed: Vec<Committed>,
    /// The latest step's unconfirmed words as one piece (replaced at each step).
    pub partial: Vec<Segment>,
    /// The take ended and its last step was committed: the draft is complete.
    pub finished: bool,
    /// Audio up to here (ms into the take) has been transcribed.
    pub covered_ms: u64,
    /// Windows transcribed (and skipped as silence by the VAD: they count too).
    pub steps: u32,
    pub error: Option<String>,
    /// The transcript the draft became (version 1; the whole-take pass is version 2).
    pub transcript: Option<TranscriptId>,
    /// The whole-take job was queued.
    pub final_pass_queued: bool,
    /// Committed pieces already sent to the database.
    pub(super) persisted: usize,
    /// Bookmarked pieces not yet sent to the database.
    pub(super) marks: Vec<usize>,
    pub(super) draft_asked: bool,
    pub(super) running: Option<Running>,
    pub(super) next_end_ms: u64,
    pub(super) agreement: Agreement,
    /// The end of the latest word shown so far (committed or in the tail).
    pub(super) shown_until_ms: u64,
    /// For each word, how long after it ended it was first shown (ms), in order.
    pub(super) shown_lags_ms: Vec<u64>,
    /// The model file the latest step ran (the chosen model's q8_0 copy once it is made).
    pub ran_with: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Running {
    pub(super) job: i64,
    pub(super) start_ms: u64,
    pub(super) end_ms: u64,
    pub(super) started: Instant,
    pub(super) segments: Vec<Segment>,
    /// The step after the take ended.
    pub(super) last: bool,
}

/// A committed piece of live text and when it was committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    pub piece: Segment,
    /// How much of the take had been recorded when it was committed (ms): `at_ms` minus a
    /// word's end is that word's caption lag.
    pub at_ms: u64,
    /// The user marked it while recording.
    pub bookmarked: bool,
}

pub(super) fn join_pieces<'a>(pieces: impl Iterator<Item = &'a Segment>) -> String {
    pieces
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One finished live step.
pub(super) struct Step {
    pub(super) segments: Vec<Segment>,
    pub(super) start_ms: u64,
    pub(super) end_ms: u64,
    pub(super) recorded_ms: u64,
    pub(super) last: bool,
    /// Audio the VAD kept as (possible) speech.
    pub(super) speech_ms: u64,
    /// Where the VAD heard speech, ms into the take (`None`: no VAD ran).
    pub(super) speech_regions: Option<Vec<[u64; 2]>>,
}

impl LiveTranscript {
    /// How far the text is behind the recording, in ms.
    pub fn lag_ms(&self, recorded_ms: u64) -> u64 {
        recorded_ms.saturating_sub(self.covered_ms)
    }

    /// Every committed word, in order.
    pub fn committed_words(&self) -> Vec<&Word> {
        self.committed.iter().flat_map(|c| &c.piece.words).collect()
    }

    /// Every committed word's caption lag (ms), in order.
    pub fn caption_lags_ms(&self) -> Vec<u64> {
        self.committed
            .iter()
            .flat_map(|c| {
                c.piece
                    .words
                    .iter()
                    .map(|w| c.at_ms.saturating_sub(w.end_ms))
            })
            .collect()
    }

    /// Applies one step (the segments of `step`, over `start_ms..end_ms` of the take),
    /// committed at `recorded_ms` of the take.
    pub(super) fn apply(&mut self, step: Step, live: &LiveSettings) {
        let Step {
            segments,
            start_ms,
            end_ms,
            recorded_ms,
            last,
            speech_ms,
            speech_regions,
        } = step;
        let window = live.window.as_millis() as u64;
        let (new, tail) = match live.policy {
            // LocalAgreement-2 is `Pauses` with neither times nor pauses making words final.
            LivePolicy::Pauses | LivePolicy::Agreement => {
                let pauses = live.policy == LivePolicy::Pauses;
                let words: Vec<Word> = segments
                    .iter()
                    .flat_map(|s| s.words.iter().cloned())
                    .filter(|w| w.end_ms > start_ms)
                    .collect();
                let heard = !words.is_empty();
                // Where speech was last heard in the buffer; a pause after it as long as
                // `pause` ends the utterance.
                let spoke_until = speech_regions.as_ref().filter(|_| pauses).map(|r| {
                    r.iter()
                        .filter(|[a, b]| *b > start_ms && *a < end_ms)
                        .map(|[_, b]| (*b).min(end_ms))
                        .max()
                        .unwrap_or(start_ms)
                });
                let ended = spoke_until
                    .is_some_and(|at| end_ms.saturating_sub(at) >= live.pause.as_millis() as u64);
                let stable_until = match () {
                    _ if !pauses => 0,
                    _ if last || ended => u64::MAX,
                    _ => end_ms.saturating_sub(live.stable_after.as_millis() as u64),
                };
                let mut new = self.agreement.insert_stable(words, stable_until);
                if last {
                    new.extend(self.agreement.finish());
                }
                // Nothing heard: the buffer moves on only when the VAD heard nothing either or
                // it is past its length (whisper may give nothing for speech under the prompt,
                // and a failed decode gives nothing: the next step hears it again).
                let silent = speech_ms == 0 || end_ms.saturating_sub(start_ms) > window;
                if !heard && silent && self.agreement.tail().is_empty() {
                    self.agreement.skip_to(end_ms.saturating_sub(MIN_BUFFER_MS));
                } else if heard && ended && self.agreement.tail().is_empty() {
                    // A fresh buffer after the utterance: the next step hears only what
                    // is said after it.
                    let after = self
                        .agreement
                        .committed()
                        .last()
                        .map_or(0, |w| w.end_ms)
                        .max(spoke_until.unwrap_or(0));
                    self.agreement.skip_to(after.min(end_ms));
                }
                self.agreement.trim(end_ms, window);
                (new, self.agreement.tail().to_vec())
            }
            LivePolicy::Stream => {
                // The next window starts here: what ends before it will not be seen again.
                let next_start = (end_ms + live.step.as_millis() as u64).saturating_sub(window);
                let until = self.committed.last().map_or(0, |c| c.piece.end_ms);
                let (mut new, mut tail) = (Vec::new(), Vec::new());
                for s in segments {
                    if s.end_ms <= until || s.start_ms < start_ms {
                        continue;
                    }
                    if s.end_ms <= next_start || last {
                        new.extend(s.words);
                    } else {
                        tail.extend(s.words);
                    }
                }
                (new, tail)
            }
        };
        self.finished |= last;
        for w in new.iter().chain(&tail) {
            if w.end_ms > self.shown_until_ms {
                self.shown_lags_ms
                    .push(recorded_ms.saturating_sub(w.end_ms));
                self.shown_until_ms = w.end_ms;
            }
        }
        if let Some(piece) = Segment::of_words(&new) {
            self.committed.push(Committed {
                piece,
                at_ms: recorded_ms,
                bookmarked: false,
            });
        }
        self.partial = Segment::of_words(&tail).into_iter().collect();
        self.covered_ms = end_ms;
    }

    /// How long after each word ended it was first shown, tentative or committed (ms).
    pub fn shown_lags_ms(&self) -> &[u64] {
        &self.shown_lags_ms
    }

    /// The committed text.
    pub fn committed_text(&self) -> String {
        join_pieces(self.committed.iter().map(|c| &c.piece))
    }

    /// The unconfirmed tail.
    pub fn tail_text(&self) -> String {
        join_pieces(self.partial.iter())
    }

    /// The median caption lag of the last `n` committed words.
    pub fn recent_caption_lag_ms(&self, n: usize) -> Option<u64> {
        let lags = self.caption_lags_ms();
        let mut recent = lags.get(lags.len().saturating_sub(n)..)?.to_vec();
        recent.sort_unstable();
        recent.get(recent.len() / 2).copied()
    }

    /// Marks committed piece `index` (a click on its line); once.
    pub fn bookmark(&mut self, index: usize) -> bool {
        match self.committed.get_mut(index) {
            Some(c) if !c.bookmarked => {
                c.bookmarked = true;
                self.marks.push(index);
                true
            }
            _ => false,
        }
    }

    /// Committed and partial text, in order.
    pub fn text(&self) -> String {
        join_pieces(self.committed.iter().map(|c| &c.piece).chain(&self.partial))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn step(words: &[(&str, u64)], start_ms: u64, end_ms: u64, speech_ms: u64) -> Step {
        let words: Vec<Word> = words
            .iter()
            .map(|&(text, at)| Word {
                start_ms: at,
                end_ms: at + 400,
                text: text.into(),
                p: 0.9,
            })
            .collect();
        Step {
            segments: Segment::of_words(&words).into_iter().collect(),
            start_ms,
            end_ms,
            recorded_ms: end_ms + 250,
            last: false,
            speech_ms,
            speech_regions: None,
        }
    }

    /// A step of the `Pauses` policy: `words` at (text, start), the VAD's speech regions.
    fn heard(words: &[(&str, u64)], start_ms: u64, end_ms: u64, speech: &[[u64; 2]]) -> Step {
        let mut s = step(
            words,
            start_ms,
            end_ms,
            speech.iter().map(|[a, b]| b - a).sum(),
        );
        s.speech_regions = Some(speech.to_vec());
        s
    }

    /// One decode per step: a word the previous hypothesis reached and whisper has heard
    /// 1.2 s of audio after is committed from this one; the others wait (or agree with the
    /// next hypothesis); a
    /// pause the VAD hears ends the utterance: all of it is committed and the buffer starts
    /// after it, so the next step does not decode it again; committed words heard again are
    /// not committed twice; the take's end commits the rest.
    #[test]
    fn pauses_commit_stable_words_at_once_and_whole_utterances_at_a_pause() {
        let live = LiveSettings::default();
        let mut t = LiveTranscript::default();
        let first = [("And", 300), ("so", 800), ("my", 1_300), ("fellow", 1_800)];
        t.apply(heard(&first, 0, 2_500, &[[300, 2_500]]), &live);
        // The first hypothesis of fresh audio is shown, not committed.
        assert_eq!(t.committed_text(), "");
        assert_eq!(t.tail_text(), "And so my fellow");
        t.apply(heard(&first, 0, 2_600, &[[300, 2_600]]), &live);
        // Heard twice: agreed words are committed (and any that end by 1,400 ms).
        assert_eq!(t.committed_text(), "And so my fellow");
        let changed = [("And", 300), ("so", 800), ("my", 1_300), ("fellows", 1_800)];
        t.apply(heard(&changed, 0, 2_700, &[[300, 2_700]]), &live);
        assert_eq!(t.committed_text(), "And so my fellow", "never rewritten");
        let more = [
            ("And", 300),
            ("so", 800),
            ("my", 1_300),
            ("fellow", 1_800),
            ("Americans", 2_300),
        ];
        t.apply(heard(&more, 0, 3_500, &[[300, 2_800]]), &live);
        // The speaker stopped at 2,800 and 700 ms of silence followed: the utterance is over.
        assert_eq!(t.committed_text(), "And so my fellow Americans");
        assert_eq!(t.tail_text(), "");
        assert_eq!(t.agreement.buffer_start_ms(), 2_800);
        // The next utterance; the buffer holds only it.
        let next = [("ask", 4_000), ("not", 4_500)];
        t.apply(heard(&next, 2_800, 5_000, &[[3_900, 5_000]]), &live);
        assert_eq!(t.committed_text(), "And so my fellow Americans");
        assert_eq!(t.tail_text(), "ask not");
        let mut end = heard(&next, 2_800, 5_400, &[[3_900, 5_000]]);
        end.last = true;
        t.apply(end, &live);
        assert_eq!(t.committed_text(), "And so my fellow Americans ask not");
        let words = t.committed_words();
        assert_eq!(words.len(), 7, "each word once");
        assert!(t.finished);
    }

    /// A long utterance with no pause: the buffer is still cut once it is longer than the
    /// window, after committed words, so a step's cost does not grow with it.
    #[test]
    fn pauses_keep_the_buffer_bounded_without_a_pause() {
        let live = LiveSettings::default();
        let window = live.window.as_millis() as u64;
        let mut t = LiveTranscript::default();
        let mut said: Vec<(String, u64)> = Vec::new();
        for k in 0..60u64 {
            said.push((format!("w{k}"), k * 500));
            let end = k * 500 + 900;
            let start = t.agreement.buffer_start_ms();
            let words: Vec<(&str, u64)> = said
                .iter()
                .filter(|(_, at)| *at + 400 > start)
                .map(|(w, at)| (w.as_str(), *at))
                .collect();
            t.apply(heard(&words, start, end, &[[0, end]]), &live);
            assert!(
                end - t.agreement.buffer_start_ms() <= window + 1_000,
                "a buffer of {} ms at {end}",
                end - t.agreement.buffer_start_ms()
            );
        }
        let committed: Vec<String> = t.committed_words().iter().map(|w| w.text.clone()).collect();
        let expected: Vec<String> = (0..committed.len()).map(|k| format!("w{k}")).collect();
        assert_eq!(committed, expected, "in order, each once");
        assert!(committed.len() >= 55, "{}", committed.len());
    }

    /// An empty hypothesis over audio the VAD calls speech (whisper's no-speech verdict)
    /// keeps the buffer: the words in it are heard by the next step, not dropped.
    #[test]
    fn an_empty_hypothesis_drops_audio_only_when_the_vad_hears_nothing() {
        let live = LiveSettings::agreement_baseline();
        let said = [("ask", 0), ("not", 500)];
        let mut t = LiveTranscript::default();
        t.apply(step(&said, 0, 1_000, 900), &live);
        t.apply(step(&said, 0, 2_000, 900), &live);
        assert_eq!(t.committed_text(), "ask not");
        // Speech follows, but whisper returns nothing for it this time.
        t.apply(step(&[], 0, 4_000, 2_500), &live);
        assert_eq!(
            t.agreement.buffer_start_ms(),
            0,
            "the speech is heard again"
        );
        let more = [("ask", 0), ("not", 500), ("what", 2_000), ("your", 2_500)];
        t.apply(step(&more, 0, 5_000, 3_000), &live);
        t.apply(step(&more, 0, 6_000, 3_000), &live);
        assert_eq!(t.committed_text(), "ask not what your");
        // Real silence (the VAD kept nothing) moves the buffer on.
        t.apply(step(&[], 0, 9_000, 0), &live);
        assert_eq!(t.agreement.buffer_start_ms(), 8_000);
    }
}
