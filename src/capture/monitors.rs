//! The current take's live monitors: level meters, the spectrum, the spectrogram and the
//! waveform, which the capture plugin's `analyze` feeds from the writer's lossy analysis ring
//! (a busy frame drops display frames, never audio).

use bevy::prelude::*;

use crate::dsp::meter::Meter;
use crate::dsp::peaks::PeakPyramid;
use crate::dsp::spectrum::{LogAxis, SpectrumAnalyzer, spectrogram_column};

/// Peak and RMS level per channel, with ballistics and a clip latch.
#[derive(Component, Debug, Clone)]
pub struct Levels {
    pub meters: Vec<Meter>,
}

/// The live spectrum: dB per log-frequency band, smoothed.
#[derive(Component, Debug)]
pub struct LiveSpectrum {
    analyzer: SpectrumAnalyzer,
    pub axis: LogAxis,
    /// dB per band of [`LiveSpectrum::axis`].
    pub bands_db: Vec<f32>,
    /// The last `fft_size` mono samples.
    window: Vec<f32>,
    /// Samples since the last frame was analysed.
    since_hop: usize,
    pub hop: usize,
    pub sample_rate: u32,
    /// Frames analysed so far (changes whenever `bands_db` does).
    pub frames: u64,
}

impl LiveSpectrum {
    pub fn new(
        fft_size: usize,
        sample_rate: u32,
        bands: usize,
    ) -> Result<Self, crate::dsp::DspError> {
        let analyzer = SpectrumAnalyzer::new(fft_size)?;
        let f_max = (sample_rate as f32 / 2.0).min(20_000.0);
        let axis = LogAxis::new(20.0_f32.min(f_max / 2.0), f_max, bands)?;
        Ok(Self {
            analyzer,
            axis,
            bands_db: vec![crate::dsp::FLOOR_DB; bands],
            window: vec![0.0; fft_size],
            since_hop: 0,
            hop: fft_size / 2,
            sample_rate,
            frames: 0,
        })
    }

    pub fn fft_size(&self) -> usize {
        self.window.len()
    }

    /// Feeds mono samples; runs one spectrum frame per hop.
    pub(super) fn feed(&mut self, mono: &[f32], mut on_frame: impl FnMut(&[f32])) {
        let n = self.window.len();
        let mut rest = mono;
        while !rest.is_empty() {
            let take = (self.hop - self.since_hop).min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            if take >= n {
                self.window
                    .copy_from_slice(chunk.get(take - n..).unwrap_or_default());
            } else {
                self.window.copy_within(take.., 0);
                if let Some(dst) = self.window.get_mut(n - take..) {
                    dst.copy_from_slice(chunk);
                }
            }
            self.since_hop += take;
            rest = tail;
            if self.since_hop >= self.hop {
                self.since_hop = 0;
                let db = self.analyzer.process(&self.window);
                self.axis
                    .resample(db, self.sample_rate, n, &mut self.bands_db);
                self.frames += 1;
                on_frame(&self.bands_db);
            }
        }
    }
}

/// The scrolling spectrogram: `columns` × `bands` RGBA, oldest column left, high frequencies
/// at the top. The UI uploads it as a texture when `generation` changes.
#[derive(Component, Debug, Clone)]
pub struct Spectrogram {
    pub columns: usize,
    pub bands: usize,
    pub rgba: Vec<u8>,
    pub generation: u64,
    pub db_min: f32,
    pub db_max: f32,
    column: Vec<u8>,
}

impl Spectrogram {
    pub fn new(columns: usize, bands: usize) -> Self {
        let floor = crate::dsp::spectrum::colormap(0.0);
        Self {
            columns,
            bands,
            rgba: floor.repeat(columns * bands),
            generation: 0,
            db_min: -110.0,
            db_max: -10.0,
            column: vec![0; bands * 4],
        }
    }

    /// Scrolls left by one column and draws `bands_db` at the right edge.
    pub fn push(&mut self, bands_db: &[f32]) {
        spectrogram_column(bands_db, self.db_min, self.db_max, &mut self.column);
        let row_bytes = self.columns * 4;
        for (y, row) in self.rgba.chunks_exact_mut(row_bytes).enumerate() {
            row.copy_within(4.., 0);
            if let (Some(dst), Some(src)) = (
                row.get_mut(row_bytes - 4..),
                self.column.get(y * 4..y * 4 + 4),
            ) {
                dst.copy_from_slice(src);
            }
        }
        self.generation += 1;
    }
}

/// The take's waveform: min/max pyramid over all channels, and where overruns cut it.
#[derive(Component, Debug, Clone, Default)]
pub struct Waveform {
    pub pyramid: PeakPyramid,
    /// `(frame, frames lost)` per overrun.
    pub xruns: Vec<(u64, u64)>,
    /// `(frame, ms)` per pause in the device's deliveries.
    pub gaps: Vec<(u64, u64)>,
}
