//! The editor: one transcript version open for editing, its version history, a comparison of
//! two versions, and search. The segments are edited in an [`EditSession`] (ECS-free) and
//! mirrored as entities ([`segments`]) that the panels read; this plugin turns intents into
//! edits and database commands and replies into state. Saving creates a
//! new immutable version; nothing is ever rewritten.

use std::path::PathBuf;

use bevy::prelude::*;

use crate::library::import::AudioStore;
use crate::playback::Player;
use crate::schedule::{AppSystems, Feature};
use crate::storage::ids::{TranscriptId, VersionId};
use crate::storage::plugin::{Database, Replies};
use crate::storage::writer::command;
use crate::storage::{StorageError, now_ms};
use crate::transcribe::live::sql::Bookmark;
use crate::transcript;
use crate::transcript::Segment;
use crate::transcript::diff::{Comparison, compare};
use crate::transcript::edit::{Edit, EditSession, SegmentKey};
use crate::transcript::export::Format;
use crate::transcript::sql::{
    NewVersion, SearchHit, SegmentRow, TranscriptRow, VersionRow, VersionSource,
};

pub mod drafts;
pub mod flags;
pub mod rows;
pub mod segments;

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
    /// Unsaved edits of this transcript kept from an earlier session (a crash, a kill, a
    /// close without saving), offered back until restored or discarded.
    pub draft: Option<drafts::EditDraft>,
}

/// Two versions side by side.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareDoc {
    pub left: VersionRow,
    pub right: VersionRow,
    pub left_segs: Vec<Segment>,
    pub right_segs: Vec<Segment>,
    pub result: Comparison,
}

/// The editor's state.
#[derive(Resource, Debug, Default)]
pub struct Editor {
    pub doc: Option<Doc>,
    pub compare: Option<CompareDoc>,
    pub search_results: Vec<SearchHit>,
    pub transcripts: Vec<TranscriptRow>,
    compare_parts: [Option<(VersionRow, Vec<Segment>)>; 2],
    /// The user is typing in a segment's text field (text not yet given to the session):
    /// counts as unsaved work, so nothing reloads the document under it.
    pub typing: bool,
    /// The newest open (or close) asked for: an answer to an older one is dropped, so a
    /// slow load can never replace what the user opened (or closed) since.
    open_seq: u64,
    /// The unsaved state last written as a draft: (transcript, revision).
    autosaved: Option<(TranscriptId, u64)>,
}

impl Editor {
    /// Whether the open document holds work that is not in a saved version: edits in the
    /// session, or text being typed.
    pub fn unsaved(&self) -> bool {
        self.doc.as_ref().is_some_and(|d| d.session.dirty()) || self.typing
    }
}

/// What a loaded version is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// `seq`: the open it answers (see `Editor::open_seq`); `restore`: apply the
    /// transcript's autosaved draft once loaded.
    Open {
        segment: Option<usize>,
        seq: u64,
        restore: bool,
    },
    CompareSide(usize),
}

/// Answers of the editor's storage commands and queries.
enum EditorReply {
    Loaded {
        load: Load,
        result: Result<Box<LoadedTranscript>, String>,
    },
    Saved {
        transcript: TranscriptId,
        result: Result<(VersionId, u32), SaveError>,
    },
    /// A draft was discarded (or could not be).
    Discarded(Result<(), String>),
    Searched(Result<Vec<SearchHit>, String>),
    Listed(Result<Vec<TranscriptRow>, String>),
    /// The absolute path written.
    Exported(Result<PathBuf, String>),
}

/// A transcript, its version list and one version's segments.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedTranscript {
    pub transcript: TranscriptRow,
    pub versions: Vec<VersionRow>,
    pub version: VersionRow,
    pub segments: Vec<SegmentRow>,
    /// The audio file's bookmarks (those set while its take recorded too).
    pub bookmarks: Vec<Bookmark>,
    /// Where the voice activity model heard speech in the file (`transcript::sql::speech_regions`).
    pub speech: Option<Vec<(u64, u64)>>,
    /// Unsaved edits kept from an earlier session.
    pub draft: Option<drafts::EditDraft>,
}

/// Why a version was not saved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SaveError {
    /// The edits were made on version `base`, and version `current` was saved since (by a
    /// job, another window, the CLI): saving them would silently undo that version.
    #[error(
        "version {current} was saved since you started editing version {base}; your edits are \
         still here, unsaved"
    )]
    Stale { base: u32, current: u32 },
    #[error("{0}")]
    Failed(String),
}

impl From<crate::storage::writer::BatchFailed> for SaveError {
    fn from(e: crate::storage::writer::BatchFailed) -> Self {
        Self::Failed(e.to_string())
    }
}

impl From<StorageError> for SaveError {
    fn from(e: StorageError) -> Self {
        Self::Failed(e.to_string())
    }
}

/// Reads a transcript with version `version` (`None`: the current one).
pub fn load_transcript(
    conn: &rusqlite::Connection,
    transcript: TranscriptId,
    version: Option<u32>,
) -> Result<LoadedTranscript, StorageError> {
    let Some(t) = transcript::sql::get_transcript(conn, transcript)? else {
        return Err(StorageError::NotFound(format!("transcript {transcript}")));
    };
    let versions = transcript::sql::versions(conn, transcript)?;
    let version = match version {
        Some(n) => versions.iter().find(|v| v.number == n).cloned(),
        None => versions.iter().find(|v| v.is_current).cloned(),
    }
    .ok_or_else(|| {
        StorageError::NotFound(format!(
            "version {} of transcript {transcript}",
            version.map_or("(current)".to_string(), |n| n.to_string())
        ))
    })?;
    let segments = transcript::sql::segments(conn, version.id)?;
    let bookmarks = crate::transcribe::live::sql::bookmarks(conn, t.audio_file)?;
    let speech = transcript::sql::speech_regions(conn, transcript)?;
    let draft = match drafts::get(conn, transcript) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    };
    Ok(LoadedTranscript {
        transcript: t,
        versions,
        version,
        segments,
        bookmarks,
        speech,
        draft,
    })
}

/// What an export writes.
struct ExportJob {
    transcript: TranscriptId,
    version: VersionId,
    version_number: u32,
    title: String,
    model: Option<String>,
    format: Format,
    segments: Vec<Segment>,
    path: PathBuf,
    words: bool,
}

/// Renders and writes the file (on its own thread: file work stays off the frame and out of
/// the writer's transaction), then notes it in the export history.
fn export(
    job: ExportJob,
    db: crate::storage::writer::DbSender,
    reply: impl FnOnce(Result<PathBuf, String>) + Send + 'static,
) {
    let spawned = std::thread::Builder::new()
        .name("verbatim-export".into())
        .spawn(move || {
            let meta = crate::transcript::export::Meta {
                title: &job.title,
                transcript_id: job.transcript.0,
                version: job.version_number,
                model: job.model.as_deref(),
            };
            let render = if job.words {
                crate::transcript::export::render_words
            } else {
                crate::transcript::export::render
            };
            let text = render(job.format, &meta, &job.segments);
            let written = match crate::transcript::export::write_new(&job.path, &text) {
                Ok(w) => w,
                Err(e) => return reply(Err(format!("cannot write {}: {e}", job.path.display()))),
            };
            let abs = std::fs::canonicalize(&written).unwrap_or(written);
            let (transcript, version, code) = (job.transcript, job.version, job.format.code());
            let record = command(
                move |c, _| {
                    transcript::sql::record_export(
                        c,
                        transcript,
                        version,
                        code,
                        &abs.to_string_lossy(),
                        now_ms(),
                    )
                    .map(|_| abs.clone())
                    .map_err(|e| {
                        format!(
                            "{} was written but not recorded in the history: {e}",
                            abs.display()
                        )
                    })
                },
                reply,
            );
            if let Err(e) = db.send(record) {
                tracing::error!("the export was written but not recorded: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the export: {e}");
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
    /// Set the text of the segment with `key` in the open `version` to `text`, if its text
    /// is still `base` (what the field was showing when the user started typing); refused
    /// otherwise, so a field can never write over a segment that changed under it.
    EditText {
        version: VersionId,
        key: SegmentKey,
        base: String,
        text: String,
    },
    /// The user is typing into a segment's field (`true`) or has left it.
    Typing(bool),
    Undo,
    Redo,
    Select(Option<usize>),
    /// Save the edits as a new version (refused when another version was saved since the
    /// open one: `EditorEvent::Stale`).
    Save {
        note: Option<String>,
    },
    /// Save the edits as a new version on top of the current one, when the user chose so
    /// after being told that another version was saved since (`EditorEvent::Stale`).
    SaveOnTop {
        note: Option<String>,
    },
    /// Apply the open transcript's autosaved draft (opening the version it was made on).
    RestoreDraft,
    /// Drop the unsaved edits: the autosaved draft, and the session's edits (back to the
    /// open version as saved).
    DiscardEdits,
    /// A new version equal to version `to`.
    Rollback {
        to: u32,
    },
    /// Save imported segments as a new version (source `import`).
    ImportVersion {
        transcript: TranscriptId,
        segments: Vec<Segment>,
        note: String,
    },
    Compare {
        left: u32,
        right: u32,
    },
    CloseCompare,
    /// Export the open version's saved segments (`words`: word-level SRT/VTT, see
    /// `transcript::export::render_words`).
    Export {
        format: Format,
        path: PathBuf,
        words: bool,
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
    /// Not saved: version `current` was saved since the edits' base `base` (the edits stay).
    Stale {
        transcript: TranscriptId,
        base: u32,
        current: u32,
    },
    /// The unsaved edits were dropped.
    Discarded,
    Compared,
    Exported(PathBuf),
    Searched(usize),
    Listed(usize),
}

pub struct EditorPlugin {
    pub store: AudioStore,
}

/// A job finished a new version of the open transcript (a span transcribed again, say): the
/// editor opens it, at the same segment, unless there are unsaved edits (then the version
/// is in the list, and the edits stay).
fn follow_new_versions(
    mut done: MessageReader<crate::transcribe::JobFinished>,
    editor: Res<Editor>,
    mut out: MessageWriter<EditorCommand>,
) {
    let Some(doc) = editor.doc.as_ref() else {
        done.clear();
        return;
    };
    let ours = done.read().any(|j| {
        j.status == crate::transcribe::JobStatus::Completed
            && j.transcript == Some(doc.transcript.id)
    });
    if ours && !editor.unsaved() {
        out.write(EditorCommand::Open {
            transcript: doc.transcript.id,
            version: None,
            segment: doc.selected,
        });
    }
}

/// The waveform of the open transcript's audio (16 kHz mono), built off the frame. The file
/// is decoded once: the same samples feed the peak pyramid and the player.
#[derive(Resource, Default)]
pub struct DocPeaks {
    pub path: Option<PathBuf>,
    pub pyramid: Option<crate::dsp::peaks::PeakPyramid>,
    /// The decoded samples (shared with the player), for the spectrogram.
    pub samples: Option<std::sync::Arc<[f32]>>,
    rx: Option<crossbeam_channel::Receiver<Result<Decoded, PathBuf>>>,
}

/// What a spectrogram picture of the open file shows: a stretch of it, so many pixels wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpectrogramView {
    /// The audio file (a picture of another file is never shown).
    pub file: i64,
    pub start_ms: u64,
    pub span_ms: u64,
    pub width: u32,
}

/// The spectrogram of the stretch of the open file on the timeline, computed off the frame
/// (`dsp::spectrum::view_image`: its cost follows the pixels, not the file) whenever the
/// window asks for another view, and kept until then.
#[derive(Resource, Default)]
pub struct DocSpectrogram {
    /// The view the timeline shows now (the window sets it).
    pub wanted: Option<SpectrogramView>,
    /// The picture: its view and its RGBA rows (highest band first), [`SPECTROGRAM_BANDS`]
    /// of them.
    pub image: Option<(SpectrogramView, std::sync::Arc<Vec<u8>>)>,
    computing: Option<(
        SpectrogramView,
        crossbeam_channel::Receiver<Option<Vec<u8>>>,
    )>,
}

impl DocSpectrogram {
    pub fn busy(&self) -> bool {
        self.computing.is_some()
    }
}

/// Bands (rows) of the file spectrogram, and its frequency range (log axis).
pub const SPECTROGRAM_BANDS: usize = 64;
pub const SPECTROGRAM_HZ: (f32, f32) = (60.0, 8_000.0);

fn build_spectrogram(peaks: Res<DocPeaks>, mut spec: ResMut<DocSpectrogram>) {
    if let Some((view, rx)) = &spec.computing
        && let Ok(done) = rx.try_recv()
    {
        let view = *view;
        spec.computing = None;
        if let Some(img) = done {
            spec.image = Some((view, std::sync::Arc::new(img)));
        }
    }
    let (Some(wanted), Some(samples)) = (spec.wanted, peaks.samples.clone()) else {
        return;
    };
    let have = spec.image.as_ref().map(|(v, ..)| *v);
    if spec.computing.is_some() || have == Some(wanted) || wanted.width == 0 {
        return;
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new()
        .name("verbatim-spectrogram".into())
        .spawn(move || {
            let ms = |t: u64| (t * 16) as usize;
            let img = crate::dsp::spectrum::LogAxis::new(
                SPECTROGRAM_HZ.0,
                SPECTROGRAM_HZ.1,
                SPECTROGRAM_BANDS,
            )
            .and_then(|axis| {
                crate::dsp::spectrum::view_image(
                    &samples,
                    16_000,
                    (ms(wanted.start_ms), ms(wanted.start_ms + wanted.span_ms)),
                    wanted.width as usize,
                    &axis,
                    512,
                    (-90.0, -20.0),
                )
            });
            if let Err(e) = &img {
                tracing::warn!("cannot draw the spectrogram: {e}");
            }
            let _ = tx.send(img.ok());
        });
    match spawned {
        Ok(_) => spec.computing = Some((wanted, rx)),
        Err(e) => tracing::warn!("cannot start the spectrogram: {e}"),
    }
}

/// A file decoded for the editor.
struct Decoded {
    path: PathBuf,
    samples: std::sync::Arc<[f32]>,
    pyramid: crate::dsp::peaks::PeakPyramid,
}

fn build_peaks(editor: Res<Editor>, mut peaks: ResMut<DocPeaks>, player: Option<ResMut<Player>>) {
    if let Some(rx) = &peaks.rx
        && let Ok(decoded) = rx.try_recv()
    {
        peaks.rx = None;
        match (decoded, player) {
            (Ok(d), Some(mut pl)) if pl.loaded.as_ref() != Some(&d.path) => {
                peaks.samples = Some(std::sync::Arc::clone(&d.samples));
                pl.load_samples(&d.path, d.samples);
                peaks.pyramid = Some(d.pyramid);
            }
            (Ok(d), _) => {
                peaks.samples = Some(d.samples);
                peaks.pyramid = Some(d.pyramid);
            }
            // The player reads it itself and says why it cannot.
            (Err(path), Some(mut pl)) => pl.load(&path),
            (Err(_), None) => {}
        }
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
    peaks.samples = None;
    let (tx, rx) = crossbeam_channel::bounded(1);
    peaks.rx = Some(rx);
    let spawned = std::thread::Builder::new()
        .name("verbatim-decode".into())
        .spawn(move || {
            let samples: std::sync::Arc<[f32]> = match crate::media::decode::read_all(&path) {
                Ok(s) => s.into(),
                Err(e) => {
                    tracing::warn!("cannot read {} for the waveform: {e}", path.display());
                    let _ = tx.send(Err(path));
                    return;
                }
            };
            let mut pyramid = crate::dsp::peaks::PeakPyramid::new();
            pyramid.push(&samples);
            let _ = tx.send(Ok(Decoded {
                path,
                samples,
                pyramid,
            }));
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
            .init_resource::<DocSpectrogram>()
            .add_systems(
                Update,
                (build_peaks, build_spectrogram)
                    .chain()
                    .in_set(AppSystems::Analyze.of(Feature::Editor)),
            )
            .insert_resource(EditorStore(self.store.clone()))
            .add_message::<EditorCommand>()
            .add_message::<EditorEvent>()
            .add_message::<crate::transcribe::JobFinished>()
            .init_resource::<Replies<EditorReply>>()
            .add_systems(
                Update,
                apply_replies.in_set(AppSystems::Ingest.of(Feature::Editor)),
            )
            .add_systems(
                Update,
                autosave.in_set(AppSystems::Persist.of(Feature::Editor)),
            )
            .add_plugins(segments::plugin)
            .init_resource::<flags::Rules>()
            .init_resource::<flags::DocSpeech>()
            .init_resource::<flags::FlaggedCount>()
            .add_systems(
                Update,
                (
                    follow_new_versions,
                    handle_commands,
                    segments::mirror,
                    segments::link_versions,
                    flags::flag_segments,
                    flags::count_flagged,
                    segments::align_words,
                )
                    .chain()
                    .in_set(AppSystems::Apply.of(Feature::Editor)),
            );
    }
}

/// Keeps the open document's unsaved edits on disk as its draft (`drafts`): written at each
/// new state of the edits (they change at the speed of a person's edits, not of frames), and
/// deleted when the edits are undone back to the saved version. Saving deletes it in the
/// save's own transaction.
fn autosave(mut editor: ResMut<Editor>, db: Option<ResMut<Database>>) {
    let Some(mut db) = db else { return };
    let Some(doc) = editor.doc.as_ref() else {
        return;
    };
    let (transcript, revision) = (doc.transcript.id, doc.session.revision());
    let written = editor.autosaved;
    if written == Some((transcript, revision)) {
        return;
    }
    if !doc.session.dirty() {
        // Back at the saved state: a draft this session wrote holds nothing any more (one
        // found at open is left alone: it is still offered).
        if written.is_some_and(|(t, _)| t == transcript) {
            db.write(
                move |c, _| drafts::delete(c, transcript).map_err(|e| e.to_string()),
                |r: Result<(), String>| {
                    if let Err(e) = r {
                        tracing::warn!("the kept copy of undone edits was not removed: {e}");
                    }
                },
            );
            editor.autosaved = None;
        }
        return;
    }
    let (base, segments) = (doc.version.id, doc.session.segments().to_vec());
    db.write(
        move |c, _| {
            drafts::save(c, transcript, base, &segments, now_ms()).map_err(|e| e.to_string())
        },
        |r: Result<(), String>| {
            if let Err(e) = r {
                tracing::warn!("the unsaved edits could not be kept on disk: {e}");
            }
        },
    );
    editor.autosaved = Some((transcript, revision));
}

/// Queues the load of a transcript version on the reader.
fn load(
    db: &mut Database,
    replies: &Replies<EditorReply>,
    transcript: TranscriptId,
    version: Option<u32>,
    what: Load,
) {
    db.read(
        move |c| {
            load_transcript(c, transcript, version)
                .map(Box::new)
                .map_err(|e| e.to_string())
        },
        replies.to(move |result| EditorReply::Loaded { load: what, result }),
    );
}

/// Saves a version of `transcript` (source and note in `version`). `learn`: the words the
/// user corrected (against the version it is based on, or the current one) are learnt into
/// the library's vocabulary in the same transaction (`transcript::words::learned`).
fn save_version(
    db: &mut Database,
    replies: &Replies<EditorReply>,
    transcript: TranscriptId,
    version: NewVersion,
    segments: Vec<Segment>,
    learn: bool,
) {
    db.write(
        move |c, _| {
            let now = now_ms();
            let mut version = version;
            // Checked inside the writer's transaction: a version is only ever written on top
            // of the one that is current when it is written (no lost update). An edit based
            // on no version is one the user chose to save on top of whatever is current.
            let current = transcript::sql::current_version(c, transcript)?;
            if version.source == VersionSource::Edit && version.based_on.is_none() {
                version.based_on = current.as_ref().map(|v| v.id);
            }
            if let Some(base) = version.based_on
                && version.source == VersionSource::Edit
                && let Some(current) = current
                && current.id != base
            {
                let base = transcript::sql::versions(c, transcript)?
                    .iter()
                    .find(|v| v.id == base)
                    .map_or(0, |v| v.number);
                return Err(SaveError::Stale {
                    base,
                    current: current.number,
                });
            }
            let before = match version.based_on {
                _ if !learn => None,
                Some(v) => Some(v),
                None => transcript::sql::current_version(c, transcript)?.map(|v| v.id),
            };
            let saved = transcript::sql::add_version(c, transcript, &version, &segments, now)?;
            // The edits are in a version now: their autosaved draft goes with the save.
            drafts::delete(c, transcript)?;
            if let Some(before) = before {
                let learnt = transcript::sql::segments(c, before).map(|rows| {
                    let before: Vec<Segment> = rows.into_iter().map(Segment::from).collect();
                    crate::transcript::words::learned(&before, &segments)
                });
                if let Err(e) = learnt.and_then(|l| {
                    crate::transcript::vocabulary::learn_corrections(c, transcript, &l, now)
                }) {
                    tracing::warn!("the corrections were not added to the vocabulary: {e}");
                }
            }
            Ok(saved)
        },
        replies.to(move |result| EditorReply::Saved { transcript, result }),
    );
}

fn handle_commands(
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
        } => {
            let Some(doc) = editor.doc.as_mut() else {
                events.write(EditorEvent::Refused(format!(
                    "Not applied: the transcript was closed before your text \"{text}\" \
                         reached it"
                )));
                return;
            };
            let index = doc.session.index_of(*key);
            let current = index.and_then(|i| doc.session.segments().get(i));
            match (index, current) {
                (Some(index), Some(seg)) if doc.version.id == *version && seg.text == *base => {
                    let edit = Edit::SetText {
                        index,
                        text: text.clone(),
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
        EditorCommand::Typing(on) => {
            if editor.typing != *on {
                editor.typing = *on;
            }
        }
        EditorCommand::SaveOnTop { note } => {
            let Some(doc) = editor.doc.as_ref() else {
                return;
            };
            if !savable(doc, events) {
                return;
            }
            // No base: the writer puts it on top of the version current then.
            let mut v = NewVersion::new(VersionSource::Edit);
            v.note = note.clone().filter(|n| !n.trim().is_empty());
            v.author = std::env::var("USER").ok();
            let (transcript, segments) = (doc.transcript.id, doc.session.segments().to_vec());
            save_version(db, replies, transcript, v, segments, true);
        }
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
        EditorCommand::DiscardEdits => {
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
        EditorCommand::Save { note } => {
            let Some(doc) = editor.doc.as_ref() else {
                return;
            };
            if !doc.session.dirty() {
                events.write(EditorEvent::Refused("Nothing to save: no changes".into()));
                return;
            }
            if !savable(doc, events) {
                return;
            }
            let mut v = NewVersion::new(VersionSource::Edit);
            v.based_on = Some(doc.version.id);
            v.note = note.clone().filter(|n| !n.trim().is_empty());
            v.author = std::env::var("USER").ok();
            let transcript = doc.transcript.id;
            let segments = doc.session.segments().to_vec();
            save_version(db, replies, transcript, v, segments, true);
        }
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
        } => {
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
                format: *format,
                segments: doc.session.saved_segments().to_vec(),
                path: path.clone(),
                words: *words,
            };
            export(job, db.sender(), replies.to(EditorReply::Exported));
        }
        EditorCommand::Search(q) => {
            let q = q.clone();
            db.read(
                move |c| transcript::sql::search(c, &q, true, 200).map_err(|e| e.to_string()),
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

#[allow(clippy::too_many_arguments)]
fn apply_replies(
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
                        let mut session = EditSession::new(segs, loaded.transcript.duration_ms);
                        // A draft equal to what is saved holds nothing to offer.
                        let mut draft = loaded.draft.clone().filter(|d| {
                            d.base != loaded.version.id || d.segments != session.segments()
                        });
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
            EditorReply::Saved { transcript, result } => {
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
                        if open && let Some(db) = db.as_mut() {
                            let focus = editor.doc.as_ref().and_then(|d| d.selected);
                            editor.open_seq += 1;
                            let what = Load::Open {
                                segment: focus,
                                seq: editor.open_seq,
                                restore: false,
                            };
                            load(db, &replies, transcript, None, what);
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
