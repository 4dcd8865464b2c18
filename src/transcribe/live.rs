//! Live transcription while recording.
//!
//! Like whisper.cpp's `stream` example: every `step` (3 s) of new audio, the last `window`
//! (10 s) of the take is transcribed; the engine's VAD keeps silent windows away from whisper.
//! The audio comes from the take file the capture writer keeps on disk (its header is never
//! more than 250 ms behind), read by a second worker process, so capture is never slowed and
//! file jobs keep their own worker. Segments that end before the next window starts are
//! committed; the rest are the partial text, replaced by each step. The recorder panel shows
//! both and the lag (audio recorded but not yet transcribed).
//!
//! When the take ends and is stored, a normal file job over the whole recording is queued:
//! every captured sample is transcribed, and that pass becomes version 1.

use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::jobs::{TranscribeRequest, TranscribeSettings};
use super::protocol::{FromWorker, JobSpec, Segment};
use super::worker::{EngineEvent, ProcessTranscriber, WorkerCommand};
use super::{Transcriber, backend, catalog};
use crate::AppSet;
use crate::capture::plugin::{RecordingSession, TakeStats, is_active};

/// How live transcription runs.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct LiveSettings {
    pub enabled: bool,
    pub step: Duration,
    pub window: Duration,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            step: Duration::from_secs(3),
            window: Duration::from_secs(10),
        }
    }
}

/// The second worker, for live windows only.
#[derive(Resource)]
pub struct LiveEngine(pub Box<dyn Transcriber>);

/// The live text of a recording session.
#[derive(Component, Debug, Clone, Default, PartialEq)]
pub struct LiveTranscript {
    /// Final: these segments ended before the latest window's successor starts.
    pub committed: Vec<Segment>,
    /// The latest window's other segments (replaced at each step).
    pub partial: Vec<Segment>,
    /// Audio up to here (ms into the take) has been transcribed.
    pub covered_ms: u64,
    /// Windows transcribed (and skipped as silence by the VAD: they count too).
    pub steps: u32,
    pub error: Option<String>,
    /// The whole-take job was queued.
    pub final_pass_queued: bool,
    running: Option<Running>,
    next_end_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
struct Running {
    job: i64,
    start_ms: u64,
    end_ms: u64,
    started: Instant,
    segments: Vec<Segment>,
}

impl LiveTranscript {
    /// How far the text is behind the recording, in ms.
    pub fn lag_ms(&self, recorded_ms: u64) -> u64 {
        recorded_ms.saturating_sub(self.covered_ms)
    }

    /// Committed and partial text, in order.
    pub fn text(&self) -> String {
        self.committed
            .iter()
            .chain(&self.partial)
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Live transcription; needs [`super::TranscribePlugin`].
pub struct LivePlugin {
    pub worker: Option<WorkerCommand>,
}

impl Plugin for LivePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<LiveSettings>();
        if !app.world().contains_resource::<LiveEngine>() {
            match self.worker.clone().map_or_else(WorkerCommand::current, Ok) {
                Ok(cmd) => {
                    app.insert_resource(LiveEngine(Box::new(ProcessTranscriber::new(cmd))));
                }
                Err(e) => tracing::error!("live transcription is unavailable: {e}"),
            }
        }
        app.add_systems(
            Update,
            (
                ingest.in_set(AppSet::Ingest),
                dispatch.in_set(AppSet::Dispatch),
                final_pass.in_set(AppSet::Apply),
            ),
        );
    }
}

/// Live job ids are negative, so they never meet a database job id.
fn next_live_id() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static N: AtomicI64 = AtomicI64::new(-1);
    N.fetch_sub(1, Ordering::Relaxed)
}

fn recorded_ms(s: &RecordingSession, stats: &TakeStats) -> u64 {
    stats.0.frames_written * 1000 / u64::from(s.format.sample_rate.max(1))
}

fn dispatch(
    mut commands: Commands,
    live: Res<LiveSettings>,
    settings: Res<TranscribeSettings>,
    engine: Option<ResMut<LiveEngine>>,
    mut sessions: Query<(
        Entity,
        &RecordingSession,
        &TakeStats,
        Option<&mut LiveTranscript>,
    )>,
) {
    let Some(mut engine) = engine else { return };
    if !live.enabled {
        return;
    }
    for (entity, session, stats, transcript) in &mut sessions {
        if !is_active(session) {
            continue;
        }
        let Some(mut t) = transcript else {
            commands.entity(entity).insert(LiveTranscript {
                next_end_ms: live.step.as_millis() as u64,
                ..Default::default()
            });
            continue;
        };
        let recorded = recorded_ms(session, stats);
        if t.running.is_some() || engine.0.busy() || recorded < t.next_end_ms {
            continue;
        }
        let model = match catalog::resolve(&settings.models_dir, &settings.default_model) {
            Ok(m) => m,
            Err(e) => {
                if t.error.is_none() {
                    t.error = Some(e.to_string());
                }
                continue;
            }
        };
        // The newest window that fits what is on disk.
        let end = recorded
            .saturating_sub(250)
            .max(t.next_end_ms.min(recorded));
        let start = end.saturating_sub(live.window.as_millis() as u64);
        let job = next_live_id();
        let spec = JobSpec {
            job,
            audio: session.path.clone(),
            model,
            params: settings.params.clone(),
            vad_model: settings.vad_path(),
            gpu: settings.gpu,
            // Capture and the window keep their cores.
            threads: settings
                .threads
                .unwrap_or_else(|| backend::whisper_threads(settings.reserved_cores + 1)),
            vad_threads: 1,
            span_ms: Some((start, end)),
        };
        match engine.0.submit(spec) {
            Ok(()) => {
                t.running = Some(Running {
                    job,
                    start_ms: start,
                    end_ms: end,
                    started: Instant::now(),
                    segments: Vec::new(),
                });
            }
            Err(e) => t.error = Some(e.to_string()),
        }
    }
}

fn ingest(
    engine: Option<ResMut<LiveEngine>>,
    live: Res<LiveSettings>,
    mut transcripts: Query<&mut LiveTranscript>,
) {
    let Some(mut engine) = engine else { return };
    while let Some(event) = engine.0.poll() {
        let job = match &event {
            EngineEvent::Message(m) => m.job(),
            EngineEvent::Crashed { job, .. } => *job,
        };
        let Some(job) = job else { continue };
        let Some(mut t) = transcripts
            .iter_mut()
            .find(|t| t.running.as_ref().is_some_and(|r| r.job == job))
        else {
            continue;
        };
        match event {
            EngineEvent::Message(FromWorker::Segment { segment, .. }) => {
                if let Some(r) = t.running.as_mut() {
                    r.segments.push(segment);
                }
            }
            EngineEvent::Message(FromWorker::Done { .. }) => {
                let Some(r) = t.running.take() else { continue };
                let step = live.step.as_millis() as u64;
                let window = live.window.as_millis() as u64;
                // The next window starts here: what ends before it will not be seen again.
                let next_start = (r.end_ms + step).saturating_sub(window);
                let committed_until = t.committed.last().map_or(0, |s| s.end_ms);
                let mut partial = Vec::new();
                for s in r.segments {
                    if s.end_ms <= committed_until || s.start_ms < r.start_ms {
                        continue;
                    }
                    if s.end_ms <= next_start {
                        t.committed.push(s);
                    } else {
                        partial.push(s);
                    }
                }
                t.partial = partial;
                t.covered_ms = r.end_ms;
                t.steps += 1;
                t.next_end_ms = r.end_ms + step;
                t.error = None;
                tracing::debug!(
                    took_ms = r.started.elapsed().as_millis() as u64,
                    end_ms = r.end_ms,
                    "live window done"
                );
            }
            EngineEvent::Message(FromWorker::Failed { error, .. })
            | EngineEvent::Crashed { message: error, .. } => {
                if let Some(r) = t.running.take() {
                    t.next_end_ms = r.end_ms + live.step.as_millis() as u64;
                }
                t.error = Some(error);
            }
            EngineEvent::Message(_) => {}
        }
    }
}

/// A finished, stored take with live text gets its whole-file pass (version 1).
fn final_pass(
    mut sessions: Query<(&RecordingSession, &mut LiveTranscript)>,
    mut requests: MessageWriter<TranscribeRequest>,
) {
    for (session, mut t) in &mut sessions {
        if t.final_pass_queued || is_active(session) {
            continue;
        }
        let Some(audio) = session.audio_file else {
            continue;
        };
        t.final_pass_queued = true;
        requests.write(TranscribeRequest {
            audio_file: audio,
            model: None,
            gpu: None,
            params: None,
            token: u64::MAX - audio.0 as u64,
        });
        tracing::info!(audio = %audio, "recording stored: queued the full transcription pass");
    }
}
