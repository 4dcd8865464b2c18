//! "Find speakers" in the window: the open transcript diarized on a thread of its own (the
//! models loaded, the audio decoded, the voices found: seconds to minutes, never on the
//! frame), its answer drained by one system. The segments' speakers arrive as a new version
//! built on the version that was current when the work began (`speakers::run`); the editor
//! opens it unless the user has unsaved edits (then the version is in the list and the edits
//! stay: saving them later is refused as stale, as after any other new version).
//!
//! The library's speakers (the speakers panel): listed from `speakers::sql::usage`, renamed
//! and merged everywhere in the writer's transaction, the open transcript following.

use std::path::PathBuf;
use std::sync::Arc;

use bevy::prelude::*;
use crossbeam_channel::{Receiver, TryRecvError};

use super::{Editor, EditorCommand, EditorEvent, EditorStore};
use crate::speakers::Progress;
use crate::speakers::diarize::Speakers;
use crate::speakers::run::{SavedSpeakers, diarize_transcript};
use crate::speakers::sql::{self, Changed, SpeakerUsage};
use crate::storage::ids::TranscriptId;
use crate::storage::plugin::{Database, Replies};
use crate::transcribe::TranscribeSettings;
use crate::transcript::edit::Edit;

/// A diarization running for a transcript: an entity while it runs (the editor's progress
/// bar reads it), despawned with its answer.
#[derive(Component)]
pub struct SpeakerJob {
    pub transcript: TranscriptId,
    /// How far it is; Cancel asks it to stop.
    pub progress: Arc<Progress>,
    answer: Receiver<Result<SavedSpeakers, String>>,
}

/// Starts finding the open transcript's speakers (one at a time); Cancel stops it.
#[allow(clippy::too_many_arguments)] // a Bevy system: each argument is a system param
pub(super) fn start_speakers(
    mut commands: MessageReader<EditorCommand>,
    editor: Res<Editor>,
    store: Res<EditorStore>,
    settings: Option<Res<TranscribeSettings>>,
    db: Option<Res<Database>>,
    jobs: Query<&SpeakerJob>,
    mut spawn: Commands,
    mut events: MessageWriter<EditorEvent>,
) {
    // One at a time (a job spawned this frame is not in the query yet).
    let mut busy = !jobs.is_empty();
    for c in commands.read() {
        if *c == EditorCommand::CancelFindSpeakers {
            for j in &jobs {
                j.progress.cancel();
            }
            continue;
        }
        if *c != EditorCommand::FindSpeakers {
            continue;
        }
        let (Some(doc), Some(settings), Some(db)) = (editor.doc.as_ref(), &settings, &db) else {
            continue;
        };
        if busy {
            events.write(EditorEvent::Refused(
                "Speakers are already being found; wait for that to finish".into(),
            ));
            continue;
        }
        match spawn_job(doc.transcript.id, &store, settings, db, &mut spawn) {
            Ok(()) => busy = true,
            Err(e) => {
                events.write(EditorEvent::Failed(format!(
                    "Cannot start finding speakers: {e}"
                )));
            }
        }
    }
}

impl SpeakerJob {
    /// A job whose answer comes through the returned sender (tests of what reads jobs).
    #[cfg(test)]
    pub(crate) fn with_sender(
        transcript: TranscriptId,
    ) -> (
        Self,
        crossbeam_channel::Sender<Result<SavedSpeakers, String>>,
    ) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        (
            Self {
                transcript,
                progress: Arc::new(Progress::default()),
                answer: rx,
            },
            tx,
        )
    }
}

/// Finds transcript `t`'s speakers on a thread of its own, as a [`SpeakerJob`] entity.
fn spawn_job(
    t: TranscriptId,
    store: &EditorStore,
    settings: &TranscribeSettings,
    db: &Database,
    spawn: &mut Commands,
) -> std::io::Result<()> {
    let root: PathBuf = store.0.absolute("");
    let models = settings.models_dir.clone();
    let db_path = db.path().to_path_buf();
    let progress = Arc::new(Progress::default());
    let theirs = Arc::clone(&progress);
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("verbatim-speakers".into())
        .spawn(move || {
            let r = diarize_transcript(&root, &models, &db_path, t, Speakers::Auto, &[], &theirs)
                .map(|(_, saved)| saved)
                .map_err(|e| e.to_string());
            if let Err(e) = &r {
                tracing::warn!("finding the speakers of transcript {}: {e}", t.0);
            }
            let _ = tx.send(r);
        })?;
    spawn.spawn(SpeakerJob {
        transcript: t,
        progress,
        answer: rx,
    });
    Ok(())
}

/// With "Find speakers after transcribing" on (the window's setting) and the speaker model
/// installed, each transcript a job finishes gets its speakers: queued, one diarization at a
/// time, after any the user started.
#[allow(clippy::too_many_arguments)] // a Bevy system: each argument is a system param
pub(super) fn speakers_after_jobs(
    mut done: MessageReader<crate::transcribe::JobFinished>,
    settings: Option<Res<TranscribeSettings>>,
    store: Res<EditorStore>,
    db: Option<Res<Database>>,
    jobs: Query<&SpeakerJob>,
    mut queue: Local<std::collections::VecDeque<TranscriptId>>,
    mut spawn: Commands,
    mut events: MessageWriter<EditorEvent>,
) {
    let (Some(settings), Some(db)) = (settings, db) else {
        done.clear();
        return;
    };
    for j in done.read() {
        if let (true, crate::transcribe::JobStatus::Completed, Some(t)) =
            (settings.speakers_after, &j.status, j.transcript)
            && !queue.contains(&t)
        {
            queue.push_back(t);
        }
    }
    if !jobs.is_empty() || queue.is_empty() {
        return;
    }
    // Looked at only when there is a transcript to diarize.
    if !settings
        .models_dir
        .join(crate::speakers::CAMPLUS_FILE)
        .is_file()
    {
        queue.clear();
        return;
    }
    if let Some(t) = queue.pop_front()
        && let Err(e) = spawn_job(t, &store, &settings, &db, &mut spawn)
    {
        events.write(EditorEvent::Failed(format!(
            "Cannot start finding speakers: {e}"
        )));
    }
}

/// The diarization's answer: a notice, and the new version opened when nothing unsaved is
/// in the way.
pub(super) fn finish_speakers(
    jobs: Query<(Entity, &SpeakerJob)>,
    mut despawn: Commands,
    editor: Res<Editor>,
    mut out: MessageWriter<EditorCommand>,
    mut events: MessageWriter<EditorEvent>,
) {
    for (e, job) in &jobs {
        let t = job.transcript;
        let result = match job.answer.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => continue,
            Err(TryRecvError::Disconnected) => {
                Err("the speaker finder stopped unexpectedly".into())
            }
        };
        despawn.entity(e).despawn();
        match result {
            Ok(saved) => {
                let open = editor
                    .doc
                    .as_ref()
                    .filter(|d| d.transcript.id == t)
                    .map(|d| d.selected);
                if saved.version.is_some()
                    && let Some(segment) = open
                    && !editor.unsaved()
                {
                    out.write(EditorCommand::Open {
                        transcript: t,
                        version: None,
                        segment,
                    });
                }
                events.write(EditorEvent::SpeakersFound {
                    transcript: t,
                    version: saved.version,
                    speakers: saved.speakers,
                });
            }
            Err(_) if job.progress.cancelled() => {
                events.write(EditorEvent::SpeakersCancelled { transcript: t });
            }
            Err(e) => {
                events.write(EditorEvent::Failed(format!("Finding speakers failed: {e}")));
            }
        }
    }
}

/// The speakers the library knows, as the speakers panel lists them (read again after
/// anything that can change them: a new version of any transcript, speakers found, renamed
/// or merged).
#[derive(Resource, Debug, Default)]
pub struct LibrarySpeakers {
    pub list: Vec<SpeakerUsage>,
    pub loaded: bool,
}

/// What the speakers panel asks for.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub enum SpeakersCommand {
    /// Read the library's speakers again.
    List,
    /// Rename a speaker everywhere (the voiceprint, every transcript: a new version each),
    /// or in one transcript (a label of one recording).
    Rename {
        from: String,
        to: String,
        scope: Option<TranscriptId>,
    },
    /// One person under two names: `from` becomes `into` everywhere (or in one transcript).
    Merge {
        into: String,
        from: String,
        scope: Option<TranscriptId>,
    },
}

/// Voices being remembered (a label of a recording was named after a person): the speaker
/// model hears their segments on a thread of its own.
#[derive(Resource, Default)]
pub struct VoiceLearning {
    running: Vec<(String, Receiver<Result<u32, String>>)>,
}

impl VoiceLearning {
    /// Whose voices are being learnt.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.running.iter().map(|(n, _)| n.as_str())
    }
}

pub(super) enum SpeakersReply {
    Listed(Result<Vec<SpeakerUsage>, String>),
    Changed {
        from: String,
        to: String,
        merged: bool,
        result: Result<Changed, String>,
    },
}

/// The panel's commands: queries on the reader, changes in the writer's transaction.
pub(super) fn speakers_commands(
    mut commands: MessageReader<SpeakersCommand>,
    db: Option<ResMut<Database>>,
    replies: Res<Replies<SpeakersReply>>,
) {
    let Some(mut db) = db else {
        commands.clear();
        return;
    };
    let mut listed = false;
    for c in commands.read() {
        match c.clone() {
            SpeakersCommand::List if !listed => {
                listed = true;
                db.read(
                    |conn| sql::usage(conn).map_err(|e| e.to_string()),
                    replies.to(SpeakersReply::Listed),
                );
            }
            SpeakersCommand::List => {}
            SpeakersCommand::Rename { from, to, scope } => {
                let to = to.trim().to_owned();
                change(&mut db, &replies, (from, to, scope), false);
            }
            SpeakersCommand::Merge { into, from, scope } => {
                change(&mut db, &replies, (from, into, scope), true);
            }
        }
    }
}

/// `from` renamed `to` (or merged into `to`) in the writer's transaction; the answer says which.
fn change(
    db: &mut Database,
    replies: &Replies<SpeakersReply>,
    (from, to, scope): (String, String, Option<TranscriptId>),
    merged: bool,
) {
    let (f, t) = (from.clone(), to.clone());
    db.write(
        move |conn, _| {
            let now = crate::storage::now_ms();
            if merged {
                sql::merge_everywhere(conn, &t, &f, scope, now)
            } else {
                sql::rename_everywhere(conn, &f, &t, scope, now)
            }
            .map_err(|e| e.to_string())
        },
        replies.to(move |result| SpeakersReply::Changed {
            from,
            to,
            merged,
            result,
        }),
    );
}

/// The list read again at start and whenever transcripts or speakers change.
pub(super) fn refresh_speakers(
    mut changed: MessageReader<crate::library::transcripts::TranscriptsChanged>,
    mut events: MessageReader<EditorEvent>,
    mut first: Local<bool>,
    mut out: MessageWriter<SpeakersCommand>,
) {
    let found = events.read().any(|e| {
        matches!(
            e,
            EditorEvent::SpeakersFound { .. }
                | EditorEvent::SpeakersChanged { .. }
                | EditorEvent::Saved { .. }
        )
    });
    let changed = changed.read().count() > 0;
    if !*first || found || changed {
        *first = true;
        out.write(SpeakersCommand::List);
    }
}

/// The panel's answers. A rename or merge that gave the open transcript a new version: the
/// editor opens it (at the same segment) when nothing is unsaved; with unsaved edits, the
/// same change is made to them as an edit (undoable), so that saving them on top of the new
/// version keeps it.
#[allow(clippy::too_many_arguments)] // a Bevy system: each argument is a system param
pub(super) fn finish_speaker_changes(
    replies: Res<Replies<SpeakersReply>>,
    mut library: ResMut<LibrarySpeakers>,
    editor: Res<Editor>,
    (store, settings, db): (
        Res<EditorStore>,
        Option<Res<TranscribeSettings>>,
        Option<Res<Database>>,
    ),
    mut learning: ResMut<VoiceLearning>,
    mut cmds: MessageWriter<EditorCommand>,
    mut events: MessageWriter<EditorEvent>,
    mut changed: MessageWriter<crate::library::transcripts::TranscriptsChanged>,
    mut out: MessageWriter<SpeakersCommand>,
) {
    for r in replies.drain() {
        match r {
            SpeakersReply::Listed(Ok(list)) => {
                library.list = list;
                library.loaded = true;
            }
            SpeakersReply::Listed(Err(e)) => {
                events.write(EditorEvent::Failed(format!(
                    "Cannot list the speakers: {e}"
                )));
            }
            SpeakersReply::Changed {
                from,
                to,
                merged,
                result,
            } => match result {
                Ok(c) => {
                    if let Some(doc) = editor.doc.as_ref()
                        && c.versions.iter().any(|(t, _)| *t == doc.transcript.id)
                    {
                        if editor.unsaved() {
                            cmds.write(EditorCommand::Edit(Edit::RenameSpeaker {
                                from: from.clone(),
                                to: to.clone(),
                            }));
                        } else {
                            cmds.write(EditorCommand::Open {
                                transcript: doc.transcript.id,
                                version: None,
                                segment: doc.selected,
                            });
                        }
                    }
                    if !c.versions.is_empty() {
                        changed.write(crate::library::transcripts::TranscriptsChanged);
                    }
                    // A label of one recording named after a person: their voice is
                    // remembered from it, so later recordings of it get the name.
                    if let ([(t, _)], false, Some(settings), Some(db)) =
                        (c.versions.as_slice(), c.library, &settings, &db)
                        && sql::is_label(&from)
                        && !sql::is_label(&to)
                    {
                        let (t, name) = (*t, to.clone());
                        let root: PathBuf = store.0.absolute("");
                        let models = settings.models_dir.clone();
                        let db_path = db.path().to_path_buf();
                        let (tx, rx) = crossbeam_channel::bounded(1);
                        let spawned = std::thread::Builder::new()
                            .name("verbatim-voice".into())
                            .spawn(move || {
                                let r = crate::speakers::run::learn_voice(
                                    &root, &models, &db_path, t, &name,
                                )
                                .map_err(|e| e.to_string());
                                if let Err(e) = &r {
                                    tracing::warn!("remembering {name}'s voice: {e}");
                                }
                                let _ = tx.send(r);
                            });
                        match spawned {
                            Ok(_) => learning.running.push((to.clone(), rx)),
                            Err(e) => {
                                events.write(EditorEvent::Failed(format!(
                                    "Cannot start remembering {to}'s voice: {e}"
                                )));
                            }
                        }
                    }
                    out.write(SpeakersCommand::List);
                    events.write(EditorEvent::SpeakersChanged {
                        from,
                        to,
                        merged,
                        versions: c.versions.len(),
                    });
                }
                Err(e) => {
                    events.write(EditorEvent::Refused(format!(
                        "{} {from}: {e}",
                        if merged {
                            "Cannot merge"
                        } else {
                            "Cannot rename"
                        }
                    )));
                }
            },
        }
    }
}

/// Voices remembered (or not, with why): a notice, and the list read again.
pub(super) fn finish_learning(
    mut learning: ResMut<VoiceLearning>,
    mut events: MessageWriter<EditorEvent>,
    mut out: MessageWriter<SpeakersCommand>,
) {
    let mut i = 0;
    while i < learning.running.len() {
        let got = match learning.running[i].1.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => {
                i += 1;
                continue;
            }
            Err(TryRecvError::Disconnected) => Err("it stopped unexpectedly".into()),
        };
        let (name, _) = learning.running.swap_remove(i);
        match got {
            Ok(windows) => {
                events.write(EditorEvent::VoiceRemembered { name, windows });
                out.write(SpeakersCommand::List);
            }
            Err(e) => {
                events.write(EditorEvent::Failed(format!(
                    "{name}'s voice was not remembered: {e}"
                )));
            }
        }
    }
}
