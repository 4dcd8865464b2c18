//! The database threads: one writer, the one place that writes SQLite, and one reader for
//! queries that must not wait behind a long write (WAL lets readers run beside the writer).
//!
//! Storage knows SQL, connections, migrations and these threads, and no feature. A feature
//! hands the writer a [`Command`] — usually made with [`command`] from two closures: the work,
//! run against the connection inside the command's own savepoint, and the reply, which gets
//! the typed result once the batch is committed (or the reason it was not) and sends it to
//! whoever asked. A batch (one frame's commands) is one transaction; a command that fails
//! rolls back its own savepoint and cannot take the others with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use rusqlite::{Connection, OpenFlags};

use super::StorageError;

/// Why a command's changes did not reach the database although its work succeeded: the
/// batch could not start or commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BatchFailed(pub String);

impl From<BatchFailed> for String {
    fn from(e: BatchFailed) -> Self {
        e.0
    }
}

/// What a command did besides SQL: what to undo if its changes roll back (a file moved into
/// the store), what to do once they are committed (remove a take now stored).
#[derive(Default)]
pub struct Effects {
    undo: Vec<Box<dyn FnOnce() + Send>>,
    after_commit: Vec<Box<dyn FnOnce() + Send>>,
}

impl Effects {
    /// Runs `f` if this command's changes are rolled back.
    pub fn on_rollback(&mut self, f: impl FnOnce() + Send + 'static) {
        self.undo.push(Box::new(f));
    }

    /// Runs `f` once this command's changes are committed.
    pub fn after_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.after_commit.push(Box::new(f));
    }

    fn undo(self) {
        self.undo.into_iter().rev().for_each(|f| f());
    }
}

/// One unit of work for a database thread.
pub trait Command: Send {
    /// Runs inside the command's savepoint (for the reader: a read transaction); `true`
    /// keeps its changes.
    fn run(&mut self, conn: &Connection, effects: &mut Effects) -> bool;
    /// The batch has ended: `Ok` when what `run` did is in the database. Sends the answer.
    fn answer(self: Box<Self>, committed: Result<(), BatchFailed>);
}

struct Task<W, R, T, E> {
    work: Option<W>,
    reply: R,
    result: Option<Result<T, E>>,
}

impl<W, R, T, E> Command for Task<W, R, T, E>
where
    W: FnOnce(&Connection, &mut Effects) -> Result<T, E> + Send,
    R: FnOnce(Result<T, E>) + Send,
    T: Send,
    E: From<BatchFailed> + Send,
{
    fn run(&mut self, conn: &Connection, effects: &mut Effects) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(conn, effects);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<(), BatchFailed>) {
        let result = match (self.result, committed) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)), Err(f)) | (None, Err(f)) => Err(E::from(f)),
            (None, Ok(())) => Err(E::from(BatchFailed("the command did not run".into()))),
        };
        (self.reply)(result)
    }
}

/// A command from its work and its reply: `work` runs on the database thread inside the
/// command's savepoint (an `Err` rolls it back); `reply` gets the result after the batch.
pub fn command<T, E>(
    work: impl FnOnce(&Connection, &mut Effects) -> Result<T, E> + Send + 'static,
    reply: impl FnOnce(Result<T, E>) + Send + 'static,
) -> Box<dyn Command>
where
    T: Send + 'static,
    E: From<BatchFailed> + Send + 'static,
{
    Box::new(Task {
        work: Some(work),
        reply,
        result: None,
    })
}

/// A command nobody waits for: a failure is logged with what `what` says could not be done.
pub fn unanswered<T: Send + 'static>(
    what: impl FnOnce() -> String + Send + 'static,
    work: impl FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
) -> Box<dyn Command> {
    command(
        move |conn, _| work(conn).map_err(|e| e.to_string()),
        move |r: Result<T, String>| {
            if let Err(e) = r {
                tracing::error!("{}: {e}", what());
            }
        },
    )
}

/// Called after each batch's answers are sent (the window uses it to wake up and show them).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

enum Work {
    Batch(Vec<Box<dyn Command>>),
    Waker(Waker),
    Stop,
}

/// Handle to the database threads. Dropping it finishes the batches already sent and
/// stops both threads, and waits for that.
pub struct DbWriter {
    commands: Sender<Work>,
    reads: Option<Sender<Work>>,
    threads: Vec<JoinHandle<()>>,
    db_path: PathBuf,
}

impl std::fmt::Debug for DbWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbWriter")
            .field("db_path", &self.db_path)
            .finish_non_exhaustive()
    }
}

impl DbWriter {
    /// Opens (and migrates) the database at `db_path` and starts the writer and the reader.
    /// The database is opened here, so a bad database is reported to the caller at once.
    pub fn spawn(db_path: &Path) -> Result<Self, StorageError> {
        let conn = super::open(db_path)?;
        let mut writer = Self::spawn_with(conn, db_path.to_path_buf())?;
        let reader = Connection::open_with_flags(
            db_path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StorageError::Open {
            path: db_path.to_path_buf(),
            source,
        })?;
        super::configure_reader(&reader)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        writer
            .threads
            .push(thread("verbatim-db-reader", db_path, move || {
                run(reader, rx, false)
            })?);
        writer.reads = Some(tx);
        Ok(writer)
    }

    /// Starts the writer over an already opened connection (tests use in-memory databases);
    /// reads go to the writer too.
    pub fn spawn_with(conn: Connection, db_path: PathBuf) -> Result<Self, StorageError> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer = thread("verbatim-db-writer", &db_path, move || run(conn, rx, true))?;
        Ok(Self {
            commands: tx,
            reads: None,
            threads: vec![writer],
            db_path,
        })
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// A handle other threads (the capture writer) use to queue commands.
    pub fn sender(&self) -> DbSender {
        DbSender(self.commands.clone())
    }

    /// Queues a batch of writes; it is applied in one transaction.
    pub fn send(&self, batch: Vec<Box<dyn Command>>) -> Result<(), StorageError> {
        send(&self.commands, batch)
    }

    /// Queues queries for the reader (the writer, when there is no reader). A query sees
    /// what was committed before it starts, never a write in progress.
    pub fn read(&self, batch: Vec<Box<dyn Command>>) -> Result<(), StorageError> {
        send(self.reads.as_ref().unwrap_or(&self.commands), batch)
    }

    /// Calls `waker` after every batch's answers (both threads).
    pub fn set_waker(&self, waker: Waker) {
        for tx in std::iter::once(&self.commands).chain(&self.reads) {
            let _ = tx.send(Work::Waker(waker.clone()));
        }
    }
}

fn thread(
    name: &str,
    db_path: &Path,
    f: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, StorageError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|source| StorageError::Io {
            path: db_path.to_path_buf(),
            source,
        })
}

fn send(tx: &Sender<Work>, batch: Vec<Box<dyn Command>>) -> Result<(), StorageError> {
    if batch.is_empty() {
        return Ok(());
    }
    tx.send(Work::Batch(batch))
        .map_err(|_| StorageError::WriterGone)
}

/// A cloneable way to queue commands for the writer thread.
#[derive(Clone)]
pub struct DbSender(Sender<Work>);

impl std::fmt::Debug for DbSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSender")
    }
}

impl DbSender {
    /// Queues one command (after the writer stopped: `WriterGone`, and the command is lost).
    pub fn send(&self, command: Box<dyn Command>) -> Result<(), StorageError> {
        send(&self.0, vec![command])
    }
}

impl Drop for DbWriter {
    fn drop(&mut self) {
        // A stop sign, not disconnection: other threads may still hold senders (a capture
        // writer closing its take). Everything queued before it is still applied.
        let _ = self.commands.send(Work::Stop);
        if let Some(r) = &self.reads {
            let _ = r.send(Work::Stop);
        }
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::error!("a database thread panicked");
            }
        }
    }
}

fn run(mut conn: Connection, work: Receiver<Work>, writes: bool) {
    let _span = tracing::info_span!("db", writes).entered();
    let mut waker: Option<Waker> = None;
    while let Ok(w) = work.recv() {
        match w {
            Work::Stop => break,
            Work::Waker(w) => waker = Some(w),
            Work::Batch(batch) => {
                let n = batch.len();
                if writes {
                    apply_batch(&mut conn, batch);
                } else {
                    read_batch(&mut conn, batch);
                }
                tracing::debug!(commands = n, "applied a batch");
                if let Some(w) = &waker {
                    w();
                }
            }
        }
    }
    tracing::debug!("database thread stopping");
}

/// Runs queries, each in its own read transaction (one consistent snapshot each).
fn read_batch(conn: &mut Connection, batch: Vec<Box<dyn Command>>) {
    for mut query in batch {
        let mut effects = Effects::default();
        let committed =
            match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred) {
                Ok(tx) => {
                    query.run(&tx, &mut effects);
                    // Nothing was written: ending the read transaction cannot lose anything.
                    let _ = tx.rollback();
                    Ok(())
                }
                Err(e) => Err(BatchFailed(format!("cannot read the database: {e}"))),
            };
        query.answer(committed);
    }
}

/// Applies one batch of commands in one transaction, each in its own savepoint, and sends
/// every answer. Public for tests and benchmarks.
pub fn apply_batch(conn: &mut Connection, batch: Vec<Box<dyn Command>>) {
    // IMMEDIATE: the write lock is taken at BEGIN, where the busy timeout waits for another
    // process's writer. A deferred transaction that reads first and then writes cannot wait
    // (SQLite answers "database is locked" at once when the snapshot it read is stale).
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let failed = BatchFailed(format!("cannot start a transaction: {e}"));
            tracing::error!("{failed}");
            batch
                .into_iter()
                .for_each(|c| c.answer(Err(failed.clone())));
            return;
        }
    };
    // In order: answers go out in the order the commands came.
    let mut ran: Vec<(Box<dyn Command>, Outcome)> = Vec::with_capacity(batch.len());
    for mut command in batch {
        let sp = match tx.savepoint() {
            Ok(sp) => sp,
            Err(e) => {
                ran.push((command, Outcome::Lost(BatchFailed(e.to_string()))));
                continue;
            }
        };
        let mut effects = Effects::default();
        let ok = command.run(&sp, &mut effects);
        let outcome = match (ok, finish_savepoint(sp, ok)) {
            (true, true) => Outcome::Kept(effects),
            (true, false) => {
                effects.undo();
                Outcome::Lost(BatchFailed("cannot keep the changes (savepoint)".into()))
            }
            (false, _) => {
                effects.undo();
                Outcome::Refused
            }
        };
        ran.push((command, outcome));
    }
    let committed = tx
        .commit()
        .map_err(|e| BatchFailed(format!("cannot commit: {e}")));
    if let Err(failed) = &committed {
        tracing::error!("{failed}");
    }
    for (command, outcome) in ran {
        match (outcome, &committed) {
            (Outcome::Kept(effects), Ok(())) => {
                effects.after_commit.into_iter().for_each(|f| f());
                command.answer(Ok(()));
            }
            (Outcome::Kept(effects), Err(failed)) => {
                effects.undo();
                command.answer(Err(failed.clone()));
            }
            (Outcome::Lost(failed), _) => command.answer(Err(failed)),
            // Its own failure is its answer: nothing of it was to be committed.
            (Outcome::Refused, _) => command.answer(Ok(())),
        }
    }
}

enum Outcome {
    Kept(Effects),
    /// Its work failed: the savepoint was rolled back.
    Refused,
    /// Its work succeeded but its changes could not be kept.
    Lost(BatchFailed),
}

/// Releases (`ok`) or rolls back a command's savepoint; whether its changes stay.
fn finish_savepoint(mut sp: rusqlite::Savepoint<'_>, ok: bool) -> bool {
    if ok {
        // A savepoint that fails to release is rolled back when dropped.
        return match sp.commit() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "savepoint failed");
                false
            }
        };
    }
    if let Err(e) = sp.rollback() {
        tracing::error!(error = %e, "savepoint rollback failed");
    }
    false
}
