//! The pipe protocol between the app and its `verbatim worker` process: one JSON object per
//! line, app -> worker on the worker's stdin, worker -> app on its stdout. Lines that are not
//! protocol (whisper.cpp writing to stdout on its own) are logged and skipped.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Whether to use a GPU: `--gpu auto|on|off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuPref {
    /// The GPU when the build and the machine have one, else the CPU.
    #[default]
    Auto,
    /// Asked for the GPU; falls back to the CPU (and says why) when it cannot be used.
    On,
    /// The CPU only.
    Off,
}

impl GpuPref {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "auto" => Self::Auto,
            "on" | "gpu" | "yes" | "true" => Self::On,
            "off" | "cpu" | "no" | "false" => Self::Off,
            _ => return None,
        })
    }

    /// The value of `transcription_jobs.requested_backend`.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::On => "gpu",
            Self::Off => "cpu",
        }
    }

    pub fn from_db(s: &str) -> Self {
        match s {
            "gpu" => Self::On,
            "cpu" => Self::Off,
            _ => Self::Auto,
        }
    }
}

/// Where word times come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordTiming {
    /// whisper's token timestamps (`token_timestamps`): each token's own timestamp
    /// prediction. The default: on the long test recording its first and last words sit
    /// 157/142 ms from the speech onsets/offsets against DTW's 1181/155 ms.
    #[default]
    Tokens,
    /// whisper.cpp's dynamic time warping over the cross-attention of the model's alignment
    /// heads (as openai-whisper's `word_timestamps`): a word starts where the alignment
    /// moves onto its first token. Needs the model loaded without flash attention.
    Dtw,
}

impl WordTiming {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tokens" | "token" => Some(Self::Tokens),
            "dtw" => Some(Self::Dtw),
            _ => None,
        }
    }
}

/// The widest beam whisper.cpp decodes with (its `WHISPER_MAX_DECODERS`).
pub const MAX_BEAM: u32 = 8;

/// Checks a beam width asked for on the command line (`--beam`).
pub fn check_beam(beam: Option<u32>) -> Result<(), String> {
    match beam {
        Some(b) if !(1..=MAX_BEAM).contains(&b) => Err(format!(
            "--beam {b}: whisper.cpp decodes with 1 to {MAX_BEAM} beams"
        )),
        _ => Ok(()),
    }
}

/// Decoding parameters, recorded with the job and with the transcript version they made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecodeParams {
    /// A language code (`en`, `de`, ...), or `None` to detect it.
    pub language: Option<String>,
    /// Translate into English.
    pub translate: bool,
    /// Beam search with this width; `None`: greedy.
    pub beam_size: Option<u32>,
    /// Candidates sampled per temperature when greedy.
    pub best_of: u32,
    /// Retry a window at higher temperatures when the output looks wrong (whisper's
    /// default); off decodes once at temperature 0.
    pub temperature_fallback: bool,
    /// A window whose no-speech probability is above this is dropped.
    pub no_speech_threshold: f32,
    /// Text that primes the decoder (names, spelling, style).
    pub initial_prompt: Option<String>,
    /// Skip silence with the voice activity model.
    pub vad: bool,
    /// Prime each decoding window with the text before it, across the job's windows too
    /// (whisper's `condition_on_previous_text`); off decodes every window on its own.
    pub carry_context: bool,
    /// For audio shorter than whisper's 30 s window, run the encoder over the audio plus a
    /// margin instead of 30 s of mostly padding (`audio_ctx`); `false`: always 30 s.
    pub short_audio_ctx: bool,
    /// How words are timed.
    pub word_timing: WordTiming,
    /// Prime the decoder with the library's vocabulary (the terms users corrected or added),
    /// after `initial_prompt`. Resolved when the job is queued: the job's recorded
    /// parameters carry the prompt it ran with.
    pub use_vocabulary: bool,
    /// One decode per whisper window, whatever it gives (a live step): a decode that fails
    /// whisper's tests (a repetition loop, text it doubts) gives no text instead of being
    /// redone with a wider context and higher temperatures (the next live step hears the
    /// audio again; a redo over the full window took 2.6 s for 1.3 s of audio).
    pub single_decode: bool,
}

impl Default for DecodeParams {
    fn default() -> Self {
        Self {
            language: None,
            translate: false,
            beam_size: None,
            best_of: 5,
            temperature_fallback: true,
            no_speech_threshold: 0.6,
            initial_prompt: None,
            vad: true,
            carry_context: true,
            short_audio_ctx: true,
            word_timing: WordTiming::default(),
            use_vocabulary: false,
            single_decode: false,
        }
    }
}

/// One job for the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub job: i64,
    pub audio: PathBuf,
    pub model: PathBuf,
    pub params: DecodeParams,
    /// The Silero model (used when `params.vad`).
    pub vad_model: Option<PathBuf>,
    pub gpu: GpuPref,
    /// whisper threads (chosen by the app from the cores left by capture and UI).
    pub threads: u32,
    /// `threads` is the app's choice, not the user's: fewer run while other programs keep
    /// cores busy ([`super::backend::CoreWatch`]). A number the user set is used as set.
    #[serde(default)]
    pub adapt_threads: bool,
    /// VAD threads (1: the Silero graph is tiny and ggml's spinning pool only hurts).
    pub vad_threads: u32,
    /// Only these spans of the file (live transcription of a take in progress, spans
    /// transcribed again), in ms, in time order and disjoint; empty: the whole file.
    pub spans_ms: Vec<(u64, u64)>,
}

/// A word (whisper token group) with its time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub p: f32,
}

/// A segment as whisper produced it, on the file's time line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    /// Mean probability of its text tokens.
    pub confidence: Option<f32>,
    /// whisper's probability that its window holds no speech.
    pub no_speech: f32,
    /// Mean log-probability of its text tokens (whisper's `avg_logprob`), when decoded.
    #[serde(default)]
    pub avg_logprob: Option<f32>,
    pub words: Vec<Word>,
}

impl Segment {
    /// The segment as the database keeps it (its words as JSON; times and the model's
    /// signals brought into the ranges the schema allows).
    pub fn stored(&self) -> crate::transcript::Segment {
        crate::transcript::Segment {
            start_ms: self.start_ms,
            end_ms: self.end_ms.max(self.start_ms),
            text: self.text.clone(),
            confidence: self.confidence,
            words_json: serde_json::to_string(&self.words).ok(),
            speaker: None,
            no_speech: Some(self.no_speech.clamp(0.0, 1.0)),
            avg_logprob: self.avg_logprob.map(|l| l.min(0.0)),
        }
    }

    /// Words as one segment: their span, their text joined, their mean probability.
    pub fn of_words(words: &[Word]) -> Option<Self> {
        let (first, last) = (words.first()?, words.last()?);
        let text = words
            .iter()
            .map(|w| w.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Some(Self {
            start_ms: first.start_ms,
            end_ms: last.end_ms.max(first.start_ms),
            text,
            confidence: Some(
                (words.iter().map(|w| w.p).sum::<f32>() / words.len() as f32).clamp(0.0, 1.0),
            ),
            no_speech: 0.0,
            avg_logprob: None,
            words: words.to_vec(),
        })
    }
}

/// Which back-end ran a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backend {
    /// What ran, for people: "cpu: 2 threads, AVX2" or "cuda: NVIDIA H200".
    pub ran: String,
    pub gpu: bool,
    /// Why the GPU was not used although it was asked for (or allowed).
    pub fallback: Option<String>,
}

/// How a job failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailKind {
    /// Retrying cannot help (bad model file, unreadable audio).
    Permanent,
    /// Might work next time (the engine crashed, ran out of memory, ...).
    Transient,
    /// The user cancelled it.
    Cancelled,
}

/// Totals of a finished job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobStats {
    pub audio_ms: u64,
    /// Audio that went to whisper (after the VAD dropped silence).
    pub speech_ms: u64,
    pub vad_regions: u32,
    pub segments: u32,
    pub processing_ms: u64,
    pub model_load_ms: u64,
    pub language: Option<String>,
    /// What the voice activity model kept as speech (padded, short pauses bridged), on the
    /// file's time line in ms; `None` when it did not run. Stored with the version's
    /// parameters: the quality flags find text over the rest (silence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech_regions: Option<Vec<[u64; 2]>>,
    /// Stretches of speech whisper passed over and heard again alone.
    #[serde(default)]
    pub second_looks: u32,
    /// The fewest whisper threads a call got, when fewer than asked: other programs kept
    /// cores busy ([`super::backend::CoreWatch`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fewest_threads: Option<u32>,
}

/// App -> worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    Run(Box<JobSpec>),
    Cancel { job: i64 },
    Shutdown,
}

/// Worker -> app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    Ready {
        pid: u32,
        whisper: String,
        system_info: String,
    },
    Started {
        job: i64,
        backend: Backend,
    },
    /// The GPU failed mid-job; the rest runs on the CPU.
    FellBack {
        job: i64,
        backend: Backend,
    },
    Progress {
        job: i64,
        fraction: f32,
        audio_done_ms: u64,
    },
    Segment {
        job: i64,
        segment: Segment,
    },
    Done {
        job: i64,
        stats: JobStats,
    },
    Failed {
        job: i64,
        kind: FailKind,
        error: String,
    },
}

impl FromWorker {
    pub fn job(&self) -> Option<i64> {
        match self {
            Self::Ready { .. } => None,
            Self::Started { job, .. }
            | Self::FellBack { job, .. }
            | Self::Progress { job, .. }
            | Self::Segment { job, .. }
            | Self::Done { job, .. }
            | Self::Failed { job, .. } => Some(*job),
        }
    }
}
