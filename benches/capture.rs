//! Capture benchmarks: the audio callback's work (convert + push 256 frames into the ring)
//! and the writer's drain.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmarks fail loudly by design

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use verbatim::capture::ring::ring;

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

criterion_group!(benches, callback);
criterion_main!(benches);
