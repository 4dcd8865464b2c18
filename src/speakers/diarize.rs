//! Who spoke when, from the speech regions and voiceprints alone: CAM++ embeddings of 1.5 s
//! windows every 0.75 s over the speech, average-linkage clustering of their cosine
//! similarities (cut where the speakers are best separated, or at the number the user gives),
//! and each stretch of speech given the speaker of the window centred nearest it.
//!
//! Without the segmentation model this sees one speaker per window: overlapped speech goes
//! to one of its speakers and a change of speaker inside a window is placed to within half
//! a step (see the README's diarization table for what that costs).

use super::campplus::{CamPlus, DIM, MIN_FRAMES};
use super::{Progress, Samples, SpeakerError, Turn};

/// A window's length and the step between windows (ms).
pub const WINDOW_MS: u64 = 1_500;
pub const STEP_MS: u64 = 750;
/// Speech shorter than this (ms) is too short to tell a voice by and is left out.
pub const MIN_SPEECH_MS: u64 = 400;
/// A speaker found automatically holds at least this many windows, and this share of them.
pub const MIN_WINDOWS: usize = 2;
pub const MIN_SHARE_PERCENT: usize = 5;
/// Windows embedded in one pass through the network.
const BATCH: usize = 4;
/// The most windows clustered at once (25 minutes of continuous speech): the clustering keeps
/// their similarity matrix (16 MB here) and its time grows with the cube. A longer recording's
/// speakers are found from this many of its windows, evenly spread, and every window then
/// goes to the speaker whose voiceprint it is nearest.
pub const MAX_WINDOWS: usize = 2_000;
/// The most speakers automatic mode considers.
pub const MAX_SPEAKERS: usize = 8;
/// Automatic mode finds one speaker when no split of the windows separates them by at least
/// this mean silhouette (cosine distance).
pub const MIN_SILHOUETTE: f32 = 0.1;

/// How many speakers to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Speakers {
    /// As many as the voices say (the threshold decides).
    #[default]
    Auto,
    /// Exactly this many (fewer if there are fewer windows).
    Exactly(usize),
}

/// One window's voiceprint.
#[derive(Debug, Clone)]
pub struct Window {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Unit length.
    pub embedding: Vec<f32>,
}

/// The windows over `speech` (ms ranges of `samples`, 16 kHz).
pub fn windows<S: Samples + ?Sized>(
    model: &CamPlus,
    samples: &S,
    speech: &[(u64, u64)],
    progress: (&Progress, f32, f32),
) -> Result<Vec<Window>, SpeakerError> {
    let min_ms = MIN_SPEECH_MS.max(MIN_FRAMES as u64 * 10 + 15);
    let at = |ms: u64| ((ms * 16) as usize).min(samples.length());
    let mut spans = Vec::new();
    for &(a, b) in speech {
        let b = b.min(samples.length() as u64 / 16);
        if b <= a || b - a < min_ms {
            continue;
        }
        if b - a <= WINDOW_MS {
            spans.push((a, b));
        } else {
            let mut s = a;
            while s + WINDOW_MS < b {
                spans.push((s, s + WINDOW_MS));
                s += STEP_MS;
            }
            spans.push((b - WINDOW_MS, b));
        }
    }
    // Windows of one length (all but the short regions') go through the network together.
    let mut out: Vec<Window> = Vec::with_capacity(spans.len());
    let mut i = 0;
    while i < spans.len() {
        let (p, from, to) = progress;
        p.step(from, to, i as f32 / spans.len() as f32)?;
        let len = |(s, e): (u64, u64)| at(e) - at(s);
        let mut j = i + 1;
        while j < spans.len() && j - i < BATCH && len(spans[j]) == len(spans[i]) {
            j += 1;
        }
        let owned: Vec<std::borrow::Cow<'_, [f32]>> = spans[i..j]
            .iter()
            .map(|&(s, e)| samples.range(at(s), at(e)))
            .collect::<Result<_, _>>()?;
        let clips: Vec<&[f32]> = owned.iter().map(|c| c.as_ref()).collect();
        for ((s, e), mut v) in spans[i..j].iter().zip(model.embed_batch(&clips)?) {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n > 0.0 {
                v.iter_mut().for_each(|x| *x /= n);
            }
            out.push(Window {
                start_ms: *s,
                end_ms: *e,
                embedding: v,
            });
        }
        i = j;
    }
    Ok(out)
}

/// Average-linkage clustering of unit vectors by cosine similarity: a cluster label per
/// vector, labels numbered by first appearance. With a number of speakers, the dendrogram is
/// cut there; in automatic mode at the number of clusters (up to [`MAX_SPEAKERS`]) whose
/// windows are best separated (the mean silhouette), or one when none is separated enough.
pub fn cluster(vectors: &[Vec<f32>], speakers: Speakers) -> Vec<usize> {
    let n = vectors.len();
    if n == 0 {
        return Vec::new();
    }
    if n > MAX_WINDOWS {
        // The speakers from an even spread of the windows, then every window to the
        // nearest of their voiceprints.
        let every = n.div_ceil(MAX_WINDOWS);
        let sample: Vec<Vec<f32>> = vectors.iter().step_by(every).cloned().collect();
        let labels = cluster(&sample, speakers);
        let k = labels.iter().copied().max().map_or(0, |m| m + 1);
        let mut centroids = vec![vec![0.0f32; DIM]; k];
        for (v, &l) in sample.iter().zip(&labels) {
            centroids[l].iter_mut().zip(v).for_each(|(c, x)| *c += x);
        }
        let nearest: Vec<usize> = vectors
            .iter()
            .map(|v| {
                (0..k)
                    .max_by(|&a, &b| {
                        super::campplus::cosine(v, &centroids[a])
                            .total_cmp(&super::campplus::cosine(v, &centroids[b]))
                    })
                    .unwrap_or(0)
            })
            .collect();
        return by_first_appearance(nearest);
    }
    let merges = merge_order(vectors);
    match speakers {
        Speakers::Exactly(k) => cut(n, &merges, k.max(1)),
        Speakers::Auto => {
            let mut best = (MIN_SILHOUETTE, cut(n, &merges, 1));
            for k in 2..=MAX_SPEAKERS.min(n.saturating_sub(1)) {
                let labels = cut(n, &merges, k);
                // A cut that leaves a cluster too small to be a speaker (a cough, a laugh, a
                // stretch of two voices at once) is not a count of speakers.
                let smallest = (0..k)
                    .map(|c| labels.iter().filter(|&&l| l == c).count())
                    .min()
                    .unwrap_or(0);
                if smallest < MIN_WINDOWS.max(n * MIN_SHARE_PERCENT / 100) {
                    continue;
                }
                let s = silhouette(vectors, &labels);
                if s > best.0 {
                    best = (s, labels);
                }
            }
            best.1
        }
    }
}

/// The merges of average-linkage clustering, all the way to one cluster: `(kept, joined)`.
fn merge_order(vectors: &[Vec<f32>]) -> Vec<(usize, usize)> {
    let n = vectors.len();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    // Similarity between live clusters (Lance-Williams update for average linkage).
    let mut sim: Vec<Vec<f32>> = (0..n)
        .map(|i| (0..n).map(|j| dot(&vectors[i], &vectors[j])).collect())
        .collect();
    let mut size = vec![1usize; n];
    let mut alive = vec![true; n];
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    for _ in 1..n {
        let mut best = (f32::MIN, 0, 0);
        for i in (0..n).filter(|&i| alive[i]) {
            for j in (i + 1..n).filter(|&j| alive[j]) {
                if sim[i][j] > best.0 {
                    best = (sim[i][j], i, j);
                }
            }
        }
        let (_, a, b) = best;
        for k in (0..n).filter(|&k| alive[k] && k != a && k != b) {
            let v = (size[a] as f32 * sim[a][k] + size[b] as f32 * sim[b][k])
                / (size[a] + size[b]) as f32;
            sim[a][k] = v;
            sim[k][a] = v;
        }
        size[a] += size[b];
        alive[b] = false;
        merges.push((a, b));
    }
    merges
}

/// The labels of `n` vectors after the merges that leave `k` clusters.
fn cut(n: usize, merges: &[(usize, usize)], k: usize) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    for &(a, b) in merges.iter().take(n.saturating_sub(k)) {
        parent[b] = a;
    }
    let root = |mut i: usize| {
        while parent[i] != i {
            i = parent[i];
        }
        i
    };
    by_first_appearance((0..n).map(root))
}

/// Cluster labels renumbered 0, 1, 2, … in the order they first appear.
fn by_first_appearance(labels: impl IntoIterator<Item = usize>) -> Vec<usize> {
    let mut names: Vec<usize> = Vec::new();
    labels
        .into_iter()
        .map(|l| match names.iter().position(|&x| x == l) {
            Some(p) => p,
            None => {
                names.push(l);
                names.len() - 1
            }
        })
        .collect()
}

/// The mean silhouette of a labelling under cosine distance (a lone member counts 0).
fn silhouette(vectors: &[Vec<f32>], labels: &[usize]) -> f32 {
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    if k < 2 {
        return 0.0;
    }
    let dist = |a: &[f32], b: &[f32]| 1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let mut total = 0.0;
    for (i, v) in vectors.iter().enumerate() {
        let mut sum = vec![0.0f32; k];
        let mut count = vec![0usize; k];
        for (j, w) in vectors.iter().enumerate() {
            if i != j {
                sum[labels[j]] += dist(v, w);
                count[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if count[own] == 0 {
            continue;
        }
        let a = sum[own] / count[own] as f32;
        let b = (0..k)
            .filter(|&c| c != own && count[c] > 0)
            .map(|c| sum[c] / count[c] as f32)
            .fold(f32::MAX, f32::min);
        if b < f32::MAX {
            total += (b - a) / a.max(b).max(f32::EPSILON);
        }
    }
    total / vectors.len() as f32
}

/// In automatic mode, a "speaker" heard in a single window is more likely a cough, a laugh
/// or a noisy stretch of a known one: such clusters join the nearest cluster that has more.
pub(super) fn absorb_singletons(vectors: &[Vec<f32>], labels: &mut [usize]) {
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    let count = |l: usize, labels: &[usize]| labels.iter().filter(|&&x| x == l).count();
    let big: Vec<usize> = (0..k).filter(|&l| count(l, labels) > 1).collect();
    if big.is_empty() {
        return;
    }
    let centroid = |l: usize, labels: &[usize]| {
        let mut c = vec![0.0f32; DIM];
        for (v, _) in vectors.iter().zip(labels).filter(|(_, x)| **x == l) {
            for (c, x) in c.iter_mut().zip(v) {
                *c += x;
            }
        }
        c
    };
    let centroids: Vec<(usize, Vec<f32>)> = big.iter().map(|&l| (l, centroid(l, labels))).collect();
    for i in 0..labels.len() {
        if count(labels[i], labels) == 1 {
            let v = &vectors[i];
            if let Some((l, _)) = centroids.iter().max_by(|a, b| {
                let d = |c: &[f32]| super::campplus::cosine(v, c);
                d(&a.1).total_cmp(&d(&b.1))
            }) {
                labels[i] = *l;
            }
        }
    }
}

/// Each window moved to the speaker whose voiceprint (the centroid of their windows) it is
/// nearest, a few rounds: average linkage can chain a speaker's windows through a stretch of
/// mixed speech into the other's cluster; the centroids are not fooled by one chain.
pub(super) fn refine(vectors: &[Vec<f32>], labels: &mut [usize]) {
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    if k < 2 {
        return;
    }
    for _ in 0..5 {
        let mut centroids = vec![vec![0.0f32; DIM]; k];
        for (v, &l) in vectors.iter().zip(labels.iter()) {
            for (c, x) in centroids[l].iter_mut().zip(v) {
                *c += x;
            }
        }
        let mut moved = false;
        for (v, l) in vectors.iter().zip(labels.iter_mut()) {
            let nearest = (0..k)
                .filter(|&c| centroids[c].iter().any(|x| *x != 0.0))
                .max_by(|&a, &b| {
                    super::campplus::cosine(v, &centroids[a])
                        .total_cmp(&super::campplus::cosine(v, &centroids[b]))
                });
            if let Some(n) = nearest
                && n != *l
            {
                *l = n;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
}

/// One speaker's voice in a recording: the name its turns carry, the mean of its windows'
/// unit embeddings and how many windows that is (what a remembered voiceprint is made of).
#[derive(Debug, Clone, PartialEq)]
pub struct Voice {
    pub speaker: String,
    pub mean: Vec<f32>,
    pub windows: u32,
}

/// Who spoke when in `samples` (16 kHz), given where the speech is (ms ranges).
pub fn diarize<S: Samples + ?Sized>(
    model: &CamPlus,
    samples: &S,
    speech: &[(u64, u64)],
    speakers: Speakers,
) -> Result<Vec<Turn>, SpeakerError> {
    Ok(diarize_voices(
        model,
        samples,
        speech,
        speakers,
        (&Progress::default(), 0.0, 1.0),
    )?
    .0)
}

/// [`diarize`], with each speaker's voice.
pub fn diarize_voices<S: Samples + ?Sized>(
    model: &CamPlus,
    samples: &S,
    speech: &[(u64, u64)],
    speakers: Speakers,
    progress: (&Progress, f32, f32),
) -> Result<(Vec<Turn>, Vec<Voice>), SpeakerError> {
    let w = windows(model, samples, speech, progress)?;
    let vectors: Vec<Vec<f32>> = w.iter().map(|w| w.embedding.clone()).collect();
    let mut labels = cluster(&vectors, speakers);
    if speakers == Speakers::Auto {
        absorb_singletons(&vectors, &mut labels);
    }
    refine(&vectors, &mut labels);
    // Each window owns its stretch up to the midpoints of its overlaps with its neighbours.
    let mut owned: Vec<(u64, u64, usize)> = Vec::with_capacity(w.len());
    for (i, win) in w.iter().enumerate() {
        let start = match i.checked_sub(1).map(|p| &w[p]) {
            Some(p) if p.end_ms > win.start_ms => (p.end_ms + win.start_ms) / 2,
            _ => win.start_ms,
        };
        let end = match w.get(i + 1) {
            Some(n) if n.start_ms < win.end_ms => (n.start_ms + win.end_ms) / 2,
            _ => win.end_ms,
        };
        owned.push((start, end.max(start), labels[i]));
    }
    // Neighbouring stretches of one speaker are one turn (a pause under a second between
    // them included); speakers named by first appearance.
    let mut names: Vec<usize> = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    let mut last: Option<(usize, u64)> = None;
    for (a, b, l) in owned {
        let idx = match names.iter().position(|&x| x == l) {
            Some(p) => p,
            None => {
                names.push(l);
                names.len() - 1
            }
        };
        let speaker = format!("SPEAKER_{:02}", idx + 1);
        match (last, turns.last_mut()) {
            (Some((pl, pend)), Some(t)) if pl == l && a <= pend + 1_000 => t.end_ms = b,
            _ => turns.push(Turn {
                speaker,
                start_ms: a,
                end_ms: b,
            }),
        }
        last = Some((l, b));
    }
    let voices = names
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            let mut mean = vec![0.0f32; DIM];
            let mut n = 0u32;
            for (v, _) in vectors.iter().zip(&labels).filter(|(_, x)| **x == l) {
                for (m, x) in mean.iter_mut().zip(v) {
                    *m += x;
                }
                n += 1;
            }
            mean.iter_mut().for_each(|m| *m /= n.max(1) as f32);
            Voice {
                speaker: format!("SPEAKER_{:02}", i + 1),
                mean,
                windows: n,
            }
        })
        .collect();
    Ok((turns, voices))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        v.resize(DIM, 0.0);
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn clustering_finds_the_groups_or_the_number_asked() {
        let a = [unit(&[1.0, 0.1]), unit(&[1.0, 0.0]), unit(&[0.9, 0.2])];
        let b = [unit(&[0.0, 1.0]), unit(&[0.1, 1.0])];
        let all: Vec<Vec<f32>> = [
            a[0].clone(),
            b[0].clone(),
            a[1].clone(),
            b[1].clone(),
            a[2].clone(),
        ]
        .to_vec();
        assert_eq!(cluster(&all, Speakers::Auto), [0, 1, 0, 1, 0]);
        assert_eq!(cluster(&all, Speakers::Exactly(1)), [0; 5]);
        assert_eq!(cluster(&all, Speakers::Exactly(2)), [0, 1, 0, 1, 0]);
        assert_eq!(cluster(&all, Speakers::Exactly(9)), [0, 1, 2, 3, 4]);
        assert!(cluster(&[], Speakers::Auto).is_empty());
    }

    #[test]
    fn a_lone_window_joins_its_nearest_speaker() {
        let v = vec![
            unit(&[1.0, 0.0, 0.0]),
            unit(&[1.0, 0.05, 0.0]),
            unit(&[0.0, 1.0, 0.0]),
            unit(&[0.0, 1.0, 0.05]),
            unit(&[0.2, 0.1, 1.0]),
        ];
        let mut l = vec![0, 0, 1, 1, 2];
        absorb_singletons(&v, &mut l);
        assert_eq!(l, [0, 0, 1, 1, 0]);
    }

    /// More windows than one clustering takes (an hour of speech): the speakers are found
    /// from an even spread of them and every window goes to its nearest, in bounded time.
    #[test]
    fn an_hour_of_windows_is_clustered_from_a_spread_of_them() {
        let n = 4_800;
        let a = unit(&[1.0, 0.1, 0.0]);
        let b = unit(&[0.0, 1.0, 0.1]);
        let vectors: Vec<Vec<f32>> = (0..n)
            .map(|i| {
                let base = if (i / 40) % 2 == 0 { &a } else { &b };
                let wobble = (i % 7) as f32 * 0.01;
                unit(&[base[0] + wobble, base[1] - wobble, base[2] + wobble])
            })
            .collect();
        let started = std::time::Instant::now();
        let labels = cluster(&vectors, Speakers::Auto);
        assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
        assert_eq!(labels.len(), n);
        for (i, l) in labels.iter().enumerate() {
            assert_eq!(*l, (i / 40) % 2, "window {i}");
        }
        let two = cluster(&vectors, Speakers::Exactly(2));
        assert_eq!(two, labels);
    }
}
