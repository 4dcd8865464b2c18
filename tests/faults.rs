//! The fault suite: each finding of the robustness probe (issue 11) as a test that reproduces
//! it through the real binary, plus many processes on one library, `kill -9` at seeded
//! random points, and a full disk. Every test works on fresh data directories and ends with
//! the library's integrity checked (`PRAGMA integrity_check`, every row's file present with
//! its hash, no job left `running`).
//!
//! Tests that need a tmpfs (a full disk, a read-only mount) mount one; where mounting is not
//! allowed (not root, no CAP_SYS_ADMIN) they print why and skip.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::text;
use common::whisper::synthetic_model;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_verbatim")
}

fn command(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(exe());
    c.args(args)
        .env("VERBATIM_HOME", home)
        .env_remove("VERBATIM_MODELS")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn spawn(home: &Path, args: &[&str]) -> Child {
    command(home, args).spawn().unwrap()
}

/// Waits for `child`, killing it and failing the test after `limit` (a hang is a bug).
fn finish(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{what} hung for {limit:?}:\n{}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(home: &Path, args: &[&str], limit: Duration) -> Output {
    finish(spawn(home, args), limit, &args.join(" "))
}

const MINUTE: Duration = Duration::from_secs(60);

/// A mono 16 kHz tone of `seconds` (synthetic-model transcription takes a while on it).
fn tone(path: &Path, seconds: f32) {
    common::write_wav(path, 16_000, 1, 16, false, seconds);
}

fn sha256_file(p: &Path) -> String {
    let mut f = std::fs::File::open(p).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    format!("{:x}", h.finalize())
}

/// The library is whole: SQLite's integrity check passes, every audio row's file is there
/// with its hash, and (unless `running_ok`) no job is left `running`.
fn assert_library_whole(home: &Path, running_ok: bool) {
    let db = home.join("verbatim.db");
    if !db.exists() {
        return;
    }
    let conn = Connection::open(&db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mut stmt = conn
        .prepare("SELECT stored_path, sha256 FROM audio_files")
        .unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (path, sha) in rows {
        let p = home.join(&path);
        assert!(p.is_file(), "the library lost {path}");
        assert_eq!(sha256_file(&p), sha, "{path} is not what was stored");
    }
    if !running_ok {
        let running: i64 = conn
            .query_row(
                "SELECT count(*) FROM transcription_jobs WHERE status = 'running'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(running, 0, "a job is left running");
    }
}

/// Rows in the library.
fn audio_files(home: &Path) -> i64 {
    query_i64(home, "SELECT count(*) FROM audio_files")
}

/// Recording sessions with this status.
fn sessions(home: &Path, status: &str) -> i64 {
    let conn = Connection::open(home.join("verbatim.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row(
        "SELECT count(*) FROM recording_sessions WHERE status = ?1",
        [status],
        |r| r.get(0),
    )
    .unwrap()
}

fn query_i64(home: &Path, sql: &str) -> i64 {
    let conn = Connection::open(home.join("verbatim.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// A tmpfs of `size` mounted at a new directory; unmounted on drop. `None` (with the reason
/// printed) where mounting is not allowed.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str, options: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let opts = if options.is_empty() {
            format!("size={size}")
        } else {
            format!("size={size},{options}")
        };
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(dir.path())
            .output();
        match o {
            Ok(o) if o.status.success() => Some(Self { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs ({}); run the suite as root to include this test",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount ({e})");
                None
            }
        }
    }

    /// A tmpfs with a library made in it (the database exists before the disk fills).
    fn with_library(size: &str) -> Option<Self> {
        let fs = Self::mount(size, "")?;
        let o = run(fs.path(), &["library"], MINUTE);
        assert!(o.status.success(), "{}", text(&o));
        Some(fs)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

// ---------------------------------------------------------------------------------------
// Finding 1: disk full while recording.

/// A 30 s take on a 20 MB disk: storing it must not need a second copy's space.
#[test]
fn a_take_that_fits_the_disk_reaches_the_library() {
    let Some(fs) = Tmpfs::mount("20m", "") else {
        return;
    };
    let home = fs.path();
    // 30 s of fake:sine at 48 kHz stereo f32 is 11.5 MB: a copy would need 23 MB.
    let o = run(
        home,
        &[
            "record",
            "--device",
            "fake:sine:48000:2",
            "--seconds",
            "30",
            "--json",
        ],
        MINUTE * 2,
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["audio_file_id"].as_i64().is_some(), "{v}");
    assert_eq!(audio_files(home), 1, "the take is not in the library");
    assert_eq!(sessions(home, "complete"), 1);
    assert!(
        common::files_under(&home.join("recordings")).is_empty(),
        "the take was left behind in recordings/"
    );
    assert_library_whole(home, false);
}

/// A take that fills the disk: it stops (disk_full), and it either reaches the library or
/// stays recoverable; the user is told which. After space is freed, `recover` stores it.
#[test]
fn a_take_that_fills_the_disk_is_stored_or_stays_recoverable() {
    let Some(fs) = Tmpfs::with_library("6m") else {
        return;
    };
    let home = fs.path();
    let o = run(
        home,
        &["record", "--device", "fake:sine:48000:2", "--seconds", "60"],
        MINUTE * 2,
    );
    assert!(!o.status.success(), "a full disk is not a success");
    let msg = text(&o);
    let stored = audio_files(home) == 1;
    if stored {
        assert!(msg.contains("in the library"), "{msg}");
    } else {
        // Not stored: it must say so and where the take is, and keep it recoverable.
        assert!(msg.contains("NOT in the library"), "{msg}");
        assert!(msg.contains("verbatim recover"), "{msg}");
        assert_eq!(
            sessions(home, "recording"),
            1,
            "the session must stay recoverable"
        );
        fs.remount("size=64m");
        let o = run(home, &["recover"], MINUTE);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(audio_files(home), 1);
    }
    let frames = query_i64(home, "SELECT frames_written FROM recording_sessions");
    assert!(frames > 48_000, "only {frames} frames kept");
    assert_eq!(
        query_i64(
            home,
            "SELECT count(*) FROM recording_sessions WHERE stop_reason = 'disk_full'"
        ),
        1
    );
    assert_library_whole(home, false);
}

/// A take interrupted and then not storable (here the store's folder is a file in the way;
/// a full disk or a database refusing the commit take the same path): recovery says so,
/// exits 1, keeps the take where it is and the session open; once the store works again
/// the next recovery stores it.
/// A take of `device` recorded until its WAV is over `bytes`, then the recorder killed with
/// SIGKILL; the take's path.
fn killed_take(home: &Path, device: &str, bytes: u64) -> PathBuf {
    let mut rec = spawn(home, &["record", "--device", device, "--seconds", "60"]);
    let start = Instant::now();
    let take = loop {
        std::thread::sleep(Duration::from_millis(50));
        let grown = common::files_under(&home.join("recordings"))
            .into_iter()
            .find(|p| {
                p.extension().is_some_and(|e| e == "wav") && p.metadata().unwrap().len() > bytes
            });
        if let Some(t) = grown {
            break t;
        }
        assert!(start.elapsed() < MINUTE, "the take never grew");
    };
    rec.kill().unwrap();
    rec.wait().unwrap();
    take
}

#[test]
fn a_take_that_cannot_be_stored_yet_stays_recoverable() {
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path();
    let take = killed_take(home, "fake:sine:48000:2", 1 << 20);
    let audio = home.join("audio");
    let _ = std::fs::remove_dir_all(&audio);
    std::fs::write(&audio, b"in the way").unwrap();
    let o = run(home, &["recover"], MINUTE);
    assert!(!o.status.success(), "nothing was stored: {}", text(&o));
    assert!(text(&o).contains("verbatim recover"), "{}", text(&o));
    assert!(take.is_file(), "the take left its place: {}", text(&o));
    assert_eq!(
        sessions(home, "recording"),
        1,
        "the session must stay recoverable"
    );
    std::fs::remove_file(&audio).unwrap();
    let o = run(home, &["recover"], MINUTE);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("recovered"), "{}", text(&o));
    assert_eq!(audio_files(home), 1);
    assert!(!take.exists(), "the stored take stayed in recordings/");
    let o = run(home, &["recover"], MINUTE);
    assert!(
        text(&o).contains("No interrupted recordings"),
        "{}",
        text(&o)
    );
    assert_library_whole(home, false);
}

/// Fills the file system at `dir` to the last byte with a file `dir/filler`.
fn fill_disk(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    std::fs::File::create(&filler).unwrap();
    fill_disk_more(&filler).unwrap();
    filler
}

/// Appends to `filler` until the disk is full.
fn fill_disk_more(filler: &Path) -> std::io::Result<()> {
    let mut f = std::fs::File::options().append(true).open(filler)?;
    while f.write_all(&[0u8; 4096]).is_ok() {}
    while f.write_all(&[0u8]).is_ok() {}
    Ok(())
}

/// Import, transcription and export on a full disk: each ends (no hang) with an error that
/// says the disk is full or succeeds for real; nothing half-written is left; the library is
/// whole once space is back, and no job is left running.
#[test]
fn a_full_disk_fails_import_transcribe_and_export_cleanly() {
    let Some(fs) = Tmpfs::with_library("16m") else {
        return;
    };
    let home = fs.path();
    let model = synthetic_model();
    let m = model.to_str().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let small = outside.path().join("small.wav");
    tone(&small, 2.0);
    let o = run(
        home,
        &transcribe_args(small.to_str().unwrap(), m),
        MINUTE * 2,
    );
    assert!(o.status.success(), "{}", text(&o));
    let big = outside.path().join("big.wav");
    tone(&big, 180.0); // 5.8 MB
    // 1 MiB left: the start-up check passes, the copy into staging runs out of space.
    let filler = fill_disk(home);
    let size = filler.metadata().unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(size - (1 << 20))
        .unwrap();
    let says_full = |msg: &str| msg.contains("is full") || msg.contains("No space left");

    let o = run(home, &["import", big.to_str().unwrap()], MINUTE);
    assert!(!o.status.success());
    assert!(says_full(&text(&o)), "{}", text(&o));
    assert!(
        common::files_under(&home.join("audio/.staging")).is_empty(),
        "a failed import left its staged copy"
    );

    let o = run(
        home,
        &transcribe_args(small.to_str().unwrap(), m),
        MINUTE * 2,
    );
    if !o.status.success() {
        assert!(says_full(&text(&o)), "{}", text(&o));
    }

    // Nothing left at all.
    let _ = fill_disk_more(&filler);
    let out = home.join("x.srt");
    let o = run(
        home,
        &[
            "export",
            "1",
            "--format",
            "srt",
            "--out",
            out.to_str().unwrap(),
        ],
        MINUTE,
    );
    if o.status.success() {
        assert!(out.is_file());
    } else {
        assert!(says_full(&text(&o)), "{}", text(&o));
        assert!(!out.exists(), "a failed export left a partial file");
    }

    std::fs::remove_file(&filler).unwrap();
    assert_eq!(audio_files(home), 1, "the failed import left a row");
    let o = run(home, &["jobs"], MINUTE);
    assert!(o.status.success(), "{}", text(&o));
    assert_library_whole(home, false);
}

// ---------------------------------------------------------------------------------------
// Finding 2: a read-only data directory.

#[test]
fn no_log_file_is_not_a_crash() {
    let home = tempfile::tempdir().unwrap();
    // A file where the log folder should be: the log cannot be created.
    std::fs::write(home.path().join("logs"), "not a folder").unwrap();
    let o = run(home.path(), &["models", "path"], MINUTE);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("logging to the terminal only"),
        "{}",
        text(&o)
    );
    let o = run(home.path(), &["library"], MINUTE);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_read_only_data_dir_is_refused_in_words() {
    let Some(fs) = Tmpfs::mount("1m", "ro") else {
        return;
    };
    let o = run(fs.path(), &["models", "path"], MINUTE);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(fs.path(), &["library"], MINUTE);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let msg = text(&o);
    assert!(msg.contains("is not writable"), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");
}

// ---------------------------------------------------------------------------------------
// Findings 3 and 6: several processes transcribing; liveness, not guesses.

/// The synthetic model on one CPU thread, no VAD: what the fault tests transcribe with.
fn synthetic_flags(model: &str) -> [&str; 7] {
    [
        "--model",
        model,
        "--no-vad",
        "--threads",
        "1",
        "--gpu",
        "off",
    ]
}

fn transcribe_args<'a>(file: &'a str, model: &'a str) -> Vec<&'a str> {
    let mut args = vec!["transcribe", file];
    args.extend(synthetic_flags(model));
    args.push("--json");
    args
}

/// `a.wav` (40 s, long enough to be running while another starts) and `b.wav` (`b_s`).
fn two_tones(home: &Path, b_s: f32) -> (PathBuf, PathBuf) {
    let (a, b) = (home.join("a.wav"), home.join("b.wav"));
    tone(&a, 40.0);
    tone(&b, b_s);
    (a, b)
}

#[test]
fn two_transcribing_processes_both_finish() {
    let home = tempfile::tempdir().unwrap();
    let model = synthetic_model();
    let m = model.to_str().unwrap();
    let (a, b) = two_tones(home.path(), 8.0);
    let first = spawn(home.path(), &transcribe_args(a.to_str().unwrap(), m));
    std::thread::sleep(Duration::from_millis(1500));
    let second = spawn(home.path(), &transcribe_args(b.to_str().unwrap(), m));
    // A search while both run must not re-queue either job.
    std::thread::sleep(Duration::from_millis(500));
    let o = run(home.path(), &["search", "country"], MINUTE);
    assert!(o.status.success(), "{}", text(&o));
    let second = finish(second, MINUTE * 3, "the second transcription");
    assert!(second.status.success(), "{}", text(&second));
    let first = finish(first, MINUTE * 3, "the first transcription");
    assert!(first.status.success(), "{}", text(&first));
    // Each job ran once, and nobody called it interrupted.
    assert_eq!(
        query_i64(
            home.path(),
            "SELECT count(*) FROM transcription_jobs WHERE status = 'completed' AND attempts = 1"
        ),
        2
    );
    assert_eq!(
        query_i64(
            home.path(),
            "SELECT count(*) FROM transcription_jobs WHERE error LIKE 'interrupted%'"
        ),
        0
    );
    assert_library_whole(home.path(), false);
}

#[test]
fn a_killed_transcription_is_queued_again_by_the_next_start() {
    let home = tempfile::tempdir().unwrap();
    let model = synthetic_model();
    let m = model.to_str().unwrap();
    let (a, b) = two_tones(home.path(), 4.0);
    // A long-lived process holds a runner lock the whole time (as the old jobs.lock did).
    let other = spawn(home.path(), &transcribe_args(a.to_str().unwrap(), m));
    let mut killed = spawn(home.path(), &transcribe_args(b.to_str().unwrap(), m));
    // Kill it once its job runs.
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let db = home.path().join("verbatim.db");
        // The file appears before the first process has made the schema in it.
        let running = db.exists().then(|| {
            let conn = Connection::open(&db).unwrap();
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            conn.query_row(
                "SELECT count(*) FROM transcription_jobs WHERE status = 'running'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .ok()
        });
        if running.flatten().unwrap_or(0) >= 2 {
            break;
        }
        assert!(start.elapsed() < MINUTE, "the jobs never started");
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    // The next start of any command queues the dead process's job again; the live one's
    // job is left alone.
    let o = run(home.path(), &["jobs", "--json"], MINUTE);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(home.path(), &["library"], MINUTE);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        query_i64(
            home.path(),
            "SELECT count(*) FROM transcription_jobs WHERE status = 'pending' \
             AND error LIKE 'interrupted%' AND runner IS NULL"
        ),
        1,
        "the killed process's job is not queued again"
    );
    let other = finish(other, MINUTE * 3, "the other transcription");
    assert!(other.status.success(), "{}", text(&other));
    assert_library_whole(home.path(), false);
}

// ---------------------------------------------------------------------------------------
// Finding 4: processes starting together on a fresh data directory.

#[test]
fn processes_starting_together_take_turns_with_the_schema() {
    for trial in 0..8 {
        let home = tempfile::tempdir().unwrap();
        let children: Vec<Child> = (0..4)
            .map(|i| {
                spawn(
                    home.path(),
                    if i % 2 == 0 {
                        &["library"]
                    } else {
                        &["search", "x"]
                    },
                )
            })
            .collect();
        for c in children {
            let o = finish(c, MINUTE, "a start on a fresh library");
            let msg = text(&o);
            assert!(o.status.success(), "trial {trial}: {msg}");
            assert!(!msg.contains("CREATE TABLE"), "SQL printed: {msg}");
        }
        assert_library_whole(home.path(), false);
    }
}

#[test]
fn migration_errors_do_not_print_sql() {
    let home = tempfile::tempdir().unwrap();
    // A database from a "future" Verbatim with a conflicting table and an old version.
    let conn = Connection::open(home.path().join("verbatim.db")).unwrap();
    conn.execute_batch("CREATE TABLE audio_files (x); PRAGMA user_version = 0;")
        .unwrap();
    drop(conn);
    let before = std::fs::read(home.path().join("verbatim.db")).unwrap();
    let o = run(home.path(), &["library"], MINUTE);
    assert!(!o.status.success());
    let msg = text(&o);
    assert!(msg.contains("not a Verbatim library"), "{msg}");
    assert!(!msg.contains("CREATE"), "{msg}");
    assert_eq!(
        std::fs::read(home.path().join("verbatim.db")).unwrap(),
        before,
        "another program's database was changed"
    );
}

// ---------------------------------------------------------------------------------------
// Finding 5: the staging folder under a running import.

#[test]
fn a_start_does_not_wipe_a_running_import() {
    let home = tempfile::tempdir().unwrap();
    let big = home.path().join("big.wav");
    // 30 minutes of 16 kHz mono: 57.6 MB, a few seconds to copy, hash and decode.
    tone(&big, 1800.0);
    let import = spawn(home.path(), &["import", big.to_str().unwrap()]);
    let staging = home.path().join("audio/.staging");
    let start = Instant::now();
    let mut starts = 0;
    let mut saw_staged = false;
    loop {
        if std::fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_some()) {
            saw_staged = true;
            let o = run(home.path(), &["library"], MINUTE);
            assert!(o.status.success(), "{}", text(&o));
            starts += 1;
        } else if saw_staged || start.elapsed() > MINUTE {
            break;
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let o = finish(import, MINUTE * 2, "the import");
    assert!(
        o.status.success(),
        "{} starts during it: {}",
        starts,
        text(&o)
    );
    assert!(saw_staged, "the import never staged a file");
    assert_eq!(audio_files(home.path()), 1);
    assert_library_whole(home.path(), false);
}

// ---------------------------------------------------------------------------------------
// Finding 7: a server that stops sending.

/// Serves one connection per entry of `replies`: the bytes to send, then silence (the
/// connection is held open until the test ends).
fn stalling_server(replies: Vec<Vec<u8>>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        let mut held = Vec::new();
        for reply in replies {
            let Ok((mut s, _)) = listener.accept() else {
                break;
            };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            requests.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            s.write_all(&reply).unwrap();
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(8));
        requests
    });
    (port, handle)
}

#[test]
fn a_stalled_download_times_out_and_resumes_later() {
    let home = tempfile::tempdir().unwrap();
    let body_start = b"ggml0123456789".to_vec();
    let mut headers_then_stall =
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\n"
            .to_vec();
    headers_then_stall.extend_from_slice(&body_start);
    // First connection: nothing at all. Second: headers and 14 bytes, then nothing.
    let (port, server) = stalling_server(vec![Vec::new(), headers_then_stall, Vec::new()]);
    let url = format!("http://127.0.0.1:{port}/x.bin?token=secret");
    for attempt in 0..2 {
        let start = Instant::now();
        let o = finish(
            command(home.path(), &["models", "download", &url])
                .env("VERBATIM_DOWNLOAD_TIMEOUT", "2")
                .spawn()
                .unwrap(),
            MINUTE,
            "a download from a silent server",
        );
        assert!(!o.status.success());
        let msg = text(&o);
        assert!(msg.contains("stalled"), "attempt {attempt}: {msg}");
        assert!(
            msg.contains("run the same command again to resume"),
            "{msg}"
        );
        assert!(start.elapsed() < Duration::from_secs(30));
        // Said once, not twice.
        assert_eq!(msg.matches("stalled").count(), 1, "{msg}");
    }
    // The part is kept under the URL's file name (no `?query`), for the resume.
    let part = home.path().join("models/x.bin.part");
    assert_eq!(std::fs::read(&part).unwrap(), body_start);
    assert!(
        !common::files_under(&home.path().join("models"))
            .iter()
            .any(|p| p.to_string_lossy().contains('?')),
        "the query string reached a file name"
    );
    // A third attempt asks for the rest.
    let o = finish(
        command(home.path(), &["models", "download", &url])
            .env("VERBATIM_DOWNLOAD_TIMEOUT", "2")
            .spawn()
            .unwrap(),
        MINUTE,
        "a resumed download",
    );
    assert!(!o.status.success());
    let requests = server.join().unwrap();
    assert!(
        requests
            .get(2)
            .is_some_and(|r| r.to_ascii_lowercase().contains("range: bytes=14-")),
        "{requests:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Finding 9: export names.

#[test]
fn exports_with_one_name_never_overwrite_and_long_names_are_shortened() {
    let home = tempfile::tempdir().unwrap();
    let model = synthetic_model();
    let (c1, c2) = (home.path().join("c1"), home.path().join("c2"));
    std::fs::create_dir_all(&c1).unwrap();
    std::fs::create_dir_all(&c2).unwrap();
    let long = "n".repeat(251);
    let files = [
        c1.join("x.wav"),
        c2.join("x.wav"),
        c1.join(format!("{long}.wav")),
    ];
    for (i, f) in files.iter().enumerate() {
        tone(f, 1.0 + i as f32);
    }
    let out = home.path().join("O");
    let mut args = vec!["transcribe"];
    let names: Vec<String> = files.iter().map(|f| f.to_string_lossy().into()).collect();
    args.extend(names.iter().map(String::as_str));
    args.extend(synthetic_flags(model.to_str().unwrap()));
    args.extend([
        "--export",
        "txt,srt",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let o = run(home.path(), &args, MINUTE * 3);
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let written: Vec<String> = report
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["exports"].as_array().unwrap().clone())
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(written.len(), 6, "{report}");
    let mut unique = written.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6, "one export overwrote another: {written:?}");
    for w in &written {
        assert!(Path::new(w).is_file(), "{w} was reported but not written");
        assert!(Path::new(w).file_name().unwrap().len() <= 255);
    }
    assert!(out.join("x.txt").is_file() && out.join("x (2).txt").is_file());
}

// ---------------------------------------------------------------------------------------
// Finding 10: the smaller ones.

/// What `ffmpeg -i in -f wav -` writes: RIFF and data sizes 0xFFFFFFFF.
fn streamed_wav(path: &Path, seconds: f32) {
    tone(path, seconds);
    let mut bytes = std::fs::read(path).unwrap();
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let data = bytes.windows(4).position(|w| w == b"data").unwrap();
    bytes[data + 4..data + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_streamed_wav_imports_whole() {
    let home = tempfile::tempdir().unwrap();
    let f = home.path().join("piped.wav");
    streamed_wav(&f, 3.0);
    let o = run(
        home.path(),
        &["import", f.to_str().unwrap(), "--json"],
        MINUTE,
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["audio"]["duration_ms"], 3000, "{v}");
}

#[test]
fn odd_file_names_are_printed_safely() {
    use std::os::unix::ffi::OsStrExt;
    let home = tempfile::tempdir().unwrap();
    // Not UTF-8: imported, and --json still prints JSON.
    let raw = home
        .path()
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9.wav"));
    tone(&raw, 1.0);
    let o = command(home.path(), &["import", "--json"])
        .arg(&raw)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["status"], "imported", "{v}");
    // An escape sequence in a name never reaches the terminal raw.
    let esc = home.path().join("\x1b[31mred\x1b[0m.wav");
    std::fs::write(&esc, b"not audio").unwrap();
    let o = command(home.path(), &["import"])
        .arg(&esc)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        !o.stdout.contains(&0x1b) && !o.stderr.contains(&0x1b),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("\\u{1b}[31mred"), "{}", text(&o));
}

#[test]
fn a_database_that_is_not_ours_is_never_overwritten() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("verbatim.db");
    std::fs::write(&db, b"my notes, not a database").unwrap();
    let o = run(home.path(), &["library"], MINUTE);
    assert!(!o.status.success());
    assert!(text(&o).contains("not a Verbatim library"), "{}", text(&o));
    assert_eq!(std::fs::read(&db).unwrap(), b"my notes, not a database");
    // An empty file becomes a library, and the user hears about it.
    std::fs::write(&db, b"").unwrap();
    let o = run(home.path(), &["library"], MINUTE);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("is empty (0 bytes)"), "{}", text(&o));
}

// ---------------------------------------------------------------------------------------
// Many processes on one library, repeated.

#[test]
fn many_processes_on_one_library() {
    let rounds = common::env_count("VERBATIM_FAULT_ROUNDS", 5);
    let model = synthetic_model();
    let m = model.to_str().unwrap().to_owned();
    let mut processes = 0;
    for round in 0..rounds {
        let home = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..3)
            .map(|i| {
                let f = home.path().join(format!("f{i}.wav"));
                tone(&f, 2.0 + i as f32);
                f
            })
            .collect();
        let names: Vec<String> = files.iter().map(|f| f.to_string_lossy().into()).collect();
        let mut children = Vec::new();
        children.push(spawn(home.path(), &["import", &names[0], &names[1]]));
        for n in &names {
            children.push(spawn(home.path(), &transcribe_args(n, &m)));
        }
        children.push(spawn(home.path(), &["search", "hello"]));
        children.push(spawn(home.path(), &["library", "--json"]));
        children.push(spawn(
            home.path(),
            &["record", "--device", "fake:noise", "--seconds", "1"],
        ));
        children.push(spawn(home.path(), &["jobs"]));
        processes += children.len();
        for c in children {
            let o = finish(c, MINUTE * 3, "a process of the crowd");
            assert!(o.status.success(), "round {round}: {}", text(&o));
        }
        // Export every transcript while others read.
        let ids: Vec<i64> = {
            let conn = Connection::open(home.path().join("verbatim.db")).unwrap();
            let mut s = conn.prepare("SELECT id FROM transcripts").unwrap();
            s.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(
            ids.len(),
            3,
            "round {round}: every job makes one transcript"
        );
        let out = home.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let exports: Vec<Child> = ids
            .iter()
            .map(|id| {
                let id = id.to_string();
                let path = out.join(format!("t{id}.srt"));
                spawn(
                    home.path(),
                    &[
                        "export",
                        &id,
                        "--format",
                        "srt",
                        "--out",
                        path.to_str().unwrap(),
                    ],
                )
            })
            .chain([spawn(home.path(), &["search", "hello"])])
            .collect();
        processes += exports.len();
        for c in exports {
            let o = finish(c, MINUTE, "an export");
            assert!(o.status.success(), "round {round}: {}", text(&o));
        }
        assert_eq!(
            query_i64(
                home.path(),
                "SELECT count(*) FROM transcription_jobs WHERE status = 'completed' AND attempts = 1"
            ),
            3,
            "round {round}: every job finishes exactly once"
        );
        assert_eq!(audio_files(home.path()), 4);
        assert_library_whole(home.path(), false);
    }
    eprintln!("{rounds} rounds, {processes} processes: no failure, no hang, integrity ok");
}

// ---------------------------------------------------------------------------------------
// kill -9 at seeded random points.

#[test]
fn kill_nine_anywhere_loses_nothing() {
    let kills = common::env_count("VERBATIM_FAULT_KILLS", 50);
    let model = synthetic_model();
    let m = model.to_str().unwrap().to_owned();
    let home = tempfile::tempdir().unwrap();
    let clip = home.path().join("clip.wav");
    tone(&clip, 6.0);
    let clip = clip.to_string_lossy().into_owned();
    let mut rng = common::XorShift(0x5eed_0000_0000_0011);
    let mut next = move || rng.next();
    let mut by_kind = [0usize; 4];
    for k in 0..kills {
        let kind = (next() % 4) as usize;
        let fresh = home.path().join(format!("in-{k}.wav"));
        let args: Vec<String> = match kind {
            0 => {
                tone(&fresh, 1.0 + (k % 5) as f32);
                vec!["import".into(), fresh.to_string_lossy().into()]
            }
            1 => transcribe_args(&clip, &m)
                .iter()
                .map(|s| s.to_string())
                .collect(),
            2 => vec![
                "export".into(),
                "1".into(),
                "--format".into(),
                "json".into(),
                "--out".into(),
                home.path()
                    .join(format!("e{k}.json"))
                    .to_string_lossy()
                    .into(),
            ],
            _ => vec![
                "record".into(),
                "--device".into(),
                "fake:sine".into(),
                "--seconds".into(),
                "5".into(),
            ],
        };
        by_kind[kind] += 1;
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = spawn(home.path(), &argv);
        std::thread::sleep(Duration::from_millis(next() % 1500));
        let _ = child.kill();
        let _ = child.wait();
        // The next start recovers: takes, jobs, staging.
        let o = run(home.path(), &["recover"], MINUTE);
        assert!(o.status.success(), "kill {k}: {}", text(&o));
        let o = run(home.path(), &["jobs"], MINUTE);
        assert!(o.status.success(), "kill {k}: {}", text(&o));
        assert_library_whole(home.path(), false);
    }
    assert_eq!(
        sessions(home.path(), "recording"),
        0,
        "an interrupted take was not recovered"
    );
    eprintln!(
        "{kills} kills (import {}, transcribe {}, export {}, record {}): every start recovered, integrity ok",
        by_kind[0], by_kind[1], by_kind[2], by_kind[3]
    );
}

// ---------------------------------------------------------------------------------------
// Issue 28: the probe of the newest surfaces.

/// A library with jfk.wav transcribed by the synthetic model (transcript 1).
fn transcribed(home: &Path) {
    let model = synthetic_model();
    let jfk = common::speech_dir().join("jfk.wav");
    let args = transcribe_args(jfk.to_str().unwrap(), model.to_str().unwrap());
    let o = run(home, &args, MINUTE * 3);
    assert!(o.status.success(), "{}", text(&o));
}

/// Finding 7: `export --out /dev/stdout` wrote a regular file named `/dev/stdout (2)`;
/// `/dev/full` and a folder got the same renaming.
#[test]
fn exports_write_devices_as_they_are_and_folders_get_the_file_inside() {
    let home = tempfile::tempdir().unwrap();
    transcribed(home.path());
    let export = |out: &str| {
        run(
            home.path(),
            &["export", "1", "--format", "srt", "--out", out],
            MINUTE,
        )
    };
    for out in ["-", "/dev/stdout"] {
        let o = export(out);
        assert!(o.status.success(), "{out}: {}", text(&o));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            stdout.starts_with("1\n00:00:"),
            "{out}: the SRT is what stdout gets: {stdout}"
        );
        assert!(!stdout.contains("wrote"), "the report is on stderr");
    }
    assert!(!Path::new("/dev/stdout (2)").exists());
    let o = export("/dev/full");
    assert!(!o.status.success(), "a full device is a failed export");
    assert!(text(&o).contains("No space left"), "{}", text(&o));
    assert!(!Path::new("/dev/full (2)").exists());
    let dir = home.path().join("exports");
    std::fs::create_dir(&dir).unwrap();
    let o = export(dir.to_str().unwrap());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        dir.join("jfk.v1.srt").is_file(),
        "the file goes inside the folder"
    );
    assert!(!home.path().join("exports (2)").exists());
}

/// Finding 10: arguments are checked before anything else, in words about them.
#[test]
fn retranscribe_checks_its_arguments_first() {
    let home = tempfile::tempdir().unwrap();
    transcribed(home.path());
    let retranscribe = |extra: &[&str]| {
        let mut args = vec!["retranscribe", "1"];
        args.extend_from_slice(extra);
        run(home.path(), &args, MINUTE)
    };
    // A reversed span with no --model: about the span, not the default model.
    let o = retranscribe(&["--from", "3000", "--to", "1000"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--from 3000 must be before --to 1000"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("base"), "{}", text(&o));
    // The beam whisper.cpp supports.
    let o = retranscribe(&["--from", "0", "--to", "1000", "--beam", "100000"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("1 to 8 beams"), "{}", text(&o));
    let o = run(home.path(), &["transcribe", "x.wav", "--beam", "0"], MINUTE);
    assert!(text(&o).contains("1 to 8 beams"), "{}", text(&o));
    // --to near 2^64: clamped to the audio, said so, no database error.
    let model = synthetic_model();
    let mut args = vec!["--from", "0", "--to", "18446744073709551000"];
    args.extend(synthetic_flags(model.to_str().unwrap()));
    let o = retranscribe(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("is past the end of jfk.wav (00:00:11.000): the span ends there"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("out of range"), "{}", text(&o));
}

/// Finding 11: `models quantize /dev/zero` said the file "does not exist".
#[test]
fn a_model_that_is_a_device_is_named_as_one() {
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &["models", "quantize", "/dev/zero"], MINUTE);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("/dev/zero is a character device, not a model file"),
        "{}",
        text(&o)
    );
    let o = run(
        home.path(),
        &["record", "--device", "fake:sine:1", "--seconds", "1"],
        MINUTE,
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("8000 Hz to 768 kHz"), "{}", text(&o));
}

/// Finding 3, the lost update: a span re-transcribed while an edit was imported was written
/// on the version before the edit, so the edit survived only in history. Three importers and
/// three re-transcribers at once on one transcript: every re-transcription is written on the
/// version current when it is written (outside its span it is that version, byte for byte) or
/// refused, saying the span changed; every import's edit is in the versions after it.
#[test]
fn concurrent_imports_and_retranscriptions_lose_no_update() {
    let home = tempfile::tempdir().unwrap();
    transcribed(home.path());
    let cue = |n: u32, a: &str, b: &str, t: &str| format!("{n}\n{a} --> {b}\n{t}\n\n");
    let srt = |last: &str| {
        cue(
            1,
            "00:00:00,320",
            "00:00:02,270",
            "And so, my fellow Americans,",
        ) + &cue(2, "00:00:03,270", "00:00:04,410", "ask not")
            + &cue(
                3,
                "00:00:05,380",
                "00:00:07,680",
                "what your country can do for you,",
            )
            + &cue(4, "00:00:08,160", "00:00:10,620", last)
    };
    let base = home.path().join("base.srt");
    std::fs::write(&base, srt("ask what you can do for your country.")).unwrap();
    let o = run(
        home.path(),
        &["import", base.to_str().unwrap(), "--transcript", "1"],
        MINUTE,
    );
    assert!(o.status.success(), "{}", text(&o));
    let model = synthetic_model();
    let mut again = vec!["retranscribe", "1", "--from", "0", "--to", "3000"];
    again.extend(synthetic_flags(model.to_str().unwrap()));
    let mut children = Vec::new();
    for k in 0..3 {
        let edit = home.path().join(format!("edit{k}.srt"));
        std::fs::write(&edit, srt(&format!("edit number {k}"))).unwrap();
        children.push(("retranscribe", spawn(home.path(), &again)));
        children.push((
            "import",
            spawn(
                home.path(),
                &["import", edit.to_str().unwrap(), "--transcript", "1"],
            ),
        ));
    }
    for (what, child) in children {
        let o = finish(child, MINUTE * 3, what);
        if !o.status.success() {
            assert_eq!(what, "retranscribe", "{}", text(&o));
            assert!(text(&o).contains("was changed in version"), "{}", text(&o));
        }
    }
    let conn = Connection::open(home.path().join("verbatim.db")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, number, source, based_on_version_id, params_json FROM transcript_versions \
             WHERE transcript_id = 1 ORDER BY number",
        )
        .unwrap();
    type Row = (i64, u32, String, Option<i64>, Option<String>);
    let versions: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let segments = |v: i64| -> Vec<(i64, i64, String)> {
        let mut s = conn
            .prepare(
                "SELECT start_ms, end_ms, text FROM segments WHERE version_id = ?1 ORDER BY idx",
            )
            .unwrap();
        s.query_map([v], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let mut checked = 0;
    for w in versions.windows(2) {
        let (before, after) = (&w[0], &w[1]);
        if after.2 != "retranscribe" {
            continue;
        }
        assert_eq!(
            after.3,
            Some(before.0),
            "version {} is built on the one before",
            after.1
        );
        let params: serde_json::Value =
            serde_json::from_str(after.4.as_deref().unwrap_or("{}")).unwrap();
        let (from, to) = (
            params["retranscribe"]["from_ms"].as_i64().unwrap(),
            params["retranscribe"]["to_ms"].as_i64().unwrap(),
        );
        let outside = |segs: Vec<(i64, i64, String)>| -> Vec<(i64, i64, String)> {
            segs.into_iter()
                .filter(|s| s.1 <= from || s.0 >= to)
                .collect()
        };
        assert_eq!(
            outside(segments(after.0)),
            outside(segments(before.0)),
            "version {}: outside its span it is version {}",
            after.1,
            before.1
        );
        checked += 1;
    }
    eprintln!(
        "{} versions, {checked} re-transcriptions checked",
        versions.len()
    );
    // Every import landed as a version of its own.
    let imports = versions.iter().filter(|v| v.2 == "import").count();
    assert_eq!(imports, 4);
}

/// Findings 1 and 12: a kill right after a live take stops left its committed pieces in a
/// table no command shows: the session `complete`, no version 1, no full pass, and `recover`
/// said there was nothing to recover; a job queued again after a kill stayed pending in the
/// CLI forever. This is that state exactly (a stored take, its live pieces, its process gone):
/// `recover` keeps the text as version 1 and queues the full pass, once; `jobs --run` runs it
/// into version 2.
#[test]
fn live_text_stranded_by_a_kill_after_stop_is_kept_and_its_full_pass_runs() {
    let home = tempfile::tempdir().unwrap();
    let model = synthetic_model();
    std::fs::write(
        home.path().join("settings.json"),
        serde_json::json!({ "model": model.to_str().unwrap() }).to_string(),
    )
    .unwrap();
    let o = run(
        home.path(),
        &[
            "record",
            "--device",
            "fake:sine:16000:1",
            "--seconds",
            "1",
            "--json",
        ],
        MINUTE,
    );
    assert!(o.status.success(), "{}", text(&o));
    let take: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let session = take["session"].as_i64().unwrap();
    {
        let conn = Connection::open(home.path().join("verbatim.db")).unwrap();
        for (k, words) in ["And so my", "fellow Americans."].iter().enumerate() {
            conn.execute(
                "INSERT INTO live_pieces (session_id, start_ms, end_ms, at_ms, text, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                rusqlite::params![session, k * 400, k * 400 + 400, 900 + k * 100, words],
            )
            .unwrap();
        }
    }
    assert_eq!(
        query_i64(home.path(), "SELECT COUNT(*) FROM transcripts"),
        0
    );
    let o = run(home.path(), &["recover", "--json"], MINUTE);
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = report["live_text"][0]["transcript"].as_i64().expect("kept");
    assert_eq!(
        query_i64(
            home.path(),
            &format!(
                "SELECT COUNT(*) FROM segments s JOIN transcript_versions v ON v.id = s.version_id \
                 WHERE v.transcript_id = {t} AND v.number = 1 AND v.source = 'live'"
            )
        ),
        2,
        "the two pieces (without word times: as committed) are version 1"
    );
    assert_eq!(
        query_i64(
            home.path(),
            &format!(
                "SELECT COUNT(*) FROM transcription_jobs WHERE transcript_id = {t} AND status = 'pending'"
            )
        ),
        1
    );
    // Once: a second recover finds nothing more to do.
    let o = run(home.path(), &["recover"], MINUTE);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("No interrupted recordings."),
        "{}",
        text(&o)
    );
    assert_eq!(
        query_i64(home.path(), "SELECT COUNT(*) FROM transcription_jobs"),
        1
    );
    // The pending full pass runs from the command line.
    let o = run(home.path(), &["jobs", "--run", "--json"], MINUTE * 3);
    assert!(o.status.success(), "{}", text(&o));
    let ran: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ran[0]["status"], "completed", "{ran}");
    assert_eq!(ran[0]["transcript"].as_i64(), Some(t));
    assert_eq!(
        query_i64(
            home.path(),
            &format!("SELECT MAX(number) FROM transcript_versions WHERE transcript_id = {t}")
        ),
        2,
        "the full pass is version 2 of the live text's transcript"
    );
    let o = run(home.path(), &["jobs", "--run"], MINUTE);
    assert!(text(&o).contains("No pending job to run."), "{}", text(&o));
}

/// An SRT of `n` cues over jfk.wav's first 10 s; every other one is text far too fast for its
/// 4 ms (flagged), the rest "ok" (not).
fn many_cues(n: u64) -> String {
    let clock = |ms: u64| {
        format!(
            "00:{:02}:{:02},{:03}",
            ms / 60_000,
            ms / 1_000 % 60,
            ms % 1_000
        )
    };
    let step = 10_000 / n;
    (0..n)
        .map(|i| {
            let a = i * step;
            let t = if i % 2 == 0 {
                "word after word after word after word"
            } else {
                "ok"
            };
            format!("{}\n{} --> {}\n{t}\n\n", i + 1, clock(a), clock(a + 4))
        })
        .collect()
}

/// Finding 5: `retranscribe --flagged` queued a job, and wrote a whole version, per flagged
/// segment, took minutes to obey Ctrl-C and then claimed every span was done (exit 0).
/// Now: flagged neighbours are one span, a batch over `--max-spans` is refused before anything
/// is queued, a batch is one job saved as one version, and Ctrl-C cancels it at once, saves
/// nothing, says so and exits 130.
#[test]
fn a_flagged_batch_is_one_job_one_version_bounded_and_cancellable() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    transcribed(h);
    let srt = h.join("many.srt");
    std::fs::write(&srt, many_cues(1_200)).unwrap();
    let o = run(
        h,
        &["import", srt.to_str().unwrap(), "--transcript", "1"],
        MINUTE,
    );
    assert!(o.status.success(), "{}", text(&o));
    let model = synthetic_model();
    let flags = synthetic_flags(model.to_str().unwrap());
    let versions = || query_i64(h, "SELECT COUNT(*) FROM transcript_versions");
    let jobs = || query_i64(h, "SELECT COUNT(*) FROM transcription_jobs");
    let (v0, j0) = (versions(), jobs());

    // 600 flagged spans: more than the default cap, refused before anything is queued.
    let mut args = vec!["retranscribe", "1", "--flagged"];
    args.extend(flags);
    let o = run(h, &args, MINUTE);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("600 flagged spans") && text(&o).contains("--max-spans 600"),
        "{}",
        text(&o)
    );
    assert_eq!((versions(), jobs()), (v0, j0));

    // Asked for by name: one job; Ctrl-C while it runs cancels it at once.
    args.extend(["--max-spans", "600"]);
    let child = spawn(h, &args);
    let started = Instant::now();
    while query_i64(
        h,
        "SELECT COUNT(*) FROM transcription_jobs WHERE status = 'running'",
    ) == 0
    {
        assert!(started.elapsed() < MINUTE, "the batch never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(jobs(), j0 + 1, "one job for the whole batch");
    let interrupted = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = finish(child, MINUTE, "retranscribe --flagged after Ctrl-C");
    // The goal is well under a second (0.05 s measured); a busy machine may take longer.
    eprintln!("Ctrl-C obeyed in {:?}", interrupted.elapsed());
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(
        text(&o).contains("cancelled: nothing was transcribed again and no version was saved"),
        "{}",
        text(&o)
    );
    assert_eq!(versions(), v0, "nothing saved");
    assert_eq!(
        query_i64(
            h,
            "SELECT COUNT(*) FROM transcription_jobs WHERE status = 'cancelled'"
        ),
        1,
        "cancelled for good, not queued again"
    );

    // A small batch runs to the end: one version, based on the one asked for, every segment
    // outside the spans as it was.
    std::fs::write(&srt, many_cues(6)).unwrap();
    let o = run(
        h,
        &["import", srt.to_str().unwrap(), "--transcript", "1"],
        MINUTE,
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut args = vec!["retranscribe", "1", "--flagged", "--json"];
    args.extend(flags);
    let o = run(h, &args, MINUTE * 3);
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        report["spans"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
    assert_eq!(
        report["version"],
        report["based_on_version"].as_u64().unwrap() + 1
    );
    let oks = query_i64(
        h,
        "SELECT COUNT(*) FROM segments s JOIN transcript_versions v ON v.id = s.version_id \
         WHERE v.number = (SELECT MAX(number) FROM transcript_versions) AND s.text = 'ok'",
    );
    assert_eq!(oks, 3, "the segments between the spans are kept");
}

/// Finding 2: committed live text of a take that cannot be recovered (its file deleted,
/// emptied or its header destroyed after a crash) stayed in a table no command shows, and
/// `recover` exited 0. Now it is a transcript of its own, marked "audio lost" (silence stands
/// in for the audio), nothing is queued for it, and `recover` exits non-zero.
#[test]
fn live_text_of_a_take_that_cannot_be_recovered_is_kept_and_recover_fails() {
    for damage in ["deleted", "emptied", "header destroyed"] {
        let home_dir = tempfile::tempdir().unwrap();
        let home = home_dir.path();
        let take = killed_take(home, "fake:sine:16000:1", 64 << 10);
        let session = query_i64(home, "SELECT MAX(id) FROM recording_sessions");
        {
            let conn = Connection::open(home.join("verbatim.db")).unwrap();
            for (k, words) in ["And so my", "fellow Americans."].iter().enumerate() {
                conn.execute(
                    "INSERT INTO live_pieces (session_id, start_ms, end_ms, at_ms, text, \
                     created_at) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                    rusqlite::params![session, k * 400, k * 400 + 400, 900 + k * 100, words],
                )
                .unwrap();
            }
        }
        match damage {
            "deleted" => std::fs::remove_file(&take).unwrap(),
            "emptied" => std::fs::write(&take, b"").unwrap(),
            _ => {
                let mut bytes = std::fs::read(&take).unwrap();
                bytes[..64].fill(0xA5);
                std::fs::write(&take, bytes).unwrap();
            }
        }
        let o = run(home, &["recover", "--json"], MINUTE);
        assert!(!o.status.success(), "{damage}: {}", text(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let s = &report["sessions"][0];
        assert_eq!(s["status"], "failed", "{damage}: {report}");
        let t = s["live_transcript"].as_i64().unwrap_or_else(|| {
            panic!("{damage}: the live text was not kept: {report}");
        });
        assert_eq!(
            query_i64(
                home,
                &format!(
                    "SELECT COUNT(*) FROM segments s JOIN transcript_versions v \
                     ON v.id = s.version_id WHERE v.transcript_id = {t} AND v.source = 'live'"
                )
            ),
            2,
            "{damage}"
        );
        let listed = run(home, &["transcripts"], MINUTE);
        assert!(
            text(&listed).contains("audio lost"),
            "{damage}: marked in the list: {}",
            text(&listed)
        );
        assert_eq!(
            query_i64(home, "SELECT COUNT(*) FROM transcription_jobs"),
            0,
            "{damage}: nothing to transcribe in silence"
        );
        let o = run(home, &["recover"], MINUTE);
        assert!(
            text(&o).contains("No interrupted recordings"),
            "{damage}: once: {}",
            text(&o)
        );
    }
}
