//! "Find speakers" in the window: the open transcript diarized on a thread of its own (the
//! models loaded, the audio decoded, the voices found: seconds to minutes, never on the
//! frame), its answer drained by one system. The segments' speakers arrive as a new version
//! built on the version that was current when the work began (`speakers::run`); the editor
//! opens it unless the user has unsaved edits (then the version is in the list and the edits
//! stay: saving them later is refused as stale, as after any other new version).

use std::path::PathBuf;

use bevy::prelude::*;
use crossbeam_channel::{Receiver, TryRecvError};

use super::{Editor, EditorCommand, EditorEvent, EditorStore};
use crate::speakers::diarize::Speakers;
use crate::speakers::run::{SavedSpeakers, diarize_transcript};
use crate::storage::ids::TranscriptId;
use crate::storage::plugin::Database;
use crate::transcribe::TranscribeSettings;

/// The diarization running for a transcript, if one is.
#[derive(Resource, Default)]
pub struct SpeakerTask {
    running: Option<(TranscriptId, Receiver<Result<SavedSpeakers, String>>)>,
}

impl SpeakerTask {
    /// The transcript whose speakers are being found.
    pub fn running(&self) -> Option<TranscriptId> {
        self.running.as_ref().map(|(t, _)| *t)
    }
}

/// Starts finding the open transcript's speakers (one at a time).
pub(super) fn start_speakers(
    mut commands: MessageReader<EditorCommand>,
    editor: Res<Editor>,
    store: Res<EditorStore>,
    settings: Option<Res<TranscribeSettings>>,
    db: Option<Res<Database>>,
    mut task: ResMut<SpeakerTask>,
    mut events: MessageWriter<EditorEvent>,
) {
    for c in commands.read() {
        if *c != EditorCommand::FindSpeakers {
            continue;
        }
        let (Some(doc), Some(settings), Some(db)) = (editor.doc.as_ref(), &settings, &db) else {
            continue;
        };
        if task.running.is_some() {
            events.write(EditorEvent::Refused(
                "Speakers are already being found; wait for that to finish".into(),
            ));
            continue;
        }
        let t = doc.transcript.id;
        let root: PathBuf = store.0.absolute("");
        let models = settings.models_dir.clone();
        let db_path = db.path().to_path_buf();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("verbatim-speakers".into())
            .spawn(move || {
                let r = diarize_transcript(&root, &models, &db_path, t, Speakers::Auto, &[])
                    .map(|(_, saved)| saved)
                    .map_err(|e| e.to_string());
                if let Err(e) = &r {
                    tracing::warn!("finding the speakers of transcript {}: {e}", t.0);
                }
                let _ = tx.send(r);
            });
        match spawned {
            Ok(_) => task.running = Some((t, rx)),
            Err(e) => {
                events.write(EditorEvent::Failed(format!(
                    "Cannot start finding speakers: {e}"
                )));
            }
        }
    }
}

/// The diarization's answer: a notice, and the new version opened when nothing unsaved is
/// in the way.
pub(super) fn finish_speakers(
    mut task: ResMut<SpeakerTask>,
    editor: Res<Editor>,
    mut out: MessageWriter<EditorCommand>,
    mut events: MessageWriter<EditorEvent>,
) {
    let Some((t, rx)) = task.running.as_ref() else {
        return;
    };
    let t = *t;
    let result = match rx.try_recv() {
        Ok(r) => r,
        Err(TryRecvError::Empty) => return,
        Err(TryRecvError::Disconnected) => Err("the speaker finder stopped unexpectedly".into()),
    };
    task.running = None;
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
        Err(e) => {
            events.write(EditorEvent::Failed(format!("Finding speakers failed: {e}")));
        }
    }
}
