//! SQLite persistence: connection set-up, migrations, repositories and the writer thread.
//!
//! The ECS never touches rusqlite: it sends [`writer::DbCommand`]s to the one writer thread
//! ([`writer::DbWriter`]) and reads its replies in one system ([`plugin`]).

pub mod ids;
pub mod plugin;
pub mod repo;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

/// Errors of the storage layer, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] rusqlite_migration::Error),
    #[error(
        "the database was written by a newer Verbatim (schema {found}, this build knows {known}); upgrade Verbatim"
    )]
    TooNew { found: i64, known: usize },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the database writer has stopped; restart Verbatim")]
    WriterGone,
    #[error("file system error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stored data is invalid: {0}")]
    Invalid(String),
    #[error("{0} does not exist")]
    NotFound(String),
}

/// The migrations, in order. Append-only: `tests/store.rs` checks that every file in
/// `migrations/` is listed here and that the list validates.
pub const MIGRATION_FILES: &[(&str, &str)] = &[
    (
        "001_initial.sql",
        include_str!("../../migrations/001_initial.sql"),
    ),
    (
        "002_recording_stop.sql",
        include_str!("../../migrations/002_recording_stop.sql"),
    ),
    (
        "003_job_backend.sql",
        include_str!("../../migrations/003_job_backend.sql"),
    ),
];

static MIGRATION_STEPS: [M<'static>; 3] = [
    M::up(MIGRATION_FILES[0].1),
    M::up(MIGRATION_FILES[1].1),
    M::up(MIGRATION_FILES[2].1),
];

/// The schema migrations as rusqlite_migration sees them.
pub fn migrations() -> Migrations<'static> {
    Migrations::from_slice(&MIGRATION_STEPS)
}

/// How long a connection waits for a lock held by another connection before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Sets the pragmas every Verbatim connection runs with: WAL journal, enforced foreign keys,
/// a busy timeout, and `synchronous = NORMAL` (durable at every checkpoint, safe with WAL).
pub fn configure(conn: &Connection) -> Result<(), StorageError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // In-memory databases answer "memory" and keep it; that is fine for tests.
    let _mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// Opens (creating if needed) the database at `path`, configures it and migrates it to the
/// latest schema.
pub fn open(path: &Path) -> Result<Connection, StorageError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| StorageError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let conn = Connection::open(path).map_err(|source| StorageError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    prepare(conn)
}

/// An in-memory database with the full schema (tests and benchmarks).
pub fn open_in_memory() -> Result<Connection, StorageError> {
    prepare(Connection::open_in_memory()?)
}

fn prepare(mut conn: Connection) -> Result<Connection, StorageError> {
    configure(&conn)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATION_FILES.len() as i64 {
        return Err(StorageError::TooNew {
            found: version,
            known: MIGRATION_FILES.len(),
        });
    }
    migrations().to_latest(&mut conn)?;
    // Migrations may run with foreign keys off; make sure they are on for the caller.
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

/// Milliseconds since the Unix epoch, the time unit of every `*_at` column.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
