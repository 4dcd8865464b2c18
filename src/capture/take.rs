//! A take's files: where a new take goes, its reserve beside it, whether a recorder holds
//! it, whether it lives in the data directory (and is removed once stored), and how a part
//! is staged for the library. The recorder and recovery both use these; neither calls the
//! other for them.

use std::path::{Path, PathBuf};

use crate::library::import::{self, AudioStore};
use crate::media::ProbeLimits;

/// Where a new take goes in the data directory: `recordings/YYYY-MM-DD_HH-MM-SS.wav` (with a
/// counter if that exists). Returns the absolute path and the session's relative path.
pub fn new_take_path(data_dir: &Path) -> std::io::Result<(PathBuf, String)> {
    let dir = data_dir.join("recordings");
    std::fs::create_dir_all(&dir)?;
    let stamp = jiff::Zoned::now().strftime("%Y-%m-%d_%H-%M-%S").to_string();
    for n in 0..1000u32 {
        let name = if n == 0 {
            format!("{stamp}.wav")
        } else {
            format!("{stamp}-{n}.wav")
        };
        let abs = dir.join(&name);
        if !abs.exists() {
            return Ok((abs, format!("recordings/{name}")));
        }
    }
    Err(std::io::Error::other(
        "too many takes with the same time stamp",
    ))
}

/// The reserve file of a take.
pub fn reserve_path(take: &Path) -> PathBuf {
    let mut s = take.as_os_str().to_owned();
    s.push(".reserve");
    PathBuf::from(s)
}

/// Removes takes now in the store (a take stored in place has moved already).
pub fn remove_stored(paths: &[PathBuf]) {
    for path in paths {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove the stored take {}: {e}", path.display()),
        }
    }
}

/// Stages one part of a finished take for the store. A take in the data directory (`managed`)
/// moves into the store: hashed where it is, with what it holds read from the exact header
/// the recorder wrote (no copy, no decode: a take that filled the disk must still fit). One
/// the user placed elsewhere is theirs and is copied, and probed like any import.
pub fn stage_part(
    part: &Path,
    store: &AudioStore,
    managed: bool,
) -> Result<import::StagedImport, String> {
    if !managed {
        return import::stage(part, store, &ProbeLimits::default()).map_err(|e| e.to_string());
    }
    let info = super::wav::media_info(part).map_err(|e| e.to_string())?;
    import::stage_in_place(part, info, &ProbeLimits::default()).map_err(|e| e.to_string())
}

/// A session's take path: relative paths are under the data directory.
pub fn take_path(data_dir: &Path, file_path: &str) -> PathBuf {
    let p = Path::new(file_path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        data_dir.join(p)
    }
}

/// Whether a live recorder holds the take (its exclusive lock).
pub fn take_in_use(path: &Path) -> bool {
    crate::paths::lock_state(path) == crate::paths::LockState::Held
}

/// Takes that live in the data directory's `recordings/` are removed once stored; a take the
/// user asked for elsewhere (`--out`) is theirs and stays.
pub fn is_managed_take(data_dir: &Path, file_path: &str) -> bool {
    let p = Path::new(file_path);
    !p.is_absolute() && p.starts_with("recordings") || p.starts_with(data_dir.join("recordings"))
}
