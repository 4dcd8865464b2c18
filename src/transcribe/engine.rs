//! The whisper.cpp engine, as it runs inside the `verbatim worker` process.
//!
//! A job streams its audio ([`Pcm16k`]) in windows of two minutes. With voice activity
//! detection on, Silero (`WhisperVadContext`, one thread) finds the speech in each window;
//! the speech regions are packed back to back (a short gap between them) and sent to
//! whisper in one call, and every timestamp is mapped back onto the file's time line.
//! Silence never reaches whisper, so it cannot hallucinate on it. A region still open at the
//! end of a window is carried into the next one, so no word is cut in two. Memory stays
//! bounded by the window, whatever the file's length.
//!
//! The model is loaded once per (file, device) and kept; each job gets a fresh state.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
    WhisperVadContext, WhisperVadContextParams, WhisperVadParams,
};

use super::audio::{Pcm16k, WHISPER_RATE};
use super::backend::{self, GpuDevice};
use super::model_file;
use super::protocol::{
    Backend, DecodeParams, FailKind, FromWorker, GpuPref, JobSpec, JobStats, Segment, Word,
};

/// Audio read per step (16 kHz samples): two minutes.
const WINDOW: usize = 120 * WHISPER_RATE as usize;
/// Silence inserted between packed speech regions.
const GAP: usize = WHISPER_RATE as usize / 2;
/// Context kept around each speech region.
const PAD: usize = WHISPER_RATE as usize / 5;
/// A region ending this close to the window's end may continue in the next window.
const OPEN_MARGIN: usize = WHISPER_RATE as usize / 2;
/// Longest speech region the VAD returns (it splits longer ones), in seconds.
const MAX_SPEECH_S: f32 = 30.0;

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
}

/// The engine: at most one speech model and one VAD model loaded.
pub struct Engine {
    loaded: Option<Loaded>,
    vad: Option<(PathBuf, u32, WhisperVadContext)>,
    faults: Faults,
    gpu_calls: u32,
}

impl Engine {
    pub fn new(faults: Faults) -> Self {
        Self {
            loaded: None,
            vad: None,
            faults,
            gpu_calls: 0,
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
        let info = model_file::inspect_whisper_file(&spec.model)
            .map_err(|e| Failure::permanent(e.to_string()))?;
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

        let (backend, load_ms) = self.ensure_model(&spec.model, spec.gpu, spec.threads)?;
        emit(FromWorker::Started {
            job: spec.job,
            backend,
        });
        let mut pcm = Pcm16k::open(&spec.audio).map_err(|e| Failure::permanent(e.to_string()))?;
        let (span_start, span_end) = match spec.span_ms {
            Some((a, b)) => (
                a * u64::from(WHISPER_RATE) / 1000,
                Some(b * u64::from(WHISPER_RATE) / 1000),
            ),
            None => (0, None),
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
            let (pieces, keep_from) = match &vad_path {
                Some(p) => self.vad_plan(p, spec.vad_threads, &pending, eof)?,
                None => plain_plan(&pending, eof),
            };
            stats.vad_regions += pieces.len() as u32;
            if !pieces.is_empty() {
                let (packed, map) = pack(&pending, &pieces, pending_start);
                let speech: usize = pieces.iter().map(|(a, b)| b - a).sum();
                stats.speech_ms += speech as u64 * 1000 / u64::from(WHISPER_RATE);
                let base = consumed;
                let span = keep_from as u64;
                let progress = ProgressCtx {
                    job: spec.job,
                    emit: emit.clone(),
                    base,
                    span,
                    total,
                    start: span_start,
                };
                let segments = loop {
                    match self.whisper_call(
                        &mut state,
                        spec,
                        multilingual,
                        &packed,
                        cancel,
                        progress.clone(),
                    ) {
                        Ok(s) => break s,
                        Err(CallError::Cancelled) => return Err(Failure::cancelled()),
                        Err(CallError::Failed(message)) => {
                            let on_gpu = self.loaded.as_ref().is_some_and(|l| l.gpu.is_some());
                            if !on_gpu {
                                return Err(Failure::transient(format!(
                                    "whisper.cpp failed: {message}"
                                )));
                            }
                            // The GPU failed mid-job: finish on the CPU.
                            tracing::warn!(
                                job = spec.job,
                                "GPU failed ({message}); continuing on the CPU"
                            );
                            self.loaded = None;
                            self.load(&spec.model, None)?;
                            state = self.new_state()?;
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
                };
                if stats.language.is_none() {
                    stats.language = state_language(&state);
                }
                for segment in segments.into_iter().filter_map(|s| map_segment(s, &map)) {
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
        Ok(stats)
    }

    /// Loads the model on the device `pref` allows, reusing a loaded one; what runs.
    fn ensure_model(
        &mut self,
        path: &Path,
        pref: GpuPref,
        threads: u32,
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
            .is_some_and(|l| l.path == path && l.gpu == want_gpu);
        let mut load_ms = 0;
        if !reuse {
            self.loaded = None;
            match self.load(path, want_gpu.clone()) {
                Ok(ms) => load_ms = ms,
                Err(e) if want_gpu.is_some() => {
                    tracing::warn!("loading on the GPU failed ({}); using the CPU", e.message);
                    fallback = Some(format!("the GPU could not be used ({})", e.message));
                    load_ms = self.load(path, None)?;
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

    fn load(&mut self, path: &Path, gpu: Option<GpuDevice>) -> Result<u64, Failure> {
        let t = Instant::now();
        let mut params = WhisperContextParameters::new();
        // The fake test GPU is the CPU underneath.
        params.use_gpu(gpu.is_some() && !self.faults.fake_gpu);
        params.gpu_device(0);
        let ctx = WhisperContext::new_with_params(path, params).map_err(|e| {
            Failure::transient(format!(
                "whisper.cpp could not load {} ({e}); out of memory?",
                path.display()
            ))
        })?;
        let load_ms = t.elapsed().as_millis() as u64;
        tracing::info!(model = %path.display(), load_ms, gpu = ?gpu, "model loaded");
        self.gpu_calls = 0;
        self.loaded = Some(Loaded {
            path: path.to_path_buf(),
            gpu,
            ctx,
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

    /// Speech regions of `pending` to transcribe now, and how much of `pending` they use up.
    fn vad_plan(
        &mut self,
        path: &Path,
        threads: u32,
        pending: &[f32],
        eof: bool,
    ) -> Result<(Vec<(usize, usize)>, usize), Failure> {
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
        let regions = speech_regions(vad, pending)?;
        Ok(plan_regions(&regions, pending.len(), eof))
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
        let language = language_for(p, multilingual);
        params.set_n_threads(spec.threads.max(1) as i32);
        params.set_translate(p.translate);
        params.set_language(Some(language.as_str()));
        params.set_no_speech_thold(p.no_speech_threshold);
        params.set_temperature_inc(if p.temperature_fallback { 0.2 } else { 0.0 });
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
        let eot = self.loaded.as_ref().map_or(i32::MAX, |l| l.ctx.token_eot());
        Ok(read_segments(state, eot))
    }
}

#[derive(Debug)]
enum CallError {
    Cancelled,
    Failed(String),
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

/// A segment in the packed buffer's time (samples).
#[derive(Debug, Clone)]
struct RawSegment {
    start: u64,
    end: u64,
    text: String,
    no_speech: f32,
    tokens: Vec<(u64, u64, String, f32)>,
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
        for j in 0..seg.n_tokens() {
            let Some(tok) = seg.get_token(j) else {
                continue;
            };
            let data = tok.token_data();
            if data.id >= eot {
                continue;
            }
            let t = tok
                .to_str_lossy()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            tokens.push((
                data.t0.max(0) as u64 * cs,
                data.t1.max(0) as u64 * cs,
                t,
                data.p,
            ));
        }
        out.push(RawSegment {
            start: seg.start_timestamp().max(0) as u64 * cs,
            end: seg.end_timestamp().max(0) as u64 * cs,
            text,
            no_speech: seg.no_speech_probability(),
            tokens,
        });
    }
    out
}

/// Where packed speech came from: (packed start, file start, length), in samples.
type SpanMap = Vec<(u64, u64, u64)>;

fn map_time(map: &SpanMap, t: u64) -> u64 {
    let idx = map.partition_point(|(p, _, _)| *p <= t);
    let Some((p, f, len)) = map.get(idx.saturating_sub(1)) else {
        return 0;
    };
    f + (t.saturating_sub(*p)).min(*len)
}

fn to_ms(samples: u64) -> u64 {
    samples * 1000 / u64::from(WHISPER_RATE)
}

fn map_segment(raw: RawSegment, map: &SpanMap) -> Option<Segment> {
    let text = raw.text.trim().to_string();
    if text.is_empty() {
        return None;
    }
    let start_ms = to_ms(map_time(map, raw.start));
    let end_ms = to_ms(map_time(map, raw.end)).max(start_ms);
    // Tokens into words: a token starting with a space starts a new word.
    let mut words: Vec<Word> = Vec::new();
    let mut probs = Vec::new();
    for (t0, t1, text, p) in raw.tokens {
        if text.is_empty() {
            continue;
        }
        probs.push(p);
        let (s, e) = (to_ms(map_time(map, t0)), to_ms(map_time(map, t1)));
        match words.last_mut() {
            Some(w) if !text.starts_with(' ') => {
                w.text.push_str(&text);
                w.end_ms = w.end_ms.max(e);
                w.p = w.p.min(p);
            }
            _ => words.push(Word {
                start_ms: s.max(start_ms).min(end_ms),
                end_ms: e.max(s).min(end_ms).max(start_ms),
                text: text.trim_start().to_string(),
                p,
            }),
        }
    }
    words.retain(|w| !w.text.is_empty());
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
        words,
    })
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

/// Silero speech regions of `samples`, in samples.
fn speech_regions(
    vad: &mut WhisperVadContext,
    samples: &[f32],
) -> Result<Vec<(usize, usize)>, Failure> {
    let mut params = WhisperVadParams::new();
    params.set_max_speech_duration(MAX_SPEECH_S);
    let segments = vad
        .segments_from_samples(params, samples)
        .map_err(|e| Failure::transient(format!("voice activity detection failed ({e})")))?;
    let cs = WHISPER_RATE as f32 / 100.0;
    Ok(segments
        .map(|s| {
            let a = (s.start.max(0.0) * cs) as usize;
            let b = (s.end.max(0.0) * cs) as usize;
            (a.min(samples.len()), b.min(samples.len()))
        })
        .filter(|(a, b)| b > a)
        .collect())
}

/// Pads and merges regions; holds back one still open at the window's end.
pub(crate) fn plan_regions(
    regions: &[(usize, usize)],
    len: usize,
    eof: bool,
) -> (Vec<(usize, usize)>, usize) {
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    for (a, b) in regions {
        let (a, b) = (a.saturating_sub(PAD), (b + PAD).min(len));
        match pieces.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => pieces.push((a, b)),
        }
    }
    if eof {
        return (pieces, len);
    }
    match pieces.last() {
        // Still speaking at the end of the window: carry the region into the next one
        // (unless it fills the whole window; then cut there).
        Some(&(a, b)) if b + OPEN_MARGIN >= len && a > 0 => {
            pieces.pop();
            (pieces, a)
        }
        _ => (pieces, len),
    }
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
    let samples = super::audio::read_all(audio).map_err(|e| Failure::permanent(e.to_string()))?;
    let mut params = WhisperVadContextParams::new();
    params.set_n_threads(threads.max(1) as i32);
    params.set_use_gpu(false);
    let path = model
        .to_str()
        .ok_or_else(|| Failure::permanent("the VAD model path is not UTF-8"))?;
    let mut vad = WhisperVadContext::new(path, params).map_err(|e| {
        Failure::permanent(format!("whisper.cpp could not load the VAD model ({e})"))
    })?;
    Ok(speech_regions(&mut vad, &samples)?
        .into_iter()
        .map(|(a, b)| (to_ms(a as u64), to_ms(b as u64)))
        .collect())
}
