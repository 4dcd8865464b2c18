//! Quality flags of the open version's segments, computed by a system as segment entities
//! appear or change (only those: an edit of one segment of 10,000 re-checks one).

use bevy::prelude::*;

use super::segments::{SegmentDetail, SegmentText, SegmentTiming};
use crate::transcript::Segment;
use crate::transcript::flags::{Flag, FlagRules, flags_with_speech};

/// What looks wrong with a segment (empty: nothing).
#[derive(Component, Debug, Clone, Default, PartialEq)]
pub struct SegmentFlags(pub Vec<Flag>);

/// The thresholds the flags use.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct Rules(pub FlagRules);

/// How many segment entities are flagged (kept by [`flag_segments`]: counted again only when
/// a flag changed, so the panel does not count 10,000 segments a frame).
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlaggedCount(pub usize);

/// Where the voice activity model heard speech in the open file (ms spans; `None`: unknown).
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct DocSpeech(pub Option<Vec<(u64, u64)>>);

/// What the flags are computed from changed (or is new).
type Edited = Or<(
    Changed<SegmentText>,
    Changed<SegmentTiming>,
    Changed<SegmentDetail>,
)>;

/// The segment data the flags are computed from.
type FlagInput = (
    Entity,
    &'static SegmentTiming,
    &'static SegmentText,
    &'static SegmentDetail,
);

/// Flags the segments that are new or changed since the last frame (all of them when the
/// file's speech regions arrive or change).
pub fn flag_segments(
    mut commands: Commands,
    rules: Res<Rules>,
    speech: Option<Res<DocSpeech>>,
    changed: Query<FlagInput, Edited>,
    all: Query<FlagInput>,
    mut existing: Query<&mut SegmentFlags>,
) {
    let todo: Vec<_> = if speech.as_ref().is_some_and(|s| s.is_changed()) {
        all.iter().collect()
    } else {
        changed.iter().collect()
    };
    for (entity, timing, text, detail) in todo {
        let segment = Segment {
            no_speech: detail.no_speech,
            avg_logprob: detail.avg_logprob,
            ..Segment::new(timing.start_ms, timing.end_ms, text.0.as_str())
        };
        let found = SegmentFlags(flags_with_speech(
            &segment,
            &rules.0,
            speech.as_ref().and_then(|s| s.0.as_deref()),
        ));
        match existing.get_mut(entity) {
            Ok(mut f) => {
                f.set_if_neq(found);
            }
            Err(_) => {
                commands.entity(entity).insert(found);
            }
        }
    }
}

/// Counts the flagged segments again when a flag appeared, changed or went.
pub fn count_flagged(
    changed: Query<(), Changed<SegmentFlags>>,
    mut removed: RemovedComponents<SegmentFlags>,
    all: Query<&SegmentFlags>,
    mut count: ResMut<FlaggedCount>,
) {
    let gone = removed.read().count() > 0;
    if changed.is_empty() && !gone {
        return;
    }
    count.set_if_neq(FlaggedCount(all.iter().filter(|f| !f.0.is_empty()).count()));
}
