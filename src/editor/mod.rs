//! The editor: one transcript version open for editing, its version history, a comparison of
//! two versions, and search. The segments live in an [`EditSession`] (ECS-free); this plugin
//! turns intents into edits and database commands and replies into state. Saving creates a
//! new immutable version; nothing is ever rewritten.

use std::collections::HashMap;
use std::path::PathBuf;

use bevy::prelude::*;

use crate::AppSet;
use crate::library::import::AudioStore;
use crate::playback::Player;
use crate::storage::ids::TranscriptId;
use crate::storage::plugin::{Database, DbReplied};
use crate::storage::repo::{
    Bookmark, NewVersion, SearchHit, TranscriptRow, VersionRow, VersionSource,
};
use crate::storage::writer::{DbCommand, DbReply, ExportRequest};
use crate::transcript::diff::{Comparison, compare};
use crate::transcript::edit::{Edit, EditSession, Seg};
use crate::transcript::export::Format;

/// The open version.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub transcript: TranscriptRow,
    pub versions: Vec<VersionRow>,
    pub version: VersionRow,
    pub session: EditSession,
    pub audio_path: PathBuf,
    /// The segment to scroll to (set by search and clicks; the panel clears it).
    pub focus: Option<usize>,
    pub selected: Option<usize>,
    /// The file's bookmarks (set on live lines while it recorded), by time.
    pub bookmarks: Vec<Bookmark>,
}

/// Two versions side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareDoc {
    pub left: VersionRow,
    pub right: VersionRow,
    pub left_segs: Vec<Seg>,
    pub right_segs: Vec<Seg>,
    pub result: Comparison,
}

/// The editor's state.
#[derive(Resource, Debug, Default)]
pub struct Editor {
    pub doc: Option<Doc>,
    pub compare: Option<CompareDoc>,
    pub search_results: Vec<SearchHit>,
    pub transcripts: Vec<TranscriptRow>,
    pending: HashMap<u64, Pending>,
    compare_parts: [Option<(VersionRow, Vec<Seg>)>; 2],
    next_token: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Open { segment: Option<usize> },
    CompareSide(usize),
    Save,
    Search,
    Transcripts,
    Export,
}

impl Editor {
    fn token(&mut self, p: Pending) -> u64 {
        self.next_token += 1;
        // Tokens of this plugin live in their own range.
        let t = (1 << 62) + self.next_token;
        self.pending.insert(t, p);
        t
    }
}

/// What the user (or the CLI) asks of the editor.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum EditorCommand {
    /// Open a transcript at a version (`None`: current), scrolled to a segment.
    Open {
        transcript: TranscriptId,
        version: Option<u32>,
        segment: Option<usize>,
    },
    Edit(Edit),
    Undo,
    Redo,
    Select(Option<usize>),
    /// Save the edits as a new version.
    Save {
        note: Option<String>,
    },
    /// A new version equal to version `to`.
    Rollback {
        to: u32,
    },
    /// Save imported segments as a new version (source `import`).
    ImportVersion {
        transcript: TranscriptId,
        segments: Vec<Seg>,
        note: String,
    },
    Compare {
        left: u32,
        right: u32,
    },
    CloseCompare,
    /// Export the open version's saved segments.
    Export {
        format: Format,
        path: PathBuf,
    },
    Search(String),
    ListTranscripts,
    /// Seek playback to a time (and play).
    Seek {
        ms: u64,
        play: bool,
    },
    /// Close the editor (back to the library).
    Close,
}

/// What happened, for the UI's notices and the CLI.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum EditorEvent {
    Opened {
        transcript: TranscriptId,
        version: u32,
    },
    Saved {
        transcript: TranscriptId,
        version: u32,
    },
    Refused(String),
    Failed(String),
    Compared,
    Exported(PathBuf),
    Searched(usize),
    Listed(usize),
}

pub struct EditorPlugin {
    pub store: AudioStore,
}

/// The waveform of the open transcript's audio (16 kHz mono), built off the frame.
#[derive(Resource, Default)]
pub struct DocPeaks {
    pub path: Option<PathBuf>,
    pub pyramid: Option<crate::dsp::peaks::PeakPyramid>,
    rx: Option<crossbeam_channel::Receiver<crate::dsp::peaks::PeakPyramid>>,
}

fn build_peaks(editor: Res<Editor>, mut peaks: ResMut<DocPeaks>) {
    if let Some(rx) = &peaks.rx
        && let Ok(p) = rx.try_recv()
    {
        peaks.pyramid = Some(p);
        peaks.rx = None;
    }
    let Some(doc) = editor.doc.as_ref() else {
        return;
    };
    if peaks.path.as_ref() == Some(&doc.audio_path) {
        return;
    }
    let path = doc.audio_path.clone();
    peaks.path = Some(path.clone());
    peaks.pyramid = None;
    let (tx, rx) = crossbeam_channel::bounded(1);
    peaks.rx = Some(rx);
    let spawned = std::thread::Builder::new()
        .name("verbatim-peaks".into())
        .spawn(move || {
            let mut pyramid = crate::dsp::peaks::PeakPyramid::new();
            let Ok(mut pcm) = crate::transcribe::audio::Pcm16k::open(&path) else {
                return;
            };
            let mut buf = Vec::with_capacity(1 << 16);
            loop {
                buf.clear();
                match pcm.read(&mut buf, 1 << 16) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => pyramid.push(&buf),
                }
            }
            let _ = tx.send(pyramid);
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot build the waveform: {e}");
    }
}

#[derive(Resource, Clone)]
struct EditorStore(AudioStore);

impl Plugin for EditorPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Editor>()
            .init_resource::<DocPeaks>()
            .add_systems(Update, build_peaks.in_set(AppSet::Analyze))
            .insert_resource(EditorStore(self.store.clone()))
            .add_message::<EditorCommand>()
            .add_message::<EditorEvent>()
            .add_systems(Update, apply_replies.in_set(AppSet::Ingest))
            .add_systems(Update, handle_commands.in_set(AppSet::Apply));
    }
}

fn handle_commands(
    mut commands: MessageReader<EditorCommand>,
    mut editor: ResMut<Editor>,
    db: Option<ResMut<Database>>,
    mut events: MessageWriter<EditorEvent>,
    player: Option<ResMut<Player>>,
) {
    let Some(mut db) = db else { return };
    let mut player = player;
    for cmd in commands.read() {
        match cmd {
            EditorCommand::Open {
                transcript,
                version,
                segment,
            } => {
                let token = editor.token(Pending::Open { segment: *segment });
                db.queue(DbCommand::LoadTranscript {
                    transcript: *transcript,
                    version: *version,
                    token,
                });
            }
            EditorCommand::Edit(edit) => {
                let Some(doc) = editor.doc.as_mut() else {
                    continue;
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
            EditorCommand::Save { note } => {
                let Some(doc) = editor.doc.as_ref() else {
                    continue;
                };
                if !doc.session.dirty() {
                    events.write(EditorEvent::Refused("Nothing to save: no changes".into()));
                    continue;
                }
                if let Err(e) = crate::transcript::edit::validate(
                    &doc.session.segments,
                    doc.session.duration_ms,
                ) {
                    events.write(EditorEvent::Refused(format!("Not saved: {e}")));
                    continue;
                }
                let mut v = NewVersion::new(VersionSource::Edit);
                v.based_on = Some(doc.version.id);
                v.note = note.clone().filter(|n| !n.trim().is_empty());
                v.author = std::env::var("USER").ok();
                let transcript = doc.transcript.id;
                let segments = doc.session.segments.clone();
                let token = editor.token(Pending::Save);
                db.queue(DbCommand::SaveVersion {
                    transcript,
                    version: v,
                    segments,
                    token,
                });
            }
            EditorCommand::Rollback { to } => {
                let Some(doc) = editor.doc.as_ref() else {
                    continue;
                };
                let transcript = doc.transcript.id;
                let token = editor.token(Pending::Save);
                db.queue(DbCommand::Rollback {
                    transcript,
                    to: *to,
                    token,
                });
            }
            EditorCommand::ImportVersion {
                transcript,
                segments,
                note,
            } => {
                let mut v = NewVersion::new(VersionSource::Import);
                v.note = Some(note.clone());
                let token = editor.token(Pending::Save);
                db.queue(DbCommand::SaveVersion {
                    transcript: *transcript,
                    version: v,
                    segments: segments.clone(),
                    token,
                });
            }
            EditorCommand::Compare { left, right } => {
                let Some(doc) = editor.doc.as_ref() else {
                    continue;
                };
                let transcript = doc.transcript.id;
                editor.compare_parts = [None, None];
                for (side, n) in [(0, *left), (1, *right)] {
                    let token = editor.token(Pending::CompareSide(side));
                    db.queue(DbCommand::LoadTranscript {
                        transcript,
                        version: Some(n),
                        token,
                    });
                }
            }
            EditorCommand::CloseCompare => editor.compare = None,
            EditorCommand::Close => {
                editor.doc = None;
                editor.compare = None;
                if let Some(p) = player.as_mut() {
                    p.pause();
                }
            }
            EditorCommand::Export { format, path } => {
                let Some(doc) = editor.doc.as_ref() else {
                    continue;
                };
                // The saved version, not unsaved edits: an export names its version.
                let request = ExportRequest {
                    transcript: doc.transcript.id,
                    version: doc.version.id,
                    version_number: doc.version.number,
                    title: doc
                        .transcript
                        .title
                        .clone()
                        .unwrap_or_else(|| doc.transcript.audio_name.clone()),
                    model: doc.version.model.clone(),
                    format: *format,
                    segments: doc.session.saved_segments(),
                    path: path.clone(),
                    token: 0,
                };
                let token = editor.token(Pending::Export);
                db.queue(DbCommand::Export(Box::new(ExportRequest {
                    token,
                    ..request
                })));
            }
            EditorCommand::Search(q) => {
                let token = editor.token(Pending::Search);
                db.queue(DbCommand::Search {
                    query: q.clone(),
                    current_only: true,
                    limit: 200,
                    token,
                });
            }
            EditorCommand::ListTranscripts => {
                let token = editor.token(Pending::Transcripts);
                db.queue(DbCommand::ListTranscripts { token });
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
}

#[allow(clippy::too_many_arguments)]
fn apply_replies(
    mut replies: MessageReader<DbReplied>,
    mut editor: ResMut<Editor>,
    store: Res<EditorStore>,
    mut events: MessageWriter<EditorEvent>,
    db: Option<ResMut<Database>>,
    player: Option<ResMut<Player>>,
) {
    let mut db = db;
    let mut player = player;
    for DbReplied(reply) in replies.read() {
        match reply {
            DbReply::TranscriptLoaded { token, result } => {
                let Some(p) = editor.pending.remove(token) else {
                    continue;
                };
                let loaded = match result {
                    Ok(l) => l,
                    Err(e) => {
                        events.write(EditorEvent::Failed(format!(
                            "Cannot open the transcript: {e}"
                        )));
                        continue;
                    }
                };
                let segs: Vec<Seg> = loaded.segments.iter().cloned().map(Seg::from).collect();
                match p {
                    Pending::Open { segment } => {
                        let audio_path = store.0.absolute(&loaded.transcript.audio_path);
                        if let Some(pl) = player.as_mut()
                            && editor
                                .doc
                                .as_ref()
                                .is_none_or(|d| d.audio_path != audio_path)
                        {
                            pl.load(&audio_path);
                        }
                        events.write(EditorEvent::Opened {
                            transcript: loaded.transcript.id,
                            version: loaded.version.number,
                        });
                        editor.compare = None;
                        editor.doc = Some(Doc {
                            session: EditSession::new(segs, loaded.transcript.duration_ms),
                            transcript: loaded.transcript.clone(),
                            versions: loaded.versions.clone(),
                            version: loaded.version.clone(),
                            audio_path,
                            focus: segment,
                            selected: segment,
                            bookmarks: loaded.bookmarks.clone(),
                        });
                        if let (Some(i), Some(pl)) = (segment, player.as_mut())
                            && let Some(s) = loaded.segments.get(i)
                        {
                            pl.seek_ms(s.start_ms);
                        }
                    }
                    Pending::CompareSide(side) => {
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
                    _ => {}
                }
            }
            DbReply::VersionSaved {
                token,
                transcript,
                result,
            } => {
                if editor.pending.remove(token).is_none() {
                    continue;
                }
                match result {
                    Ok((_, number)) => {
                        events.write(EditorEvent::Saved {
                            transcript: *transcript,
                            version: *number,
                        });
                        // Reload what is open: the version list changed and the new one is
                        // current.
                        let open = editor
                            .doc
                            .as_ref()
                            .is_some_and(|d| d.transcript.id == *transcript);
                        if open && let Some(db) = db.as_mut() {
                            let focus = editor.doc.as_ref().and_then(|d| d.selected);
                            let token = editor.token(Pending::Open { segment: focus });
                            db.queue(DbCommand::LoadTranscript {
                                transcript: *transcript,
                                version: None,
                                token,
                            });
                        }
                    }
                    Err(e) => {
                        events.write(EditorEvent::Failed(format!("Not saved: {e}")));
                    }
                }
            }
            DbReply::SearchResults { token, result } => {
                if editor.pending.remove(token).is_none() {
                    continue;
                }
                match result {
                    Ok(hits) => {
                        editor.search_results = hits.clone();
                        events.write(EditorEvent::Searched(hits.len()));
                    }
                    Err(e) => {
                        events.write(EditorEvent::Failed(format!("Search failed: {e}")));
                    }
                }
            }
            DbReply::Exported { token, result } => {
                if editor.pending.remove(token).is_none() {
                    continue;
                }
                events.write(match result {
                    Ok(path) => EditorEvent::Exported(path.clone()),
                    Err(e) => EditorEvent::Failed(format!("Export failed: {e}")),
                });
            }
            DbReply::Transcripts { token, result } => {
                if editor.pending.remove(token).is_none() {
                    continue;
                }
                match result {
                    Ok(list) => {
                        editor.transcripts = list.clone();
                        events.write(EditorEvent::Listed(list.len()));
                    }
                    Err(e) => {
                        events.write(EditorEvent::Failed(format!("Cannot list transcripts: {e}")));
                    }
                }
            }
            _ => {}
        }
    }
}
