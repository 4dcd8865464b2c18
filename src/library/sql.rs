//! The rows of `audio_files`: the library's stored files. The library feature owns this SQL;
//! every statement is parameterized and cached; "no such row" is `Ok(None)`.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::storage::StorageError;
use crate::storage::ids::AudioFileId;

/// What an import knows about a file before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAudioFile {
    pub sha256: String,
    pub original_name: String,
    pub original_path: Option<String>,
    /// Relative to the data directory.
    pub stored_path: String,
    pub size_bytes: u64,
    pub container: String,
    pub codec: String,
    pub duration_ms: u64,
    pub sample_rate: u32,
    pub channels: u16,
}

/// A row of `audio_files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioFileRow {
    pub id: AudioFileId,
    pub sha256: String,
    pub original_name: String,
    pub original_path: Option<String>,
    pub stored_path: String,
    pub size_bytes: u64,
    pub container: String,
    pub codec: String,
    pub duration_ms: u64,
    pub sample_rate: u32,
    pub channels: u16,
    pub created_at: i64,
}

const AUDIO_COLUMNS: &str = "id, sha256, original_name, original_path, stored_path, size_bytes, \
     container, codec, duration_ms, sample_rate, channels, created_at";

fn audio_row(r: &Row<'_>) -> rusqlite::Result<AudioFileRow> {
    Ok(AudioFileRow {
        id: r.get(0)?,
        sha256: r.get(1)?,
        original_name: r.get(2)?,
        original_path: r.get(3)?,
        stored_path: r.get(4)?,
        size_bytes: r.get(5)?,
        container: r.get(6)?,
        codec: r.get(7)?,
        duration_ms: r.get(8)?,
        sample_rate: r.get(9)?,
        channels: r.get(10)?,
        created_at: r.get(11)?,
    })
}

/// Inserts an audio file unless one with the same content hash exists. Returns the row and
/// whether it was created by this call (`false`: the existing entry is returned).
pub fn insert_audio_file(
    conn: &Connection,
    file: &NewAudioFile,
    now: i64,
) -> Result<(AudioFileRow, bool), StorageError> {
    if let Some(existing) = audio_file_by_sha256(conn, &file.sha256)? {
        return Ok((existing, false));
    }
    let sql = format!(
        "INSERT INTO audio_files (sha256, original_name, original_path, stored_path, size_bytes, \
         container, codec, duration_ms, sample_rate, channels, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING {AUDIO_COLUMNS}"
    );
    let row = conn.prepare_cached(&sql)?.query_row(
        params![
            file.sha256,
            file.original_name,
            file.original_path,
            file.stored_path,
            file.size_bytes,
            file.container,
            file.codec,
            file.duration_ms,
            file.sample_rate,
            file.channels,
            now
        ],
        audio_row,
    )?;
    Ok((row, true))
}

fn audio_file_by_sha256(
    conn: &Connection,
    sha256: &str,
) -> Result<Option<AudioFileRow>, StorageError> {
    let sql = format!("SELECT {AUDIO_COLUMNS} FROM audio_files WHERE sha256 = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([sha256], audio_row)
        .optional()?)
}

pub fn audio_file(
    conn: &Connection,
    id: AudioFileId,
) -> Result<Option<AudioFileRow>, StorageError> {
    let sql = format!("SELECT {AUDIO_COLUMNS} FROM audio_files WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], audio_row)
        .optional()?)
}

/// Every audio file, newest first.
pub fn list_audio_files(conn: &Connection) -> Result<Vec<AudioFileRow>, StorageError> {
    let sql = format!("SELECT {AUDIO_COLUMNS} FROM audio_files ORDER BY created_at DESC, id DESC");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], audio_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}
