//! Editing a transcript version: segments, the edits the editor offers, validation, and an
//! undo/redo history. ECS-free; the editor panel and the CLI drive it.
//!
//! A version is a list of segments in time order. Every edit checks what it changed against
//! its neighbours (no overlaps, end after start, nothing beyond the audio, no empty text) and
//! is refused with a message when it would break one; saving checks the whole list, so
//! nothing invalid ever reaches a saved version.

use serde::{Deserialize, Serialize};

use super::{Segment, words};

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("segment {0} does not exist")]
    NoSuchSegment(usize),
    #[error("segment {index} would end ({end_ms} ms) before it starts ({start_ms} ms)")]
    EndBeforeStart {
        index: usize,
        start_ms: u64,
        end_ms: u64,
    },
    #[error("segment {index} would overlap segment {other} ({overlap_ms} ms)")]
    Overlap {
        index: usize,
        other: usize,
        overlap_ms: u64,
    },
    #[error("segment {index} would end at {end_ms} ms, after the audio ({duration_ms} ms)")]
    BeyondAudio {
        index: usize,
        end_ms: u64,
        duration_ms: u64,
    },
    #[error("segment {0} would have no text (delete it instead)")]
    EmptyText(usize),
    #[error("cannot split segment {index} at {at_ms} ms: that is not inside it")]
    SplitOutside { index: usize, at_ms: u64 },
    #[error("segment {0} is the last one: there is nothing to merge it with")]
    NothingToMerge(usize),
    #[error("no room for a new segment there")]
    NoRoom,
    #[error("no segment is spoken by {0}")]
    NoSuchSpeaker(String),
    #[error("a speaker needs a name")]
    EmptySpeaker,
}

/// Checks a whole list of segments.
pub fn validate(segments: &[Segment], duration_ms: u64) -> Result<(), EditError> {
    for (i, s) in segments.iter().enumerate() {
        if s.end_ms < s.start_ms {
            return Err(EditError::EndBeforeStart {
                index: i,
                start_ms: s.start_ms,
                end_ms: s.end_ms,
            });
        }
        if duration_ms > 0 && s.end_ms > duration_ms {
            return Err(EditError::BeyondAudio {
                index: i,
                end_ms: s.end_ms,
                duration_ms,
            });
        }
        if s.text.trim().is_empty() {
            return Err(EditError::EmptyText(i));
        }
        if i > 0 {
            let prev = &segments[i - 1];
            if s.start_ms < prev.end_ms {
                return Err(EditError::Overlap {
                    index: i,
                    other: i - 1,
                    overlap_ms: prev.end_ms - s.start_ms,
                });
            }
        }
    }
    Ok(())
}

/// An edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Edit {
    SetText {
        index: usize,
        text: String,
    },
    SetTimes {
        index: usize,
        start_ms: u64,
        end_ms: u64,
    },
    /// Splits at `at_ms`; the text is split at character `at_char` (the cursor), or at the
    /// word nearest the time's proportion when `None`.
    Split {
        index: usize,
        at_ms: u64,
        at_char: Option<usize>,
    },
    /// Merges with the next segment.
    Merge {
        index: usize,
    },
    Delete {
        index: usize,
    },
    /// Inserts a segment in the gap after `after` (or before the first when `None`).
    Insert {
        after: Option<usize>,
        text: String,
    },
    /// Moves the boundary nearest `at_ms` by `delta_ms`.
    Nudge {
        at_ms: u64,
        delta_ms: i64,
    },
    /// Who speaks in a segment (`None`: nobody said).
    SetSpeaker {
        index: usize,
        speaker: Option<String>,
    },
    /// Every segment `from` speaks in given to `to`: a rename, or two names of one person
    /// made one.
    RenameSpeaker {
        from: String,
        to: String,
    },
}

/// What an edit does to the list: the `removed` segments from `at` on are replaced by
/// `inserted`. Each inserted segment either continues one of the removed ones (`Some(i)`:
/// the same segment, changed; it keeps its key) or is new (`None`).
struct Plan {
    at: usize,
    removed: usize,
    inserted: Vec<(Option<usize>, Segment)>,
}

/// Works out what `edit` replaces, without validating the result.
fn plan(segments: &[Segment], edit: &Edit, duration_ms: u64) -> Result<Plan, EditError> {
    let get = |i: usize| -> Result<&Segment, EditError> {
        segments.get(i).ok_or(EditError::NoSuchSegment(i))
    };
    let one = |i: usize, s: Segment| Plan {
        at: i,
        removed: 1,
        inserted: vec![(Some(i), s)],
    };
    Ok(match edit {
        Edit::SetSpeaker { index, speaker } => {
            let mut s = get(*index)?.clone();
            s.speaker = speaker
                .as_deref()
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_owned);
            one(*index, s)
        }
        Edit::RenameSpeaker { from, to } => {
            let to = to.trim();
            if to.is_empty() {
                return Err(EditError::EmptySpeaker);
            }
            let theirs = |s: &Segment| s.speaker.as_deref() == Some(from.as_str());
            let (Some(a), Some(b)) = (
                segments.iter().position(theirs),
                segments.iter().rposition(theirs),
            ) else {
                return Err(EditError::NoSuchSpeaker(from.clone()));
            };
            Plan {
                at: a,
                removed: b - a + 1,
                inserted: (a..=b)
                    .map(|i| {
                        let mut s = segments[i].clone();
                        if theirs(&s) {
                            s.speaker = Some(to.to_owned());
                        }
                        (Some(i), s)
                    })
                    .collect(),
            }
        }
        Edit::SetText { index, text } => {
            let mut s = get(*index)?.clone();
            if s.text != *text {
                s.text = text.clone();
                s.forget_model_output();
            }
            one(*index, s)
        }
        Edit::SetTimes {
            index,
            start_ms,
            end_ms,
        } => {
            let mut s = get(*index)?.clone();
            if (s.start_ms, s.end_ms) != (*start_ms, *end_ms) {
                s.start_ms = *start_ms;
                s.end_ms = *end_ms;
                s.forget_model_output();
            }
            one(*index, s)
        }
        Edit::Split {
            index,
            at_ms,
            at_char,
        } => split(get(*index)?.clone(), *index, *at_ms, *at_char)?,
        Edit::Merge { index } => merge(segments, get(*index)?.clone(), *index)?,
        Edit::Delete { index } => {
            get(*index)?;
            Plan {
                at: *index,
                removed: 1,
                inserted: Vec::new(),
            }
        }
        Edit::Insert { after, text } => {
            let (lo, at) = match after {
                Some(i) => (get(*i)?.end_ms, i + 1),
                None => (0, 0),
            };
            let hi = segments
                .get(at)
                .map(|s| s.start_ms)
                .unwrap_or(if duration_ms > 0 {
                    duration_ms
                } else {
                    lo + 2000
                });
            if hi <= lo {
                return Err(EditError::NoRoom);
            }
            let end = hi.min(lo + 2000);
            Plan {
                at,
                removed: 0,
                inserted: vec![(None, Segment::new(lo, end, text.clone()))],
            }
        }
        Edit::Nudge { at_ms, delta_ms } => {
            // The nearest start or end: the segments are in time order, so it belongs to one
            // of the two around the first segment starting after `at_ms`.
            let p = segments.partition_point(|s| s.start_ms <= *at_ms);
            let mut best: Option<(u64, usize, bool)> = None;
            let lo = p.saturating_sub(2);
            let near = segments.iter().enumerate().skip(lo).take(p + 1 - lo);
            for (i, s) in near {
                for (t, is_end) in [(s.start_ms, false), (s.end_ms, true)] {
                    let d = t.abs_diff(*at_ms);
                    if best.is_none_or(|(bd, _, _)| d < bd) {
                        best = Some((d, i, is_end));
                    }
                }
            }
            let Some((_, i, is_end)) = best else {
                return Err(EditError::NoSuchSegment(0));
            };
            // The boundary two segments share moves for both, keeping them adjacent.
            let lo = if !is_end && i > 0 { i - 1 } else { i };
            let hi = if is_end && i + 1 < segments.len() {
                i + 2
            } else {
                i + 1
            };
            let mut part: Vec<(Option<usize>, Segment)> =
                (lo..hi).map(|j| (Some(j), segments[j].clone())).collect();
            let k = i - lo;
            let s = &mut part[k].1;
            let t = if is_end {
                &mut s.end_ms
            } else {
                &mut s.start_ms
            };
            let old = *t;
            *t = t.saturating_add_signed(*delta_ms);
            let new = *t;
            s.forget_model_output();
            let neighbour = if is_end { k + 1 } else { k.wrapping_sub(1) };
            if let Some((_, n)) = part.get_mut(neighbour) {
                let t = if is_end {
                    &mut n.start_ms
                } else {
                    &mut n.end_ms
                };
                if *t == old {
                    *t = new;
                    n.forget_model_output();
                }
            }
            Plan {
                at: lo,
                removed: hi - lo,
                inserted: part,
            }
        }
    })
}

/// Segment `index` (`s`) split at `at_ms`: at character `at_char` when given (the text
/// cursor), else at the word boundary nearest the time (with word times, the time moves to
/// that boundary); the words before the cut go with the first part.
fn split(s: Segment, index: usize, at_ms: u64, at_char: Option<usize>) -> Result<Plan, EditError> {
    if at_ms <= s.start_ms || at_ms >= s.end_ms {
        return Err(EditError::SplitOutside { index, at_ms });
    }
    let words = s.words();
    let tokens = words::tokens(&s.text);
    let chars: Vec<char> = s.text.chars().collect();
    let char_of_byte = |b: usize| s.text[..b].chars().count();
    // With word times and no cursor, the cut is made at the word boundary nearest the
    // time, and the time moves to that boundary.
    let at_word = match at_char {
        None => words::cut_at(&words, at_ms)
            .filter(|(_, t)| *t > s.start_ms && *t < s.end_ms)
            .and_then(|(k, t)| Some((char_of_byte(tokens.get(k)?.0), t))),
        Some(_) => None,
    };
    let at_ms = at_word.map_or(at_ms, |(_, t)| t);
    let cut = match (at_char, at_word) {
        (Some(c), _) => c.min(chars.len()),
        (None, Some((c, _))) => c,
        (None, None) => {
            // The word boundary nearest the time's share of the segment.
            let share = (at_ms - s.start_ms) as f64 / (s.end_ms - s.start_ms) as f64;
            let target = (share * chars.len() as f64) as usize;
            (0..=chars.len())
                .filter(|&i| i == 0 || i == chars.len() || chars[i - 1] == ' ')
                .min_by_key(|&i| i.abs_diff(target))
                .unwrap_or(target)
        }
    };
    let first: String = chars[..cut].iter().collect();
    let second: String = chars[cut..].iter().collect();
    let (first, second) = (first.trim().to_string(), second.trim().to_string());
    // The words before the cut go with the first part.
    let cut_byte: usize = chars[..cut].iter().map(|c| c.len_utf8()).sum();
    let k = tokens
        .partition_point(|(b, _)| *b < cut_byte)
        .min(words.len());
    let (mut first_words, mut second_words) = if words.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        (words[..k].to_vec(), words[k..].to_vec())
    };
    words::clip(&mut first_words, s.start_ms, at_ms);
    words::clip(&mut second_words, at_ms, s.end_ms);
    let mut a = Segment {
        end_ms: at_ms,
        text: if first.is_empty() {
            s.text.clone()
        } else {
            first
        },
        no_speech: None,
        avg_logprob: None,
        ..s.clone()
    };
    a.set_words(if a.text == s.text { &[] } else { &first_words });
    let mut b = Segment {
        start_ms: at_ms,
        text: if second.is_empty() {
            "…".into()
        } else {
            second
        },
        no_speech: None,
        avg_logprob: None,
        ..s
    };
    b.set_words(&second_words);
    if a.text.trim().is_empty() {
        a.text = "…".into();
    }
    Ok(Plan {
        at: index,
        removed: 1,
        inserted: vec![(Some(index), a), (None, b)],
    })
}

/// Segment `index` (`s`) merged with the one after it: one text, the words of both in order.
fn merge(segments: &[Segment], mut s: Segment, index: usize) -> Result<Plan, EditError> {
    let Some(next) = segments.get(index + 1) else {
        return Err(EditError::NothingToMerge(index));
    };
    // The words of both, in order (a side without word times adds its words untimed).
    let side = |seg: &Segment| {
        let w = seg.words();
        if w.is_empty() {
            words::realign(&[], &seg.text)
        } else {
            w
        }
    };
    let mut merged = side(&s);
    merged.extend(side(next));
    s.end_ms = next.end_ms;
    s.text = format!("{} {}", s.text.trim_end(), next.text.trim_start());
    s.set_words(&merged);
    s.confidence = match (s.confidence, next.confidence) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    };
    s.forget_model_output();
    Ok(Plan {
        at: index,
        removed: 2,
        inserted: vec![(Some(index), s)],
    })
}

/// Applies `edit` to a copy of `segments` and validates the whole result.
pub fn apply(
    segments: &[Segment],
    edit: &Edit,
    duration_ms: u64,
) -> Result<Vec<Segment>, EditError> {
    let p = plan(segments, edit, duration_ms)?;
    let mut out = segments.to_vec();
    out.splice(
        p.at..p.at + p.removed,
        p.inserted.into_iter().map(|(_, s)| s),
    );
    validate(&out, duration_ms)?;
    Ok(out)
}

/// Checks segments `lo..hi` of a list, against each other and the one before `lo`.
fn validate_range(
    segments: &[Segment],
    lo: usize,
    hi: usize,
    duration_ms: u64,
) -> Result<(), EditError> {
    let lo = lo.saturating_sub(1);
    let hi = hi.min(segments.len());
    if lo >= hi {
        return Ok(());
    }
    validate(&segments[lo..hi], duration_ms).map_err(|e| e.shifted(lo))
}

impl EditError {
    /// The same error about a list that starts `by` segments later.
    fn shifted(self, by: usize) -> Self {
        match self {
            Self::NoSuchSegment(i) => Self::NoSuchSegment(i + by),
            Self::EndBeforeStart {
                index,
                start_ms,
                end_ms,
            } => Self::EndBeforeStart {
                index: index + by,
                start_ms,
                end_ms,
            },
            Self::Overlap {
                index,
                other,
                overlap_ms,
            } => Self::Overlap {
                index: index + by,
                other: other + by,
                overlap_ms,
            },
            Self::BeyondAudio {
                index,
                end_ms,
                duration_ms,
            } => Self::BeyondAudio {
                index: index + by,
                end_ms,
                duration_ms,
            },
            Self::EmptyText(i) => Self::EmptyText(i + by),
            Self::SplitOutside { index, at_ms } => Self::SplitOutside {
                index: index + by,
                at_ms,
            },
            Self::NothingToMerge(i) => Self::NothingToMerge(i + by),
            Self::NoRoom => Self::NoRoom,
            Self::NoSuchSpeaker(w) => Self::NoSuchSpeaker(w),
            Self::EmptySpeaker => Self::EmptySpeaker,
        }
    }
}

/// A segment's identity while a version is open: it survives edits of its text and timing
/// (and a split keeps it on the first half), so what shows a segment can follow it by key
/// instead of by its position, which shifts with every split, merge, insert and delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentKey(pub u64);

/// Keys are unique in the whole process, not just in one session: a key names one segment of
/// one open document, so a field or view holding a key from a document closed since can never
/// match a segment of the one open now.
static NEXT_KEY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl SegmentKey {
    fn fresh() -> Self {
        Self(NEXT_KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

/// One change of the list, as the ECS mirror of the open version applies it: the segments
/// with `removed` keys from `at` on were replaced by `inserted`. A key in both is the same
/// segment, changed (or not).
#[derive(Debug, Clone, PartialEq)]
pub struct Splice {
    pub at: usize,
    pub removed: Vec<(SegmentKey, Segment)>,
    pub inserted: Vec<(SegmentKey, Segment)>,
}

impl Splice {
    fn inverse(&self) -> Self {
        Self {
            at: self.at,
            removed: self.inserted.clone(),
            inserted: self.removed.clone(),
        }
    }
}

/// What changed since the mirror last looked.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Everything: a new version was opened (or too much changed to say piece by piece).
    Reset,
    Splice(Splice),
}

/// An undoable step: the splice, and the states before and after it.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    splice: Splice,
    before: u64,
    after: u64,
}

/// How many changes the session keeps for the mirror before it says `Reset` instead.
const MAX_PENDING: usize = 256;

/// The segments of a version being edited, with undo and redo. An edit costs what it touches
/// (the splice and its neighbours are validated, the history keeps only the replaced
/// segments), not the length of the transcript.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EditSession {
    segments: Vec<Segment>,
    keys: Vec<SegmentKey>,
    pub duration_ms: u64,
    undo: Vec<Step>,
    redo: Vec<Step>,
    /// The segments as saved (to export the saved version).
    saved: Vec<Segment>,
    /// Which state the list is in (each edit makes a new one; undo and redo return to
    /// earlier ones) and which state was saved: unsaved changes are a comparison of two
    /// numbers, not of two lists.
    state: u64,
    saved_state: u64,
    next_state: u64,
    pending: Vec<Change>,
}

impl EditSession {
    pub fn new(segments: Vec<Segment>, duration_ms: u64) -> Self {
        let keys = segments.iter().map(|_| SegmentKey::fresh()).collect();
        Self {
            saved: segments.clone(),
            keys,
            segments,
            duration_ms,
            undo: Vec::new(),
            redo: Vec::new(),
            state: 0,
            saved_state: 0,
            next_state: 1,
            pending: vec![Change::Reset],
        }
    }

    /// The segments, in time order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The segments' keys, in the same order.
    pub fn keys(&self) -> &[SegmentKey] {
        &self.keys
    }

    /// Where the segment with this key is now (`None`: it was merged away or deleted).
    pub fn index_of(&self, key: SegmentKey) -> Option<usize> {
        self.keys.iter().position(|k| *k == key)
    }

    /// Replaces every segment with `segments` as one undoable step (an autosaved draft of
    /// unsaved edits restored over the version it was made from). Refused, changing nothing,
    /// when the list is not valid.
    pub fn replace_all(&mut self, segments: Vec<Segment>) -> Result<(), EditError> {
        validate(&segments, self.duration_ms)?;
        if segments == self.segments {
            return Ok(());
        }
        let inserted = segments
            .into_iter()
            .map(|s| (SegmentKey::fresh(), s))
            .collect();
        let splice = Splice {
            at: 0,
            removed: self
                .keys
                .iter()
                .copied()
                .zip(self.segments.iter().cloned())
                .collect(),
            inserted,
        };
        self.splice(&splice);
        self.push_step(splice);
        Ok(())
    }

    /// A splice just made becomes a new state and an undoable step.
    fn push_step(&mut self, splice: Splice) {
        let step = Step {
            before: self.state,
            after: self.next_state,
            splice: splice.clone(),
        };
        self.next_state += 1;
        self.state = step.after;
        self.undo.push(step);
        self.redo.clear();
        self.record(Change::Splice(splice));
    }

    /// Applies an edit; refused edits change nothing.
    pub fn apply(&mut self, edit: &Edit) -> Result<(), EditError> {
        let p = plan(&self.segments, edit, self.duration_ms)?;
        let range = p.at..p.at + p.removed;
        let unchanged = p.inserted.len() == p.removed
            && p.inserted
                .iter()
                .zip(&self.segments[range.clone()])
                .all(|((_, new), old)| new == old);
        if unchanged {
            return Ok(());
        }
        let inserted: Vec<(SegmentKey, Segment)> = p
            .inserted
            .into_iter()
            .map(|(from, s)| {
                let key = match from {
                    Some(i) => self.keys[i],
                    None => SegmentKey::fresh(),
                };
                (key, s)
            })
            .collect();
        let splice = Splice {
            at: p.at,
            removed: range
                .clone()
                .map(|i| (self.keys[i], self.segments[i].clone()))
                .collect(),
            inserted,
        };
        self.splice(&splice);
        let (lo, hi) = (splice.at, splice.at + splice.inserted.len() + 1);
        if let Err(e) = validate_range(&self.segments, lo, hi, self.duration_ms) {
            self.splice(&splice.inverse());
            return Err(e);
        }
        self.push_step(splice);
        Ok(())
    }

    fn splice(&mut self, s: &Splice) {
        let range = s.at..s.at + s.removed.len();
        self.segments
            .splice(range.clone(), s.inserted.iter().map(|(_, seg)| seg.clone()));
        self.keys.splice(range, s.inserted.iter().map(|(k, _)| *k));
    }

    fn record(&mut self, change: Change) {
        if self.pending.len() >= MAX_PENDING || self.pending.first() == Some(&Change::Reset) {
            // A reset already says everything.
            self.pending = vec![Change::Reset];
        } else {
            self.pending.push(change);
        }
    }

    pub fn undo(&mut self) -> bool {
        let Some(step) = self.undo.pop() else {
            return false;
        };
        let inverse = step.splice.inverse();
        self.splice(&inverse);
        self.state = step.before;
        self.redo.push(step);
        self.record(Change::Splice(inverse));
        true
    }

    pub fn redo(&mut self) -> bool {
        let Some(step) = self.redo.pop() else {
            return false;
        };
        self.splice(&step.splice);
        self.state = step.after;
        self.record(Change::Splice(step.splice.clone()));
        self.undo.push(step);
        true
    }

    /// Whether there are changes the mirror has not taken yet.
    pub fn has_changes(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The changes since the last call, oldest first (for the ECS mirror of the open version).
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.pending)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Whether there are unsaved changes.
    /// Which state the list is in: the same number means the same segments (undo returns to
    /// an earlier number), so a view of them can be cached by it.
    pub fn revision(&self) -> u64 {
        self.state
    }

    pub fn dirty(&self) -> bool {
        self.state != self.saved_state
    }

    /// The segments as last saved.
    pub fn saved_segments(&self) -> &[Segment] {
        &self.saved
    }

    /// The current segments became a saved version.
    pub fn mark_saved(&mut self) {
        self.saved = self.segments.clone();
        self.saved_state = self.state;
    }

    /// The segment playing at `ms` (or the last one starting before it).
    pub fn segment_at(&self, ms: u64) -> Option<usize> {
        segment_at(&self.segments, ms)
    }
}

/// The segment of a time-ordered list playing at `ms` (or the last one starting before it).
pub fn segment_at(segments: &[Segment], ms: u64) -> Option<usize> {
    segments
        .partition_point(|s| s.start_ms <= ms)
        .checked_sub(1)
}
