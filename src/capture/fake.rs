//! A deterministic capture source for tests and for running without a sound card: it calls a
//! [`CallbackSink`] exactly as an audio callback would, with generated signals.

use super::ring::CallbackSink;

/// What the fake device "hears".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    Sine {
        hz: f32,
        amplitude: f32,
    },
    /// A logarithmic sweep from `from_hz` to `to_hz` over `seconds`, then again.
    Sweep {
        from_hz: f32,
        to_hz: f32,
        seconds: f32,
    },
    /// Uniform white noise.
    Noise {
        amplitude: f32,
    },
    Silence,
    /// A sine driven past full scale and clamped: clips on every peak.
    Clipping {
        hz: f32,
    },
    /// Each sample is its own frame index scaled into [0, 1) (index / 2^24): loss and gaps can
    /// be counted exactly on disk.
    Ramp,
    /// A recording played in a loop (16 kHz mono samples, held for the process's life):
    /// real speech through the whole capture path (`fake:clip:PATH`).
    Clip(&'static [f32]),
}

/// Generates `frames` frames of `signal` starting at frame `start` into `out` (interleaved,
/// every channel the same). Pure: the same arguments give the same samples.
pub fn generate(signal: Signal, sample_rate: u32, channels: u16, start: u64, out: &mut [f32]) {
    let ch = usize::from(channels.max(1));
    let rate = sample_rate.max(1) as f64;
    for (k, frame) in out.chunks_exact_mut(ch).enumerate() {
        let i = start + k as u64;
        let t = i as f64 / rate;
        let v = match signal {
            Signal::Sine { hz, amplitude } => {
                amplitude as f64 * (std::f64::consts::TAU * hz as f64 * t).sin()
            }
            Signal::Sweep {
                from_hz,
                to_hz,
                seconds,
            } => {
                let (f0, f1, d) = (from_hz as f64, to_hz as f64, seconds.max(0.01) as f64);
                let tt = t % d;
                let k = (f1 / f0).ln() / d;
                0.5 * (std::f64::consts::TAU * f0 * ((k * tt).exp() - 1.0) / k).sin()
            }
            Signal::Noise { amplitude } => {
                let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
                x ^= x >> 31;
                x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
                x ^= x >> 29;
                amplitude as f64 * ((x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
            }
            Signal::Silence => 0.0,
            Signal::Clipping { hz } => {
                (1.5 * (std::f64::consts::TAU * hz as f64 * t).sin()).clamp(-1.0, 1.0)
            }
            Signal::Ramp => (i % (1 << 24)) as f64 / (1u64 << 24) as f64,
            Signal::Clip(samples) if !samples.is_empty() => {
                let at = (i as f64 * 16_000.0 / rate) as u64 % samples.len() as u64;
                f64::from(samples[at as usize])
            }
            Signal::Clip(_) => 0.0,
        };
        frame.fill(v as f32);
    }
}

/// A fake input device: call [`FakeDevice::callback`] to deliver one buffer.
#[derive(Debug, Clone)]
pub struct FakeDevice {
    pub signal: Signal,
    pub sample_rate: u32,
    pub channels: u16,
    position: u64,
    buffer: Vec<f32>,
}

impl FakeDevice {
    pub fn new(signal: Signal, sample_rate: u32, channels: u16, callback_frames: usize) -> Self {
        Self {
            signal,
            sample_rate,
            channels,
            position: 0,
            buffer: vec![0.0; callback_frames.max(1) * usize::from(channels.max(1))],
        }
    }

    /// Frames delivered so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Delivers one callback's worth of audio into `sink`.
    pub fn callback(&mut self, sink: &mut CallbackSink) {
        generate(
            self.signal,
            self.sample_rate,
            self.channels,
            self.position,
            &mut self.buffer,
        );
        sink.push(&self.buffer);
        self.position += (self.buffer.len() / usize::from(self.channels.max(1))) as u64;
    }
}
