//! The database writer thread: the one place that writes (and, for the ECS, reads) SQLite.
//!
//! The ECS sends a `Vec<DbCommand>` per frame; the writer applies a batch in one transaction,
//! each command in its own savepoint so one failing command cannot take the others with it,
//! and answers every command with a [`DbReply`].

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use rusqlite::Connection;

use super::StorageError;
use super::repo::{self, AudioFileRow};
use crate::library::import::{self, AudioStore, ImportError, Imported, StagedImport};

/// Work for the writer thread.
#[derive(Debug)]
pub enum DbCommand {
    /// Read every audio file (answered with [`DbReply::Library`]).
    LoadLibrary,
    /// Record a staged import and move its file into the store.
    CommitImport(Box<StagedImport>),
}

/// The writer's answer to one command.
#[derive(Debug, Clone, PartialEq)]
pub enum DbReply {
    Library(Result<Vec<AudioFileRow>, String>),
    Imported {
        source: PathBuf,
        result: Result<Imported, ImportError>,
    },
}

/// Handle to the writer thread. Dropping it closes the queue; the thread finishes the
/// batches already sent and exits, and the drop waits for that.
#[derive(Debug)]
pub struct DbWriter {
    commands: Option<Sender<Vec<DbCommand>>>,
    replies: Receiver<DbReply>,
    thread: Option<JoinHandle<()>>,
    db_path: PathBuf,
}

impl DbWriter {
    /// Opens (and migrates) the database at `db_path` and starts the writer thread. The
    /// database is opened here, so a bad database is reported to the caller at once.
    pub fn spawn(db_path: &Path, store: AudioStore) -> Result<Self, StorageError> {
        let conn = super::open(db_path)?;
        Self::spawn_with(conn, db_path.to_path_buf(), store)
    }

    /// Starts the writer over an already opened connection (tests use in-memory databases).
    pub fn spawn_with(
        conn: Connection,
        db_path: PathBuf,
        store: AudioStore,
    ) -> Result<Self, StorageError> {
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded::<Vec<DbCommand>>();
        let (reply_tx, reply_rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("verbatim-db-writer".into())
            .spawn(move || run(conn, store, cmd_rx, reply_tx))
            .map_err(|source| StorageError::Io {
                path: db_path.clone(),
                source,
            })?;
        Ok(Self {
            commands: Some(cmd_tx),
            replies: reply_rx,
            thread: Some(thread),
            db_path,
        })
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Queues a batch; it is applied in one transaction.
    pub fn send(&self, batch: Vec<DbCommand>) -> Result<(), StorageError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.commands
            .as_ref()
            .ok_or(StorageError::WriterGone)?
            .send(batch)
            .map_err(|_| StorageError::WriterGone)
    }

    /// The next reply, if one is ready.
    pub fn try_recv(&self) -> Result<Option<DbReply>, StorageError> {
        match self.replies.try_recv() {
            Ok(r) => Ok(Some(r)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(StorageError::WriterGone),
        }
    }

    /// Waits for the next reply (CLI and tests).
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Option<DbReply> {
        self.replies.recv_timeout(timeout).ok()
    }
}

impl Drop for DbWriter {
    fn drop(&mut self) {
        self.commands.take();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the database writer thread panicked");
        }
    }
}

fn run(
    mut conn: Connection,
    store: AudioStore,
    commands: Receiver<Vec<DbCommand>>,
    replies: Sender<DbReply>,
) {
    let _span = tracing::info_span!("db_writer").entered();
    while let Ok(batch) = commands.recv() {
        let n = batch.len();
        let out = apply_batch(&mut conn, &store, batch);
        tracing::debug!(commands = n, "applied a batch");
        for reply in out {
            if replies.send(reply).is_err() {
                return;
            }
        }
    }
    tracing::debug!("database writer stopping");
}

/// Applies one batch in one transaction. Public for tests and benchmarks.
pub fn apply_batch(
    conn: &mut Connection,
    store: &AudioStore,
    batch: Vec<DbCommand>,
) -> Vec<DbReply> {
    let mut replies = Vec::with_capacity(batch.len());
    let mut placed: Vec<PathBuf> = Vec::new();
    let mut tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            let msg = format!("cannot start a transaction: {e}");
            tracing::error!("{msg}");
            return batch.into_iter().map(|c| failure(c, &msg)).collect();
        }
    };
    for command in batch {
        let mut sp = match tx.savepoint() {
            Ok(sp) => sp,
            Err(e) => {
                replies.push(failure(command, &e.to_string()));
                continue;
            }
        };
        let reply = match command {
            DbCommand::LoadLibrary => {
                DbReply::Library(repo::list_audio_files(&sp).map_err(|e| e.to_string()))
            }
            DbCommand::CommitImport(staged) => {
                let source = staged.source.clone();
                let result = import::commit(&sp, store, *staged).map(|(imported, path)| {
                    placed.extend(path);
                    imported
                });
                DbReply::Imported { source, result }
            }
        };
        let ok = !matches!(
            &reply,
            DbReply::Imported { result: Err(_), .. } | DbReply::Library(Err(_))
        );
        if ok {
            if let Err(e) = sp.commit() {
                tracing::error!(error = %e, "savepoint failed");
            }
        } else if let Err(e) = sp.rollback() {
            tracing::error!(error = %e, "savepoint rollback failed");
        }
        replies.push(reply);
    }
    if let Err(e) = tx.commit() {
        let msg = format!("cannot commit: {e}");
        tracing::error!("{msg}");
        for path in placed {
            let _ = std::fs::remove_file(path);
        }
        for r in &mut replies {
            if let DbReply::Imported { result, .. } = r {
                *result = Err(ImportError::Database(msg.clone()));
            }
        }
    }
    replies
}

fn failure(command: DbCommand, msg: &str) -> DbReply {
    match command {
        DbCommand::LoadLibrary => DbReply::Library(Err(msg.to_owned())),
        DbCommand::CommitImport(staged) => DbReply::Imported {
            source: staged.source.clone(),
            result: Err(ImportError::Database(msg.to_owned())),
        },
    }
}
