//! The editor's commands applied: edits, saves, drafts, versions, comparison, export,
//! search, playback seeks.

use bevy::prelude::*;

use super::store::{ExportJob, SaveError, export, load, save_version};
use super::{Doc, Editor, EditorCommand, EditorEvent, EditorReply, Load, drafts};
use crate::playback::Player;
use crate::storage::ids::VersionId;
use crate::storage::now_ms;
use crate::storage::plugin::{Database, Replies};
use crate::transcript;
use crate::transcript::edit::{Edit, EditSession, SegmentKey};
use crate::transcript::export::Format;
use crate::transcript::sql::{NewVersion, VersionSource};

pub(super) fn handle_commands(
    mut commands: MessageReader<EditorCommand>,
    mut editor: ResMut<Editor>,
    db: Option<ResMut<Database>>,
    replies: Res<Replies<EditorReply>>,
    mut events: MessageWriter<EditorEvent>,
    player: Option<ResMut<Player>>,
) {
    let Some(mut db) = db else { return };
    let mut player = player;
    for cmd in commands.read() {
        // The selection belongs to a segment, not a position: an edit before it (a split, an
        // insert) or an undo moves it along with its segment.
        let selected_key = editor.doc.as_ref().and_then(|d| {
            d.selected
                .and_then(|i| d.session.keys().get(i).copied())
                .map(|k| (k, d.selected))
        });
        handle_command(
            cmd,
            &mut editor,
            &mut db,
            &replies,
            &mut events,
            &mut player,
        );
        if let (Some((key, was)), Some(doc)) = (selected_key, editor.doc.as_mut())
            && doc.selected == was
        {
            let n = doc.session.segments().len();
            doc.selected = doc
                .session
                .index_of(key)
                .or(was.map(|i| i.min(n.saturating_sub(1))))
                .filter(|_| n > 0);
        }
    }
}

/// Whether the open document's segments can be a version (every one valid); says why not.
fn savable(doc: &Doc, events: &mut MessageWriter<EditorEvent>) -> bool {
    match crate::transcript::edit::validate(doc.session.segments(), doc.session.duration_ms) {
        Ok(()) => true,
        Err(e) => {
            events.write(EditorEvent::Refused(format!("Not saved: {e}")));
            false
        }
    }
}

fn handle_command(
    cmd: &EditorCommand,
    editor: &mut ResMut<Editor>,
    db: &mut Database,
    replies: &Replies<EditorReply>,
    events: &mut MessageWriter<EditorEvent>,
    player: &mut Option<ResMut<Player>>,
) {
    match cmd {
        EditorCommand::Open {
            transcript,
            version,
            segment,
        } => {
            editor.open_seq += 1;
            let what = Load::Open {
                segment: *segment,
                seq: editor.open_seq,
                restore: false,
            };
            load(db, replies, *transcript, *version, what);
        }
        EditorCommand::EditText {
            version,
            key,
            base,
            text,
        } => edit_text(editor, (*version, *key), base, text, events),
        EditorCommand::Typing(on) => {
            if editor.typing != *on {
                editor.typing = *on;
            }
        }
        EditorCommand::SaveOnTop { note } => save(editor, note, true, db, replies, events),
        EditorCommand::RestoreDraft => {
            let Some(doc) = editor.doc.as_ref() else {
                return;
            };
            let Some(draft) = doc.draft.as_ref() else {
                return;
            };
            let (transcript, base, selected) = (doc.transcript.id, draft.base_number, doc.selected);
            editor.open_seq += 1;
            let what = Load::Open {
                segment: selected,
                seq: editor.open_seq,
                restore: true,
            };
            load(db, replies, transcript, Some(base), what);
        }
        EditorCommand::DiscardEdits => discard_edits(editor, db, replies),
        EditorCommand::Edit(edit) => {
            let Some(doc) = editor.doc.as_mut() else {
                return;
            };
            if let Err(e) = doc.session.apply(edit) {
                events.write(EditorEvent::Refused(format!("Edit refused: {e}")));
            }
        }
        EditorCommand::Undo => {
            if let Some(doc) = editor.doc.as_mut() {
                doc.session.undo();
            }
        }
        EditorCommand::Redo => {
            if let Some(doc) = editor.doc.as_mut() {
                doc.session.redo();
            }
        }
        EditorCommand::Select(i) => {
            if let Some(doc) = editor.doc.as_mut() {
                doc.selected = *i;
            }
        }
        EditorCommand::Save { note } => save(editor, note, false, db, replies, events),
        EditorCommand::Rollback { to } => {
            let Some(doc) = editor.doc.as_ref() else {
                return;
            };
            let (transcript, to) = (doc.transcript.id, *to);
            db.write(
                move |c, _| {
                    transcript::sql::rollback(c, transcript, to, None, now_ms())
                        .map_err(SaveError::from)
                },
                replies.to(move |result| EditorReply::Saved { transcript, result }),
            );
        }
        EditorCommand::ImportVersion {
            transcript,
            segments,
            note,
        } => {
            let mut v = NewVersion::new(VersionSource::Import);
            v.note = Some(note.clone());
            // Corrections made elsewhere (a subtitle editor) are corrections too.
            save_version(db, replies, *transcript, v, segments.clone(), true);
        }
        EditorCommand::Compare { left, right } => {
            let Some(doc) = editor.doc.as_ref() else {
                return;
            };
            let transcript = doc.transcript.id;
            editor.compare_parts = [None, None];
            for (side, n) in [(0, *left), (1, *right)] {
                load(db, replies, transcript, Some(n), Load::CompareSide(side));
            }
        }
        EditorCommand::CloseCompare => editor.compare = None,
        // Started by `speakers::start_speakers` (a thread of its own).
        EditorCommand::FindSpeakers | EditorCommand::CancelFindSpeakers => {}
        EditorCommand::Close => {
            // Whatever was still loading is not opened after this.
            editor.open_seq += 1;
            editor.typing = false;
            editor.autosaved = None;
            editor.doc = None;
            editor.compare = None;
            if let Some(p) = player.as_mut() {
                p.pause();
            }
        }
        EditorCommand::Export {
            format,
            path,
            words,
        } => export_open(editor, (*format, path, *words), db, replies),
        EditorCommand::Search { query, speaker } => {
            let (q, who) = (query.clone(), speaker.clone());
            db.read(
                move |c| {
                    transcript::sql::search(c, &q, who.as_deref(), true, 200)
                        .map_err(|e| e.to_string())
                },
                replies.to(EditorReply::Searched),
            );
        }
        EditorCommand::ListTranscripts => {
            db.read(
                |c| transcript::sql::list_transcripts(c).map_err(|e| e.to_string()),
                replies.to(EditorReply::Listed),
            );
        }
        EditorCommand::Seek { ms, play } => {
            if let Some(p) = player.as_mut() {
                p.seek_ms(*ms);
                if *play {
                    p.play();
                }
            }
        }
    }
}

/// The text typed into a segment's field, applied only if that segment of that version still
/// holds the text the typing began from: a stale field never overwrites a segment.
fn edit_text(
    editor: &mut Editor,
    (version, key): (VersionId, SegmentKey),
    base: &str,
    text: &str,
    events: &mut MessageWriter<EditorEvent>,
) {
    let Some(doc) = editor.doc.as_mut() else {
        events.write(EditorEvent::Refused(format!(
            "Not applied: the transcript was closed before your text \"{text}\" \
                 reached it"
        )));
        return;
    };
    let index = doc.session.index_of(key);
    let current = index.and_then(|i| doc.session.segments().get(i));
    match (index, current) {
        (Some(index), Some(seg)) if doc.version.id == version && seg.text == base => {
            let edit = Edit::SetText {
                index,
                text: text.to_owned(),
            };
            if let Err(e) = doc.session.apply(&edit) {
                events.write(EditorEvent::Refused(format!("Edit refused: {e}")));
            }
        }
        _ => {
            events.write(EditorEvent::Refused(format!(
                "Not applied: the segment changed while you typed \"{text}\" \
                     (nothing was overwritten; type it again if it still applies)"
            )));
        }
    }
}

/// Saves the edits as a new version: on top of the version they were made on (refused as
/// stale by the writer if another was saved since), or, `on_top`, on top of whatever version
/// is current (the user chose to, after a stale save).
fn save(
    editor: &Editor,
    note: &Option<String>,
    on_top: bool,
    db: &mut Database,
    replies: &Replies<EditorReply>,
    events: &mut MessageWriter<EditorEvent>,
) {
    let Some(doc) = editor.doc.as_ref() else {
        return;
    };
    if !on_top && !doc.session.dirty() {
        events.write(EditorEvent::Refused("Nothing to save: no changes".into()));
        return;
    }
    if !savable(doc, events) {
        return;
    }
    let mut v = NewVersion::new(VersionSource::Edit);
    // No base: the writer puts it on top of the version current then.
    v.based_on = (!on_top).then_some(doc.version.id);
    v.note = note.clone().filter(|n| !n.trim().is_empty());
    v.author = std::env::var("USER").ok();
    let (transcript, segments) = (doc.transcript.id, doc.session.segments().to_vec());
    save_version(db, replies, transcript, v, segments, true);
}

/// Drops the unsaved edits (back to the saved version, one undoable step) and their kept
/// draft.
fn discard_edits(editor: &mut Editor, db: &mut Database, replies: &Replies<EditorReply>) {
    let Some(doc) = editor.doc.as_mut() else {
        return;
    };
    let transcript = doc.transcript.id;
    doc.draft = None;
    if doc.session.dirty() {
        let saved = doc.session.saved_segments().to_vec();
        // Back to the version as saved: one undoable step, then marked saved.
        if doc.session.replace_all(saved.clone()).is_err() {
            doc.session = EditSession::new(saved, doc.session.duration_ms);
        }
        doc.session.mark_saved();
    }
    editor.typing = false;
    editor.autosaved = None;
    db.write(
        move |c, _| drafts::delete(c, transcript).map_err(|e| e.to_string()),
        replies.to(EditorReply::Discarded),
    );
}

/// Exports the open version (as saved) in `format` to `path` (`words`: a cue per word).
fn export_open(
    editor: &Editor,
    (format, path, words): (Format, &std::path::Path, bool),
    db: &mut Database,
    replies: &Replies<EditorReply>,
) {
    let Some(doc) = editor.doc.as_ref() else {
        return;
    };
    // The saved version, not unsaved edits: an export names its version.
    let job = ExportJob {
        transcript: doc.transcript.id,
        version: doc.version.id,
        version_number: doc.version.number,
        title: doc
            .transcript
            .title
            .clone()
            .unwrap_or_else(|| doc.transcript.audio_name.clone()),
        model: doc.version.model.clone(),
        format,
        segments: doc.session.saved_segments().to_vec(),
        path: path.to_path_buf(),
        words,
    };
    export(job, db.sender(), replies.to(EditorReply::Exported));
}
