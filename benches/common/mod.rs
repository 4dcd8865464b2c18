//! Shared by the benchmarks: a reproducible transcript.
#![allow(dead_code)]

use verbatim::transcript::Segment;

pub const WORDS: &[&str] = &[
    "and",
    "so",
    "my",
    "fellow",
    "americans",
    "ask",
    "not",
    "what",
    "your",
    "country",
    "can",
    "do",
    "for",
    "you",
    "the",
    "family",
    "of",
    "dashwood",
    "had",
    "long",
    "been",
    "settled",
    "in",
    "sussex",
    "estate",
    "was",
    "large",
    "residence",
    "at",
    "norland",
    "park",
    "centre",
    "their",
    "property",
];

/// `n` segments of `words` pseudo-random words each, 2.8 s long every 3 s, from `seed`.
pub fn segments(n: usize, words: usize, seed: u64) -> Vec<Segment> {
    let mut s = seed | 1;
    (0..n)
        .map(|i| {
            let text: Vec<&str> = (0..words)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    WORDS[(s % WORDS.len() as u64) as usize]
                })
                .collect();
            let mut seg = Segment::new(i as u64 * 3000, i as u64 * 3000 + 2800, text.join(" "));
            seg.confidence = Some(0.8);
            seg
        })
        .collect()
}
