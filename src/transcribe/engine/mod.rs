//! The whisper.cpp engine, as it runs inside the `verbatim worker` process.
//!
//! A job streams its audio ([`Pcm16k`]) in windows of two minutes. With voice activity
//! detection on, Silero (`WhisperVadContext`, one thread) scores every 32 ms frame of a
//! window and [`super::vad::plan`] keeps everything but long silences (short pauses stay,
//! unsure stretches stay, generous padding); the kept pieces are packed back to back (a short
//! gap between them) and sent to whisper in one call, and every timestamp is mapped back onto
//! the file's time line and clamped to the speech it covers. Long silence never reaches
//! whisper, so it cannot hallucinate on it, and whisper's own non-speech annotations never
//! become text ([`super::nonspeech`]). A region still open at the end of a window is carried
//! into the next one and the decoder's text context with it, so no word is cut in two and
//! no sentence loses its context. Memory stays bounded by the window, whatever the file's
//! length.
//!
//! The model is loaded once per (file, device) and kept; each job gets a fresh state.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext,
    WhisperContextParameters, WhisperState, WhisperVadContext, WhisperVadContextParams,
};

use super::backend::{self, GpuDevice};
use super::model_file;
use super::nonspeech::{self, TagFilter};
use super::protocol::{
    Backend, DecodeParams, FailKind, FromWorker, GpuPref, JobSpec, JobStats, Segment, Word,
    WordTiming,
};
use super::vad::{self, SpeechMap};
use crate::media::decode::{Pcm16k, WHISPER_RATE};

mod call;
mod output;
mod speech;

use call::{ProgressCtx, fraction, state_language};
use output::{dtw_mode, map_segment, pack, to_ms, within};
pub use speech::{detect_speech_file, short_audio_ctx, speech_regions};
use speech::{inaudible, plain_plan, quietest_point};

/// Audio read per step (16 kHz samples): two minutes.
const WINDOW: usize = 120 * WHISPER_RATE as usize;
/// Silence inserted between packed speech regions.
const GAP: usize = WHISPER_RATE as usize / 2;
/// whisper's window: 30 s of audio.
const WHISPER_WINDOW: usize = 30 * WHISPER_RATE as usize;
/// Encoder positions per second of audio (1500 for 30 s).
const CTX_PER_SAMPLE: usize = 320;
/// Encoder context added to a short call's audio (2.56 s): a tight `audio_ctx` changes words.
const AUDIO_CTX_MARGIN: usize = 128;
/// The shortest encoder context used (7.68 s): below it tiny.en looped on a 3 s clip.
const MIN_AUDIO_CTX: usize = 384;

/// Where worker messages go (the worker's stdout; a vector in tests).
pub type Emit = Arc<dyn Fn(FromWorker) + Send + Sync>;

/// A job's failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: FailKind,
    pub message: String,
}

impl Failure {
    fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: FailKind::Permanent,
            message: message.into(),
        }
    }
    fn transient(message: impl Into<String>) -> Self {
        Self {
            kind: FailKind::Transient,
            message: message.into(),
        }
    }
    fn cancelled() -> Self {
        Self {
            kind: FailKind::Cancelled,
            message: "cancelled".into(),
        }
    }
}

/// Test hooks, read from `VERBATIM_WORKER_FAULT` (comma-separated) when the worker starts.
/// They let the test suite reproduce what cannot be produced on demand: a GPU that fails
/// mid-job, an engine that keeps failing, a job long enough to cancel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Pretend a GPU device exists (it is the CPU underneath).
    pub fake_gpu: bool,
    /// The n-th whisper call on the (fake) GPU fails, as a device error would.
    pub gpu_fail_at_call: Option<u32>,
    /// Every model load fails (a transient error).
    pub fail_load: bool,
    /// Abort the process after the first whisper call (a crash in whisper.cpp).
    pub abort_after_call: bool,
    /// Sleep this long (checking for cancel) before each whisper call.
    pub slow_call: Option<Duration>,
}

impl Faults {
    pub fn from_env() -> Self {
        let mut f = Self::default();
        let Ok(v) = std::env::var("VERBATIM_WORKER_FAULT") else {
            return f;
        };
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, arg) = item.split_once(':').unwrap_or((item, ""));
            match key {
                "fake-gpu" => f.fake_gpu = true,
                "gpu-fail-at" => f.gpu_fail_at_call = arg.parse().ok(),
                "fail-load" => f.fail_load = true,
                "abort-after-call" => f.abort_after_call = true,
                "slow-ms" => f.slow_call = arg.parse().ok().map(Duration::from_millis),
                other => tracing::warn!("unknown VERBATIM_WORKER_FAULT item {other:?}"),
            }
        }
        if f != Self::default() {
            tracing::warn!(?f, "test faults are active in this worker");
        }
        f
    }
}

struct Loaded {
    path: PathBuf,
    gpu: Option<GpuDevice>,
    ctx: WhisperContext,
    /// The model's encoder context (1500 positions for 30 s).
    n_audio_ctx: usize,
    /// Loaded with DTW token timestamps (the alignment heads' cross-attention kept).
    dtw: bool,
}

/// A file's size and modification time.
type FileStamp = (u64, Option<std::time::SystemTime>);

/// The engine: at most one speech model and one VAD model loaded.
pub struct Engine {
    loaded: Option<Loaded>,
    /// The last model file checked: path, (size, modification time), what it is.
    inspected: Option<(PathBuf, Option<FileStamp>, model_file::ModelInfo)>,
    vad: Option<(PathBuf, u32, WhisperVadContext)>,
    faults: Faults,
    gpu_calls: u32,
    /// The language detected in the job that runs (asked for "auto").
    job_language: Option<String>,
    /// Other programs' load on the cores: whisper's threads give way to it, call by call.
    cores: backend::CoreWatch,
    /// The fewest threads a call of the job that runs got (fewer than asked: cores were busy).
    fewest_threads: Option<u32>,
}

impl Engine {
    pub fn new(faults: Faults) -> Self {
        Self {
            loaded: None,
            inspected: None,
            vad: None,
            faults,
            gpu_calls: 0,
            job_language: None,
            cores: backend::CoreWatch::default(),
            fewest_threads: None,
        }
    }

    /// Runs one job to its end, sending `Started`, `Progress`, `Segment` (and `FellBack`)
    /// messages on the way; the caller sends `Done` or `Failed`.
    pub fn run(
        &mut self,
        spec: &JobSpec,
        cancel: &Arc<AtomicBool>,
        emit: &Emit,
    ) -> Result<JobStats, Failure> {
        let started = Instant::now();
        self.job_language = None;
        self.cores.start();
        self.fewest_threads = None;
        let (multilingual, vad_path) = self.check(spec)?;
        let dtw = spec.params.word_timing == WordTiming::Dtw;
        let (backend, load_ms) = self.ensure_model(&spec.model, spec.gpu, spec.threads, dtw)?;
        emit(FromWorker::Started {
            job: spec.job,
            backend,
        });
        let mut pcm = Pcm16k::open(&spec.audio).map_err(|e| Failure::permanent(e.to_string()))?;
        // The stretch read: from the first span's start to the last one's end (the whole
        // file when no span is given). With several spans only they are transcribed, packed
        // into whisper windows as speech regions are.
        let sample = |ms: u64| ms * u64::from(WHISPER_RATE) / 1000;
        let batch: Vec<(u64, u64)> = spec
            .spans_ms
            .iter()
            .map(|&(a, b)| (sample(a), sample(b)))
            .collect();
        let (span_start, span_end) = match (batch.first(), batch.last()) {
            (Some(&(a, _)), Some(&(_, b))) => (a, Some(b)),
            _ => (0, None),
        };
        if span_start > 0 {
            pcm.seek_to(span_start)
                .map_err(|e| Failure::permanent(e.to_string()))?;
        }
        let job = JobRun {
            spec,
            cancel,
            emit,
            multilingual,
            dtw,
            total: span_end
                .or(pcm.expected_samples())
                .map(|e| e.saturating_sub(span_start))
                .unwrap_or(0),
            span_start,
        };
        let mut stats = JobStats {
            model_load_ms: load_ms,
            ..JobStats::default()
        };
        let mut pending: Vec<f32> = Vec::with_capacity(WINDOW + WINDOW / 4);
        let mut pending_start = span_start;
        let mut consumed = 0u64;
        let mut eof = false;
        let mut state = self.new_state()?;
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(Failure::cancelled());
            }
            if !eof {
                let mut want = WINDOW.saturating_sub(pending.len());
                if let Some(end) = span_end {
                    let left = end.saturating_sub(pending_start + pending.len() as u64);
                    want = want.min(left as usize);
                }
                let got = pcm
                    .read(&mut pending, want)
                    .map_err(|e| Failure::permanent(e.to_string()))?;
                eof = got < want || want == 0;
            }
            if pending.is_empty() {
                break;
            }
            let mut plan = self.window_plan(
                spec,
                vad_path.as_deref(),
                &pending,
                (pending_start, eof),
                &mut stats,
            )?;
            if batch.len() > 1 {
                plan.pieces = within(&plan.pieces, &batch, pending_start);
            }
            let kept: usize = plan.pieces.iter().map(|(a, b)| b - a).sum();
            stats.speech_ms += kept as u64 * 1000 / u64::from(WHISPER_RATE);
            // One whisper window per chunk, cut at pauses.
            let chunks = vad::chunks(&plan.pieces, GAP, |from, to| {
                if plan.speech.probs.is_empty() {
                    quietest_point(&pending[..to], from)
                } else {
                    vad::least_speech(&plan.speech.probs, from, to)
                }
            });
            let window = Window {
                samples: &pending,
                start: pending_start,
                consumed,
                plan: &plan,
            };
            for chunk in &chunks {
                self.decode_chunk(&job, &mut state, &window, chunk, &mut stats)?;
            }
            let keep_from = plan.keep_from;
            consumed += keep_from as u64;
            pending.drain(..keep_from);
            pending_start += keep_from as u64;
            emit(FromWorker::Progress {
                job: spec.job,
                fraction: fraction(consumed, job.total, eof && pending.is_empty()),
                audio_done_ms: (pending_start) * 1000 / u64::from(WHISPER_RATE),
            });
            if eof && pending.is_empty() {
                break;
            }
        }
        stats.audio_ms = consumed * 1000 / u64::from(WHISPER_RATE);
        stats.processing_ms = started.elapsed().as_millis() as u64;
        stats.fewest_threads = self.fewest_threads;
        Ok(stats)
    }

    /// What is checked before the model loads: the model file (and that a file named like a
    /// published model is that model), the VAD model when VAD is on, the language code.
    /// The answer: whether the model is multilingual, and the VAD model to use.
    fn check(&mut self, spec: &JobSpec) -> Result<(bool, Option<PathBuf>), Failure> {
        let info = self.inspect_model(&spec.model)?;
        // A file named like a published model must be that model (the full SHA-256 is checked
        // at download and by `verbatim models verify`; the size costs nothing per job).
        if let Some(known) = spec
            .model
            .file_name()
            .and_then(|n| super::catalog::find(&n.to_string_lossy()))
            && known.size_bytes != info.size_bytes
        {
            return Err(Failure::permanent(format!(
                "{} has {} bytes, but the published {} model has {}: a damaged or different file; run `verbatim models download {}` again",
                spec.model.display(),
                info.size_bytes,
                known.name,
                known.size_bytes,
                known.name
            )));
        }
        let multilingual = matches!(
            info.kind,
            model_file::ModelKind::Whisper { hparams, .. } if hparams.multilingual()
        );
        let vad_path = match (&spec.vad_model, spec.params.vad) {
            (Some(p), true) => {
                model_file::inspect_vad_file(p).map_err(|e| Failure::permanent(e.to_string()))?;
                Some(p.clone())
            }
            _ => None,
        };
        if let Some(lang) = &spec.params.language
            && whisper_rs::get_lang_id(lang).is_none()
        {
            return Err(Failure::permanent(format!(
                "unknown language code {lang:?} (use a code like en, de, fr, or auto)"
            )));
        }
        Ok((multilingual, vad_path))
    }

    /// What of a window of audio (starting at sample `pending_start` of the file; `eof`: the
    /// file's last) goes to whisper: with VAD, Silero's plan of it, its speech regions counted
    /// into `stats`; without, everything (cut at the quietest point near the window's end).
    fn window_plan(
        &mut self,
        spec: &JobSpec,
        vad_path: Option<&Path>,
        pending: &[f32],
        (pending_start, eof): (u64, bool),
        stats: &mut JobStats,
    ) -> Result<WindowPlan, Failure> {
        Ok(match vad_path {
            Some(p) => {
                let (plan, probs) = self.vad_plan(p, spec.vad_threads, pending, eof)?;
                stats.vad_regions += plan.regions() as u32;
                merge_regions(
                    stats.speech_regions.get_or_insert_with(Vec::new),
                    &plan.pieces,
                    pending_start,
                );
                WindowPlan {
                    pieces: plan.pieces,
                    keep_from: plan.keep_from,
                    speech: SpeechMap {
                        start: pending_start,
                        probs,
                    },
                    heard: plan.speech,
                }
            }
            None => {
                let (pieces, keep_from) = plain_plan(pending, eof);
                stats.vad_regions += pieces.len() as u32;
                WindowPlan {
                    pieces,
                    keep_from,
                    speech: SpeechMap::default(),
                    heard: Vec::new(),
                }
            }
        })
    }

    /// One whisper call for one chunk of a window (its pieces packed back to back), the
    /// segments mapped back onto the file's time line, a second look at the speech it passed
    /// over, and the segments sent.
    fn decode_chunk(
        &mut self,
        job: &JobRun<'_>,
        state: &mut WhisperState,
        window: &Window<'_>,
        chunk: &[(usize, usize)],
        stats: &mut JobStats,
    ) -> Result<(), Failure> {
        let (spec, pending, pending_start) = (job.spec, window.samples, window.start);
        // Nothing audible (below -60 dBFS): whisper would only invent text for it.
        if chunk.iter().all(|&(a, b)| inaudible(&pending[a..b])) {
            return Ok(());
        }
        let (packed, map) = pack(pending, chunk, pending_start);
        let call_started = Instant::now();
        // Progress: this chunk's part of the window.
        let (Some(&(first, _)), Some(&(_, last))) = (chunk.first(), chunk.last()) else {
            return Ok(());
        };
        let progress = ProgressCtx {
            job: spec.job,
            emit: job.emit.clone(),
            base: window.consumed + first as u64,
            span: (last - first) as u64,
            total: job.total,
            start: job.span_start,
        };
        let segments = self.call(
            state,
            spec,
            job.multilingual,
            &packed,
            job.cancel,
            &progress,
            job.emit,
        )?;
        tracing::debug!(
            job = spec.job,
            pieces = chunk.len(),
            audio_ms = to_ms(packed.len() as u64),
            segments = segments.len(),
            ms = call_started.elapsed().as_millis() as u64,
            "whisper call"
        );
        if stats.language.is_none() {
            stats.language = state_language(state);
        }
        let speech = &window.plan.speech;
        let mut found: Vec<Segment> = segments
            .into_iter()
            .filter_map(|s| map_segment(s, &map, speech, job.dtw))
            .collect();
        // A second look at the speech whisper passed over (a live step hears its audio again
        // at the next step instead).
        if !spec.params.single_decode {
            let ms = |i: usize| to_ms(pending_start + i as u64);
            let regions: Vec<(u64, u64)> = window
                .plan
                .heard
                .iter()
                .flat_map(|&(a, b)| {
                    chunk.iter().filter_map(move |&(pa, pb)| {
                        let (x, y) = (a.max(pa), b.min(pb));
                        (x < y).then_some((x, y))
                    })
                })
                .map(|(a, b)| (ms(a), ms(b)))
                .collect();
            let looked = self.second_look(
                state,
                spec,
                job.multilingual,
                pending,
                pending_start,
                &regions,
                &found,
                job.cancel,
                &progress,
                job.emit,
            )?;
            stats.second_looks += looked.looked;
            call::make_room(&mut found, &looked.heard, speech);
            found.extend(looked.found);
            found.sort_by_key(|s| s.start_ms);
        }
        for segment in found {
            stats.segments += 1;
            (job.emit)(FromWorker::Segment {
                job: spec.job,
                segment,
            });
        }
        Ok(())
    }

    /// The model file's check ([`model_file::inspect_whisper_file`]), done once per file: it
    /// walks every vocabulary entry and tensor record (about 30 ms for tiny.en), so a file whose
    /// size and modification time are unchanged is not walked again.
    fn inspect_model(&mut self, path: &Path) -> Result<model_file::ModelInfo, Failure> {
        let stamp = std::fs::metadata(path)
            .ok()
            .map(|m| (m.len(), m.modified().ok()));
        if let Some((p, s, info)) = &self.inspected
            && p == path
            && stamp.is_some()
            && *s == stamp
        {
            return Ok(info.clone());
        }
        let info = model_file::inspect_whisper_file(path)
            .map_err(|e| Failure::permanent(e.to_string()))?;
        self.inspected = Some((path.to_path_buf(), stamp, info.clone()));
        Ok(info)
    }

    /// Loads the model on the device `pref` allows, reusing a loaded one; what runs.
    fn ensure_model(
        &mut self,
        path: &Path,
        pref: GpuPref,
        threads: u32,
        dtw: bool,
    ) -> Result<(Backend, u64), Failure> {
        if self.faults.fail_load {
            return Err(Failure::transient(
                "the model could not be loaded (injected failure)",
            ));
        }
        let devices = if self.faults.fake_gpu {
            vec![GpuDevice {
                name: "FakeGPU0".into(),
                description: "simulated test device (the CPU underneath)".into(),
            }]
        } else {
            backend::gpu_devices()
        };
        let (want_gpu, mut fallback) = match pref {
            GpuPref::Off => (None, None),
            GpuPref::Auto | GpuPref::On => match devices.first() {
                Some(d) => (Some(d.clone()), None),
                None if backend::compiled_gpu_backends().is_empty() => (
                    None,
                    Some("this build has no GPU back-end (build with --features cuda, vulkan or metal)".to_string()),
                ),
                None => (None, Some("no GPU device was found".to_string())),
            },
        };
        let reuse = self
            .loaded
            .as_ref()
            .is_some_and(|l| l.path == path && l.gpu == want_gpu && l.dtw == dtw);
        let mut load_ms = 0;
        if !reuse {
            self.loaded = None;
            match self.load(path, want_gpu.clone(), dtw) {
                Ok(ms) => load_ms = ms,
                Err(e) if want_gpu.is_some() => {
                    tracing::warn!("loading on the GPU failed ({}); using the CPU", e.message);
                    fallback = Some(format!("the GPU could not be used ({})", e.message));
                    load_ms = self.load(path, None, dtw)?;
                }
                Err(e) => return Err(e),
            }
        }
        let gpu = self.loaded.as_ref().and_then(|l| l.gpu.clone());
        let backend = match gpu {
            Some(d) => Backend {
                ran: backend::describe_gpu(&d),
                gpu: true,
                fallback: None,
            },
            None => Backend {
                ran: backend::describe_cpu(threads),
                gpu: false,
                fallback: if pref == GpuPref::Off { None } else { fallback },
            },
        };
        Ok((backend, load_ms))
    }

    fn load(&mut self, path: &Path, gpu: Option<GpuDevice>, dtw: bool) -> Result<u64, Failure> {
        let t = Instant::now();
        let hparams = match self.inspect_model(path).map(|i| i.kind) {
            Ok(model_file::ModelKind::Whisper { hparams, .. }) => Some(hparams),
            _ => None,
        };
        let mut params = WhisperContextParameters::new();
        // The fake test GPU is the CPU underneath.
        params.use_gpu(gpu.is_some() && !self.faults.fake_gpu);
        params.gpu_device(0);
        // DTW needs the cross-attention that flash attention never materialises.
        params.flash_attn(false);
        if dtw {
            params.dtw_parameters(DtwParameters {
                mode: hparams
                    .as_ref()
                    .map_or(DtwMode::TopMost { n_top: 2 }, dtw_mode),
                ..DtwParameters::default()
            });
        }
        let ctx = WhisperContext::new_with_params(path, params).map_err(|e| {
            Failure::transient(format!(
                "whisper.cpp could not load {} ({e}); out of memory?",
                path.display()
            ))
        })?;
        let load_ms = t.elapsed().as_millis() as u64;
        tracing::info!(model = %path.display(), load_ms, gpu = ?gpu, "model loaded");
        let n_audio_ctx = hparams.map_or(1500, |h| h.n_audio_ctx as usize);
        self.gpu_calls = 0;
        self.loaded = Some(Loaded {
            path: path.to_path_buf(),
            gpu,
            ctx,
            n_audio_ctx,
            dtw,
        });
        Ok(load_ms)
    }

    fn new_state(&self) -> Result<WhisperState, Failure> {
        let loaded = self
            .loaded
            .as_ref()
            .ok_or_else(|| Failure::transient("no model loaded"))?;
        loaded.ctx.create_state().map_err(|e| {
            Failure::transient(format!(
                "whisper.cpp could not create a state ({e}); out of memory?"
            ))
        })
    }
}

/// A job while it runs: what every whisper call of it needs.
struct JobRun<'a> {
    spec: &'a JobSpec,
    cancel: &'a Arc<AtomicBool>,
    emit: &'a Emit,
    multilingual: bool,
    /// DTW token timestamps.
    dtw: bool,
    /// Samples the job reads (0: unknown).
    total: u64,
    /// The first sample read.
    span_start: u64,
}

/// What of a window goes to whisper.
struct WindowPlan {
    /// Stretches (samples into the window) sent to whisper.
    pieces: Vec<(usize, usize)>,
    /// Where the next window starts (samples into this one).
    keep_from: usize,
    /// Silero's speech probabilities over the window (empty without VAD).
    speech: SpeechMap,
    /// Where Silero heard speech (the second look's candidates).
    heard: Vec<(usize, usize)>,
}

/// A window of audio being transcribed.
struct Window<'a> {
    samples: &'a [f32],
    /// Its first sample in the file.
    start: u64,
    /// Samples of the job consumed before it.
    consumed: u64,
    plan: &'a WindowPlan,
}

/// The job's speech regions (ms in the file) with a window's pieces added, overlapping ones
/// merged.
fn merge_regions(regions: &mut Vec<[u64; 2]>, pieces: &[(usize, usize)], start: u64) {
    let ms = |i: usize| (start + i as u64) * 1000 / u64::from(WHISPER_RATE);
    for &(a, b) in pieces {
        match regions.last_mut() {
            Some(last) if ms(a) <= last[1] => last[1] = last[1].max(ms(b)),
            _ => regions.push([ms(a), ms(b)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{short_audio_ctx, within};

    #[test]
    fn only_the_spans_of_a_batch_are_kept() {
        let pieces = [(0, 100), (150, 400)];
        let spans = [
            (1_010, 1_020),
            (1_090, 1_160),
            (1_300, 1_350),
            (2_000, 2_100),
        ];
        assert_eq!(
            within(&pieces, &spans, 1_000),
            [(10, 20), (90, 100), (150, 160), (300, 350)]
        );
        assert!(within(&pieces, &[(5_000, 6_000)], 1_000).is_empty());
    }

    #[test]
    fn short_audio_gets_its_length_plus_a_margin_of_encoder_context() {
        // 3 s: 150 positions + 128 -> 320 (steps of 64), raised to the floor of 384.
        assert_eq!(short_audio_ctx(48_000, 1500), Some(384));
        // 6 s: 300 + 128 = 428 -> 448.
        assert_eq!(short_audio_ctx(96_000, 1500), Some(448));
        // 11 s: 550 + 128 = 678 -> 704.
        assert_eq!(short_audio_ctx(176_000, 1500), Some(704));
        // 28 s: 1400 + 128 > 1500: the full context.
        assert_eq!(short_audio_ctx(448_000, 1500), None);
        assert_eq!(short_audio_ctx(480_000, 1500), None);
        assert_eq!(short_audio_ctx(10 * 480_000, 1500), None);
    }
}
