//! DSP benchmarks: a 2048-point spectrum frame, the log-axis resample, the peak pyramid
//! (push and a 1000-pixel screen of columns for a 1-minute and a 1-hour take).
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmarks fail loudly by design

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use verbatim::dsp::meter;
use verbatim::dsp::peaks::PeakPyramid;
use verbatim::dsp::spectrum::{LogAxis, SpectrumAnalyzer, spectrogram_column};

const RATE: u32 = 48_000;

fn signal(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 0.0131).sin() * 0.4 + (i as f32 * 0.37).sin() * 0.1)
        .collect()
}

fn spectrum(c: &mut Criterion) {
    let mut g = c.benchmark_group("dsp");
    let frame = signal(2048);
    let mut fft = SpectrumAnalyzer::new(2048).unwrap();
    g.bench_function(
        "spectrum frame 2048 (window + realfft + dB + smoothing)",
        |b| b.iter(|| black_box(fft.process(black_box(&frame))[100])),
    );
    let axis = LogAxis::new(20.0, 20_000.0, 256).unwrap();
    let db = fft.process(&frame).to_vec();
    let mut bands = vec![0.0; 256];
    let mut column = vec![0u8; 256 * 4];
    g.bench_function("log axis 256 bands + spectrogram column", |b| {
        b.iter(|| {
            axis.resample(black_box(&db), RATE, 2048, &mut bands);
            spectrogram_column(&bands, -100.0, 0.0, &mut column);
            black_box(column[0])
        })
    });
    let block = signal(256);
    g.bench_function("meter 256 frames", |b| {
        b.iter(|| black_box(meter::measure(black_box(&block))))
    });
    g.finish();
}

fn pyramid(c: &mut Criterion) {
    let mut g = c.benchmark_group("dsp");
    let block = signal(256);
    g.bench_function("peak pyramid push 256 frames", |b| {
        let mut p = PeakPyramid::new();
        b.iter(|| p.push(black_box(&block)))
    });
    let chunk = signal(1 << 16);
    for (name, seconds) in [("1 min", 60u64), ("1 h", 3600)] {
        let mut p = PeakPyramid::new();
        let total = seconds * u64::from(RATE);
        while p.len() < total {
            p.push(&chunk);
        }
        let mut cols = Vec::with_capacity(1000);
        let spp = p.len() as f64 / 1000.0;
        g.bench_function(format!("waveform 1000 px, whole {name} take"), |b| {
            b.iter(|| {
                p.columns(0, spp, 1000, None, &mut cols);
                black_box(cols.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, spectrum, pyramid);
criterion_main!(benches);
