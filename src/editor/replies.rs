//! The database's answers applied: a version opened or compared, a save done or refused, a
//! draft discarded, search and list results, an export written.

use std::path::PathBuf;

use bevy::prelude::*;

use super::store::{LoadedTranscript, SaveError, load};
use super::{CompareDoc, Doc, Editor, EditorEvent, EditorReply, EditorStore, Load, flags};
use crate::playback::Player;
use crate::storage::ids::{TranscriptId, VersionId};
use crate::storage::plugin::{Database, Replies};
use crate::transcript::Segment;
use crate::transcript::diff::compare;
use crate::transcript::edit::EditSession;

#[allow(clippy::too_many_arguments)]
pub(super) fn apply_replies(
    replies: Res<Replies<EditorReply>>,
    mut editor: ResMut<Editor>,
    store: Res<EditorStore>,
    mut events: MessageWriter<EditorEvent>,
    mut changed: MessageWriter<crate::library::transcripts::TranscriptsChanged>,
    db: Option<ResMut<Database>>,
    player: Option<ResMut<Player>>,
    mut speech: ResMut<flags::DocSpeech>,
) {
    let mut db = db;
    let mut player = player;
    for reply in replies.drain() {
        match reply {
            EditorReply::Loaded { load: what, result } => {
                let loaded = match result {
                    Ok(l) => l,
                    Err(e) => {
                        events.write(EditorEvent::Failed(format!(
                            "Cannot open the transcript: {e}"
                        )));
                        continue;
                    }
                };
                let segs: Vec<Segment> =
                    loaded.segments.iter().cloned().map(Segment::from).collect();
                match what {
                    Load::Open {
                        segment,
                        seq,
                        restore,
                    } => {
                        if seq != editor.open_seq {
                            // Something else was opened (or the editor closed) since.
                            continue;
                        }
                        // The player gets the samples the waveform is built from
                        // (`build_peaks`): the file is decoded once.
                        let audio_path = store.0.absolute(&loaded.transcript.audio_path);
                        open_loaded(
                            &mut editor,
                            audio_path,
                            &loaded,
                            segs,
                            (segment, restore),
                            &mut events,
                        );
                        speech.set_if_neq(flags::DocSpeech(loaded.speech.clone()));
                        if let (Some(i), Some(pl)) = (segment, player.as_mut())
                            && let Some(s) = loaded.segments.get(i)
                        {
                            pl.seek_ms(s.start_ms);
                        }
                    }
                    Load::CompareSide(side) => {
                        editor.compare_parts[side] = Some((loaded.version.clone(), segs));
                        if let [Some((lv, ls)), Some((rv, rs))] = &editor.compare_parts {
                            let result = compare(ls, rs);
                            let doc = CompareDoc {
                                left: lv.clone(),
                                right: rv.clone(),
                                left_segs: ls.clone(),
                                right_segs: rs.clone(),
                                result,
                            };
                            editor.compare = Some(doc);
                            editor.compare_parts = [None, None];
                            events.write(EditorEvent::Compared);
                        }
                    }
                }
            }
            EditorReply::Saved { transcript, result } => saved(
                &mut editor,
                transcript,
                result,
                db.as_deref_mut(),
                &replies,
                (&mut events, &mut changed),
            ),
            EditorReply::Discarded(result) => match result {
                Ok(()) => {
                    events.write(EditorEvent::Discarded);
                }
                Err(e) => {
                    events.write(EditorEvent::Failed(format!(
                        "The kept copy of the unsaved edits could not be removed: {e}"
                    )));
                }
            },
            EditorReply::Searched(result) => match result {
                Ok(hits) => {
                    events.write(EditorEvent::Searched(hits.len()));
                    editor.search_results = hits;
                }
                Err(e) => {
                    events.write(EditorEvent::Failed(format!("Search failed: {e}")));
                }
            },
            EditorReply::Exported(result) => {
                events.write(match result {
                    Ok(path) => EditorEvent::Exported(path),
                    Err(e) => EditorEvent::Failed(format!("Export failed: {e}")),
                });
            }
            EditorReply::Listed(result) => match result {
                Ok(list) => {
                    events.write(EditorEvent::Listed(list.len()));
                    editor.transcripts = list;
                }
                Err(e) => {
                    events.write(EditorEvent::Failed(format!("Cannot list transcripts: {e}")));
                }
            },
        }
    }
}

/// A version loaded to be opened becomes the document; a draft of unsaved edits kept for it
/// is offered back (or restored, when that was asked for).
fn open_loaded(
    editor: &mut Editor,
    audio_path: PathBuf,
    loaded: &LoadedTranscript,
    segs: Vec<Segment>,
    (segment, restore): (Option<usize>, bool),
    events: &mut MessageWriter<EditorEvent>,
) {
    let mut session = EditSession::new(segs, loaded.transcript.duration_ms);
    // A draft equal to what is saved holds nothing to offer.
    let mut draft = loaded
        .draft
        .clone()
        .filter(|d| d.base != loaded.version.id || d.segments != session.segments());
    if restore
        && let Some(d) = draft.take()
        && let Err(e) = session.replace_all(d.segments.clone())
    {
        events.write(EditorEvent::Failed(format!(
            "The unsaved edits cannot be restored: {e}"
        )));
        draft = Some(d);
    }
    events.write(EditorEvent::Opened {
        transcript: loaded.transcript.id,
        version: loaded.version.number,
    });
    editor.compare = None;
    editor.typing = false;
    editor.autosaved = None;
    editor.doc = Some(Doc {
        session,
        transcript: loaded.transcript.clone(),
        versions: loaded.versions.clone(),
        version: loaded.version.clone(),
        audio_path,
        focus: segment,
        selected: segment,
        bookmarks: loaded.bookmarks.clone(),
        draft,
    });
}

/// A version was saved (or refused): the open document reloads to it, a stale save is told.
fn saved(
    editor: &mut ResMut<Editor>,
    transcript: TranscriptId,
    result: Result<(VersionId, u32), SaveError>,
    db: Option<&mut Database>,
    replies: &Replies<EditorReply>,
    (events, changed): (
        &mut MessageWriter<EditorEvent>,
        &mut MessageWriter<crate::library::transcripts::TranscriptsChanged>,
    ),
) {
    match result {
        Ok((_, number)) => {
            changed.write(crate::library::transcripts::TranscriptsChanged);
            events.write(EditorEvent::Saved {
                transcript,
                version: number,
            });
            // Reload what is open: the version list changed and the new one is
            // current.
            let open = editor
                .doc
                .as_ref()
                .is_some_and(|d| d.transcript.id == transcript);
            if open && let Some(db) = db {
                let focus = editor.doc.as_ref().and_then(|d| d.selected);
                editor.open_seq += 1;
                let what = Load::Open {
                    segment: focus,
                    seq: editor.open_seq,
                    restore: false,
                };
                load(db, replies, transcript, None, what);
            }
        }
        Err(SaveError::Stale { base, current }) => {
            events.write(EditorEvent::Stale {
                transcript,
                base,
                current,
            });
        }
        Err(SaveError::Failed(e)) => {
            events.write(EditorEvent::Failed(format!("Not saved: {e}")));
        }
    }
}
