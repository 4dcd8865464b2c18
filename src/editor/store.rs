//! What the editor asks of the database: a version loaded, a version saved (never on a stale
//! base), an export written.

use std::path::PathBuf;

use super::{EditorReply, Load, drafts};
use crate::storage::ids::{TranscriptId, VersionId};
use crate::storage::plugin::{Database, Replies};
use crate::storage::writer::command;
use crate::storage::{StorageError, now_ms};
use crate::transcribe::live::sql::Bookmark;
use crate::transcript;
use crate::transcript::Segment;
use crate::transcript::export::Format;
use crate::transcript::sql::{NewVersion, SegmentRow, TranscriptRow, VersionRow, VersionSource};

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
pub(super) struct ExportJob {
    pub(super) transcript: TranscriptId,
    pub(super) version: VersionId,
    pub(super) version_number: u32,
    pub(super) title: String,
    pub(super) model: Option<String>,
    pub(super) format: Format,
    pub(super) segments: Vec<Segment>,
    pub(super) path: PathBuf,
    pub(super) words: bool,
}

/// Renders and writes the file (on its own thread: file work stays off the frame and out of
/// the writer's transaction), then notes it in the export history.
pub(super) fn export(
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

/// Queues the load of a transcript version on the reader.
pub(super) fn load(
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
pub(super) fn save_version(
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
