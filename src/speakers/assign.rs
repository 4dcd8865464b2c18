//! Speakers given to a transcript's segments: each word goes to the speaker whose turn covers
//! most of it, and a segment whose words change speaker is split at the word where the
//! change falls (the text and the words are kept, only cut); a segment with no word times
//! goes whole to the speaker who holds most of it.

use super::Turn;
use crate::transcript::Segment;
use crate::transcript::words::Word;

/// How much of `a..b` the turns of each speaker cover; the speaker covering most, or, when
/// none covers any of it, the speaker of the nearest turn within `reach` ms.
fn holder(turns: &[Turn], a: u64, b: u64, reach: u64) -> Option<&str> {
    let mut best: Option<(&str, u64)> = None;
    let mut names: Vec<(&str, u64)> = Vec::new();
    for t in turns {
        let o = b.min(t.end_ms).saturating_sub(a.max(t.start_ms));
        if o == 0 && !(a == b && t.start_ms <= a && a < t.end_ms) {
            continue;
        }
        let o = o.max(1);
        match names.iter_mut().find(|(n, _)| *n == t.speaker) {
            Some(e) => e.1 += o,
            None => names.push((&t.speaker, o)),
        }
    }
    for (n, o) in names {
        if best.is_none_or(|(_, bo)| o > bo) {
            best = Some((n, o));
        }
    }
    if let Some((n, _)) = best {
        return Some(n);
    }
    turns
        .iter()
        .map(|t| {
            let gap = if t.end_ms <= a {
                a - t.end_ms
            } else {
                t.start_ms.saturating_sub(b)
            };
            (gap, t.speaker.as_str())
        })
        .filter(|(gap, _)| *gap <= reach)
        .min_by_key(|(gap, _)| *gap)
        .map(|(_, n)| n)
}

/// A word or a segment this far (ms) from every turn still goes to the nearest one (speech
/// the diarization heard as a pause); farther, it gets no speaker.
const REACH_MS: u64 = 1_000;

/// `segments` with their speakers from `turns`; how many segments were split.
pub fn assign(segments: &[Segment], turns: &[Turn]) -> (Vec<Segment>, usize) {
    let mut out = Vec::with_capacity(segments.len());
    let mut split = 0;
    for s in segments {
        let words = s.words();
        if words.iter().all(|w| w.span().is_none()) {
            let mut s = s.clone();
            s.speaker = holder(turns, s.start_ms, s.end_ms, REACH_MS).map(str::to_owned);
            out.push(s);
            continue;
        }
        // Each timed word's speaker; an untimed word goes with the word before it (the first
        // ones with the first timed word).
        let mut who: Vec<Option<&str>> = words
            .iter()
            .map(|w| {
                w.span()
                    .and_then(|(a, b)| holder(turns, a, b.max(a), REACH_MS))
            })
            .collect();
        let first = words
            .iter()
            .zip(&who)
            .find(|(w, _)| w.span().is_some())
            .and_then(|(_, h)| *h);
        let mut last = first;
        for (w, h) in words.iter().zip(who.iter_mut()) {
            if w.span().is_none() {
                *h = last;
            }
            last = *h;
        }
        // Runs of one speaker.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for i in 0..words.len() {
            match runs.last_mut() {
                Some(r) if who[r.0] == who[i] => r.1 = i + 1,
                _ => runs.push((i, i + 1)),
            }
        }
        if runs.len() == 1 {
            let mut s = s.clone();
            s.speaker = who[0].map(str::to_owned);
            out.push(s);
            continue;
        }
        split += 1;
        for (k, &(a, b)) in runs.iter().enumerate() {
            let part: &[Word] = &words[a..b];
            let start = if k == 0 {
                s.start_ms
            } else {
                part.iter()
                    .find_map(|w| w.start_ms)
                    .unwrap_or(s.start_ms)
                    .clamp(s.start_ms, s.end_ms)
            };
            let end = match runs.get(k + 1) {
                Some(&(na, nb)) => words[na..nb]
                    .iter()
                    .find_map(|w| w.start_ms)
                    .unwrap_or(s.end_ms)
                    .clamp(start, s.end_ms),
                None => s.end_ms,
            };
            let text = part
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let mut seg = Segment::new(start, end.max(start), text);
            seg.confidence = s.confidence;
            seg.set_words(part);
            seg.speaker = who[a].map(str::to_owned);
            out.push(seg);
        }
    }
    (out, split)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    fn turn(who: &str, a: u64, b: u64) -> Turn {
        Turn {
            speaker: who.into(),
            start_ms: a,
            end_ms: b,
        }
    }

    fn timed(start: u64, end: u64, words: &[(&str, u64, u64)]) -> Segment {
        let text = words.iter().map(|w| w.0).collect::<Vec<_>>().join(" ");
        let mut s = Segment::new(start, end, text);
        let w: Vec<Word> = words
            .iter()
            .map(|&(t, a, b)| Word::timed(a, b, t, Some(0.9)))
            .collect();
        s.set_words(&w);
        s.confidence = Some(0.8);
        s
    }

    #[test]
    fn a_segment_goes_to_who_holds_it_and_is_split_where_the_speaker_changes() {
        let turns = [turn("Ann", 0, 2_100), turn("Bo", 2_100, 5_000)];
        let segs = [
            timed(
                0,
                4_000,
                &[
                    ("Hello", 0, 500),
                    ("there.", 500, 1_900),
                    ("Hi", 2_200, 2_600),
                    ("Ann!", 2_600, 3_900),
                ],
            ),
            Segment::new(4_000, 4_800, "untimed words"),
            Segment::new(60_000, 61_000, "far from every turn"),
        ];
        let (out, split) = assign(&segs, &turns);
        assert_eq!(split, 1);
        assert_eq!(out.len(), 4);
        assert_eq!(
            (out[0].start_ms, out[0].end_ms, out[0].text.as_str()),
            (0, 2_200, "Hello there.")
        );
        assert_eq!(out[0].speaker.as_deref(), Some("Ann"));
        assert_eq!(
            (out[1].start_ms, out[1].end_ms, out[1].text.as_str()),
            (2_200, 4_000, "Hi Ann!")
        );
        assert_eq!(out[1].speaker.as_deref(), Some("Bo"));
        assert_eq!(out[1].words().len(), 2);
        assert_eq!(out[1].words()[0].start_ms, Some(2_200));
        assert_eq!(out[1].confidence, Some(0.8));
        assert_eq!(out[2].speaker.as_deref(), Some("Bo"));
        assert_eq!(out[2].text, "untimed words");
        assert_eq!(out[3].speaker, None);
        // Every word is kept, in order.
        let before: Vec<String> = segs.iter().map(|s| s.text.clone()).collect();
        let after: Vec<String> = out.iter().map(|s| s.text.clone()).collect();
        assert_eq!(before.join(" "), after.join(" "));
    }

    #[test]
    fn one_speaker_throughout_is_no_split_and_no_turns_is_no_speaker() {
        let seg = timed(0, 1_000, &[("one", 0, 400), ("two", 400, 900)]);
        let (out, split) = assign(std::slice::from_ref(&seg), &[turn("Ann", 0, 800)]);
        assert_eq!(split, 0);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].speaker.as_deref(), Some("Ann"));
        assert_eq!(out[0].text, seg.text);
        let (out, _) = assign(std::slice::from_ref(&seg), &[]);
        assert_eq!(out[0].speaker, None);
    }
}
