//! Signal processing for live monitoring, free of ECS and audio I/O so it can be tested and
//! benchmarked on its own: level meters, FFT spectrum on a log-frequency axis, spectrogram
//! columns, and the min/max peak pyramid that waveforms are drawn from.

pub mod meter;
pub mod peaks;
pub mod spectrum;

/// The lowest level any meter or spectrum shows, in dBFS.
pub const FLOOR_DB: f32 = -120.0;

/// Amplitude (1.0 = full scale) to dBFS, floored at [`FLOOR_DB`].
pub fn to_dbfs(amplitude: f32) -> f32 {
    if amplitude <= 0.0 || !amplitude.is_finite() {
        return FLOOR_DB;
    }
    (20.0 * amplitude.log10()).max(FLOOR_DB)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DspError {
    #[error("FFT size {0} is not supported: use a power of two from 256 to 32768")]
    FftSize(usize),
    #[error("invalid frequency axis: {0}")]
    Axis(String),
}
