//! The min/max peak pyramid waveforms are drawn from (Audacity's summary blocks, Ardour's
//! peak files): min and max per 256 samples and per 65,536 samples, built as samples arrive.
//!
//! A middle index level (per 4,096 samples) keeps the ragged edges of a wide column cheap: a
//! column covering `spp` samples costs at most spp / 65,536 + 60 block reads (a ten-hour take
//! across 1,000 pixels: about 86 per column), whatever the raw length. When a
//! caller has the raw samples (zoomed in, or a file on disk) the edges of each column are read
//! exactly; without them, columns are rounded out to whole 256-sample blocks, which can only
//! make a peak look as large as the block it is in, never hide one.

/// Samples per fine block.
pub const FINE: usize = 256;
/// Samples per middle block (an index level only: it keeps the edges of a wide column cheap).
pub const MID: usize = 4096;
/// Samples per coarse block.
pub const COARSE: usize = 65_536;
const FINE_PER_MID: usize = MID / FINE;
const MID_PER_COARSE: usize = COARSE / MID;

/// Minimum and maximum of a run of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinMax {
    pub min: f32,
    pub max: f32,
}

impl MinMax {
    pub const EMPTY: MinMax = MinMax {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };

    pub fn is_empty(&self) -> bool {
        self.min > self.max
    }

    #[inline]
    pub fn add(&mut self, s: f32) {
        self.min = self.min.min(s);
        self.max = self.max.max(s);
    }

    #[inline]
    pub fn merge(&mut self, o: MinMax) {
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    /// Min/max of a slice by direct scan.
    pub fn of(samples: &[f32]) -> MinMax {
        let mut m = MinMax::EMPTY;
        for &s in samples {
            m.add(s);
        }
        m
    }
}

fn summarise(blocks: &[MinMax]) -> MinMax {
    let mut m = MinMax::EMPTY;
    for b in blocks {
        m.merge(*b);
    }
    m
}

/// Min/max summaries of one channel, grown as samples arrive.
#[derive(Debug, Clone, Default)]
pub struct PeakPyramid {
    fine: Vec<MinMax>,
    mid: Vec<MinMax>,
    coarse: Vec<MinMax>,
    /// The block being filled (fewer than FINE samples).
    partial: Option<MinMax>,
    len: u64,
}

impl PeakPyramid {
    pub fn new() -> Self {
        Self::default()
    }

    /// Samples summarised so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends samples (one channel).
    pub fn push(&mut self, samples: &[f32]) {
        let mut rest = samples;
        while !rest.is_empty() {
            let in_block = (self.len % FINE as u64) as usize;
            let take = (FINE - in_block).min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            let mut m = self.partial.take().unwrap_or(MinMax::EMPTY);
            m.merge(MinMax::of(chunk));
            self.len += take as u64;
            if in_block + take == FINE {
                self.fine.push(m);
                if self.fine.len().is_multiple_of(FINE_PER_MID) {
                    self.mid
                        .push(summarise(&self.fine[self.fine.len() - FINE_PER_MID..]));
                    if self.mid.len().is_multiple_of(MID_PER_COARSE) {
                        self.coarse
                            .push(summarise(&self.mid[self.mid.len() - MID_PER_COARSE..]));
                    }
                }
            } else {
                self.partial = Some(m);
            }
            rest = tail;
        }
    }

    /// Min/max of samples `start..end` (clamped to what exists). With `raw` (all samples of the
    /// channel from index 0) the result is exact; without, partial blocks at the edges are
    /// taken whole. `None` for an empty range.
    pub fn range(&self, start: u64, end: u64, raw: Option<&[f32]>) -> Option<MinMax> {
        let end = end.min(self.len);
        if start >= end {
            return None;
        }
        let fine = FINE as u64;
        let mid = MID as u64;
        let coarse = COARSE as u64;
        let mut m = MinMax::EMPTY;
        let mut pos = start;
        // Leading partial fine block.
        if !pos.is_multiple_of(fine) {
            let block_end = (pos / fine + 1) * fine;
            let stop = block_end.min(end);
            self.edge(pos, stop, raw, &mut m);
            pos = stop;
        }
        while pos < end {
            if pos.is_multiple_of(coarse)
                && pos + coarse <= end
                && let Some(c) = self.coarse.get((pos / coarse) as usize)
            {
                m.merge(*c);
                pos += coarse;
                continue;
            }
            if pos.is_multiple_of(mid)
                && pos + mid <= end
                && let Some(b) = self.mid.get((pos / mid) as usize)
            {
                m.merge(*b);
                pos += mid;
                continue;
            }
            if pos + fine <= end
                && let Some(b) = self.fine.get((pos / fine) as usize)
            {
                m.merge(*b);
                pos += fine;
                continue;
            }
            // Trailing partial block (or the block still being filled).
            self.edge(pos, end, raw, &mut m);
            break;
        }
        (!m.is_empty()).then_some(m)
    }

    /// Min/max of part of one fine block: exact from `raw`, else the whole block.
    fn edge(&self, from: u64, to: u64, raw: Option<&[f32]>, m: &mut MinMax) {
        if let Some(s) = raw.and_then(|r| r.get(from as usize..to as usize)) {
            m.merge(MinMax::of(s));
            return;
        }
        let block = (from / FINE as u64) as usize;
        match self.fine.get(block) {
            Some(b) => m.merge(*b),
            None => {
                if let Some(p) = self.partial {
                    m.merge(p);
                }
            }
        }
    }

    /// One min/max per pixel column for `width` columns of `samples_per_px` samples each,
    /// starting at sample `start`. Columns past the end are `None`.
    pub fn columns(
        &self,
        start: u64,
        samples_per_px: f64,
        width: usize,
        raw: Option<&[f32]>,
        out: &mut Vec<Option<MinMax>>,
    ) {
        out.clear();
        out.extend((0..width).map(|x| {
            let a = start + (x as f64 * samples_per_px).floor() as u64;
            let b = start + ((x + 1) as f64 * samples_per_px).floor() as u64;
            self.range(a, b.max(a + 1), raw)
        }));
    }
}
