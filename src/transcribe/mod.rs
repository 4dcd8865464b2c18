//! Transcription: whisper.cpp in a supervised worker process, jobs as ECS entities, model
//! files checked before use, and the model manager.
//!
//! - [`model_file`]: every model file is validated in Rust before whisper.cpp sees it.
//! - [`worker`]: the `verbatim worker` process and its supervisor ([`worker::ProcessTranscriber`]).
//! - [`engine`]: what runs in the worker: streaming audio, Silero VAD, whisper, GPU fallback.
//! - [`jobs`]: `TranscriptionJob` entities, the queue, retries, the circuit breaker.
//! - [`catalog`] and [`download`]: the standard models, resumable checksum-verified downloads.
//! - [`vad`] and [`nonspeech`]: what of the audio goes to whisper, and what of its output is
//!   speech.
//! - [`quantize`]: `verbatim models quantize`, ggml's own quantisation of a model file.
//! - [`synthetic`]: a genuine tiny ggml model for tests and benchmarks.

pub mod agreement;
pub mod backend;
pub mod catalog;
pub mod download;
pub mod draft;
pub mod engine;
pub mod jobs;
pub mod live;
pub mod model_file;
pub mod nonspeech;
pub mod protocol;
pub mod quantize;
pub mod synthetic;
pub mod vad;
pub mod worker;

pub use jobs::{
    JobCommand, JobFinished, JobStatus, SettingsChange, TranscribePlugin, TranscribeRequest,
    TranscribeSettings, TranscriptionJob,
};
pub use protocol::{DecodeParams, GpuPref, JobSpec, WordTiming};
pub use worker::EngineEvent;

/// Errors of the transcription subsystem outside a job (jobs carry theirs as text).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TranscribeError {
    #[error("{0}")]
    Worker(String),
    #[error(transparent)]
    Model(#[from] model_file::ModelFileError),
    #[error(transparent)]
    Resolve(#[from] catalog::ResolveError),
}

/// Something that transcribes jobs one at a time and reports what happens.
pub trait Transcriber: Send + Sync + 'static {
    /// Starts a job (the engine is idle when this is called).
    fn submit(&mut self, spec: JobSpec) -> Result<(), TranscribeError>;
    /// Asks the running (or queued) job to stop; a `Failed { kind: Cancelled }` follows.
    fn cancel(&mut self, job: i64);
    /// The next event, if one is ready.
    fn poll(&mut self) -> Option<EngineEvent>;
    /// Whether a job is running.
    fn busy(&self) -> bool;
    /// The worker process, when the engine runs in one.
    fn worker_pid(&self) -> Option<u32> {
        None
    }
    /// Worker processes started so far.
    fn worker_starts(&self) -> u32 {
        0
    }
}
