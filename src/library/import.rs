//! Importing audio into the content-addressed store (ECS-free).
//!
//! [`stage`] copies the file into `audio/.staging/` while hashing it (one read of the source),
//! then probes the staged copy, so what is checked is exactly what will be stored. The staged
//! file is a temporary file: dropped on any failure, it is deleted. While it exists its
//! importer holds an OS lock on it, so another process cleaning the staging folder at start
//! leaves it alone. The database writer makes the import real by inserting the row and
//! renaming the staged file into `audio/<aa>/<sha256>.<ext>` in one transaction ([`commit`]).
//!
//! A take the recorder wrote inside the data directory is stored in place instead
//! ([`stage_in_place`]): hashed where it is (what it holds comes from the exact header the
//! recorder wrote, so it is read once and never decoded) and renamed into the store, so
//! storing it needs no free space (a copy would need as much again, and a take that stopped
//! because the disk is full would then never reach the library). It is never deleted on
//! failure.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::library;
use crate::library::sql::{AudioFileRow, NewAudioFile};
use crate::media::{self, ProbeError, ProbeLimits};
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

impl From<crate::storage::writer::BatchFailed> for ImportError {
    fn from(e: crate::storage::writer::BatchFailed) -> Self {
        Self::Database(e.0)
    }
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

    /// Deletes staged files left behind by a crash (called at start). A file an import still
    /// writes is locked by it (and a very new one may not be locked yet): those stay.
    pub fn clean_staging(&self) {
        let Ok(entries) = std::fs::read_dir(self.staging_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let young = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < STAGING_GRACE);
            if young || crate::paths::lock_state(&path) != crate::paths::LockState::Free {
                continue;
            }
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a stale staged import");
            }
        }
    }
}

/// A staged file younger than this is never cleaned: its importer may not hold its lock yet.
const STAGING_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Where the bytes to store are.
#[derive(Debug)]
enum Staged {
    /// A copy in `audio/.staging/`, locked by this process, deleted when dropped.
    Copy(NamedTempFile),
    /// The file itself (a take in the data directory), moved into the store on commit and
    /// left where it is on any failure.
    InPlace(PathBuf),
}

/// A file copied into staging (or a take to be stored in place), hashed and probed, waiting
/// for its database row.
#[derive(Debug)]
pub struct StagedImport {
    pub source: PathBuf,
    pub file: NewAudioFile,
    staged: Staged,
}

impl StagedImport {
    pub fn staged_path(&self) -> &Path {
        match &self.staged {
            Staged::Copy(f) => f.path(),
            Staged::InPlace(p) => p,
        }
    }
}

/// A file [`commit`] put into the store, to be taken back if the transaction does not commit.
#[derive(Debug)]
#[must_use]
pub struct Placed {
    pub path: PathBuf,
    /// Where it was moved from (a take stored in place): undoing moves it back.
    moved_from: Option<PathBuf>,
}

impl Placed {
    /// Takes the file back out of the store: a moved take returns to where it was, a copy is
    /// deleted.
    pub fn undo(self) {
        let result = match &self.moved_from {
            Some(from) => std::fs::rename(&self.path, from),
            None => std::fs::remove_file(&self.path),
        };
        if let Err(e) = result {
            tracing::error!(
                "cannot take {} back out of the store: {e}",
                self.path.display()
            );
        }
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

/// Refuses what cannot be an audio file before any byte is read.
fn check_source(source: &Path, limits: &ProbeLimits) -> Result<(), ImportError> {
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
    Ok(())
}

/// Reads `source` to the end, hashing it and handing every chunk to `sink`; the hash and
/// the size.
fn hash_stream(
    source: &Path,
    limits: &ProbeLimits,
    mut sink: impl FnMut(&[u8]) -> Result<(), ImportError>,
) -> Result<(String, u64), ImportError> {
    let mut input =
        File::open(source).map_err(|e| ImportError::Probe(ProbeError::Io(e.to_string())))?;
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
        sink(chunk)?;
    }
    if size == 0 {
        return Err(ProbeError::Empty.into());
    }
    Ok((format!("{:x}", hasher.finalize()), size))
}

/// Copies, hashes and probes `source`. Nothing outside `audio/.staging` is touched, and the
/// staged copy is removed again on every error.
pub fn stage(
    source: &Path,
    store: &AudioStore,
    limits: &ProbeLimits,
) -> Result<StagedImport, ImportError> {
    check_source(source, limits)?;
    let staging = store.staging_dir();
    std::fs::create_dir_all(&staging)
        .map_err(|e| ImportError::Store(format!("{}: {e}", staging.display())))?;
    let mut staged = tempfile::Builder::new()
        .prefix("import-")
        .tempfile_in(&staging)
        .map_err(|e| ImportError::Store(e.to_string()))?;
    // Held until the file is stored or deleted: another process's start-up clean skips it.
    staged
        .as_file()
        .lock()
        .map_err(|e| ImportError::Store(e.to_string()))?;
    let (sha256, size) = hash_stream(source, limits, |chunk| {
        staged
            .write_all(chunk)
            .map_err(|e| ImportError::Store(e.to_string()))
    })?;
    staged
        .as_file()
        .sync_all()
        .map_err(|e| ImportError::Store(e.to_string()))?;
    let info = media::probe_file(staged.path(), source, limits)?;
    Ok(staged_import(
        source,
        sha256,
        size,
        info,
        Staged::Copy(staged),
    ))
}

/// Hashes `path` where it is, to be moved into the store on commit (a take the recorder
/// wrote in the data directory). `info` is what the file holds, as its writer knows it (a
/// take's exact header: reading the file once, to hash it, is all storing it costs). Needs no
/// free space; never deletes `path`.
pub fn stage_in_place(
    path: &Path,
    info: media::MediaInfo,
    limits: &ProbeLimits,
) -> Result<StagedImport, ImportError> {
    check_source(path, limits)?;
    let seconds = info.duration_ms / 1000;
    if seconds > limits.max_seconds {
        return Err(ProbeError::TooLong {
            seconds,
            limit: limits.max_seconds,
        }
        .into());
    }
    let (sha256, size) = hash_stream(path, limits, |_| Ok(()))?;
    Ok(staged_import(
        path,
        sha256,
        size,
        info,
        Staged::InPlace(path.to_path_buf()),
    ))
}

fn staged_import(
    source: &Path,
    sha256: String,
    size: u64,
    info: media::MediaInfo,
    staged: Staged,
) -> StagedImport {
    let original_name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audio".to_owned());
    let extension = stored_extension(&info.container, source);
    let original_path = std::path::absolute(source)
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    StagedImport {
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
    }
}

/// Records a staged import inside the caller's transaction or savepoint: inserts the row (or
/// finds the existing one with the same hash) and moves the staged file to its final place.
/// Returns what it placed, which the caller must [`Placed::undo`] if its transaction does not
/// commit. On error nothing was placed; the caller rolls back. A take staged in place that
/// turns out to be stored already stays where it is (its caller removes it after the commit).
pub fn commit(
    conn: &Connection,
    store: &AudioStore,
    staged: StagedImport,
) -> Result<(Imported, Option<Placed>), ImportError> {
    let (row, created) = library::sql::insert_audio_file(conn, &staged.file, now_ms())
        .map_err(|e: StorageError| ImportError::Database(e.to_string()))?;
    if !created {
        // Same content already stored: a staged copy is dropped (deleted) here.
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
    let placed = match staged.staged {
        Staged::Copy(file) => {
            file.persist(&target)
                .map_err(|e| ImportError::Store(format!("{}: {}", target.display(), e.error)))?;
            Placed {
                path: target,
                moved_from: None,
            }
        }
        Staged::InPlace(from) => match std::fs::rename(&from, &target) {
            Ok(()) => Placed {
                path: target,
                moved_from: Some(from),
            },
            // The store is on another file system (a symlinked folder): copy, and the
            // caller removes the take after the commit as it does for a duplicate.
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                copy_into(&from, &target)?;
                Placed {
                    path: target,
                    moved_from: None,
                }
            }
            Err(e) => {
                return Err(ImportError::Store(format!(
                    "cannot move {} to {}: {e}",
                    from.display(),
                    target.display()
                )));
            }
        },
    };
    Ok((Imported { row, created }, Some(placed)))
}

/// [`commit`] as a writer command's work: what it placed is taken back if the command's
/// changes roll back.
pub fn commit_in(
    conn: &Connection,
    store: &AudioStore,
    staged: StagedImport,
    effects: &mut crate::storage::writer::Effects,
) -> Result<Imported, ImportError> {
    let (imported, placed) = commit(conn, store, staged)?;
    if let Some(p) = placed {
        effects.on_rollback(move || p.undo());
    }
    Ok(imported)
}

/// Copies `from` to `target` through a temporary file next to `target` (never a partial file
/// under the final name).
fn copy_into(from: &Path, target: &Path) -> Result<(), ImportError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".copy-")
        .tempfile_in(dir)
        .map_err(|e| ImportError::Store(e.to_string()))?;
    let mut input = File::open(from).map_err(|e| ImportError::Store(e.to_string()))?;
    std::io::copy(&mut input, &mut tmp)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| ImportError::Store(format!("{}: {e}", target.display())))?;
    tmp.persist(target)
        .map_err(|e| ImportError::Store(format!("{}: {}", target.display(), e.error)))?;
    Ok(())
}
