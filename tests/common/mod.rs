#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly by design
//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod http;
pub mod speech;
pub mod whisper;
pub mod worker;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The headless app every ECS test builds: [`verbatim::CorePlugin`] over the data directory
/// `data` (its database `verbatim.db` and audio store there), driven frame by frame
/// ([`verbatim::headless::update_until`]).
pub fn core_app(data: &Path) -> bevy::prelude::App {
    let store = verbatim::library::import::AudioStore::new(data);
    let writer = verbatim::storage::writer::DbWriter::spawn(&data.join("verbatim.db")).unwrap();
    verbatim::headless::headless_app(verbatim::CorePlugin::new(writer, store))
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures").join(name)
}

/// `../shared/data/speech`, where the real clips live.
pub fn speech_dir() -> PathBuf {
    manifest_dir().join("../shared/data/speech")
}

/// Writes `seconds` of a 440 Hz tone as a WAV file.
pub fn write_wav(
    path: &Path,
    sample_rate: u32,
    channels: u16,
    bits: u16,
    float: bool,
    seconds: f32,
) {
    let spec = hound::WavSpec {
        channels,
        sample_rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let frames = (seconds * sample_rate as f32) as u32;
    for i in 0..frames {
        let v = (i as f32 * 440.0 * std::f32::consts::TAU / sample_rate as f32).sin() * 0.5;
        for _ in 0..channels {
            if float {
                w.write_sample(v).unwrap();
            } else {
                let max = (1i64 << (bits - 1)) as f32 - 1.0;
                w.write_sample((v * max) as i32).unwrap();
            }
        }
    }
    w.finalize().unwrap();
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Runs the `verbatim` binary with `VERBATIM_HOME=home` (and no `VERBATIM_MODELS`).
pub fn verbatim(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .args(args)
        .env("VERBATIM_HOME", home)
        .env_remove("VERBATIM_MODELS")
        .output()
        .unwrap()
}

/// stdout then stderr, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A seeded xorshift64 generator (the fault suite's kill schedule, the mutation fuzz): the
/// same seed gives the same run.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// An environment variable as a count, or `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The files of a folder, sorted by name.
pub fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}
