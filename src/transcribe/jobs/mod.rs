//! Transcription jobs as entities.
//!
//! A [`TranscriptionJob`] entity per job, linked to its audio file's entity ([`JobOf`]).
//! The queue is the set of pending job entities; `Dispatch` starts the oldest one the engine
//! can take. Transient failures (the worker died, the model could not load) are retried with
//! exponential backoff, and a circuit breaker stops dispatching a model that failed several
//! times in a row until a cool-down passes. Every state change goes to the database writer.
//!
//! Several processes may share one library: each job names the process that runs it (its
//! [`JobRunner`]), and a process runs only its own. A job whose process is gone (checked
//! by that process's OS lock, not guessed) is queued again by the next process that reads
//! the job list, and taken over by one that runs every pending job (the window). A finished
//! job becomes a transcript with version 1 (source `model`, model and parameters recorded).
//!
//! The job model (entity state, relationship, messages, settings) is in `model`, the queue
//! policy (per-model circuit breakers) in `queue`, saving a finished job's transcript in `save`;
//! the plugin and its systems are here.

mod model;
mod queue;
mod save;
pub mod sql;

pub use model::*;
pub use queue::*;
use save::save_transcript;
pub use sql::Redo;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::catalog;
use super::protocol::{Backend, FailKind, FromWorker, JobSpec};
use super::worker::{EngineEvent, ProcessTranscriber, WorkerCommand};
use super::{Transcriber, backend};
use crate::library::AudioFile;
use crate::library::import::AudioStore;
use crate::library::transcripts::TranscriptsChanged;
use crate::schedule::{AppSystems, Feature};
use crate::storage::ids::{AudioFileId, JobId, TranscriptId, VersionId};
use crate::storage::plugin::{Database, Replies};
use crate::storage::runner::Runner;
use crate::storage::writer::unanswered;
use crate::storage::{StorageError, now_ms};
use crate::transcript;
use sql::{JobRow, NewJob};

/// The engine the jobs run on.
#[derive(Resource)]
pub struct Engine(pub Box<dyn Transcriber>);

/// The transcription feature.
pub struct TranscribePlugin {
    pub store: AudioStore,
    /// How to start the worker; `None`: this executable.
    pub worker: Option<WorkerCommand>,
}

impl Plugin for TranscribePlugin {
    fn build(&self, app: &mut App) {
        if !app.world().contains_resource::<TranscribeSettings>() {
            app.insert_resource(TranscribeSettings::new(self.store.data_dir()));
        }
        if !app.world().contains_resource::<Engine>() {
            match self.worker.clone().map_or_else(WorkerCommand::current, Ok) {
                Ok(cmd) => {
                    app.insert_resource(Engine(Box::new(ProcessTranscriber::new(cmd))));
                }
                Err(e) => tracing::error!("transcription is unavailable: {e}"),
            }
        }
        let runner = Runner::register(self.store.data_dir());
        app.insert_resource(crate::storage::runner::ThisProcess(runner.id().to_owned()))
            .insert_resource(JobRunner(runner))
            .insert_resource(JobStore(self.store.clone()))
            .init_resource::<Breakers>()
            .init_resource::<JobsLoaded>()
            .init_resource::<Replies<JobsReply>>()
            .add_message::<TranscribeRequest>()
            .add_message::<JobQueued>()
            .add_message::<JobCommand>()
            .add_message::<JobFinished>()
            .add_message::<SettingsChange>()
            .add_systems(
                Update,
                (
                    (apply_replies, drain_engine)
                        .chain()
                        .in_set(AppSystems::Ingest.of(Feature::Jobs)),
                    (refresh_jobs, dispatch)
                        .chain()
                        .in_set(AppSystems::Dispatch.of(Feature::Jobs)),
                    (apply_settings, handle_requests, handle_commands, link_jobs)
                        .chain()
                        .in_set(AppSystems::Apply.of(Feature::Jobs)),
                ),
            );
    }
}

#[derive(Resource, Clone)]
struct JobStore(AudioStore);

/// This process as a job runner: it runs the jobs that name it, and its lock tells other
/// processes it is alive, so they never queue its running jobs again while it works.
#[derive(Resource, Debug)]
pub struct JobRunner(pub Runner);

impl JobRunner {
    /// Whether this process runs `job`.
    pub fn is(&self, job: &TranscriptionJob) -> bool {
        job.runner.as_deref() == Some(self.0.id())
    }
}

/// How often the job list is read again: other processes' jobs change, and the jobs of a
/// process that ended are queued again (and taken, by a process that runs every pending
/// job).
pub const JOB_REFRESH: Duration = Duration::from_secs(3);

/// Whether the job list has been loaded from the database.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobsLoaded(pub bool);

/// Reads the job list at the first frame and again every [`JOB_REFRESH`].
/// Answers of the job queue's storage commands.
enum JobsReply {
    Jobs {
        requeued: Vec<JobId>,
        result: Result<Vec<JobRow>, String>,
    },
    Created {
        token: u64,
        result: Result<Box<JobRow>, String>,
    },
    Saved {
        job: JobId,
        result: Result<(TranscriptId, VersionId), String>,
    },
}

fn refresh_jobs(
    db: Option<ResMut<Database>>,
    runner: Res<JobRunner>,
    settings: Res<TranscribeSettings>,
    replies: Res<Replies<JobsReply>>,
    store: Res<JobStore>,
    mut last: Local<Option<Instant>>,
) {
    let Some(mut db) = db else { return };
    let now = Instant::now();
    if last.is_some_and(|t| now.duration_since(t) < JOB_REFRESH) {
        return;
    }
    *last = Some(now);
    let adopt = settings.run_all_pending.then(|| runner.0.id().to_owned());
    let data_dir = store.0.data_dir().to_path_buf();
    // First the jobs of processes that are gone are queued again (`adopt`: as this
    // runner's); the list is read after that.
    db.write(
        move |c, _| {
            let requeued = sql::release_orphans(
                c,
                |id| crate::storage::runner::is_alive(&data_dir, id),
                adopt.as_deref(),
                now_ms(),
            )
            .unwrap_or_else(|e| {
                tracing::error!("cannot queue the jobs of ended processes again: {e}");
                Vec::new()
            });
            Ok::<_, String>((requeued, sql::list_jobs(c, 200).map_err(|e| e.to_string())))
        },
        replies.to(|r: Result<_, String>| match r {
            Ok((requeued, result)) => JobsReply::Jobs { requeued, result },
            Err(e) => JobsReply::Jobs {
                requeued: Vec::new(),
                result: Err(e),
            },
        }),
    );
}

fn persist(db: &mut Option<ResMut<Database>>, job: &TranscriptionJob) {
    if let Some(db) = db.as_mut() {
        let (id, update) = (job.id, job.update());
        db.queue(unanswered(
            move || format!("cannot update job {id}"),
            move |c| sql::update_job(c, id, &update, now_ms()),
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_replies(
    mut commands: Commands,
    replies: Res<Replies<JobsReply>>,
    mut jobs: Query<(Entity, &mut TranscriptionJob)>,
    store: Res<JobStore>,
    mut loaded: ResMut<JobsLoaded>,
    mut queued: MessageWriter<JobQueued>,
    mut finished: MessageWriter<JobFinished>,
    mut breakers: ResMut<Breakers>,
    runner: Res<JobRunner>,
    mut changed: MessageWriter<TranscriptsChanged>,
) {
    for reply in replies.drain() {
        match reply {
            JobsReply::Jobs { requeued, result } => {
                loaded.0 = true;
                match result {
                    Ok(rows) => {
                        let mut known: HashMap<JobId, Mut<TranscriptionJob>> =
                            jobs.iter_mut().map(|(_, j)| (j.id, j)).collect();
                        for row in rows.iter().rev() {
                            let fresh = TranscriptionJob::from_row(row, &store.0);
                            match known.get_mut(&row.id) {
                                None => {
                                    commands.spawn(job_bundle(fresh));
                                }
                                // This process is the authority on its own jobs; the row
                                // is for the others' (and the ones it just took over).
                                Some(j) if !runner.is(j) && **j != fresh => **j = fresh,
                                Some(_) => {}
                            }
                        }
                        if !requeued.is_empty() {
                            tracing::info!(
                                ?requeued,
                                "jobs interrupted by the last exit are queued again"
                            );
                        }
                    }
                    Err(e) => tracing::error!("cannot load the jobs: {e}"),
                }
            }
            JobsReply::Created { token, result } => match result {
                Ok(row) => {
                    commands.spawn(job_bundle(TranscriptionJob::from_row(&row, &store.0)));
                    queued.write(JobQueued {
                        token,
                        result: Ok(row.id),
                    });
                }
                Err(e) => {
                    queued.write(JobQueued {
                        token,
                        result: Err(e),
                    });
                }
            },
            JobsReply::Saved { job, result } => {
                let Some((_, mut j)) = jobs.iter_mut().find(|(_, j)| j.id == job) else {
                    continue;
                };
                match result {
                    Ok((transcript, _version)) => {
                        j.status = JobStatus::Completed;
                        j.transcript = Some(transcript);
                        changed.write(TranscriptsChanged);
                        breakers.succeeded(&j.model);
                    }
                    Err(e) => {
                        j.status = JobStatus::Failed;
                        j.error = Some(format!("the transcript could not be saved: {e}"));
                    }
                }
                finished.write(JobFinished {
                    id: j.id,
                    status: j.status,
                    transcript: j.transcript,
                    error: j.error.clone(),
                });
            }
        }
    }
}

fn job_bundle(job: TranscriptionJob) -> impl Bundle {
    (Name::new(format!("job {}", job.id)), job)
}

#[allow(clippy::too_many_arguments)]
fn drain_engine(
    engine: Option<ResMut<Engine>>,
    mut jobs: Query<&mut TranscriptionJob>,
    mut db: Option<ResMut<Database>>,
    replies: Res<Replies<JobsReply>>,
    settings: Res<TranscribeSettings>,
    mut breakers: ResMut<Breakers>,
    mut finished: MessageWriter<JobFinished>,
) {
    let Some(mut engine) = engine else { return };
    while let Some(event) = engine.0.poll() {
        let (id, event) = match event {
            EngineEvent::Message(FromWorker::Ready { pid, whisper, .. }) => {
                tracing::info!(pid, whisper, "transcription worker ready");
                continue;
            }
            EngineEvent::Message(m) => match m.job() {
                Some(id) => (id, EngineEvent::Message(m)),
                None => continue,
            },
            EngineEvent::Crashed { job: None, message } => {
                tracing::warn!("{message} while idle");
                continue;
            }
            EngineEvent::Crashed {
                job: Some(id),
                message,
            } => (
                id,
                EngineEvent::Crashed {
                    job: Some(id),
                    message,
                },
            ),
        };
        let Some(mut job) = jobs.iter_mut().find(|j| j.id.0 == id) else {
            tracing::debug!(job = id, "an event for an unknown job");
            continue;
        };
        match event {
            EngineEvent::Message(FromWorker::Started { backend, .. }) => {
                set_backend(&mut job, backend);
                persist(&mut db, &job);
            }
            EngineEvent::Message(FromWorker::FellBack { backend, .. }) => {
                tracing::warn!(job = id, note = ?backend.fallback, "job continues on the CPU");
                set_backend(&mut job, backend);
                persist(&mut db, &job);
            }
            EngineEvent::Message(FromWorker::Progress {
                fraction,
                audio_done_ms,
                ..
            }) => {
                let before = job.progress;
                job.progress = fraction.clamp(0.0, 1.0);
                job.audio_done_ms = audio_done_ms;
                if let Some(start) = job.started
                    && job.progress > 0.01
                {
                    let elapsed = start.elapsed().as_secs_f32();
                    let left = elapsed * (1.0 - job.progress) / job.progress;
                    job.eta = Some(Duration::from_secs_f32(left.max(0.0)));
                }
                // The row follows in 10 % steps (the entity every frame).
                if (job.progress * 10.0).floor() > (before * 10.0).floor() {
                    persist(&mut db, &job);
                }
            }
            EngineEvent::Message(FromWorker::Segment { segment, .. }) => {
                job.segments.push(segment);
            }
            EngineEvent::Message(FromWorker::Done { stats, .. }) => {
                job.status = JobStatus::Saving;
                job.progress = 1.0;
                job.eta = None;
                job.error = None;
                job.note = None;
                job.finished_at = Some(now_ms());
                job.processing_ms = Some(stats.processing_ms as i64);
                if let Some(n) = stats.fewest_threads {
                    // Said with what ran: the threads asked for were not all there.
                    let gave_way = format!(
                        "other programs kept cores busy: whisper gave way, down to {n} thread{}",
                        if n == 1 { "" } else { "s" }
                    );
                    job.backend_note = Some(match job.backend_note.take() {
                        Some(note) => format!("{note}; {gave_way}"),
                        None => gave_way,
                    });
                }
                job.stats = Some(stats);
                save_transcript(&mut db, &replies, &mut job);
            }
            EngineEvent::Message(FromWorker::Failed { kind, error, .. }) => {
                fail(
                    &mut job,
                    kind,
                    error,
                    &settings,
                    &mut breakers,
                    &mut db,
                    &mut finished,
                );
            }
            EngineEvent::Crashed { message, .. } => {
                fail(
                    &mut job,
                    FailKind::Transient,
                    message,
                    &settings,
                    &mut breakers,
                    &mut db,
                    &mut finished,
                );
            }
            EngineEvent::Message(FromWorker::Ready { .. }) => {}
        }
    }
}

fn set_backend(job: &mut TranscriptionJob, b: Backend) {
    job.backend = Some(b.ran);
    job.backend_note = b.fallback;
}

fn fail(
    job: &mut TranscriptionJob,
    kind: FailKind,
    error: String,
    settings: &TranscribeSettings,
    breakers: &mut Breakers,
    db: &mut Option<ResMut<Database>>,
    finished: &mut MessageWriter<JobFinished>,
) {
    job.eta = None;
    job.segments.clear();
    match kind {
        FailKind::Cancelled => {
            job.status = JobStatus::Cancelled;
            job.error = None;
        }
        FailKind::Transient if job.attempts < settings.max_attempts => {
            breakers.failed(&job.model, settings);
            let wait = settings.backoff * (1u32 << job.attempts.saturating_sub(1).min(8));
            job.status = JobStatus::Pending;
            job.progress = 0.0;
            job.not_before = Some(Instant::now() + wait);
            job.note = Some(format!("retrying in {:.0} s", wait.as_secs_f32()));
            job.error = Some(error);
            tracing::warn!(job = %job.id, attempt = job.attempts, ?wait, "job failed; will retry: {:?}", job.error);
            persist(db, job);
            return;
        }
        FailKind::Transient => {
            breakers.failed(&job.model, settings);
            job.status = JobStatus::Failed;
            job.error = Some(format!("{error} (gave up after {} attempts)", job.attempts));
        }
        FailKind::Permanent => {
            job.status = JobStatus::Failed;
            job.error = Some(error);
        }
    }
    job.finished_at = Some(now_ms());
    tracing::info!(job = %job.id, status = ?job.status, error = ?job.error, "job ended");
    persist(db, job);
    finished.write(JobFinished {
        id: job.id,
        status: job.status,
        transcript: None,
        error: job.error.clone(),
    });
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    engine: Option<ResMut<Engine>>,
    mut jobs: Query<&mut TranscriptionJob>,
    settings: Res<TranscribeSettings>,
    breakers: Res<Breakers>,
    mut db: Option<ResMut<Database>>,
    mut finished: MessageWriter<JobFinished>,
    sessions: Query<&crate::capture::plugin::RecordingSession>,
    runner: Res<JobRunner>,
) {
    let Some(mut engine) = engine else { return };
    // Busy with a job of its own; another process's running job does not hold this queue.
    if engine.0.busy()
        || jobs
            .iter()
            .any(|j| runner.is(j) && matches!(j.status, JobStatus::Running | JobStatus::Saving))
    {
        return;
    }
    let now = Instant::now();
    // The oldest pending job of this runner that is not backing off and whose model is not
    // paused.
    let mut candidates: Vec<Mut<TranscriptionJob>> = jobs
        .iter_mut()
        .filter(|j| j.status == JobStatus::Pending && runner.is(j))
        .collect();
    candidates.sort_by_key(|j| j.id);
    for mut job in candidates {
        if job.not_before.is_some_and(|t| t > now) {
            continue;
        }
        if let Some(until) = breakers.open_until(&job.model) {
            let note = format!(
                "paused: model {} failed {} times in a row; next try in {:.0} s",
                job.model,
                settings.breaker_threshold,
                until.saturating_duration_since(now).as_secs_f32()
            );
            if job.note.as_deref() != Some(note.as_str()) {
                job.note = Some(note);
            }
            continue;
        }
        let model = match catalog::resolve(&settings.models_dir, &job.model) {
            Ok(p) => p,
            Err(e) => {
                job.status = JobStatus::Failed;
                job.error = Some(e.to_string());
                job.finished_at = Some(now_ms());
                persist(&mut db, &job);
                finished.write(JobFinished {
                    id: job.id,
                    status: job.status,
                    transcript: None,
                    error: job.error.clone(),
                });
                continue;
            }
        };
        // Capture's writer and analysis need a core of their own while a take runs.
        let recording = sessions.iter().any(crate::capture::plugin::is_active);
        let threads = settings.threads.unwrap_or_else(|| {
            backend::whisper_threads(settings.reserved_cores + u32::from(recording))
        });
        let vad_model = if job.params.vad {
            settings.vad_path()
        } else {
            None
        };
        let spec = JobSpec {
            job: job.id.0,
            audio: job.audio_path.clone(),
            model,
            params: job.params.clone(),
            vad_model,
            gpu: job.gpu,
            threads,
            adapt_threads: settings.threads.is_none(),
            vad_threads: 1,
            spans_ms: job.redo.as_ref().map(Redo::each).unwrap_or_default(),
        };
        job.attempts += 1;
        job.threads = Some(threads);
        job.note = None;
        match engine.0.submit(spec) {
            Ok(()) => {
                job.status = JobStatus::Running;
                job.progress = 0.0;
                job.segments.clear();
                job.started = Some(Instant::now());
                job.started_at = Some(now_ms());
                job.finished_at = None;
                tracing::info!(job = %job.id, attempt = job.attempts, threads, "job started");
                persist(&mut db, &job);
            }
            Err(e) => {
                tracing::error!(job = %job.id, "cannot start the job: {e}");
                job.error = Some(e.to_string());
                job.not_before = Some(now + settings.backoff);
                if job.attempts >= settings.max_attempts {
                    job.status = JobStatus::Failed;
                    job.finished_at = Some(now_ms());
                    finished.write(JobFinished {
                        id: job.id,
                        status: job.status,
                        transcript: None,
                        error: job.error.clone(),
                    });
                }
                persist(&mut db, &job);
            }
        }
        break;
    }
}

/// The longest prompt the vocabulary makes (characters): whisper keeps the last 224 prompt
/// tokens, and a term is two or three tokens with its comma.
const VOCABULARY_PROMPT_CHARS: usize = 400;

/// The user's changes to how jobs run, before this frame's requests are read.
fn apply_settings(
    mut changes: MessageReader<SettingsChange>,
    mut settings: ResMut<TranscribeSettings>,
) {
    for c in changes.read() {
        c.clone().apply(&mut settings);
    }
}

fn handle_requests(
    mut requests: MessageReader<TranscribeRequest>,
    settings: Res<TranscribeSettings>,
    db: Option<ResMut<Database>>,
    replies: Res<Replies<JobsReply>>,
    mut queued: MessageWriter<JobQueued>,
    runner: Res<JobRunner>,
) {
    let Some(mut db) = db else {
        for r in requests.read() {
            queued.write(JobQueued {
                token: r.token,
                result: Err("no database".into()),
            });
        }
        return;
    };
    for r in requests.read() {
        let params = r.params.clone().unwrap_or_else(|| settings.params.clone());
        let job = NewJob {
            audio_file: r.audio_file,
            model: r
                .model
                .clone()
                .unwrap_or_else(|| settings.default_model.clone()),
            requested_backend: r.gpu.unwrap_or(settings.gpu).as_db().to_string(),
            language: params.language.clone(),
            params_json: serde_json::to_string(&params).unwrap_or_else(|_| "{}".into()),
            runner: Some(runner.0.id().to_owned()),
            into_transcript: r.into,
            redo: r.redo.clone(),
        };
        let token = r.token;
        let own = r.new_transcript;
        db.write(
            move |c, _| {
                let mut job = job;
                // Another pass over a file with a transcript is a new version of it (its
                // history stays one list), unless a transcript of its own was asked for.
                if job.into_transcript.is_none() && job.redo.is_none() && !own {
                    job.into_transcript = transcript::sql::newest_transcript_of(c, job.audio_file)
                        .map_err(|e| e.to_string())?;
                }
                if params.use_vocabulary {
                    let mut params = params;
                    let terms = crate::transcript::vocabulary::vocabulary_prompt(
                        c,
                        VOCABULARY_PROMPT_CHARS,
                    )
                    .map_err(|e| e.to_string())?;
                    params.initial_prompt = match (params.initial_prompt.take(), terms) {
                        (Some(p), Some(t)) => Some(format!("{} {t}", p.trim_end())),
                        (p, t) => p.or(t),
                    };
                    job.params_json =
                        serde_json::to_string(&params).unwrap_or_else(|_| "{}".into());
                }
                sql::insert_job(c, &job, now_ms())
                    .and_then(|id| sql::get_job(c, id))
                    .and_then(|row| row.ok_or_else(|| StorageError::NotFound("the new job".into())))
                    .map(Box::new)
                    .map_err(|e| e.to_string())
            },
            replies.to(move |result| JobsReply::Created { token, result }),
        );
    }
}

fn handle_commands(
    mut commands_in: MessageReader<JobCommand>,
    mut jobs: Query<&mut TranscriptionJob>,
    engine: Option<ResMut<Engine>>,
    mut db: Option<ResMut<Database>>,
    mut finished: MessageWriter<JobFinished>,
    runner: Res<JobRunner>,
) {
    let mut engine = engine;
    for cmd in commands_in.read() {
        let id = match cmd {
            JobCommand::Cancel(id) | JobCommand::Retry(id) => *id,
        };
        let Some(mut job) = jobs.iter_mut().find(|j| j.id == id) else {
            tracing::warn!(job = %id, "no such job");
            continue;
        };
        match (cmd, job.status) {
            (JobCommand::Cancel(_), JobStatus::Pending) => {
                job.status = JobStatus::Cancelled;
                job.finished_at = Some(now_ms());
                job.note = None;
                persist(&mut db, &job);
                finished.write(JobFinished {
                    id,
                    status: job.status,
                    transcript: None,
                    error: None,
                });
            }
            (JobCommand::Cancel(_), JobStatus::Running) if runner.is(&job) => {
                if let Some(e) = engine.as_mut() {
                    e.0.cancel(id.0);
                }
                job.note = Some("cancelling".into());
            }
            (JobCommand::Retry(_), JobStatus::Failed | JobStatus::Cancelled) => {
                // Retried here, so run here.
                job.runner = Some(runner.0.id().to_owned());
                job.status = JobStatus::Pending;
                job.progress = 0.0;
                job.attempts = 0;
                job.error = None;
                job.note = None;
                job.not_before = None;
                job.finished_at = None;
                persist(&mut db, &job);
            }
            (c, s) => tracing::info!(job = %id, ?c, ?s, "nothing to do"),
        }
    }
}

/// Links jobs to their audio file's entity once the library has it.
fn link_jobs(
    mut commands: Commands,
    jobs: Query<(Entity, &TranscriptionJob), Without<JobOf>>,
    files: Query<(Entity, &AudioFile)>,
) {
    if jobs.is_empty() {
        return;
    }
    let by_id: HashMap<AudioFileId, Entity> = files.iter().map(|(e, f)| (f.0.id, e)).collect();
    for (entity, job) in &jobs {
        if let Some(file) = by_id.get(&job.audio_file) {
            commands.entity(entity).insert(JobOf(*file));
        }
    }
}
