//! Reading transcripts back: SRT, WebVTT and Verbatim JSON, so corrections made elsewhere
//! come back as a new version. Errors name the line and what was expected.

use super::Segment;
use super::export::Format;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {message}")]
    At { line: usize, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0} files cannot be imported (use SRT, VTT or JSON)")]
    Unsupported(&'static str),
}

fn at(line: usize, message: impl Into<String>) -> ImportError {
    ImportError::At {
        line,
        message: message.into(),
    }
}

/// Parses `text` in `format`.
pub fn parse(format: Format, text: &str) -> Result<Vec<Segment>, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let segs = match format {
        Format::Srt => parse_cues(text, false)?,
        Format::Vtt => parse_cues(text, true)?,
        Format::Json => parse_json(text)?,
        Format::Txt => return Err(ImportError::Unsupported("TXT")),
        Format::Rttm => return Err(ImportError::Unsupported("RTTM")),
        Format::Csv => return Err(ImportError::Unsupported("CSV")),
    };
    if segs.is_empty() {
        return Err(ImportError::Invalid("the file holds no segments".into()));
    }
    Ok(segs)
}

/// `HH:MM:SS,mmm` / `HH:MM:SS.mmm` / `MM:SS.mmm` (VTT allows no hours).
/// The longest time an imported cue may have (what SQLite's signed 64-bit integer holds, in
/// ms): anything past it is a corrupt or hostile file, never a recording.
pub const MAX_TIME_MS: u64 = i64::MAX as u64;

/// Why a timing line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeFault {
    Malformed,
    OutOfRange,
}

fn parse_time(s: &str, vtt: bool) -> Result<u64, TimeFault> {
    use TimeFault::{Malformed, OutOfRange};
    let s = s.trim();
    let (hms, ms) = s
        .rsplit_once(if vtt { '.' } else { ',' })
        .ok_or(Malformed)?;
    if ms.len() != 3 || !ms.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Malformed);
    }
    let mut nums = Vec::with_capacity(3);
    for p in hms.split(':') {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Malformed);
        }
        // All digits: a parse failure is a number too large for u64.
        nums.push(p.parse::<u64>().map_err(|_| OutOfRange)?);
    }
    let (h, m, sec) = match nums.as_slice() {
        [h, m, s] => (*h, *m, *s),
        [m, s] if vtt => (0, *m, *s),
        _ => return Err(Malformed),
    };
    if m >= 60 || sec >= 60 {
        return Err(Malformed);
    }
    let ms: u64 = ms.parse().map_err(|_| Malformed)?;
    h.checked_mul(3_600_000)
        .and_then(|t| t.checked_add(m * 60_000 + sec * 1000 + ms))
        .filter(|t| *t <= MAX_TIME_MS)
        .ok_or(OutOfRange)
}

fn parse_timing(line: &str, vtt: bool) -> Result<(u64, u64), TimeFault> {
    let (a, rest) = line.split_once("-->").ok_or(TimeFault::Malformed)?;
    // VTT cue settings may follow the end time.
    let b = rest.split_whitespace().next().ok_or(TimeFault::Malformed)?;
    Ok((parse_time(a, vtt)?, parse_time(b, vtt)?))
}

fn unescape_vtt(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&lrm;", "\u{200e}")
        .replace("&rlm;", "\u{200f}")
        .replace("&amp;", "&")
}

fn parse_cues(text: &str, vtt: bool) -> Result<Vec<Segment>, ImportError> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut i = 0;
    if vtt {
        let first = lines.first().copied().unwrap_or_default();
        if !(first == "WEBVTT" || first.starts_with("WEBVTT ") || first.starts_with("WEBVTT\t")) {
            return Err(at(1, "a WebVTT file starts with the line WEBVTT"));
        }
        // Skip the header block.
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
    }
    let mut out = Vec::new();
    while i < lines.len() {
        if lines[i].trim().is_empty() {
            i += 1;
            continue;
        }
        let block_start = i;
        if vtt && (lines[i].starts_with("NOTE") || lines[i] == "STYLE" || lines[i] == "REGION") {
            while i < lines.len() && !lines[i].trim().is_empty() {
                i += 1;
            }
            continue;
        }
        // SRT: a counter line; VTT: an optional cue identifier.
        let timing_at = if lines[i].contains("-->") {
            i
        } else {
            if !vtt && lines[i].trim().parse::<u64>().is_err() {
                return Err(at(
                    i + 1,
                    format!("expected a cue number, found {:?}", lines[i]),
                ));
            }
            i + 1
        };
        let Some(line) = lines.get(timing_at) else {
            return Err(at(
                timing_at + 1,
                "the file ends before the cue's timing line",
            ));
        };
        let (start, end) = match parse_timing(line, vtt) {
            Ok(t) => t,
            Err(TimeFault::OutOfRange) => {
                return Err(at(
                    timing_at + 1,
                    format!(
                        "a time is out of range (more than {} hours)",
                        MAX_TIME_MS / 3_600_000
                    ),
                ));
            }
            Err(TimeFault::Malformed) => {
                let example = if vtt {
                    "00:00:01.000 --> 00:00:02.500"
                } else {
                    "00:00:01,000 --> 00:00:02,500"
                };
                return Err(at(
                    timing_at + 1,
                    format!("expected a timing line like {example}, found {line:?}"),
                ));
            }
        };
        if end < start {
            return Err(at(timing_at + 1, "the cue ends before it starts"));
        }
        i = timing_at + 1;
        let mut text_lines = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() {
            text_lines.push(lines[i]);
            i += 1;
        }
        if text_lines.is_empty() {
            return Err(at(block_start + 1, "a cue without text"));
        }
        let text = text_lines.join("\n");
        if vtt {
            let cue = vtt_cue(&text, start, end).map_err(|e| at(timing_at + 2, e))?;
            let mut seg = Segment::new(start, end, cue.text);
            seg.words_json = cue.words;
            seg.speaker = cue.voice;
            out.push(seg);
        } else {
            out.push(Segment::new(start, end, text));
        }
    }
    Ok(out)
}

/// A WebVTT cue's text as read: the text without markup, its words (when it had timestamp
/// tags) and the speaker its voice tag names.
#[derive(Debug, Clone, PartialEq)]
struct VttCue {
    text: String,
    words: Option<String>,
    voice: Option<String>,
}

/// A WebVTT cue's (escaped) text, its markup read as WebVTT defines it: `<v Name>` names the
/// speaker (kept), `<c>`, `<c.class>`, `<b>`, `<i>`, `<u>`, `<ruby>`, `<rt>`, `<lang xx>` and
/// their end tags only style the text (dropped), and timestamp tags (`word <00:00:01.250>word`,
/// as Verbatim's word-level export and karaoke-style captions write them) time its words: each
/// tagged word starts at its tag and ends where the next tagged word starts (the last at the
/// cue's end); the first word starts with the cue; other words are untimed. A cue of more than
/// [`MAX_WORDS`] words is refused, as JSON is.
fn vtt_cue(text: &str, start: u64, end: u64) -> Result<VttCue, String> {
    if !text.contains('<') {
        if text.split_whitespace().count() > MAX_WORDS {
            return Err(format!("a cue of more than {MAX_WORDS} words"));
        }
        return Ok(VttCue {
            text: unescape_vtt(text),
            words: None,
            voice: None,
        });
    }
    let mut voice: Option<String> = None;
    // (time of the tag before it, if the word follows one directly; the word)
    let mut words: Vec<(Option<u64>, String)> = Vec::new();
    let mut plain = String::with_capacity(text.len());
    let mut pending: Option<u64> = None;
    let mut rest = text;
    let mut any = false;
    let mut last = start;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<')
            && let Some(close) = after.find('>')
        {
            let tag = &after[..close];
            rest = &after[close + 1..];
            if let Ok(t) = parse_time(tag, true) {
                // Out of order or outside the cue: the tag is dropped, the word untimed.
                if t >= last && t <= end {
                    pending = Some(t);
                    last = t;
                    any = true;
                }
            } else if let Some(name) = voice_of(tag)
                && voice.is_none()
            {
                voice = Some(name);
            }
            // Any other tag (class, bold, italic, underline, ruby, language, an end tag)
            // styles the text and is dropped, as WebVTT renderers ignore unknown tags.
            continue;
        }
        let Some(c) = rest.chars().next() else {
            break;
        };
        rest = &rest[c.len_utf8()..];
        plain.push(c);
        if c.is_whitespace() {
            continue;
        }
        let starts_word = plain[..plain.len() - c.len_utf8()]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        match words.last_mut() {
            Some((_, w)) if !starts_word => w.push(c),
            _ => words.push((pending.take(), c.to_string())),
        }
        if words.len() > MAX_WORDS {
            return Err(format!("a cue of more than {MAX_WORDS} words"));
        }
    }
    if !any {
        return Ok(VttCue {
            text: unescape_vtt(plain.trim()),
            words: None,
            voice,
        });
    }
    if let Some(first) = words.first_mut() {
        first.0 = first.0.or(Some(start));
    }
    let times: Vec<Option<u64>> = words.iter().map(|w| w.0).collect();
    let list: Vec<serde_json::Value> = words
        .into_iter()
        .enumerate()
        .map(|(i, (t, text))| match t {
            Some(t) => {
                let next = times[i + 1..].iter().flatten().next().copied();
                serde_json::json!({
                    "start_ms": t,
                    "end_ms": next.unwrap_or(end).clamp(t, end),
                    "text": unescape_vtt(&text),
                })
            }
            None => serde_json::json!({ "text": unescape_vtt(&text) }),
        })
        .collect();
    Ok(VttCue {
        text: unescape_vtt(plain.trim()),
        words: Some(serde_json::Value::Array(list).to_string()),
        voice,
    })
}

/// The speaker a voice tag names: `<v Name>`, `<v.loud Name>` (`None` for any other tag).
fn voice_of(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix('v')?;
    // `<v>` alone, or `v` followed by classes and/or the annotation.
    let annotation = match rest.chars().next() {
        Some('.') => rest.split_once(char::is_whitespace).map(|(_, a)| a)?,
        Some(c) if c.is_whitespace() => rest,
        _ => return None,
    };
    let name = unescape_vtt(annotation.trim());
    (!name.is_empty()).then_some(name)
}

/// The most words one imported segment may have (a 30 s segment has well under 200).
pub const MAX_WORDS: usize = 10_000;

/// A segment's `words`: a list of `{text, start_ms, end_ms, p?}` in time order. Malformed
/// entries are refused with the segment's index; times are kept inside the segment (edits
/// elsewhere may have moved its bounds), `p` inside 0..=1. Stored in the engine's own form.
fn parse_words(
    i: usize,
    w: &serde_json::Value,
    start: u64,
    end: u64,
) -> Result<String, ImportError> {
    let bad = |what: String| ImportError::Invalid(format!("segment {i}: {what}"));
    let list = w
        .as_array()
        .ok_or_else(|| bad("\"words\" must be a list".into()))?;
    if list.len() > MAX_WORDS {
        return Err(bad(format!("more than {MAX_WORDS} words")));
    }
    let mut words = Vec::with_capacity(list.len());
    let mut last = start;
    for (k, word) in list.iter().enumerate() {
        let ms = |name: &str| match word.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|t| *t <= MAX_TIME_MS)
                .map(Some)
                .ok_or_else(|| bad(format!("word {k}: \"{name}\" must be a whole number of ms"))),
        };
        let text = word
            .get("text")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| bad(format!("word {k}: \"text\" must be a string")))?;
        let p = match word.get("p") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|p| p.is_finite())
                    .ok_or_else(|| bad(format!("word {k}: \"p\" must be a number")))?
                    .clamp(0.0, 1.0) as f32,
            ),
        };
        // The engine's word form (`transcript::words::Word`), written out here so this
        // parser stays free of the rest of the crate (the fuzz target compiles it on its
        // own). A word without times is one whose time is not known.
        let mut out = serde_json::Map::new();
        match (ms("start_ms")?, ms("end_ms")?) {
            (Some(ws), Some(we)) => {
                if we < ws {
                    return Err(bad(format!("word {k} ends before it starts")));
                }
                let ws = ws.clamp(start, end).max(last);
                let we = we.clamp(ws, end);
                last = ws;
                out.insert("start_ms".into(), ws.into());
                out.insert("end_ms".into(), we.into());
            }
            (None, None) => {}
            _ => {
                return Err(bad(format!("word {k} has a start or an end but not both")));
            }
        }
        out.insert("text".into(), text.into());
        if let Some(p) = p {
            out.insert("p".into(), p.into());
        }
        words.push(serde_json::Value::Object(out));
    }
    Ok(serde_json::Value::Array(words).to_string())
}

fn parse_json(text: &str) -> Result<Vec<Segment>, ImportError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| at(e.line(), e.to_string()))?;
    let segs = v
        .get("segments")
        .and_then(|s| s.as_array())
        .ok_or_else(|| {
            ImportError::Invalid("a Verbatim JSON file has a \"segments\" list".into())
        })?;
    let mut out = Vec::with_capacity(segs.len());
    for (i, s) in segs.iter().enumerate() {
        let field = |name: &str| {
            s.get(name).and_then(|x| x.as_u64()).ok_or_else(|| {
                ImportError::Invalid(format!(
                    "segment {i}: \"{name}\" must be a whole number of ms"
                ))
            })
        };
        let (start, end) = (field("start_ms")?, field("end_ms")?);
        let text = s.get("text").and_then(|t| t.as_str()).ok_or_else(|| {
            ImportError::Invalid(format!("segment {i}: \"text\" must be a string"))
        })?;
        let mut seg = Segment::new(start, end, text);
        seg.confidence = s
            .get("confidence")
            .and_then(|c| c.as_f64())
            .map(|c| c.clamp(0.0, 1.0) as f32);
        if end < start {
            return Err(ImportError::Invalid(format!(
                "segment {i}: it ends ({end} ms) before it starts ({start} ms)"
            )));
        }
        if end > MAX_TIME_MS {
            return Err(ImportError::Invalid(format!(
                "segment {i}: a time is out of range"
            )));
        }
        seg.speaker = match s.get("speaker") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(w)) => {
                Some(w.trim().to_owned()).filter(|w| !w.is_empty())
            }
            Some(_) => {
                return Err(ImportError::Invalid(format!(
                    "segment {i}: \"speaker\" must be a name (a string)"
                )));
            }
        };
        seg.words_json = match s.get("words") {
            None | Some(serde_json::Value::Null) => None,
            Some(w) => Some(parse_words(i, w, start, end)?),
        };
        out.push(seg);
    }
    Ok(out)
}
