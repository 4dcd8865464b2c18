//! What of a window goes to whisper, decided from Silero's speech probabilities.
//!
//! The rule is "the VAD only removes silence, never speech". whisper.cpp's own segmenter
//! (threshold 0.5, 30 ms padding, every pause of 100 ms a cut) dropped a whispered passage and
//! cut sentences at short pauses on a 4.6-minute recording (WER 6.87 % against 3.61 % without
//! VAD). So the segmentation is done here, from the per-frame probabilities:
//!
//! - speech starts at [`THRESHOLD`] and lasts while the probability stays above
//!   [`NEG_THRESHOLD`] (Silero's own hysteresis), with a lower start threshold than
//!   whisper.cpp's so quiet and whispered speech counts;
//! - every region is padded by [`PAD`] on both sides;
//! - regions closer than [`MERGE_GAP`] are merged, so whisper hears short pauses as they are
//!   and only long silences are removed;
//! - a longer gap is kept too when the VAD is unsure there ([`UNSURE_P`] for at least
//!   [`UNSURE_FRAMES`] frames): whisper, with its no-speech test, decides;
//! - at the end of a job window, a region still open is carried into the next window, and a
//!   window that is speech from end to end is cut at its least speech-like frame.
//!
//! Everything here is plain arithmetic over slices, tested without whisper.

use crate::media::decode::WHISPER_RATE;

/// Samples per Silero frame (whisper.cpp's `n_window` for Silero v5/v6 at 16 kHz).
pub const FRAME: usize = 512;
/// Probability that starts speech (whisper.cpp's default is 0.5).
pub const THRESHOLD: f32 = 0.35;
/// Probability below which speech may end (Silero's `threshold - 0.15`).
pub const NEG_THRESHOLD: f32 = 0.2;
/// Silence that ends a region (below [`NEG_THRESHOLD`] for this long).
pub const MIN_SILENCE: usize = WHISPER_RATE as usize * 3 / 10;
/// A region shorter than this is a click, not speech.
pub const MIN_SPEECH: usize = WHISPER_RATE as usize / 10;
/// Context kept on each side of a region.
pub const PAD: usize = WHISPER_RATE as usize * 2 / 5;
/// Pauses shorter than this stay in the audio whisper hears.
pub const MERGE_GAP: usize = 2 * WHISPER_RATE as usize;
/// A frame at or above this probability is "maybe speech".
pub const UNSURE_P: f32 = 0.1;
/// This many "maybe speech" frames keep a gap (about 0.2 s).
pub const UNSURE_FRAMES: usize = 6;
/// A region ending this close to the window's end may continue in the next window.
pub const OPEN_MARGIN: usize = WHISPER_RATE as usize / 2;
/// Where to look for a cut when a window is speech from end to end.
pub const CUT_SEARCH: usize = 15 * WHISPER_RATE as usize;
/// How far past the last speech frame a word or segment may end.
pub const END_SLACK: usize = WHISPER_RATE as usize / 10;
/// Dips in speech shorter than this do not split a word.
pub const JOIN: usize = WHISPER_RATE as usize / 3;
/// How far before the first speech frame a segment may start.
pub const START_SLACK: usize = WHISPER_RATE as usize / 20;

/// Speech regions (sample ranges of a buffer of `len` samples) from frame probabilities.
pub fn regions(probs: &[f32], len: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut quiet_since: Option<usize> = None;
    for (i, &p) in probs.iter().enumerate() {
        let at = i * FRAME;
        match start {
            None if p >= THRESHOLD => {
                start = Some(at);
                quiet_since = None;
            }
            None => {}
            Some(s) => {
                if p >= NEG_THRESHOLD {
                    quiet_since = None;
                } else {
                    let q = *quiet_since.get_or_insert(at);
                    if at + FRAME - q >= MIN_SILENCE {
                        if q - s >= MIN_SPEECH {
                            out.push((s, q.min(len)));
                        }
                        start = None;
                        quiet_since = None;
                    }
                }
            }
        }
    }
    if let Some(s) = start {
        let end = quiet_since.unwrap_or(len).min(len);
        if end > s && end - s >= MIN_SPEECH {
            out.push((s, end));
        }
    }
    out
}

/// Whether the VAD is unsure about the samples `a..b` (enough "maybe speech" frames).
fn unsure(probs: &[f32], a: usize, b: usize) -> bool {
    let (fa, fb) = (a / FRAME, b.div_ceil(FRAME).min(probs.len()));
    fa < fb && probs[fa..fb].iter().filter(|p| **p >= UNSURE_P).count() >= UNSURE_FRAMES
}

/// What of a window goes to whisper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Sample ranges to transcribe now.
    pub pieces: Vec<(usize, usize)>,
    /// How much of the window they use up (the rest is carried into the next window).
    pub keep_from: usize,
    /// Speech regions found in the used-up part (sample ranges, cut at `keep_from`, before
    /// padding and merging): where whisper should give words.
    pub speech: Vec<(usize, usize)>,
    /// The loud stretches among them that Silero missed ([`loud_regions`]).
    pub loud_only: Vec<(usize, usize)>,
}

impl Plan {
    /// How many speech regions the used-up part holds.
    pub fn regions(&self) -> usize {
        self.speech.len()
    }
}

/// A frame this much louder than the window's noise floor is loud ([`loud_regions`]).
pub const LOUD_OVER_FLOOR_DB: f32 = 15.0;
/// ... and at least this loud (dBFS): below it is room tone whatever the floor.
pub const LOUD_MIN_DB: f32 = -50.0;
/// The floor: this quantile of the window's frame levels.
const FLOOR_QUANTILE: f32 = 0.1;

/// The level (dBFS) of each Silero frame of `samples`.
pub fn frame_db(samples: &[f32]) -> Vec<f32> {
    samples
        .chunks(FRAME)
        .map(|c| {
            let power = c.iter().map(|x| x * x).sum::<f32>() / c.len().max(1) as f32;
            10.0 * power.max(1e-12).log10()
        })
        .collect()
}

/// The second look of the rule above: stretches (sample ranges) clearly louder than the
/// window's noise floor for at least [`MIN_SPEECH`]·5, joined over pauses shorter than
/// [`MIN_SILENCE`]. Silero scores whispered speech low (under 0.3 for the first seconds of a
/// whispered sentence after silence): what carries energy goes to whisper, whose own
/// no-speech test decides; steady noise raises the floor with it and is not loud.
pub fn loud_regions(db: &[f32], len: usize) -> Vec<(usize, usize)> {
    let mut levels: Vec<f32> = db.to_vec();
    if levels.is_empty() {
        return Vec::new();
    }
    let k = ((levels.len() - 1) as f32 * FLOOR_QUANTILE) as usize;
    let (_, floor, _) = levels.select_nth_unstable_by(k, f32::total_cmp);
    let at_least = (*floor + LOUD_OVER_FLOOR_DB).max(LOUD_MIN_DB);
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, &d) in db.iter().enumerate() {
        if d < at_least {
            continue;
        }
        let (a, b) = (i * FRAME, ((i + 1) * FRAME).min(len));
        match out.last_mut() {
            Some(last) if a <= last.1 + MIN_SILENCE => last.1 = b,
            _ => out.push((a, b)),
        }
    }
    out.retain(|(a, b)| b - a >= 5 * MIN_SPEECH);
    out
}

/// A loud stretch outside Silero's speech at least this long is speech Silero missed.
const LOUD_BEYOND: usize = WHISPER_RATE as usize;

/// The parts of `loud` (in order) at least [`LOUD_BEYOND`] long that lie outside `speech`
/// (in order) and its padding: where Silero's speech already is, its edges stay as it found
/// them (a loud stretch runs on into breaths and room noise after the words).
fn beyond(loud: &[(usize, usize)], speech: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let wide = |v: &[(usize, usize)]| -> Vec<(u64, u64)> {
        v.iter().map(|&(a, b)| (a as u64, b as u64)).collect()
    };
    uncovered(&wide(loud), &wide(speech), PAD as u64, LOUD_BEYOND as u64)
        .into_iter()
        .map(|(a, b)| (a as usize, b as usize))
        .collect()
}

/// The parts of `ranges` that no span of `cover` widened by `reach` on each side touches,
/// each at least `min` long. Both lists are in time order (by start).
fn uncovered(ranges: &[(u64, u64)], cover: &[(u64, u64)], reach: u64, min: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut first = 0usize;
    for &(a, b) in ranges {
        // Spans that end before this range cannot cover it, nor any later one.
        while first < cover.len() && cover[first].1 + reach <= a {
            first += 1;
        }
        let mut at = a;
        for &(ca, cb) in &cover[first..] {
            let (ca, cb) = (ca.saturating_sub(reach), cb + reach);
            if ca >= b {
                break;
            }
            if ca > at && ca - at >= min {
                out.push((at, ca));
            }
            at = at.max(cb);
        }
        if b > at && b - at >= min {
            out.push((at, b));
        }
    }
    out
}

/// The union of two lists of ranges, each in order.
fn union(a: &[(usize, usize)], b: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut all: Vec<(usize, usize)> = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (x, y) in all {
        match out.last_mut() {
            Some(last) if x <= last.1 => last.1 = last.1.max(y),
            _ => out.push((x, y)),
        }
    }
    out
}

/// The plan for a window of `len` samples: speech by Silero's `probs`, and what is loud by
/// `db` ([`frame_db`]; empty: none). `eof`: nothing follows the window.
pub fn plan(probs: &[f32], db: &[f32], len: usize, eof: bool) -> Plan {
    let heard = regions(probs, len);
    let loud_only = beyond(&loud_regions(db, len), &heard);
    let found = union(&heard, &loud_only);
    let (pieces, keep_from) = pieces(probs, &found, len, eof);
    let speech: Vec<(usize, usize)> = found
        .iter()
        .filter(|(a, _)| *a < keep_from)
        .map(|&(a, b)| (a, b.min(keep_from)))
        .collect();
    Plan {
        speech,
        loud_only,
        pieces,
        keep_from,
    }
}

fn pieces(
    probs: &[f32],
    found: &[(usize, usize)],
    len: usize,
    eof: bool,
) -> (Vec<(usize, usize)>, usize) {
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    for &(a, b) in found {
        let (a, b) = (a.saturating_sub(PAD), (b + PAD).min(len));
        match pieces.last_mut() {
            Some(last) if a <= last.1 + MERGE_GAP || unsure(probs, last.1, a) => {
                last.1 = last.1.max(b);
            }
            _ => pieces.push((a, b)),
        }
    }
    if eof {
        return (pieces, len);
    }
    match pieces.last().copied() {
        // Still speaking at the end of the window: carry the region into the next one.
        Some((a, b)) if b + OPEN_MARGIN >= len && a > 0 => {
            pieces.pop();
            (pieces, a)
        }
        // Speech from the start to the end of the window: cut at a pause near its end.
        Some((0, b)) if b + OPEN_MARGIN >= len => {
            let cut = least_speech(probs, len.saturating_sub(CUT_SEARCH), len);
            pieces.pop();
            pieces.push((0, cut));
            (pieces, cut)
        }
        _ => (pieces, len),
    }
}

/// Speech with no text near it this long is looked at again ([`unheard`]).
pub const MIN_UNHEARD_MS: u64 = 800;
/// Text covers the speech this far on either side of it (its times are approximate).
pub const WORD_REACH_MS: u64 = 300;

/// The stretches of speech `regions` (ms, in time order) that no span of `words` (ms, in
/// time order: words, or segments) covers, each at least [`MIN_UNHEARD_MS`] long: speech
/// whisper passed over.
/// whisper's decoder often ends a window early when quieter speech follows louder (a
/// whispered aside, a far speaker): its text says nothing of that speech although the VAD
/// heard it, and whisper transcribes it when it hears it alone.
pub fn unheard(regions: &[(u64, u64)], words: &[(u64, u64)]) -> Vec<(u64, u64)> {
    uncovered(regions, words, WORD_REACH_MS, MIN_UNHEARD_MS)
}

/// A frame is voiced when its normalised autocorrelation reaches this at a voice's pitch.
const VOICED_CORRELATION: f32 = 0.5;
/// Frames this far (dB) under a stretch's loudest frame are pauses, not speech.
const VOICED_RANGE_DB: f32 = 20.0;

/// The share of `samples`' speech frames (16 kHz, 32 ms frames within [`VOICED_RANGE_DB`] of
/// the loudest) that are voiced: their normalised autocorrelation peaks at
/// [`VOICED_CORRELATION`] or more for a lag of a voice's pitch (60-400 Hz). Spoken words have
/// vowels, and vowels are voiced; whispered words have none (0-0.05 for the regions of
/// espeak-ng's `en+whisper` voice, 0.76-0.98 for those of the shared clips): what tells a
/// whispered aside that whisper's decoder skipped from the speech its segment came from.
/// Computed at 8 kHz (pairs of samples averaged).
pub fn voiced_share(samples: &[f32]) -> f32 {
    let half: Vec<f32> = samples
        .chunks_exact(2)
        .map(|p| (p[0] + p[1]) / 2.0)
        .collect();
    let frame = FRAME / 2;
    let (min_lag, max_lag) = (8_000 / 400, 8_000 / 60);
    let frames: Vec<&[f32]> = half.chunks_exact(frame).collect();
    let energy: Vec<f32> = frames
        .iter()
        .map(|f| f.iter().map(|x| x * x).sum::<f32>())
        .collect();
    let loudest = energy.iter().copied().fold(0.0f32, f32::max);
    if loudest <= 0.0 {
        return 0.0;
    }
    let floor = loudest * 10f32.powf(-VOICED_RANGE_DB / 10.0);
    let (mut speech, mut voiced) = (0usize, 0usize);
    for (f, &e) in frames.iter().zip(&energy) {
        if e < floor {
            continue;
        }
        speech += 1;
        // The energy of every prefix of the frame: each lag's two energies without a pass.
        let mut prefix = Vec::with_capacity(frame + 1);
        prefix.push(0.0f32);
        for x in *f {
            prefix.push(prefix[prefix.len() - 1] + x * x);
        }
        let peak = (min_lag..=max_lag.min(frame - 1))
            .map(|lag| {
                let (a, b) = (&f[..frame - lag], &f[lag..]);
                let ab: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let aa = prefix[frame - lag];
                let bb = prefix[frame] - prefix[lag];
                ab / (aa * bb).sqrt().max(1e-12)
            })
            .fold(f32::MIN, f32::max);
        if peak >= VOICED_CORRELATION {
            voiced += 1;
        }
    }
    voiced as f32 / speech.max(1) as f32
}

/// Longest chunk given to whisper in one call (its window is 30 s; the margin keeps the last
/// words clear of the window's end).
pub const MAX_CHUNK: usize = WHISPER_RATE as usize * 59 / 2;
/// A chunk that must be cut is cut at a pause in its last this-many samples.
pub const CHUNK_CUT_SEARCH: usize = 9 * WHISPER_RATE as usize;

/// The pieces of a plan grouped into chunks of at most [`MAX_CHUNK`] once packed with `gap`
/// samples between pieces, so that each chunk is one whisper window: one encoder run, no
/// overlapping windows, and a short encoder context for a short last chunk. A piece longer than
/// a chunk is cut where `cut(from, to)` says (a pause in `from..to`).
pub fn chunks(
    pieces: &[(usize, usize)],
    gap: usize,
    mut cut: impl FnMut(usize, usize) -> usize,
) -> Vec<Vec<(usize, usize)>> {
    let mut out: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut cur: Vec<(usize, usize)> = Vec::new();
    let mut cur_len = 0usize;
    for &(a, b) in pieces {
        let mut a = a;
        while a < b {
            let extra = if cur.is_empty() { 0 } else { gap };
            let room = MAX_CHUNK.saturating_sub(cur_len + extra);
            if b - a <= room {
                cur.push((a, b));
                cur_len += extra + b - a;
                break;
            }
            // Too long for what is left of this chunk: start a new one if that helps, else cut.
            if !cur.is_empty() && b - a <= MAX_CHUNK {
                out.push(std::mem::take(&mut cur));
                cur_len = 0;
                continue;
            }
            if !cur.is_empty() && room < CHUNK_CUT_SEARCH {
                out.push(std::mem::take(&mut cur));
                cur_len = 0;
                continue;
            }
            let end = a + room;
            let at = cut(end.saturating_sub(CHUNK_CUT_SEARCH).max(a + 1), end).clamp(a + 1, end);
            cur.push((a, at));
            out.push(std::mem::take(&mut cur));
            cur_len = 0;
            a = at;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The start of the least speech-like frame in `from..to` (the latest of equals), never 0:
/// where a window or a chunk of speech is cut.
pub fn least_speech(probs: &[f32], from: usize, to: usize) -> usize {
    let (fa, fb) = (from / FRAME, (to / FRAME).min(probs.len()));
    let mut best = (f32::MAX, to);
    for (i, p) in probs.iter().enumerate().take(fb).skip(fa) {
        if *p <= best.0 {
            best = (*p, i * FRAME);
        }
    }
    best.1.clamp(1, to.max(1))
}

/// whisper's times in a segment mapped onto its speech frames ([`SpeechMap::warp`]).
#[derive(Debug, Clone)]
pub struct Warp {
    a: u64,
    b: u64,
    /// File sample of each speech frame in `a..b`, in order.
    frames: Vec<u64>,
}

impl Warp {
    /// Where whisper's time `t` (file samples) lies in the speech.
    pub fn map(&self, t: u64) -> u64 {
        let total = (self.frames.len() * FRAME) as u128;
        let x = u128::from(t.clamp(self.a, self.b) - self.a);
        let k = (x * total / u128::from(self.b - self.a)) as usize;
        let (i, r) = (k / FRAME, k % FRAME);
        match self.frames.get(i) {
            Some(f) => f + r as u64,
            None => self.frames.last().map_or(self.b, |f| f + FRAME as u64),
        }
    }

    /// The segment's new bounds: its first speech frame to the end of its last, with slack,
    /// inside `a..b`.
    pub fn bounds(&self) -> (u64, u64) {
        let first = self.frames.first().copied().unwrap_or(self.a);
        let last = self.frames.last().map_or(self.b, |f| f + FRAME as u64);
        let s = first.saturating_sub(START_SLACK as u64).max(self.a);
        let e = (last + END_SLACK as u64).min(self.b).max(s);
        (s, e)
    }
}

/// Speech probabilities of a stretch of the file, for placing times on the speech.
#[derive(Debug, Clone, Default)]
pub struct SpeechMap {
    /// File sample of `probs[0]`'s frame.
    pub start: u64,
    pub probs: Vec<f32>,
}

impl SpeechMap {
    /// Frame index of file sample `t` (saturating at both ends).
    fn frame(&self, t: u64) -> usize {
        (((t.saturating_sub(self.start)) / FRAME as u64) as usize)
            .min(self.probs.len().saturating_sub(1))
    }

    /// How whisper's times inside the segment `a..b` (file samples) map onto the speech the
    /// VAD found there. whisper.cpp spreads a segment's span over its tokens in proportion to
    /// their length (its timestamp tokens only anchor the ends), and it often places a
    /// segment's start or end inside the pause before or after the words, or lets a segment
    /// run across a pause. So a time that lies a fraction `x` into `a..b` goes to the point
    /// that lies `x` into the segment's speech frames, pauses skipped. `None` when the map has
    /// no speech in `a..b` (then whisper's times stand).
    pub fn warp(&self, a: u64, b: u64) -> Option<Warp> {
        if self.probs.is_empty() || b <= a || b <= self.start {
            return None;
        }
        let (fa, fb) = (self.frame(a), self.frame(b));
        let frames: Vec<u64> = (fa..=fb)
            .filter(|&i| self.probs[i] >= NEG_THRESHOLD)
            .map(|i| self.start + (i * FRAME) as u64)
            .collect();
        (!frames.is_empty()).then_some(Warp { a, b, frames })
    }

    /// A word `s..e` (file samples) narrowed to the longest run of speech it covers (runs
    /// joined across dips shorter than [`JOIN`]), with a little slack. A word cannot span a
    /// pause: when whisper stretches one across it (the last word of a phrase running to the
    /// next phrase, or the first word of a phrase starting in the previous one), the side with
    /// more of the word's speech wins. Unchanged when the map has no speech in `s..e`.
    pub fn snap(&self, s: u64, e: u64) -> (u64, u64) {
        if self.probs.is_empty() || e <= s || e <= self.start {
            return (s, e);
        }
        let (fa, fb) = (self.frame(s), self.frame(e));
        // (first frame, last frame, speech frames) of each run.
        let mut runs: Vec<(usize, usize, usize)> = Vec::new();
        for i in (fa..=fb).filter(|&i| self.probs[i] >= NEG_THRESHOLD) {
            match runs.last_mut() {
                Some(r) if i - r.1 <= JOIN / FRAME => {
                    r.1 = i;
                    r.2 += 1;
                }
                _ => runs.push((i, i, 1)),
            }
        }
        let Some(&(first, last, _)) = runs.iter().max_by_key(|r| r.2) else {
            return (s, e);
        };
        let a = (self.start + (first * FRAME) as u64).saturating_sub(START_SLACK as u64);
        let b = self.start + ((last + 1) * FRAME + END_SLACK) as u64;
        let (ns, ne) = (s.max(a), e.min(b));
        if ne > ns { (ns, ne) } else { (s, e) }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    const S: usize = WHISPER_RATE as usize;

    /// Frame probabilities: `p` over [a, b) seconds, `base` elsewhere, for `len_s` seconds.
    fn probs(len_s: f32, base: f32, spans: &[(f32, f32, f32)]) -> (Vec<f32>, usize) {
        let len = (len_s * S as f32) as usize;
        let mut v = vec![base; len.div_ceil(FRAME)];
        for &(a, b, p) in spans {
            let (fa, fb) = (
                (a * S as f32) as usize / FRAME,
                (b * S as f32) as usize / FRAME,
            );
            for x in &mut v[fa..fb.min(len.div_ceil(FRAME))] {
                *x = p;
            }
        }
        (v, len)
    }

    fn secs(r: &[(usize, usize)]) -> Vec<(f32, f32)> {
        r.iter()
            .map(|(a, b)| (*a as f32 / S as f32, *b as f32 / S as f32))
            .collect()
    }

    #[test]
    fn regions_use_hysteresis_and_ignore_clicks_and_short_dips() {
        // Speech at 0.9 from 1-3 s with a 0.2 s dip to 0.25 (above NEG_THRESHOLD) and a
        // 0.2 s dip to 0.0 (shorter than MIN_SILENCE); a 50 ms click at 6 s; speech 8-9 s.
        let (p, len) = probs(
            10.0,
            0.0,
            &[
                (1.0, 3.0, 0.9),
                (1.5, 1.7, 0.25),
                (2.2, 2.4, 0.0),
                (6.0, 6.05, 0.9),
                (8.0, 9.0, 0.5),
            ],
        );
        let r = secs(&regions(&p, len));
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(
            (r[0].0 - 1.0).abs() < 0.05 && (r[0].1 - 3.0).abs() < 0.05,
            "{r:?}"
        );
        assert!(
            (r[1].0 - 8.0).abs() < 0.05 && (r[1].1 - 9.0).abs() < 0.05,
            "{r:?}"
        );
        // Quiet speech at 0.36 (below whisper.cpp's 0.5) is speech here.
        let (p, len) = probs(4.0, 0.0, &[(1.0, 2.0, 0.36)]);
        assert_eq!(regions(&p, len).len(), 1);
    }

    #[test]
    fn short_pauses_stay_long_silences_go_unsure_gaps_stay() {
        // Speech 1-3 s, a 1.5 s pause, 4.5-6 s, 10 s of silence, 16-18 s, 5 s of "maybe
        // speech" at 0.12 (a whisper), 23-25 s.
        let (p, len) = probs(
            30.0,
            0.0,
            &[
                (1.0, 3.0, 0.9),
                (4.5, 6.0, 0.9),
                (16.0, 18.0, 0.9),
                (18.0, 23.0, 0.12),
                (23.0, 25.0, 0.9),
            ],
        );
        let pl = plan(&p, &[], len, true);
        let s = secs(&pl.pieces);
        assert_eq!(pl.regions(), 4);
        assert_eq!(pl.keep_from, len);
        assert_eq!(s.len(), 2, "{s:?}");
        // The 1.5 s pause is kept, padding on both sides.
        assert!(
            (s[0].0 - 0.6).abs() < 0.05 && (s[0].1 - 6.4).abs() < 0.05,
            "{s:?}"
        );
        // The unsure 5 s between 18 and 23 s is kept.
        assert!(
            (s[1].0 - 15.6).abs() < 0.05 && (s[1].1 - 25.4).abs() < 0.05,
            "{s:?}"
        );
    }

    #[test]
    fn an_open_region_is_carried_and_a_window_of_speech_is_cut_at_a_pause() {
        // Speech 2-4 s, then speech from 8 s to the window's end: carry from 7.6 s.
        let (p, len) = probs(20.0, 0.0, &[(2.0, 4.0, 0.9), (8.0, 20.0, 0.9)]);
        let pl = plan(&p, &[], len, false);
        assert_eq!(secs(&pl.pieces).len(), 1);
        assert!((pl.keep_from as f32 / S as f32 - 7.6).abs() < 0.05);
        // At the end of the file the same region is transcribed.
        assert_eq!(plan_eof_pieces(&p, len), 2);
        // Speech everywhere except a dip at 16 s (in the last 15 s): cut there.
        let (p, len) = probs(20.0, 0.9, &[(16.0, 16.1, 0.3)]);
        let pl = plan(&p, &[], len, false);
        let cut = pl.keep_from as f32 / S as f32;
        assert!((cut - 16.0).abs() < 0.1, "cut at {cut}");
        assert_eq!(pl.pieces, vec![(0, pl.keep_from)]);
    }

    fn plan_eof_pieces(p: &[f32], len: usize) -> usize {
        plan(p, &[], len, true).pieces.len()
    }

    #[test]
    fn a_word_is_snapped_to_the_longest_run_of_speech_it_covers() {
        // Speech 1-3 s and 6.0-6.5 s of the map, which starts at file sample 16,000 (1 s).
        let (p, _) = probs(10.0, 0.0, &[(1.0, 3.0, 0.9), (6.0, 6.5, 0.9)]);
        let map = SpeechMap {
            start: 16_000,
            probs: p,
        };
        let f = |t: f32| (t * S as f32) as u64;
        let s = |t: u64| t as f32 / S as f32;
        // A word from 3.5 s to 5.5 s of the file (2.5-4.5 s of the map): it ends at the speech
        // end, 3 s of the map = 4 s of the file, plus the slack.
        let (a, b) = map.snap(f(3.5), f(5.5));
        assert!(
            (s(a) - 3.5).abs() < 0.01 && (s(b) - 4.1).abs() < 0.05,
            "{} {}",
            s(a),
            s(b)
        );
        // A word stretched from 3.8 s across the pause to 7.4 s of the file: 0.2 s of speech
        // before the pause, 0.5 s after: it is the later word.
        let (a, b) = map.snap(f(3.8), f(7.4));
        assert!(
            (s(a) - 6.95).abs() < 0.05 && (s(b) - 7.4).abs() < 0.01,
            "{} {}",
            s(a),
            s(b)
        );
        // No speech at all in the range: unchanged.
        assert_eq!(map.snap(f(8.0), f(9.0)), (f(8.0), f(9.0)));
        assert_eq!(SpeechMap::default().snap(5, 10), (5, 10));
    }

    #[test]
    fn times_are_warped_onto_the_speech_frames() {
        // Speech 2-3 s and 5-6 s of the map (which starts at file sample 0); whisper says the
        // segment runs 1-7 s. Half-way through whisper's span is the end of the first second
        // of speech (3 s); a quarter is half-way through it (2.5 s).
        let (p, _) = probs(10.0, 0.0, &[(2.0, 3.0, 0.9), (5.0, 6.0, 0.9)]);
        let map = SpeechMap { start: 0, probs: p };
        let w = map.warp(S as u64, 7 * S as u64).unwrap();
        let at = |x: f32| w.map((x * S as f32) as u64) as f32 / S as f32;
        assert!((at(1.0) - 2.0).abs() < 0.04, "{}", at(1.0));
        assert!((at(2.5) - 2.5).abs() < 0.04, "{}", at(2.5));
        assert!(
            (at(4.0) - 3.0).abs() < 0.04 || (at(4.0) - 5.0).abs() < 0.04,
            "{}",
            at(4.0)
        );
        assert!((at(5.5) - 5.5).abs() < 0.04, "{}", at(5.5));
        assert!((at(7.0) - 6.0).abs() < 0.04, "{}", at(7.0));
        let (a, b) = w.bounds();
        assert!(
            (a as f32 / S as f32 - 1.95).abs() < 0.04 && (b as f32 / S as f32 - 6.1).abs() < 0.04
        );
        // No speech in the span: no warp.
        assert!(map.warp(7 * S as u64, 9 * S as u64).is_none());
    }

    #[test]
    fn pieces_are_grouped_into_chunks_of_one_whisper_window() {
        let gap = S / 2;
        // Six 8 s pieces with pauses: three fit in a chunk (8 + 0.5 + 8 + 0.5 + 8 = 25 s).
        let pieces: Vec<(usize, usize)> =
            (0..6).map(|i| (i * 10 * S, i * 10 * S + 8 * S)).collect();
        let c = chunks(&pieces, gap, |_, to| to);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].len(), 3);
        for chunk in &c {
            let len: usize =
                chunk.iter().map(|(a, b)| b - a).sum::<usize>() + gap * (chunk.len() - 1);
            assert!(len <= MAX_CHUNK, "{len}");
        }
        // One 70 s piece: cut where the cutter says, every chunk at most 29.5 s, nothing lost.
        let mut cuts = Vec::new();
        let c = chunks(&[(S, 71 * S)], gap, |from, to| {
            cuts.push((from, to));
            to - S
        });
        let covered: Vec<(usize, usize)> = c.iter().flatten().copied().collect();
        assert_eq!(covered.first().unwrap().0, S);
        assert_eq!(covered.last().unwrap().1, 71 * S);
        for w in covered.windows(2) {
            assert_eq!(w[0].1, w[1].0, "{covered:?}");
        }
        assert!(
            c.iter()
                .all(|ch| ch.iter().map(|(a, b)| b - a).sum::<usize>() <= MAX_CHUNK)
        );
        assert!(cuts.iter().all(|(f, t)| t - f <= CHUNK_CUT_SEARCH));
        // A 6 s piece after 24 s in a chunk starts the next chunk instead of being cut; a 5 s
        // one still fits (24 + 0.5 + 5 = 29.5 s).
        let c = chunks(&[(0, 24 * S), (30 * S, 36 * S)], gap, |_, to| to);
        assert_eq!(c, vec![vec![(0, 24 * S)], vec![(30 * S, 36 * S)]]);
        let c = chunks(&[(0, 24 * S), (30 * S, 35 * S)], gap, |_, to| to);
        assert_eq!(c.len(), 1);
        assert!(chunks(&[], gap, |_, to| to).is_empty());
    }

    #[test]
    fn speech_no_word_covers_is_unheard() {
        // Two regions; words cover the first and the start of the second.
        let regions = [(1_000, 4_000), (6_000, 12_000)];
        let words = [(1_100, 1_500), (1_600, 3_900), (6_100, 7_000)];
        assert_eq!(unheard(&regions, &words), vec![(7_300, 12_000)]);
        // A gap between words shorter than MIN_UNHEARD_MS is a pause, not missed speech.
        let words = [(1_000, 2_000), (2_500, 4_000), (6_000, 12_000)];
        assert!(unheard(&regions, &words).is_empty());
        // A hole in the middle of a region, and a region with no word at all.
        let words = [(1_000, 1_500), (3_500, 4_000)];
        assert_eq!(
            unheard(&regions, &words),
            vec![(1_800, 3_200), (6_000, 12_000)]
        );
        // Too short a region is not looked at.
        assert!(unheard(&[(0, 700)], &[]).is_empty());
        assert!(unheard(&[], &words).is_empty());
    }

    #[test]
    fn a_voice_is_voiced_and_a_whisper_is_not() {
        let rate = WHISPER_RATE as f32;
        // A vowel-like tone at 140 Hz with two harmonics, and noise (a whisper's source),
        // 2 s each, with quiet stretches that do not count.
        let vowel: Vec<f32> = (0..2 * WHISPER_RATE as usize)
            .map(|i| {
                let t = i as f32 / rate;
                let f = 2.0 * std::f32::consts::PI * 140.0 * t;
                0.3 * f.sin() + 0.2 * (2.0 * f).sin() + 0.1 * (3.0 * f).sin()
            })
            .collect();
        let mut x = 1u64;
        let noise: Vec<f32> = (0..2 * WHISPER_RATE as usize)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                0.2 * ((x >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
            })
            .collect();
        let quiet = vec![0.0001f32; WHISPER_RATE as usize];
        let with_pause = |v: &[f32]| [v, &quiet[..]].concat();
        assert!(voiced_share(&with_pause(&vowel)) > 0.95);
        assert!(voiced_share(&with_pause(&noise)) < 0.05);
        assert_eq!(voiced_share(&[0.0; 4096]), 0.0, "silence is not voiced");
        assert_eq!(voiced_share(&[]), 0.0);
    }

    #[test]
    fn a_plan_names_its_speech_regions() {
        let (p, len) = probs(20.0, 0.0, &[(2.0, 5.0, 0.9), (12.0, 14.0, 0.9)]);
        let pl = plan(&p, &[], len, true);
        assert_eq!(pl.speech.len(), 2);
        assert_eq!(pl.regions(), 2);
        let (a, b) = pl.speech[1];
        assert!(
            a.abs_diff(12 * S) < FRAME && b.abs_diff(14 * S) < FRAME,
            "{a}..{b}"
        );
    }

    #[test]
    fn loud_stretches_above_the_floor_are_kept_and_steady_noise_is_not() {
        // 10 s of room tone at -55 dBFS with a 2 s whisper at -30 dBFS from 4 s.
        let frames = 10 * S / FRAME;
        let mut db = vec![-55.0f32; frames];
        for d in &mut db[4 * S / FRAME..6 * S / FRAME] {
            *d = -30.0;
        }
        let r = loud_regions(&db, 10 * S);
        assert_eq!(r.len(), 1);
        assert!(r[0].0.abs_diff(4 * S) <= FRAME && r[0].1.abs_diff(6 * S) <= FRAME);
        // Steady noise, loud or not, is its own floor.
        assert!(loud_regions(&vec![-20.0; frames], 10 * S).is_empty());
        // Quiet bumps in digital silence are below LOUD_MIN_DB.
        let mut quiet = vec![-120.0f32; frames];
        quiet[S / FRAME..3 * S / FRAME].fill(-60.0);
        assert!(loud_regions(&quiet, 10 * S).is_empty());
        // A click is too short.
        let mut click = vec![-55.0f32; frames];
        click[S / FRAME] = -10.0;
        assert!(loud_regions(&click, 10 * S).is_empty());
        // The plan sends a loud stretch the VAD scored low to whisper.
        let (p, len) = probs(10.0, 0.02, &[]);
        assert_eq!(plan(&p, &db, len, true).pieces.len(), 1);
        assert!(plan(&p, &[], len, true).pieces.is_empty());
    }

    #[test]
    fn only_loud_stretches_well_beyond_silero_speech_are_added() {
        let speech = [(5 * S, 8 * S)];
        // Overlapping Silero's speech, with a short run-on: nothing is added.
        assert!(beyond(&[(4 * S + S / 2, 8 * S + S / 2)], &speech).is_empty());
        // A whispered start Silero missed: its part before the padded speech is added.
        assert_eq!(
            beyond(&[(2 * S, 8 * S)], &speech),
            vec![(2 * S, 5 * S - PAD)]
        );
        // Loud where Silero heard nothing.
        assert_eq!(beyond(&[(10 * S, 12 * S)], &speech), vec![(10 * S, 12 * S)]);
    }
}
