//! The library: audio files as ECS entities, and importing new ones.
//!
//! Import runs in three hops, none of them on the frame: the importer thread copies, hashes
//! and probes ([`import::stage`]); the database writer records the file and moves it into the
//! store ([`import::commit`]); the `Apply` set turns the reply into an entity and an
//! [`ImportFinished`] message.

pub mod import;
pub mod sql;
pub mod transcripts;

use std::path::PathBuf;
use std::thread::JoinHandle;

use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::library;
use crate::library::sql::AudioFileRow;
use crate::media::ProbeLimits;
use crate::schedule::{AppSystems, Feature};
use crate::storage::plugin::{Database, Replies};
use import::{AudioStore, ImportError, Imported, StagedImport};

/// An audio file of the library.
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct AudioFile(pub AudioFileRow);

/// Builds an audio-file entity.
pub fn audio_file(row: AudioFileRow) -> impl Bundle {
    (Name::new(row.original_name.clone()), AudioFile(row))
}

/// Intent: import this file.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct ImportRequested(pub PathBuf);

/// An import has finished, one way or the other.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct ImportFinished {
    pub source: PathBuf,
    pub result: Result<Imported, ImportError>,
}

impl ImportFinished {
    /// One line for the user: what happened to which file.
    pub fn describe(&self) -> String {
        let name = self.source.display();
        match &self.result {
            Ok(i) if i.created => format!(
                "imported {name} ({}, {})",
                format_duration_ms(i.row.duration_ms),
                i.row.container
            ),
            Ok(i) => format!(
                "{name} is already in the library as \"{}\"",
                i.row.original_name
            ),
            Err(e) => format!("{name}: {e}"),
        }
    }
}

/// Files stored by another feature (a finished or recovered take): they join the library
/// like imports.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct FilesStored(pub Vec<Imported>);

/// Answers of the library's storage commands.
enum LibraryReply {
    Library(Result<Vec<AudioFileRow>, String>),
    Imported {
        source: PathBuf,
        result: Result<Imported, ImportError>,
    },
}

/// The audio-file entities in display order (newest first), kept up to date as files are
/// added, changed or removed, so a frame does not sort the library.
#[derive(Resource, Debug, Default, Clone, PartialEq, Eq)]
pub struct LibraryOrder(pub Vec<Entity>);

/// The library's load state.
#[derive(Resource, Debug, Default, Clone, PartialEq, Eq)]
pub struct LibraryState {
    /// The first full load from the database has arrived.
    pub loaded: bool,
    /// Why the last load failed, if it did.
    pub error: Option<String>,
}

/// The importer thread and the imports not finished yet.
#[derive(Resource, Debug)]
pub struct Importer {
    requests: Option<Sender<PathBuf>>,
    staged: Receiver<(PathBuf, Result<StagedImport, ImportError>)>,
    thread: Option<JoinHandle<()>>,
    in_flight: usize,
    store: AudioStore,
}

impl Importer {
    fn spawn(store: AudioStore, limits: ProbeLimits) -> std::io::Result<Self> {
        let (req_tx, req_rx) = crossbeam_channel::unbounded::<PathBuf>();
        let (out_tx, out_rx) = crossbeam_channel::unbounded();
        let thread_store = store.clone();
        let thread = std::thread::Builder::new()
            .name("verbatim-importer".into())
            .spawn(move || {
                for path in req_rx {
                    let _span = tracing::info_span!("import", file = %path.display()).entered();
                    let result = import::stage(&path, &thread_store, &limits);
                    if let Err(e) = &result {
                        tracing::info!("{}: {e}", path.display());
                    }
                    if out_tx.send((path, result)).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Self {
            requests: Some(req_tx),
            staged: out_rx,
            thread: Some(thread),
            in_flight: 0,
            store,
        })
    }

    /// Imports requested and not finished yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub fn store(&self) -> &AudioStore {
        &self.store
    }
}

impl Drop for Importer {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Library and import. Takes the store and the probe limits.
pub struct LibraryPlugin {
    store: AudioStore,
    limits: ProbeLimits,
}

impl LibraryPlugin {
    pub fn new(store: AudioStore) -> Self {
        Self {
            store,
            limits: ProbeLimits::default(),
        }
    }
}

impl Plugin for LibraryPlugin {
    fn build(&self, app: &mut App) {
        self.store.clean_staging();
        match Importer::spawn(self.store.clone(), self.limits) {
            Ok(importer) => {
                app.insert_resource(importer);
            }
            Err(e) => tracing::error!("cannot start the importer thread: {e}"),
        }
        app.init_resource::<LibraryState>()
            .init_resource::<LibraryOrder>()
            .add_message::<ImportRequested>()
            .add_message::<ImportFinished>()
            .add_message::<FilesStored>()
            .init_resource::<Replies<LibraryReply>>()
            .add_plugins(transcripts::plugin)
            .add_systems(Startup, request_library)
            .add_systems(
                Update,
                drain_importer.in_set(AppSystems::Ingest.of(Feature::Library)),
            )
            .add_systems(
                Update,
                (start_imports, apply_db_replies, add_stored)
                    .chain()
                    .in_set(AppSystems::Apply.of(Feature::Library)),
            )
            .add_systems(
                Update,
                update_order.in_set(AppSystems::Persist.of(Feature::Library)),
            );
    }
}

fn request_library(
    db: Option<ResMut<Database>>,
    replies: Res<Replies<LibraryReply>>,
    mut state: ResMut<LibraryState>,
) {
    match db {
        Some(mut db) => db.read(
            |c| library::sql::list_audio_files(c).map_err(|e| e.to_string()),
            replies.to(LibraryReply::Library),
        ),
        None => state.error = Some("no database is open".to_owned()),
    }
}

fn start_imports(
    mut requests: MessageReader<ImportRequested>,
    importer: Option<ResMut<Importer>>,
    mut finished: MessageWriter<ImportFinished>,
) {
    let Some(mut importer) = importer else {
        for ImportRequested(path) in requests.read() {
            finished.write(ImportFinished {
                source: path.clone(),
                result: Err(ImportError::Store("the importer is not running".to_owned())),
            });
        }
        return;
    };
    for ImportRequested(path) in requests.read() {
        let sent = importer
            .requests
            .as_ref()
            .is_some_and(|tx| tx.send(path.clone()).is_ok());
        if sent {
            importer.in_flight += 1;
        } else {
            finished.write(ImportFinished {
                source: path.clone(),
                result: Err(ImportError::Store("the importer has stopped".to_owned())),
            });
        }
    }
}

fn drain_importer(
    importer: Option<ResMut<Importer>>,
    db: Option<ResMut<Database>>,
    replies: Res<Replies<LibraryReply>>,
    mut finished: MessageWriter<ImportFinished>,
) {
    let (Some(mut importer), Some(mut db)) = (importer, db) else {
        return;
    };
    loop {
        match importer.staged.try_recv() {
            Ok((source, Ok(staged))) => {
                let store = importer.store.clone();
                db.write(
                    move |c, effects| import::commit_in(c, &store, staged, effects),
                    replies.to(move |result| LibraryReply::Imported { source, result }),
                );
            }
            Ok((source, Err(e))) => {
                importer.in_flight = importer.in_flight.saturating_sub(1);
                finished.write(ImportFinished {
                    source,
                    result: Err(e),
                });
            }
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => {
                if importer.in_flight > 0 {
                    tracing::error!(
                        "the importer thread stopped with {} imports in flight",
                        importer.in_flight
                    );
                    importer.in_flight = 0;
                }
                break;
            }
        }
    }
}

fn apply_db_replies(
    mut commands: Commands,
    replies: Res<Replies<LibraryReply>>,
    mut files: Query<(Entity, &mut AudioFile)>,
    mut state: ResMut<LibraryState>,
    importer: Option<ResMut<Importer>>,
    mut finished: MessageWriter<ImportFinished>,
) {
    let mut importer = importer;
    for reply in replies.drain() {
        match reply {
            LibraryReply::Library(Ok(rows)) => {
                sync_library(&mut commands, &mut files, &rows);
                state.loaded = true;
                state.error = None;
            }
            LibraryReply::Library(Err(e)) => {
                tracing::error!("cannot load the library: {e}");
                state.error = Some(e);
            }
            LibraryReply::Imported { source, result } => {
                if let Some(importer) = importer.as_mut() {
                    importer.in_flight = importer.in_flight.saturating_sub(1);
                }
                if let Ok(imported) = &result {
                    let known = files.iter().any(|(_, f)| f.0.id == imported.row.id);
                    if !known {
                        commands.spawn(audio_file(imported.row.clone()));
                    }
                    tracing::info!(id = %imported.row.id, created = imported.created, "imported {}", source.display());
                }
                finished.write(ImportFinished { source, result });
            }
        }
    }
}

/// Finished and recovered takes join the library like imports.
fn add_stored(
    mut commands: Commands,
    mut stored: MessageReader<FilesStored>,
    files: Query<(Entity, &mut AudioFile)>,
) {
    for FilesStored(list) in stored.read() {
        add_new(&mut commands, &files, list.iter());
    }
}

fn add_new<'a>(
    commands: &mut Commands,
    files: &Query<(Entity, &mut AudioFile)>,
    imported: impl Iterator<Item = &'a Imported>,
) {
    for i in imported {
        if !files.iter().any(|(_, f)| f.0.id == i.row.id) {
            commands.spawn(audio_file(i.row.clone()));
        }
    }
}

fn update_order(
    changed: Query<(), Changed<AudioFile>>,
    mut removed: RemovedComponents<AudioFile>,
    files: Query<(Entity, &AudioFile)>,
    mut order: ResMut<LibraryOrder>,
) {
    let removed_any = removed.read().count() > 0;
    if changed.is_empty() && !removed_any {
        return;
    }
    let mut v: Vec<(i64, crate::storage::ids::AudioFileId, Entity)> = files
        .iter()
        .map(|(e, f)| (f.0.created_at, f.0.id, e))
        .collect();
    v.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    order.0 = v.into_iter().map(|(_, _, e)| e).collect();
}

/// Makes the audio-file entities match `rows`: update, spawn, despawn. The rows come from
/// the reader's snapshot, which may predate a file that a later write added (an import or a
/// recovered take answered first): entities of files newer than every row stay.
fn sync_library(
    commands: &mut Commands,
    files: &mut Query<(Entity, &mut AudioFile)>,
    rows: &[AudioFileRow],
) {
    let mut by_id: std::collections::HashMap<_, &AudioFileRow> =
        rows.iter().map(|r| (r.id, r)).collect();
    let newest = rows.iter().map(|r| r.id).max();
    for (entity, mut file) in files.iter_mut() {
        match by_id.remove(&file.0.id) {
            Some(row) if file.0 != *row => file.0 = row.clone(),
            Some(_) => {}
            None if newest.is_none_or(|n| file.0.id > n) => {}
            None => commands.entity(entity).despawn(),
        }
    }
    // What is left has no entity yet; spawn in the database's order.
    for row in rows.iter().filter(|r| by_id.contains_key(&r.id)) {
        commands.spawn(audio_file(row.clone()));
    }
}

/// `1:02:03`, `2:03` or `4.5 s` (rounded).
pub fn format_duration_ms(ms: u64) -> String {
    let tenths = (ms + 50) / 100;
    if tenths < 600 {
        return format!("{}.{} s", tenths / 10, tenths % 10);
    }
    let total_s = (ms + 500) / 1000;
    let (h, m, s) = (total_s / 3600, (total_s / 60) % 60, total_s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::format_duration_ms;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration_ms(0), "0.0 s");
        assert_eq!(format_duration_ms(2_990), "3.0 s");
        assert_eq!(format_duration_ms(11_000), "11.0 s");
        assert_eq!(format_duration_ms(59_960), "1:00");
        assert_eq!(format_duration_ms(123_000), "2:03");
        assert_eq!(format_duration_ms(3_723_000), "1:02:03");
    }
}
