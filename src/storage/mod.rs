//! SQLite persistence: connection set-up, pragmas, migrations, ids and the writer and reader
//! threads. Each feature keeps its own SQL in its folder (`library/sql.rs`, `capture/sql.rs`,
//! `transcript/sql.rs`, `transcript/vocabulary.rs`, `transcribe/jobs/sql.rs`,
//! `transcribe/live/sql.rs`).
//!
//! The ECS never touches rusqlite: features queue [`writer::Command`]s (their own work and a
//! typed reply) for the writer thread, or queries for the reader thread
//! ([`writer::DbWriter`]); each feature drains its own replies in one system. This module
//! knows SQL, connections, migrations and those threads, and no feature.

pub mod ids;
pub mod plugin;
pub mod runner;
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
    /// The schema upgrade failed; the reason in words, never the SQL of the migration.
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(String),
    #[error(
        "{path} is not a Verbatim library ({why}); it was left untouched: move it away or choose another --data-dir"
    )]
    Foreign { path: PathBuf, why: String },
    #[error(
        "another Verbatim process has been upgrading the library {path} for {secs} s; try again"
    )]
    LockTimeout { path: PathBuf, secs: u64 },
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
    /// A request the data does not allow, said as the user would (a name already taken).
    #[error("{0}")]
    Refused(String),
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
    (
        "004_job_runner.sql",
        include_str!("../../migrations/004_job_runner.sql"),
    ),
    (
        "005_live_draft.sql",
        include_str!("../../migrations/005_live_draft.sql"),
    ),
    (
        "006_self_repair.sql",
        include_str!("../../migrations/006_self_repair.sql"),
    ),
    (
        "007_vocabulary.sql",
        include_str!("../../migrations/007_vocabulary.sql"),
    ),
    (
        "008_edit_drafts.sql",
        include_str!("../../migrations/008_edit_drafts.sql"),
    ),
    (
        "009_session_runner.sql",
        include_str!("../../migrations/009_session_runner.sql"),
    ),
    (
        "010_batch_spans.sql",
        include_str!("../../migrations/010_batch_spans.sql"),
    ),
    (
        "011_speakers.sql",
        include_str!("../../migrations/011_speakers.sql"),
    ),
    (
        "012_rttm_export.sql",
        include_str!("../../migrations/012_rttm_export.sql"),
    ),
];

static MIGRATION_STEPS: [M<'static>; 12] = [
    M::up(MIGRATION_FILES[0].1),
    M::up(MIGRATION_FILES[1].1),
    M::up(MIGRATION_FILES[2].1),
    M::up(MIGRATION_FILES[3].1),
    // Rebuilds a table (foreign keys are off while migrations run): check them before commit.
    M::up(MIGRATION_FILES[4].1).foreign_key_check(),
    M::up(MIGRATION_FILES[5].1),
    M::up(MIGRATION_FILES[6].1),
    M::up(MIGRATION_FILES[7].1),
    M::up(MIGRATION_FILES[8].1),
    M::up(MIGRATION_FILES[9].1),
    M::up(MIGRATION_FILES[10].1),
    M::up(MIGRATION_FILES[11].1),
];

/// The schema migrations as rusqlite_migration sees them.
pub fn migrations() -> Migrations<'static> {
    Migrations::from_slice(&MIGRATION_STEPS)
}

/// How long a connection waits for a lock held by another connection before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

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

/// Sets up the read-only connection of the reader thread (the writer made the schema).
pub fn configure_reader(conn: &Connection) -> Result<(), StorageError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(())
}

/// How long opening waits for another process that creates or upgrades the schema.
pub const MIGRATE_WAIT: Duration = Duration::from_secs(60);

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Opens (creating if needed) the database at `path`, configures it and migrates it to the
/// latest schema.
///
/// Processes starting together on one data directory take turns: the set-up (journal mode,
/// migrations) runs under an exclusive OS lock on `<path>.lock`, so a second process finds
/// the schema already made instead of racing to make it. A file that is not a Verbatim
/// database (another program's SQLite file, or no SQLite file at all) is refused, never
/// written; an empty (0-byte) file becomes a new library with a warning.
pub fn open(path: &Path) -> Result<Connection, StorageError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| StorageError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let _turn = setup_lock(path)?;
    check_existing(path)?;
    let conn = Connection::open(path).map_err(|source| StorageError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version == 0 {
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 {
            return Err(StorageError::Foreign {
                path: path.to_path_buf(),
                why: format!("an SQLite database with {tables} tables of another program"),
            });
        }
    }
    prepare(conn)
}

/// Refuses a file that is not an SQLite database before SQLite touches it; warns about an
/// empty one.
fn check_existing(path: &Path) -> Result<(), StorageError> {
    use std::io::Read;
    let io = |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let mut head = Vec::with_capacity(SQLITE_MAGIC.len());
    file.take(SQLITE_MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    match head.len() {
        0 => {
            tracing::warn!(
                "the database {} is empty (0 bytes): a new, empty library is created in it; if a library was there, restore it from a backup",
                path.display()
            );
            Ok(())
        }
        _ if head == SQLITE_MAGIC => Ok(()),
        _ => Err(StorageError::Foreign {
            path: path.to_path_buf(),
            why: "not an SQLite database".into(),
        }),
    }
}

/// Waits (up to [`MIGRATE_WAIT`]) for the exclusive set-up lock beside the database.
fn setup_lock(db: &Path) -> Result<std::fs::File, StorageError> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StorageError::Io {
            path: path.clone(),
            source,
        })?;
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < MIGRATE_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StorageError::LockTimeout {
                    path: db.to_path_buf(),
                    secs: MIGRATE_WAIT.as_secs(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StorageError::Io { path, source });
            }
        }
    }
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
    // Migrations run with foreign keys off: a table rebuild (005) must not cascade its drop
    // to the rows that reference it. The migrations that rebuild check them before commit.
    conn.pragma_update(None, "foreign_keys", false)?;
    let migrated = migrations()
        .to_latest(&mut conn)
        .map_err(|e| StorageError::Migrate(migration_error(&e)));
    conn.pragma_update(None, "foreign_keys", true)?;
    migrated?;
    Ok(conn)
}

/// A migration failure in words: SQLite's own message, not the statements that failed.
fn migration_error(e: &rusqlite_migration::Error) -> String {
    match e {
        rusqlite_migration::Error::RusqliteError { err, .. } => err.to_string(),
        other => {
            let text = other.to_string();
            let line = text.lines().next().unwrap_or_default();
            line.chars().take(200).collect()
        }
    }
}

/// Milliseconds since the Unix epoch, the time unit of every `*_at` column.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
