//! The whisper calls of a job: Silero's plan of a window, one call with its checks (a
//! decode that loops, repeats itself or is improbable is tried again), the second look at
//! speech a call passed over, and the progress reported while whisper runs.

use super::output::{RawSegment, map_segment, pack, read_segments};
use super::speech::{SECOND_LOOK_MIN_P, short_audio_ctx, speech_probabilities};
use super::*;

impl Engine {
    /// What of `pending` to transcribe now, and the speech probability of its every frame.
    pub(super) fn vad_plan(
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

    pub(super) fn whisper_call(
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
    pub(super) fn call(
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
    pub(super) fn remember_language(&mut self, state: &WhisperState) -> String {
        match state_language(state) {
            Some(l) => {
                self.job_language = Some(l.clone());
                l
            }
            None => "auto".into(),
        }
    }

    /// whisper again over speech the first pass skipped, heard alone: `regions` (speech the
    /// VAD heard, ms of the file) that no segment of `found` covers
    /// ([`vad::unheard`]), and whispered regions a segment of voiced speech runs over
    /// ([`whispers_run_over`]). whisper's decoder often skips quieter or whispered speech next
    /// to louder speech, and the words are lost although the VAD kept them. A stretch's words
    /// are kept when they fall inside it, whisper is sure enough of them
    /// ([`SECOND_LOOK_MIN_P`]) and `found` did not say them already nearby
    /// ([`said_already`]). What it looked at and found: [`SecondLook`].
    #[allow(clippy::too_many_arguments)]
    pub(super) fn second_look(
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
    ) -> Result<SecondLook, Failure> {
        let dtw = spec.params.word_timing == WordTiming::Dtw;
        let sample =
            |ms: u64| (ms * u64::from(WHISPER_RATE) / 1000).saturating_sub(pending_start) as usize;
        let voiced = |i: usize| {
            let (a, b) = regions[i];
            let (from, to) = (sample(a).min(pending.len()), sample(b).min(pending.len()));
            vad::voiced_share(&pending[from..to.max(from)])
        };
        let stretches = skipped(regions, found, voiced);
        if stretches.is_empty() {
            return Ok(SecondLook::default());
        }
        // Alone: no text before it primes the decoder (that text is what it skipped after).
        let mut alone = spec.clone();
        alone.params.carry_context = false;
        let mut out = SecondLook {
            looked: stretches.len() as u32,
            ..SecondLook::default()
        };
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
                if said_already(&piece, found) {
                    tracing::debug!(job = spec.job, text = %piece.text, "second look: said already, dropped");
                    continue;
                }
                piece.no_speech = seg.no_speech;
                piece.avg_logprob = seg.avg_logprob;
                kept += 1;
                out.found.push(piece);
            }
            if kept > 0 {
                out.heard.push((a, b));
            }
            tracing::debug!(
                job = spec.job,
                from_ms = a,
                to_ms = b,
                segments = kept,
                "second look"
            );
        }
        Ok(out)
    }

    /// One `whisper_full` call.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn full(
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
pub(super) enum CallError {
    Cancelled,
    Failed(String),
}

/// How one `whisper_full` call is made.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt {
    pub(super) audio_ctx: Option<usize>,
    /// Decoding steps per window (a loop stops there).
    pub(super) max_tokens: Option<usize>,
    pub(super) fallback: bool,
    pub(super) no_context: bool,
}

/// Decoding steps allowed to a short-context attempt: speech runs at about 4 tokens a second,
/// so twice that plus room for the timestamps never cuts real text, and a loop stops early.
pub(super) fn short_token_cap(samples: usize) -> usize {
    24 + 8 * samples.div_ceil(WHISPER_RATE as usize)
}

/// whisper's thresholds for a failed decode (`entropy_thold`, `logprob_thold`).
pub(super) const ENTROPY_THOLD: f64 = 2.4;
pub(super) const LOGPROB_THOLD: f64 = -1.0;

/// Why a short-context decode is not taken as it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum DecodeFailure {
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
pub(super) fn decode_failure(segments: &[RawSegment]) -> Option<DecodeFailure> {
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
pub(super) fn language_for(p: &DecodeParams, multilingual: bool) -> String {
    if !multilingual {
        return "en".into();
    }
    match &p.language {
        Some(l) if !l.is_empty() && l != "auto" => l.clone(),
        _ => "auto".into(),
    }
}

pub(super) fn state_language(state: &WhisperState) -> Option<String> {
    let id = state.full_lang_id_from_state();
    whisper_rs::get_lang_str(id).map(str::to_string)
}

#[derive(Clone)]
pub(super) struct ProgressCtx {
    pub(super) job: i64,
    pub(super) emit: Emit,
    /// Samples of the job done before this call.
    pub(super) base: u64,
    /// Samples this call covers.
    pub(super) span: u64,
    pub(super) total: u64,
    pub(super) start: u64,
}

impl ProgressCtx {
    pub(super) fn report(&self, pct: i32) {
        let done = self.base + self.span * pct.clamp(0, 100) as u64 / 100;
        (self.emit)(FromWorker::Progress {
            job: self.job,
            fraction: fraction(done, self.total, false),
            audio_done_ms: (self.start + done) * 1000 / u64::from(WHISPER_RATE),
        });
    }
}

pub(super) fn fraction(done: u64, total: u64, finished: bool) -> f32 {
    if finished {
        return 1.0;
    }
    if total == 0 {
        return 0.0;
    }
    (done as f64 / total as f64).clamp(0.0, 0.999) as f32
}

/// What a second look found.
#[derive(Debug, Default)]
pub(super) struct SecondLook {
    /// Stretches looked at.
    pub(super) looked: u32,
    /// The segments kept.
    pub(super) found: Vec<Segment>,
    /// The stretches (ms of the file) they came from.
    pub(super) heard: Vec<(u64, u64)>,
}

/// A region this voiced or less is whispered ([`vad::voiced_share`]: about 0-0.05 for
/// espeak-ng's whisper voice, 0.76-0.98 for the regions of the shared clips).
const WHISPERED_AT_MOST: f32 = 0.2;
/// ... and a region this voiced or more is spoken.
const SPOKEN_AT_LEAST: f32 = 0.5;

/// The whispered regions (`regions`: ms of the file; `voiced(i)`: region `i`'s voiced share)
/// inside the span of a segment of `found` that also holds spoken speech: whisper's decoder
/// transcribes one of the two and its timestamps run the segment over the other (found on
/// the whispered benchmark: two whispered sentences between two spoken ones, the second
/// spoken one's segment starting at the first whispered word), so these get a second look
/// although a segment covers them. Voicing is measured only where a segment holds two
/// regions long enough to count, each region once.
pub(super) fn whispers_run_over(
    regions: &[(u64, u64)],
    found: &[Segment],
    voiced: impl Fn(usize) -> f32,
) -> Vec<(u64, u64)> {
    let mut measured: Vec<Option<f32>> = vec![None; regions.len()];
    let mut share = |i: usize| *measured[i].get_or_insert_with(|| voiced(i));
    let mut out = Vec::new();
    for seg in found {
        let inside: Vec<usize> = (0..regions.len())
            .filter(|&i| {
                let (a, b) = regions[i];
                let overlap = b.min(seg.end_ms).saturating_sub(a.max(seg.start_ms));
                b - a >= vad::MIN_UNHEARD_MS && 2 * overlap >= b - a
            })
            .collect();
        // One spoken and one whispered region at least.
        if inside.len() < 2 || !inside.iter().any(|&i| share(i) >= SPOKEN_AT_LEAST) {
            continue;
        }
        out.extend(
            inside
                .into_iter()
                .filter(|&i| share(i) <= WHISPERED_AT_MOST)
                .map(|i| regions[i]),
        );
    }
    out
}

/// The stretches (ms of the file, in order, none overlapping) of `regions` the first pass
/// skipped (`voiced`: as [`whispers_run_over`] takes it): speech no segment of `found` covers ([`vad::unheard`]; covered by a segment's
/// span, not by its words, since token timestamps spread a segment's words over its span),
/// and the whispered regions a spoken segment runs over ([`whispers_run_over`]), each looked
/// at once.
pub(super) fn skipped(
    regions: &[(u64, u64)],
    found: &[Segment],
    voiced: impl Fn(usize) -> f32,
) -> Vec<(u64, u64)> {
    let said: Vec<(u64, u64)> = found.iter().map(|s| (s.start_ms, s.end_ms)).collect();
    let whispered = whispers_run_over(regions, found, voiced);
    let mut out: Vec<(u64, u64)> = vad::unheard(regions, &said)
        .into_iter()
        .filter(|&(a, b)| !whispered.iter().any(|&(x, y)| a < y && x < b))
        .collect();
    out.extend(whispered);
    out.sort_unstable();
    out.dedup();
    out
}

/// A segment of `found` whose span holds the stretches a second look found words in
/// (`looked`, ms of the file) claimed speech it did not transcribe: its span moves off them
/// (its start after them when they lie in its first half, else its end before them) and its words are placed again on the speech
/// (`speech`, Silero's frames) left in it, as whisper's words are placed at first
/// ([`map_segment`]), so the text reads in the order it was said.
pub(super) fn make_room(found: &mut [Segment], looked: &[(u64, u64)], speech: &SpeechMap) {
    let samples = |ms: u64| ms * u64::from(WHISPER_RATE) / 1000;
    for seg in found.iter_mut() {
        let (a, b) = (seg.start_ms, seg.end_ms);
        let (mut na, mut nb) = (a, b);
        for &(pa, pb) in looked {
            if pa >= nb || pb <= na {
                continue;
            }
            if pa + pb <= na + nb {
                na = pb.min(nb);
            } else {
                nb = pa.max(na);
            }
        }
        if (na, nb) == (a, b) {
            continue;
        }
        let linear = |t: u64| na + (t.clamp(a, b) - a) * (nb - na) / (b - a).max(1);
        let warp = speech.warp(samples(na), samples(nb));
        let place = |t: u64| match &warp {
            Some(w) => to_ms(w.map(samples(linear(t)))),
            None => linear(t),
        };
        for w in &mut seg.words {
            (w.start_ms, w.end_ms) = (place(w.start_ms), place(w.end_ms));
        }
        (seg.start_ms, seg.end_ms) = match &warp {
            Some(w) => {
                let (x, y) = w.bounds();
                (to_ms(x), to_ms(y))
            }
            None => (na, nb),
        };
    }
}

/// Segments of the first pass this close (ms) to a second look's words are its neighbours.
const NEAR_MS: u64 = 3_000;

/// Whether half or more of `piece`'s words, in order, are in the text of the segments of
/// `found` near it: the second look heard again what the first pass had said (its words
/// placed elsewhere by the alignment), not speech it skipped.
pub(super) fn said_already(piece: &Segment, found: &[Segment]) -> bool {
    let words = crate::transcript::wer::normalize(&piece.text);
    if words.is_empty() {
        return true;
    }
    let near: Vec<String> = found
        .iter()
        .filter(|s| s.end_ms + NEAR_MS >= piece.start_ms && s.start_ms <= piece.end_ms + NEAR_MS)
        .flat_map(|s| crate::transcript::wer::normalize(&s.text))
        .collect();
    2 * common_in_order(&words, &near) >= words.len()
}

/// The length of the longest common subsequence of `a` and `b`.
fn common_in_order(a: &[String], b: &[String]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y { diagonal + 1 } else { up.max(row[j]) };
            diagonal = up;
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    /// Regions given as (start ms, end ms, voiced share): their spans and voicings.
    fn split(regions: &[(u64, u64, f32)]) -> (Vec<(u64, u64)>, Vec<f32>) {
        regions.iter().map(|&(a, b, v)| ((a, b), v)).unzip()
    }

    /// A segment of `words` given as (start ms, end ms, text).
    fn seg(words: &[(u64, u64, &str)]) -> Segment {
        let words: Vec<Word> = words
            .iter()
            .map(|&(start_ms, end_ms, text)| Word {
                start_ms,
                end_ms,
                text: text.to_string(),
                p: 0.9,
            })
            .collect();
        Segment::of_words(&words).unwrap()
    }

    #[test]
    fn whispers_a_spoken_segment_runs_over_get_a_second_look() {
        // Spoken 0.7-3.4 s, whispered 4.7-6.8 and 9.2-11.8 s, spoken 17-19.8 s; whisper's
        // second segment starts at 4.46 s and holds the last spoken sentence's words.
        let regions = [
            (700, 3_400, 0.86),
            (4_700, 6_800, 0.02),
            (9_200, 11_800, 0.05),
            (17_000, 19_800, 0.9),
        ];
        let found = [
            seg(&[(700, 3_300, "He was not")]),
            seg(&[(4_462, 10_000, "He"), (10_000, 19_284, "might")]),
        ];
        let measured = std::cell::Cell::new(0);
        let (spans, voicing) = split(&regions);
        let voiced = |i: usize| {
            measured.set(measured.get() + 1);
            voicing[i]
        };
        assert_eq!(
            whispers_run_over(&spans, &found, voiced),
            vec![(4_700, 6_800), (9_200, 11_800)]
        );
        // The first region lies in a segment alone: its voicing is never measured.
        assert_eq!(
            measured.get(),
            3,
            "each region the test needs measured once"
        );
        // A segment of whispers alone (whisper transcribed them): nothing to look at again.
        let found = [seg(&[(4_600, 12_000, "rice")])];
        assert!(whispers_run_over(&spans, &found, |i| voicing[i]).is_empty());
        // Spoken regions are never looked at again this way, however a segment runs.
        let spoken = [
            (700, 3_400, 0.86),
            (4_700, 6_800, 0.6),
            (17_000, 19_800, 0.9),
        ];
        let found = [seg(&[(0, 20_000, "all")])];
        let (spans, voicing) = split(&spoken);
        assert!(whispers_run_over(&spans, &found, |i| voicing[i]).is_empty());
    }

    #[test]
    fn a_second_look_that_hears_the_first_pass_again_is_dropped() {
        let found = [
            seg(&[
                (1_000, 1_500, "Had"),
                (1_500, 2_000, "he"),
                (2_000, 2_600, "married"),
            ]),
            seg(&[(30_000, 30_500, "far"), (30_500, 31_000, "away")]),
        ];
        // Said already nearby (case and punctuation aside), one word heard differently.
        assert!(said_already(
            &seg(&[
                (900, 1_200, "had"),
                (1_200, 1_400, "he,"),
                (1_400, 1_900, "marred")
            ]),
            &found
        ));
        // New words: kept; the same words far away: not the first pass's.
        assert!(!said_already(
            &seg(&[(5_000, 5_500, "rice"), (5_500, 6_000, "bowls")]),
            &found
        ));
        assert!(!said_already(
            &seg(&[(15_000, 15_500, "had"), (15_500, 16_000, "he")]),
            &found
        ));
    }

    #[test]
    fn each_skipped_stretch_is_looked_at_once() {
        // A whispered region (4-8 s) half inside a spoken segment (0-6 s): heard whole, not
        // also as the part the segment does not reach; speech no segment covers (10-12 s).
        let regions = [(0, 3_000, 0.9), (4_000, 8_000, 0.0), (10_000, 12_000, 0.8)];
        let found = [seg(&[(0, 3_000, "spoken"), (3_000, 6_000, "words")])];
        let (spans, voicing) = split(&regions);
        assert_eq!(
            skipped(&spans, &found, |i| voicing[i]),
            vec![(4_000, 8_000), (10_000, 12_000)]
        );
        // Two segments running over the same whispered region: once.
        let found = [
            seg(&[(0, 3_000, "spoken"), (3_000, 6_500, "words")]),
            seg(&[(5_000, 9_000, "more")]),
        ];
        let regions = [(0, 3_000, 0.9), (4_000, 8_000, 0.0), (8_200, 9_400, 0.9)];
        let (spans, voicing) = split(&regions);
        assert_eq!(
            skipped(&spans, &found, |i| voicing[i]),
            vec![(4_000, 8_000)]
        );
    }

    #[test]
    fn a_segment_running_over_what_a_second_look_found_moves_off_it() {
        let mut found = vec![
            seg(&[(700, 3_300, "He was not")]),
            seg(&[(4_000, 10_000, "He"), (10_000, 20_000, "might")]),
        ];
        let first = found[0].clone();
        // Whispered words in the first half of the second segment's span: it starts after them.
        make_room(&mut found, &[(4_600, 7_600)], &SpeechMap::default());
        assert_eq!(
            found[0], first,
            "a segment clear of the second look keeps its times"
        );
        assert_eq!((found[1].start_ms, found[1].end_ms), (7_600, 20_000));
        let words: Vec<(u64, u64)> = found[1]
            .words
            .iter()
            .map(|w| (w.start_ms, w.end_ms))
            .collect();
        assert_eq!(words, vec![(7_600, 12_250), (12_250, 20_000)]);
        // In its second half: it ends before them.
        make_room(&mut found, &[(17_000, 19_000)], &SpeechMap::default());
        assert_eq!((found[1].start_ms, found[1].end_ms), (7_600, 17_000));
        assert!(
            found[1]
                .words
                .iter()
                .all(|w| w.end_ms <= 17_000 && w.start_ms >= 7_600)
        );
    }

    #[test]
    fn a_moved_segment_puts_its_words_on_the_speech_left_in_it() {
        // Speech (Silero) at 4.6-7.6 s (the whisper) and 17-20 s (the spoken sentence).
        let frame_ms = (vad::FRAME as u64 * 1000) / u64::from(WHISPER_RATE);
        let probs: Vec<f32> = (0..700u64)
            .map(|i| {
                let t = i * frame_ms;
                if (4_600..7_600).contains(&t) || (17_000..20_000).contains(&t) {
                    0.9
                } else {
                    0.0
                }
            })
            .collect();
        let speech = SpeechMap { start: 0, probs };
        let mut found = vec![seg(&[
            (4_600, 6_000, "He"),
            (6_000, 7_500, "might"),
            (17_000, 19_900, "himself"),
        ])];
        // The stretch ends on a frame boundary, as Silero's regions do (32 ms frames).
        make_room(&mut found, &[(4_600, 7_616)], &speech);
        let s = &found[0];
        assert!(s.start_ms >= 16_500, "{s:?}");
        assert!(
            s.words
                .iter()
                .all(|w| w.start_ms >= 16_500 && w.end_ms <= 20_100),
            "{s:?}"
        );
        assert!(s.words.windows(2).all(|w| w[0].start_ms <= w[1].start_ms));
    }

    #[test]
    fn the_longest_common_subsequence_of_words() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(common_in_order(&w("a b c d"), &w("x a c y d")), 3);
        assert_eq!(common_in_order(&w("a b"), &w("b a")), 1);
        assert_eq!(common_in_order(&[], &w("a")), 0);
    }
}
