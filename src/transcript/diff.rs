//! Comparing two versions: rows aligned by time, a word-level diff per row, what happened to
//! the segments (split, merged, retimed, added, removed), and a summary (words changed, word
//! error rate of one against the other on normalised words, as `transcript::wer` scores).

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use super::Segment;

/// How a run of words differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Same,
    /// Only on the right (new) side.
    Inserted,
    /// Only on the left (old) side.
    Deleted,
    /// Replaced by (or replacing) words on the other side.
    Changed,
}

/// A run of words on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub kind: Kind,
    pub text: String,
}

/// What happened to a row's segments from left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Structure {
    /// As many segments on each side (the same segments, maybe retimed or reworded).
    Kept,
    /// One segment became several.
    Split,
    /// Several segments became one.
    Merged,
    /// Several became several others.
    Regrouped,
    /// Only on the right.
    Added,
    /// Only on the left.
    Removed,
}

/// One aligned row: the segments of each side that overlap in time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Indices into the left and right versions.
    pub left: Vec<usize>,
    pub right: Vec<usize>,
    pub left_spans: Vec<Span>,
    pub right_spans: Vec<Span>,
    /// Start and end of each side (None for an empty side).
    pub left_time: Option<(u64, u64)>,
    pub right_time: Option<(u64, u64)>,
    /// Split, merged, ... (`Kept`: the same segments each side).
    pub structure: Structure,
    /// The segments' times differ (the same number each side, another start or end).
    pub timing_changed: bool,
    pub text_changed: bool,
}

impl Row {
    /// Anything differs: text, timing or the segments themselves.
    pub fn changed(&self) -> bool {
        self.text_changed || self.timing_changed || self.structure != Structure::Kept
    }
}

/// Totals of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub left_words: usize,
    pub right_words: usize,
    pub substituted: usize,
    pub inserted: usize,
    pub deleted: usize,
    /// (substituted + inserted + deleted) / left words: the right side's word error rate
    /// measured against the left as the reference, on normalised words (case, punctuation
    /// and spelled numbers do not count).
    pub wer: f64,
    /// Rows whose text changed (a comma counts here: it is shown, but it is no word error).
    pub rows_changed: usize,
    pub timing_changes: usize,
    pub splits: usize,
    pub merges: usize,
    /// Segments regrouped otherwise, added or removed (rows).
    pub regrouped: usize,
    pub added: usize,
    pub removed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub rows: Vec<Row>,
    pub summary: Summary,
}

impl Comparison {
    /// One line for people: "text changed in 2 of 4 rows · 1 split · 1 retimed · 2
    /// substituted, 1 inserted, 0 deleted words · WER 13.6%" (parts with nothing to say are
    /// left out).
    pub fn describe(&self) -> String {
        let s = &self.summary;
        let mut parts = vec![format!(
            "text changed in {} of {} rows",
            s.rows_changed,
            self.rows.len()
        )];
        let plural = |n: usize, one: &str, many: &str| {
            (n > 0).then(|| format!("{n} {}", if n == 1 { one } else { many }))
        };
        parts.extend(
            [
                plural(s.splits, "split", "splits"),
                plural(s.merges, "merge", "merges"),
                plural(s.regrouped, "regrouped", "regrouped"),
                plural(s.added, "added", "added"),
                plural(s.removed, "removed", "removed"),
                plural(s.timing_changes, "retimed", "retimed"),
            ]
            .into_iter()
            .flatten(),
        );
        parts.push(format!(
            "{} substituted, {} inserted, {} deleted words · WER {:.1}%",
            s.substituted,
            s.inserted,
            s.deleted,
            s.wer * 100.0
        ));
        parts.join(" · ")
    }
}

fn overlaps(a: &Segment, b: &Segment) -> bool {
    // Touching counts as overlapping only for zero-length segments.
    a.start_ms < b.end_ms && b.start_ms < a.end_ms
        || (a.start_ms == b.start_ms && (a.end_ms == a.start_ms || b.end_ms == b.start_ms))
}

/// Compares `left` (older, the reference) with `right`.
pub fn compare(left: &[Segment], right: &[Segment]) -> Comparison {
    let mut rows = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < left.len() || j < right.len() {
        let mut l: Vec<usize> = Vec::new();
        let mut r: Vec<usize> = Vec::new();
        // Start a group with the earlier segment, then grow it while the other side overlaps.
        let take_left = match (left.get(i), right.get(j)) {
            (Some(a), Some(b)) => a.start_ms <= b.start_ms,
            (Some(_), None) => true,
            _ => false,
        };
        if take_left {
            l.push(i);
            i += 1;
        } else {
            r.push(j);
            j += 1;
        }
        loop {
            let mut grew = false;
            while let Some(b) = right.get(j) {
                if l.iter().any(|&k| overlaps(&left[k], b)) {
                    r.push(j);
                    j += 1;
                    grew = true;
                } else {
                    break;
                }
            }
            while let Some(a) = left.get(i) {
                if r.iter().any(|&k| overlaps(a, &right[k])) {
                    l.push(i);
                    i += 1;
                    grew = true;
                } else {
                    break;
                }
            }
            if !grew {
                break;
            }
        }
        rows.push(row(left, right, l, r));
    }
    let summary = summarize(left, right, &rows);
    Comparison { rows, summary }
}

fn join(segs: &[Segment], idx: &[usize]) -> String {
    idx.iter()
        .map(|&k| segs[k].text.trim())
        .collect::<Vec<_>>()
        .join(" ")
}

fn span_of(segs: &[Segment], idx: &[usize]) -> Option<(u64, u64)> {
    let first = segs.get(*idx.first()?)?;
    let last = segs.get(*idx.last()?)?;
    Some((first.start_ms, last.end_ms))
}

fn row(left: &[Segment], right: &[Segment], l: Vec<usize>, r: Vec<usize>) -> Row {
    let (a, b) = (join(left, &l), join(right, &r));
    let (left_spans, right_spans) = word_spans(&a, &b);
    let structure = match (l.len(), r.len()) {
        (0, _) => Structure::Added,
        (_, 0) => Structure::Removed,
        (x, y) if x == y => Structure::Kept,
        (1, _) => Structure::Split,
        (_, 1) => Structure::Merged,
        _ => Structure::Regrouped,
    };
    let times = |segs: &[Segment], idx: &[usize]| -> Vec<(u64, u64)> {
        idx.iter()
            .map(|&k| (segs[k].start_ms, segs[k].end_ms))
            .collect()
    };
    let timing_changed = structure == Structure::Kept && times(left, &l) != times(right, &r);
    Row {
        structure,
        text_changed: normalize(&a) != normalize(&b),
        left_time: span_of(left, &l),
        right_time: span_of(right, &r),
        left: l,
        right: r,
        left_spans,
        right_spans,
        timing_changed,
    }
}

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The word diff of two texts as spans for each side.
pub fn word_spans(a: &str, b: &str) -> (Vec<Span>, Vec<Span>) {
    let diff = TextDiff::from_words(a, b);
    let mut left: Vec<Span> = Vec::new();
    let mut right: Vec<Span> = Vec::new();
    for op in diff.ops() {
        let changes: Vec<_> = diff.iter_changes(op).collect();
        let has_del = changes.iter().any(|c| c.tag() == ChangeTag::Delete);
        let has_ins = changes.iter().any(|c| c.tag() == ChangeTag::Insert);
        for c in changes {
            let (side, kind) = match c.tag() {
                ChangeTag::Equal => {
                    push(&mut left, Kind::Same, c.value());
                    (&mut right, Kind::Same)
                }
                ChangeTag::Delete => (
                    &mut left,
                    if has_ins {
                        Kind::Changed
                    } else {
                        Kind::Deleted
                    },
                ),
                ChangeTag::Insert => (
                    &mut right,
                    if has_del {
                        Kind::Changed
                    } else {
                        Kind::Inserted
                    },
                ),
            };
            push(side, kind, c.value());
        }
    }
    (left, right)
}

fn push(side: &mut Vec<Span>, kind: Kind, text: &str) {
    match side.last_mut() {
        Some(last) if last.kind == kind => last.text.push_str(text),
        _ => side.push(Span {
            kind,
            text: text.to_string(),
        }),
    }
}

fn summarize(left: &[Segment], right: &[Segment], rows: &[Row]) -> Summary {
    let norm = |segs: &[Segment]| -> Vec<String> {
        segs.iter()
            .flat_map(|s| super::wer::normalize(&s.text))
            .collect()
    };
    let (a, b) = (norm(left), norm(right));
    let diff = similar::capture_diff_slices(similar::Algorithm::Myers, &a, &b);
    let (mut sub, mut ins, mut del) = (0, 0, 0);
    for op in diff {
        match op {
            similar::DiffOp::Equal { .. } => {}
            similar::DiffOp::Delete { old_len, .. } => del += old_len,
            similar::DiffOp::Insert { new_len, .. } => ins += new_len,
            similar::DiffOp::Replace {
                old_len, new_len, ..
            } => {
                let s = old_len.min(new_len);
                sub += s;
                del += old_len - s;
                ins += new_len - s;
            }
        }
    }
    Summary {
        left_words: a.len(),
        right_words: b.len(),
        substituted: sub,
        inserted: ins,
        deleted: del,
        wer: (sub + ins + del) as f64 / a.len().max(1) as f64,
        rows_changed: rows.iter().filter(|r| r.text_changed).count(),
        timing_changes: rows.iter().filter(|r| r.timing_changed).count(),
        splits: count(rows, Structure::Split),
        merges: count(rows, Structure::Merged),
        regrouped: count(rows, Structure::Regrouped),
        added: count(rows, Structure::Added),
        removed: count(rows, Structure::Removed),
    }
}

fn count(rows: &[Row], s: Structure) -> usize {
    rows.iter().filter(|r| r.structure == s).count()
}
