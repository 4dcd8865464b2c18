//! The rows live transcription keeps while a take records (migration 005): the committed
//! pieces (a crash loses none of them; `transcribe::draft` makes them version 1), the
//! transcript a take's draft became, and the bookmarks set on live lines. The live feature
//! owns this SQL; every statement is parameterized and cached.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::storage::StorageError;
use crate::storage::ids::{AudioFileId, SessionId, TranscriptId};
use crate::transcript::Segment;

/// A piece of text committed while a take recorded (see `transcribe::draft`): a segment and
/// the take's recorded length when it was committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePiece {
    pub at_ms: u64,
    pub segment: Segment,
}

/// Appends a committed live piece to a session's draft.
pub fn insert_live_piece(
    conn: &Connection,
    session: SessionId,
    piece: &LivePiece,
    now: i64,
) -> Result<(), StorageError> {
    let s = &piece.segment;
    conn.prepare_cached(
        "INSERT INTO live_pieces (session_id, start_ms, end_ms, at_ms, text, confidence, \
         words_json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        session,
        s.start_ms,
        s.end_ms.max(s.start_ms),
        piece.at_ms,
        s.text,
        s.confidence.map(|c| c.clamp(0.0, 1.0)),
        s.words_json,
        now
    ])?;
    Ok(())
}

/// Where a session's committed live text ends (ms into the take); `None`: it has none.
pub fn live_text_end_ms(
    conn: &Connection,
    session: SessionId,
) -> Result<Option<u64>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT MAX(end_ms) FROM live_pieces WHERE session_id = ?1")?
        .query_row([session], |r| r.get(0))?)
}

/// A session's committed live pieces, in the order they were committed.
pub fn live_pieces(conn: &Connection, session: SessionId) -> Result<Vec<LivePiece>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT start_ms, end_ms, at_ms, text, confidence, words_json FROM live_pieces \
         WHERE session_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([session], |r| {
        Ok(LivePiece {
            at_ms: r.get(2)?,
            segment: Segment {
                start_ms: r.get(0)?,
                end_ms: r.get(1)?,
                text: r.get(3)?,
                confidence: r.get(4)?,
                words_json: r.get(5)?,
                speaker: None,
                no_speech: None,
                avg_logprob: None,
            },
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The transcript a session's live draft became, if it did.
pub fn session_live_transcript(
    conn: &Connection,
    session: SessionId,
) -> Result<Option<TranscriptId>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT live_transcript_id FROM recording_sessions WHERE id = ?1")?
        .query_row([session], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Notes the transcript a session's live draft became.
pub fn set_session_live_transcript(
    conn: &Connection,
    session: SessionId,
    transcript: TranscriptId,
) -> Result<(), StorageError> {
    let n = conn
        .prepare_cached("UPDATE recording_sessions SET live_transcript_id = ?2 WHERE id = ?1")?
        .execute(params![session, transcript])?;
    if n == 0 {
        return Err(StorageError::NotFound(format!(
            "recording session {session}"
        )));
    }
    Ok(())
}

/// A mark the user set on a stretch of a take or file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bookmark {
    pub start_ms: u64,
    pub end_ms: u64,
    pub label: String,
}

/// Marks a stretch of a take being recorded (shown later on its stored file).
pub fn insert_session_bookmark(
    conn: &Connection,
    session: SessionId,
    mark: &Bookmark,
    now: i64,
) -> Result<(), StorageError> {
    conn.prepare_cached(
        "INSERT INTO bookmarks (session_id, start_ms, end_ms, label, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        session,
        mark.start_ms,
        mark.end_ms.max(mark.start_ms),
        mark.label,
        now
    ])?;
    Ok(())
}

/// The bookmarks of an audio file: its own and those set while its take recorded, by time.
pub fn bookmarks(
    conn: &Connection,
    audio_file: AudioFileId,
) -> Result<Vec<Bookmark>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT start_ms, end_ms, label FROM bookmarks \
         WHERE audio_file_id = ?1 \
            OR session_id IN (SELECT id FROM recording_sessions WHERE audio_file_id = ?1) \
         ORDER BY start_ms, id",
    )?;
    let rows = stmt.query_map([audio_file], |r| {
        Ok(Bookmark {
            start_ms: r.get(0)?,
            end_ms: r.get(1)?,
            label: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
