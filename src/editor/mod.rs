//! The editor: one transcript version open for editing, its version history, a comparison of
//! two versions, and search. The segments are edited in an [`EditSession`] (ECS-free) and
//! mirrored as entities ([`segments`]) that the panels read; this plugin turns intents into
//! edits and database commands and replies into state. Saving creates a
//! new immutable version; nothing is ever rewritten.

use std::path::PathBuf;

use bevy::prelude::*;

use crate::library::import::AudioStore;
use crate::schedule::{AppSystems, Feature};
use crate::storage::ids::{TranscriptId, VersionId};
use crate::storage::now_ms;
use crate::storage::plugin::{Database, Replies};
use crate::transcribe::live::sql::Bookmark;
use crate::transcript::Segment;
use crate::transcript::diff::Comparison;
use crate::transcript::edit::{Edit, EditSession, SegmentKey};
use crate::transcript::export::Format;
use crate::transcript::sql::{SearchHit, TranscriptRow, VersionRow};

mod audio;
mod commands;
pub mod drafts;
pub mod flags;
mod replies;
pub mod rows;
pub mod segments;
pub mod speakers;
mod store;

pub use audio::{
    DocPeaks, DocSpectrogram, SPECTROGRAM_BANDS, SPECTROGRAM_HZ, SpectrogramView, SpectrogramWanted,
};
use audio::{build_peaks, build_spectrogram};
use commands::handle_commands;
use replies::apply_replies;
pub use store::{LoadedTranscript, SaveError, load_transcript};

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
    /// Full-text search of every transcript's current text; with a speaker, only what they
    /// say.
    Search {
        query: String,
        speaker: Option<String>,
    },
    ListTranscripts,
    /// Seek playback to a time (and play).
    Seek {
        ms: u64,
        play: bool,
    },
    /// Close the editor (back to the library).
    Close,
    /// Find who speaks in the open transcript: its segments get their speakers as a new
    /// version (on a thread of its own, see [`speakers`]).
    FindSpeakers,
    /// Stop finding speakers (nothing is saved).
    CancelFindSpeakers,
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
    /// The speakers of a transcript were found: `version` holds them (none: every segment
    /// already had its speaker).
    SpeakersFound {
        transcript: TranscriptId,
        version: Option<u32>,
        speakers: Vec<String>,
    },
    /// A speaker renamed (or merged into another) everywhere: `versions` transcripts got a
    /// new version.
    SpeakersChanged {
        from: String,
        to: String,
        merged: bool,
        versions: usize,
    },
    /// Finding a transcript's speakers was cancelled: nothing was saved.
    SpeakersCancelled {
        transcript: TranscriptId,
    },
    /// A speaker's voice remembered from `windows` voiceprint windows (later recordings of
    /// it get the name).
    VoiceRemembered {
        name: String,
        windows: u32,
    },
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
            .add_message::<SpectrogramWanted>()
            .add_message::<EditorEvent>()
            .add_message::<crate::transcribe::JobFinished>()
            .init_resource::<Replies<EditorReply>>()
            .init_resource::<speakers::LibrarySpeakers>()
            .init_resource::<speakers::VoiceLearning>()
            .init_resource::<Replies<speakers::SpeakersReply>>()
            .add_message::<speakers::SpeakersCommand>()
            .add_systems(
                Update,
                // After the storage answers: both write the editor's events.
                (
                    speakers::finish_speakers,
                    speakers::finish_speaker_changes,
                    speakers::finish_learning,
                )
                    .chain()
                    .after(apply_replies)
                    .in_set(AppSystems::Ingest.of(Feature::Editor)),
            )
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
                    speakers::start_speakers,
                    speakers::speakers_after_jobs,
                    speakers::refresh_speakers,
                    speakers::speakers_commands,
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
