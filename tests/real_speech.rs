#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
//! Real speech with a real whisper model (`../shared/data/models/tiny.en-ggml.bin`, or
//! `VERBATIM_TEST_MODEL`), through the `verbatim` CLI as a user runs it, on a fresh data
//! directory each time (so the VAD model is the one bundled with the app):
//!
//! - the shared clips: Verbatim's corpus WER is no worse than a bare `whisper_full` call on the
//!   same audio with the same decoding parameters, and jfk.wav comes out word for word;
//! - non-speech (digital silence, room tone, noise, music) gives no text, with and without VAD;
//! - a 2.5-minute recording of the clips at known times with pauses and quiet passages: every
//!   word inside its clip's span, and the WER within 0.5 point of the clips one by one.
//!
//! The tests take the whole machine (whisper uses every core), so they run one at a time.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::speech::{self, Noise, RATE};
use common::{text, verbatim};
use verbatim::transcript::wer::{WordErrors, normalize, word_errors};
use whisper_rs::{WhisperContext, WhisperContextParameters};

static MACHINE: Mutex<()> = Mutex::new(());

fn model_or_skip(test: &str) -> Option<PathBuf> {
    match speech::real_model() {
        Ok(p) => Some(p),
        Err(why) => {
            eprintln!(
                "SKIPPED {test}: {why}. Run it with VERBATIM_TEST_MODEL=/path/to/ggml-model.bin \
                 cargo test --test real_speech"
            );
            None
        }
    }
}

/// `verbatim transcribe FILES --model M --export txt,json --out OUT [extra]` on a fresh home;
/// the text of each file, in order.
fn transcribe(home: &Path, files: &[PathBuf], model: &Path, extra: &[&str]) -> Vec<String> {
    let out = home.join("out");
    let mut args: Vec<String> = vec!["transcribe".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend([
        "--model".into(),
        model.display().to_string(),
        "--export".into(),
        "txt,json".into(),
        "--out".into(),
        out.display().to_string(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = verbatim(home, &args);
    assert!(o.status.success(), "{}", text(&o));
    files
        .iter()
        .map(|f| {
            let stem = f.file_stem().unwrap().to_string_lossy();
            std::fs::read_to_string(out.join(format!("{stem}.txt"))).unwrap()
        })
        .collect()
}

fn json_export(home: &Path, file: &Path) -> serde_json::Value {
    let stem = file.file_stem().unwrap().to_string_lossy();
    let s = std::fs::read_to_string(home.join("out").join(format!("{stem}.json"))).unwrap();
    serde_json::from_str(&s).unwrap()
}

/// whisper_full on each whole clip, nothing else (`speech::bare_whisper_full`): the engine's
/// decoding (greedy, best of 5, temperature fallback), no VAD, full 30 s encoder context.
fn bare_whisper_full(model: &Path, clips: &[speech::Clip]) -> Vec<String> {
    whisper_rs::install_logging_hooks();
    let ctx = WhisperContext::new_with_params(model, WhisperContextParameters::default()).unwrap();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8)) as i32;
    clips
        .iter()
        .map(|c| speech::bare_whisper_full(&ctx, &speech::read_wav(&c.path), threads))
        .collect()
}

#[test]
fn the_clips_are_as_accurate_as_bare_whisper_full_and_jfk_is_exact() {
    let Some(model) = model_or_skip("the_clips_are_as_accurate_as_bare_whisper_full") else {
        return;
    };
    let _machine = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let clips = speech::clips();
    let home = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = clips.iter().map(|c| c.path.clone()).collect();
    let ours = transcribe(home.path(), &files, &model, &[]);
    // The bundled VAD model was installed into the fresh data directory and used.
    assert!(
        home.path().join("models/ggml-silero-v6.2.0.bin").is_file(),
        "the bundled VAD model was not installed"
    );
    let bare = bare_whisper_full(&model, &clips);
    let (mut ours_total, mut bare_total) = (WordErrors::default(), WordErrors::default());
    for ((clip, o), b) in clips.iter().zip(&ours).zip(&bare) {
        let (eo, eb) = (
            word_errors(&clip.reference, o),
            word_errors(&clip.reference, b),
        );
        eprintln!(
            "{:<45} verbatim {:>5.1}%  bare whisper_full {:>5.1}%  | {}",
            clip.stem,
            eo.rate() * 100.0,
            eb.rate() * 100.0,
            o.trim().replace('\n', " ")
        );
        ours_total = ours_total + eo;
        bare_total = bare_total + eb;
    }
    eprintln!(
        "corpus WER: verbatim {:.2}% ({} / {} words), bare whisper_full {:.2}%",
        ours_total.rate() * 100.0,
        ours_total.edits,
        ours_total.reference_words,
        bare_total.rate() * 100.0
    );
    assert!(
        ours_total.edits <= bare_total.edits,
        "Verbatim makes {} word errors on the clips, a bare whisper_full call {}",
        ours_total.edits,
        bare_total.edits
    );
    let jfk = clips.iter().position(|c| c.stem == "jfk").unwrap();
    assert_eq!(
        normalize(&ours[jfk]),
        normalize(&clips[jfk].reference),
        "jfk.wav is not word for word"
    );
    // Real speech transcribed well raises no quality flag.
    use verbatim::transcript::flags::{FlagRules, flags};
    for f in &files {
        let doc = json_export(home.path(), f);
        for s in doc["segments"].as_array().unwrap() {
            let seg = verbatim::transcript::Segment::new(
                s["start_ms"].as_u64().unwrap(),
                s["end_ms"].as_u64().unwrap(),
                s["text"].as_str().unwrap(),
            );
            let found = flags(&seg, &FlagRules::default());
            assert!(
                found.is_empty(),
                "{}: {seg:?} flagged {found:?}",
                f.display()
            );
        }
    }
}

/// Music-like audio: chords of harmonic tones with a beat, changing every half second.
fn music(seconds: usize) -> Vec<f32> {
    let chords: [[f32; 3]; 4] = [
        [261.6, 329.6, 392.0],
        [220.0, 261.6, 329.6],
        [174.6, 220.0, 261.6],
        [196.0, 246.9, 293.7],
    ];
    let n = seconds * RATE as usize;
    let mut noise = Noise::new(3);
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let chord = chords[(t * 2.0) as usize % 4];
            let mut v = 0.0;
            for f in chord {
                for h in 1..4 {
                    v += (t * f * h as f32 * std::f32::consts::TAU).sin() / (h * h) as f32;
                }
            }
            let beat = (-(t * 4.0).fract() * 30.0).exp();
            v * 0.08 + beat * noise.next() * 0.2
        })
        .collect()
}

#[test]
fn non_speech_gives_no_text_on_a_fresh_data_dir() {
    let Some(model) = model_or_skip("non_speech_gives_no_text_on_a_fresh_data_dir") else {
        return;
    };
    let _machine = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let n = 30 * RATE as usize;
    let mut noise = Noise::new(11);
    let inputs: Vec<(&str, Vec<f32>)> = vec![
        ("digital-silence", vec![0.0; n]),
        ("room-tone", speech::room_tone(n, &mut noise)),
        (
            "white-noise",
            (0..n).map(|_| noise.next() * 0.1).collect::<Vec<f32>>(),
        ),
        ("music", music(30)),
    ];
    let mut files = Vec::new();
    for (name, samples) in &inputs {
        let p = dir.path().join(format!("{name}.wav"));
        speech::write_wav(&p, samples);
        files.push(p);
    }
    for extra in [&[][..], &["--no-vad"][..]] {
        let home = tempfile::tempdir().unwrap();
        // --no-vad sends everything to whisper: the non-speech suppression must hold alone.
        let run: &[PathBuf] = if extra.is_empty() {
            &files
        } else {
            &files[..1]
        };
        let texts = transcribe(home.path(), run, &model, extra);
        for (f, t) in run.iter().zip(&texts) {
            let doc = json_export(home.path(), f);
            let segments = doc["segments"].as_array().unwrap();
            assert!(
                t.trim().is_empty() && segments.is_empty(),
                "{} {extra:?} gave text: {t:?} ({} segments)",
                f.display(),
                segments.len()
            );
        }
    }
}

#[test]
fn a_long_recording_keeps_every_word_in_place_with_vad_on() {
    let Some(model) = model_or_skip("a_long_recording_keeps_every_word_in_place_with_vad_on")
    else {
        return;
    };
    let _machine = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let long = speech::long_file(dir.path());
    eprintln!(
        "long recording: {:.1} s, {} clips",
        long.duration_ms as f64 / 1000.0,
        long.placed.len()
    );
    // The clips one by one (each distinct file once).
    let home = tempfile::tempdir().unwrap();
    let distinct = long.distinct_files();
    let one_by_one = transcribe(home.path(), &distinct, &model, &[]);
    let baseline: WordErrors = long
        .placed
        .iter()
        .map(|p| {
            let i = distinct.iter().position(|f| *f == p.file).unwrap();
            word_errors(&p.reference, &one_by_one[i])
        })
        .sum();
    // The long recording, VAD on (the default).
    let home = tempfile::tempdir().unwrap();
    let whole = transcribe(home.path(), std::slice::from_ref(&long.path), &model, &[]);
    let reference: Vec<&str> = long.placed.iter().map(|p| p.reference.as_str()).collect();
    let long_errors = word_errors(&reference.join(" "), &whole[0]);
    eprintln!(
        "WER: long recording {:.2}% ({} / {}), the clips one by one {:.2}% ({} / {})",
        long_errors.rate() * 100.0,
        long_errors.edits,
        long_errors.reference_words,
        baseline.rate() * 100.0,
        baseline.edits,
        baseline.reference_words
    );
    // Every word lies inside the span of one clip (whisper's token times are good to a few
    // hundred ms; the slack allows that much).
    const SLACK_MS: u64 = 500;
    let doc = json_export(home.path(), &long.path);
    let mut per_clip: Vec<Vec<String>> = vec![Vec::new(); long.placed.len()];
    let mut outside = Vec::new();
    for seg in doc["segments"].as_array().unwrap() {
        for w in seg["words"].as_array().into_iter().flatten() {
            let (s, e) = (
                w["start_ms"].as_u64().unwrap(),
                w["end_ms"].as_u64().unwrap(),
            );
            let word = w["text"].as_str().unwrap().to_string();
            match long
                .placed
                .iter()
                .position(|p| s + SLACK_MS >= p.start_ms && e <= p.end_ms + SLACK_MS)
            {
                Some(i) => per_clip[i].push(word),
                None => outside.push(format!("{word:?} at {s}-{e} ms")),
            }
        }
    }
    for (p, words) in long.placed.iter().zip(&per_clip) {
        let e = word_errors(&p.reference, &words.join(" "));
        eprintln!(
            "  {:>6}-{:>6} ms {:<42} {:+} dB  WER {:>5.1}%",
            p.start_ms,
            p.end_ms,
            p.stem,
            p.gain_db,
            e.rate() * 100.0
        );
    }
    assert!(
        outside.is_empty(),
        "words outside every clip's span: {outside:?}"
    );
    assert!(
        long_errors.rate() <= baseline.rate() + 0.005,
        "long-recording WER {:.2}% is more than 0.5 point above the clips one by one ({:.2}%)",
        long_errors.rate() * 100.0,
        baseline.rate() * 100.0
    );
}

#[test]
fn a_q8_0_model_from_models_quantize_transcribes_jfk_exactly() {
    let Some(model) = model_or_skip("a_q8_0_model_from_models_quantize_transcribes_jfk_exactly")
    else {
        return;
    };
    let _machine = MACHINE.lock().unwrap_or_else(|e| e.into_inner());
    let home = tempfile::tempdir().unwrap();
    let q8 = home.path().join("custom-tiny.en-q8_0.bin");
    let o = verbatim(
        home.path(),
        &[
            "models",
            "quantize",
            model.to_str().unwrap(),
            q8.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    eprintln!("{}", text(&o).trim());
    let jfk = speech::clips()
        .into_iter()
        .find(|c| c.stem == "jfk")
        .unwrap();
    let got = transcribe(home.path(), std::slice::from_ref(&jfk.path), &q8, &[]);
    assert_eq!(normalize(&got[0]), normalize(&jfk.reference), "{}", got[0]);
}
