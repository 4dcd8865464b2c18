//! Who spoke when with the segmentation model: pyannote's segmentation-3.0 over 10 s windows
//! every 2.5 s says, frame by frame (17 ms), how many people speak (each frame's count is the
//! mean of the four windows that see it, rounded); CAM++ voiceprints of short windows over
//! the stretches where one person speaks say who ([`super::diarize`]); a stretch where two
//! speak at once gets the speakers of the turns on either side of it (or, when that is one
//! speaker, the other voice nearest to its audio).
//!
//! Measured against the way pyannote's own pipeline uses the model (each window's local
//! speakers embedded and clustered across windows, every frame given the speakers the
//! windows agree on): on the far-field meeting the model hears the two people of most
//! windows as one local speaker, and their voices blur (DER 32.9 % against 13.5 % here); on
//! the telephone call the two are level (6.0 % against 10.1 %). See the README's table.

use super::campplus::{CamPlus, cosine};
use super::diarize::{Speakers, Voice};
use super::segmentation::{FRAME_FIELD, FRAME_STEP, FRAMES, Segmentation, WINDOW_SAMPLES};
use super::{Progress, Samples, SpeakerError, Turn};

/// The step between two windows (samples): 2.5 s, so each moment is seen by four windows.
pub const STEP_SAMPLES: usize = 40_000;
/// Windows through the segmentation network at once.
const BATCH: usize = 8;
/// The shortest stretch of two voices whose second voice is found by its audio (samples).
const MIN_EMBED: usize = 8_000;
/// A window whose every sample is below this (-80 dBFS: the last bits of 16-bit audio) is
/// digital silence: nobody speaks in it, and the network is not run on it (the pauses,
/// breaks and padding of a long recording cost nothing).
const SILENT: f32 = 1e-4;

/// Where a window starts (samples) over `len` samples: every [`STEP_SAMPLES`], the last one
/// ending with the audio (one window, zero-padded, when the audio is shorter).
fn starts(len: usize) -> Vec<usize> {
    if len <= WINDOW_SAMPLES {
        return vec![0];
    }
    let mut s: Vec<usize> = (0..)
        .map(|i| i * STEP_SAMPLES)
        .take_while(|&s| s + WINDOW_SAMPLES < len)
        .collect();
    s.push(len - WINDOW_SAMPLES);
    s
}

/// The file's frames: how many speak in each (the windows' mean count, rounded).
fn speaker_count<S: Samples + ?Sized>(
    seg: &Segmentation,
    samples: &S,
    (p, from, to): (&Progress, f32, f32),
) -> Result<Vec<u8>, SpeakerError> {
    let starts = starts(samples.length());
    let padded: Vec<f32> = if samples.length() < WINDOW_SAMPLES {
        let mut p = samples.range(0, WINDOW_SAMPLES)?.into_owned();
        p.resize(WINDOW_SAMPLES, 0.0);
        p
    } else {
        Vec::new()
    };
    let total = samples.length().div_ceil(FRAME_STEP);
    let mut count = vec![0.0f32; total];
    let mut seen = vec![0.0f32; total];
    for (k, batch) in starts.chunks(BATCH).enumerate() {
        p.step(from, to, (k * BATCH) as f32 / starts.len() as f32)?;
        let owned: Vec<std::borrow::Cow<'_, [f32]>> = batch
            .iter()
            .map(|&s| {
                if s + WINDOW_SAMPLES <= samples.length() {
                    samples.range(s, s + WINDOW_SAMPLES)
                } else {
                    Ok(std::borrow::Cow::Borrowed(padded.as_slice()))
                }
            })
            .collect::<Result<_, _>>()?;
        let heard: Vec<bool> = owned
            .iter()
            .map(|w| w.iter().any(|x| x.abs() >= SILENT))
            .collect();
        let windows: Vec<&[f32]> = owned
            .iter()
            .zip(&heard)
            .filter(|(_, h)| **h)
            .map(|(w, _)| w.as_ref())
            .collect();
        let mut acts = if windows.is_empty() {
            Vec::new()
        } else {
            seg.activity(&windows)?
        }
        .into_iter();
        for (&start, heard) in batch.iter().zip(heard) {
            // A silent window's frames: seen, nobody speaking.
            let act = if heard { acts.next() } else { None };
            let offset = (start + FRAME_STEP / 2) / FRAME_STEP;
            for f in 0..FRAMES {
                let g = offset + f;
                if g >= total {
                    break;
                }
                seen[g] += 1.0;
                if let Some(a) = act.as_ref().and_then(|act| act.get(f)) {
                    count[g] += a.iter().filter(|x| **x).count() as f32;
                }
            }
        }
    }
    Ok(count
        .iter()
        .zip(&seen)
        .map(|(c, s)| if *s > 0.0 { (c / s).round() as u8 } else { 0 })
        .collect())
}

/// Who spoke when: the segmentation model says where speech is and where two speak at once;
/// voiceprints of short windows over the one-speaker stretches say who
/// ([`super::diarize`]); a stretch of two voices gets the speakers of the turns on either side
/// of it, or, when that is one speaker, the other voice nearest to its audio.
pub fn diarize_with_segmentation<S: Samples + ?Sized>(
    seg: &Segmentation,
    emb: &CamPlus,
    samples: &S,
    speakers: Speakers,
    progress: &Progress,
) -> Result<(Vec<Turn>, Vec<Voice>), SpeakerError> {
    // The segmentation network takes about half the time, the voiceprints the rest.
    let started = std::time::Instant::now();
    let count = speaker_count(seg, samples, (progress, 0.0, 0.5))?;
    let counted = started.elapsed();
    let ms =
        |g: usize| ((g * FRAME_STEP + FRAME_FIELD / 2).saturating_sub(FRAME_STEP / 2) as u64) / 16;
    let runs = |pred: &dyn Fn(u8) -> bool| -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut from = None;
        for g in 0..=count.len() {
            let on = count.get(g).is_some_and(|&c| pred(c));
            match (from, on) {
                (None, true) => from = Some(g),
                (Some(f), false) => {
                    out.push((ms(f), ms(g).min(samples.length() as u64 / 16)));
                    from = None;
                }
                _ => {}
            }
        }
        out
    };
    // The voices are told from the stretches where one speaks: overlapped speech would
    // blur them.
    let alone = runs(&|c| c == 1);
    let (mut turns, voices) =
        super::diarize::diarize_voices(emb, samples, &alone, speakers, (progress, 0.5, 1.0))?;
    tracing::info!(
        "diarized {:.1} s of audio: segmentation {:.2} s, voiceprints and clustering {:.2} s",
        samples.length() as f64 / 16_000.0,
        counted.as_secs_f64(),
        (started.elapsed() - counted).as_secs_f64()
    );
    let mut extra = Vec::new();
    for (a, b) in runs(&|c| c >= 2) {
        let before = turns
            .iter()
            .filter(|t| t.start_ms <= a)
            .max_by_key(|t| t.end_ms)
            .map(|t| t.speaker.clone());
        let after = turns
            .iter()
            .filter(|t| t.end_ms >= b)
            .min_by_key(|t| t.start_ms)
            .map(|t| t.speaker.clone());
        let mut who: Vec<String> = before.into_iter().chain(after).collect();
        who.dedup();
        if who.len() == 1 && voices.len() >= 2 {
            let clip = samples.range(a as usize * 16, b as usize * 16)?;
            let other = if voices.len() == 2 {
                voices.iter().find(|v| v.speaker != who[0])
            } else if clip.len() >= MIN_EMBED {
                let v = emb.embed(&clip)?;
                voices
                    .iter()
                    .filter(|x| x.speaker != who[0])
                    .max_by(|x, y| cosine(&v, &x.mean).total_cmp(&cosine(&v, &y.mean)))
            } else {
                None
            };
            who.extend(other.map(|o| o.speaker.clone()));
        }
        // A speaker whose own turn already covers the stretch is not given it twice.
        who.retain(|w| {
            !turns
                .iter()
                .any(|t| &t.speaker == w && t.start_ms <= a && t.end_ms >= b)
        });
        for speaker in who {
            extra.push(Turn {
                speaker,
                start_ms: a,
                end_ms: b,
            });
        }
    }
    turns.extend(extra);
    turns.sort_by_key(|t| (t.start_ms, t.end_ms));
    Ok((turns, voices))
}
