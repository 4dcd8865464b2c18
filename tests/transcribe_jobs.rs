//! Transcription jobs end to end on the real whisper.cpp code path: the synthetic model (a
//! genuine ggml file with random weights), the real Silero VAD, the `verbatim worker`
//! process, job entities, the database and FTS. Also: malformed models, a worker killed
//! mid-job, cancel, the circuit breaker, GPU fallback, and re-queueing after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bevy::prelude::*;
use common::whisper::{synthetic_model, synthetic_with, vad_model, verbatim_exe};
use verbatim::headless::{ImportLog, track_imports, update_until};
use verbatim::library::{AudioFile, ImportRequested};
use verbatim::storage::ids::{AudioFileId, JobId};
use verbatim::transcribe::jobs::{Engine, JobOf, JobQueued};
use verbatim::transcribe::synthetic::SynthSpec;
use verbatim::transcribe::worker::{ProcessTranscriber, WorkerCommand};
use verbatim::transcribe::{
    GpuPref, JobCommand, JobStatus, TranscribeRequest, TranscribeSettings, TranscriptionJob,
};
use verbatim::transcript;

fn app_with_faults(dir: &Path, faults: &str) -> App {
    let mut app = common::core_app(dir);
    track_imports(&mut app);
    let mut env = Vec::new();
    if !faults.is_empty() {
        env.push(("VERBATIM_WORKER_FAULT".to_string(), faults.to_string()));
    }
    app.insert_resource(Engine(Box::new(ProcessTranscriber::new(WorkerCommand {
        exe: verbatim_exe(),
        env,
    }))));
    {
        let mut s = app.world_mut().resource_mut::<TranscribeSettings>();
        s.default_model = synthetic_model().display().to_string();
        s.vad_model = Some(vad_model());
        s.threads = Some(1);
        s.backoff = Duration::from_millis(50);
    }
    app
}

fn app(dir: &Path) -> App {
    app_with_faults(dir, "")
}

fn import(app: &mut App, file: &Path) -> AudioFileId {
    let before = app.world().resource::<ImportLog>().0.len();
    app.world_mut()
        .write_message(ImportRequested(file.to_path_buf()));
    assert!(update_until(app, Duration::from_secs(30), |w| w
        .resource::<ImportLog>()
        .0
        .len()
        > before));
    let log = &app.world().resource::<ImportLog>().0;
    log.last().unwrap().result.as_ref().unwrap().row.id
}

#[derive(Resource, Default)]
struct Queued(Vec<JobQueued>);

fn collect(mut q: MessageReader<JobQueued>, mut out: ResMut<Queued>) {
    out.0.extend(q.read().cloned());
}

fn request(app: &mut App, audio: AudioFileId, model: Option<&Path>, gpu: Option<GpuPref>) -> JobId {
    if !app.world().contains_resource::<Queued>() {
        app.init_resource::<Queued>().add_systems(Last, collect);
    }
    let token = rand_token();
    app.world_mut().write_message(TranscribeRequest {
        audio_file: audio,
        model: model.map(|m| m.display().to_string()),
        gpu,
        params: None,
        token,
        into: None,
        redo: None,
        new_transcript: false,
    });
    let mut id = None;
    assert!(update_until(app, Duration::from_secs(30), |w| {
        id = w
            .resource::<Queued>()
            .0
            .iter()
            .find(|q| q.token == token)
            .map(|q| q.result.clone().unwrap());
        id.is_some()
    }));
    id.unwrap()
}

fn rand_token() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::SeqCst)
}

fn job(world: &mut World, id: JobId) -> Option<TranscriptionJob> {
    let mut q = world.query::<&TranscriptionJob>();
    q.iter(world).find(|j| j.id == id).cloned()
}

fn wait_status(
    app: &mut App,
    id: JobId,
    timeout: Duration,
    done: impl Fn(JobStatus) -> bool,
) -> TranscriptionJob {
    let mut last = None;
    let ok = update_until(app, timeout, |w| {
        last = job(w, id);
        last.as_ref().is_some_and(|j| done(j.status))
    });
    assert!(ok, "job {id} did not get there: {last:#?}");
    last.unwrap()
}

fn wait_finished(app: &mut App, id: JobId) -> TranscriptionJob {
    wait_status(app, id, Duration::from_secs(120), JobStatus::is_finished)
}

fn db(dir: &Path) -> rusqlite::Connection {
    verbatim::storage::open(&dir.join("verbatim.db")).unwrap()
}

fn jfk() -> PathBuf {
    common::speech_dir().join("jfk.wav")
}

#[test]
fn synthetic_model_end_to_end_file_to_fts() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let audio = import(&mut app, &jfk());
    let id = request(&mut app, audio, None, Some(GpuPref::Off));
    let j = wait_finished(&mut app, id);
    assert_eq!(j.status, JobStatus::Completed, "{j:#?}");
    let t = j.transcript.expect("a transcript");
    assert!(
        j.backend.as_deref().unwrap().starts_with("cpu: 1 thread"),
        "{j:?}"
    );
    assert_eq!(j.threads, Some(1));
    // The job entity is linked to its audio file's entity.
    let world = app.world_mut();
    let mut q = world.query::<(&TranscriptionJob, &JobOf)>();
    let (_, of) = q.iter(world).find(|(j, _)| j.id == id).expect("linked");
    assert_eq!(world.get::<AudioFile>(of.0).unwrap().0.id, audio);
    drop(app);

    let conn = db(dir.path());
    let row = verbatim::transcribe::jobs::sql::get_job(&conn, id)
        .unwrap()
        .unwrap();
    assert_eq!(row.status, JobStatus::Completed);
    assert_eq!(row.requested_backend, "cpu");
    assert_eq!(row.threads, Some(1));
    assert_eq!(row.transcript, Some(t));
    assert_eq!(row.attempts, 1);
    let version = transcript::sql::current_version(&conn, t).unwrap().unwrap();
    assert_eq!(version.number, 1);
    assert_eq!(version.source, transcript::sql::VersionSource::Model);
    assert_eq!(
        version.model.as_deref(),
        Some(synthetic_model().display().to_string().as_str())
    );
    let segs = transcript::sql::segments(&conn, version.id).unwrap();
    assert!(!segs.is_empty(), "the synthetic model produced no segment");
    for s in &segs {
        assert!(s.start_ms <= s.end_ms && s.end_ms <= 11_000, "{s:?}");
        // Silero's first speech starts at 0.32 s: nothing before it (padding is 0.2 s).
        assert!(s.start_ms >= 100, "{s:?}");
        let words: Vec<serde_json::Value> =
            serde_json::from_str(s.words_json.as_deref().unwrap()).unwrap();
        for w in &words {
            let (a, b) = (
                w["start_ms"].as_u64().unwrap(),
                w["end_ms"].as_u64().unwrap(),
            );
            assert!(
                s.start_ms <= a && a <= b && b <= s.end_ms,
                "{w} outside {s:?}"
            );
        }
    }
    // The garbage words are real text in the index.
    let word = segs[0]
        .text
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| w.len() >= 3)
        .expect("a word of three letters")
        .to_string();
    let hits = transcript::sql::search(&conn, &word, None, true, 10).unwrap();
    assert!(
        hits.iter().any(|h| h.transcript_id == t),
        "FTS did not find {word:?}"
    );
    let params: serde_json::Value = serde_json::from_str(
        &conn
            .query_row(
                "SELECT params_json FROM transcript_versions WHERE id = ?1",
                [version.id],
                |r| r.get::<_, String>(0),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(params["threads"], 1);
    // jfk.wav has no pause of 2 s, so the VAD keeps all of its 11 s (pauses stay in).
    assert!(params["stats"]["speech_ms"].as_u64().unwrap() <= 11_000);
    assert_eq!(
        params["stats"]["vad_regions"], 4,
        "Silero finds 4 speech regions in jfk.wav"
    );
}

#[test]
fn silence_yields_no_text() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("silence.wav");
    let mut w = common::speech::wav_writer(&wav);
    for _ in 0..16_000 * 5 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    let mut app = app(dir.path());
    let audio = import(&mut app, &wav);
    let id = request(&mut app, audio, None, None);
    let j = wait_finished(&mut app, id);
    assert_eq!(j.status, JobStatus::Completed, "{j:#?}");
    drop(app);
    let conn = db(dir.path());
    let v = transcript::sql::current_version(&conn, j.transcript.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        transcript::sql::segments(&conn, v.id).unwrap(),
        vec![],
        "whisper hallucinated on silence"
    );
}

/// Copies the synthetic model with `patch` applied.
fn patched(dir: &Path, name: &str, patch: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(synthetic_model()).unwrap();
    patch(&mut bytes);
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Offset of the first tensor record in a synthetic file.
fn first_tensor_offset() -> usize {
    // magic + 11 hparams + mel header + filters + vocab.
    let bytes = std::fs::read(synthetic_model()).unwrap();
    let mut off = 4 + 11 * 4;
    let n_mel = i32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
    let n_fft = i32::from_le_bytes(bytes[off + 4..off + 8].try_into().unwrap()) as usize;
    off += 8 + 4 * n_mel * n_fft;
    let n_tokens = i32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
    off += 4;
    for _ in 0..n_tokens {
        let len = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
        off += 4 + len;
    }
    off
}

#[test]
fn malformed_models_get_clear_errors_and_the_app_survives() {
    use verbatim::transcribe::model_file::inspect;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let len = std::fs::metadata(synthetic_model()).unwrap().len() as usize;
    let t0 = first_tensor_offset();
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            patched(d, "truncated.bin", |b| b.truncate(len / 2)),
            "truncated",
        ),
        (
            patched(d, "magic.bin", |b| b[..4].copy_from_slice(b"<!DO")),
            "not a ggml model",
        ),
        (
            // n_audio_state = 1,000,000
            patched(d, "dims.bin", |b| {
                b[12..16].copy_from_slice(&1_000_000i32.to_le_bytes())
            }),
            "absurd audio dimensions",
        ),
        (
            patched(d, "ndims.bin", |b| {
                b[t0..t0 + 4].copy_from_slice(&5i32.to_le_bytes())
            }),
            "claims 5 dimensions",
        ),
        (
            patched(d, "vocab.bin", |b| {
                b[4..8].copy_from_slice(&60_000i32.to_le_bytes())
            }),
            "n_vocab is 60000",
        ),
        (
            synthetic_with(
                &SynthSpec {
                    ftype: 0,
                    ..SynthSpec::default()
                },
                "synth-f32",
            ),
            "f32",
        ),
        (vad_model(), "voice activity"),
    ];
    for (path, want) in &cases {
        let err = match inspect(path) {
            Err(e) => e.to_string(),
            Ok(info) => verbatim::transcribe::model_file::inspect_whisper_file(path)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_else(|| panic!("{} passed: {info:?}", path.display())),
        };
        assert!(err.contains(want), "{}: {err}", path.display());
    }
    // Through the app: each fails its job with that message; the worker and the app live on,
    // and the good model still works afterwards.
    let mut app = app(d);
    let audio = import(&mut app, &jfk());
    for (path, want) in &cases {
        let id = request(&mut app, audio, Some(path), None);
        let j = wait_finished(&mut app, id);
        assert_eq!(j.status, JobStatus::Failed);
        assert!(j.error.as_deref().unwrap().contains(want), "{j:?}");
        assert_eq!(j.attempts, 1, "a malformed model is not retried");
    }
    // A valid file named like a published model but not that model.
    let fake_tiny = d.join("ggml-tiny.bin");
    std::fs::copy(synthetic_model(), &fake_tiny).unwrap();
    let id = request(&mut app, audio, Some(&fake_tiny), None);
    let j = wait_finished(&mut app, id);
    assert_eq!(j.status, JobStatus::Failed);
    assert!(
        j.error
            .as_deref()
            .unwrap()
            .contains("the published tiny model has 77691713"),
        "{j:?}"
    );

    let id = request(&mut app, audio, None, None);
    assert_eq!(wait_finished(&mut app, id).status, JobStatus::Completed);
    let starts = app.world().resource::<Engine>().0.worker_starts();
    assert_eq!(starts, 1, "no worker crashed");
}

#[test]
fn worker_killed_mid_job_fails_it_restarts_and_runs_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with_faults(dir.path(), "slow-ms:2000");
    app.world_mut()
        .resource_mut::<TranscribeSettings>()
        .max_attempts = 1;
    let audio = import(&mut app, &jfk());
    let id = request(&mut app, audio, None, None);
    wait_status(&mut app, id, Duration::from_secs(30), |s| {
        s == JobStatus::Running
    });
    let pid = app
        .world()
        .resource::<Engine>()
        .0
        .worker_pid()
        .expect("a worker");
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let j = wait_finished(&mut app, id);
    assert_eq!(j.status, JobStatus::Failed);
    assert!(
        j.error.as_deref().unwrap().contains("killed by signal 9"),
        "{j:?}"
    );
    let next = request(&mut app, audio, None, None);
    assert_eq!(wait_finished(&mut app, next).status, JobStatus::Completed);
    let engine = &app.world().resource::<Engine>().0;
    assert_eq!(engine.worker_starts(), 2);
    assert_ne!(engine.worker_pid(), Some(pid));
    drop(app);
    let row = verbatim::transcribe::jobs::sql::get_job(&db(dir.path()), id)
        .unwrap()
        .unwrap();
    assert_eq!(row.status, JobStatus::Failed);
    assert!(row.error.unwrap().contains("SIGKILL"));
}

#[test]
fn cancel_mid_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with_faults(dir.path(), "slow-ms:20000");
    let audio = import(&mut app, &jfk());
    let id = request(&mut app, audio, None, None);
    wait_status(&mut app, id, Duration::from_secs(30), |s| {
        s == JobStatus::Running
    });
    let t = std::time::Instant::now();
    app.world_mut().write_message(JobCommand::Cancel(id));
    let j = wait_finished(&mut app, id);
    assert_eq!(j.status, JobStatus::Cancelled);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "cancel took {:?}",
        t.elapsed()
    );
    // A queued job is cancelled without running.
    let queued = request(&mut app, audio, None, None);
    app.world_mut().write_message(JobCommand::Cancel(queued));
    assert_eq!(wait_finished(&mut app, queued).status, JobStatus::Cancelled);
    drop(app);
    assert_eq!(
        verbatim::transcribe::jobs::sql::get_job(&db(dir.path()), id)
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Cancelled
    );
}

#[test]
fn a_failing_engine_trips_the_breaker() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with_faults(dir.path(), "fail-load");
    {
        let mut s = app.world_mut().resource_mut::<TranscribeSettings>();
        s.max_attempts = 2;
        s.breaker_threshold = 3;
        s.breaker_cooldown = Duration::from_secs(600);
    }
    let audio = import(&mut app, &jfk());
    let first = request(&mut app, audio, None, None);
    let second = request(&mut app, audio, None, None);
    let j = wait_finished(&mut app, first);
    assert_eq!(j.status, JobStatus::Failed);
    assert!(
        j.error
            .as_deref()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{j:?}"
    );
    // The second job ran once, failed (the third failure in a row) and now waits.
    let waiting = wait_status(&mut app, second, Duration::from_secs(30), |_| true);
    let mut last = waiting;
    assert!(
        update_until(&mut app, Duration::from_secs(10), |w| {
            last = job(w, second).unwrap();
            last.note
                .as_deref()
                .is_some_and(|n| n.starts_with("paused"))
        }),
        "{last:?}"
    );
    // ... and is not hammered while the breaker is open.
    let attempts = last.attempts;
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_millis(800) {
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    let now = job(app.world_mut(), second).unwrap();
    assert_eq!(now.status, JobStatus::Pending);
    assert_eq!(now.attempts, attempts);
    assert_eq!(j.attempts + attempts, 3);
}

#[cfg(not(any(feature = "cuda", feature = "vulkan", feature = "metal")))]
#[test]
fn gpu_requested_on_a_cpu_build_runs_on_the_cpu_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let audio = import(&mut app, &jfk());
    let id = request(&mut app, audio, None, Some(GpuPref::On));
    let j = wait_finished(&mut app, id);
    assert_eq!(j.status, JobStatus::Completed);
    drop(app);
    let row = verbatim::transcribe::jobs::sql::get_job(&db(dir.path()), id)
        .unwrap()
        .unwrap();
    assert_eq!(row.requested_backend, "gpu");
    assert!(row.actual_backend.unwrap().starts_with("cpu: 1 thread"));
    assert!(row.backend_note.unwrap().contains("no GPU back-end"));
}

#[test]
fn gpu_failure_mid_job_finishes_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with_faults(dir.path(), "fake-gpu,gpu-fail-at:1");
    let audio = import(&mut app, &jfk());
    let id = request(&mut app, audio, None, Some(GpuPref::On));
    let j = wait_finished(&mut app, id);
    assert_eq!(j.status, JobStatus::Completed, "{j:?}");
    assert!(j.backend.as_deref().unwrap().starts_with("cpu: "), "{j:?}");
    assert!(
        j.backend_note
            .as_deref()
            .unwrap()
            .contains("the GPU failed mid-job"),
        "{j:?}"
    );
    drop(app);
    let row = verbatim::transcribe::jobs::sql::get_job(&db(dir.path()), id)
        .unwrap()
        .unwrap();
    assert!(row.backend_note.unwrap().contains("injected GPU failure"));
    // With a GPU that works, the job records it.
    let dir = tempfile::tempdir().unwrap();
    let mut app = app_with_faults(dir.path(), "fake-gpu");
    let audio = import(&mut app, &jfk());
    let id = request(&mut app, audio, None, Some(GpuPref::Auto));
    let j = wait_finished(&mut app, id);
    assert_eq!(
        j.backend.as_deref(),
        Some("gpu: simulated test device (the CPU underneath)")
    );
    assert_eq!(j.backend_note, None);
}

#[test]
fn a_job_running_when_the_app_died_is_queued_again() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let mut app = app_with_faults(dir.path(), "slow-ms:60000");
        let audio = import(&mut app, &jfk());
        let id = request(&mut app, audio, None, None);
        wait_status(&mut app, id, Duration::from_secs(30), |s| {
            s == JobStatus::Running
        });
        // Let the row say so, then stop without finishing (as a crash would).
        for _ in 0..5 {
            app.update();
        }
        id
    };
    assert_eq!(
        verbatim::transcribe::jobs::sql::get_job(&db(dir.path()), id)
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Running
    );
    // A CLI process (`verbatim library`, another `verbatim transcribe`) re-queues it but does
    // not run it: only the jobs it queued itself.
    let mut app = app(dir.path());
    for _ in 0..30 {
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    let j = job(app.world_mut(), id).expect("loaded");
    assert_eq!((j.status, j.attempts), (JobStatus::Pending, 1));
    assert!(
        j.error.as_deref().unwrap().starts_with("interrupted"),
        "{j:?}"
    );
    // The workstation runs the whole queue.
    app.world_mut()
        .resource_mut::<TranscribeSettings>()
        .run_all_pending = true;
    let j = wait_finished(&mut app, id);
    assert_eq!(j.status, JobStatus::Completed, "{j:?}");
    assert_eq!(j.attempts, 2);
}

#[test]
fn silero_finds_four_speech_regions_in_jfk() {
    let regions =
        verbatim::transcribe::engine::detect_speech_file(&vad_model(), &jfk(), 1).unwrap();
    assert_eq!(regions.len(), 4, "{regions:?}");
    // whisper.cpp's own segmentation (SOURCES.md): 0.32-2.27, 3.27-4.41, 5.38-7.68,
    // 8.16-10.62 s. Ours starts speech at a lower probability, so each region covers at least
    // whisper.cpp's (give or take one 32 ms frame) and stays apart from the next.
    let expect = [(320, 2270), (3270, 4410), (5380, 7680), (8160, 10620)];
    for (i, ((a, b), (ea, eb))) in regions.iter().zip(expect).enumerate() {
        assert!(*a <= ea + 40 && *b + 40 >= eb, "{regions:?}");
        if let Some(next) = expect.get(i + 1) {
            assert!(*b < next.0, "{regions:?}");
        }
    }
}
