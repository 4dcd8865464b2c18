//! The database writer thread: the one place that writes (and, for the ECS, reads) SQLite.
//!
//! The ECS sends a `Vec<DbCommand>` per frame; the writer applies a batch in one transaction,
//! each command in its own savepoint so one failing command cannot take the others with it,
//! and answers every command with a [`DbReply`].

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use rusqlite::Connection;

use super::ids::{AudioFileId, JobId, SessionId, TranscriptId, VersionId};
use super::repo::{
    self, AudioFileRow, JobRow, JobUpdate, NewJob, NewRecordingSession, NewSegment, NewVersion,
    SearchHit, SegmentRow, SessionEnd, SessionProgress, TranscriptRow, VersionRow,
};
use super::{StorageError, now_ms, runner};
use crate::capture::recovery::{self, Recovered};
use crate::library::import::{self, AudioStore, ImportError, Imported, Placed, StagedImport};
use crate::transcribe::draft;
use crate::transcript::export::Format;

/// Work for the writer thread.
#[derive(Debug)]
pub enum DbCommand {
    /// Read every audio file (answered with [`DbReply::Library`]).
    LoadLibrary,
    /// Record a staged import and move its file into the store.
    CommitImport(Box<StagedImport>),
    /// Open a recording session row (status `recording`); answered on `reply`, not with a
    /// [`DbReply`], because the capture writer waits for the id.
    OpenSession {
        session: NewRecordingSession,
        reply: Sender<Result<SessionId, String>>,
    },
    /// Bring a session in progress up to date (no reply).
    SessionProgress {
        id: SessionId,
        progress: SessionProgress,
    },
    /// Close a finished take: import its parts, link the first, record how it ended; then
    /// remove `remove_after` (the take, now stored) if everything committed. Answered with
    /// [`DbReply::RecordingSaved`].
    SaveRecording {
        session: Option<SessionId>,
        end: SessionEnd,
        staged: Vec<StagedImport>,
        remove_after: Vec<PathBuf>,
    },
    /// Repair interrupted takes (sessions left `recording` by a crash) and mark them
    /// `recovered` (or `failed`). Answered with [`DbReply::Recovered`].
    RecoverSessions,
    /// Queue a transcription job. Answered with [`DbReply::JobCreated`] carrying `token`.
    CreateJob { job: NewJob, token: u64 },
    /// Record a job's new state (no reply; failures are logged).
    UpdateJob { id: JobId, update: JobUpdate },
    /// A finished job: its transcript with version 1 and segments (FTS follows by trigger),
    /// and the job marked completed, in one transaction. Answered with
    /// [`DbReply::TranscriptSaved`].
    SaveTranscript(Box<SaveTranscript>),
    /// Load the job list, first queueing again the jobs of processes that are gone
    /// ([`repo::release_orphans`]; `adopt`: as this runner's). Answered with
    /// [`DbReply::Jobs`].
    LoadJobs { adopt: Option<String> },
    /// Load a transcript, its version list and one version's segments (`None`: the
    /// current one). Answered with [`DbReply::TranscriptLoaded`].
    LoadTranscript {
        transcript: TranscriptId,
        version: Option<u32>,
        token: u64,
    },
    /// Save edited (or imported) segments as a new version, which becomes current. Answered
    /// with [`DbReply::VersionSaved`].
    SaveVersion {
        transcript: TranscriptId,
        version: NewVersion,
        segments: Vec<NewSegment>,
        token: u64,
    },
    /// A new version equal to version `to`. Answered with [`DbReply::VersionSaved`].
    Rollback {
        transcript: TranscriptId,
        to: u32,
        token: u64,
    },
    /// Full-text search. Answered with [`DbReply::SearchResults`].
    Search {
        query: String,
        current_only: bool,
        limit: u32,
        token: u64,
    },
    /// Every transcript. Answered with [`DbReply::Transcripts`].
    ListTranscripts { token: u64 },
    /// Render a version in a format, write it to `path` and note it in the export history:
    /// file work stays off the frame. Answered with [`DbReply::Exported`].
    Export(Box<ExportRequest>),
    /// Keep a piece of live text as it is committed (no reply; failures are logged).
    LivePiece {
        session: SessionId,
        piece: repo::LivePiece,
    },
    /// Mark a stretch of a take being recorded (no reply; failures are logged).
    Bookmark {
        session: SessionId,
        mark: repo::Bookmark,
    },
    /// The stored take's live draft becomes version 1 of its transcript
    /// ([`crate::transcribe::draft::save`]). Answered with [`DbReply::LiveDraftSaved`].
    SaveLiveDraft {
        session: SessionId,
        audio_file: AudioFileId,
        about: serde_json::Value,
        /// Keep a draft with no text (live ran and heard nothing); else none is made.
        keep_empty: bool,
    },
}

/// What [`DbCommand::Export`] writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    pub transcript: TranscriptId,
    pub version: VersionId,
    pub version_number: u32,
    pub title: String,
    pub model: Option<String>,
    pub format: Format,
    pub segments: Vec<NewSegment>,
    pub path: PathBuf,
    pub token: u64,
}

/// What [`DbCommand::LoadTranscript`] finds.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedTranscript {
    pub transcript: TranscriptRow,
    pub versions: Vec<VersionRow>,
    pub version: VersionRow,
    pub segments: Vec<SegmentRow>,
    /// The audio file's bookmarks (those set while its take recorded too).
    pub bookmarks: Vec<repo::Bookmark>,
}

/// What [`DbCommand::SaveTranscript`] stores.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveTranscript {
    pub job: JobId,
    pub audio_file: AudioFileId,
    /// A new version of this transcript instead of a new transcript.
    pub into: Option<TranscriptId>,
    pub title: Option<String>,
    pub version: NewVersion,
    pub segments: Vec<NewSegment>,
    pub update: JobUpdate,
}

/// The writer's answer to one command.
#[derive(Debug, Clone, PartialEq)]
pub enum DbReply {
    Library(Result<Vec<AudioFileRow>, String>),
    Imported {
        source: PathBuf,
        result: Result<Imported, ImportError>,
    },
    RecordingSaved {
        session: Option<SessionId>,
        /// The take's parts as library entries (empty when the import failed).
        imported: Vec<Imported>,
        result: Result<(), String>,
    },
    Recovered(Result<Vec<Recovered>, String>),
    JobCreated {
        token: u64,
        result: Result<JobRow, String>,
    },
    TranscriptSaved {
        job: JobId,
        result: Result<(TranscriptId, VersionId), String>,
    },
    Jobs {
        requeued: Vec<JobId>,
        result: Result<Vec<JobRow>, String>,
    },
    TranscriptLoaded {
        token: u64,
        result: Result<Box<LoadedTranscript>, String>,
    },
    VersionSaved {
        token: u64,
        transcript: TranscriptId,
        result: Result<(VersionId, u32), String>,
    },
    SearchResults {
        token: u64,
        result: Result<Vec<SearchHit>, String>,
    },
    Transcripts {
        token: u64,
        result: Result<Vec<TranscriptRow>, String>,
    },
    /// The absolute path written.
    Exported {
        token: u64,
        result: Result<PathBuf, String>,
    },
    /// `None`: there was no live text to keep.
    LiveDraftSaved {
        session: SessionId,
        result: Result<Option<TranscriptId>, String>,
    },
}

/// Handle to the writer thread. Dropping it closes the queue; the thread finishes the
/// batches already sent and exits, and the drop waits for that.
#[derive(Debug)]
pub struct DbWriter {
    commands: Option<Sender<Vec<DbCommand>>>,
    replies: Receiver<DbReply>,
    thread: Option<JoinHandle<()>>,
    db_path: PathBuf,
}

impl DbWriter {
    /// Opens (and migrates) the database at `db_path` and starts the writer thread. The
    /// database is opened here, so a bad database is reported to the caller at once.
    pub fn spawn(db_path: &Path, store: AudioStore) -> Result<Self, StorageError> {
        let conn = super::open(db_path)?;
        Self::spawn_with(conn, db_path.to_path_buf(), store)
    }

    /// Starts the writer over an already opened connection (tests use in-memory databases).
    pub fn spawn_with(
        conn: Connection,
        db_path: PathBuf,
        store: AudioStore,
    ) -> Result<Self, StorageError> {
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded::<Vec<DbCommand>>();
        let (reply_tx, reply_rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("verbatim-db-writer".into())
            .spawn(move || run(conn, store, cmd_rx, reply_tx))
            .map_err(|source| StorageError::Io {
                path: db_path.clone(),
                source,
            })?;
        Ok(Self {
            commands: Some(cmd_tx),
            replies: reply_rx,
            thread: Some(thread),
            db_path,
        })
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// A handle other threads (the capture writer) use to queue commands.
    pub fn sender(&self) -> Result<DbSender, StorageError> {
        self.commands
            .clone()
            .map(DbSender)
            .ok_or(StorageError::WriterGone)
    }

    /// Queues a batch; it is applied in one transaction.
    pub fn send(&self, batch: Vec<DbCommand>) -> Result<(), StorageError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.commands
            .as_ref()
            .ok_or(StorageError::WriterGone)?
            .send(batch)
            .map_err(|_| StorageError::WriterGone)
    }

    /// The next reply, if one is ready.
    pub fn try_recv(&self) -> Result<Option<DbReply>, StorageError> {
        match self.replies.try_recv() {
            Ok(r) => Ok(Some(r)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(StorageError::WriterGone),
        }
    }

    /// Waits for the next reply (CLI and tests).
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Option<DbReply> {
        self.replies.recv_timeout(timeout).ok()
    }
}

/// A cloneable way to queue commands for the writer thread.
#[derive(Debug, Clone)]
pub struct DbSender(Sender<Vec<DbCommand>>);

impl DbSender {
    /// Queues one command (after the writer stopped: `WriterGone`, and the command is lost).
    pub fn send(&self, command: DbCommand) -> Result<(), StorageError> {
        self.0
            .send(vec![command])
            .map_err(|_| StorageError::WriterGone)
    }
}

impl Drop for DbWriter {
    fn drop(&mut self) {
        // An empty batch is the stop sign (`send` never sends one): other threads may still
        // hold senders (a capture writer closing its take), so disconnection cannot be it.
        // Everything queued before it is still applied.
        if let Some(tx) = self.commands.take() {
            let _ = tx.send(Vec::new());
        }
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the database writer thread panicked");
        }
    }
}

fn run(
    mut conn: Connection,
    store: AudioStore,
    commands: Receiver<Vec<DbCommand>>,
    replies: Sender<DbReply>,
) {
    let _span = tracing::info_span!("db_writer").entered();
    while let Ok(batch) = commands.recv() {
        if batch.is_empty() {
            break;
        }
        let n = batch.len();
        let out = apply_batch(&mut conn, &store, batch);
        tracing::debug!(commands = n, "applied a batch");
        for reply in out {
            if replies.send(reply).is_err() {
                return;
            }
        }
    }
    tracing::debug!("database writer stopping");
}

/// Applies one batch in one transaction. Public for tests and benchmarks.
pub fn apply_batch(
    conn: &mut Connection,
    store: &AudioStore,
    batch: Vec<DbCommand>,
) -> Vec<DbReply> {
    let mut replies = Vec::with_capacity(batch.len());
    let mut placed: Vec<Placed> = Vec::new();
    let mut remove_after_commit: Vec<PathBuf> = Vec::new();
    // IMMEDIATE: the write lock is taken at BEGIN, where the busy timeout waits for another
    // process's writer. A deferred transaction that reads first and then writes cannot wait
    // (SQLite answers "database is locked" at once when the snapshot it read is stale).
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let msg = format!("cannot start a transaction: {e}");
            tracing::error!("{msg}");
            return batch.into_iter().filter_map(|c| failure(c, &msg)).collect();
        }
    };
    for command in batch {
        let sp = match tx.savepoint() {
            Ok(sp) => sp,
            Err(e) => {
                replies.extend(failure(command, &e.to_string()));
                continue;
            }
        };
        let mut remove = Vec::new();
        // What this command put into the store: taken back if its savepoint rolls back.
        let mut here: Vec<Placed> = Vec::new();
        let reply = match command {
            DbCommand::LoadLibrary => Some(DbReply::Library(
                repo::list_audio_files(&sp).map_err(|e| e.to_string()),
            )),
            DbCommand::CommitImport(staged) => {
                let source = staged.source.clone();
                let result = import::commit(&sp, store, *staged).map(|(imported, p)| {
                    here.extend(p);
                    imported
                });
                Some(DbReply::Imported { source, result })
            }
            DbCommand::OpenSession { session, reply } => {
                let r = repo::insert_recording_session(&sp, &session, now_ms())
                    .map_err(|e| e.to_string());
                let ok = r.is_ok();
                let _ = reply.send(r);
                finish_savepoint(sp, ok);
                continue;
            }
            DbCommand::SessionProgress { id, progress } => {
                let r = repo::update_recording_progress(&sp, id, &progress, now_ms());
                unanswered(sp, r, || format!("cannot update recording session {id}"));
                continue;
            }
            DbCommand::SaveRecording {
                session,
                end,
                staged,
                remove_after,
            } => {
                let (imported, result) =
                    save_recording(&sp, store, session, &end, staged, &mut here);
                if result.is_ok() {
                    remove = remove_after;
                }
                Some(DbReply::RecordingSaved {
                    session,
                    imported,
                    result,
                })
            }
            DbCommand::RecoverSessions => {
                let r = recovery::recover_sessions(&sp, store, &mut here, &mut remove);
                Some(DbReply::Recovered(r.map_err(|e| e.to_string())))
            }
            DbCommand::CreateJob { job, token } => {
                let result = repo::insert_job_with(&sp, &job, now_ms())
                    .and_then(|id| repo::get_job(&sp, id))
                    .and_then(|row| row.ok_or_else(|| StorageError::NotFound("the new job".into())))
                    .map_err(|e| e.to_string());
                Some(DbReply::JobCreated { token, result })
            }
            DbCommand::UpdateJob { id, update } => {
                let r = repo::update_job(&sp, id, &update, now_ms());
                unanswered(sp, r, || format!("cannot update job {id}"));
                continue;
            }
            DbCommand::SaveTranscript(save) => {
                let now = now_ms();
                // The transcript it was meant for may have been deleted since: then a new one.
                let into = save
                    .into
                    .filter(|t| matches!(repo::get_transcript(&sp, *t), Ok(Some(_))));
                let stored = match into {
                    Some(t) => repo::add_version(&sp, t, &save.version, &save.segments, now)
                        .map(|(v, _)| (t, v)),
                    None => repo::create_transcript(
                        &sp,
                        save.audio_file,
                        Some(save.job),
                        save.title.as_deref(),
                        &save.version,
                        &save.segments,
                        now,
                    ),
                };
                let result = stored
                    .and_then(|ids| repo::update_job(&sp, save.job, &save.update, now).map(|_| ids))
                    .map_err(|e| e.to_string());
                Some(DbReply::TranscriptSaved {
                    job: save.job,
                    result,
                })
            }
            DbCommand::LoadTranscript {
                transcript,
                version,
                token,
            } => Some(DbReply::TranscriptLoaded {
                token,
                result: load_transcript(&sp, transcript, version)
                    .map(Box::new)
                    .map_err(|e| e.to_string()),
            }),
            DbCommand::SaveVersion {
                transcript,
                version,
                segments,
                token,
            } => Some(DbReply::VersionSaved {
                token,
                transcript,
                result: repo::add_version(&sp, transcript, &version, &segments, now_ms())
                    .map_err(|e| e.to_string()),
            }),
            DbCommand::Rollback {
                transcript,
                to,
                token,
            } => Some(DbReply::VersionSaved {
                token,
                transcript,
                result: repo::rollback(&sp, transcript, to, None, now_ms())
                    .map_err(|e| e.to_string()),
            }),
            DbCommand::Search {
                query,
                current_only,
                limit,
                token,
            } => Some(DbReply::SearchResults {
                token,
                result: repo::search(&sp, &query, current_only, limit).map_err(|e| e.to_string()),
            }),
            DbCommand::ListTranscripts { token } => Some(DbReply::Transcripts {
                token,
                result: repo::list_transcripts(&sp).map_err(|e| e.to_string()),
            }),
            DbCommand::Export(req) => Some(DbReply::Exported {
                token: req.token,
                result: export(&sp, &req),
            }),
            DbCommand::LivePiece { session, piece } => {
                let r = repo::insert_live_piece(&sp, session, &piece, now_ms());
                unanswered(sp, r, || {
                    format!("cannot keep the live text of session {session}")
                });
                continue;
            }
            DbCommand::Bookmark { session, mark } => {
                let r = repo::insert_session_bookmark(&sp, session, &mark, now_ms());
                unanswered(sp, r, || {
                    format!("cannot keep a bookmark of session {session}")
                });
                continue;
            }
            DbCommand::SaveLiveDraft {
                session,
                audio_file,
                about,
                keep_empty,
            } => Some(DbReply::LiveDraftSaved {
                session,
                result: draft::save(&sp, session, audio_file, about, keep_empty, now_ms())
                    .map_err(|e| e.to_string()),
            }),
            DbCommand::LoadJobs { adopt } => {
                let data_dir = store.data_dir();
                let requeued = repo::release_orphans(
                    &sp,
                    |id| runner::is_alive(data_dir, id),
                    adopt.as_deref(),
                    now_ms(),
                )
                .unwrap_or_else(|e| {
                    tracing::error!("cannot queue the jobs of ended processes again: {e}");
                    Vec::new()
                });
                Some(DbReply::Jobs {
                    requeued,
                    result: repo::list_jobs(&sp, 200).map_err(|e| e.to_string()),
                })
            }
        };
        let ok = !matches!(
            &reply,
            Some(
                DbReply::Imported { result: Err(_), .. }
                    | DbReply::Library(Err(_))
                    | DbReply::RecordingSaved { result: Err(_), .. }
                    | DbReply::Recovered(Err(_))
                    | DbReply::JobCreated { result: Err(_), .. }
                    | DbReply::TranscriptSaved { result: Err(_), .. }
                    | DbReply::VersionSaved { result: Err(_), .. }
                    | DbReply::Exported { result: Err(_), .. }
                    | DbReply::LiveDraftSaved { result: Err(_), .. }
            )
        );
        if finish_savepoint(sp, ok) {
            placed.extend(here);
            remove_after_commit.extend(remove);
        } else {
            here.into_iter().for_each(Placed::undo);
        }
        replies.extend(reply);
    }
    if let Err(e) = tx.commit() {
        let msg = format!("cannot commit: {e}");
        tracing::error!("{msg}");
        placed.into_iter().for_each(Placed::undo);
        for r in &mut replies {
            match r {
                DbReply::Imported { result, .. } => {
                    *result = Err(ImportError::Database(msg.clone()));
                }
                DbReply::RecordingSaved {
                    imported, result, ..
                } => {
                    imported.clear();
                    *result = Err(msg.clone());
                }
                DbReply::Recovered(result) => *result = Err(msg.clone()),
                DbReply::JobCreated { result, .. } => *result = Err(msg.clone()),
                DbReply::TranscriptSaved { result, .. } => *result = Err(msg.clone()),
                DbReply::Jobs { result, .. } => *result = Err(msg.clone()),
                DbReply::TranscriptLoaded { result, .. } => *result = Err(msg.clone()),
                DbReply::VersionSaved { result, .. } => *result = Err(msg.clone()),
                DbReply::SearchResults { result, .. } => *result = Err(msg.clone()),
                DbReply::Transcripts { result, .. } => *result = Err(msg.clone()),
                DbReply::Exported { result, .. } => *result = Err(msg.clone()),
                DbReply::LiveDraftSaved { result, .. } => *result = Err(msg.clone()),
                DbReply::Library(_) => {}
            }
        }
        return replies;
    }
    // The takes now live in the store: their originals go (a take stored in place has moved
    // already).
    for path in remove_after_commit {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove the stored take {}: {e}", path.display()),
        }
    }
    replies
}

fn export(conn: &Connection, req: &ExportRequest) -> Result<PathBuf, String> {
    let meta = crate::transcript::export::Meta {
        title: &req.title,
        transcript_id: req.transcript.0,
        version: req.version_number,
        model: req.model.as_deref(),
    };
    let text = crate::transcript::export::render(req.format, &meta, &req.segments);
    let written = crate::transcript::export::write_new(&req.path, &text)
        .map_err(|e| format!("cannot write {}: {e}", req.path.display()))?;
    let abs = std::fs::canonicalize(&written).unwrap_or(written);
    repo::record_export(
        conn,
        req.transcript,
        req.version,
        req.format.code(),
        &abs.to_string_lossy(),
        now_ms(),
    )
    .map_err(|e| {
        format!(
            "{} was written but not recorded in the history: {e}",
            abs.display()
        )
    })?;
    Ok(abs)
}

fn load_transcript(
    conn: &Connection,
    transcript: TranscriptId,
    version: Option<u32>,
) -> Result<LoadedTranscript, StorageError> {
    let Some(t) = repo::get_transcript(conn, transcript)? else {
        return Err(StorageError::NotFound(format!("transcript {transcript}")));
    };
    let versions = repo::versions(conn, transcript)?;
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
    let segments = repo::segments(conn, version.id)?;
    let bookmarks = repo::bookmarks(conn, t.audio_file)?;
    Ok(LoadedTranscript {
        transcript: t,
        versions,
        version,
        segments,
        bookmarks,
    })
}

/// Ends the savepoint of a command nobody waits for: kept if it worked, else rolled back
/// and its failure logged (`what` says what could not be done).
fn unanswered<T>(
    sp: rusqlite::Savepoint<'_>,
    r: Result<T, StorageError>,
    what: impl FnOnce() -> String,
) {
    if let Err(e) = &r {
        tracing::error!("{}: {e}", what());
    }
    finish_savepoint(sp, r.is_ok());
}

/// Releases (`ok`) or rolls back a command's savepoint; whether its changes stay.
fn finish_savepoint(mut sp: rusqlite::Savepoint<'_>, ok: bool) -> bool {
    if ok {
        // A savepoint that fails to release is rolled back when dropped.
        return match sp.commit() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "savepoint failed");
                false
            }
        };
    }
    if let Err(e) = sp.rollback() {
        tracing::error!(error = %e, "savepoint rollback failed");
    }
    false
}

/// Imports a finished take's parts and closes its session (inside the caller's savepoint).
fn save_recording(
    conn: &Connection,
    store: &AudioStore,
    session: Option<SessionId>,
    end: &SessionEnd,
    staged: Vec<StagedImport>,
    placed: &mut Vec<Placed>,
) -> (Vec<Imported>, Result<(), String>) {
    let mut imported = Vec::new();
    for part in staged {
        match import::commit(conn, store, part) {
            Ok((i, path)) => {
                placed.extend(path);
                imported.push(i);
            }
            Err(e) => return (Vec::new(), Err(e.to_string())),
        }
    }
    if let Some(id) = session {
        let file = imported.first().map(|i| i.row.id);
        if let Err(e) = repo::close_recording_session(conn, id, end, file, now_ms()) {
            return (Vec::new(), Err(e.to_string()));
        }
    }
    (imported, Ok(()))
}

fn failure(command: DbCommand, msg: &str) -> Option<DbReply> {
    match command {
        DbCommand::LoadLibrary => Some(DbReply::Library(Err(msg.to_owned()))),
        DbCommand::CommitImport(staged) => Some(DbReply::Imported {
            source: staged.source.clone(),
            result: Err(ImportError::Database(msg.to_owned())),
        }),
        DbCommand::OpenSession { reply, .. } => {
            let _ = reply.send(Err(msg.to_owned()));
            None
        }
        DbCommand::SessionProgress { .. } => None,
        DbCommand::SaveRecording { session, .. } => Some(DbReply::RecordingSaved {
            session,
            imported: Vec::new(),
            result: Err(msg.to_owned()),
        }),
        DbCommand::RecoverSessions => Some(DbReply::Recovered(Err(msg.to_owned()))),
        DbCommand::CreateJob { token, .. } => Some(DbReply::JobCreated {
            token,
            result: Err(msg.to_owned()),
        }),
        DbCommand::UpdateJob { .. } => None,
        DbCommand::SaveTranscript(save) => Some(DbReply::TranscriptSaved {
            job: save.job,
            result: Err(msg.to_owned()),
        }),
        DbCommand::LoadJobs { .. } => Some(DbReply::Jobs {
            requeued: Vec::new(),
            result: Err(msg.to_owned()),
        }),
        DbCommand::LoadTranscript { token, .. } => Some(DbReply::TranscriptLoaded {
            token,
            result: Err(msg.to_owned()),
        }),
        DbCommand::SaveVersion {
            token, transcript, ..
        }
        | DbCommand::Rollback {
            token, transcript, ..
        } => Some(DbReply::VersionSaved {
            token,
            transcript,
            result: Err(msg.to_owned()),
        }),
        DbCommand::Search { token, .. } => Some(DbReply::SearchResults {
            token,
            result: Err(msg.to_owned()),
        }),
        DbCommand::ListTranscripts { token } => Some(DbReply::Transcripts {
            token,
            result: Err(msg.to_owned()),
        }),
        DbCommand::Export(req) => Some(DbReply::Exported {
            token: req.token,
            result: Err(msg.to_owned()),
        }),
        DbCommand::LivePiece { .. } | DbCommand::Bookmark { .. } => None,
        DbCommand::SaveLiveDraft { session, .. } => Some(DbReply::LiveDraftSaved {
            session,
            result: Err(msg.to_owned()),
        }),
    }
}
