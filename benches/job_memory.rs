//! Peak memory of a long file job: `cargo bench --bench job_memory` transcribes one hour of
//! real speech (`jfk.wav` repeated) with the synthetic model and the Silero VAD in a
//! `verbatim worker` process, and prints the worker's peak resident memory (VmHWM) and its
//! speed. The audio is streamed in two-minute windows, so the peak must not grow with the
//! file: the hour's decoded samples alone would be 230 MB as f32. Under `cargo test` it runs
//! one minute as a smoke test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use verbatim::transcribe::protocol::{DecodeParams, FromWorker, GpuPref, JobSpec, ToWorker};
use verbatim::transcribe::synthetic::{SynthSpec, write_model};

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let minutes: u32 = if full { 60 } else { 1 };
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("verbatim-job-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("ggml-synth.bin");
    write_model(&model, &SynthSpec::default()).unwrap();

    // jfk.wav (11 s of speech) repeated to the length.
    let jfk = manifest.join("../shared/data/speech/jfk.wav");
    let mut r = hound::WavReader::open(&jfk).unwrap();
    let speech: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let wav = dir.join("long.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    let total = 16_000 * 60 * minutes as usize;
    for i in 0..total {
        w.write_sample(speech[i % speech.len()]).unwrap();
    }
    w.finalize().unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .arg("worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let job = JobSpec {
        job: 1,
        audio: wav.clone(),
        model,
        params: DecodeParams::default(),
        vad_model: Some(manifest.join("../shared/data/models/silero-v6.2.0-ggml.bin")),
        gpu: GpuPref::Off,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        adapt_threads: false,
        vad_threads: 1,
        spans_ms: Vec::new(),
    };
    let t = Instant::now();
    writeln!(
        stdin,
        "{}",
        serde_json::to_string(&ToWorker::Run(Box::new(job))).unwrap()
    )
    .unwrap();
    let mut segments = 0;
    let mut peak_during = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        peak_during = peak_during.max(vm_hwm_kb(pid).unwrap_or(0));
        match serde_json::from_str::<FromWorker>(&line) {
            Ok(FromWorker::Segment { .. }) => segments += 1,
            Ok(FromWorker::Done { stats, .. }) => {
                let secs = t.elapsed().as_secs_f64();
                let peak = vm_hwm_kb(pid).unwrap_or(peak_during);
                println!(
                    "job_memory: {minutes} min of speech, {segments} segments, {:.1} s of speech to whisper, {secs:.1} s wall ({:.1}x real time), worker peak RSS {:.1} MB",
                    stats.speech_ms as f64 / 1000.0,
                    f64::from(minutes) * 60.0 / secs,
                    peak as f64 / 1024.0
                );
                // A bound that fails if the job held the file in memory.
                assert!(peak < 200 * 1024, "peak RSS {peak} kB");
                break;
            }
            Ok(FromWorker::Failed { error, .. }) => panic!("the job failed: {error}"),
            _ => {}
        }
    }
    let _ = writeln!(
        stdin,
        "{}",
        serde_json::to_string(&ToWorker::Shutdown).unwrap()
    );
    drop(stdin);
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
