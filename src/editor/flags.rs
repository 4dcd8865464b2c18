//! Quality flags of the open version's segments, computed by a system as segment entities
//! appear or change (only those: an edit of one segment of 10,000 re-checks one).

use bevy::prelude::*;

use super::segments::{SegmentDetail, SegmentText, SegmentTiming};
use crate::transcript::Segment;
use crate::transcript::flags::{Flag, FlagRules, flags};

/// What looks wrong with a segment (empty: nothing).
#[derive(Component, Debug, Clone, Default, PartialEq)]
pub struct SegmentFlags(pub Vec<Flag>);

/// The thresholds the flags use.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct Rules(pub FlagRules);

/// What the flags are computed from changed (or is new).
type Edited = Or<(
    Changed<SegmentText>,
    Changed<SegmentTiming>,
    Changed<SegmentDetail>,
)>;

/// Flags the segments that are new or changed since the last frame.
pub fn flag_segments(
    mut commands: Commands,
    rules: Res<Rules>,
    changed: Query<(Entity, &SegmentTiming, &SegmentText, &SegmentDetail), Edited>,
    mut existing: Query<&mut SegmentFlags>,
) {
    for (entity, timing, text, detail) in &changed {
        let segment = Segment {
            no_speech: detail.no_speech,
            avg_logprob: detail.avg_logprob,
            ..Segment::new(timing.start_ms, timing.end_ms, text.0.as_str())
        };
        let found = SegmentFlags(flags(&segment, &rules.0));
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
