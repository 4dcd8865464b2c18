//! Re-transcribing a span: which stretch of the audio a new job must cover, and how its
//! segments replace exactly that stretch of a version, leaving every other segment as it was.

use super::Segment;

/// The span a re-transcription of `[from_ms, to_ms)` covers: widened to the whole of every
/// segment it overlaps, so that no segment is cut in two (and none loses the words it had
/// outside the asked span).
pub fn covering_span(segments: &[Segment], from_ms: u64, to_ms: u64) -> (u64, u64) {
    let (from, to) = (from_ms.min(to_ms), from_ms.max(to_ms));
    segments
        .iter()
        .filter(|s| overlaps(s, from, to))
        .fold((from, to), |(a, b), s| (a.min(s.start_ms), b.max(s.end_ms)))
}

/// Whether a segment lies (partly) in `[a, b)`; an empty segment counts where it stands.
fn overlaps(s: &Segment, a: u64, b: u64) -> bool {
    if s.start_ms == s.end_ms {
        return s.start_ms >= a && s.start_ms < b;
    }
    s.start_ms < b && s.end_ms > a
}

/// `base` with its segments in `[from_ms, to_ms)` replaced by those of `new` that fall in
/// it (cut to the span, in time order). Every segment of `base` outside the span comes back
/// unchanged and in place. `[from_ms, to_ms)` should come from [`covering_span`].
pub fn splice(base: &[Segment], from_ms: u64, to_ms: u64, new: Vec<Segment>) -> Vec<Segment> {
    let mut inside: Vec<Segment> = new
        .into_iter()
        .filter(|s| overlaps(s, from_ms, to_ms) && !s.text.trim().is_empty())
        .map(|mut s| {
            s.start_ms = s.start_ms.max(from_ms);
            s.end_ms = s.end_ms.min(to_ms).max(s.start_ms);
            s
        })
        .collect();
    inside.sort_by_key(|s| (s.start_ms, s.end_ms));
    let at = base
        .iter()
        .position(|s| s.start_ms >= from_ms || overlaps(s, from_ms, to_ms))
        .unwrap_or(base.len());
    let mut out: Vec<Segment> = base[..at].to_vec();
    out.extend(inside);
    out.extend(
        base[at..]
            .iter()
            .filter(|s| !overlaps(s, from_ms, to_ms))
            .cloned(),
    );
    out
}

/// [`splice`] for several spans at once (in time order, disjoint): each span's segments of
/// `base` replaced by those of `new` that fall in it, in one pass over both lists (a batch of
/// thousands of spans on a version of 200,000 segments costs what one span does).
pub fn splice_all(base: &[Segment], spans: &[(u64, u64)], new: Vec<Segment>) -> Vec<Segment> {
    if let [(from, to)] = spans {
        return splice(base, *from, *to, new);
    }
    let mut new = new;
    new.sort_by_key(|s| (s.start_ms, s.end_ms));
    let mut new = new.into_iter().peekable();
    let mut base = base.iter().peekable();
    let mut out = Vec::with_capacity(base.len());
    for &(from, to) in spans {
        // What comes before this span stays, in place.
        while let Some(s) = base.next_if(|s| s.start_ms < from && !overlaps(s, from, to)) {
            out.push(s.clone());
        }
        // The new segments that end before it belong to no span: dropped.
        while new
            .next_if(|s| s.end_ms <= from && s.start_ms < from)
            .is_some()
        {}
        // Its new segments, cut to it.
        while let Some(s) =
            new.next_if(|s| s.start_ms < to || (s.start_ms == to && s.end_ms == to && to == from))
        {
            if overlaps(&s, from, to) && !s.text.trim().is_empty() {
                let mut s = s;
                s.start_ms = s.start_ms.max(from);
                s.end_ms = s.end_ms.min(to).max(s.start_ms);
                out.push(s);
            }
        }
        // Its old segments go.
        while base.next_if(|s| overlaps(s, from, to)).is_some() {}
    }
    out.extend(base.cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs() -> Vec<Segment> {
        vec![
            Segment::new(0, 1_000, "one"),
            Segment::new(1_200, 2_500, "two"),
            Segment::new(3_000, 4_000, "three"),
            Segment::new(4_500, 6_000, "four"),
        ]
    }

    #[test]
    fn the_span_widens_to_whole_segments() {
        assert_eq!(covering_span(&segs(), 2_000, 3_500), (1_200, 4_000));
        assert_eq!(covering_span(&segs(), 2_600, 2_900), (2_600, 2_900));
        assert_eq!(covering_span(&segs(), 3_500, 2_000), (1_200, 4_000));
    }

    #[test]
    fn only_the_span_changes() {
        let base = segs();
        let new = vec![
            Segment::new(900, 1_900, "cut to the span"),
            Segment::new(2_000, 3_900, "new words"),
            Segment::new(4_100, 5_000, "outside: dropped"),
        ];
        let out = splice(&base, 1_200, 4_000, new);
        let texts: Vec<&str> = out.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["one", "cut to the span", "new words", "four"]);
        assert_eq!(out[0], base[0]);
        assert_eq!(out[3], base[3]);
        assert_eq!((out[1].start_ms, out[1].end_ms), (1_200, 1_900));
    }

    #[test]
    fn an_empty_result_removes_the_span_and_a_gap_takes_new_text() {
        let out = splice(&segs(), 1_200, 4_000, Vec::new());
        assert_eq!(out.len(), 2);
        let out = splice(&segs(), 2_600, 2_900, vec![Segment::new(2_600, 2_800, "x")]);
        let texts: Vec<&str> = out.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["one", "two", "x", "three", "four"]);
    }

    #[test]
    fn many_spans_at_once_are_each_span_in_turn() {
        let base: Vec<Segment> = (0..40u64)
            .map(|i| Segment::new(i * 1_000, i * 1_000 + 800, format!("old {i}")))
            .collect();
        let spans = [
            (3_000, 5_000),
            (10_000, 10_800),
            (20_500, 23_000),
            (39_000, 39_800),
        ];
        let new: Vec<Segment> = vec![
            Segment::new(2_000, 3_500, "straddles the first span's start"),
            Segment::new(4_000, 4_900, "in the first"),
            Segment::new(7_000, 7_500, "between spans: dropped"),
            Segment::new(10_100, 10_700, "in the second"),
            Segment::new(21_000, 22_000, "in the third"),
            Segment::new(22_500, 24_000, "  "),
            Segment::new(39_100, 39_900, "in the last"),
        ];
        let one_by_one = spans
            .iter()
            .fold(base.clone(), |acc, &(a, b)| splice(&acc, a, b, new.clone()));
        assert_eq!(splice_all(&base, &spans, new.clone()), one_by_one);
        let texts: Vec<&str> = one_by_one.iter().map(|s| s.text.as_str()).collect();
        assert!(texts.contains(&"in the third") && !texts.contains(&"old 21"));
        assert!(!texts.iter().any(|t| t.contains("dropped")));
        assert_eq!(
            splice_all(&base, &spans, Vec::new()).len(),
            40 - 2 - 1 - 3 - 1
        );
    }
}
