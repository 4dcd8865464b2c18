//! Importing audio into the content-addressed store (ECS-free).
//!
//! [`stage`] copies the file into `audio/.staging/` while hashing it (one read of the source),
//! then probes the staged copy, so what is checked is exactly what will be stored. The staged
//! file is a [`TempPath`]: dropped on any failure, it is deleted. The database writer makes
//! the import real by inserting the row and renaming the staged file into
//! `audio/<aa>/<sha256>.<ext>` in one transaction ([`commit`]).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tempfile::TempPath;

use crate::media::{self, ProbeError, ProbeLimits};
use crate::storage::repo::{self, AudioFileRow, NewAudioFile};
use crate::storage::{StorageError, now_ms};

/// Why a file could not be imported; shown as `NAME: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ImportError {
    #[error("{0}")]
    Probe(#[from] ProbeError),
    #[error("cannot copy into the library: {0}")]
    Store(String),
    #[error("cannot record in the database: {0}")]
    Database(String),
}

/// The audio store under the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioStore {
    data_dir: PathBuf,
}

impl AudioStore {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.data_dir.join("audio").join(".staging")
    }

    /// The path, relative to the data directory, where content with this hash is stored.
    pub fn relative_path(sha256: &str, extension: &str) -> String {
        let prefix = sha256.get(..2).unwrap_or("xx");
        format!("audio/{prefix}/{sha256}.{extension}")
    }

    pub fn absolute(&self, relative: &str) -> PathBuf {
        self.data_dir.join(relative)
    }

    /// Deletes staged files left behind by a crash (called once at start).
    pub fn clean_staging(&self) {
        let Ok(entries) = std::fs::read_dir(self.staging_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a stale staged import");
            }
        }
    }
}

/// A file copied into staging, hashed and probed, waiting for its database row.
#[derive(Debug)]
pub struct StagedImport {
    pub source: PathBuf,
    pub file: NewAudioFile,
    staged: TempPath,
}

impl StagedImport {
    pub fn staged_path(&self) -> &Path {
        &self.staged
    }
}

/// The result of a finished import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub row: AudioFileRow,
    /// `false` when the same content was already in the library (the existing entry).
    pub created: bool,
}

/// The extension a stored file gets: its container's usual one, so other tools open it.
fn stored_extension(container: &str, source: &Path) -> String {
    let known = match container.to_ascii_lowercase().as_str() {
        "wav" | "wave" | "riff" => Some("wav"),
        "flac" => Some("flac"),
        "mp3" | "mpa" | "mpeg" => Some("mp3"),
        "ogg" => Some("ogg"),
        _ => None,
    };
    known
        .map(str::to_owned)
        .or_else(|| {
            source
                .extension()
                .and_then(|e| e.to_str())
                .filter(|e| e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
                .map(str::to_ascii_lowercase)
        })
        .unwrap_or_else(|| "bin".to_owned())
}

/// Copies, hashes and probes `source`. Nothing outside `audio/.staging` is touched, and the
/// staged copy is removed again on every error.
pub fn stage(
    source: &Path,
    store: &AudioStore,
    limits: &ProbeLimits,
) -> Result<StagedImport, ImportError> {
    let meta = std::fs::metadata(source).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ImportError::Probe(ProbeError::NotFound),
        _ => ImportError::Probe(ProbeError::Io(e.to_string())),
    })?;
    if meta.is_dir() {
        return Err(ProbeError::IsDirectory.into());
    }
    if !meta.is_file() {
        return Err(ProbeError::NotAFile.into());
    }
    if meta.len() == 0 {
        return Err(ProbeError::Empty.into());
    }
    if meta.len() > limits.max_bytes {
        return Err(ProbeError::TooLarge {
            size: meta.len(),
            limit: limits.max_bytes,
        }
        .into());
    }

    let staging = store.staging_dir();
    std::fs::create_dir_all(&staging)
        .map_err(|e| ImportError::Store(format!("{}: {e}", staging.display())))?;
    let mut input =
        File::open(source).map_err(|e| ImportError::Probe(ProbeError::Io(e.to_string())))?;
    let mut staged = tempfile::Builder::new()
        .prefix("import-")
        .tempfile_in(&staging)
        .map_err(|e| ImportError::Store(e.to_string()))?;

    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size: u64 = 0;
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|e| ImportError::Probe(ProbeError::Io(e.to_string())))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > limits.max_bytes {
            return Err(ProbeError::TooLarge {
                size,
                limit: limits.max_bytes,
            }
            .into());
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        staged
            .write_all(chunk)
            .map_err(|e| ImportError::Store(e.to_string()))?;
    }
    if size == 0 {
        return Err(ProbeError::Empty.into());
    }
    staged
        .as_file()
        .sync_all()
        .map_err(|e| ImportError::Store(e.to_string()))?;
    let staged = staged.into_temp_path();
    let sha256 = format!("{:x}", hasher.finalize());

    let info = media::probe_file(&staged, source, limits)?;
    let original_name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audio".to_owned());
    let extension = stored_extension(&info.container, source);
    let original_path = std::path::absolute(source)
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    Ok(StagedImport {
        source: source.to_path_buf(),
        file: NewAudioFile {
            stored_path: AudioStore::relative_path(&sha256, &extension),
            sha256,
            original_name,
            original_path,
            size_bytes: size,
            container: info.container,
            codec: info.codec,
            duration_ms: info.duration_ms,
            sample_rate: info.sample_rate,
            channels: info.channels,
        },
        staged,
    })
}

/// Records a staged import inside the caller's transaction or savepoint: inserts the row (or
/// finds the existing one with the same hash) and moves the staged file to its final place.
/// Returns the path it placed, which the caller must remove again if its transaction does not
/// commit. On error nothing was placed; the caller rolls back.
pub fn commit(
    conn: &Connection,
    store: &AudioStore,
    staged: StagedImport,
) -> Result<(Imported, Option<PathBuf>), ImportError> {
    let (row, created) = repo::insert_audio_file(conn, &staged.file, now_ms())
        .map_err(|e: StorageError| ImportError::Database(e.to_string()))?;
    if !created {
        // Same content already stored: the staged copy is dropped (deleted) here.
        return Ok((Imported { row, created }, None));
    }
    let target = store.absolute(&row.stored_path);
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ImportError::Store(format!("{}: {e}", dir.display())))?;
    }
    if target.exists() {
        // Identical bytes (same hash) left by an earlier run; keep them.
        return Ok((Imported { row, created }, None));
    }
    staged
        .staged
        .persist(&target)
        .map_err(|e| ImportError::Store(format!("{}: {}", target.display(), e.error)))?;
    Ok((Imported { row, created }, Some(target)))
}
