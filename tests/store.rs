//! The SQLite store: migrations, upgrade, dedup, cascades, version invariants, FTS.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};
use verbatim::capture;
use verbatim::library;
use verbatim::library::sql::NewAudioFile;
use verbatim::storage::ids::AudioFileId;
use verbatim::storage::{self, MIGRATION_FILES};
use verbatim::transcribe::jobs::sql::{self, NewJob};
use verbatim::transcript;
use verbatim::transcript::sql::{NewVersion, VersionSource};

/// Every migration that has shipped, with the SHA-256 of its text. A shipped migration must
/// never change: add a new file instead (and a line here).
const SHIPPED: &[(&str, &str)] = &[
    (
        "001_initial.sql",
        "5856a4eb9545b0d0237065ae06200423341de0cd7500620b95c144d724b25791",
    ),
    (
        "002_recording_stop.sql",
        "a0353271c0f3abf84a2d276c9d5d7153ea88594c5dec2a5189e9bec3211a0bd9",
    ),
    (
        "003_job_backend.sql",
        "257c68408973030c7dac1f1969037452680dc14d749097db79fb4bb0e0cc06f3",
    ),
    (
        "004_job_runner.sql",
        "9627b32df07ac2ea5266b9083f7539fe7bd392e41bb3f1c26092a69e0231ed92",
    ),
    (
        "005_live_draft.sql",
        "a45bcc505b27364c81051d430e903fe4641c8b7a0dbfe55b6ed3b8f3ef202949",
    ),
    (
        "006_self_repair.sql",
        "1ce4e93b13ea45376b61bc1796af847de00bf7ffaedca0fbd4dbda23c6e7a5e5",
    ),
    (
        "007_vocabulary.sql",
        "e176c4207462905f755570325ad8653864dc4bbcdc5780c811dd23a7e26b748a",
    ),
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn audio(n: u8) -> NewAudioFile {
    let sha = format!("{:02x}", n).repeat(32);
    NewAudioFile {
        stored_path: format!("audio/{}/{sha}.wav", &sha[..2]),
        sha256: sha,
        original_name: format!("clip-{n}.wav"),
        original_path: Some(format!("/tmp/clip-{n}.wav")),
        size_bytes: 1000 + u64::from(n),
        container: "wav".into(),
        codec: "pcm_s16le".into(),
        duration_ms: 1500,
        sample_rate: 16000,
        channels: 1,
    }
}

fn seg(start: u64, end: u64, text: &str) -> transcript::Segment {
    transcript::Segment {
        start_ms: start,
        end_ms: end,
        text: text.into(),
        confidence: Some(0.9),
        words_json: None,
        speaker: None,
        no_speech: None,
        avg_logprob: None,
    }
}

/// The app never deletes a stored file yet; the schema's cascades are tested with this.
fn delete_audio_file(conn: &Connection, id: AudioFileId) {
    let n = conn
        .execute("DELETE FROM audio_files WHERE id = ?1", params![id])
        .unwrap();
    assert_eq!(n, 1);
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn migrations_validate_and_are_listed_in_order() {
    storage::migrations().validate().unwrap();
    let mut on_disk: Vec<String> = std::fs::read_dir(manifest_dir().join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = MIGRATION_FILES.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        on_disk, listed,
        "every migrations/*.sql must be listed in storage::MIGRATION_FILES, in order"
    );
    for (i, name) in listed.iter().enumerate() {
        let number: usize = name[..3].parse().unwrap();
        assert_eq!(
            number,
            i + 1,
            "{name}: migrations are numbered 001, 002, ... without gaps"
        );
        let text = std::fs::read_to_string(manifest_dir().join("migrations").join(name)).unwrap();
        assert_eq!(
            text, MIGRATION_FILES[i].1,
            "{name}: the embedded text is the file's text"
        );
    }
}

#[test]
fn shipped_migrations_are_append_only() {
    assert!(
        SHIPPED.len() <= MIGRATION_FILES.len(),
        "a shipped migration was removed"
    );
    for ((name, sha), (file, text)) in SHIPPED.iter().zip(MIGRATION_FILES) {
        assert_eq!(name, file);
        assert_eq!(
            &sha256_hex(text.as_bytes()),
            sha,
            "{name} has shipped and must not change; add a new migration"
        );
    }
}

#[test]
fn every_connection_gets_wal_foreign_keys_and_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let conn = storage::open(&dir.path().join("v.db")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(count(&conn, "PRAGMA foreign_keys"), 1);
    assert_eq!(
        count(&conn, "PRAGMA busy_timeout"),
        storage::BUSY_TIMEOUT.as_millis() as i64
    );
    assert_eq!(
        count(&conn, "PRAGMA user_version"),
        MIGRATION_FILES.len() as i64
    );
}

/// `tests/fixtures/schema-v1.db` was made by migration 001 alone, with data in every table.
/// Regenerate (only if migration 001 itself is new) with
/// `VERBATIM_REGENERATE_FIXTURES=1 cargo test --test store upgrade`.
#[test]
fn upgrade_from_a_database_made_by_the_first_migration() {
    let fixture = manifest_dir().join("tests/fixtures/schema-v1.db");
    if std::env::var_os("VERBATIM_REGENERATE_FIXTURES").is_some() {
        let _ = std::fs::remove_file(&fixture);
        let mut conn = Connection::open(&fixture).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        rusqlite_migration::Migrations::new(vec![rusqlite_migration::M::up(MIGRATION_FILES[0].1)])
            .to_latest(&mut conn)
            .unwrap();
        fill(&mut conn);
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
        drop(conn);
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("old.db");
    std::fs::copy(&fixture, &copy).unwrap();
    let conn = storage::open(&copy).unwrap();
    assert_eq!(
        count(&conn, "PRAGMA user_version"),
        MIGRATION_FILES.len() as i64
    );
    let files = library::sql::list_audio_files(&conn).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].original_name, "clip-1.wav");
    let hits = transcript::sql::search(&conn, "fellow", None, true, 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].start_ms, hits[0].end_ms), (1000, 2500));
    // Migration 006: old segments have no model signals, old jobs no span.
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM segments WHERE no_speech IS NULL AND avg_logprob IS NULL"
        ),
        count(&conn, "SELECT COUNT(*) FROM segments")
    );
    assert!(
        verbatim::transcribe::jobs::sql::list_jobs(&conn, 10)
            .unwrap()
            .iter()
            .all(|j| j.redo.is_none())
    );
    // Migration 007: an upgraded library starts with an empty vocabulary.
    assert!(
        verbatim::transcript::vocabulary::vocabulary(&conn)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        verbatim::transcript::vocabulary::vocabulary_prompt(&conn, 400).unwrap(),
        None
    );
    // Migration 002 leaves old sessions readable, with empty overrun lists.
    let sessions = capture::sql::list_recording_sessions(&conn, None).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].status, "complete");
    assert_eq!(sessions[0].stop_reason, None);
    assert!(sessions[0].xruns.is_empty());
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM pragma_foreign_key_check"),
        0
    );
}

/// Migration 005 rebuilds `transcript_versions` (a new CHECK): on a database of the schema
/// before it, every version, segment, export and search hit survives, the version rules
/// (immutable, no delete on their own, current must belong) still hold, and a `live` version
/// can be added.
#[test]
fn the_versions_table_rebuild_keeps_every_row_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    let mut conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    rusqlite_migration::Migrations::new(
        MIGRATION_FILES[..4]
            .iter()
            .map(|(_, sql)| rusqlite_migration::M::up(sql))
            .collect(),
    )
    .to_latest(&mut conn)
    .unwrap();
    fill_with(&mut conn, false);
    let before: Vec<i64> = ["transcript_versions", "segments", "exports", "transcripts"]
        .iter()
        .map(|t| count(&conn, &format!("SELECT COUNT(*) FROM {t}")))
        .collect();
    drop(conn);

    let conn = storage::open(&path).unwrap();
    let after: Vec<i64> = ["transcript_versions", "segments", "exports", "transcripts"]
        .iter()
        .map(|t| count(&conn, &format!("SELECT COUNT(*) FROM {t}")))
        .collect();
    assert_eq!(before, after, "rows lost in the rebuild");
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM pragma_foreign_key_check"),
        0
    );
    assert_eq!(
        transcript::sql::search(&conn, "fellow", None, true, 10)
            .unwrap()
            .len(),
        1
    );
    let t = transcript::sql::list_transcripts(&conn).unwrap()[0].id;
    let v1 = transcript::sql::current_version(&conn, t).unwrap().unwrap();
    assert!(
        conn.execute("UPDATE transcript_versions SET note = 'x'", [])
            .is_err(),
        "versions stay immutable"
    );
    assert!(
        conn.execute("DELETE FROM transcript_versions WHERE id = ?1", [v1.id.0])
            .is_err(),
        "a version cannot be deleted on its own"
    );
    assert!(
        conn.execute("DELETE FROM segments", []).is_err(),
        "segments cannot be deleted on their own"
    );
    assert!(
        conn.execute(
            "INSERT INTO exports (transcript_id, version_id, format, path, created_at) \
             VALUES (?1, 999, 'srt', '/x', 1)",
            [t.0],
        )
        .is_err(),
        "an export names a version of its transcript"
    );
    let (v2, n) = transcript::sql::add_version(
        &conn,
        t,
        &NewVersion::new(VersionSource::Live),
        &[seg(0, 900, "And so")],
        10,
    )
    .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        transcript::sql::current_version(&conn, t)
            .unwrap()
            .unwrap()
            .id,
        v2
    );
    // Deleting the file still cascades through the rebuilt table.
    let file = library::sql::list_audio_files(&conn).unwrap()[0].id;
    delete_audio_file(&conn, file);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM transcript_versions"), 0);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM segments"), 0);
}

fn fill(conn: &mut Connection) {
    fill_with(conn, true);
}

/// `job`: with a transcription job (the job columns of the newest schema).
fn fill_with(conn: &mut Connection, job: bool) {
    let tx = conn.transaction().unwrap();
    let (a, _) = library::sql::insert_audio_file(&tx, &audio(1), 1_700_000_000_000).unwrap();
    let job = job.then(|| {
        let job = NewJob {
            audio_file: a.id,
            model: "ggml-base.en.bin".into(),
            requested_backend: "auto".into(),
            language: Some("en".into()),
            params_json: "{}".into(),
            runner: None,
            into_transcript: None,
            redo: None,
        };
        sql::insert_job(&tx, &job, 1).unwrap()
    });
    // In the columns of migration 001 (the repo writes the newest schema's).
    let t: i64 = tx
        .query_row(
            "INSERT INTO transcripts (audio_file_id, job_id, title, current_version_id, \
             created_at) VALUES (?1, ?2, 'Inaugural', 0, 2) RETURNING id",
            rusqlite::params![a.id.0, job.map(|j| j.0)],
            |r| r.get(0),
        )
        .unwrap();
    let v: i64 = tx
        .query_row(
            "INSERT INTO transcript_versions (transcript_id, number, source, model, created_at) \
             VALUES (?1, 1, 'model', 'ggml-base.en.bin', 2) RETURNING id",
            [t],
            |r| r.get(0),
        )
        .unwrap();
    for (idx, (start, end, text)) in [(0, 1000, "And so my"), (1000, 2500, "fellow Americans")]
        .into_iter()
        .enumerate()
    {
        tx.execute(
            "INSERT INTO segments (version_id, idx, start_ms, end_ms, text, confidence) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0.9)",
            rusqlite::params![v, idx as i64, start, end, text],
        )
        .unwrap();
    }
    let (t, v) = (
        verbatim::storage::ids::TranscriptId(t),
        verbatim::storage::ids::VersionId(v),
    );
    transcript::sql::record_export(&tx, t, v, "srt", "/tmp/out.srt", 3).unwrap();
    // In the columns of migration 001 too (migration 009 added `runner`).
    let s: verbatim::storage::ids::SessionId = tx
        .query_row(
            "INSERT INTO recording_sessions (device_id, device_name, sample_rate, channels, \
             sample_format, file_path, started_at) \
             VALUES ('hw:0', 'Mic', 48000, 2, 'f32', 'recordings/1.wav', 4) RETURNING id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    tx.execute(
        "UPDATE recording_sessions SET status = 'complete', audio_file_id = ?2, \
         frames_written = 48000, ended_at = 5 WHERE id = ?1",
        params![s, a.id],
    )
    .unwrap();
    tx.commit().unwrap();
}

/// A job status this program never writes (a hand edit past the CHECK constraint) is an
/// error when the job is read, not a pending job that runs again.
#[test]
fn an_unknown_job_status_is_an_error_not_a_pending_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = storage::open(&dir.path().join("verbatim.db")).unwrap();
    fill(&mut conn);
    let id: i64 = conn
        .query_row("SELECT id FROM transcription_jobs", [], |r| r.get(0))
        .unwrap();
    let job = sql::get_job(&conn, verbatim::storage::ids::JobId(id))
        .unwrap()
        .unwrap();
    assert_eq!(job.status, verbatim::transcribe::JobStatus::Pending);
    conn.pragma_update(None, "ignore_check_constraints", true)
        .unwrap();
    conn.execute("UPDATE transcription_jobs SET status = 'paused'", [])
        .unwrap();
    let err = sql::get_job(&conn, verbatim::storage::ids::JobId(id)).unwrap_err();
    assert!(
        err.to_string().contains("unknown job status \"paused\""),
        "{err}"
    );
    let err = sql::list_jobs(&conn, 10).unwrap_err();
    assert!(err.to_string().contains("unknown job status"), "{err}");
}

#[test]
fn newer_schema_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let conn = storage::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    let err = storage::open(&path).unwrap_err().to_string();
    assert!(err.contains("newer Verbatim"), "{err}");
}

#[test]
fn same_content_is_stored_once() {
    let conn = storage::open_in_memory().unwrap();
    let (first, created) = library::sql::insert_audio_file(&conn, &audio(7), 1).unwrap();
    assert!(created);
    let mut again = audio(7);
    again.original_name = "renamed copy.wav".into();
    let (second, created) = library::sql::insert_audio_file(&conn, &again, 2).unwrap();
    assert!(!created);
    assert_eq!(first, second, "the existing entry is returned unchanged");
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM audio_files"), 1);
    // The schema itself refuses a second row with the same hash.
    let dup = conn.execute(
        "INSERT INTO audio_files (sha256, original_name, stored_path, size_bytes, container, codec, \
         duration_ms, sample_rate, channels, created_at) VALUES (?1, 'x', 'y', 1, 'wav', 'pcm', 1, 1, 1, 1)",
        [&first.sha256],
    );
    assert!(dup.is_err());
}

#[test]
fn deleting_an_audio_file_cascades_to_everything_derived_from_it() {
    let mut conn = storage::open_in_memory().unwrap();
    fill(&mut conn);
    let keep = {
        let tx = conn.transaction().unwrap();
        let (b, _) = library::sql::insert_audio_file(&tx, &audio(2), 9).unwrap();
        transcript::sql::create_transcript(
            &tx,
            b.id,
            None,
            None,
            &NewVersion::new(VersionSource::Import),
            &[seg(0, 5, "fellow travellers")],
            9,
        )
        .unwrap();
        tx.commit().unwrap();
        b.id
    };
    for table in ["transcription_jobs", "transcripts", "exports"] {
        assert_eq!(
            count(&conn, &format!("SELECT COUNT(*) FROM {table}")),
            if table == "transcripts" { 2 } else { 1 }
        );
    }
    delete_audio_file(&conn, AudioFileId(1));
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM transcription_jobs"), 0);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM transcripts"), 1);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM transcript_versions"), 1);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM segments"), 1);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM exports"), 0);
    // The take stays on record; it just no longer has a file.
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM recording_sessions WHERE audio_file_id IS NULL"
        ),
        1
    );
    // The search index followed the deletes.
    let hits = transcript::sql::search(&conn, "fellow", None, false, 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].audio_file_id, keep);
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM pragma_foreign_key_check"),
        0
    );
}

#[test]
fn a_transcript_has_exactly_one_current_version() {
    let mut conn = storage::open_in_memory().unwrap();
    let tx = conn.transaction().unwrap();
    let (a, _) = library::sql::insert_audio_file(&tx, &audio(1), 1).unwrap();
    let (t, v1) = transcript::sql::create_transcript(
        &tx,
        a.id,
        None,
        None,
        &NewVersion::new(VersionSource::Model),
        &[seg(0, 10, "one")],
        1,
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        transcript::sql::current_version(&conn, t)
            .unwrap()
            .unwrap()
            .id,
        v1
    );

    let (v2, n2) = transcript::sql::add_version(
        &conn,
        t,
        &NewVersion {
            note: Some("fix".into()),
            based_on: Some(v1),
            ..NewVersion::new(VersionSource::Edit)
        },
        &[seg(0, 10, "won")],
        2,
    )
    .unwrap();
    assert_eq!(n2, 2);
    let versions = transcript::sql::versions(&conn, t).unwrap();
    assert_eq!(versions.iter().filter(|v| v.is_current).count(), 1);
    assert_eq!(
        transcript::sql::current_version(&conn, t)
            .unwrap()
            .unwrap()
            .id,
        v2
    );
    assert_eq!(versions[1].segment_count, 1);

    // A transcript without any version cannot be committed.
    let tx = conn.transaction().unwrap();
    tx.execute(
        "INSERT INTO transcripts (audio_file_id, current_version_id, created_at) VALUES (?1, 0, 1)",
        [a.id],
    )
    .unwrap();
    assert!(
        tx.commit().is_err(),
        "a transcript must get its first version in the same transaction"
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM transcripts"), 1);

    // ... nor start out pointing at some version.
    let err = conn
        .execute("INSERT INTO transcripts (audio_file_id, current_version_id, created_at) VALUES (?1, ?2, 1)", params![a.id, v1])
        .unwrap_err();
    assert!(
        err.to_string().contains("starts with current_version_id 0"),
        "{err}"
    );

    // The current version must belong to the transcript.
    let tx = conn.transaction().unwrap();
    let (_t3, v_other) = transcript::sql::create_transcript(
        &tx,
        a.id,
        None,
        None,
        &NewVersion::new(VersionSource::Import),
        &[],
        3,
    )
    .unwrap();
    tx.commit().unwrap();
    let err = conn
        .execute(
            "UPDATE transcripts SET current_version_id = ?1 WHERE id = ?2",
            params![v_other, t],
        )
        .unwrap_err();
    assert!(err.to_string().contains("same transcript"), "{err}");
    // Pointing back at an older version of the same transcript is allowed (rollback may do it).
    conn.execute(
        "UPDATE transcripts SET current_version_id = ?1 WHERE id = ?2",
        params![v1, t],
    )
    .unwrap();

    // History is immutable.
    let err = conn
        .execute(
            "UPDATE transcript_versions SET note = 'x' WHERE id = ?1",
            [v1],
        )
        .unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");
    assert!(
        conn.execute("DELETE FROM transcript_versions WHERE id = ?1", [v1])
            .is_err()
    );
    assert!(conn.execute("UPDATE segments SET text = 'x'", []).is_err());
    assert!(conn.execute("DELETE FROM segments", []).is_err());
    // An export must name a version of the same transcript.
    assert!(transcript::sql::record_export(&conn, t, v_other, "srt", "/x.srt", 1).is_err());
    assert!(
        transcript::sql::record_export(&conn, t, v2, "docx", "/x.docx", 1).is_err(),
        "unknown export format"
    );
    assert_eq!(
        transcript::sql::export_formats(&conn).unwrap(),
        ["csv", "json", "rttm", "srt", "txt", "vtt"]
    );
}

#[test]
fn full_text_search_returns_transcript_version_and_time() {
    let mut conn = storage::open_in_memory().unwrap();
    let tx = conn.transaction().unwrap();
    let (a, _) = library::sql::insert_audio_file(&tx, &audio(1), 1).unwrap();
    let (t, v1) = transcript::sql::create_transcript(
        &tx,
        a.id,
        None,
        None,
        &NewVersion::new(VersionSource::Model),
        &[
            seg(0, 3000, "And so, my fellow Americans:"),
            seg(3000, 7250, "ask not what your country can do for you"),
        ],
        1,
    )
    .unwrap();
    tx.commit().unwrap();

    let hits = transcript::sql::search(&conn, "country", None, true, 10).unwrap();
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    assert_eq!(
        (h.transcript_id, h.version_id, h.version_number),
        (t, v1, 1)
    );
    assert_eq!((h.start_ms, h.end_ms), (3000, 7250));
    assert!(h.snippet.contains("[country]"), "{}", h.snippet);

    // Prefix match on the last word, case- and accent-insensitive.
    assert_eq!(
        transcript::sql::search(&conn, "AMERI", None, true, 10)
            .unwrap()
            .len(),
        1
    );
    // Anything a user types is a query, never an FTS syntax error.
    for q in [
        "\"",
        "ask AND",
        "NEAR(",
        "country)",
        "*",
        "-ask",
        "a:b",
        "   ",
        "fellow\"s",
    ] {
        transcript::sql::search(&conn, q, None, true, 10).unwrap_or_else(|e| panic!("{q:?}: {e}"));
    }

    // An edit: the old text is found only when searching all versions.
    transcript::sql::add_version(
        &conn,
        t,
        &NewVersion::new(VersionSource::Edit),
        &[seg(0, 3000, "And so, my fellow citizens")],
        2,
    )
    .unwrap();
    assert!(
        transcript::sql::search(&conn, "country", None, true, 10)
            .unwrap()
            .is_empty()
    );
    let all = transcript::sql::search(&conn, "country", None, false, 10).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].version_number, 1);
    let cur = transcript::sql::search(&conn, "citizens", None, true, 10).unwrap();
    assert_eq!(cur[0].version_number, 2);
}

#[test]
fn queries_with_hostile_text_are_parameters_not_sql() {
    let conn = storage::open_in_memory().unwrap();
    let mut f = audio(3);
    f.original_name = "x'); DROP TABLE audio_files; --.wav".into();
    library::sql::insert_audio_file(&conn, &f, 1).unwrap();
    let rows = library::sql::list_audio_files(&conn).unwrap();
    assert_eq!(rows[0].original_name, f.original_name);
}

/// A take's live pieces become version 1 (source `live`) of a transcript of its file, once:
/// saving again returns the same transcript. A session without pieces gets no draft unless
/// asked to keep an empty one. A bookmark set on the session shows on its stored file.
#[test]
fn live_pieces_become_the_takes_draft_once_and_its_bookmarks_show_on_its_file() {
    use verbatim::transcribe::draft;
    use verbatim::transcribe::protocol::{Segment, Word};
    let mut conn = storage::open_in_memory().unwrap();
    fill(&mut conn);
    let session = capture::sql::list_recording_sessions(&conn, None).unwrap()[0].id;
    let file = library::sql::list_audio_files(&conn).unwrap()[0].id;
    let w = |text: &str, start_ms: u64, end_ms: u64| Word {
        start_ms,
        end_ms,
        text: text.into(),
        p: 0.9,
    };
    for (words, at) in [
        (vec![w("And", 0, 300), w("so,", 300, 700)], 2_000),
        (vec![w("my", 800, 1000), w("fellow", 1000, 1400)], 3_000),
        (vec![w("Americans.", 1400, 2100)], 4_000),
    ] {
        let piece = draft::piece_row(&Segment::of_words(&words).unwrap(), at);
        verbatim::transcribe::live::sql::insert_live_piece(&conn, session, &piece, 1).unwrap();
    }
    let about = serde_json::json!({ "model": "tiny.en" });
    let t = draft::save(&conn, session, file, about.clone(), false, 5)
        .unwrap()
        .unwrap();
    let again = draft::save(&conn, session, file, about, false, 6).unwrap();
    assert_eq!(again, Some(t), "saved once");
    let versions = transcript::sql::versions(&conn, t).unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].source, VersionSource::Live);
    assert_eq!(versions[0].model.as_deref(), Some("tiny.en"));
    let segs = transcript::sql::segments(&conn, versions[0].id).unwrap();
    let texts: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, ["And so, my fellow Americans."]);
    assert_eq!((segs[0].start_ms, segs[0].end_ms), (0, 2100));
    assert_eq!(
        verbatim::transcribe::live::sql::session_live_transcript(&conn, session).unwrap(),
        Some(t)
    );
    let params: String = conn
        .query_row(
            "SELECT params_json FROM transcript_versions WHERE id = ?1",
            [versions[0].id],
            |r| r.get(0),
        )
        .unwrap();
    let params: serde_json::Value = serde_json::from_str(&params).unwrap();
    // Lags: 2000-300, 2000-700, 3000-1000, 3000-1400, 4000-2100.
    assert_eq!(params["lag"]["words"], 5);
    assert_eq!(params["lag"]["p50_ms"], 1700);
    assert_eq!(params["lag"]["max_ms"], 2000);

    // Another session with no pieces: no draft, unless an empty one is asked for.
    let other = capture::sql::insert_recording_session(
        &conn,
        &capture::sql::NewRecordingSession {
            device_id: None,
            device_name: "Mic".into(),
            sample_rate: 16000,
            channels: 1,
            sample_format: "f32".into(),
            file_path: "recordings/2.wav".into(),
            runner: None,
        },
        7,
    )
    .unwrap();
    let none = draft::save(&conn, other, file, serde_json::json!({}), false, 8);
    assert_eq!(none.unwrap(), None);
    let empty = draft::save(&conn, other, file, serde_json::json!({}), true, 8)
        .unwrap()
        .unwrap();
    assert_eq!(
        transcript::sql::segments(
            &conn,
            transcript::sql::versions(&conn, empty).unwrap()[0].id
        )
        .unwrap()
        .len(),
        0
    );

    let mark = verbatim::transcribe::live::sql::Bookmark {
        start_ms: 800,
        end_ms: 1400,
        label: "my fellow".into(),
    };
    verbatim::transcribe::live::sql::insert_session_bookmark(&conn, session, &mark, 9).unwrap();
    assert_eq!(
        verbatim::transcribe::live::sql::bookmarks(&conn, file).unwrap(),
        [mark]
    );
}
