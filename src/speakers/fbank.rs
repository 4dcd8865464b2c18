//! Kaldi's log mel filter bank (what `torchaudio.compliance.kaldi.fbank` computes with its
//! defaults, and what CAM++ was trained on): 25 ms frames every 10 ms (`snip_edges`: only
//! whole frames), the DC offset removed, pre-emphasis 0.97, Povey's window, a 512-point power
//! spectrum, 80 triangular mel bins from 20 Hz to the Nyquist frequency, the log (floored at
//! f32's epsilon). No dither: the same audio gives the same features.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// Samples per second the bank is laid out for.
pub const RATE: u32 = 16_000;
/// Samples per frame (25 ms).
pub const FRAME: usize = 400;
/// Samples between frames (10 ms).
pub const SHIFT: usize = 160;
/// FFT length: the frame padded to a power of two.
const FFT: usize = 512;
/// Mel bins.
pub const BINS: usize = 80;
const LOW_HZ: f64 = 20.0;
const PREEMPHASIS: f32 = 0.97;

fn mel(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

/// The filter bank: precomputed window, mel weights and FFT plan; reused for every frame.
pub struct Fbank {
    window: Vec<f32>,
    /// Per bin: the first FFT bin it weighs and the weights from there.
    bins: Vec<(usize, Vec<f32>)>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl Default for Fbank {
    fn default() -> Self {
        Self::new()
    }
}

impl Fbank {
    pub fn new() -> Self {
        // Povey's window: a Hann window (symmetric) to the power 0.85.
        let window = (0..FRAME)
            .map(|i| {
                let a = 2.0 * std::f64::consts::PI * i as f64 / (FRAME - 1) as f64;
                (0.5 - 0.5 * a.cos()).powf(0.85) as f32
            })
            .collect();
        let nyquist = f64::from(RATE) / 2.0;
        let (lo, hi) = (mel(LOW_HZ), mel(nyquist));
        let delta = (hi - lo) / (BINS + 1) as f64;
        let bin_hz = f64::from(RATE) / FFT as f64;
        let bins = (0..BINS)
            .map(|b| {
                let left = lo + b as f64 * delta;
                let (center, right) = (left + delta, left + 2.0 * delta);
                let weights: Vec<(usize, f32)> = (0..FFT / 2)
                    .filter_map(|k| {
                        let m = mel(k as f64 * bin_hz);
                        let up = (m - left) / (center - left);
                        let down = (right - m) / (right - center);
                        let w = up.min(down);
                        (w > 0.0).then_some((k, w as f32))
                    })
                    .collect();
                let first = weights.first().map_or(0, |w| w.0);
                (first, weights.into_iter().map(|w| w.1).collect())
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT);
        Self { window, bins, fft }
    }

    /// How many frames `samples` samples make.
    pub fn frames(samples: usize) -> usize {
        if samples < FRAME {
            0
        } else {
            1 + (samples - FRAME) / SHIFT
        }
    }

    /// The log mel energies of `samples` (16 kHz, in [-1, 1]): `frames × BINS`, row-major.
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let n = Self::frames(samples.len());
        let mut out = Vec::with_capacity(n * BINS);
        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut power = vec![0.0f32; FFT / 2 + 1];
        for f in 0..n {
            let src = &samples[f * SHIFT..f * SHIFT + FRAME];
            let mean = src.iter().sum::<f32>() / FRAME as f32;
            frame.fill(0.0);
            for (i, s) in src.iter().enumerate() {
                frame[i] = s - mean;
            }
            // Pre-emphasis, from the end (each sample less a share of the one before; the
            // first less a share of itself).
            for i in (1..FRAME).rev() {
                frame[i] -= PREEMPHASIS * frame[i - 1];
            }
            frame[0] -= PREEMPHASIS * frame[0];
            for (x, w) in frame.iter_mut().zip(&self.window) {
                *x *= w;
            }
            if self.fft.process(&mut frame, &mut spectrum).is_err() {
                // The buffers are the plan's own sizes: this cannot fail; a silent frame
                // rather than a panic if it ever did.
                spectrum.iter_mut().for_each(|c| *c = Default::default());
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            for (first, weights) in &self.bins {
                let e: f32 = weights
                    .iter()
                    .zip(&power[*first..])
                    .map(|(w, p)| w * p)
                    .sum();
                out.push(e.max(f32::EPSILON).ln());
            }
        }
        out
    }
}

/// Each bin's mean over the frames subtracted (CAM++ is fed features normalised per window).
pub fn subtract_mean(feats: &mut [f32]) {
    let n = feats.len() / BINS;
    if n == 0 {
        return;
    }
    let mut mean = [0.0f32; BINS];
    for row in feats.chunks_exact(BINS) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    for m in &mut mean {
        *m /= n as f32;
    }
    for row in feats.chunks_exact_mut(BINS) {
        for (v, m) in row.iter_mut().zip(&mean) {
            *v -= m;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn frames_are_whole_25_ms_frames_every_10_ms() {
        assert_eq!(Fbank::frames(399), 0);
        assert_eq!(Fbank::frames(400), 1);
        assert_eq!(Fbank::frames(559), 1);
        assert_eq!(Fbank::frames(560), 2);
        // A second: 98 frames, as Kaldi (snip_edges) counts them.
        assert_eq!(Fbank::frames(16_000), 98);
        assert_eq!(Fbank::new().compute(&[0.0; 16_000]).len(), 98 * BINS);
    }

    /// The mel scale and the bins' layout as Kaldi defines them: 1127 ln(1 + f/700), bins
    /// evenly spaced in mel from 20 Hz to 8 kHz, each a triangle peaking at 1 on its centre.
    #[test]
    fn the_bins_are_kaldi_s_triangles() {
        assert!((mel(700.0) - 1127.0 * 2f64.ln()).abs() < 1e-9);
        let fb = Fbank::new();
        assert_eq!(fb.bins.len(), BINS);
        // Centres rise; each bin starts at or after the one before.
        let starts: Vec<usize> = fb.bins.iter().map(|b| b.0).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
        // The lowest bin starts above 20 Hz (FFT bin 1 is 31.25 Hz); the highest ends
        // below the Nyquist bin (256), which no bin weighs.
        assert!(starts[0] >= 1);
        let (last_first, last_w) = &fb.bins[BINS - 1];
        assert!(last_first + last_w.len() <= FFT / 2);
        for (_, w) in &fb.bins {
            assert!(w.iter().all(|&x| x > 0.0 && x <= 1.0));
        }
        // The window: zero at the ends (Povey's), one at the middle.
        assert!(fb.window[0].abs() < 1e-6 && fb.window[FRAME - 1].abs() < 1e-6);
        assert!((fb.window[(FRAME - 1) / 2] - 1.0).abs() < 1e-3);
    }

    /// A 1 kHz tone puts its energy in the bin whose triangle holds 1 kHz, tens of dB above
    /// the bins far from it; silence is the floor, ln(f32::EPSILON).
    #[test]
    fn a_tone_lands_in_its_bin_and_silence_is_the_floor() {
        let fb = Fbank::new();
        let tone: Vec<f32> = (0..4_000)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1_000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let feats = fb.compute(&tone);
        let row = &feats[5 * BINS..6 * BINS];
        let loudest = (0..BINS)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0);
        let centre_hz = |b: usize| {
            let (lo, hi) = (mel(LOW_HZ), mel(8_000.0));
            let m = lo + (b + 1) as f64 * (hi - lo) / (BINS + 1) as f64;
            700.0 * ((m / 1127.0).exp() - 1.0)
        };
        assert!(
            (centre_hz(loudest) - 1_000.0).abs() < 60.0,
            "the loudest bin is centred at {} Hz",
            centre_hz(loudest)
        );
        assert!(row[loudest] - row[BINS - 1] > 10.0);
        let silent = fb.compute(&[0.0; 800]);
        assert!(silent.iter().all(|&v| (v - f32::EPSILON.ln()).abs() < 1e-6));
    }

    #[test]
    fn the_mean_is_taken_per_bin() {
        let mut f: Vec<f32> = (0..3 * BINS)
            .map(|i| (i / BINS) as f32 + i as f32)
            .collect();
        subtract_mean(&mut f);
        for b in 0..BINS {
            let s: f32 = (0..3).map(|r| f[r * BINS + b]).sum();
            assert!(s.abs() < 1e-4);
        }
    }
}
