//! The ECS side of storage: the [`Database`] resource queues commands during a frame and the
//! `Persist` set sends them to the writer as one batch; the `Ingest` set turns the writer's
//! replies into [`DbReplied`] messages.

use std::path::Path;

use bevy::prelude::*;

use super::StorageError;
use super::writer::{DbCommand, DbReply, DbWriter};
use crate::AppSet;

/// The database writer and the commands queued for it this frame.
#[derive(Resource, Debug)]
pub struct Database {
    writer: DbWriter,
    pending: Vec<DbCommand>,
}

impl Database {
    pub fn new(writer: DbWriter) -> Self {
        Self {
            writer,
            pending: Vec::new(),
        }
    }

    /// Queues a command; it is sent with this frame's batch.
    pub fn queue(&mut self, command: DbCommand) {
        self.pending.push(command);
    }

    pub fn path(&self) -> &Path {
        self.writer.db_path()
    }

    /// A sender other threads (the capture writer) use to queue commands directly.
    pub fn sender(&self) -> Result<super::writer::DbSender, StorageError> {
        self.writer.sender()
    }
}

/// One reply of the writer, for the systems of the `Apply` set.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct DbReplied(pub DbReply);

pub(crate) fn plugin(app: &mut App) {
    app.add_message::<DbReplied>()
        .add_systems(Update, drain_replies.in_set(AppSet::Ingest))
        .add_systems(Update, flush_commands.in_set(AppSet::Persist));
}

fn drain_replies(db: Option<Res<Database>>, mut out: MessageWriter<DbReplied>) -> Result {
    let Some(db) = db else { return Ok(()) };
    while let Some(reply) = db.writer.try_recv()? {
        out.write(DbReplied(reply));
    }
    Ok(())
}

fn flush_commands(db: Option<ResMut<Database>>) -> Result {
    let Some(mut db) = db else { return Ok(()) };
    if db.pending.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(&mut db.pending);
    db.writer.send(batch).map_err(|e: StorageError| e.into())
}
