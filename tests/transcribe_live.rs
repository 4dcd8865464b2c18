//! Live transcription while recording: the fake device plays real speech (`jfk.wav`) through
//! the whole capture path; live windows are transcribed by the second worker while the take
//! grows; stopping queues the whole-take pass, which transcribes every captured sample
//! (the tail included) and becomes version 1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::Duration;

use bevy::prelude::*;
use common::whisper::{synthetic_model, vad_model, verbatim_exe};
use verbatim::CorePlugin;
use verbatim::capture::plugin::{RecordCommand, RecordRequest, RecordingSession, TakeStats};
use verbatim::capture::stream::Source;
use verbatim::cli::{headless_app, update_until};
use verbatim::library::import::AudioStore;
use verbatim::storage::repo;
use verbatim::storage::writer::DbWriter;
use verbatim::transcribe::jobs::Engine;
use verbatim::transcribe::live::{LiveEngine, LiveSettings, LiveTranscript};
use verbatim::transcribe::worker::{ProcessTranscriber, WorkerCommand};
use verbatim::transcribe::{JobStatus, TranscribeSettings, TranscriptionJob};

fn worker() -> Box<ProcessTranscriber> {
    Box::new(ProcessTranscriber::new(WorkerCommand {
        exe: verbatim_exe(),
        env: Vec::new(),
    }))
}

#[test]
fn live_text_while_recording_and_the_tail_is_transcribed_after_stop() {
    let dir = tempfile::tempdir().unwrap();
    let store = AudioStore::new(dir.path());
    let writer = DbWriter::spawn(&dir.path().join("verbatim.db"), store.clone()).unwrap();
    let mut app = headless_app(CorePlugin::new(writer, store));
    app.insert_resource(Engine(worker()));
    app.insert_resource(LiveEngine(worker()));
    {
        let mut s = app.world_mut().resource_mut::<TranscribeSettings>();
        s.default_model = synthetic_model().display().to_string();
        s.vad_model = Some(vad_model());
        s.threads = Some(1);
    }
    app.insert_resource(LiveSettings {
        enabled: true,
        step: Duration::from_secs(2),
        window: Duration::from_secs(6),
    });
    let jfk = common::speech_dir().join("jfk.wav");
    let source = Source::parse(&format!("fake:clip:{}", jfk.display())).unwrap();
    app.world_mut()
        .write_message(RecordCommand::Start(RecordRequest {
            source: Some(source),
            ..Default::default()
        }));

    // Live windows arrive while the take grows (real time: this takes about 7 s).
    let mut seen = (0, 0);
    assert!(
        update_until(&mut app, Duration::from_secs(30), |w| {
            let mut q = w.query::<(&RecordingSession, &TakeStats, &LiveTranscript)>();
            let Some((s, stats, t)) = q.iter(w).next() else {
                return false;
            };
            assert_eq!(t.error, None);
            let recorded = s.seconds(stats);
            seen = (t.steps, t.lag_ms((recorded * 1000.0) as u64));
            t.steps >= 2 && recorded >= 7.3
        }),
        "live windows did not keep up: {seen:?}"
    );
    let (steps, lag) = seen;
    assert!(lag < 6_000, "lag {lag} ms after {steps} steps");
    let text = {
        let w = app.world_mut();
        let mut q = w.query::<&LiveTranscript>();
        q.iter(w).next().unwrap().text()
    };
    assert!(
        !text.trim().is_empty(),
        "no live text after {steps} windows"
    );

    // Stop in the middle of jfk's third phrase (5.38-7.68 s): the tail is speech.
    app.world_mut().write_message(RecordCommand::Stop);
    let mut final_job = None;
    assert!(
        update_until(&mut app, Duration::from_secs(120), |w| {
            let mut q = w.query::<&TranscriptionJob>();
            final_job = q.iter(w).next().cloned();
            final_job.as_ref().is_some_and(|j| j.status.is_finished())
        }),
        "no final pass: {final_job:?}"
    );
    let job = final_job.unwrap();
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    let take_ms = {
        let w = app.world_mut();
        let mut q = w.query::<(&RecordingSession, &TakeStats)>();
        let (s, stats) = q.iter(w).next().unwrap();
        (s.seconds(stats) * 1000.0) as u64
    };
    drop(app);
    let conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
    let v = repo::current_version(&conn, job.transcript.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(v.number, 1);
    let params: serde_json::Value = serde_json::from_str(
        &conn
            .query_row(
                "SELECT params_json FROM transcript_versions WHERE id = ?1",
                [v.id],
                |r| r.get::<_, String>(0),
            )
            .unwrap(),
    )
    .unwrap();
    // Every captured sample went through the pass, and the speech cut by the stop reached
    // whisper (the VAD kept the open region at the end).
    let audio_ms = params["stats"]["audio_ms"].as_u64().unwrap();
    assert!(
        audio_ms.abs_diff(take_ms) <= 50,
        "{audio_ms} of {take_ms} ms"
    );
    assert!(
        params["stats"]["vad_regions"].as_u64().unwrap() >= 3,
        "{params}"
    );
    // jfk's phrases: 0.32-2.27, 3.27-4.41, 5.38-7.68 s; the take stops inside the third.
    let speech = params["stats"]["speech_ms"].as_u64().unwrap();
    let cut_phrase = take_ms.min(7_680).saturating_sub(5_380);
    assert!(
        speech + 300 >= 1_950 + 1_140 + cut_phrase,
        "speech {speech} ms of a {take_ms} ms take"
    );
}
