//! The diarization error rate, as pyannote.metrics and NIST's md-eval compute it without a
//! collar and with overlapped speech scored: over every 10 ms of the reference's speech,
//! missed speech (reference speakers beyond the hypothesis's count), false alarm (hypothesis
//! speakers beyond the reference's) and confusion (speakers both have, less those the
//! optimal one-to-one mapping of hypothesis to reference speakers matches), each divided by
//! the reference's total speaker time.

use std::collections::BTreeMap;

use super::Turn;

/// The scoring resolution (ms).
const STEP_MS: u64 = 10;

/// One file's error, as shares of the reference speech (0.0-1.0 each; their sum is the DER).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Der {
    pub missed: f64,
    pub false_alarm: f64,
    pub confusion: f64,
    /// The reference's speaker time (ms, overlaps counted per speaker).
    pub total_ms: u64,
}

impl Der {
    pub fn rate(&self) -> f64 {
        self.missed + self.false_alarm + self.confusion
    }
}

/// Each speaker's set of active 10 ms steps, speakers numbered in name order.
fn activity(turns: &[Turn], steps: usize) -> Vec<Vec<bool>> {
    let mut by: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for t in turns {
        let row = by.entry(&t.speaker).or_insert_with(|| vec![false; steps]);
        let (a, b) = (
            (t.start_ms / STEP_MS) as usize,
            (t.end_ms.div_ceil(STEP_MS) as usize).min(steps),
        );
        for s in row.iter_mut().take(b).skip(a) {
            *s = true;
        }
    }
    by.into_values().collect()
}

/// The mapping of hypothesis to reference speakers that matches the most time, and that
/// time (in steps): every injective mapping tried when there are few speakers, a greedy one
/// beyond eight.
fn best_match(overlap: &[Vec<u64>]) -> u64 {
    let (nh, nr) = (overlap.len(), overlap.first().map_or(0, Vec::len));
    if nh == 0 || nr == 0 {
        return 0;
    }
    if nh.max(nr) > 8 {
        // Greedy: the largest overlaps first.
        let mut pairs: Vec<(u64, usize, usize)> = (0..nh)
            .flat_map(|h| (0..nr).map(move |r| (h, r)))
            .map(|(h, r)| (overlap[h][r], h, r))
            .collect();
        pairs.sort_unstable_by(|a, b| b.cmp(a));
        let (mut used_h, mut used_r) = (vec![false; nh], vec![false; nr]);
        let mut total = 0;
        for (v, h, r) in pairs {
            if !used_h[h] && !used_r[r] {
                used_h[h] = true;
                used_r[r] = true;
                total += v;
            }
        }
        return total;
    }
    fn search(h: usize, overlap: &[Vec<u64>], used: &mut Vec<bool>) -> u64 {
        if h == overlap.len() {
            return 0;
        }
        // Hypothesis speaker h unmapped, or mapped to a free reference speaker.
        let mut best = search(h + 1, overlap, used);
        for r in 0..used.len() {
            if !used[r] {
                used[r] = true;
                best = best.max(overlap[h][r] + search(h + 1, overlap, used));
                used[r] = false;
            }
        }
        best
    }
    search(0, overlap, &mut vec![false; nr])
}

/// The DER of `hypothesis` against `reference` (speaker names need not agree).
pub fn der(reference: &[Turn], hypothesis: &[Turn]) -> Der {
    let end = reference
        .iter()
        .chain(hypothesis)
        .map(|t| t.end_ms)
        .max()
        .unwrap_or(0);
    let steps = end.div_ceil(STEP_MS) as usize;
    let r = activity(reference, steps);
    let h = activity(hypothesis, steps);
    let (mut total, mut missed, mut fa, mut both) = (0u64, 0u64, 0u64, 0u64);
    for s in 0..steps {
        let nr = r.iter().filter(|row| row[s]).count() as u64;
        let nh = h.iter().filter(|row| row[s]).count() as u64;
        total += nr;
        missed += nr.saturating_sub(nh);
        fa += nh.saturating_sub(nr);
        both += nr.min(nh);
    }
    let overlap: Vec<Vec<u64>> = h
        .iter()
        .map(|hr| {
            r.iter()
                .map(|rr| hr.iter().zip(rr).filter(|(a, b)| **a && **b).count() as u64)
                .collect()
        })
        .collect();
    let matched = best_match(&overlap);
    let share = |n: u64| {
        if total == 0 {
            0.0
        } else {
            n as f64 / total as f64
        }
    };
    Der {
        missed: share(missed),
        false_alarm: share(fa),
        confusion: share(both.saturating_sub(matched)),
        total_ms: total * STEP_MS,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    fn t(who: &str, a: u64, b: u64) -> Turn {
        Turn {
            speaker: who.into(),
            start_ms: a,
            end_ms: b,
        }
    }

    #[test]
    fn a_perfect_answer_under_other_names_scores_zero() {
        let r = [t("A", 0, 1_000), t("B", 1_000, 3_000), t("A", 2_500, 4_000)];
        let h = [t("x", 0, 1_000), t("y", 1_000, 3_000), t("x", 2_500, 4_000)];
        let d = der(&r, &h);
        assert_eq!(d.rate(), 0.0);
        // Overlap counted per speaker: 1 + 2 + 1.5 s.
        assert_eq!(d.total_ms, 4_500);
    }

    #[test]
    fn missed_false_alarm_and_confusion_are_told_apart() {
        let r = [t("A", 0, 2_000), t("B", 2_000, 4_000)];
        // Nothing: all missed.
        let d = der(&r, &[]);
        assert_eq!((d.missed, d.false_alarm, d.confusion), (1.0, 0.0, 0.0));
        // One speaker for everything: half confused.
        let d = der(&r, &[t("x", 0, 4_000)]);
        assert!((d.confusion - 0.5).abs() < 1e-9 && d.missed == 0.0);
        // Speech where there is none: false alarm over 1 s of 4.
        let d = der(&r, &[t("x", 0, 2_000), t("y", 2_000, 5_000)]);
        assert!((d.false_alarm - 0.25).abs() < 1e-9 && d.confusion == 0.0);
        // A missed second speaker in an overlap.
        let r2 = [t("A", 0, 2_000), t("B", 1_000, 2_000)];
        let d = der(&r2, &[t("x", 0, 2_000)]);
        assert!((d.missed - 1.0 / 3.0).abs() < 1e-9 && d.confusion == 0.0);
    }

    /// The mapping is the best one, not the first: one hypothesis speaker holding most of A
    /// and some of B is mapped to A.
    #[test]
    fn the_mapping_is_optimal() {
        let r = [t("A", 0, 3_000), t("B", 3_000, 4_000)];
        let h = [t("x", 0, 3_500), t("y", 3_500, 4_000)];
        let d = der(&r, &h);
        assert!((d.confusion - 0.125).abs() < 1e-9, "{d:?}");
        // Many speakers (greedy beyond eight) still score a perfect answer as zero.
        let r: Vec<Turn> = (0..10)
            .map(|i| t(&format!("s{i}"), i * 1_000, i * 1_000 + 1_000))
            .collect();
        let h: Vec<Turn> = (0..10)
            .map(|i| t(&format!("h{}", 9 - i), i * 1_000, i * 1_000 + 1_000))
            .collect();
        assert_eq!(der(&r, &h).rate(), 0.0);
    }

    /// The same numbers pyannote.metrics 3.2 gives (`DiarizationErrorRate(collar=0.0,
    /// skip_overlap=False)`, its detailed components divided by the total) for two fixed
    /// hypotheses on the shared conversations, to 10 ms.
    #[test]
    fn the_rate_agrees_with_pyannote_metrics() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let read = |p: std::path::PathBuf| {
            super::super::read_rttm(&std::fs::read_to_string(p).unwrap()).unwrap()
        };
        // name: DER, missed, false alarm, confusion (%), as pyannote.metrics printed them.
        for (name, want) in [
            ("sample", [18.8, 8.1, 3.5, 7.1]),
            ("ami_dev01", [40.1, 18.3, 0.2, 21.6]),
        ] {
            let reference = read(root.join(format!("../shared/data/diarization/{name}.rttm")));
            let hypothesis = read(root.join(format!("tests/fixtures/diarization/{name}.hyp.rttm")));
            let d = der(&reference, &hypothesis);
            let got = [d.rate(), d.missed, d.false_alarm, d.confusion].map(|x| 100.0 * x);
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 0.3, "{name}: {got:?} vs pyannote {want:?}");
            }
        }
    }
}
