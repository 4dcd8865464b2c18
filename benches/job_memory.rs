//! Peak memory of a long file job: `cargo bench --bench job_memory` transcribes one hour of
//! real speech (`jfk.wav` repeated) with the synthetic model and the Silero VAD in a
//! `verbatim worker` process, and prints the worker's peak resident memory (VmHWM) and its
//! speed. The audio is streamed in two-minute windows, so the peak must not grow with the
//! file: the hour's decoded samples alone would be 230 MB as f32. Under `cargo test` it runs
//! one minute as a smoke test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/common/worker.rs"]
mod worker;

use std::path::PathBuf;

use verbatim::transcribe::synthetic::{SynthSpec, write_model};

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

    let job = worker::file_job(
        &wav,
        model,
        manifest.join("../shared/data/models/silero-v6.2.0-ggml.bin"),
        std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
    );
    let run = worker::run_job(env!("CARGO_BIN_EXE_verbatim"), job);
    println!(
        "job_memory: {minutes} min of speech, {} segments, {:.1} s of speech to whisper, {:.1} s wall ({:.1}x real time), worker peak RSS {:.1} MB",
        run.segments,
        run.stats.speech_ms as f64 / 1000.0,
        run.seconds,
        f64::from(minutes) * 60.0 / run.seconds,
        run.peak_kb as f64 / 1024.0
    );
    // A bound that fails if the job held the file in memory.
    assert!(run.peak_kb < 200 * 1024, "peak RSS {} kB", run.peak_kb);
    let _ = std::fs::remove_dir_all(&dir);
}
