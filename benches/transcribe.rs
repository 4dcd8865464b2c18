//! Transcription benchmarks.
//!
//! - `decode+resample`: symphonia + rubato to 16 kHz mono, streamed (audio seconds per wall
//!   second = criterion's elem/s / 16,000).
//! - `whisper`: the synthetic model and the real tiny.en on `jfk.wav` (11 s), VAD off, same
//!   threads and decoding parameters (also with the short-audio encoder context): our engine (streaming decode, windowing, whisper, token extraction, timestamp mapping,
//!   messages) against a bare `whisper_full` call on the pre-decoded buffer, which is what
//!   whisper.cpp's `whisper-cli` does (read the WAV, call `whisper_full`), built from the same
//!   vendored whisper.cpp. The vendored sources (whisper-rs-sys 0.15) do not ship the
//!   `examples/` folder, so `whisper-cli` itself cannot be built from them; the call is the
//!   same one it makes, with its default parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmarks fail loudly by design

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use verbatim::media::decode::{Pcm16k, read_all};
use verbatim::transcribe::engine::{self, Emit, Engine, Faults};
use verbatim::transcribe::protocol::{DecodeParams, GpuPref, JobSpec};
use verbatim::transcribe::synthetic::{SynthSpec, write_model};
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

const THREADS: u32 = 2;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp() -> PathBuf {
    let d = std::env::temp_dir().join(format!("verbatim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tone_wav(path: &Path, rate: u32, channels: u16, seconds: u32) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..rate * seconds {
        let v = ((i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 12_000.0) as i16;
        for _ in 0..channels {
            w.write_sample(v).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn decode(c: &mut Criterion) {
    let dir = tmp();
    let wav = dir.join("tone-44k-stereo-60s.wav");
    tone_wav(&wav, 44_100, 2, 60);
    let flac = manifest().join("tests/fixtures/jfk-1s.flac");
    let mut g = c.benchmark_group("decode+resample");
    g.sample_size(10);
    g.throughput(Throughput::Elements(60 * 16_000));
    g.bench_function("WAV 44.1 kHz stereo, 60 s -> 16 kHz mono", |b| {
        b.iter(|| {
            let mut s = Pcm16k::open(&wav).unwrap();
            let mut buf = Vec::with_capacity(65_536);
            let mut n = 0;
            loop {
                buf.clear();
                let got = s.read(&mut buf, 65_536).unwrap();
                if got == 0 {
                    break;
                }
                n += got;
            }
            n
        })
    });
    g.throughput(Throughput::Elements(16_000));
    g.bench_function("FLAC 16 kHz mono, 1 s", |b| {
        b.iter(|| read_all(&flac).unwrap().len())
    });
    g.finish();
}

/// The engine against a bare whisper_full call with the same decoding, on one model.
fn engine_vs_bare(c: &mut Criterion, label: &str, model: &Path, short_ctx: bool) {
    let jfk = manifest().join("../shared/data/speech/jfk.wav");
    let params = DecodeParams {
        vad: false,
        short_audio_ctx: short_ctx,
        ..DecodeParams::default()
    };
    let mut g = c.benchmark_group(format!("whisper {label}, jfk.wav 11 s, 2 threads"));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(11));

    // whisper-cli's path: load once, then read the WAV and call whisper_full on the buffer,
    // with the decoding parameters the engine uses (so only the pipeline differs).
    let ctx = WhisperContext::new_with_params(model, WhisperContextParameters::default()).unwrap();
    let audio_ctx = if short_ctx {
        engine::short_audio_ctx(11 * 16_000, 1500)
    } else {
        None
    };
    g.bench_function("bare whisper_full (what whisper-cli does)", |b| {
        b.iter(|| {
            let mut state = ctx.create_state().unwrap();
            let mut fp = FullParams::new(SamplingStrategy::Greedy { best_of: 5 });
            fp.set_n_threads(THREADS as i32);
            fp.set_language(Some("en"));
            fp.set_no_speech_thold(params.no_speech_threshold);
            fp.set_temperature_inc(0.2);
            fp.set_token_timestamps(true);
            fp.set_suppress_nst(true);
            fp.set_no_context(false);
            if let Some(n) = audio_ctx {
                fp.set_audio_ctx(n as i32);
            }
            fp.set_print_progress(false);
            fp.set_print_realtime(false);
            fp.set_print_timestamps(false);
            let audio = read_all(&jfk).unwrap();
            state.full(fp, &audio).unwrap();
            state.full_n_segments()
        })
    });

    let mut engine = Engine::new(Faults::default());
    let cancel = Arc::new(AtomicBool::new(false));
    let emit: Emit = Arc::new(|m| {
        std::hint::black_box(serde_json::to_string(&m).ok());
    });
    let spec = JobSpec {
        job: 1,
        audio: jfk.clone(),
        model: model.to_path_buf(),
        params,
        vad_model: None,
        gpu: GpuPref::Off,
        threads: THREADS,
        adapt_threads: false,
        vad_threads: 1,
        spans_ms: Vec::new(),
    };
    g.bench_function(
        "verbatim engine (validate, stream, whisper, map, emit)",
        |b| b.iter(|| engine.run(&spec, &cancel, &emit).unwrap().segments),
    );
    g.finish();
}

fn whisper(c: &mut Criterion) {
    whisper_rs::install_logging_hooks();
    let dir = tmp();
    let model = dir.join("ggml-synth.bin");
    write_model(&model, &SynthSpec::default()).unwrap();
    engine_vs_bare(c, "synthetic model", &model, false);
    // The real tiny.en (`VERBATIM_TEST_MODEL` or the shared one), when there is one.
    let real = std::env::var_os("VERBATIM_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest().join("../shared/data/models/tiny.en-ggml.bin"));
    if real.is_file() {
        engine_vs_bare(c, "tiny.en f16, full 30 s window", &real, false);
        engine_vs_bare(c, "tiny.en f16, audio_ctx 704", &real, true);
    } else {
        eprintln!(
            "no real model at {}: the tiny.en cases are skipped",
            real.display()
        );
    }
}

criterion_group!(benches, decode, whisper);
criterion_main!(benches);
