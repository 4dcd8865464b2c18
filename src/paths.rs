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
        "the data directory {path} is not writable ({source}); Verbatim keeps its library there: free space, fix its permissions or choose another with --data-dir"
    )]
    ReadOnly {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

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

    /// Checks that files can be created in the data directory (a read-only mount or
    /// permissions would otherwise surface as an obscure database error).
    pub fn check_writable(&self) -> Result<(), PathError> {
        tempfile::Builder::new()
            .prefix(".write-check-")
            .tempfile_in(&self.root)
            .map(drop)
            .map_err(|source| PathError::ReadOnly {
                path: self.root.clone(),
                source,
            })
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
