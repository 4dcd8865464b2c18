//! Editing a transcript version: segments, the edits the editor offers, validation, and an
//! undo/redo history. ECS-free; the editor panel and the CLI drive it.
//!
//! A version is a list of segments in time order. Every edit checks the whole result (no
//! overlaps, end after start, nothing beyond the audio, no empty text) and is refused with a
//! message when it would break one; nothing invalid ever reaches a saved version.

use serde::{Deserialize, Serialize};

use crate::storage::repo::NewSegment;

/// One segment being edited: the same record a version is saved from. Word timings (as the
/// model gave them) are cleared when an edit changes the text or the timing.
pub type Seg = NewSegment;

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
}

/// Checks a whole list of segments.
pub fn validate(segments: &[Seg], duration_ms: u64) -> Result<(), EditError> {
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
}

/// Applies `edit` to a copy of `segments` and validates the result.
pub fn apply(segments: &[Seg], edit: &Edit, duration_ms: u64) -> Result<Vec<Seg>, EditError> {
    let mut out = segments.to_vec();
    let get = |i: usize| -> Result<(), EditError> {
        if i < segments.len() {
            Ok(())
        } else {
            Err(EditError::NoSuchSegment(i))
        }
    };
    match edit {
        Edit::SetText { index, text } => {
            get(*index)?;
            if out[*index].text != *text {
                out[*index].text = text.clone();
                out[*index].words_json = None;
            }
        }
        Edit::SetTimes {
            index,
            start_ms,
            end_ms,
        } => {
            get(*index)?;
            let s = &mut out[*index];
            s.start_ms = *start_ms;
            s.end_ms = *end_ms;
            s.words_json = None;
        }
        Edit::Split {
            index,
            at_ms,
            at_char,
        } => {
            get(*index)?;
            let s = out[*index].clone();
            if *at_ms <= s.start_ms || *at_ms >= s.end_ms {
                return Err(EditError::SplitOutside {
                    index: *index,
                    at_ms: *at_ms,
                });
            }
            let chars: Vec<char> = s.text.chars().collect();
            let cut = match at_char {
                Some(c) => (*c).min(chars.len()),
                None => {
                    // The word boundary nearest the time's share of the segment.
                    let share = (*at_ms - s.start_ms) as f64 / (s.end_ms - s.start_ms) as f64;
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
            let mut a = Seg {
                end_ms: *at_ms,
                text: if first.is_empty() {
                    s.text.clone()
                } else {
                    first
                },
                words_json: None,
                ..s.clone()
            };
            let b = Seg {
                start_ms: *at_ms,
                text: if second.is_empty() {
                    "…".into()
                } else {
                    second
                },
                words_json: None,
                ..s
            };
            if a.text.trim().is_empty() {
                a.text = "…".into();
            }
            out[*index] = a;
            out.insert(index + 1, b);
        }
        Edit::Merge { index } => {
            get(*index)?;
            if index + 1 >= out.len() {
                return Err(EditError::NothingToMerge(*index));
            }
            let next = out.remove(index + 1);
            let s = &mut out[*index];
            s.end_ms = next.end_ms;
            s.text = format!("{} {}", s.text.trim_end(), next.text.trim_start());
            s.confidence = match (s.confidence, next.confidence) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            };
            s.words_json = None;
        }
        Edit::Delete { index } => {
            get(*index)?;
            out.remove(*index);
        }
        Edit::Insert { after, text } => {
            let (lo, at) = match after {
                Some(i) => {
                    get(*i)?;
                    (out[*i].end_ms, i + 1)
                }
                None => (0, 0),
            };
            let hi = out
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
            out.insert(at, Seg::new(lo, end, text.clone()));
        }
        Edit::Nudge { at_ms, delta_ms } => {
            // The nearest start or end.
            let mut best: Option<(u64, usize, bool)> = None;
            for (i, s) in out.iter().enumerate() {
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
            let s = &mut out[i];
            let t = if is_end {
                &mut s.end_ms
            } else {
                &mut s.start_ms
            };
            let old = *t;
            *t = t.saturating_add_signed(*delta_ms);
            let new = *t;
            s.words_json = None;
            // A boundary two segments share moves for both, keeping them adjacent.
            let neighbour = if is_end {
                out.get_mut(i + 1)
            } else {
                i.checked_sub(1).and_then(|p| out.get_mut(p))
            };
            if let Some(n) = neighbour {
                let t = if is_end {
                    &mut n.start_ms
                } else {
                    &mut n.end_ms
                };
                if *t == old {
                    *t = new;
                    n.words_json = None;
                }
            }
        }
    }
    validate(&out, duration_ms)?;
    Ok(out)
}

/// The segments of a version being edited, with undo and redo.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EditSession {
    pub segments: Vec<Seg>,
    pub duration_ms: u64,
    undo: Vec<Vec<Seg>>,
    redo: Vec<Vec<Seg>>,
    /// The segments as saved (to tell whether there is anything to save).
    saved: Vec<Seg>,
}

impl EditSession {
    pub fn new(segments: Vec<Seg>, duration_ms: u64) -> Self {
        Self {
            saved: segments.clone(),
            segments,
            duration_ms,
            undo: Vec::new(),
            redo: Vec::new(),
        }
    }

    /// Applies an edit; refused edits change nothing.
    pub fn apply(&mut self, edit: &Edit) -> Result<(), EditError> {
        let next = apply(&self.segments, edit, self.duration_ms)?;
        if next != self.segments {
            self.undo.push(std::mem::replace(&mut self.segments, next));
            self.redo.clear();
        }
        Ok(())
    }

    pub fn undo(&mut self) -> bool {
        match self.undo.pop() {
            Some(prev) => {
                self.redo.push(std::mem::replace(&mut self.segments, prev));
                true
            }
            None => false,
        }
    }

    pub fn redo(&mut self) -> bool {
        match self.redo.pop() {
            Some(next) => {
                self.undo.push(std::mem::replace(&mut self.segments, next));
                true
            }
            None => false,
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Whether there are unsaved changes.
    pub fn dirty(&self) -> bool {
        self.segments != self.saved
    }

    /// The segments as last saved.
    pub fn saved_segments(&self) -> Vec<Seg> {
        self.saved.clone()
    }

    /// The current segments became a saved version.
    pub fn mark_saved(&mut self) {
        self.saved = self.segments.clone();
    }

    /// The segment playing at `ms` (or the last one starting before it).
    pub fn segment_at(&self, ms: u64) -> Option<usize> {
        let i = self.segments.partition_point(|s| s.start_ms <= ms);
        i.checked_sub(1)
    }
}
