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
        let total = span_end
            .or(pcm.expected_samples())
            .map(|e| e.saturating_sub(span_start))
            .unwrap_or(0);

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
            let (pieces, keep_from, speech, heard) = match &vad_path {
                Some(p) => {
                    let (plan, probs) = self.vad_plan(p, spec.vad_threads, &pending, eof)?;
                    stats.vad_regions += plan.regions() as u32;
                    let ms = |i: usize| (pending_start + i as u64) * 1000 / u64::from(WHISPER_RATE);
                    let regions = stats.speech_regions.get_or_insert_with(Vec::new);
                    for &(a, b) in &plan.pieces {
                        match regions.last_mut() {
                            Some(last) if ms(a) <= last[1] => last[1] = last[1].max(ms(b)),
                            _ => regions.push([ms(a), ms(b)]),
                        }
                    }
                    let map = SpeechMap {
                        start: pending_start,
                        probs,
                    };
                    (plan.pieces, plan.keep_from, map, plan.speech)
                }
                None => {
                    let (pieces, keep) = plain_plan(&pending, eof);
                    stats.vad_regions += pieces.len() as u32;
                    (pieces, keep, SpeechMap::default(), Vec::new())
                }
            };
            let pieces = if batch.len() > 1 {
                within(&pieces, &batch, pending_start)
            } else {
                pieces
            };
            let kept: usize = pieces.iter().map(|(a, b)| b - a).sum();
            stats.speech_ms += kept as u64 * 1000 / u64::from(WHISPER_RATE);
            // One whisper window per chunk, cut at pauses.
            let chunks = vad::chunks(&pieces, GAP, |from, to| {
                if speech.probs.is_empty() {
                    quietest_point(&pending[..to], from)
                } else {
                    vad::least_speech(&speech.probs, from, to)
                }
            });
            for chunk in &chunks {
                // Nothing audible (below -60 dBFS): whisper would only invent text for it.
                if chunk.iter().all(|&(a, b)| inaudible(&pending[a..b])) {
                    continue;
                }
                let (packed, map) = pack(&pending, chunk, pending_start);
                let call_started = Instant::now();
                // Progress: this chunk's part of the window.
                let (Some(&(first, _)), Some(&(_, last))) = (chunk.first(), chunk.last()) else {
                    continue;
                };
                let base = consumed + first as u64;
                let span = (last - first) as u64;
                let progress = ProgressCtx {
                    job: spec.job,
                    emit: emit.clone(),
                    base,
                    span,
                    total,
                    start: span_start,
                };
                let segments = self.call(
                    &mut state,
                    spec,
                    multilingual,
                    &packed,
                    cancel,
                    &progress,
                    emit,
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
                    stats.language = state_language(&state);
                }
                let mut found: Vec<Segment> = segments
                    .into_iter()
                    .filter_map(|s| map_segment(s, &map, &speech, dtw))
                    .collect();
                // A second look at the speech whisper passed over (a live step hears its
                // audio again at the next step instead).
                if !spec.params.single_decode {
                    let ms = |i: usize| to_ms(pending_start + i as u64);
                    let regions: Vec<(u64, u64)> = heard
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
                        &mut state,
                        spec,
                        multilingual,
                        &pending,
                        pending_start,
                        &regions,
                        &found,
                        cancel,
                        &progress,
                        emit,
                    )?;
                    stats.second_looks += looked.0;
                    found.extend(looked.1);
                    found.sort_by_key(|s| s.start_ms);
                }
                for segment in found {
                    stats.segments += 1;
                    emit(FromWorker::Segment {
                        job: spec.job,
                        segment,
                    });
                }
            }
            consumed += keep_from as u64;
            pending.drain(..keep_from);
            pending_start += keep_from as u64;
            emit(FromWorker::Progress {
                job: spec.job,
                fraction: fraction(consumed, total, eof && pending.is_empty()),
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

    /// What of `pending` to transcribe now, and the speech probability of its every frame.
    fn vad_plan(
        &mut self,
        path: &Path,
        threads: u32,
        pending: &[f32],
        eof: bool,
    ) -> Result<(vad::Plan, Vec<f32>), Failure> {
        let threads = threads.max(1);
        let reuse = self
            .vad
            .as_ref()
            .is_some_and(|(p, t, _)| p == path && *t == threads);
        if !reuse {
            let mut params = WhisperVadContextParams::new();
            params.set_n_threads(threads as i32);
            params.set_use_gpu(false);
            let path_str = path.to_str().ok_or_else(|| {
                Failure::permanent(format!(
                    "the VAD model path {} is not UTF-8",
                    path.display()
                ))
            })?;
            let ctx = WhisperVadContext::new(path_str, params).map_err(|e| {
                Failure::permanent(format!(
                    "whisper.cpp could not load the VAD model {} ({e})",
                    path.display()
                ))
            })?;
            self.vad = Some((path.to_path_buf(), threads, ctx));
        }
        let Some((_, _, vad)) = self.vad.as_mut() else {
            return Err(Failure::transient("VAD model not loaded"));
        };
        let mut probs = speech_probabilities(vad, pending)?;
        let plan = vad::plan(&probs, &vad::frame_db(pending), pending.len(), eof);
        // Words are placed on the speech in a piece: the loud stretches Silero missed count
        // as speech there too.
        for &(a, b) in &plan.loud_only {
            let frames = a / vad::FRAME..b.div_ceil(vad::FRAME).min(probs.len());
            for p in probs.get_mut(frames).into_iter().flatten() {
                *p = p.max(vad::THRESHOLD);
            }
        }
        Ok((plan, probs))
    }

    fn whisper_call(
        &mut self,
        state: &mut WhisperState,
        spec: &JobSpec,
        multilingual: bool,
        samples: &[f32],
        cancel: &Arc<AtomicBool>,
        progress: ProgressCtx,
    ) -> Result<Vec<RawSegment>, CallError> {
        if let Some(d) = self.faults.slow_call {
            let until = Instant::now() + d;
            while Instant::now() < until {
                if cancel.load(Ordering::Relaxed) {
                    return Err(CallError::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let on_gpu = self.loaded.as_ref().is_some_and(|l| l.gpu.is_some());
        if on_gpu {
            self.gpu_calls += 1;
            if self.faults.gpu_fail_at_call == Some(self.gpu_calls) {
                return Err(CallError::Failed("injected GPU failure".into()));
            }
        }
        let p = &spec.params;
        // Detected once per job (whisper.cpp detects it again, a full encoder pass, at every
        // call and retry asked for "auto").
        let mut language = match &self.job_language {
            Some(l) => l.clone(),
            None => language_for(p, multilingual),
        };
        let eot = self.loaded.as_ref().map_or(i32::MAX, |l| l.ctx.token_eot());
        let n_ctx = self.loaded.as_ref().map_or(1500, |l| l.n_audio_ctx);
        // Short audio: the encoder over the audio plus a margin, decoded once at temperature 0
        // and checked with whisper's own failure tests; a decode that fails them (a repetition
        // loop: a shorter context makes them likelier) is redone over the full window, with
        // the usual fallback and without the failed text as context.
        let short = short_audio_ctx(samples.len(), n_ctx).filter(|_| p.short_audio_ctx);
        let mut tries = short.into_iter().collect::<Vec<_>>();
        if let Some(c) = short {
            // A loop at one context length is often gone at twice it.
            let wider = (2 * c).div_ceil(64) * 64;
            if wider < n_ctx {
                tries.push(wider);
            }
        }
        let cap = short_token_cap(samples.len());
        for (i, ctx) in tries.into_iter().enumerate() {
            let attempt = Attempt {
                audio_ctx: Some(ctx),
                fallback: false,
                // The failed text of an earlier attempt must not prime this one.
                no_context: !p.carry_context || i > 0,
                max_tokens: Some(cap),
            };
            self.full(state, spec, &language, samples, cancel, &progress, attempt)?;
            if language == "auto" {
                language = self.remember_language(state);
            }
            let segments = read_segments(state, eot);
            let steps: usize = segments.iter().map(|s| s.ids.len() + 2).sum();
            let failure = if steps + 2 >= cap {
                Some(DecodeFailure::Cap(steps))
            } else {
                decode_failure(&segments)
            };
            match failure {
                None => return Ok(segments),
                Some(why) if p.single_decode => {
                    tracing::debug!(job = spec.job, "one decode only, and it failed ({why})");
                    return Ok(Vec::new());
                }
                Some(why) => tracing::debug!(
                    job = spec.job,
                    audio_ctx = ctx,
                    "short-context decode failed ({why}); trying a longer context"
                ),
            }
        }
        let attempt = Attempt {
            audio_ctx: None,
            max_tokens: None,
            fallback: p.temperature_fallback,
            // The failed text of a short attempt must not prime this one.
            no_context: !p.carry_context || short.is_some(),
        };
        self.full(state, spec, &language, samples, cancel, &progress, attempt)?;
        if language == "auto" {
            self.remember_language(state);
        }
        Ok(read_segments(state, eot))
    }

    /// One whisper window ([`Self::whisper_call`]); when the GPU fails mid-job, the model is
    /// loaded on the CPU (a fresh `state`), the job says so, and the window runs again there.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        state: &mut WhisperState,
        spec: &JobSpec,
        multilingual: bool,
        samples: &[f32],
        cancel: &Arc<AtomicBool>,
        progress: &ProgressCtx,
        emit: &Emit,
    ) -> Result<Vec<RawSegment>, Failure> {
        loop {
            match self.whisper_call(state, spec, multilingual, samples, cancel, progress.clone()) {
                Ok(s) => return Ok(s),
                Err(CallError::Cancelled) => return Err(Failure::cancelled()),
                Err(CallError::Failed(message)) => {
                    let on_gpu = self.loaded.as_ref().is_some_and(|l| l.gpu.is_some());
                    if !on_gpu {
                        return Err(Failure::transient(format!("whisper.cpp failed: {message}")));
                    }
                    // The GPU failed mid-job: finish on the CPU.
                    tracing::warn!(
                        job = spec.job,
                        "GPU failed ({message}); continuing on the CPU"
                    );
                    self.loaded = None;
                    let dtw = spec.params.word_timing == WordTiming::Dtw;
                    self.load(&spec.model, None, dtw)?;
                    *state = self.new_state()?;
                    emit(FromWorker::FellBack {
                        job: spec.job,
                        backend: Backend {
                            ran: backend::describe_cpu(spec.threads),
                            gpu: false,
                            fallback: Some(format!("the GPU failed mid-job ({message})")),
                        },
                    });
                }
            }
        }
    }

    /// The language whisper detected in its last call, kept for the rest of the job.
    fn remember_language(&mut self, state: &WhisperState) -> String {
        match state_language(state) {
            Some(l) => {
                self.job_language = Some(l.clone());
                l
            }
            None => "auto".into(),
        }
    }

    /// whisper again over each stretch of `regions` (speech the VAD heard, ms of the file)
    /// that no segment of `found` covers ([`vad::unheard`]), heard alone: whisper's decoder often
    /// ends a window early when quieter speech (a whispered aside, a far voice) follows
    /// louder speech, and the words are lost although the VAD kept them. A stretch's words
    /// are kept when they fall inside it and whisper is sure enough of them
    /// ([`SECOND_LOOK_MIN_P`]); the count of stretches looked at and the segments found.
    #[allow(clippy::too_many_arguments)]
    fn second_look(
        &mut self,
        state: &mut WhisperState,
        spec: &JobSpec,
        multilingual: bool,
        pending: &[f32],
        pending_start: u64,
        regions: &[(u64, u64)],
        found: &[Segment],
        cancel: &Arc<AtomicBool>,
        progress: &ProgressCtx,
        emit: &Emit,
    ) -> Result<(u32, Vec<Segment>), Failure> {
        let dtw = spec.params.word_timing == WordTiming::Dtw;
        // Covered by a segment's span, not by its words: word times depend on how words are
        // timed, and a stretch inside a segment would overlap it.
        let said: Vec<(u64, u64)> = found.iter().map(|s| (s.start_ms, s.end_ms)).collect();
        let stretches = vad::unheard(regions, &said);
        if stretches.is_empty() {
            return Ok((0, Vec::new()));
        }
        // Alone: no text before it primes the decoder (that text is what it skipped after).
        let mut alone = spec.clone();
        alone.params.carry_context = false;
        let sample =
            |ms: u64| (ms * u64::from(WHISPER_RATE) / 1000).saturating_sub(pending_start) as usize;
        let mut out = Vec::new();
        for &(a, b) in &stretches {
            let from = sample(a).saturating_sub(vad::PAD);
            let to = (sample(b) + vad::PAD).min(pending.len());
            if from >= to || inaudible(&pending[from..to]) {
                continue;
            }
            let (packed, map) = pack(pending, &[(from, to)], pending_start);
            let raw = self.call(state, &alone, multilingual, &packed, cancel, progress, emit)?;
            let unsure = SpeechMap::default();
            let mut kept = 0;
            for seg in raw
                .into_iter()
                .filter_map(|s| map_segment(s, &map, &unsure, dtw))
            {
                let inside: Vec<Word> = seg
                    .words
                    .iter()
                    .filter(|w| (a..b).contains(&((w.start_ms + w.end_ms) / 2)))
                    .map(|w| Word {
                        start_ms: w.start_ms.clamp(a, b),
                        end_ms: w.end_ms.clamp(a, b),
                        ..w.clone()
                    })
                    .collect();
                let Some(mut piece) = Segment::of_words(&inside) else {
                    continue;
                };
                if piece.confidence.unwrap_or(0.0) < SECOND_LOOK_MIN_P {
                    tracing::debug!(job = spec.job, text = %piece.text, "second look: unsure, dropped");
                    continue;
                }
                piece.no_speech = seg.no_speech;
                piece.avg_logprob = seg.avg_logprob;
                kept += 1;
                out.push(piece);
            }
            tracing::debug!(
                job = spec.job,
                from_ms = a,
                to_ms = b,
                segments = kept,
                "second look"
            );
        }
        Ok((stretches.len() as u32, out))
    }

    /// One `whisper_full` call.
    #[allow(clippy::too_many_arguments)]
    fn full(
        &mut self,
        state: &mut WhisperState,
        spec: &JobSpec,
        language: &str,
        samples: &[f32],
        cancel: &Arc<AtomicBool>,
        progress: &ProgressCtx,
        attempt: Attempt,
    ) -> Result<(), CallError> {
        let p = &spec.params;
        let strategy = match p.beam_size {
            Some(b) if b > 1 => SamplingStrategy::BeamSearch {
                beam_size: b as i32,
                patience: -1.0,
            },
            _ => SamplingStrategy::Greedy {
                best_of: p.best_of.max(1) as i32,
            },
        };
        let mut params = FullParams::new(strategy);
        let threads = if spec.adapt_threads {
            self.cores.threads(spec.threads)
        } else {
            spec.threads.max(1)
        };
        if threads < spec.threads && self.fewest_threads.is_none_or(|t| threads < t) {
            tracing::info!(
                job = spec.job,
                "other programs keep cores busy: whisper runs with {threads} of {} threads",
                spec.threads
            );
            self.fewest_threads = Some(threads);
        }
        params.set_n_threads(threads as i32);
        params.set_translate(p.translate);
        params.set_language(Some(language));
        params.set_no_speech_thold(p.no_speech_threshold);
        params.set_temperature_inc(if attempt.fallback { 0.2 } else { 0.0 });
        // Non-speech tokens ("[", "(", "♪", ...) are never decoded: no "[BLANK_AUDIO]".
        params.set_suppress_nst(true);
        // The text so far primes the next window, across calls too (same state).
        params.set_no_context(attempt.no_context);
        if let Some(ctx) = attempt.audio_ctx {
            params.set_audio_ctx(ctx as i32);
        }
        if let Some(n) = attempt.max_tokens {
            params.set_max_tokens(n as i32);
        }
        if let Some(prompt) = &p.initial_prompt {
            let clean: String = prompt.chars().filter(|c| *c != '\0').collect();
            params.set_initial_prompt(&clean);
        }
        params.set_token_timestamps(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        let flag = cancel.clone();
        let abort: Box<dyn FnMut() -> bool> = Box::new(move || flag.load(Ordering::Relaxed));
        // A boxed closure: whisper-rs 0.16's trampoline for this callback is typed by the
        // closure type but receives a box of it, which is only sound when they coincide.
        params.set_abort_callback_safe::<_, Box<dyn FnMut() -> bool>>(Some(abort));
        let progress = progress.clone();
        let on_progress: Box<dyn FnMut(i32)> = Box::new(move |pct| progress.report(pct));
        params.set_progress_callback_safe::<_, Box<dyn FnMut(i32)>>(Some(on_progress));

        let result = state.full(params, samples);
        if cancel.load(Ordering::Relaxed) {
            return Err(CallError::Cancelled);
        }
        if let Err(e) = result {
            return Err(CallError::Failed(e.to_string()));
        }
        if self.faults.abort_after_call {
            tracing::error!("injected crash: aborting the worker");
            std::process::abort();
        }
        Ok(())
    }
}

#[derive(Debug)]
enum CallError {
    Cancelled,
    Failed(String),
}

/// How one `whisper_full` call is made.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    audio_ctx: Option<usize>,
    /// Decoding steps per window (a loop stops there).
    max_tokens: Option<usize>,
    fallback: bool,
    no_context: bool,
}

/// Decoding steps allowed to a short-context attempt: speech runs at about 4 tokens a second,
/// so twice that plus room for the timestamps never cuts real text, and a loop stops early.
fn short_token_cap(samples: usize) -> usize {
    24 + 8 * samples.div_ceil(WHISPER_RATE as usize)
}

/// whisper's thresholds for a failed decode (`entropy_thold`, `logprob_thold`).
const ENTROPY_THOLD: f64 = 2.4;
const LOGPROB_THOLD: f64 = -1.0;

/// Why a short-context decode is not taken as it is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DecodeFailure {
    /// It used every decoding step allowed to its audio (a loop).
    Cap(usize),
    /// The entropy of its last 32 tokens: they repeat.
    Repeats(f64),
    /// The mean log-probability of its tokens: whisper doubts the text.
    Improbable(f64),
}

impl std::fmt::Display for DecodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cap(n) => write!(f, "{n} tokens, the cap for this audio"),
            Self::Repeats(e) => write!(f, "entropy {e:.2} of the last 32 tokens"),
            Self::Improbable(l) => write!(f, "mean log-probability {l:.2}"),
        }
    }
}

/// Why a decode failed whisper's tests (what makes whisper retry at a higher temperature):
/// the last 32 tokens repeat (entropy below 2.4), or the text is improbable (mean token
/// log-probability below -1.0) in audio that is not silence.
fn decode_failure(segments: &[RawSegment]) -> Option<DecodeFailure> {
    let ids: Vec<i32> = segments
        .iter()
        .flat_map(|s| s.ids.iter().copied())
        .collect();
    if ids.len() > 32 {
        let last = &ids[ids.len() - 32..];
        let mut counts: std::collections::HashMap<i32, usize> = std::collections::HashMap::new();
        for id in last {
            *counts.entry(*id).or_default() += 1;
        }
        let entropy: f64 = counts
            .values()
            .map(|&c| {
                let p = c as f64 / last.len() as f64;
                -p * p.ln()
            })
            .sum();
        if entropy < ENTROPY_THOLD {
            return Some(DecodeFailure::Repeats(entropy));
        }
    }
    let logprobs: Vec<f32> = segments
        .iter()
        .flat_map(|s| s.logprobs.iter().copied())
        .collect();
    let speech = segments.iter().any(|s| s.no_speech < 0.6);
    if !logprobs.is_empty() && speech {
        let mean = logprobs.iter().map(|l| f64::from(*l)).sum::<f64>() / logprobs.len() as f64;
        if mean < LOGPROB_THOLD {
            return Some(DecodeFailure::Improbable(mean));
        }
    }
    None
}

/// The language to ask whisper for.
fn language_for(p: &DecodeParams, multilingual: bool) -> String {
    if !multilingual {
        return "en".into();
    }
    match &p.language {
        Some(l) if !l.is_empty() && l != "auto" => l.clone(),
        _ => "auto".into(),
    }
}

fn state_language(state: &WhisperState) -> Option<String> {
    let id = state.full_lang_id_from_state();
    whisper_rs::get_lang_str(id).map(str::to_string)
}

#[derive(Clone)]
struct ProgressCtx {
    job: i64,
    emit: Emit,
    /// Samples of the job done before this call.
    base: u64,
    /// Samples this call covers.
    span: u64,
    total: u64,
    start: u64,
}

impl ProgressCtx {
    fn report(&self, pct: i32) {
        let done = self.base + self.span * pct.clamp(0, 100) as u64 / 100;
        (self.emit)(FromWorker::Progress {
            job: self.job,
            fraction: fraction(done, self.total, false),
            audio_done_ms: (self.start + done) * 1000 / u64::from(WHISPER_RATE),
        });
    }
}

fn fraction(done: u64, total: u64, finished: bool) -> f32 {
    if finished {
        return 1.0;
    }
    if total == 0 {
        return 0.0;
    }
    (done as f64 / total as f64).clamp(0.0, 0.999) as f32
}

/// A text token in the packed buffer's time (samples).
#[derive(Debug, Clone)]
struct RawToken {
    /// whisper's token timestamps.
    t0: u64,
    t1: u64,
    /// The DTW alignment's time for it (when the model was loaded with DTW).
    dtw: Option<u64>,
    text: String,
    p: f32,
}

/// A segment in the packed buffer's time (samples).
#[derive(Debug, Clone)]
struct RawSegment {
    start: u64,
    end: u64,
    text: String,
    no_speech: f32,
    tokens: Vec<RawToken>,
    /// Every text token's id and log-probability (whisper's failure tests).
    ids: Vec<i32>,
    logprobs: Vec<f32>,
}

fn read_segments(state: &WhisperState, eot: i32) -> Vec<RawSegment> {
    let cs = u64::from(WHISPER_RATE) / 100;
    let mut out = Vec::new();
    for i in 0..state.full_n_segments() {
        let Some(seg) = state.get_segment(i) else {
            continue;
        };
        let text = seg
            .to_str_lossy()
            .map(|t| t.into_owned())
            .unwrap_or_default();
        let mut tokens = Vec::new();
        let (mut ids, mut logprobs) = (Vec::new(), Vec::new());
        for j in 0..seg.n_tokens() {
            let Some(tok) = seg.get_token(j) else {
                continue;
            };
            let data = tok.token_data();
            if data.id >= eot {
                continue;
            }
            ids.push(data.id);
            logprobs.push(data.plog);
            let t = tok
                .to_str_lossy()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            tokens.push(RawToken {
                t0: data.t0.max(0) as u64 * cs,
                t1: data.t1.max(0) as u64 * cs,
                dtw: (data.t_dtw >= 0).then(|| data.t_dtw as u64 * cs),
                text: t,
                p: data.p,
            });
        }
        out.push(RawSegment {
            start: seg.start_timestamp().max(0) as u64 * cs,
            end: seg.end_timestamp().max(0) as u64 * cs,
            text,
            no_speech: seg.no_speech_probability(),
            tokens,
            ids,
            logprobs,
        });
    }
    out
}

/// Where packed speech came from: (packed start, file start, length), in samples.
type SpanMap = Vec<(u64, u64, u64)>;

/// Which way a packed time that falls in a gap between regions (where there is no audio of
/// the file) goes: a start to the next region, an end back to the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Start,
    End,
}

fn map_time(map: &SpanMap, t: u64, edge: Edge) -> u64 {
    let idx = map.partition_point(|(p, _, _)| *p <= t);
    let Some((p, f, len)) = map.get(idx.saturating_sub(1)) else {
        return map.first().map_or(0, |(_, f, _)| *f);
    };
    let into = t.saturating_sub(*p);
    if into <= *len {
        return f + into;
    }
    match (edge, map.get(idx)) {
        (Edge::Start, Some((_, next, _))) => *next,
        _ => f + len,
    }
}

fn to_ms(samples: u64) -> u64 {
    samples * 1000 / u64::from(WHISPER_RATE)
}

/// A word in the packed buffer's time: its tokens' text and times.
struct PackedWord {
    text: String,
    /// Token timestamps: the first token's start, the last token's end.
    t0: u64,
    t1: u64,
    /// The DTW time of its first token.
    dtw: Option<u64>,
    p: f32,
}

/// Groups a segment's text tokens into words: a token starting with a space starts a new
/// word; tokens inside a non-speech annotation are dropped with it. Also the probabilities
/// of the tokens kept.
fn packed_words(tokens: Vec<RawToken>) -> (Vec<PackedWord>, Vec<f32>) {
    let mut words: Vec<PackedWord> = Vec::new();
    let mut probs = Vec::new();
    let mut tags = TagFilter::default();
    for token in tokens {
        let text = tags.feed(&token.text);
        if text.trim().is_empty() {
            continue;
        }
        probs.push(token.p);
        match words.last_mut() {
            Some(w) if !text.starts_with(' ') => {
                w.text.push_str(&text);
                w.t1 = w.t1.max(token.t1);
                w.p = w.p.min(token.p);
            }
            _ => words.push(PackedWord {
                text: text.trim_start().to_string(),
                t0: token.t0,
                t1: token.t1.max(token.t0),
                dtw: token.dtw,
                p: token.p,
            }),
        }
    }
    words.retain(|w| !w.text.trim().is_empty());
    (words, probs)
}

/// Each word's (start, end) in packed time. With DTW (when every word has a DTW time) a word
/// starts where the alignment reaches its first token and ends where the next word starts
/// (the last one at its token end, or the segment's end); otherwise the token timestamps.
fn word_spans(words: &[PackedWord], segment_end: u64, dtw: bool) -> Vec<(u64, u64)> {
    let starts: Option<Vec<u64>> = words.iter().map(|w| w.dtw).collect();
    match starts.filter(|_| dtw) {
        Some(starts) => (0..words.len())
            .map(|i| {
                let start = starts[i];
                let end = match starts.get(i + 1) {
                    Some(&next) => next,
                    None => words[i].t1.max(segment_end.min(start + LAST_WORD_MAX)),
                };
                (start, end.max(start))
            })
            .collect(),
        None => words.iter().map(|w| (w.t0, w.t1)).collect(),
    }
}

/// The longest a segment's last word is stretched to the segment's end under DTW (samples).
const LAST_WORD_MAX: u64 = WHISPER_RATE as u64;

fn map_segment(raw: RawSegment, map: &SpanMap, speech: &SpeechMap, dtw: bool) -> Option<Segment> {
    let text = nonspeech::strip(&raw.text);
    if text.is_empty() {
        return None;
    }
    // The segment on the file's time line, then placed on the speech in it (its words too).
    let (a, b) = (
        map_time(map, raw.start, Edge::Start),
        map_time(map, raw.end, Edge::End).max(map_time(map, raw.start, Edge::Start)),
    );
    let warp = speech.warp(a, b);
    let place = |t: u64| warp.as_ref().map_or(t.clamp(a, b), |w| w.map(t));
    let (fa, fb) = warp.as_ref().map_or((a, b), vad::Warp::bounds);
    let (start_ms, end_ms) = (to_ms(fa), to_ms(fb).max(to_ms(fa)));
    let avg_logprob = (!raw.logprobs.is_empty())
        .then(|| raw.logprobs.iter().sum::<f32>() / raw.logprobs.len() as f32);
    let (packed, probs) = packed_words(raw.tokens);
    let spans = word_spans(&packed, raw.end, dtw);
    let words = packed
        .into_iter()
        .zip(spans)
        .map(|(w, (t0, t1))| {
            let s0 = place(map_time(map, t0, Edge::Start));
            let s1 = place(map_time(map, t1, Edge::End)).max(s0);
            let (s0, s1) = speech.snap(s0, s1);
            let (s, e) = (to_ms(s0), to_ms(s1));
            Word {
                start_ms: s.max(start_ms).min(end_ms),
                end_ms: e.max(s).min(end_ms).max(start_ms),
                text: w.text,
                p: w.p,
            }
        })
        .collect();
    let confidence = if probs.is_empty() {
        None
    } else {
        Some((probs.iter().sum::<f32>() / probs.len() as f32).clamp(0.0, 1.0))
    };
    Some(Segment {
        start_ms,
        end_ms,
        text,
        confidence,
        no_speech: raw.no_speech,
        avg_logprob,
        words,
    })
}

/// DTW's alignment heads for a model, told by its dimensions: the published presets where
/// the dimensions name one model, else the top half of the text layers' heads.
fn dtw_mode(h: &model_file::WhisperHparams) -> DtwMode<'static> {
    let en = !h.multilingual();
    let preset = match (h.n_text_layer, h.n_text_state, en) {
        (4, 384, true) => Some(DtwModelPreset::TinyEn),
        (4, 384, false) => Some(DtwModelPreset::Tiny),
        (6, 512, true) => Some(DtwModelPreset::BaseEn),
        (6, 512, false) => Some(DtwModelPreset::Base),
        (12, 768, true) => Some(DtwModelPreset::SmallEn),
        (12, 768, false) => Some(DtwModelPreset::Small),
        (24, 1024, true) => Some(DtwModelPreset::MediumEn),
        (24, 1024, false) => Some(DtwModelPreset::Medium),
        // large-v3 has 128 mel bins; v1 and v2 (80) have different heads: no preset.
        (32, 1280, false) if h.n_mels == 128 => Some(DtwModelPreset::LargeV3),
        (4, 1280, false) if h.n_mels == 128 => Some(DtwModelPreset::LargeV3Turbo),
        _ => None,
    };
    match preset {
        Some(model_preset) => DtwMode::ModelPreset { model_preset },
        None => DtwMode::TopMost {
            n_top: (h.n_text_layer / 2).max(1),
        },
    }
}

/// Packs `pieces` of `pending` (which starts at file sample `offset`) back to back with a
/// short silence between them.
fn pack(pending: &[f32], pieces: &[(usize, usize)], offset: u64) -> (Vec<f32>, SpanMap) {
    let len: usize = pieces.iter().map(|(a, b)| b - a + GAP).sum();
    let mut packed = Vec::with_capacity(len);
    let mut map = Vec::with_capacity(pieces.len());
    for (i, (a, b)) in pieces.iter().enumerate() {
        if i > 0 {
            packed.resize(packed.len() + GAP, 0.0);
        }
        map.push((packed.len() as u64, offset + *a as u64, (b - a) as u64));
        packed.extend_from_slice(&pending[*a..*b]);
    }
    // whisper needs at least a second of audio to decode anything sensible.
    if packed.len() < WHISPER_RATE as usize {
        packed.resize(WHISPER_RATE as usize + WHISPER_RATE as usize / 10, 0.0);
    }
    (packed, map)
}

/// The parts of `pieces` (indices into a buffer that starts at sample `offset` of the file)
/// that lie inside `spans` (samples of the file, in time order, disjoint).
fn within(pieces: &[(usize, usize)], spans: &[(u64, u64)], offset: u64) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for &(a, b) in pieces {
        let (fa, fb) = (offset + a as u64, offset + b as u64);
        // The first span that ends after the piece starts.
        let first = spans.partition_point(|&(_, e)| e <= fa);
        for &(sa, sb) in spans[first..].iter().take_while(|&&(sa, _)| sa < fb) {
            let (x, y) = (sa.max(fa), sb.min(fb));
            if x < y {
                out.push(((x - offset) as usize, (y - offset) as usize));
            }
        }
    }
    out
}

/// Peak below which audio is silence (-60 dBFS).
const INAUDIBLE_PEAK: f32 = 0.001;
/// The least mean token probability of the words a second look keeps.
const SECOND_LOOK_MIN_P: f32 = 0.5;

/// Whether `samples` hold nothing audible.
fn inaudible(samples: &[f32]) -> bool {
    samples.iter().all(|s| s.abs() < INAUDIBLE_PEAK)
}

/// Without VAD: everything up to a quiet point near the window's end (all of it at EOF).
fn plain_plan(pending: &[f32], eof: bool) -> (Vec<(usize, usize)>, usize) {
    if eof || pending.len() < WINDOW {
        return (vec![(0, pending.len())], pending.len());
    }
    let cut = quietest_point(
        pending,
        pending.len().saturating_sub(10 * WHISPER_RATE as usize),
    );
    (vec![(0, cut)], cut)
}

/// The start of the quietest 20 ms frame in `pending[from..]`.
fn quietest_point(pending: &[f32], from: usize) -> usize {
    let frame = WHISPER_RATE as usize / 50;
    let mut best = (f32::MAX, pending.len());
    let mut i = from;
    while i + frame <= pending.len() {
        let e: f32 = pending[i..i + frame].iter().map(|s| s * s).sum();
        if e < best.0 {
            best = (e, i);
        }
        i += frame;
    }
    best.1.max(1)
}

/// Silero's speech probability for every frame of `samples`.
fn speech_probabilities(vad: &mut WhisperVadContext, samples: &[f32]) -> Result<Vec<f32>, Failure> {
    vad.detect_speech(samples)
        .map_err(|e| Failure::transient(format!("voice activity detection failed ({e})")))?;
    Ok(vad.probabilities().to_vec())
}

/// The encoder context for a call of `len` samples: the audio plus a margin, in steps of 64,
/// at least [`MIN_AUDIO_CTX`], when the audio is shorter than whisper's window; `None`: the
/// model's full context.
pub fn short_audio_ctx(len: usize, n_audio_ctx: usize) -> Option<usize> {
    if len >= WHISPER_WINDOW {
        return None;
    }
    let ctx = (len.div_ceil(CTX_PER_SAMPLE) + AUDIO_CTX_MARGIN)
        .div_ceil(64)
        .max(MIN_AUDIO_CTX / 64)
        * 64;
    (ctx < n_audio_ctx).then_some(ctx)
}

/// Runs Silero over a whole file (16 kHz mono) and returns the speech regions in ms: the
/// `verbatim vad` check and the VAD tests.
pub fn detect_speech_file(
    model: &Path,
    audio: &Path,
    threads: u32,
) -> Result<Vec<(u64, u64)>, Failure> {
    model_file::inspect_vad_file(model).map_err(|e| Failure::permanent(e.to_string()))?;
    whisper_rs::install_logging_hooks();
    let samples =
        crate::media::decode::read_all(audio).map_err(|e| Failure::permanent(e.to_string()))?;
    let mut params = WhisperVadContextParams::new();
    params.set_n_threads(threads.max(1) as i32);
    params.set_use_gpu(false);
    let path = model
        .to_str()
        .ok_or_else(|| Failure::permanent("the VAD model path is not UTF-8"))?;
    let mut vad = WhisperVadContext::new(path, params).map_err(|e| {
        Failure::permanent(format!("whisper.cpp could not load the VAD model ({e})"))
    })?;
    let probs = speech_probabilities(&mut vad, &samples)?;
    Ok(vad::regions(&probs, samples.len())
        .into_iter()
        .map(|(a, b)| (to_ms(a as u64), to_ms(b as u64)))
        .collect())
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
