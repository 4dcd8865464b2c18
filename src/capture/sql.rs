//! The rows of `recording_sessions`: a take while it records, how it ended, its progress.
//! The capture feature owns this SQL; every statement is parameterized and cached; "no such
//! row" is `Ok(None)`.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::storage::StorageError;
use crate::storage::ids::{AudioFileId, SessionId};

/// A take about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRecordingSession {
    pub device_id: Option<String>,
    pub device_name: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub sample_format: String,
    /// The WAV being written, relative to the data directory.
    pub file_path: String,
    /// The process recording it (`storage::runner`).
    pub runner: Option<String>,
}

/// Opens a recording session row in status `recording`.
pub fn insert_recording_session(
    conn: &Connection,
    session: &NewRecordingSession,
    now: i64,
) -> Result<SessionId, StorageError> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO recording_sessions (device_id, device_name, sample_rate, channels, \
             sample_format, file_path, started_at, runner) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        )?
        .query_row(
            params![
                session.device_id,
                session.device_name,
                session.sample_rate,
                session.channels,
                session.sample_format,
                session.file_path,
                now,
                session.runner
            ],
            |r| r.get(0),
        )?)
}

/// Where a recording session is (`recording_sessions.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Being recorded, or cut short by a crash (recovery looks for these).
    Recording,
    Complete,
    Recovered,
    Failed,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recording => "recording",
            Self::Complete => "complete",
            Self::Recovered => "recovered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "recording" => Self::Recording,
            "complete" => Self::Complete,
            "recovered" => Self::Recovered,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

impl std::fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for SessionStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl rusqlite::types::ToSql for SessionStatus {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for SessionStatus {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        Self::parse(s).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown session status {s:?}").into())
        })
    }
}

/// How a take ended (`recording_sessions.stop_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    User,
    Duration,
    DeviceLost,
    DiskFull,
    WriteError,
    Crash,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::User => "user",
            StopReason::Duration => "duration",
            StopReason::DeviceLost => "device_lost",
            StopReason::DiskFull => "disk_full",
            StopReason::WriteError => "write_error",
            StopReason::Crash => "crash",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => StopReason::User,
            "duration" => StopReason::Duration,
            "device_lost" => StopReason::DeviceLost,
            "disk_full" => StopReason::DiskFull,
            "write_error" => StopReason::WriteError,
            "crash" => StopReason::Crash,
            _ => return None,
        })
    }
}

/// A row of `recording_sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingSessionRow {
    pub id: SessionId,
    pub device_id: Option<String>,
    pub device_name: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub sample_format: String,
    /// Relative to the data directory, or absolute for a take written elsewhere (`--out`).
    pub file_path: String,
    pub audio_file_id: Option<AudioFileId>,
    pub status: SessionStatus,
    pub stop_reason: Option<StopReason>,
    pub frames_written: u64,
    pub overruns: u64,
    pub frames_dropped: u64,
    /// `(frame in the take, frames lost)` for every overrun.
    pub xruns: Vec<(u64, u64)>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub error: Option<String>,
}

const SESSION_COLUMNS: &str = "id, device_id, device_name, sample_rate, channels, sample_format, \
     file_path, audio_file_id, status, stop_reason, frames_written, overruns, frames_dropped, \
     xruns_json, started_at, ended_at, error";

fn session_row(r: &Row<'_>) -> rusqlite::Result<RecordingSessionRow> {
    let reason: Option<String> = r.get(9)?;
    let xruns: String = r.get(13)?;
    Ok(RecordingSessionRow {
        id: r.get(0)?,
        device_id: r.get(1)?,
        device_name: r.get(2)?,
        sample_rate: r.get(3)?,
        channels: r.get(4)?,
        sample_format: r.get(5)?,
        file_path: r.get(6)?,
        audio_file_id: r.get(7)?,
        status: r.get(8)?,
        stop_reason: reason.as_deref().and_then(StopReason::parse),
        frames_written: r.get(10)?,
        overruns: r.get(11)?,
        frames_dropped: r.get(12)?,
        xruns: serde_json::from_str(&xruns).unwrap_or_default(),
        started_at: r.get(14)?,
        ended_at: r.get(15)?,
        error: r.get(16)?,
    })
}

/// One recording session.
pub fn get_recording_session(
    conn: &Connection,
    id: SessionId,
) -> Result<Option<RecordingSessionRow>, StorageError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM recording_sessions WHERE id = ?1"
        ))?
        .query_row([id], session_row)
        .optional()?)
}

/// Recording sessions, newest first; `status` filters (e.g. `recording` for interrupted ones).
pub fn list_recording_sessions(
    conn: &Connection,
    status: Option<SessionStatus>,
) -> Result<Vec<RecordingSessionRow>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM recording_sessions \
         WHERE ?1 IS NULL OR status = ?1 ORDER BY started_at DESC, id DESC"
    ))?;
    let rows = stmt.query_map([status], session_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What the recorder knows of a take in progress (every 250 ms of audio).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionProgress {
    pub frames_written: u64,
    pub overruns: u64,
    pub frames_dropped: u64,
    pub xruns: Vec<(u64, u64)>,
    /// `(frame, ms)` per pause in the device's deliveries that did not end the take (a
    /// starved audio server): where the take may lack audio, and for how long. Not stored.
    #[serde(default)]
    pub gaps: Vec<(u64, u64)>,
}

fn xruns_json(xruns: &[(u64, u64)]) -> String {
    serde_json::to_string(xruns).unwrap_or_else(|_| "[]".to_owned())
}

/// Brings a session in progress up to date.
pub fn update_recording_progress(
    conn: &Connection,
    id: SessionId,
    p: &SessionProgress,
    now: i64,
) -> Result<(), StorageError> {
    conn.prepare_cached(
        "UPDATE recording_sessions SET frames_written = ?2, overruns = ?3, frames_dropped = ?4, \
         xruns_json = ?5, updated_at = ?6 WHERE id = ?1 AND status = 'recording'",
    )?
    .execute(params![
        id,
        p.frames_written,
        p.overruns,
        p.frames_dropped,
        xruns_json(&p.xruns),
        now
    ])?;
    Ok(())
}

/// How a session ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnd {
    /// `complete`, `recovered` or `failed` (`recording`: left open for recovery).
    pub status: SessionStatus,
    pub stop_reason: StopReason,
    pub progress: SessionProgress,
    pub error: Option<String>,
}

/// Sets a session's error without closing it (a take that could not be stored yet).
pub fn note_session_error(
    conn: &Connection,
    id: SessionId,
    error: &str,
    now: i64,
) -> Result<(), StorageError> {
    conn.prepare_cached("UPDATE recording_sessions SET error = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, error, now])?;
    Ok(())
}

/// Closes a session: final status, why it stopped, its counters and (once imported) its file.
pub fn close_recording_session(
    conn: &Connection,
    id: SessionId,
    end: &SessionEnd,
    audio_file: Option<AudioFileId>,
    now: i64,
) -> Result<(), StorageError> {
    let n = conn
        .prepare_cached(
            "UPDATE recording_sessions SET status = ?2, stop_reason = ?3, audio_file_id = ?4, \
             frames_written = ?5, overruns = ?6, frames_dropped = ?7, xruns_json = ?8, \
             error = ?9, ended_at = max(?10, started_at), updated_at = ?10 WHERE id = ?1",
        )?
        .execute(params![
            id,
            end.status,
            end.stop_reason.as_str(),
            audio_file,
            end.progress.frames_written,
            end.progress.overruns,
            end.progress.frames_dropped,
            xruns_json(&end.progress.xruns),
            end.error,
            now
        ])?;
    if n == 0 {
        return Err(StorageError::NotFound(format!("recording session {id}")));
    }
    Ok(())
}
