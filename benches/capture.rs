//! Capture benchmarks: the audio callback's work (convert + push 256 frames into the ring),
//! the writer's drain, and what storing a finished take reads of it (its header) against the
//! full probe an import gets.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmarks fail loudly by design

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use verbatim::capture::ring::ring;
use verbatim::capture::wav::{self, Durability, TakeWriter};
use verbatim::media::{ProbeLimits, probe_file};

fn callback(c: &mut Criterion) {
    let mut g = c.benchmark_group("capture");
    let f32_frames = vec![0.25f32; 256 * 2];
    let i16_frames = vec![1234i16; 256 * 2];
    let (mut sink, mut reader) = ring(48_000, 2, 1024);
    let mut out = vec![0.0f32; 512];
    g.bench_function("callback push 256 stereo f32 frames (+ drain)", |b| {
        b.iter(|| {
            sink.push(black_box(&f32_frames));
            black_box(reader.read(&mut out))
        })
    });
    g.bench_function(
        "callback push 256 stereo i16 frames, converted (+ drain)",
        |b| {
            b.iter(|| {
                sink.push(black_box(&i16_frames));
                black_box(reader.read(&mut out))
            })
        },
    );
    g.finish();
}

/// The take writer: one second of 48 kHz stereo f32 per iteration, written in 4,096-frame
/// pieces as the writer thread drains them, with the header update every 250 ms and the fsync
/// every second that crash safety costs. Throughput is in frames: criterion's "elem/s" divided
/// by 48,000 is seconds of audio written per second of wall time.
fn writer(c: &mut Criterion) {
    let mut g = c.benchmark_group("capture");
    g.sample_size(20);
    let dir = tempfile::tempdir().unwrap();
    let chunk = vec![0.125f32; 4096 * 2];
    let second = 48_000usize;
    g.throughput(Throughput::Elements(second as u64));
    let mut n = 0u32;
    g.bench_function(
        "take writer, 1 s of 48 kHz stereo incl. header + fsync",
        |b| {
            b.iter_batched(
                || {
                    n += 1;
                    TakeWriter::create(
                        &dir.path().join(format!("t{n}.wav")),
                        48_000,
                        2,
                        Durability::for_rate(48_000),
                    )
                    .unwrap()
                },
                |mut w| {
                    let mut left = second;
                    while left > 0 {
                        let frames = left.min(4096);
                        w.write(&chunk[..frames * 2]).unwrap();
                        left -= frames;
                    }
                    black_box(w.frames_synced())
                },
                criterion::BatchSize::PerIteration,
            )
        },
    );
    g.finish();
}

/// Storing a finished 60 s take (48 kHz stereo f32, 23 MB): what it holds is read from its
/// header; before, the whole file was decoded to probe it. (Both also hash it once.)
fn store_probe(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("take.wav");
    let mut w = TakeWriter::create(&path, 48_000, 2, Durability::for_rate(48_000)).unwrap();
    let chunk: Vec<f32> = (0..4096 * 2)
        .map(|i| (i as f32 * 0.01).sin() * 0.3)
        .collect();
    for _ in 0..(60 * 48_000 / 4096) {
        w.write(&chunk).unwrap();
    }
    w.finish().unwrap();
    assert_eq!(
        wav::media_info(&path).unwrap(),
        probe_file(&path, &path, &ProbeLimits::default()).unwrap()
    );
    let mut g = c.benchmark_group("store a 60 s take");
    g.sample_size(10);
    g.bench_function("header (what storing a take reads now)", |b| {
        b.iter(|| black_box(wav::media_info(&path).unwrap()).frames)
    });
    g.bench_function("full probe (decode every sample, as before)", |b| {
        b.iter(|| black_box(probe_file(&path, &path, &ProbeLimits::default()).unwrap()).frames)
    });
    g.finish();
}

criterion_group!(benches, callback, writer, store_probe);
criterion_main!(benches);
