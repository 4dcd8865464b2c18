//! FFT spectrum: Hann window, real FFT (realfft), magnitude in dBFS, exponential smoothing,
//! and resampling onto a log-frequency axis for display and spectrogram columns.
//!
//! Everything is allocated in [`SpectrumAnalyzer::new`]; [`SpectrumAnalyzer::process`] does no
//! allocation, so it can run every frame on the live signal.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::{DspError, FLOOR_DB};

/// Spectrum analysis of fixed-size frames.
pub struct SpectrumAnalyzer {
    size: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    input: Vec<f32>,
    output: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    smoothed: Vec<f32>,
    /// 0 = no smoothing; 0.9 = heavy. Applied per frame to the dB values.
    pub smoothing: f32,
    /// Scale that maps a full-scale sine to 0 dBFS (Hann coherent gain 0.5).
    norm: f32,
    fresh: bool,
}

impl std::fmt::Debug for SpectrumAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpectrumAnalyzer")
            .field("size", &self.size)
            .field("smoothing", &self.smoothing)
            .finish()
    }
}

impl SpectrumAnalyzer {
    /// The default frame: 2048 points (43 ms at 48 kHz, 23 Hz bins).
    pub const DEFAULT_SIZE: usize = 2048;

    pub fn new(size: usize) -> Result<Self, DspError> {
        if !size.is_power_of_two() || !(256..=32768).contains(&size) {
            return Err(DspError::FftSize(size));
        }
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(size);
        let window = (0..size)
            .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / size as f32).cos())
            .collect();
        Ok(Self {
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            smoothed: vec![FLOOR_DB; size / 2 + 1],
            fft,
            window,
            size,
            smoothing: 0.5,
            norm: size as f32 / 4.0,
            fresh: true,
        })
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Bins in a spectrum (`size / 2 + 1`, DC to Nyquist).
    pub fn bins(&self) -> usize {
        self.size / 2 + 1
    }

    /// The centre frequency of bin `i`.
    pub fn bin_hz(&self, i: usize, sample_rate: u32) -> f32 {
        i as f32 * sample_rate as f32 / self.size as f32
    }

    /// Analyses the newest `size` samples of `frame` (mono; shorter input is zero-padded at
    /// the front). Returns the smoothed spectrum in dBFS, one value per bin.
    pub fn process(&mut self, frame: &[f32]) -> &[f32] {
        let n = self.size;
        let take = frame.len().min(n);
        let pad = n - take;
        let src = frame.get(frame.len() - take..).unwrap_or_default();
        let (zeros, signal) = self.input.split_at_mut(pad);
        zeros.fill(0.0);
        let window = self.window.get(pad..).unwrap_or_default();
        for ((dst, s), w) in signal.iter_mut().zip(src).zip(window) {
            *dst = s * w;
        }
        if self
            .fft
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
            .is_err()
        {
            // Only possible with mis-sized buffers, which `new` rules out.
            return &self.smoothed;
        }
        let a = if self.fresh {
            0.0
        } else {
            self.smoothing.clamp(0.0, 0.99)
        };
        self.fresh = false;
        // 10·log10(|X|² / norm²): no square root per bin.
        let inv_norm_sq = 1.0 / (self.norm * self.norm);
        // A series log2 (error < 0.001 dB) instead of `log10`: branch-free, so the loop
        // vectorises; the exact log was half of the frame's time.
        for (out, c) in self.smoothed.iter_mut().zip(&self.output) {
            let p = (c.norm_sqr() * inv_norm_sq).max(1e-13);
            let db = (DB_PER_OCTAVE_POWER * fast_log2(p)).max(FLOOR_DB);
            *out = a * *out + (1.0 - a) * db;
        }
        &self.smoothed
    }

    /// Forgets the smoothing history (a new take, a new device).
    pub fn reset(&mut self) {
        self.fresh = true;
        self.smoothed.fill(FLOOR_DB);
    }
}

/// 10·log10(2): dB per doubling of power.
const DB_PER_OCTAVE_POWER: f32 = 3.010_3;

/// log2 of a positive normal `x`: exponent bits plus the atanh series of the mantissa
/// (log2 m = 2/ln 2 · atanh((m-1)/(m+1)), four terms; absolute error below 2e-5, i.e.
/// 0.0001 dB).
#[inline]
pub fn fast_log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let series = t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0))));
    exponent as f32 + std::f32::consts::LOG2_E * 2.0 * series
}

/// A log-frequency axis of `bands` bands from `f_min` to `f_max`, for drawing spectra and
/// spectrogram columns so that each octave gets the same room.
#[derive(Debug, Clone, PartialEq)]
pub struct LogAxis {
    pub f_min: f32,
    pub f_max: f32,
    edges: Vec<f32>,
}

impl LogAxis {
    pub fn new(f_min: f32, f_max: f32, bands: usize) -> Result<Self, DspError> {
        if !(f_min > 0.0 && f_max > f_min && bands > 0) {
            return Err(DspError::Axis(format!(
                "{f_min} Hz to {f_max} Hz in {bands} bands"
            )));
        }
        let ratio = (f_max / f_min).ln();
        let edges = (0..=bands)
            .map(|i| f_min * (ratio * i as f32 / bands as f32).exp())
            .collect();
        Ok(Self {
            f_min,
            f_max,
            edges,
        })
    }

    pub fn bands(&self) -> usize {
        self.edges.len() - 1
    }

    /// The position (0 at `f_min`, 1 at `f_max`) of a frequency on the axis.
    pub fn position(&self, hz: f32) -> f32 {
        (hz / self.f_min).ln() / (self.f_max / self.f_min).ln()
    }

    /// Resamples a spectrum (dB per FFT bin) onto the bands: the loudest bin in each band, or,
    /// where a band is narrower than a bin (low frequencies), the value interpolated at its
    /// centre. `out` gets one value per band.
    pub fn resample(
        &self,
        spectrum_db: &[f32],
        sample_rate: u32,
        fft_size: usize,
        out: &mut [f32],
    ) {
        let bin_hz = sample_rate as f32 / fft_size as f32;
        let last = spectrum_db.len().saturating_sub(1);
        for (i, o) in out.iter_mut().enumerate().take(self.bands()) {
            let (lo, hi) = (self.edges[i] / bin_hz, self.edges[i + 1] / bin_hz);
            let (first, end) = (lo.ceil() as usize, (hi.floor() as usize).min(last));
            *o = if first <= end && first <= last {
                spectrum_db[first..=end]
                    .iter()
                    .copied()
                    .fold(FLOOR_DB, f32::max)
            } else {
                let centre = ((lo + hi) * 0.5).min(last as f32);
                let k = centre.floor() as usize;
                let t = centre - k as f32;
                let a = spectrum_db.get(k).copied().unwrap_or(FLOOR_DB);
                let b = spectrum_db.get(k + 1).copied().unwrap_or(a);
                a + (b - a) * t
            };
        }
    }
}

/// A spectrogram picture of `samples[start..end]` (mono, `sample_rate`): `width` columns and
/// `axis.bands()` rows (RGBA, row by row, the highest band on top), each column the loudest of
/// up to four FFTs of `fft_size` samples spread over its stretch. The cost follows the picture
/// (at most 4 × `width` FFTs), not the length of the stretch: a 10-hour file seen whole costs
/// what a second of it does.
pub fn view_image(
    samples: &[f32],
    sample_rate: u32,
    (start, end): (usize, usize),
    width: usize,
    axis: &LogAxis,
    fft_size: usize,
    (db_min, db_max): (f32, f32),
) -> Result<Vec<u8>, DspError> {
    let mut fft = SpectrumAnalyzer::new(fft_size)?;
    fft.smoothing = 0.0;
    let bands = axis.bands();
    let mut img = vec![0u8; width * bands * 4];
    let (start, end) = (start.min(samples.len()), end.min(samples.len()));
    let per_col = (end.saturating_sub(start)) as f64 / width.max(1) as f64;
    let probes = (per_col / fft_size as f64).ceil().clamp(1.0, 4.0) as usize;
    let mut best = vec![FLOOR_DB; bands];
    let mut col_db = vec![FLOOR_DB; bands];
    let mut rgba = vec![0u8; bands * 4];
    for x in 0..width {
        best.fill(FLOOR_DB);
        for k in 0..probes {
            let centre = start as f64 + per_col * (x as f64 + (k as f64 + 0.5) / probes as f64);
            let to = (centre as usize + fft_size / 2).min(end);
            let from = to.saturating_sub(fft_size).max(start);
            let Some(frame) = samples.get(from..to) else {
                continue;
            };
            fft.reset();
            let spectrum = fft.process(frame);
            axis.resample(spectrum, sample_rate, fft_size, &mut col_db);
            for (b, c) in best.iter_mut().zip(&col_db) {
                *b = b.max(*c);
            }
        }
        spectrogram_column(&best, db_min, db_max, &mut rgba);
        for (row, px) in rgba.chunks_exact(4).enumerate() {
            let at = (row * width + x) * 4;
            if let Some(dst) = img.get_mut(at..at + 4) {
                dst.copy_from_slice(px);
            }
        }
    }
    Ok(img)
}

/// Colours one spectrogram column: `bands_db` (low to high frequency) becomes RGBA rows
/// written top (high frequency) to bottom into `rgba` (4 bytes per band), on a perceptual
/// dark-to-bright colour map between `db_min` and `db_max`.
pub fn spectrogram_column(bands_db: &[f32], db_min: f32, db_max: f32, rgba: &mut [u8]) {
    let span = (db_max - db_min).max(1.0);
    for (px, db) in rgba.chunks_exact_mut(4).zip(bands_db.iter().rev()) {
        let t = ((db - db_min) / span).clamp(0.0, 1.0);
        px.copy_from_slice(&colormap(t));
    }
}

/// A compact approximation of the "inferno" colour map (black, purple, orange, yellow-white).
pub fn colormap(t: f32) -> [u8; 4] {
    const STOPS: [(f32, [f32; 3]); 5] = [
        (0.0, [0.0, 0.0, 4.0]),
        (0.25, [87.0, 16.0, 110.0]),
        (0.5, [188.0, 55.0, 84.0]),
        (0.75, [249.0, 142.0, 9.0]),
        (1.0, [252.0, 255.0, 164.0]),
    ];
    let t = t.clamp(0.0, 1.0);
    let mut out = [0u8, 0, 0, 255];
    for w in STOPS.windows(2) {
        let ((t0, c0), (t1, c1)) = (w[0], w[1]);
        if t <= t1 {
            let f = (t - t0) / (t1 - t0);
            for k in 0..3 {
                out[k] = (c0[k] + (c1[k] - c0[k]) * f).round() as u8;
            }
            break;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The brightest row of each column of a picture (0: the top, the highest band).
    fn brightest_rows(img: &[u8], width: usize, bands: usize) -> Vec<usize> {
        (0..width)
            .map(|x| {
                (0..bands)
                    .max_by_key(|&row| {
                        let p = &img[(row * width + x) * 4..][..3];
                        u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])
                    })
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn a_view_picture_puts_a_tone_in_its_band_over_any_length_of_file() {
        let rate = 16_000;
        let tone = |seconds: usize| -> Vec<f32> {
            (0..rate * seconds)
                .map(|i| {
                    0.5 * (2.0 * std::f32::consts::PI * 1_000.0 * i as f32 / rate as f32).sin()
                })
                .collect()
        };
        let axis = LogAxis::new(60.0, 8_000.0, 64).unwrap();
        let want = 63 - (axis.position(1_000.0) * 64.0) as usize;
        for seconds in [2, 600] {
            let samples = tone(seconds);
            let img = view_image(
                &samples,
                rate as u32,
                (0, samples.len()),
                100,
                &axis,
                512,
                (-90.0, -20.0),
            )
            .unwrap();
            assert_eq!(img.len(), 100 * 64 * 4);
            for row in brightest_rows(&img, 100, 64) {
                assert!(
                    row.abs_diff(want) <= 1,
                    "{seconds} s: row {row}, want {want}"
                );
            }
        }
        // A stretch past the samples is dark, not a panic.
        let short = tone(1);
        let img = view_image(
            &short,
            16_000,
            (0, 10 * 16_000),
            50,
            &axis,
            512,
            (-90.0, -20.0),
        )
        .unwrap();
        assert_eq!(img.len(), 50 * 64 * 4);
    }
}
