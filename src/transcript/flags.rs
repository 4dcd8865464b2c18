//! Quality flags: where a segment's text is probably wrong, judged from the segment alone
//! (ECS-free; the editor's systems compute them for segment entities as they appear or
//! change). Whisper's known failures have shapes that show in the text and its timing:
//! a repetition loop, more text than the time could hold, a stretch far longer than its words.

use serde::{Deserialize, Serialize};

use super::Segment;
use super::wer::normalize;

/// What looks wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// A run of words repeated three or more times in a row (whisper's repetition loop).
    Repetition,
    /// More characters a second than anyone speaks (text invented over a short span).
    TooFast,
    /// The segment lasts far longer than its words take to say (silence or music it
    /// covers, or words it lost).
    TooLong,
    /// whisper itself thought its window held no speech, and wrote text anyway.
    NoSpeech,
    /// whisper was unsure of the words (low mean log-probability of its tokens).
    Unsure,
    /// Text over audio the voice activity model found silent.
    Silence,
}

impl FlagKind {
    /// The name `verbatim flags` prints (the same as in its JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Repetition => "repetition",
            Self::TooFast => "too_fast",
            Self::TooLong => "too_long",
            Self::NoSpeech => "no_speech",
            Self::Unsure => "unsure",
            Self::Silence => "silence",
        }
    }
}

/// One flag of a segment, with what was found in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub kind: FlagKind,
    pub detail: String,
}

/// The thresholds. Speech runs at about 12-18 characters a second (spaces included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlagRules {
    /// A run of up to this many words counts as a repeated phrase.
    pub max_phrase_words: usize,
    /// Repeated this many times in a row is a loop.
    pub min_repeats: usize,
    /// Faster than this is flagged (segments of at least `min_chars_for_rate` characters).
    pub max_chars_per_second: f64,
    pub min_chars_for_rate: usize,
    /// Longer than `slack_ms` + `factor` × the time its characters take at
    /// `speech_chars_per_second` is flagged.
    pub speech_chars_per_second: f64,
    pub too_long_factor: f64,
    pub too_long_slack_ms: u64,
    /// A no-speech probability above this is flagged (whisper's `no_speech_threshold`).
    pub max_no_speech: f32,
    /// A mean token log-probability below this is flagged (whisper's `logprob_threshold`).
    pub min_avg_logprob: f32,
    /// A segment of at least `min_silence_check_ms` with less than this share of its span
    /// inside the speech the voice activity model found is text over silence.
    pub min_speech_share: f64,
    pub min_silence_check_ms: u64,
}

impl Default for FlagRules {
    fn default() -> Self {
        Self {
            max_phrase_words: 6,
            min_repeats: 3,
            max_chars_per_second: 30.0,
            min_chars_for_rate: 12,
            speech_chars_per_second: 15.0,
            too_long_factor: 3.0,
            too_long_slack_ms: 3_000,
            max_no_speech: 0.6,
            min_avg_logprob: -1.0,
            min_speech_share: 0.2,
            min_silence_check_ms: 300,
        }
    }
}

/// The flags of one segment, in [`FlagKind`] order.
pub fn flags(segment: &Segment, rules: &FlagRules) -> Vec<Flag> {
    let mut out = Vec::new();
    let words = normalize(&segment.text);
    if let Some((phrase, times)) = repeated_phrase(&words, rules) {
        out.push(Flag {
            kind: FlagKind::Repetition,
            detail: format!("\"{phrase}\" {times} times in a row"),
        });
    }
    let chars = segment.text.trim().chars().count();
    let ms = segment.end_ms.saturating_sub(segment.start_ms);
    if chars >= rules.min_chars_for_rate {
        let rate = chars as f64 * 1000.0 / ms.max(1) as f64;
        if rate > rules.max_chars_per_second {
            out.push(Flag {
                kind: FlagKind::TooFast,
                detail: format!(
                    "{chars} characters in {:.2} s ({rate:.0} a second; speech is about {:.0})",
                    ms as f64 / 1000.0,
                    rules.speech_chars_per_second
                ),
            });
        }
    }
    let needs_ms = chars as f64 * 1000.0 / rules.speech_chars_per_second;
    let limit_ms = rules.too_long_slack_ms as f64 + rules.too_long_factor * needs_ms;
    if ms as f64 > limit_ms {
        out.push(Flag {
            kind: FlagKind::TooLong,
            detail: format!(
                "{:.1} s for {chars} characters (about {:.1} s of speech)",
                ms as f64 / 1000.0,
                needs_ms / 1000.0
            ),
        });
    }
    if let Some(p) = segment.no_speech.filter(|p| *p > rules.max_no_speech) {
        out.push(Flag {
            kind: FlagKind::NoSpeech,
            detail: format!(
                "the model gave {:.0} % that there is no speech here",
                f64::from(p) * 100.0
            ),
        });
    }
    if let Some(l) = segment.avg_logprob.filter(|l| *l < rules.min_avg_logprob) {
        out.push(Flag {
            kind: FlagKind::Unsure,
            detail: format!(
                "the model was unsure of these words (mean token probability {:.0} %)",
                f64::from(l).exp() * 100.0
            ),
        });
    }
    out
}

/// The flags of a segment of a file whose speech the voice activity model found at `speech`
/// (ms spans in time order; `None`: not known): [`flags`], and text over silence.
pub fn flags_with_speech(
    segment: &Segment,
    rules: &FlagRules,
    speech: Option<&[(u64, u64)]>,
) -> Vec<Flag> {
    let mut out = flags(segment, rules);
    let span = segment.end_ms.saturating_sub(segment.start_ms);
    if let Some(speech) = speech
        && span >= rules.min_silence_check_ms
    {
        let share = speech_overlap(speech, segment.start_ms, segment.end_ms) as f64 / span as f64;
        if share < rules.min_speech_share {
            out.push(Flag {
                kind: FlagKind::Silence,
                detail: format!(
                    "text over audio the voice detector found silent ({:.0} % of its {:.1} s is speech)",
                    share * 100.0,
                    span as f64 / 1000.0
                ),
            });
        }
    }
    out
}

/// How much of `a..b` lies inside the time-ordered spans (ms).
fn speech_overlap(speech: &[(u64, u64)], a: u64, b: u64) -> u64 {
    let first = speech.partition_point(|&(_, end)| end <= a);
    speech[first..]
        .iter()
        .take_while(|&&(start, _)| start < b)
        .map(|&(s, e)| e.min(b).saturating_sub(s.max(a)))
        .sum()
}

/// The shortest phrase (of up to `max_phrase_words` words) repeated at least `min_repeats`
/// times in a row, and how many times.
fn repeated_phrase(words: &[String], rules: &FlagRules) -> Option<(String, usize)> {
    for n in 1..=rules.max_phrase_words {
        let mut i = 0;
        while i + n * rules.min_repeats <= words.len() {
            let phrase = &words[i..i + n];
            let mut times = 1;
            while words
                .get(i + times * n..i + (times + 1) * n)
                .is_some_and(|next| next == phrase)
            {
                times += 1;
            }
            if times >= rules.min_repeats {
                return Some((phrase.join(" "), times));
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kinds(start_ms: u64, end_ms: u64, text: &str) -> Vec<FlagKind> {
        flags(&Segment::new(start_ms, end_ms, text), &FlagRules::default())
            .into_iter()
            .map(|f| f.kind)
            .collect()
    }

    #[test]
    fn the_models_own_doubts_are_flagged_past_whispers_thresholds() {
        let seg = |no_speech, avg_logprob| Segment {
            no_speech,
            avg_logprob,
            ..Segment::new(0, 2_000, "and so my fellow Americans")
        };
        let kinds = |s: &Segment| -> Vec<FlagKind> {
            flags(s, &FlagRules::default())
                .into_iter()
                .map(|f| f.kind)
                .collect()
        };
        assert!(kinds(&seg(Some(0.1), Some(-0.3))).is_empty());
        assert!(kinds(&seg(None, None)).is_empty());
        assert_eq!(kinds(&seg(Some(0.8), Some(-0.3))), [FlagKind::NoSpeech]);
        assert_eq!(kinds(&seg(Some(0.6), Some(-1.4))), [FlagKind::Unsure]);
        let f = flags(&seg(Some(0.93), Some(-1.2)), &FlagRules::default());
        assert_eq!(f.len(), 2);
        assert!(f[0].detail.contains("93 %"), "{:?}", f[0]);
        assert!(f[1].detail.contains("30 %"), "{:?}", f[1]);
    }

    #[test]
    fn text_over_what_the_vad_found_silent_is_flagged() {
        let speech = [(0, 2_000), (5_000, 9_000)];
        let kinds = |a, b, speech: Option<&[(u64, u64)]>| -> Vec<FlagKind> {
            flags_with_speech(
                &Segment::new(a, b, "ask not"),
                &FlagRules::default(),
                speech,
            )
            .into_iter()
            .map(|f| f.kind)
            .collect()
        };
        assert_eq!(kinds(2_500, 4_500, Some(&speech)), [FlagKind::Silence]);
        // A tenth of it is speech: still silence; half of it: not.
        assert_eq!(kinds(1_800, 3_800, Some(&speech)), [FlagKind::Silence]);
        assert!(kinds(1_000, 3_000, Some(&speech)).is_empty());
        assert!(kinds(4_000, 6_000, Some(&speech)).is_empty());
        // Unknown speech, or a blip too short to judge: nothing.
        assert!(kinds(2_500, 4_500, None).is_empty());
        assert!(kinds(2_500, 2_700, Some(&speech)).is_empty());
        let f = flags_with_speech(
            &Segment::new(2_500, 4_500, "ask not"),
            &FlagRules::default(),
            Some(&speech),
        );
        assert!(f[0].detail.contains("0 % of its 2.0 s"), "{:?}", f[0]);
        assert_eq!(speech_overlap(&speech, 1_000, 6_000), 2_000);
    }

    #[test]
    fn kind_names_are_the_json_names() {
        for k in [
            FlagKind::Repetition,
            FlagKind::TooFast,
            FlagKind::TooLong,
            FlagKind::NoSpeech,
            FlagKind::Unsure,
            FlagKind::Silence,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    #[test]
    fn a_loop_is_flagged_and_natural_repeats_are_not() {
        assert_eq!(
            kinds(0, 6_000, "Thank you. Thank you. Thank you. Thank you."),
            [FlagKind::Repetition]
        );
        assert_eq!(
            kinds(0, 4_000, "and the and the and the and the"),
            [FlagKind::Repetition]
        );
        // Twice is speech ("no, no"), and a word that recurs apart is not a loop.
        assert!(kinds(0, 3_000, "no no, I said the cat and the dog").is_empty());
        let f = flags(
            &Segment::new(0, 6_000, "we go we go we go home"),
            &FlagRules::default(),
        );
        assert_eq!(f[0].detail, "\"we go\" 3 times in a row");
    }

    #[test]
    fn text_too_fast_or_a_span_too_long_for_its_words_is_flagged() {
        // 60 characters in half a second.
        let fast = "And so my fellow Americans ask not what your country can do";
        assert_eq!(kinds(1_000, 1_500, fast), [FlagKind::TooFast]);
        assert!(kinds(1_000, 5_000, fast).is_empty());
        // Two words over 20 s.
        assert_eq!(kinds(0, 20_000, "Thank you."), [FlagKind::TooLong]);
        assert!(kinds(0, 3_000, "Thank you.").is_empty());
        // Short interjections are not judged for speed.
        assert!(kinds(0, 100, "Yes.").is_empty());
    }
}
