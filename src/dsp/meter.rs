//! Peak and RMS level in dBFS, with peak hold, fall-back and a latched clip indicator.

use super::{FLOOR_DB, to_dbfs};

/// A sample at or above this magnitude counts as clipped (-0.009 dBFS: what a 16-bit or
/// float converter delivers at full scale).
pub const CLIP_LEVEL: f32 = 0.999;

/// Levels of one block of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockLevels {
    pub peak_dbfs: f32,
    pub rms_dbfs: f32,
    pub clipped_samples: usize,
}

/// Peak, RMS and clip count of `samples` (any channel layout: every sample counts).
pub fn measure(samples: &[f32]) -> BlockLevels {
    let mut peak = 0.0f32;
    let mut sum_sq = 0.0f64;
    let mut clipped = 0;
    for &s in samples {
        let a = s.abs();
        peak = peak.max(a);
        sum_sq += f64::from(s) * f64::from(s);
        if a >= CLIP_LEVEL {
            clipped += 1;
        }
    }
    let rms = if samples.is_empty() {
        0.0
    } else {
        (sum_sq / samples.len() as f64).sqrt() as f32
    };
    BlockLevels {
        peak_dbfs: to_dbfs(peak),
        rms_dbfs: to_dbfs(rms),
        clipped_samples: clipped,
    }
}

/// Meter ballistics for display: the peak jumps up at once, holds, then falls at a fixed rate;
/// a clip stays lit until reset.
#[derive(Debug, Clone, PartialEq)]
pub struct Meter {
    pub peak_dbfs: f32,
    pub rms_dbfs: f32,
    pub held_peak_dbfs: f32,
    pub clip: bool,
    hold_left_s: f32,
    /// Seconds a new peak is held.
    pub hold_s: f32,
    /// Fall rate after the hold, in dB per second.
    pub fall_db_per_s: f32,
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            peak_dbfs: FLOOR_DB,
            rms_dbfs: FLOOR_DB,
            held_peak_dbfs: FLOOR_DB,
            clip: false,
            hold_left_s: 0.0,
            hold_s: 1.5,
            fall_db_per_s: 20.0,
        }
    }
}

impl Meter {
    /// Feeds the levels of the audio that arrived during the last `dt_s` seconds.
    pub fn update(&mut self, block: &BlockLevels, dt_s: f32) {
        self.rms_dbfs = block.rms_dbfs;
        if block.peak_dbfs >= self.peak_dbfs {
            self.peak_dbfs = block.peak_dbfs;
        } else {
            self.peak_dbfs = (self.peak_dbfs - self.fall_db_per_s * dt_s).max(block.peak_dbfs);
        }
        if block.peak_dbfs >= self.held_peak_dbfs {
            self.held_peak_dbfs = block.peak_dbfs;
            self.hold_left_s = self.hold_s;
        } else if self.hold_left_s > 0.0 {
            self.hold_left_s -= dt_s;
        } else {
            self.held_peak_dbfs =
                (self.held_peak_dbfs - self.fall_db_per_s * dt_s).max(block.peak_dbfs);
        }
        if block.clipped_samples > 0 {
            self.clip = true;
        }
    }

    /// Clears the clip indicator (the user clicked it).
    pub fn reset_clip(&mut self) {
        self.clip = false;
    }
}
