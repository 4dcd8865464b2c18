#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Real speech for the tests and the side-by-side benchmark: the shared clips with their
//! reference transcripts, the real model, and a long recording built from the clips at known
//! times (pauses of silence and of room tone, some passages 12-18 dB quieter).

use std::path::{Path, PathBuf};

pub const RATE: u32 = 16_000;

/// `../shared/data`, resolved from this crate.
pub fn shared_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// The real whisper model the tests use: `VERBATIM_TEST_MODEL`, else the shared tiny.en.
/// `Err` says why there is none (the tests print it and skip).
/// The real model, or `None` after printing why the test skips.
pub fn real_model_or_skip() -> Option<PathBuf> {
    match real_model() {
        Ok(m) => Some(m),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

pub fn real_model() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("VERBATIM_TEST_MODEL") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("VERBATIM_TEST_MODEL={} is not a file", p.display()))
        };
    }
    let p = shared_data().join("models/tiny.en-ggml.bin");
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "no real model: {} is missing and VERBATIM_TEST_MODEL is not set",
            p.display()
        ))
    }
}

/// One shared clip.
#[derive(Debug, Clone)]
pub struct Clip {
    pub stem: String,
    pub path: PathBuf,
    pub reference: String,
}

/// The shared clips, sorted by name.
pub fn clips() -> Vec<Clip> {
    let dir = shared_data().join("speech");
    let mut out: Vec<Clip> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .map(|p| Clip {
            stem: p.file_stem().unwrap().to_string_lossy().into_owned(),
            reference: std::fs::read_to_string(p.with_extension("txt"))
                .unwrap()
                .trim()
                .to_string(),
            path: p,
        })
        .collect();
    out.sort_by(|a, b| a.stem.cmp(&b.stem));
    out
}

pub fn read_wav(path: &Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(path).unwrap();
    assert_eq!(r.spec().sample_rate, RATE, "{}", path.display());
    r.samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect()
}

/// A 16 kHz mono 16-bit WAV file being written at `path` (samples as `i16`).
pub fn wav_writer(path: &Path) -> hound::WavWriter<std::io::BufWriter<std::fs::File>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    hound::WavWriter::create(path, spec).unwrap()
}

pub fn write_wav(path: &Path, samples: &[f32]) {
    let mut w = wav_writer(path);
    for s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// A small deterministic noise source (xorshift), in -1..1.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Room tone: low-passed noise at about -55 dBFS RMS.
pub fn room_tone(n: usize, noise: &mut Noise) -> Vec<f32> {
    let mut y = 0.0f32;
    (0..n)
        .map(|_| {
            y = 0.95 * y + 0.05 * noise.next();
            y * 0.02
        })
        .collect()
}

/// One clip placed in the long recording.
#[derive(Debug, Clone)]
pub struct Placed {
    pub stem: String,
    pub gain_db: f32,
    /// The clip at its gain as a file of its own (for the one-by-one baseline).
    pub file: PathBuf,
    pub start_ms: u64,
    pub end_ms: u64,
    pub reference: String,
}

/// A long recording of clips at known times.
#[derive(Debug, Clone)]
pub struct LongFile {
    pub path: PathBuf,
    pub duration_ms: u64,
    pub placed: Vec<Placed>,
}

impl LongFile {
    /// The files the long recording is made of, each once.
    pub fn distinct_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.placed.iter().map(|p| p.file.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// (clip index in `clips()`, gain in dB, pause after it in s, pause is room tone).
const LAYOUT: &[(usize, f32, f32, bool)] = &[
    (0, 0.0, 3.0, false),
    (1, 0.0, 1.2, true),
    (2, 0.0, 6.0, false),
    (3, -18.0, 2.5, true),
    (4, 0.0, 0.8, false),
    (5, 0.0, 4.0, true),
    (0, -12.0, 1.5, false),
    (4, 0.0, 8.0, false),
    (1, 0.0, 2.0, true),
    (2, -18.0, 3.0, false),
    (3, 0.0, 1.0, true),
    (5, 0.0, 5.0, false),
    (0, 0.0, 2.0, true),
    (3, 0.0, 0.6, false),
    (1, -12.0, 3.5, true),
    (5, -18.0, 1.8, false),
    (2, 0.0, 7.0, true),
    (4, -12.0, 2.2, false),
    (0, 0.0, 2.0, true),
];

/// Builds the long recording (about 2.5 minutes) and the clip files it is made of in `dir`.
pub fn long_file(dir: &Path) -> LongFile {
    let clips = clips();
    assert_eq!(clips.len(), 6, "the layout expects the six shared clips");
    let mut noise = Noise::new(7);
    let ms = |n: usize| n as u64 * 1000 / u64::from(RATE);
    let mut out = room_tone(2 * RATE as usize, &mut noise);
    let mut placed = Vec::new();
    for &(i, gain_db, pause_s, tone) in LAYOUT {
        let clip = &clips[i];
        let g = 10f32.powf(gain_db / 20.0);
        let samples: Vec<f32> = read_wav(&clip.path).iter().map(|s| s * g).collect();
        let file = dir.join(format!("{}_{:+03}dB.wav", clip.stem, gain_db as i32));
        if !file.exists() {
            write_wav(&file, &samples);
        }
        let start = out.len();
        out.extend_from_slice(&samples);
        placed.push(Placed {
            stem: clip.stem.clone(),
            gain_db,
            file,
            start_ms: ms(start),
            end_ms: ms(out.len()),
            reference: clip.reference.clone(),
        });
        let n = (pause_s * RATE as f32) as usize;
        if tone {
            out.extend(room_tone(n, &mut noise));
        } else {
            out.resize(out.len() + n, 0.0);
        }
    }
    let path = dir.join("long-recording.wav");
    write_wav(&path, &out);
    LongFile {
        path,
        duration_ms: ms(out.len()),
        placed,
    }
}

/// whisper_full on the whole of `audio` and nothing else: greedy (best of 5 with temperature
/// fallback, whisper's defaults), English, full 30 s encoder windows, no VAD. The baseline of
/// the accuracy test and the side-by-side benchmark.
pub fn bare_whisper_full(ctx: &whisper_rs::WhisperContext, audio: &[f32], threads: i32) -> String {
    let mut state = ctx.create_state().unwrap();
    let mut p = whisper_rs::FullParams::new(whisper_rs::SamplingStrategy::Greedy { best_of: 5 });
    p.set_n_threads(threads);
    p.set_language(Some("en"));
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_timestamps(false);
    state.full(p, audio).unwrap();
    (0..state.full_n_segments())
        .filter_map(|i| state.get_segment(i))
        .map(|s| s.to_str_lossy().unwrap().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// faster-whisper (`scripts/bench/faster_whisper_run.py`, run by `python` in one process,
/// `compute` type, `threads` threads) on `files`, its JSON written to `out`: each file's text,
/// in order.
pub fn faster_whisper(
    python: &str,
    compute: &str,
    threads: u32,
    files: &[PathBuf],
    out: &Path,
) -> Vec<String> {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench/faster_whisper_run.py");
    let o = std::process::Command::new(python)
        .arg(&script)
        .args([compute, &threads.to_string()])
        .arg(out)
        .args(files)
        .env("OMP_NUM_THREADS", threads.to_string())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "faster-whisper failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    files
        .iter()
        .map(|f| {
            doc["texts"][f.display().to_string()]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The words of a JSON export's segments: (start ms, end ms, text), in order.
pub fn json_words(doc: &serde_json::Value) -> Vec<(u64, u64, String)> {
    doc["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|seg| seg["words"].as_array().cloned().unwrap_or_default())
        .map(|w| {
            (
                w["start_ms"].as_u64().unwrap(),
                w["end_ms"].as_u64().unwrap(),
                w["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The text of the words inside `a..b` ms, with whisper's timing slack (0.5 s).
pub fn words_within(words: &[(u64, u64, String)], a: u64, b: u64) -> String {
    const SLACK_MS: u64 = 500;
    let inside: Vec<&str> = words
        .iter()
        .filter(|(s, e, _)| s + SLACK_MS >= a && *e <= b + SLACK_MS)
        .map(|(_, _, t)| t.as_str())
        .collect();
    inside.join(" ")
}
