//! Transcripts as entities: one [`Transcript`] entity per stored transcript, related to its
//! audio file's entity ([`TranscriptOf`] / [`Transcripts`]). Loaded from the reader at start
//! and again whenever a feature says a transcript was made or got a version
//! ([`TranscriptsChanged`]), so the library shows every transcribed file however many jobs
//! there are.

use bevy::prelude::*;

use super::AudioFile;
use crate::schedule::{AppSystems, Feature};
use crate::storage::ids::TranscriptId;
use crate::storage::plugin::{Database, Replies};
use crate::transcript;
use crate::transcript::sql::TranscriptRow;

/// A stored transcript.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct Transcript(pub TranscriptRow);

/// The transcript belongs to this audio-file entity.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
#[relationship(relationship_target = Transcripts)]
pub struct TranscriptOf(pub Entity);

/// The transcripts of an audio-file entity.
#[derive(Component, Debug, Default, PartialEq, Eq)]
#[relationship_target(relationship = TranscriptOf)]
pub struct Transcripts(Vec<Entity>);

impl Transcripts {
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

/// A transcript was created or got a new version: the transcript entities are read again.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscriptsChanged;

struct Loaded(Result<Vec<TranscriptRow>, String>);

pub(super) fn plugin(app: &mut App) {
    app.add_message::<TranscriptsChanged>()
        .init_resource::<Replies<Loaded>>()
        .add_systems(Startup, |mut out: MessageWriter<TranscriptsChanged>| {
            out.write(TranscriptsChanged);
        })
        .add_systems(
            Update,
            (reload, apply, link)
                .chain()
                .in_set(AppSystems::Apply.of(Feature::Transcripts)),
        );
}

fn reload(
    mut changed: MessageReader<TranscriptsChanged>,
    db: Option<ResMut<Database>>,
    replies: Res<Replies<Loaded>>,
) {
    if changed.read().count() == 0 {
        return;
    }
    if let Some(mut db) = db {
        db.read(
            |c| transcript::sql::list_transcripts(c).map_err(|e| e.to_string()),
            replies.to(Loaded),
        );
    }
}

/// Makes the transcript entities match the rows (by id: only what changed is touched).
fn apply(
    mut commands: Commands,
    replies: Res<Replies<Loaded>>,
    mut existing: Query<(Entity, &mut Transcript)>,
) {
    for Loaded(result) in replies.drain() {
        let rows = match result {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("cannot load the transcripts: {e}");
                continue;
            }
        };
        let mut by_id: std::collections::HashMap<TranscriptId, TranscriptRow> =
            rows.into_iter().map(|r| (r.id, r)).collect();
        for (entity, mut t) in &mut existing {
            match by_id.remove(&t.0.id) {
                Some(row) if t.0 != row => t.0 = row,
                Some(_) => {}
                None => commands.entity(entity).despawn(),
            }
        }
        for row in by_id.into_values() {
            commands.spawn((Name::new(format!("transcript {}", row.id)), Transcript(row)));
        }
    }
}

/// Relates new transcript entities to their audio file's entity (once that is loaded).
fn link(
    mut commands: Commands,
    transcripts: Query<(Entity, &Transcript), Without<TranscriptOf>>,
    files: Query<(Entity, &AudioFile)>,
) {
    if transcripts.is_empty() {
        return;
    }
    let by_id: std::collections::HashMap<_, Entity> =
        files.iter().map(|(e, f)| (f.0.id, e)).collect();
    for (entity, t) in &transcripts {
        if let Some(file) = by_id.get(&t.0.audio_file) {
            commands.entity(entity).insert(TranscriptOf(*file));
        }
    }
}
