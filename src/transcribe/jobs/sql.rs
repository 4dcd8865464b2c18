//! The rows of `transcription_jobs`: queueing, reading, updating and releasing jobs. The
//! jobs feature owns this SQL; `storage` only runs it on its threads. Every statement is
//! parameterized and cached.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::JobStatus;
use crate::storage::StorageError;
use crate::storage::ids::{AudioFileId, JobId, TranscriptId, VersionId};

/// Stored as its `as_db` text; `Saving` is stored as `running` (the engine is done, the
/// transcript not yet stored: a crash then runs the job again).
impl ToSql for JobStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_db()))
    }
}

/// A status this program never writes is an error (a newer version's row, a hand edit), not
/// a job to run: read as `pending`, it would run again.
impl FromSql for JobStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        JobStatus::from_db(s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown job status {s:?}").into()))
    }
}

/// A job that transcribes spans of its file again: its result replaces the segments of
/// version `based_on` inside each span (migrations 006 and 010).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redo {
    /// `None` when the version was deleted since (with its transcript).
    pub based_on: Option<VersionId>,
    /// The first span's start and the last one's end.
    pub from_ms: u64,
    pub to_ms: u64,
    /// The spans when there are several (in time order, disjoint, inside `[from_ms, to_ms)`);
    /// empty: the one span `[from_ms, to_ms)`.
    pub batch: Vec<(u64, u64)>,
}

impl Redo {
    /// One span.
    pub fn span(based_on: Option<VersionId>, from_ms: u64, to_ms: u64) -> Self {
        Self {
            based_on,
            from_ms,
            to_ms,
            batch: Vec::new(),
        }
    }

    /// Several spans (sorted and joined where they touch or overlap); `None` when there are
    /// none or one is empty.
    pub fn spans(based_on: Option<VersionId>, spans: &[(u64, u64)]) -> Option<Self> {
        let mut sorted = spans.to_vec();
        if sorted.iter().any(|(a, b)| a >= b) {
            return None;
        }
        sorted.sort_unstable();
        let mut joined: Vec<(u64, u64)> = Vec::with_capacity(sorted.len());
        for (a, b) in sorted {
            match joined.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => joined.push((a, b)),
            }
        }
        let (from_ms, to_ms) = (joined.first()?.0, joined.last()?.1);
        Some(Self {
            based_on,
            from_ms,
            to_ms,
            batch: if joined.len() > 1 { joined } else { Vec::new() },
        })
    }

    /// Every span, in time order.
    pub fn each(&self) -> Vec<(u64, u64)> {
        if self.batch.is_empty() {
            vec![(self.from_ms, self.to_ms)]
        } else {
            self.batch.clone()
        }
    }
}

/// A job to queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    pub audio_file: AudioFileId,
    /// The model as the user named it (a catalogue name or a path).
    pub model: String,
    /// `auto`, `gpu` or `cpu`.
    pub requested_backend: String,
    pub language: Option<String>,
    pub params_json: String,
    /// The process that will run it (see [`release_orphans`]); `None`: anyone.
    pub runner: Option<String>,
    /// The transcript its result becomes a new version of; `None`: a new transcript.
    pub into_transcript: Option<TranscriptId>,
    /// Only a span, replacing it in a version of `into_transcript`.
    pub redo: Option<Redo>,
}

/// Queues a job (status `pending`).
pub fn insert_job(conn: &Connection, job: &NewJob, now: i64) -> Result<JobId, StorageError> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO transcription_jobs (audio_file_id, model, requested_backend, language, \
             params_json, runner, transcript_id, created_at, updated_at, span_start_ms, \
             span_end_ms, based_on_version_id, spans_json) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12) RETURNING id",
        )?
        .query_row(
            params![
                job.audio_file,
                job.model,
                job.requested_backend,
                job.language,
                job.params_json,
                job.runner,
                job.into_transcript,
                now,
                job.redo.as_ref().map(|r| r.from_ms),
                job.redo.as_ref().map(|r| r.to_ms),
                job.redo.as_ref().and_then(|r| r.based_on),
                job.redo
                    .as_ref()
                    .filter(|r| !r.batch.is_empty())
                    .map(|r| serde_json::to_string(&r.batch))
                    .transpose()
                    .map_err(|e| StorageError::Invalid(e.to_string()))?,
            ],
            |r| r.get(0),
        )?)
}

/// A job as stored, with its audio file's stored path and the transcript it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRow {
    pub id: JobId,
    pub audio_file: AudioFileId,
    pub audio_name: String,
    /// Relative to the data directory.
    pub audio_path: String,
    pub audio_duration_ms: u64,
    pub model: String,
    pub requested_backend: String,
    pub actual_backend: Option<String>,
    pub backend_note: Option<String>,
    pub language: Option<String>,
    pub threads: Option<u32>,
    pub params_json: String,
    pub status: JobStatus,
    pub progress: f64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub processing_ms: Option<i64>,
    pub error: Option<String>,
    pub attempts: u32,
    pub transcript: Option<TranscriptId>,
    /// The process that runs it or will (see [`release_orphans`]).
    pub runner: Option<String>,
    /// The transcript its result becomes a new version of (`None`: a new one).
    pub into_transcript: Option<TranscriptId>,
    /// Only a span of the file, replacing it in a version.
    pub redo: Option<Redo>,
}

const JOB_COLUMNS: &str = "j.id, j.audio_file_id, a.original_name, a.stored_path, a.duration_ms, \
     j.model, j.requested_backend, j.actual_backend, j.backend_note, j.language, j.threads, \
     j.params_json, j.status, j.progress, j.created_at, j.started_at, j.finished_at, \
     j.processing_ms, j.error, j.attempts, \
     COALESCE(j.transcript_id, (SELECT MAX(t.id) FROM transcripts t WHERE t.job_id = j.id)), \
     j.runner, j.transcript_id, j.span_start_ms, j.span_end_ms, j.based_on_version_id, \
     j.spans_json";

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        audio_file: r.get(1)?,
        audio_name: r.get(2)?,
        audio_path: r.get(3)?,
        audio_duration_ms: r.get(4)?,
        model: r.get(5)?,
        requested_backend: r.get(6)?,
        actual_backend: r.get(7)?,
        backend_note: r.get(8)?,
        language: r.get(9)?,
        threads: r.get(10)?,
        params_json: r.get(11)?,
        status: r.get(12)?,
        progress: r.get(13)?,
        created_at: r.get(14)?,
        started_at: r.get(15)?,
        finished_at: r.get(16)?,
        processing_ms: r.get(17)?,
        error: r.get(18)?,
        attempts: r.get(19)?,
        transcript: r.get(20)?,
        runner: r.get(21)?,
        into_transcript: r.get(22)?,
        redo: match (r.get::<_, Option<u64>>(23)?, r.get::<_, Option<u64>>(24)?) {
            (Some(from_ms), Some(to_ms)) => Some(Redo {
                based_on: r.get(25)?,
                from_ms,
                to_ms,
                // Written by this program (checked by the column's json_valid): a batch that
                // does not read as spans is the envelope alone, never a panic.
                batch: r
                    .get::<_, Option<String>>(26)?
                    .and_then(|j| serde_json::from_str(&j).ok())
                    .unwrap_or_default(),
            }),
            _ => None,
        },
    })
}

/// One job.
pub fn get_job(conn: &Connection, id: JobId) -> Result<Option<JobRow>, StorageError> {
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM transcription_jobs j JOIN audio_files a ON a.id = j.audio_file_id \
         WHERE j.id = ?1"
    ))?
    .query_row(params![id], job_row)
    .optional()
    .map_err(Into::into)
}

/// Jobs, newest first: every unfinished one and up to `recent` finished ones.
pub fn list_jobs(conn: &Connection, recent: u32) -> Result<Vec<JobRow>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM transcription_jobs j JOIN audio_files a ON a.id = j.audio_file_id \
         WHERE j.status IN ('pending', 'running') \
            OR j.id IN (SELECT id FROM transcription_jobs \
                        WHERE status NOT IN ('pending', 'running') ORDER BY id DESC LIMIT ?1) \
         ORDER BY j.id DESC"
    ))?;
    let rows = stmt.query_map(params![recent], job_row)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(Into::into)
}

/// Jobs whose process is gone, queued again: a `running` job of a runner that `is_alive`
/// denies becomes `pending` (its interruption noted), and its `pending` ones lose their
/// runner. With `adopt`, they all become that runner's instead of nobody's (a process that
/// runs every pending job takes them). Each row is changed only while it still names the
/// dead runner, so two processes doing this at once never both take a job. The ids of the
/// jobs that were running.
pub fn release_orphans(
    conn: &Connection,
    is_alive: impl Fn(&str) -> bool,
    adopt: Option<&str>,
    now: i64,
) -> Result<Vec<JobId>, StorageError> {
    let runners: Vec<Option<String>> = conn
        .prepare_cached(
            "SELECT DISTINCT runner FROM transcription_jobs WHERE status IN ('pending', 'running')",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut requeued = Vec::new();
    for runner in runners {
        if runner.as_deref().is_some_and(&is_alive) {
            continue;
        }
        let mut running = conn.prepare_cached(
            "UPDATE transcription_jobs SET status = 'pending', progress = 0, started_at = NULL, \
             runner = ?2, error = 'interrupted: the app stopped while this job ran; queued again', \
             updated_at = ?3 WHERE status = 'running' AND runner IS ?1 RETURNING id",
        )?;
        let ids = running.query_map(params![runner, adopt, now], |r| r.get(0))?;
        for id in ids {
            requeued.push(id?);
        }
        conn.prepare_cached(
            "UPDATE transcription_jobs SET runner = ?2, updated_at = ?3 \
             WHERE status = 'pending' AND runner IS ?1 AND runner IS NOT ?2",
        )?
        .execute(params![runner, adopt, now])?;
    }
    Ok(requeued)
}

/// A change of a job's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobUpdate {
    pub status: JobStatus,
    pub progress: f64,
    pub actual_backend: Option<String>,
    pub backend_note: Option<String>,
    pub threads: Option<u32>,
    pub params_json: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub processing_ms: Option<i64>,
    pub error: Option<String>,
    pub attempts: u32,
    /// The process that runs it (`None`: keep what the row says).
    pub runner: Option<String>,
}

pub fn update_job(
    conn: &Connection,
    id: JobId,
    u: &JobUpdate,
    now: i64,
) -> Result<(), StorageError> {
    let n = conn
        .prepare_cached(
            "UPDATE transcription_jobs SET status = ?2, progress = ?3, actual_backend = ?4, \
             backend_note = ?5, threads = ?6, params_json = COALESCE(?7, params_json), \
             started_at = ?8, finished_at = ?9, processing_ms = ?10, error = ?11, attempts = ?12, \
             updated_at = ?13, runner = COALESCE(?14, runner) WHERE id = ?1",
        )?
        .execute(params![
            id,
            u.status,
            u.progress.clamp(0.0, 1.0),
            u.actual_backend,
            u.backend_note,
            u.threads,
            u.params_json,
            u.started_at,
            u.finished_at,
            u.processing_ms,
            u.error,
            u.attempts,
            now,
            u.runner
        ])?;
    if n == 0 {
        return Err(StorageError::NotFound(format!("transcription job {id}")));
    }
    Ok(())
}
