//! The min/max peak pyramid waveforms are drawn from (Audacity's summary blocks, Ardour's
//! peak files): min and max per 256 samples, then every 4 blocks summarised again (1,024,
//! 4,096, 16,384, 65,536, 262,144, 1,048,576 samples), built as samples arrive.
//!
//! [`PeakPyramid::screen_columns`] is what a waveform view draws from: it reads each column
//! from the coarsest level whose blocks are no longer than the column, so a column costs at
//! most a handful of block reads whether the take is a minute or ten hours long (the cost of a
//! frame follows the pixels on screen). Columns are widened to whole blocks of that level: a
//! peak can look wider by less than a column, never be hidden. [`PeakPyramid::range`] and
//! [`PeakPyramid::columns`] are exact when given the raw samples.

/// Samples per fine block.
pub const FINE: usize = 256;
/// Samples per middle block (level 2).
pub const MID: usize = 4096;
/// Samples per coarse block (level 4).
pub const COARSE: usize = 65_536;
/// Blocks of one level per block of the next.
const FANOUT: usize = 4;
/// Levels kept: 256 · 4^k samples per block for k in 0..LEVELS.
pub const LEVELS: usize = 7;

/// Samples per block at level `k`.
pub const fn level_size(k: usize) -> u64 {
    (FINE as u64) << (2 * k)
}

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

/// Min/max summaries of one channel (or of all channels of a frame), grown as samples arrive.
#[derive(Debug, Clone)]
pub struct PeakPyramid {
    levels: [Vec<MinMax>; LEVELS],
    /// The block being filled (fewer than FINE samples).
    partial: Option<MinMax>,
    len: u64,
}

impl Default for PeakPyramid {
    fn default() -> Self {
        Self {
            levels: std::array::from_fn(|_| Vec::new()),
            partial: None,
            len: 0,
        }
    }
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

    /// The blocks of level `k` (256 · 4^k samples each), complete ones only.
    pub fn level(&self, k: usize) -> &[MinMax] {
        self.levels.get(k).map_or(&[], Vec::as_slice)
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
                self.complete_block(m);
            } else {
                self.partial = Some(m);
            }
            rest = tail;
        }
    }

    /// Appends whole 256-sample blocks summarised elsewhere (the capture writer sends them).
    /// A block being filled by [`PeakPyramid::push`] is closed first.
    pub fn push_blocks(&mut self, blocks: &[MinMax]) {
        if let Some(p) = self.partial.take() {
            self.len = self.len.div_ceil(FINE as u64) * FINE as u64;
            self.complete_block(p);
        }
        for b in blocks {
            self.len += FINE as u64;
            self.complete_block(*b);
        }
    }

    fn complete_block(&mut self, m: MinMax) {
        self.levels[0].push(m);
        for k in 1..LEVELS {
            let below = &self.levels[k - 1];
            if !below.len().is_multiple_of(FANOUT) {
                break;
            }
            let s = summarise(&below[below.len() - FANOUT..]);
            self.levels[k].push(s);
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
        let mut m = MinMax::EMPTY;
        let mut pos = start;
        // Leading partial fine block.
        if !pos.is_multiple_of(fine) {
            let block_end = (pos / fine + 1) * fine;
            let stop = block_end.min(end);
            self.edge(pos, stop, raw, &mut m);
            pos = stop;
        }
        'outer: while pos < end {
            // The largest aligned block that fits.
            for k in (0..LEVELS).rev() {
                let size = level_size(k);
                if pos.is_multiple_of(size)
                    && pos + size <= end
                    && let Some(b) = self.levels[k].get((pos / size) as usize)
                {
                    m.merge(*b);
                    pos += size;
                    continue 'outer;
                }
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
        match self.levels[0].get(block) {
            Some(b) => m.merge(*b),
            None => {
                if let Some(p) = self.partial {
                    m.merge(p);
                }
            }
        }
    }

    /// One min/max per pixel column for drawing: `width` columns of `samples_per_px` samples
    /// from sample `start`, each read from the coarsest level whose blocks fit in a column
    /// and widened to whole blocks of it (at most 2 + 4 block reads per column, however long
    /// the take). Columns past the end are `None`.
    pub fn screen_columns(
        &self,
        start: u64,
        samples_per_px: f64,
        width: usize,
        out: &mut Vec<Option<MinMax>>,
    ) {
        out.clear();
        let spp = samples_per_px.max(1.0);
        let k = (0..LEVELS)
            .rev()
            .find(|&k| level_size(k) as f64 <= spp)
            .unwrap_or(0);
        let size = level_size(k);
        let blocks = &self.levels[k];
        out.extend((0..width).map(|x| {
            let a = start + (x as f64 * spp).floor() as u64;
            let b = (start + ((x + 1) as f64 * spp).floor() as u64).max(a + 1);
            if a >= self.len {
                return None;
            }
            let (ia, ib) = ((a / size) as usize, b.div_ceil(size) as usize);
            match blocks.get(ia..ib) {
                Some(run) => Some(summarise(run)),
                // The live edge: blocks of this level are not complete yet.
                None => self.range(ia as u64 * size, b, None),
            }
        }));
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
