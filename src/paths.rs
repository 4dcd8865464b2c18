//! Where Verbatim keeps its data: `--data-dir`, else `$VERBATIM_HOME`, else the per-user data
//! directory of the platform (`~/.local/share/verbatim` on Linux).

use std::path::{Path, PathBuf};

/// The environment variable that overrides the data directory.
pub const HOME_ENV: &str = "VERBATIM_HOME";

#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("cannot find a home directory for the data; pass --data-dir or set {HOME_ENV}")]
    NoHome,
    #[error("cannot create the data directory {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the disk holding the data directory {path} is full ({source}); free some space and try again"
    )]
    Full {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the data directory {path} is not writable ({source}); Verbatim keeps its library there: fix its permissions or choose another with --data-dir"
    )]
    ReadOnly {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the start-up check writes: about what opening the database needs (its shared-memory
/// index grows in 32 KiB steps).
const WRITE_CHECK_BYTES: usize = 64 * 1024;

/// The data directory and the well-known paths inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Resolves the data directory (explicit path, then the environment, then the platform
    /// default) and creates it.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self, PathError> {
        let root = match explicit {
            Some(p) => p.to_path_buf(),
            None => match std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
                Some(v) => PathBuf::from(v),
                None => directories::ProjectDirs::from("org", "Verbatim", "verbatim")
                    .map(|d| d.data_dir().to_path_buf())
                    .ok_or(PathError::NoHome)?,
            },
        };
        Self::at(root)
    }

    /// Uses `root` as the data directory, creating it.
    pub fn at(root: PathBuf) -> Result<Self, PathError> {
        std::fs::create_dir_all(&root).map_err(|source| PathError::Create {
            path: root.clone(),
            source,
        })?;
        let root = std::path::absolute(&root).unwrap_or(root);
        Ok(Self { root })
    }

    /// Checks that the data directory takes a file and a few pages of data (a read-only
    /// mount, permissions or a full disk would otherwise surface as an obscure database
    /// error such as "disk I/O error 4874").
    pub fn check_writable(&self) -> Result<(), PathError> {
        use std::io::Write;
        let mut probe = tempfile::Builder::new()
            .prefix(".write-check-")
            .tempfile_in(&self.root)
            .map_err(|source| self.refusal(source))?;
        probe
            .write_all(&[0u8; WRITE_CHECK_BYTES])
            .and_then(|()| probe.flush())
            .map_err(|source| self.refusal(source))
    }

    fn refusal(&self, source: std::io::Error) -> PathError {
        let path = self.root.clone();
        if source.kind() == std::io::ErrorKind::StorageFull {
            PathError::Full { path, source }
        } else {
            PathError::ReadOnly { path, source }
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join("verbatim.db")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
}

/// What another process's OS lock on a file says (Verbatim's liveness signal: a recorder on
/// its take, an importer on its staged file, a process on its runner file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// The file does not exist (or cannot be opened).
    Missing,
    /// Someone holds the lock.
    Held,
    /// Nobody does: its holder is gone.
    Free,
    /// The lock could not be tried.
    Unknown,
}

/// Tries `path`'s exclusive lock without waiting (and lets go of it at once).
pub fn lock_state(path: &Path) -> LockState {
    let Ok(file) = std::fs::File::open(path) else {
        return LockState::Missing;
    };
    match file.try_lock() {
        Ok(()) => LockState::Free,
        Err(std::fs::TryLockError::WouldBlock) => LockState::Held,
        Err(std::fs::TryLockError::Error(_)) => LockState::Unknown,
    }
}

/// What a file system entry is, in words ("a folder", "a FIFO (named pipe)", ...), for the
/// messages that refuse anything but a regular file.
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        } else if t.is_char_device() {
            return "a character device";
        } else if t.is_block_device() {
            return "a block device";
        } else if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}
