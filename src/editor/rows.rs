//! What the panels read of the open version's segments: one segment as a panel shows it
//! ([`SegmentView`]) and the list of them ([`SegmentRows`]), over the segment entities
//! ([`OpenSegments`]) or a plain list ([`SegmentList`], for tests and benchmarks). Its own
//! file, so that the segment entities and their flags do not read each other.

use bevy::prelude::*;

use super::flags::SegmentFlags;
use super::segments::{SegmentDetail, SegmentId, SegmentText, SegmentTiming, SegmentWords};
use crate::transcript::Segment;
use crate::transcript::edit::SegmentKey;
use crate::transcript::flags::Flag;
use crate::transcript::words::Word;

/// One segment as a panel shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentView<'a> {
    /// Which segment this is: stable while the version is open, whatever is split, merged,
    /// inserted or deleted around it (an edit field belongs to one key).
    pub key: SegmentKey,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: &'a str,
    /// What looks wrong with it (empty: nothing, or not checked yet).
    pub flags: &'a [Flag],
    /// Its words with their times (empty: none known).
    pub words: &'a [Word],
    /// Who speaks in it, when known.
    pub speaker: Option<&'a str>,
}

/// The segments of the open version, in time order, as the panels read them: the entities in
/// the app, a plain list in panel tests.
pub trait SegmentRows {
    fn len(&self) -> usize;
    fn row(&self, i: usize) -> Option<SegmentView<'_>>;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many segments are flagged (the default counts them; the entities keep a count).
    fn flagged_count(&self) -> usize {
        (0..self.len())
            .filter(|&i| self.row(i).is_some_and(|r| !r.flags.is_empty()))
            .count()
    }

    /// The segment playing at `ms` (or the last one starting before it).
    fn index_at(&self, ms: u64) -> Option<usize> {
        // Binary search over the time-ordered rows.
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.row(mid) {
                Some(r) if r.start_ms <= ms => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo.checked_sub(1)
    }
}

/// A plain list of segments as rows (panel tests, and views of lists that are not entities).
#[derive(Debug, Clone)]
pub struct SegmentList<'a> {
    segments: &'a [Segment],
    /// The segments' keys (`None`: the position is the key, for a list that never changes).
    keys: Option<&'a [SegmentKey]>,
    words: Vec<Vec<Word>>,
}

impl<'a> SegmentList<'a> {
    pub fn new(segments: &'a [Segment]) -> Self {
        Self {
            words: segments.iter().map(Segment::words).collect(),
            segments,
            keys: None,
        }
    }

    /// The list of an edit session, with its segments' keys.
    pub fn of_session(session: &'a crate::transcript::edit::EditSession) -> Self {
        Self {
            keys: Some(session.keys()),
            ..Self::new(session.segments())
        }
    }
}

impl SegmentRows for SegmentList<'_> {
    fn len(&self) -> usize {
        self.segments.len()
    }

    /// A plain list carries no flags.
    fn flagged_count(&self) -> usize {
        0
    }

    fn row(&self, i: usize) -> Option<SegmentView<'_>> {
        self.segments.get(i).map(|s| SegmentView {
            key: self
                .keys
                .and_then(|k| k.get(i).copied())
                .unwrap_or(SegmentKey(i as u64)),
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            text: &s.text,
            flags: &[],
            words: self.words.get(i).map_or(&[][..], Vec::as_slice),
            speaker: s.speaker.as_deref(),
        })
    }
}

/// What a panel reads of a segment entity.
pub type SegmentRowData = (
    &'static SegmentId,
    &'static SegmentTiming,
    &'static SegmentText,
    Option<&'static SegmentFlags>,
    Option<&'static SegmentWords>,
    Option<&'static SegmentDetail>,
);

/// The open version's segment entities.
pub struct OpenSegments<'a, 'w, 's> {
    pub order: &'a [Entity],
    pub rows: &'a Query<'w, 's, SegmentRowData>,
    /// How many are flagged (`editor::flags::FlaggedCount`).
    pub flagged: usize,
}

impl SegmentRows for OpenSegments<'_, '_, '_> {
    fn len(&self) -> usize {
        self.order.len()
    }

    fn flagged_count(&self) -> usize {
        self.flagged
    }

    fn row(&self, i: usize) -> Option<SegmentView<'_>> {
        let (id, t, text, flags, words, detail) = self.rows.get(*self.order.get(i)?).ok()?;
        Some(SegmentView {
            key: id.0,
            start_ms: t.start_ms,
            end_ms: t.end_ms,
            text: &text.0,
            flags: flags.map_or(&[], |f| &f.0),
            words: words.map_or(&[], |w| &w.0),
            speaker: detail.and_then(|d| d.speaker.as_deref()),
        })
    }
}
