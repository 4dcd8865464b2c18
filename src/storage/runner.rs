//! Which processes are alive: each Verbatim process that queues or runs jobs holds an
//! exclusive OS lock on its own file `<data>/runners/<id>.lock` for as long as it lives.
//! The kernel drops the lock when the process ends, however it ends (exit, crash,
//! `kill -9`), so "can I take that lock?" answers "is that process gone?" without guessing
//! from PIDs (which are reused) or timestamps (which a busy machine makes late).

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::paths::{LockState, lock_state};

/// This process's runner identity and the lock that keeps it alive.
#[derive(Debug)]
pub struct Runner {
    id: String,
    path: PathBuf,
    lock: Option<File>,
}

fn runners_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("runners")
}

/// Runner ids are made here; anything else read from the database is not a file name.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// This process's runner id, for the features that note which process owns a row (a
/// take being recorded); inserted with the jobs' runner.
#[derive(bevy::prelude::Resource, Debug, Clone, PartialEq, Eq)]
pub struct ThisProcess(pub String);

impl Runner {
    /// Registers this process under `data_dir`. Without a lock file (a read-only data
    /// directory) the id still works, but other processes will see this one as gone.
    pub fn register(data_dir: &Path) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let id = format!("{}-{:x}", std::process::id(), nanos);
        let dir = runners_dir(data_dir);
        let path = dir.join(format!("{id}.lock"));
        let lock = std::fs::create_dir_all(&dir)
            .and_then(|()| {
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
            })
            .and_then(|f| f.try_lock().map(|()| f).map_err(std::io::Error::other));
        let lock = match lock {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(
                    "cannot register this process in {}: {e}; its jobs may be queued again by another process",
                    dir.display()
                );
                None
            }
        };
        Self { id, path, lock }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if self.lock.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether the process registered as `id` under `data_dir` still lives (holds its lock). A
/// gone process's file is removed.
pub fn is_alive(data_dir: &Path, id: &str) -> bool {
    if !valid_id(id) {
        return false;
    }
    let path = runners_dir(data_dir).join(format!("{id}.lock"));
    match lock_state(&path) {
        LockState::Missing => false,
        LockState::Free => {
            let _ = std::fs::remove_file(&path);
            false
        }
        // Unknown: cannot tell, so its jobs are not taken.
        LockState::Held | LockState::Unknown => true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_runner_is_alive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let r = Runner::register(dir.path());
        assert!(is_alive(dir.path(), r.id()));
        let id = r.id().to_owned();
        drop(r);
        assert!(!is_alive(dir.path(), &id));
        assert!(!is_alive(dir.path(), "../../etc/passwd"));
        assert!(!is_alive(dir.path(), "12-ab"));
    }
}
