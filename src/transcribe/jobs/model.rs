//! The job model: a job entity's state, its relationship to its audio file, the messages
//! that ask for jobs and report them, and the queue's settings.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use super::sql::{JobRow, JobUpdate, Redo};
use crate::library::import::AudioStore;
use crate::storage::ids::{AudioFileId, JobId, TranscriptId};
use crate::storage::now_ms;
use crate::transcribe::catalog;
use crate::transcribe::protocol::{DecodeParams, GpuPref, JobStats, Segment};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    Running,
    /// Done in the engine; the transcript is being stored.
    Saving,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running | Self::Saving => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// `None`: not a status this program writes.
    pub fn from_db(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// A transcription job.
#[derive(Component, Debug, Clone, PartialEq, Serialize)]
pub struct TranscriptionJob {
    pub id: JobId,
    pub audio_file: AudioFileId,
    pub audio_name: String,
    #[serde(skip)]
    pub audio_path: PathBuf,
    pub audio_ms: u64,
    /// The model as the user named it.
    pub model: String,
    pub gpu: GpuPref,
    pub params: DecodeParams,
    pub status: JobStatus,
    pub progress: f32,
    #[serde(skip)]
    pub eta: Option<Duration>,
    /// What ran ("cpu: 2 threads, AVX2").
    pub backend: Option<String>,
    /// Why that is not what was asked for.
    pub backend_note: Option<String>,
    pub threads: Option<u32>,
    pub attempts: u32,
    pub error: Option<String>,
    /// Why a pending job waits (backoff, open breaker).
    pub note: Option<String>,
    pub transcript: Option<TranscriptId>,
    /// The transcript its result becomes a new version of (the whole-take pass of a live
    /// take: version 2 of the draft's transcript); `None`: a new transcript.
    #[serde(skip)]
    pub into: Option<TranscriptId>,
    /// Only a span of the file, whose result replaces that span of a version of `into`.
    pub redo: Option<Redo>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub processing_ms: Option<i64>,
    /// Segments received so far (the live partial result while running).
    #[serde(skip)]
    pub segments: Vec<Segment>,
    pub audio_done_ms: u64,
    #[serde(skip)]
    pub(super) started: Option<Instant>,
    #[serde(skip)]
    pub(super) not_before: Option<Instant>,
    #[serde(skip)]
    pub(super) stats: Option<JobStats>,
    /// The process that runs it or will ([`crate::storage::runner`]); this process runs only
    /// its own.
    #[serde(skip)]
    pub runner: Option<String>,
}

impl TranscriptionJob {
    /// A pending job that is not in the database (panel tests, previews).
    pub fn detached(id: JobId, audio_file: AudioFileId, audio_name: &str, model: &str) -> Self {
        Self {
            id,
            audio_file,
            audio_name: audio_name.to_string(),
            audio_path: PathBuf::new(),
            audio_ms: 0,
            model: model.to_string(),
            gpu: GpuPref::Auto,
            params: DecodeParams::default(),
            status: JobStatus::Pending,
            progress: 0.0,
            eta: None,
            backend: None,
            backend_note: None,
            threads: None,
            attempts: 0,
            error: None,
            note: None,
            transcript: None,
            into: None,
            redo: None,
            created_at: now_ms(),
            started_at: None,
            finished_at: None,
            processing_ms: None,
            segments: Vec::new(),
            audio_done_ms: 0,
            started: None,
            not_before: None,
            stats: None,
            runner: None,
        }
    }

    pub(super) fn from_row(row: &JobRow, store: &AudioStore) -> Self {
        let params: DecodeParams = serde_json::from_str(&row.params_json).unwrap_or_default();
        Self {
            id: row.id,
            audio_file: row.audio_file,
            audio_name: row.audio_name.clone(),
            audio_path: store.absolute(&row.audio_path),
            audio_ms: row.audio_duration_ms,
            model: row.model.clone(),
            gpu: GpuPref::from_db(&row.requested_backend),
            params,
            status: row.status,
            progress: row.progress as f32,
            eta: None,
            backend: row.actual_backend.clone(),
            backend_note: row.backend_note.clone(),
            threads: row.threads,
            attempts: row.attempts,
            error: row.error.clone(),
            note: None,
            transcript: row.transcript,
            into: row.into_transcript,
            redo: row.redo.clone(),
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            processing_ms: row.processing_ms,
            segments: Vec::new(),
            audio_done_ms: 0,
            started: None,
            not_before: None,
            stats: None,
            runner: row.runner.clone(),
        }
    }

    pub(super) fn update(&self) -> JobUpdate {
        JobUpdate {
            status: self.status,
            progress: f64::from(self.progress),
            actual_backend: self.backend.clone(),
            backend_note: self.backend_note.clone(),
            threads: self.threads,
            params_json: None,
            started_at: self.started_at,
            finished_at: self.finished_at,
            processing_ms: self.processing_ms,
            error: self.error.clone(),
            attempts: self.attempts,
            runner: self.runner.clone(),
        }
    }

    /// What ran and why it differs from the request ("cpu: 2 threads, AVX2 (no GPU ...)"),
    /// or what was asked while nothing ran yet; for the panel and the CLI.
    pub fn describe_backend(&self) -> String {
        match (&self.backend, &self.backend_note) {
            (Some(b), Some(n)) => format!("{b} ({n})"),
            (Some(b), None) => b.clone(),
            (None, _) => format!("{} asked", self.gpu.as_db()),
        }
    }
}

/// The job belongs to this audio-file entity.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
#[relationship(relationship_target = AudioJobs)]
pub struct JobOf(pub Entity);

/// The jobs of an audio-file entity.
#[derive(Component, Debug, Default, PartialEq, Eq)]
#[relationship_target(relationship = JobOf)]
pub struct AudioJobs(Vec<Entity>);

impl AudioJobs {
    pub fn jobs(&self) -> &[Entity] {
        &self.0
    }
}

/// Intent: transcribe this audio file. `None` fields take the settings' defaults.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct TranscribeRequest {
    pub audio_file: AudioFileId,
    pub model: Option<String>,
    pub gpu: Option<GpuPref>,
    pub params: Option<DecodeParams>,
    /// Comes back in [`JobQueued`] so the asker can find its job.
    pub token: u64,
    /// The transcript the result becomes a new version of; `None`: the file's newest
    /// transcript (checked when the job is queued), or a new one when it has none or
    /// `new_transcript` is set.
    pub into: Option<TranscriptId>,
    /// Only this span, replacing it in a version of `into` (a `retranscribe` version).
    pub redo: Option<Redo>,
    /// With `into` `None`: a transcript of its own, even when the file has one
    /// (`verbatim transcribe --new-transcript`).
    pub new_transcript: bool,
}

/// A request became a job (or could not).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct JobQueued {
    pub token: u64,
    pub result: Result<JobId, String>,
}

/// Intents on jobs.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobCommand {
    Cancel(JobId),
    Retry(JobId),
}

/// A job reached an end state.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct JobFinished {
    pub id: JobId,
    pub status: JobStatus,
    pub transcript: Option<TranscriptId>,
    pub error: Option<String>,
}

/// A change the user made to how jobs run (the window's job panel): the jobs feature applies
/// it to [`TranscribeSettings`] before it reads this frame's requests.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum SettingsChange {
    Gpu(GpuPref),
    /// Prime new jobs with the library's vocabulary.
    UseVocabulary(bool),
    /// The model for requests that name none.
    DefaultModel(String),
    /// Find speakers after each transcription.
    SpeakersAfter(bool),
}

impl SettingsChange {
    pub fn apply(self, settings: &mut TranscribeSettings) {
        match self {
            Self::Gpu(g) => settings.gpu = g,
            Self::UseVocabulary(on) => settings.params.use_vocabulary = on,
            Self::DefaultModel(m) => settings.default_model = m,
            Self::SpeakersAfter(on) => settings.speakers_after = on,
        }
    }
}

/// How jobs run.
#[derive(Resource, Debug, Clone)]
pub struct TranscribeSettings {
    pub models_dir: PathBuf,
    /// The model for requests that name none.
    pub default_model: String,
    pub gpu: GpuPref,
    pub params: DecodeParams,
    /// The Silero model; `None`: the default one in `models_dir` (bundled with the app).
    pub vad_model: Option<PathBuf>,
    /// Cores kept free for capture and the UI (the GUI keeps one; the CLI none).
    pub reserved_cores: u32,
    /// A fixed whisper thread count instead of the computed one.
    pub threads: Option<u32>,
    /// Attempts per job before a transient failure becomes final.
    pub max_attempts: u32,
    /// The first retry waits this long; each further one twice as long.
    pub backoff: Duration,
    /// Consecutive failures of one model that open its breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker stops jobs of its model (doubling while it keeps failing).
    pub breaker_cooldown: Duration,
    /// Run every pending job (the workstation sets this); `false`: only the jobs this process
    /// queued (`verbatim transcribe` must not take the window's jobs, and `verbatim library`
    /// must not start any).
    pub run_all_pending: bool,
    /// Find who speaks in each new transcript once its job is done, when the speaker models
    /// are installed (the window's setting, on by default there; the CLI asks with
    /// `--speakers`).
    pub speakers_after: bool,
}

impl TranscribeSettings {
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self {
            models_dir: catalog::models_dir(data_dir),
            default_model: catalog::DEFAULT_MODEL.to_string(),
            gpu: GpuPref::Auto,
            params: DecodeParams::default(),
            vad_model: None,
            reserved_cores: 0,
            threads: None,
            max_attempts: 3,
            backoff: Duration::from_secs(2),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(60),
            run_all_pending: false,
            speakers_after: false,
        }
    }

    /// The VAD model: the one set, else the default one in the models folder (installed from
    /// the copy bundled with the app when missing).
    pub fn vad_path(&self) -> Option<PathBuf> {
        self.vad_model
            .clone()
            .or_else(|| catalog::default_vad(&self.models_dir))
    }
}
