//! Where the speech is: the plan without VAD, the quietest point to cut at, Silero's
//! probabilities, and the encoder context a short call needs.

use super::*;

/// Peak below which audio is silence (-60 dBFS).
pub(super) const INAUDIBLE_PEAK: f32 = 0.001;
/// The least mean token probability of the words a second look keeps.
pub(super) const SECOND_LOOK_MIN_P: f32 = 0.5;

/// Whether `samples` hold nothing audible.
pub(super) fn inaudible(samples: &[f32]) -> bool {
    samples.iter().all(|s| s.abs() < INAUDIBLE_PEAK)
}

/// Without VAD: everything up to a quiet point near the window's end (all of it at EOF).
pub(super) fn plain_plan(pending: &[f32], eof: bool) -> (Vec<(usize, usize)>, usize) {
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
pub(super) fn quietest_point(pending: &[f32], from: usize) -> usize {
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
pub(super) fn speech_probabilities(
    vad: &mut WhisperVadContext,
    samples: &[f32],
) -> Result<Vec<f32>, Failure> {
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

/// Silero's speech probability for every 32 ms frame of `samples` (16 kHz), with a VAD
/// context of its own (`model` checked first).
fn silero_probabilities(model: &Path, samples: &[f32], threads: u32) -> Result<Vec<f32>, Failure> {
    model_file::inspect_vad_file(model).map_err(|e| Failure::permanent(e.to_string()))?;
    whisper_rs::install_logging_hooks();
    let mut params = WhisperVadContextParams::new();
    params.set_n_threads(threads.max(1) as i32);
    params.set_use_gpu(false);
    let path = model
        .to_str()
        .ok_or_else(|| Failure::permanent("the VAD model path is not UTF-8"))?;
    let mut vad = WhisperVadContext::new(path, params).map_err(|e| {
        Failure::permanent(format!("whisper.cpp could not load the VAD model ({e})"))
    })?;
    speech_probabilities(&mut vad, samples)
}

/// Runs Silero over a whole file (16 kHz mono) and returns the speech regions in ms: the
/// `verbatim vad` check and the VAD tests.
pub fn detect_speech_file(
    model: &Path,
    audio: &Path,
    threads: u32,
) -> Result<Vec<(u64, u64)>, Failure> {
    model_file::inspect_vad_file(model).map_err(|e| Failure::permanent(e.to_string()))?;
    let samples =
        crate::media::decode::read_all(audio).map_err(|e| Failure::permanent(e.to_string()))?;
    let probs = silero_probabilities(model, &samples, threads)?;
    Ok(vad::regions(&probs, samples.len())
        .into_iter()
        .map(|(a, b)| (to_ms(a as u64), to_ms(b as u64)))
        .collect())
}

/// Where the speech is in `samples` (16 kHz), as transcription finds it: Silero's regions and
/// the loud stretches it missed (far-field voices, [`vad::loud_regions`]), in ms.
pub fn speech_regions(
    model: &Path,
    samples: &[f32],
    threads: u32,
) -> Result<Vec<(u64, u64)>, Failure> {
    let probs = silero_probabilities(model, samples, threads)?;
    let plan = vad::plan(&probs, &vad::frame_db(samples), samples.len(), true);
    Ok(plan
        .speech
        .into_iter()
        .map(|(a, b)| (to_ms(a as u64), to_ms(b as u64)))
        .collect())
}
