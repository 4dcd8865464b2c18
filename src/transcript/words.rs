//! A segment's words: each whitespace-separated word of its text, with its time and the
//! model's probability when known. Stored as JSON with the segment (`words_json`, the form
//! the engine writes: `{start_ms, end_ms, text, p}`); a word whose time is not known (typed
//! by the user, or left over from an edit that could not place it) has no `start_ms`,
//! `end_ms` or `p`.
//!
//! After an edit of the text the words are aligned again ([`realign`]): a word left as it was
//! keeps its time and probability; a word put in the place of exactly one old word (a
//! correction) takes that word's time, with no probability (the user's, not the model's);
//! any other new word is untimed.

use serde::{Deserialize, Serialize};
use similar::{Algorithm, DiffOp, capture_diff_slices, capture_diff_slices_deadline};

use super::Segment;

/// Below this probability a word is one the model was unsure of (the editor shades it).
pub const LOW_PROBABILITY: f32 = 0.5;

/// One word of a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    pub text: String,
    /// The model's probability of the word (its least likely token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f32>,
}

impl Word {
    pub fn timed(start_ms: u64, end_ms: u64, text: impl Into<String>, p: Option<f32>) -> Self {
        Self {
            start_ms: Some(start_ms),
            end_ms: Some(end_ms.max(start_ms)),
            text: text.into(),
            p,
        }
    }

    pub fn untimed(text: impl Into<String>) -> Self {
        Self {
            start_ms: None,
            end_ms: None,
            text: text.into(),
            p: None,
        }
    }

    /// Its span, when timed.
    pub fn span(&self) -> Option<(u64, u64)> {
        Some((self.start_ms?, self.end_ms?.max(self.start_ms?)))
    }
}

/// A segment's words from its stored JSON (none when absent or unreadable).
pub fn parse(words_json: Option<&str>) -> Vec<Word> {
    words_json
        .and_then(|j| serde_json::from_str::<Vec<Word>>(j).ok())
        .unwrap_or_default()
}

/// The stored JSON of `words` (`None` for no words, or none of them timed: then they say
/// nothing the text does not).
pub fn to_json(words: &[Word]) -> Option<String> {
    if words.iter().all(|w| w.span().is_none()) {
        return None;
    }
    serde_json::to_string(words).ok()
}

/// The whitespace-separated words of `text`, with the byte offset each starts at.
pub fn tokens(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

/// What two spellings of a word have in common for alignment: its letters and digits, in
/// lower case ("Hello," and "hello" are the same word).
pub fn key(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_alphanumeric() || *c == '\'')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words of `text`, aligned with the `old` words (see the module's notes): one per
/// whitespace-separated word of `text`, in order.
pub fn realign(old: &[Word], text: &str) -> Vec<Word> {
    let new: Vec<&str> = tokens(text).into_iter().map(|(_, t)| t).collect();
    let old_keys: Vec<String> = old.iter().map(|w| key(&w.text)).collect();
    let new_keys: Vec<String> = new.iter().map(|t| key(t)).collect();
    let mut out: Vec<Word> = new.iter().map(|t| Word::untimed(*t)).collect();
    for op in capture_diff_slices(Algorithm::Myers, &old_keys, &new_keys) {
        match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                for k in 0..len {
                    let w = &old[old_index + k];
                    out[new_index + k] = Word {
                        text: new[new_index + k].to_string(),
                        ..w.clone()
                    };
                }
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } if old_len == new_len => {
                for k in 0..new_len {
                    let w = &old[old_index + k];
                    out[new_index + k] = Word {
                        start_ms: w.start_ms,
                        end_ms: w.end_ms,
                        text: new[new_index + k].to_string(),
                        p: None,
                    };
                }
            }
            _ => {}
        }
    }
    out
}

/// One correction: what the model wrote, what the user put in its place, and the model's
/// least probability over the words replaced (`None`: not known).
#[derive(Debug, Clone, PartialEq)]
struct Correction {
    pub was: String,
    pub now: String,
    pub model_p: Option<f32>,
}

/// The longest the word diff of a save's learning may take.
const LEARN_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);

/// The corrections between two word lists (`old` with the model's probability of each word):
/// each new word that took the place of exactly one other word (a run of replaced words of
/// the same length on both sides, word for word), or a replaced run taken whole ("New York"
/// for "newark"; a new run is cut where a word ends a clause, so "Bostonians, NASA" is two),
/// where the two differ as words (not only in case or punctuation). Inserted and deleted
/// words are not corrections.
fn diff_corrections(old: &[(&str, Option<f32>)], new: &[&str]) -> Vec<Correction> {
    // The words' keys as numbers, one per distinct key: a long text's words are a few bytes
    // each, not a string each (1.2 million words' strings took 100 MB).
    let mut ids: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut id = |t: &str| {
        let next = ids.len() as u32;
        *ids.entry(key(t)).or_insert(next)
    };
    let old_keys: Vec<u32> = old.iter().map(|(t, _)| id(t)).collect();
    let new_keys: Vec<u32> = new.iter().map(|t| id(t)).collect();
    drop(ids);
    let trim = |s: &str| {
        s.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
            .to_string()
    };
    let least = |range: std::ops::Range<usize>| {
        old[range]
            .iter()
            .map(|(_, p)| *p)
            .try_fold(f32::INFINITY, |m, p| p.map(|p| m.min(p)))
    };
    let mut out = Vec::new();
    let mut push = |was: String, now: String, model_p: Option<f32>| {
        if !key(&now).is_empty() && key(&was) != key(&now) {
            out.push(Correction {
                was: trim(&was),
                now: trim(&now),
                model_p,
            });
        }
    };
    // Myers is O(ND): two long texts that differ all through (an import of a different
    // transcript of 200,000 segments) would run for many minutes inside the writer's
    // transaction. Past the deadline `similar` gives a coarser diff: corrections are learned
    // from what it found.
    let deadline = std::time::Instant::now() + LEARN_DEADLINE;
    for op in capture_diff_slices_deadline(Algorithm::Myers, &old_keys, &new_keys, Some(deadline)) {
        let DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            new_len,
        } = op
        else {
            continue;
        };
        if old_len == new_len {
            for k in 0..new_len {
                let o = old_index + k;
                push(
                    old[o].0.to_string(),
                    new[new_index + k].to_string(),
                    least(o..o + 1),
                );
            }
            continue;
        }
        let was: Vec<&str> = old[old_index..old_index + old_len]
            .iter()
            .map(|(t, _)| *t)
            .collect();
        let (was, p) = (was.join(" "), least(old_index..old_index + old_len));
        let mut piece: Vec<&str> = Vec::new();
        for w in &new[new_index..new_index + new_len] {
            piece.push(w);
            if w.ends_with([',', '.', ';', ':', '!', '?']) {
                push(was.clone(), piece.join(" "), p);
                piece.clear();
            }
        }
        if !piece.is_empty() {
            push(was, piece.join(" "), p);
        }
    }
    out
}

/// Whether a corrected term is worth keeping in the library's vocabulary (and so in the
/// prompt of later jobs): at most three words, not only the commonest English words (a
/// corrected "Then" at the start of a sentence is not a term), and either marked as a term
/// (a capital letter or a digit: a name, an acronym, a number) or put in the place of words
/// the model was unsure of (`model_p` below [`LOW_PROBABILITY`]: "old-sposed" at 22 % for
/// "ill-disposed" is a word the model does not know).
pub fn worth_learning(term: &str, model_p: Option<f32>) -> bool {
    const COMMON: &[&str] = &[
        "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be",
        "because", "been", "but", "by", "can", "could", "did", "do", "for", "from", "had", "has",
        "have", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it",
        "its", "just", "me", "more", "my", "no", "not", "now", "of", "on", "one", "or", "our",
        "out", "she", "so", "some", "than", "that", "the", "their", "them", "then", "there",
        "these", "they", "this", "to", "up", "us", "was", "we", "well", "were", "what", "when",
        "where", "which", "who", "why", "will", "with", "would", "yes", "you", "your",
    ];
    let words: Vec<&str> = term.split_whitespace().collect();
    if words.is_empty() || words.len() > 3 || term.chars().count() > 40 {
        return false;
    }
    if words.iter().all(|w| COMMON.contains(&key(w).as_str())) {
        return false;
    }
    let marked = term.chars().any(|c| c.is_uppercase() || c.is_ascii_digit());
    marked || model_p.is_some_and(|p| p < LOW_PROBABILITY)
}

/// The corrections worth learning (see [`worth_learning`]) between the segments of a version
/// and the segments the user made of it, each term once, as (what the model wrote, what the
/// user wrote).
pub fn learned(before: &[Segment], after: &[Segment]) -> Vec<(String, String)> {
    // Segments whose text is the same at both ends hold no correction: only the stretch
    // between them is compared (a save that changed one segment of 200,000 compares one).
    let same = |(a, b): (&Segment, &Segment)| a.text == b.text;
    let head = before.iter().zip(after).take_while(|&p| same(p)).count();
    let (before, after) = (&before[head..], &after[head..]);
    let tail = before
        .iter()
        .rev()
        .zip(after.iter().rev())
        .take_while(|&p| same(p))
        .count();
    let (before, after) = (&before[..before.len() - tail], &after[..after.len() - tail]);
    let mut old: Vec<(&str, Option<f32>)> = Vec::new();
    // Each segment's words are read for their probabilities and let go (200,000 segments'
    // words at once took 70 MB).
    for s in before {
        let words = s.words();
        let toks = tokens(&s.text);
        for (k, (_, t)) in toks.iter().enumerate() {
            old.push((t, words.get(k).and_then(|w| w.p)));
        }
    }
    let new: Vec<&str> = after
        .iter()
        .flat_map(|s| tokens(&s.text).into_iter().map(|(_, t)| t))
        .collect();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in diff_corrections(&old, &new) {
        if worth_learning(&c.now, c.model_p) && seen.insert(key(&c.now)) {
            out.push((c.was, c.now));
        }
    }
    out
}

/// The words of a segment cut at `at_ms`: the index of the first word of the second part
/// (the word boundary nearest `at_ms`, between 1 and the number of words less one so that
/// neither part is empty) and the time the cut is best made at (the middle of the gap between
/// the two words). `None` without at least two timed words.
pub fn cut_at(words: &[Word], at_ms: u64) -> Option<(usize, u64)> {
    if words.len() < 2 {
        return None;
    }
    let mut best: Option<(u64, usize, u64)> = None;
    for k in 1..words.len() {
        let (Some((_, prev_end)), Some((next_start, _))) = (words[k - 1].span(), words[k].span())
        else {
            continue;
        };
        let boundary = prev_end.min(next_start) + next_start.saturating_sub(prev_end) / 2;
        let d = boundary.abs_diff(at_ms);
        if best.is_none_or(|(bd, _, _)| d < bd) {
            best = Some((d, k, boundary));
        }
    }
    best.map(|(_, k, t)| (k, t))
}

/// The word playing at `ms`: the last timed word starting at or before it, while `ms` is
/// before its end (or before the next word's start).
pub fn playing(words: &[Word], ms: u64) -> Option<usize> {
    let mut found = None;
    for (i, w) in words.iter().enumerate() {
        let Some((s, e)) = w.span() else { continue };
        if s > ms {
            break;
        }
        found = (ms < e.max(s + 1)).then_some(i);
    }
    found
}

/// Keeps the timed words inside `start_ms..=end_ms` (a segment whose bounds moved): a word
/// wholly outside loses its time, one across a bound is clipped to it.
pub fn clip(words: &mut [Word], start_ms: u64, end_ms: u64) {
    for w in words.iter_mut() {
        let Some((s, e)) = w.span() else { continue };
        if e < start_ms || s > end_ms {
            w.start_ms = None;
            w.end_ms = None;
            w.p = None;
        } else {
            w.start_ms = Some(s.clamp(start_ms, end_ms));
            w.end_ms = Some(e.clamp(start_ms, end_ms));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The corrections between two texts, as (what the model wrote, what the user wrote).
    fn corrections(old_text: &str, new_text: &str) -> Vec<(String, String)> {
        let old: Vec<(&str, Option<f32>)> = tokens(old_text)
            .into_iter()
            .map(|(_, t)| (t, None))
            .collect();
        let new: Vec<&str> = tokens(new_text).into_iter().map(|(_, t)| t).collect();
        diff_corrections(&old, &new)
            .into_iter()
            .map(|c| (c.was, c.now))
            .collect()
    }

    fn w(s: u64, e: u64, t: &str, p: f32) -> Word {
        Word::timed(s, e, t, Some(p))
    }

    fn model_words() -> Vec<Word> {
        vec![
            w(0, 400, "And", 0.9),
            w(400, 900, "so,", 0.8),
            w(1000, 1500, "my", 0.95),
            w(1500, 2200, "fellow", 0.4),
            w(2300, 3000, "Americans.", 0.99),
        ]
    }

    #[test]
    fn the_stored_form_is_the_engines_and_untimed_words_leave_out_their_times() {
        let json = r#"[{"start_ms":10,"end_ms":20,"text":"hi","p":0.5}]"#;
        assert_eq!(parse(Some(json)), vec![w(10, 20, "hi", 0.5)]);
        let words = vec![w(10, 20, "hi", 0.5), Word::untimed("there")];
        let json = to_json(&words).unwrap();
        assert_eq!(
            json,
            r#"[{"start_ms":10,"end_ms":20,"text":"hi","p":0.5},{"text":"there"}]"#
        );
        assert_eq!(parse(Some(&json)), words);
        assert_eq!(to_json(&[Word::untimed("x")]), None);
        assert!(parse(Some("not json")).is_empty());
        assert!(parse(None).is_empty());
    }

    #[test]
    fn an_unchanged_text_keeps_every_word_and_punctuation_does_not_unplace_one() {
        let old = model_words();
        assert_eq!(realign(&old, "And so, my fellow Americans."), old);
        let again = realign(&old, "and so my fellow Americans!");
        assert_eq!(again[0].span(), Some((0, 400)));
        assert_eq!(again[0].text, "and");
        assert_eq!(again[4].text, "Americans!");
        assert_eq!(again[4].p, Some(0.99));
    }

    #[test]
    fn a_corrected_word_takes_the_old_ones_time_and_inserted_words_are_untimed() {
        let old = model_words();
        let new = realign(&old, "And so, my dear fellow citizens.");
        let texts: Vec<&str> = new.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["And", "so,", "my", "dear", "fellow", "citizens."]);
        assert_eq!(new[3].span(), None, "inserted: untimed");
        assert_eq!(new[4].span(), Some((1500, 2200)));
        assert_eq!(
            new[5].span(),
            Some((2300, 3000)),
            "a correction keeps the time"
        );
        assert_eq!(new[5].p, None, "but not the model's probability");
        // Two words for one: the span is not the new words'.
        let two = realign(&old, "And so, my fellow Ameri cans.");
        assert_eq!(two[4].span(), None);
        assert_eq!(two[5].span(), None);
        assert_eq!(two[3].span(), Some((1500, 2200)));
    }

    #[test]
    fn corrections_are_the_replaced_words_not_the_inserted_or_the_recased() {
        assert_eq!(
            corrections(
                "I met Marian and Eleanor in new york.",
                "I met Marianne and Elinor in New York!"
            ),
            vec![
                ("Marian".to_string(), "Marianne".to_string()),
                ("Eleanor".to_string(), "Elinor".to_string())
            ]
        );
        assert!(corrections("a b c", "a b c d").is_empty());
        assert!(corrections("a b c", "a c").is_empty());
        assert_eq!(
            corrections("we went to newark", "we went to New York"),
            vec![("newark".to_string(), "New York".to_string())]
        );
    }

    #[test]
    fn names_numbers_and_words_the_model_was_unsure_of_are_learnt() {
        assert!(worth_learning("Dashwood", None));
        assert!(worth_learning("GPU", Some(0.99)));
        assert!(worth_learning("2026", None));
        assert!(worth_learning("New York", None));
        assert!(worth_learning("ill-disposed", Some(0.22)));
        assert!(
            !worth_learning("ill-disposed", Some(0.9)),
            "the model was sure"
        );
        assert!(!worth_learning("then", None), "not marked");
        assert!(
            !worth_learning("Then", None),
            "a common word at a sentence start"
        );
        assert!(!worth_learning("the", Some(0.1)), "common, however unsure");
        assert!(!worth_learning("A B C D", None), "too many words");
        let mut before = Segment::new(0, 3_000, "He was not an old-sposed young man?");
        before.set_words(
            &[
                ("He", 0.58),
                ("was", 0.99),
                ("not", 0.99),
                ("an", 0.83),
                ("old-sposed", 0.22),
                ("young", 0.95),
                ("man?", 0.49),
            ]
            .map(|(t, p)| Word::timed(0, 10, t, Some(p))),
        );
        let other = Segment::new(3_000, 4_000, "than he went");
        let after = [
            Segment::new(0, 3_000, "He was not an ill-disposed youthful man?"),
            Segment::new(3_000, 4_000, "Then he went. Dashwood!"),
        ];
        assert_eq!(
            learned(&[before, other], &after),
            vec![("old-sposed".to_string(), "ill-disposed".to_string())],
            "\"youthful\" replaced a word the model was sure of; \"Then\" is common; \
             \"Dashwood\" was inserted"
        );
    }

    #[test]
    fn a_cut_is_made_at_the_word_boundary_nearest_the_time() {
        let words = model_words();
        // Between "so," (ends 900) and "my" (starts 1000): the middle of the gap.
        assert_eq!(cut_at(&words, 1100), Some((2, 950)));
        assert_eq!(cut_at(&words, 0), Some((1, 400)));
        assert_eq!(cut_at(&words, 9999), Some((4, 2250)));
        assert_eq!(cut_at(&words[..1], 100), None);
        assert_eq!(cut_at(&[Word::untimed("a"), Word::untimed("b")], 100), None);
    }

    #[test]
    fn the_playing_word_and_clipping_to_new_bounds() {
        let words = model_words();
        assert_eq!(playing(&words, 0), Some(0));
        assert_eq!(playing(&words, 1600), Some(3));
        assert_eq!(playing(&words, 950), None, "a gap between words");
        assert_eq!(playing(&words, 5000), None);
        let mut clipped = words.clone();
        clip(&mut clipped, 500, 2000);
        assert_eq!(clipped[0].span(), None);
        assert_eq!(clipped[1].span(), Some((500, 900)));
        assert_eq!(clipped[3].span(), Some((1500, 2000)));
        assert_eq!(clipped[4].span(), None);
    }

    #[test]
    fn words_split_on_any_whitespace() {
        assert_eq!(tokens(" a  b\nc "), vec![(1, "a"), (4, "b"), (6, "c")]);
        assert!(tokens("   ").is_empty());
    }

    #[test]
    fn learning_from_a_huge_save_is_bounded() {
        let version = |word: &str| -> Vec<Segment> {
            (0..200_000u64)
                .map(|i| Segment::new(i * 10, i * 10 + 9, format!("line {i} says {word} here")))
                .collect()
        };
        // One segment of 200,000 changed: found, the rest not compared.
        let before = version("hello");
        let mut after = before.clone();
        after[100_000].text = "line 100000 says Dashwood here".into();
        assert_eq!(
            learned(&before, &after),
            [("hello".to_string(), "Dashwood".to_string())]
        );
        // Every segment different (a different transcript imported as a version): it ran for
        // many minutes inside the writer's transaction; now the diff has a deadline.
        let started = std::time::Instant::now();
        let other: Vec<Segment> = (0..200_000u64)
            .map(|i| Segment::new(i * 10, i * 10 + 9, format!("row {} tells Marianne", i * 7)))
            .collect();
        let learnt = learned(&before, &other);
        assert!(learnt.len() < 200_000);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "{:?}",
            started.elapsed()
        );
    }
}
