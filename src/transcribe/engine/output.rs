//! whisper's output read back: its segments and tokens, the packed audio's time line mapped
//! back onto the file's, and the words placed on the speech they cover.

use super::*;

/// A text token in the packed buffer's time (samples).
#[derive(Debug, Clone)]
pub(super) struct RawToken {
    /// whisper's token timestamps.
    pub(super) t0: u64,
    pub(super) t1: u64,
    /// The DTW alignment's time for it (when the model was loaded with DTW).
    pub(super) dtw: Option<u64>,
    pub(super) text: String,
    pub(super) p: f32,
}

/// A segment in the packed buffer's time (samples).
#[derive(Debug, Clone)]
pub(super) struct RawSegment {
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) text: String,
    pub(super) no_speech: f32,
    pub(super) tokens: Vec<RawToken>,
    /// Every text token's id and log-probability (whisper's failure tests).
    pub(super) ids: Vec<i32>,
    pub(super) logprobs: Vec<f32>,
}

pub(super) fn read_segments(state: &WhisperState, eot: i32) -> Vec<RawSegment> {
    let cs = u64::from(WHISPER_RATE) / 100;
    let mut out = Vec::new();
    for i in 0..state.full_n_segments() {
        let Some(seg) = state.get_segment(i) else {
            continue;
        };
        let text = seg
            .to_str_lossy()
            .map(|t| t.into_owned())
            .unwrap_or_default();
        let mut tokens = Vec::new();
        let (mut ids, mut logprobs) = (Vec::new(), Vec::new());
        for j in 0..seg.n_tokens() {
            let Some(tok) = seg.get_token(j) else {
                continue;
            };
            let data = tok.token_data();
            if data.id >= eot {
                continue;
            }
            ids.push(data.id);
            logprobs.push(data.plog);
            let t = tok
                .to_str_lossy()
                .map(|t| t.into_owned())
                .unwrap_or_default();
            tokens.push(RawToken {
                t0: data.t0.max(0) as u64 * cs,
                t1: data.t1.max(0) as u64 * cs,
                dtw: (data.t_dtw >= 0).then(|| data.t_dtw as u64 * cs),
                text: t,
                p: data.p,
            });
        }
        out.push(RawSegment {
            start: seg.start_timestamp().max(0) as u64 * cs,
            end: seg.end_timestamp().max(0) as u64 * cs,
            text,
            no_speech: seg.no_speech_probability(),
            tokens,
            ids,
            logprobs,
        });
    }
    out
}

/// Where packed speech came from: (packed start, file start, length), in samples.
pub(super) type SpanMap = Vec<(u64, u64, u64)>;

/// Which way a packed time that falls in a gap between regions (where there is no audio of
/// the file) goes: a start to the next region, an end back to the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Edge {
    Start,
    End,
}

pub(super) fn map_time(map: &SpanMap, t: u64, edge: Edge) -> u64 {
    let idx = map.partition_point(|(p, _, _)| *p <= t);
    let Some((p, f, len)) = map.get(idx.saturating_sub(1)) else {
        return map.first().map_or(0, |(_, f, _)| *f);
    };
    let into = t.saturating_sub(*p);
    if into <= *len {
        return f + into;
    }
    match (edge, map.get(idx)) {
        (Edge::Start, Some((_, next, _))) => *next,
        _ => f + len,
    }
}

pub(super) fn to_ms(samples: u64) -> u64 {
    samples * 1000 / u64::from(WHISPER_RATE)
}

/// A word in the packed buffer's time: its tokens' text and times.
pub(super) struct PackedWord {
    pub(super) text: String,
    /// Token timestamps: the first token's start, the last token's end.
    pub(super) t0: u64,
    pub(super) t1: u64,
    /// The DTW time of its first token.
    pub(super) dtw: Option<u64>,
    pub(super) p: f32,
}

/// Groups a segment's text tokens into words: a token starting with a space starts a new
/// word; tokens inside a non-speech annotation are dropped with it. Also the probabilities
/// of the tokens kept.
pub(super) fn packed_words(tokens: Vec<RawToken>) -> (Vec<PackedWord>, Vec<f32>) {
    let mut words: Vec<PackedWord> = Vec::new();
    let mut probs = Vec::new();
    let mut tags = TagFilter::default();
    for token in tokens {
        let text = tags.feed(&token.text);
        if text.trim().is_empty() {
            continue;
        }
        probs.push(token.p);
        match words.last_mut() {
            Some(w) if !text.starts_with(' ') => {
                w.text.push_str(&text);
                w.t1 = w.t1.max(token.t1);
                w.p = w.p.min(token.p);
            }
            _ => words.push(PackedWord {
                text: text.trim_start().to_string(),
                t0: token.t0,
                t1: token.t1.max(token.t0),
                dtw: token.dtw,
                p: token.p,
            }),
        }
    }
    words.retain(|w| !w.text.trim().is_empty());
    (words, probs)
}

/// Each word's (start, end) in packed time. With DTW (when every word has a DTW time) a word
/// starts where the alignment reaches its first token and ends where the next word starts
/// (the last one at its token end, or the segment's end); otherwise the token timestamps.
pub(super) fn word_spans(words: &[PackedWord], segment_end: u64, dtw: bool) -> Vec<(u64, u64)> {
    let starts: Option<Vec<u64>> = words.iter().map(|w| w.dtw).collect();
    match starts.filter(|_| dtw) {
        Some(starts) => (0..words.len())
            .map(|i| {
                let start = starts[i];
                let end = match starts.get(i + 1) {
                    Some(&next) => next,
                    None => words[i].t1.max(segment_end.min(start + LAST_WORD_MAX)),
                };
                (start, end.max(start))
            })
            .collect(),
        None => words.iter().map(|w| (w.t0, w.t1)).collect(),
    }
}

/// The longest a segment's last word is stretched to the segment's end under DTW (samples).
pub(super) const LAST_WORD_MAX: u64 = WHISPER_RATE as u64;

pub(super) fn map_segment(
    raw: RawSegment,
    map: &SpanMap,
    speech: &SpeechMap,
    dtw: bool,
) -> Option<Segment> {
    let text = nonspeech::strip(&raw.text);
    if text.is_empty() {
        return None;
    }
    // The segment on the file's time line, then placed on the speech in it (its words too).
    let (a, b) = (
        map_time(map, raw.start, Edge::Start),
        map_time(map, raw.end, Edge::End).max(map_time(map, raw.start, Edge::Start)),
    );
    let warp = speech.warp(a, b);
    let place = |t: u64| warp.as_ref().map_or(t.clamp(a, b), |w| w.map(t));
    let (fa, fb) = warp.as_ref().map_or((a, b), vad::Warp::bounds);
    let (start_ms, end_ms) = (to_ms(fa), to_ms(fb).max(to_ms(fa)));
    let avg_logprob = (!raw.logprobs.is_empty())
        .then(|| raw.logprobs.iter().sum::<f32>() / raw.logprobs.len() as f32);
    let (packed, probs) = packed_words(raw.tokens);
    let spans = word_spans(&packed, raw.end, dtw);
    let words = packed
        .into_iter()
        .zip(spans)
        .map(|(w, (t0, t1))| {
            let s0 = place(map_time(map, t0, Edge::Start));
            let s1 = place(map_time(map, t1, Edge::End)).max(s0);
            let (s0, s1) = speech.snap(s0, s1);
            let (s, e) = (to_ms(s0), to_ms(s1));
            Word {
                start_ms: s.max(start_ms).min(end_ms),
                end_ms: e.max(s).min(end_ms).max(start_ms),
                text: w.text,
                p: w.p,
            }
        })
        .collect();
    let confidence = if probs.is_empty() {
        None
    } else {
        Some((probs.iter().sum::<f32>() / probs.len() as f32).clamp(0.0, 1.0))
    };
    Some(Segment {
        start_ms,
        end_ms,
        text,
        confidence,
        no_speech: raw.no_speech,
        avg_logprob,
        words,
    })
}

/// DTW's alignment heads for a model, told by its dimensions: the published presets where
/// the dimensions name one model, else the top half of the text layers' heads.
pub(super) fn dtw_mode(h: &model_file::WhisperHparams) -> DtwMode<'static> {
    let en = !h.multilingual();
    let preset = match (h.n_text_layer, h.n_text_state, en) {
        (4, 384, true) => Some(DtwModelPreset::TinyEn),
        (4, 384, false) => Some(DtwModelPreset::Tiny),
        (6, 512, true) => Some(DtwModelPreset::BaseEn),
        (6, 512, false) => Some(DtwModelPreset::Base),
        (12, 768, true) => Some(DtwModelPreset::SmallEn),
        (12, 768, false) => Some(DtwModelPreset::Small),
        (24, 1024, true) => Some(DtwModelPreset::MediumEn),
        (24, 1024, false) => Some(DtwModelPreset::Medium),
        // large-v3 has 128 mel bins; v1 and v2 (80) have different heads: no preset.
        (32, 1280, false) if h.n_mels == 128 => Some(DtwModelPreset::LargeV3),
        (4, 1280, false) if h.n_mels == 128 => Some(DtwModelPreset::LargeV3Turbo),
        _ => None,
    };
    match preset {
        Some(model_preset) => DtwMode::ModelPreset { model_preset },
        None => DtwMode::TopMost {
            n_top: (h.n_text_layer / 2).max(1),
        },
    }
}

/// Packs `pieces` of `pending` (which starts at file sample `offset`) back to back with a
/// short silence between them.
pub(super) fn pack(pending: &[f32], pieces: &[(usize, usize)], offset: u64) -> (Vec<f32>, SpanMap) {
    let len: usize = pieces.iter().map(|(a, b)| b - a + GAP).sum();
    let mut packed = Vec::with_capacity(len);
    let mut map = Vec::with_capacity(pieces.len());
    for (i, (a, b)) in pieces.iter().enumerate() {
        if i > 0 {
            packed.resize(packed.len() + GAP, 0.0);
        }
        map.push((packed.len() as u64, offset + *a as u64, (b - a) as u64));
        packed.extend_from_slice(&pending[*a..*b]);
    }
    // whisper needs at least a second of audio to decode anything sensible.
    if packed.len() < WHISPER_RATE as usize {
        packed.resize(WHISPER_RATE as usize + WHISPER_RATE as usize / 10, 0.0);
    }
    (packed, map)
}

/// The parts of `pieces` (indices into a buffer that starts at sample `offset` of the file)
/// that lie inside `spans` (samples of the file, in time order, disjoint).
pub(super) fn within(
    pieces: &[(usize, usize)],
    spans: &[(u64, u64)],
    offset: u64,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for &(a, b) in pieces {
        let (fa, fb) = (offset + a as u64, offset + b as u64);
        // The first span that ends after the piece starts.
        let first = spans.partition_point(|&(_, e)| e <= fa);
        for &(sa, sb) in spans[first..].iter().take_while(|&&(sa, _)| sa < fb) {
            let (x, y) = (sa.max(fa), sb.min(fb));
            if x < y {
                out.push(((x - offset) as usize, (y - offset) as usize));
            }
        }
    }
    out
}
