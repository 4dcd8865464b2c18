//! The open transcript as entities: its versions ([`TranscriptVersion`], related to the
//! [`Transcript`](crate::library::transcripts::Transcript) entity by [`VersionOf`]) and the
//! segments of the open version ([`SegmentOf`] it, in time order in its [`Segments`]), each
//! carrying its key, timing, text and details as components.
//!
//! The editor's core ([`EditSession`](crate::transcript::edit::EditSession)) validates edits on
//! a plain list and says what each edit replaced ([`Change`]); [`mirror`] applies exactly that
//! to the entities, by segment key: an edit of one segment of 10,000 touches one entity, and
//! systems that react to `Changed<SegmentText>` (quality flags, word alignment) see only it.
//! The panels read the entities ([`SegmentRows`](super::rows::SegmentRows)).

use std::collections::HashMap;

use bevy::prelude::*;

use super::Editor;
use crate::library::transcripts::Transcript;
use crate::transcript::Segment;
use crate::transcript::edit::{Change, SegmentKey};
use crate::transcript::sql::VersionRow;
use crate::transcript::words::Word;

/// A version of a transcript (of the one open in the editor).
#[derive(Component, Debug, Clone, PartialEq)]
pub struct TranscriptVersion(pub VersionRow);

/// The version belongs to this transcript entity.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
#[relationship(relationship_target = Versions)]
pub struct VersionOf(pub Entity);

/// The versions of a transcript entity, oldest first.
#[derive(Component, Debug, Default, PartialEq, Eq)]
#[relationship_target(relationship = VersionOf)]
pub struct Versions(Vec<Entity>);

impl Versions {
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

/// The version open in the editor (its segments are entities).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenVersion;

/// The segment belongs to this version entity.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
#[relationship(relationship_target = Segments)]
pub struct SegmentOf(pub Entity);

/// The segments of a version entity, in time order (they go with it).
#[derive(Component, Debug, Default, PartialEq, Eq)]
#[relationship_target(relationship = SegmentOf, linked_spawn)]
pub struct Segments(Vec<Entity>);

impl Segments {
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

/// The segment's key: stable while the version is open, whatever is split or merged around it.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentId(pub SegmentKey);

#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentTiming {
    pub start_ms: u64,
    pub end_ms: u64,
}

#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct SegmentText(pub String);

/// What the model said about the segment, and who speaks.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct SegmentDetail {
    pub confidence: Option<f32>,
    pub words_json: Option<String>,
    pub speaker: Option<String>,
    pub no_speech: Option<f32>,
    pub avg_logprob: Option<f32>,
}

/// The segment's words, aligned with its text (see `transcript::words`); empty when it has
/// no word times. Computed by [`align_words`] when the text or the details change.
#[derive(Component, Debug, Clone, Default, PartialEq)]
pub struct SegmentWords(pub Vec<Word>);

/// What the words are aligned from.
type WordInput = (
    Entity,
    &'static SegmentTiming,
    &'static SegmentText,
    &'static SegmentDetail,
);

/// What the words are aligned from changed (or is new).
type WordsStale = Or<(Changed<SegmentText>, Changed<SegmentDetail>)>;

/// Gives the segments that are new or changed since the last frame their words.
pub fn align_words(
    mut commands: Commands,
    changed: Query<WordInput, WordsStale>,
    mut existing: Query<&mut SegmentWords>,
) {
    for (entity, timing, text, detail) in &changed {
        let segment = Segment {
            words_json: detail.words_json.clone(),
            ..Segment::new(timing.start_ms, timing.end_ms, text.0.as_str())
        };
        let words = SegmentWords(segment.words());
        match existing.get_mut(entity) {
            Ok(mut w) => {
                w.set_if_neq(words);
            }
            Err(_) => {
                commands.entity(entity).insert(words);
            }
        }
    }
}

/// The segment entity of each key, kept by observers as segments come and go.
#[derive(Resource, Debug, Default)]
pub struct SegmentIndex(HashMap<SegmentKey, Entity>);

impl SegmentIndex {
    pub fn get(&self, key: SegmentKey) -> Option<Entity> {
        self.0.get(&key).copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The segment index and its observers (the editor adds [`mirror`] to its chain of systems).
pub fn plugin(app: &mut App) {
    app.init_resource::<SegmentIndex>()
        .add_observer(
            |add: On<Add, SegmentId>, ids: Query<&SegmentId>, mut index: ResMut<SegmentIndex>| {
                if let Ok(id) = ids.get(add.entity) {
                    index.0.insert(id.0, add.entity);
                }
            },
        )
        .add_observer(
            |remove: On<Remove, SegmentId>,
             ids: Query<&SegmentId>,
             mut index: ResMut<SegmentIndex>| {
                if let Ok(id) = ids.get(remove.entity)
                    && index.0.get(&id.0) == Some(&remove.entity)
                {
                    index.0.remove(&id.0);
                }
            },
        );
}

/// A segment entity's components.
type SegmentBundle = (
    SegmentOf,
    SegmentId,
    SegmentTiming,
    SegmentText,
    SegmentDetail,
);

fn segment(version: Entity, key: SegmentKey, s: &Segment) -> SegmentBundle {
    (
        SegmentOf(version),
        SegmentId(key),
        SegmentTiming {
            start_ms: s.start_ms,
            end_ms: s.end_ms,
        },
        SegmentText(s.text.clone()),
        SegmentDetail {
            confidence: s.confidence,
            words_json: s.words_json.clone(),
            speaker: s.speaker.clone(),
            no_speech: s.no_speech,
            avg_logprob: s.avg_logprob,
        },
    )
}

type SegmentData = (
    &'static mut SegmentTiming,
    &'static mut SegmentText,
    &'static mut SegmentDetail,
);

/// Writes `s` into a segment's components, touching only those that differ (so change
/// detection says what changed).
fn update(
    (mut timing, mut text, mut detail): (Mut<SegmentTiming>, Mut<SegmentText>, Mut<SegmentDetail>),
    s: &Segment,
) {
    timing.set_if_neq(SegmentTiming {
        start_ms: s.start_ms,
        end_ms: s.end_ms,
    });
    if text.0 != s.text {
        text.0.clone_from(&s.text);
    }
    detail.set_if_neq(SegmentDetail {
        confidence: s.confidence,
        words_json: s.words_json.clone(),
        speaker: s.speaker.clone(),
        no_speech: s.no_speech,
        avg_logprob: s.avg_logprob,
    });
}

/// Makes the entities follow the open version: spawns the versions and segments when one is
/// opened, applies each edit (and undo/redo) to just the segments it replaced, and despawns
/// them when the editor closes.
#[allow(clippy::too_many_arguments)]
pub fn mirror(
    mut commands: Commands,
    mut editor: ResMut<Editor>,
    index: Res<SegmentIndex>,
    versions: Query<Entity, With<TranscriptVersion>>,
    open: Query<Entity, With<OpenVersion>>,
    transcripts: Query<(Entity, &Transcript)>,
    mut data: Query<SegmentData>,
) {
    // Read first: the editor resource is only taken mutably (and so marked changed) when
    // its open version has changes to mirror.
    let Some(doc) = editor.doc.as_ref() else {
        for v in &versions {
            commands.entity(v).despawn();
        }
        return;
    };
    if !doc.session.has_changes() {
        return;
    }
    let Some(doc) = editor.doc.as_mut() else {
        return;
    };
    let changes = doc.session.take_changes();
    if changes.contains(&Change::Reset) {
        for v in &versions {
            commands.entity(v).despawn();
        }
        let owner = transcripts
            .iter()
            .find(|(_, t)| t.0.id == doc.transcript.id)
            .map(|(e, _)| e);
        let mut open_version = None;
        for v in &doc.versions {
            let mut e = commands.spawn((
                Name::new(format!("version {}", v.number)),
                TranscriptVersion(v.clone()),
            ));
            if let Some(t) = owner {
                e.insert(VersionOf(t));
            }
            if v.id == doc.version.id {
                e.insert(OpenVersion);
                open_version = Some(e.id());
            }
        }
        let version = open_version.unwrap_or_else(|| {
            commands
                .spawn((TranscriptVersion(doc.version.clone()), OpenVersion))
                .id()
        });
        let batch: Vec<_> = doc
            .session
            .keys()
            .iter()
            .zip(doc.session.segments())
            .map(|(k, s)| segment(version, *k, s))
            .collect();
        commands.spawn_batch(batch);
        return;
    }
    let Ok(version) = open.single() else {
        return;
    };
    // Keys spawned or despawned by earlier changes of this frame (the index catches up
    // when the commands run).
    let mut spawned: HashMap<SegmentKey, Entity> = HashMap::new();
    let mut gone: Vec<SegmentKey> = Vec::new();
    let entity_of = |key: SegmentKey,
                     spawned: &HashMap<SegmentKey, Entity>,
                     gone: &[SegmentKey]|
     -> Option<Entity> {
        spawned
            .get(&key)
            .copied()
            .or_else(|| index.get(key).filter(|_| !gone.contains(&key)))
    };
    for change in changes {
        let Change::Splice(splice) = change else {
            continue;
        };
        for (key, _) in &splice.removed {
            if splice.inserted.iter().any(|(k, _)| k == key) {
                continue;
            }
            if let Some(e) = entity_of(*key, &spawned, &gone) {
                commands.entity(e).despawn();
            }
            spawned.remove(key);
            gone.push(*key);
        }
        for (offset, (key, s)) in splice.inserted.iter().enumerate() {
            let kept = splice.removed.iter().any(|(k, _)| k == key);
            match entity_of(*key, &spawned, &gone) {
                Some(e) if kept => match data.get_mut(e) {
                    Ok(d) => update(d, s),
                    // Spawned earlier this frame: not in the world yet.
                    Err(_) => {
                        commands.entity(e).insert(segment(version, *key, s));
                    }
                },
                _ => {
                    let e = commands.spawn(segment(version, *key, s)).id();
                    commands
                        .entity(version)
                        .insert_related::<SegmentOf>(splice.at + offset, &[e]);
                    gone.retain(|k| k != key);
                    spawned.insert(*key, e);
                }
            }
        }
    }
}

/// Links versions spawned before their transcript's entity was loaded.
pub(super) fn link_versions(
    mut commands: Commands,
    unlinked: Query<(Entity, &TranscriptVersion), Without<VersionOf>>,
    transcripts: Query<(Entity, &Transcript)>,
) {
    for (v, row) in &unlinked {
        if let Some((t, _)) = transcripts
            .iter()
            .find(|(_, t)| t.0.id == row.0.transcript_id)
        {
            commands.entity(v).insert(VersionOf(t));
        }
    }
}
