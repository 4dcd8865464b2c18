//! DSP: spectrum, meters, log axis, spectrogram colours, peak pyramid.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use assert_no_alloc::{AllocDisabler, assert_no_alloc, reset_violation_count, violation_count};
use verbatim::dsp::meter::{self, Meter};
use verbatim::dsp::peaks::{COARSE, FINE, MinMax, PeakPyramid};
use verbatim::dsp::spectrum::{LogAxis, SpectrumAnalyzer, colormap, spectrogram_column};
use verbatim::dsp::{DspError, FLOOR_DB, to_dbfs};

// Counts allocations made inside `assert_no_alloc` blocks (warn mode, so the test can report).
#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

fn allocations_during(f: impl FnOnce()) -> u32 {
    reset_violation_count();
    assert_no_alloc(f);
    violation_count()
}

fn sine(freq: f32, amp: f32, rate: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| amp * (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin())
        .collect()
}

/// A reproducible pseudo-random signal in [-1, 1].
fn noise(n: usize, mut seed: u64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

#[test]
fn a_1khz_sine_peaks_within_one_bin_of_1khz_at_its_level() {
    let rate = 48_000;
    let mut fft = SpectrumAnalyzer::new(SpectrumAnalyzer::DEFAULT_SIZE).unwrap();
    let db = fft.process(&sine(1000.0, 0.5, rate, 4096)).to_vec();
    let (peak_bin, peak_db) = db
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    let bin_hz = fft.bin_hz(1, rate);
    assert!(
        (fft.bin_hz(peak_bin, rate) - 1000.0).abs() <= bin_hz,
        "peak at {} Hz",
        fft.bin_hz(peak_bin, rate)
    );
    // -6.02 dBFS, less at most the Hann window's scalloping loss (1.42 dB) between bins.
    assert!((-7.5..=-5.9).contains(&peak_db), "{peak_db} dBFS");
    // Far from the tone the spectrum is far below it.
    assert!(db[peak_bin * 4] < peak_db - 60.0);
}

#[test]
fn silence_reads_the_floor_and_a_full_scale_sine_reads_0_dbfs() {
    let mut fft = SpectrumAnalyzer::new(1024).unwrap();
    assert!(fft.process(&[0.0; 1024]).iter().all(|&d| d == FLOOR_DB));
    fft.reset();
    // A tone exactly on a bin: no scalloping.
    let db = fft
        .process(&sine(48_000.0 / 1024.0 * 64.0, 1.0, 48_000, 1024))
        .to_vec();
    assert!((db[64] - 0.0).abs() < 0.1, "{} dBFS", db[64]);
}

#[test]
fn processing_a_frame_allocates_nothing() {
    let mut fft = SpectrumAnalyzer::new(2048).unwrap();
    let signal = sine(440.0, 0.3, 48_000, 2048);
    let mut bands = vec![0.0; 256];
    let axis = LogAxis::new(20.0, 20_000.0, 256).unwrap();
    let mut column = vec![0u8; 256 * 4];
    fft.process(&signal);
    let n = allocations_during(|| {
        for _ in 0..10 {
            let db = fft.process(&signal);
            axis.resample(db, 48_000, 2048, &mut bands);
            spectrogram_column(&bands, -100.0, 0.0, &mut column);
            std::hint::black_box(meter::measure(&signal));
        }
    });
    assert_eq!(n, 0, "the per-frame path allocated {n} times");
}

#[test]
fn smoothing_moves_towards_new_values() {
    let mut fft = SpectrumAnalyzer::new(1024).unwrap();
    fft.smoothing = 0.5;
    let tone = sine(48_000.0 / 1024.0 * 32.0, 1.0, 48_000, 1024);
    let first = fft.process(&tone)[32];
    let quiet = fft.process(&[0.0; 1024])[32];
    assert!(
        quiet < first && quiet > FLOOR_DB,
        "halfway between {first} and the floor, got {quiet}"
    );
}

#[test]
fn fft_sizes_are_checked() {
    assert_eq!(
        SpectrumAnalyzer::new(1000).unwrap_err(),
        DspError::FftSize(1000)
    );
    assert!(SpectrumAnalyzer::new(128).is_err());
    assert!(SpectrumAnalyzer::new(65536).is_err());
    assert!(SpectrumAnalyzer::new(4096).is_ok());
}

#[test]
fn meters_measure_peak_rms_and_clipping() {
    let s = sine(997.0, 0.5, 48_000, 48_000);
    let l = meter::measure(&s);
    assert!((l.peak_dbfs + 6.02).abs() < 0.05, "{}", l.peak_dbfs);
    assert!((l.rms_dbfs + 9.03).abs() < 0.05, "{}", l.rms_dbfs);
    assert_eq!(l.clipped_samples, 0);
    assert_eq!(meter::measure(&[0.0; 64]).peak_dbfs, FLOOR_DB);
    assert_eq!(to_dbfs(f32::NAN), FLOOR_DB);

    let mut clipping = sine(997.0, 1.4, 48_000, 4800);
    clipping.iter_mut().for_each(|x| *x = x.clamp(-1.0, 1.0));
    let l = meter::measure(&clipping);
    assert!(l.clipped_samples > 100);
    let mut m = Meter::default();
    m.update(&l, 0.1);
    assert!(m.clip);
    // The clip stays lit through quiet audio until reset; the held peak falls after the hold.
    for _ in 0..40 {
        m.update(&meter::measure(&[0.0; 480]), 0.1);
    }
    assert!(m.clip);
    assert!(m.held_peak_dbfs < -40.0, "{}", m.held_peak_dbfs);
    m.reset_clip();
    assert!(!m.clip);
}

#[test]
fn the_log_axis_puts_a_tone_in_its_band() {
    let rate = 48_000;
    let mut fft = SpectrumAnalyzer::new(2048).unwrap();
    let db = fft.process(&sine(1000.0, 0.5, rate, 2048)).to_vec();
    let axis = LogAxis::new(20.0, 20_000.0, 300).unwrap();
    let mut bands = vec![0.0; 300];
    axis.resample(&db, rate, 2048, &mut bands);
    let loudest = bands
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
        .0;
    let expected = (axis.position(1000.0) * 300.0) as usize;
    assert!(
        loudest.abs_diff(expected) <= 2,
        "band {loudest}, expected about {expected}"
    );
    // Low bands, narrower than one FFT bin, are interpolated rather than left empty.
    assert!(bands[..10].iter().all(|d| *d > FLOOR_DB));
    assert!(LogAxis::new(100.0, 50.0, 10).is_err());
}

#[test]
fn spectrogram_columns_run_dark_to_bright_top_down_from_high_frequencies() {
    assert_eq!(colormap(0.0)[..3], [0, 0, 4]);
    let bright = |t: f32| colormap(t)[..3].iter().map(|&c| u32::from(c)).sum::<u32>();
    assert!((0..10).all(|i| bright(i as f32 / 10.0) < bright((i + 1) as f32 / 10.0)));
    let mut px = vec![0u8; 3 * 4];
    spectrogram_column(&[-100.0, -50.0, 0.0], -100.0, 0.0, &mut px);
    assert_eq!(px[..4], colormap(1.0), "the highest band is the top row");
    assert_eq!(px[8..], colormap(0.0));
}

#[test]
fn peak_columns_equal_a_brute_force_scan() {
    let data = noise(COARSE * 3 + 12_345, 7);
    let mut p = PeakPyramid::new();
    // Arrive in odd chunk sizes, as audio callbacks deliver them.
    let mut at = 0;
    for (i, size) in [1usize, 255, 256, 257, 4096, 65_535, 99_999]
        .iter()
        .cycle()
        .enumerate()
    {
        if at >= data.len() || i > 10_000 {
            break;
        }
        let end = (at + size).min(data.len());
        p.push(&data[at..end]);
        at = end;
    }
    assert_eq!(p.len(), data.len() as u64);

    let mut cols = Vec::new();
    for (start, spp, width) in [
        (0u64, 1.0f64, 300usize),
        (17, 3.7, 500),
        (1000, 700.3, 400),
        (5, 65_536.0 * 1.5, 2),
        (0, 211.0, 1000),
    ] {
        // The samples column `x` covers: the brute-force reference.
        let span = |x: usize| {
            let a = (start + (x as f64 * spp).floor() as u64) as usize;
            let b = ((start + ((x + 1) as f64 * spp).floor() as u64) as usize)
                .max(a + 1)
                .min(data.len());
            (a, b)
        };
        p.columns(start, spp, width, Some(&data), &mut cols);
        for (x, col) in cols.iter().enumerate() {
            let (a, b) = span(x);
            if a >= data.len() {
                assert!(col.is_none());
                continue;
            }
            assert_eq!(
                *col,
                Some(MinMax::of(&data[a..b])),
                "column {x} ({a}..{b}) at {spp} samples/px"
            );
        }
        // Without the raw samples, a column covers at least its exact range (never hides a peak)
        // and at most the whole blocks it touches.
        p.columns(start, spp, width, None, &mut cols);
        for (x, col) in cols.iter().enumerate() {
            let (a, b) = span(x);
            if a >= data.len() {
                continue;
            }
            let exact = MinMax::of(&data[a..b]);
            let blocks = MinMax::of(
                &data[a / FINE * FINE..b.div_ceil(FINE).saturating_mul(FINE).min(data.len())],
            );
            let got = col.unwrap();
            assert!(
                got.min <= exact.min && got.max >= exact.max,
                "column {x} hides a peak"
            );
            assert!(
                got.min >= blocks.min && got.max <= blocks.max,
                "column {x} reaches outside its blocks"
            );
        }
    }
}

#[test]
fn an_empty_pyramid_and_ranges_past_the_end_are_none() {
    let mut p = PeakPyramid::new();
    assert_eq!(p.range(0, 10, None), None);
    p.push(&[0.5, -0.25]);
    assert_eq!(
        p.range(0, 10, None),
        Some(MinMax {
            min: -0.25,
            max: 0.5
        })
    );
    assert_eq!(p.range(2, 10, None), None);
}

#[test]
fn screen_columns_never_hide_a_peak_and_widen_by_less_than_a_column() {
    let data = noise(COARSE * 20 + 777, 11);
    let mut p = PeakPyramid::new();
    for chunk in data.chunks(1000) {
        p.push(chunk);
    }
    let mut cols = Vec::new();
    for (start, spp, width) in [
        (0u64, 300.0f64, 1920usize),
        (5_000, 1_500.0, 1000),
        (0, data.len() as f64 / 1920.0, 1920),
        (123, 70_000.0, 40),
        (0, 1.0, 100),
    ] {
        p.screen_columns(start, spp, width, &mut cols);
        assert_eq!(cols.len(), width);
        for (x, col) in cols.iter().enumerate() {
            let a = (start + (x as f64 * spp).floor() as u64) as usize;
            let b = ((start + ((x + 1) as f64 * spp).floor() as u64) as usize).max(a + 1);
            if a >= data.len() {
                assert!(col.is_none());
                continue;
            }
            let b = b.min(data.len());
            let exact = MinMax::of(&data[a..b]);
            let widened = spp.ceil().max(FINE as f64) as usize;
            let outer = MinMax::of(&data[a.saturating_sub(widened)..(b + widened).min(data.len())]);
            let got = col.unwrap();
            assert!(
                got.min <= exact.min && got.max >= exact.max,
                "column {x} hides a peak"
            );
            assert!(
                got.min >= outer.min && got.max <= outer.max,
                "column {x} reaches further than a column"
            );
        }
    }
}

#[test]
fn blocks_from_the_capture_writer_build_the_same_pyramid() {
    let data = noise(COARSE * 2 + FINE * 3, 5);
    let mut direct = PeakPyramid::new();
    direct.push(&data);
    let blocks: Vec<MinMax> = data.chunks_exact(FINE).map(MinMax::of).collect();
    let mut from_blocks = PeakPyramid::new();
    from_blocks.push_blocks(&blocks[..100]);
    from_blocks.push_blocks(&blocks[100..]);
    assert_eq!(from_blocks.len(), direct.len());
    for k in 0..verbatim::dsp::peaks::LEVELS {
        assert_eq!(from_blocks.level(k), direct.level(k), "level {k}");
    }
}

#[test]
fn the_fast_log2_behind_the_spectrum_is_within_a_thousandth_of_a_db() {
    let mut x = 1e-12f32;
    while x < 1e6 {
        let exact = 10.0 * x.log10();
        let fast = 3.010_3 * verbatim::dsp::spectrum::fast_log2(x);
        assert!((exact - fast).abs() < 1e-3, "{x}: {exact} vs {fast}");
        x *= 1.013;
    }
}
