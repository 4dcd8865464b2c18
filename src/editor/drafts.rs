//! Unsaved edits kept on disk while the user edits (migration 008): a second after each
//! change the editor writes the segments it holds, so a crash, a kill or a power cut loses
//! none of them, and the next open of the transcript offers them back. Saving a version
//! deletes the draft in the same transaction; discarding the edits deletes it too.
//!
//! The editor owns this SQL (the storage layer knows no feature's tables).

use rusqlite::{Connection, OptionalExtension, params};

use crate::storage::StorageError;
use crate::storage::ids::{TranscriptId, VersionId};
use crate::transcript::Segment;

/// Unsaved edits of a transcript, as last written.
#[derive(Debug, Clone, PartialEq)]
pub struct EditDraft {
    pub transcript: TranscriptId,
    /// The version the edits were made on, and its number.
    pub base: VersionId,
    pub base_number: u32,
    pub segments: Vec<Segment>,
    /// When it was written (ms since the epoch).
    pub updated_at: i64,
}

/// Writes (or replaces) the draft of a transcript.
pub fn save(
    conn: &Connection,
    transcript: TranscriptId,
    base: VersionId,
    segments: &[Segment],
    now: i64,
) -> Result<(), StorageError> {
    let json = serde_json::to_string(segments)
        .map_err(|e| StorageError::Invalid(format!("the unsaved edits cannot be written: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO edit_drafts (transcript_id, base_version_id, segments_json, updated_at) \
         VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (transcript_id) DO UPDATE SET base_version_id = excluded.base_version_id, \
         segments_json = excluded.segments_json, updated_at = excluded.updated_at",
    )?
    .execute(params![transcript, base, json, now])?;
    Ok(())
}

/// The draft of a transcript, if it has one. A draft whose JSON no longer reads as segments
/// is reported, not dropped (the user decides).
pub fn get(conn: &Connection, transcript: TranscriptId) -> Result<Option<EditDraft>, StorageError> {
    let row: Option<(VersionId, u32, String, i64)> = conn
        .prepare_cached(
            "SELECT d.base_version_id, v.number, d.segments_json, d.updated_at \
             FROM edit_drafts d JOIN transcript_versions v ON v.id = d.base_version_id \
             WHERE d.transcript_id = ?1",
        )?
        .query_row([transcript], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((base, base_number, json, updated_at)) = row else {
        return Ok(None);
    };
    let segments: Vec<Segment> = serde_json::from_str(&json).map_err(|e| {
        StorageError::Invalid(format!(
            "the unsaved edits of transcript {transcript} cannot be read: {e}"
        ))
    })?;
    Ok(Some(EditDraft {
        transcript,
        base,
        base_number,
        segments,
        updated_at,
    }))
}

/// Deletes the draft of a transcript (saved or discarded).
pub fn delete(conn: &Connection, transcript: TranscriptId) -> Result<(), StorageError> {
    conn.prepare_cached("DELETE FROM edit_drafts WHERE transcript_id = ?1")?
        .execute([transcript])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::library;
    use crate::transcript;
    use crate::transcript::sql::{NewVersion, VersionSource};

    #[test]
    fn a_draft_is_written_replaced_read_and_deleted() {
        let mut conn = crate::storage::open_in_memory().unwrap();
        let conn = conn.transaction().unwrap();
        let (file, _) = library::sql::insert_audio_file(
            &conn,
            &library::sql::NewAudioFile {
                sha256: "ab".repeat(32),
                original_name: "a.wav".into(),
                original_path: None,
                stored_path: "audio/a.wav".into(),
                size_bytes: 64_044,
                container: "wav".into(),
                codec: "pcm_s16le".into(),
                duration_ms: 2_000,
                sample_rate: 16_000,
                channels: 1,
            },
            0,
        )
        .unwrap();
        let file = file.id;
        let segs = vec![
            Segment::new(0, 1_000, "one"),
            Segment::new(1_000, 2_000, "two"),
        ];
        let (t, v) = transcript::sql::create_transcript(
            &conn,
            file,
            None,
            None,
            &NewVersion::new(VersionSource::Model),
            &segs,
            1,
        )
        .unwrap();
        assert_eq!(get(&conn, t).unwrap(), None);
        save(&conn, t, v, &segs[..1], 5).unwrap();
        let mut edited = segs.clone();
        edited[1].text = "two, edited".into();
        save(&conn, t, v, &edited, 6).unwrap();
        let d = get(&conn, t).unwrap().unwrap();
        assert_eq!((d.base, d.base_number, d.updated_at), (v, 1, 6));
        assert_eq!(d.segments, edited);
        delete(&conn, t).unwrap();
        assert_eq!(get(&conn, t).unwrap(), None);
    }
}
