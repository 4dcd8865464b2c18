//! DSP benchmarks: a 2048-point spectrum frame, the log-axis resample, the peak pyramid
//! (push and a 1000-pixel screen of columns for a 1-minute and a 1-hour take).
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmarks fail loudly by design

use std::hint::black_box;

use bevy_egui::egui;
use criterion::{Criterion, criterion_group, criterion_main};
use verbatim::dsp::meter;
use verbatim::dsp::peaks::{MinMax, PeakPyramid};
use verbatim::dsp::spectrum::{LogAxis, SpectrumAnalyzer, spectrogram_column};
use verbatim::ui::recorder_panel::waveform_mesh;

const RATE: u32 = 48_000;

fn signal(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 0.0131).sin() * 0.4 + (i as f32 * 0.37).sin() * 0.1)
        .collect()
}

fn spectrum(c: &mut Criterion) {
    let mut g = c.benchmark_group("dsp");
    let frame = signal(2048);
    for size in [1024usize, 2048, 4096] {
        let frame = signal(size);
        let mut fft = SpectrumAnalyzer::new(size).unwrap();
        g.bench_function(
            format!("spectrum frame {size} (window + realfft + dB + smoothing)"),
            |b| b.iter(|| black_box(fft.process(black_box(&frame))[100])),
        );
    }
    let mut fft = SpectrumAnalyzer::new(2048).unwrap();
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
    // A 1920-pixel waveform frame: per-pixel min/max from the pyramid, then one egui mesh.
    // The pyramid is built from 256-frame blocks, as the capture writer sends them.
    let blocks: Vec<MinMax> = (0..1 << 16)
        .map(|i| {
            let v = ((i as f32) * 0.01).sin() * 0.5;
            MinMax {
                min: -v.abs(),
                max: v.abs(),
            }
        })
        .collect();
    let rect = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1920.0, 100.0));
    for (name, seconds) in [("1 min", 60u64), ("10 h", 36_000)] {
        let mut p = PeakPyramid::new();
        let total = seconds * u64::from(RATE);
        while p.len() < total {
            let left = ((total - p.len()) / 256).min(blocks.len() as u64) as usize;
            p.push_blocks(&blocks[..left.max(1)]);
        }
        let mut cols = Vec::with_capacity(1920);
        let mut mesh = egui::Mesh::default();
        let spp = p.len() as f64 / 1920.0;
        g.bench_function(
            format!("waveform frame 1920 px as one mesh, whole {name} take"),
            |b| {
                b.iter(|| {
                    p.screen_columns(0, spp, 1920, &mut cols);
                    waveform_mesh(&cols, rect, egui::Color32::WHITE, &mut mesh);
                    black_box(mesh.vertices.len())
                })
            },
        );
    }
    // The naive way for comparison: a polyline through 100,000 samples.
    let samples = signal(100_000);
    g.bench_function("naive waveform: 100,000-point line shape", |b| {
        b.iter(|| {
            let points: Vec<egui::Pos2> = samples
                .iter()
                .enumerate()
                .map(|(i, s)| egui::pos2(i as f32 * 1920.0 / 100_000.0, 50.0 - s * 50.0))
                .collect();
            let mut mesh = egui::Mesh::default();
            let mut tess = egui::epaint::Tessellator::new(
                1.0,
                egui::epaint::TessellationOptions::default(),
                [1, 1],
                vec![],
            );
            tess.tessellate_path(
                &egui::epaint::PathShape::line(
                    points,
                    egui::Stroke::new(1.0, egui::Color32::WHITE),
                ),
                &mut mesh,
            );
            black_box(mesh.vertices.len())
        })
    });
    g.finish();
}

criterion_group!(benches, spectrum, pyramid);
criterion_main!(benches);
