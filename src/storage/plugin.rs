//! The ECS side of storage: the [`Database`] resource queues a frame's commands and queries
//! and the `Persist` set sends them as one batch each. Answers go to whoever asked: a
//! feature's reply closure usually puts its typed reply in its own [`Replies`] mailbox,
//! which one system of that feature drains.

use std::path::Path;

use bevy::platform::cell::SyncCell;
use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender};
use rusqlite::Connection;

use super::StorageError;
use super::writer::{BatchFailed, Command, DbSender, DbWriter, Effects, Waker, command};
use crate::schedule::{AppSystems, Feature};

/// The database threads and the commands and queries queued for them this frame.
#[derive(Resource)]
pub struct Database {
    writer: DbWriter,
    pending: SyncCell<Vec<Box<dyn Command>>>,
    queries: SyncCell<Vec<Box<dyn Command>>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl Database {
    pub fn new(writer: DbWriter) -> Self {
        Self {
            writer,
            pending: SyncCell::new(Vec::new()),
            queries: SyncCell::new(Vec::new()),
        }
    }

    /// Queues a command for the writer; it is sent with this frame's batch.
    pub fn queue(&mut self, command: Box<dyn Command>) {
        self.pending.get().push(command);
    }

    /// Queues `work` for the writer (in its own savepoint of this frame's transaction);
    /// `reply` gets its result once the batch is committed.
    pub fn write<T, E>(
        &mut self,
        work: impl FnOnce(&Connection, &mut Effects) -> Result<T, E> + Send + 'static,
        reply: impl FnOnce(Result<T, E>) + Send + 'static,
    ) where
        T: Send + 'static,
        E: From<BatchFailed> + Send + 'static,
    {
        self.queue(command(work, reply));
    }

    /// Queues a query for the reader thread: it never waits behind a write.
    pub fn read<T, E>(
        &mut self,
        work: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        reply: impl FnOnce(Result<T, E>) + Send + 'static,
    ) where
        T: Send + 'static,
        E: From<BatchFailed> + Send + 'static,
    {
        self.queries
            .get()
            .push(command(move |conn, _| work(conn), reply));
    }

    pub fn path(&self) -> &Path {
        self.writer.db_path()
    }

    /// A sender other threads (the capture writer) use to queue commands directly.
    pub fn sender(&self) -> DbSender {
        self.writer.sender()
    }

    /// Calls `waker` after every batch (the window wakes up to show the answers).
    pub fn set_waker(&self, waker: Waker) {
        self.writer.set_waker(waker);
    }
}

/// A feature's mailbox for the answers of its storage commands (`R`: that feature's reply
/// type). Reply closures send into it from the database threads; the feature drains it.
#[derive(Resource)]
pub struct Replies<R> {
    tx: Sender<R>,
    rx: Receiver<R>,
}

impl<R> Default for Replies<R> {
    fn default() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self { tx, rx }
    }
}

impl<R: Send + 'static> Replies<R> {
    /// Where a reply closure sends.
    pub fn sender(&self) -> Sender<R> {
        self.tx.clone()
    }

    /// A reply closure that sends `wrap(result)` here.
    pub fn to<T, F>(&self, wrap: F) -> impl FnOnce(T) + Send + 'static + use<T, F, R>
    where
        F: FnOnce(T) -> R + Send + 'static,
    {
        let tx = self.tx.clone();
        move |r| {
            // The app is closing when nobody listens.
            let _ = tx.send(wrap(r));
        }
    }

    /// The replies that have arrived.
    pub fn drain(&self) -> impl Iterator<Item = R> + '_ {
        self.rx.try_iter()
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        flush_commands.in_set(AppSystems::Persist.of(Feature::Storage)),
    );
}

fn flush_commands(db: Option<ResMut<Database>>) -> Result {
    let Some(mut db) = db else { return Ok(()) };
    let queries = std::mem::take(db.queries.get());
    db.writer.read(queries)?;
    let batch = std::mem::take(db.pending.get());
    db.writer.send(batch).map_err(|e: StorageError| e.into())
}
