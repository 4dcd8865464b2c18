//! Export formats: SRT, WebVTT, JSON, plain text, CSV, and RTTM (speaker turns). A segment's
//! speaker goes with it: WebVTT's voice tag (`<v Ann>`), `Ann: ` before the text in SRT and
//! plain text, a `speaker` field in JSON and CSV, and the RTTM turn itself.

use serde::Serialize;

use super::Segment;

/// An export format (the codes of the `export_formats` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Srt,
    Vtt,
    Json,
    Txt,
    Csv,
    /// Speaker turns (NIST's RTTM): one `SPEAKER` line per segment that has a speaker.
    Rttm,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Self::Srt,
        Self::Vtt,
        Self::Json,
        Self::Txt,
        Self::Csv,
        Self::Rttm,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "srt" => Self::Srt,
            "vtt" | "webvtt" => Self::Vtt,
            "json" => Self::Json,
            "txt" | "text" => Self::Txt,
            "csv" => Self::Csv,
            "rttm" => Self::Rttm,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Srt => "srt",
            Self::Vtt => "vtt",
            Self::Json => "json",
            Self::Txt => "txt",
            Self::Csv => "csv",
            Self::Rttm => "rttm",
        }
    }

    /// Parses "srt,vtt,json"; the unknown names are the error.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match Self::parse(part) {
                Some(f) if !out.contains(&f) => out.push(f),
                Some(_) => {}
                None => {
                    return Err(format!(
                        "unknown export format {part:?} (use srt, vtt, json, txt, csv or rttm)"
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// What the JSON export says about the transcript.
#[derive(Debug, Clone, Serialize)]
pub struct Meta<'a> {
    pub title: &'a str,
    pub transcript_id: i64,
    pub version: u32,
    pub model: Option<&'a str>,
}

/// Renders `segments` in `format`.
pub fn render(format: Format, meta: &Meta<'_>, segments: &[Segment]) -> String {
    match format {
        Format::Srt => {
            let mut out = String::new();
            for (i, s) in segments.iter().enumerate() {
                out.push_str(&format!(
                    "{}\n{} --> {}\n{}{}\n\n",
                    i + 1,
                    timestamp(s.start_ms, ','),
                    timestamp(s.end_ms, ','),
                    said_by(s),
                    one_block(&s.text)
                ));
            }
            out
        }
        Format::Vtt => {
            let mut out = String::from("WEBVTT\n\n");
            for s in segments {
                out.push_str(&format!(
                    "{} --> {}\n{}{}\n\n",
                    timestamp(s.start_ms, '.'),
                    timestamp(s.end_ms, '.'),
                    voice_tag(s),
                    // WebVTT cue text is HTML-like: "-->" would end the cue and "<" opens a
                    // tag, so they are written as character references.
                    escape_vtt(&one_block(&s.text))
                ));
            }
            out
        }
        Format::Txt => {
            let mut out = String::new();
            for s in segments {
                out.push_str(&said_by(s));
                out.push_str(s.text.trim());
                out.push('\n');
            }
            out
        }
        Format::Csv => {
            let mut out = String::from("start_ms,end_ms,text,confidence,speaker\n");
            for s in segments {
                out.push_str(&format!(
                    "{},{},{},{},{}\n",
                    s.start_ms,
                    s.end_ms,
                    csv_field(s.text.trim()),
                    s.confidence.map(|c| format!("{c:.3}")).unwrap_or_default(),
                    csv_field(s.speaker.as_deref().unwrap_or_default())
                ));
            }
            out
        }
        Format::Rttm => {
            // RTTM's fields are separated by spaces: a name's spaces become underscores.
            let stem = std::path::Path::new(meta.title).file_stem().map_or_else(
                || meta.title.to_owned(),
                |s| s.to_string_lossy().into_owned(),
            );
            let file: String = rttm_token(&stem);
            let mut out = String::new();
            for s in segments {
                let Some(who) = speaker_name(s) else {
                    continue;
                };
                out.push_str(&format!(
                    "SPEAKER {file} 1 {:.3} {:.3} <NA> <NA> {} <NA> <NA>\n",
                    s.start_ms as f64 / 1000.0,
                    s.end_ms.saturating_sub(s.start_ms) as f64 / 1000.0,
                    rttm_token(&who)
                ));
            }
            out
        }
        Format::Json => {
            #[derive(Serialize)]
            struct Segment<'a> {
                start_ms: u64,
                end_ms: u64,
                text: &'a str,
                confidence: Option<f32>,
                speaker: Option<&'a str>,
                words: Option<serde_json::Value>,
            }
            #[derive(Serialize)]
            struct Doc<'a> {
                #[serde(flatten)]
                meta: &'a Meta<'a>,
                segments: Vec<Segment<'a>>,
            }
            let doc = Doc {
                meta,
                segments: segments
                    .iter()
                    .map(|s| Segment {
                        start_ms: s.start_ms,
                        end_ms: s.end_ms,
                        text: s.text.trim(),
                        confidence: s.confidence,
                        speaker: s.speaker.as_deref(),
                        words: s
                            .words_json
                            .as_deref()
                            .and_then(|w| serde_json::from_str(w).ok()),
                    })
                    .collect(),
            };
            let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
            s.push('\n');
            s
        }
    }
}

/// Renders `segments` in `format` with the words' own times where the format can carry them:
/// SRT gets one cue per word (a word with no time joins the cue before it), WebVTT gets a
/// timestamp tag (`<00:00:01.250>`) before each timed word, as karaoke-style players and
/// YouTube read them. Segments without word times, and the other formats, are as [`render`]
/// writes them (JSON always has the words).
pub fn render_words(format: Format, meta: &Meta<'_>, segments: &[Segment]) -> String {
    match format {
        Format::Srt => {
            let mut cues: Vec<(u64, u64, String)> = Vec::new();
            for s in segments {
                let words = s.words();
                if words.iter().all(|w| w.span().is_none()) {
                    cues.push((
                        s.start_ms,
                        s.end_ms,
                        format!("{}{}", said_by(s), one_block(&s.text)),
                    ));
                    continue;
                }
                let first_cue = cues.len();
                for w in &words {
                    match w.span() {
                        Some((a, b)) => {
                            let a = a.clamp(s.start_ms, s.end_ms);
                            cues.push((a, b.clamp(a, s.end_ms), w.text.clone()));
                        }
                        None if cues.len() > first_cue => {
                            if let Some(last) = cues.last_mut() {
                                last.2.push(' ');
                                last.2.push_str(&w.text);
                            }
                        }
                        // Untimed words before the segment's first timed one start the cue
                        // at the segment's start.
                        None => cues.push((s.start_ms, s.start_ms, w.text.clone())),
                    }
                }
                // The segment's first cue says who speaks.
                if let Some(c) = cues.get_mut(first_cue) {
                    c.2.insert_str(0, &said_by(s));
                }
                // A cue that began untimed ends where the next begins.
                for i in first_cue..cues.len() {
                    let next = cues.get(i + 1).map_or(s.end_ms, |c| c.0);
                    if cues[i].1 <= cues[i].0 {
                        cues[i].1 = next.max(cues[i].0);
                    }
                }
            }
            let mut out = String::new();
            for (i, (a, b, text)) in cues.iter().enumerate() {
                out.push_str(&format!(
                    "{}\n{} --> {}\n{}\n\n",
                    i + 1,
                    timestamp(*a, ','),
                    timestamp(*b, ','),
                    text
                ));
            }
            out
        }
        Format::Vtt => {
            let mut out = String::from("WEBVTT\n\n");
            for s in segments {
                let words = s.words();
                let text = if words.iter().all(|w| w.span().is_none()) {
                    escape_vtt(&one_block(&s.text))
                } else {
                    // Timestamps inside a cue must lie after its start, before its end, and
                    // increase: a word that cannot have one follows the one before it.
                    let mut last = s.start_ms;
                    let mut parts = Vec::with_capacity(words.len());
                    for w in &words {
                        let text = escape_vtt(&w.text);
                        match w.start_ms {
                            Some(t) if t > last && t < s.end_ms => {
                                last = t;
                                parts.push(format!("<{}>{text}", timestamp(t, '.')));
                            }
                            _ => parts.push(text),
                        }
                    }
                    parts.join(" ")
                };
                out.push_str(&format!(
                    "{} --> {}\n{}{text}\n\n",
                    timestamp(s.start_ms, '.'),
                    timestamp(s.end_ms, '.'),
                    voice_tag(s),
                ));
            }
            out
        }
        _ => render(format, meta, segments),
    }
}

/// The longest file name (in bytes) an export gets: file systems allow 255, and a suffix
/// like ` (12)` must still fit.
pub const MAX_NAME_BYTES: usize = 240;

/// Writes `text` to a new file at `path`, never over an existing one: when the name is
/// taken, ` (2)`, ` (3)`, ... is added before the extension; a file name too long for the
/// file system is shortened (at a character boundary). The path actually written.
///
/// `-` is standard output, and a path that is a device or a FIFO (`/dev/stdout`,
/// `/dev/full`) is written as it is (a device is no file name to number); a folder is
/// refused (the caller puts the file inside it when it knows the name).
pub fn write_new(path: &std::path::Path, text: &str) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    if path == std::path::Path::new("-") {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        return Ok(path.to_path_buf());
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a folder: name a file (or write into the folder with its default name)",
            ));
        }
        Ok(m) if !m.is_file() => {
            let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
            f.write_all(text.as_bytes())?;
            f.flush()?;
            return Ok(path.to_path_buf());
        }
        _ => {}
    }
    let dir = path.parent().unwrap_or(std::path::Path::new(""));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".to_owned());
    // The extension is what follows the last dot ("name.v2.srt" keeps ".srt").
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() && e.len() <= 8 => (s.to_owned(), format!(".{e}")),
        _ => (name.clone(), String::new()),
    };
    for n in 1..10_000u32 {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!(" ({n})")
        };
        let room = MAX_NAME_BYTES.saturating_sub(ext.len() + suffix.len());
        let candidate = dir.join(format!("{}{suffix}{ext}", shorten(&stem, room)));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut f) => {
                let written = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
                if let Err(e) = written {
                    drop(f);
                    let _ = std::fs::remove_file(&candidate);
                    return Err(e);
                }
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("{} and 9998 numbered variants exist", path.display()),
    ))
}

/// `s` cut to at most `max` bytes at a character boundary.
fn shorten(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (VTT).
pub fn timestamp(ms: u64, sep: char) -> String {
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// A time typed by a person: `HH:MM:SS.mmm`, `MM:SS.mmm` or seconds (`12.5`), with `.` or
/// `,` before the fraction; `None` when it is none of these.
pub fn parse_clock(s: &str) -> Option<u64> {
    let s = s.trim().replace(',', ".");
    let mut parts: Vec<&str> = s.split(':').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let secs: f64 = parts
        .pop()?
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
    if !parts.is_empty() && secs >= 60.0 {
        return None;
    }
    let mut whole: u64 = 0;
    for (i, p) in parts.iter().enumerate() {
        let n: u64 = p.parse().ok()?;
        // Minutes (after hours) are below 60.
        if i > 0 && n >= 60 {
            return None;
        }
        whole = whole.checked_mul(60)?.checked_add(n)?;
    }
    let ms = (secs * 1000.0).round() as u64;
    whole.checked_mul(60_000)?.checked_add(ms)
}

/// Subtitle text: no blank lines inside a cue (they end it).
fn one_block(text: &str) -> String {
    text.trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The segment's speaker as one line of text, if it has one.
fn speaker_name(s: &Segment) -> Option<String> {
    let w = s.speaker.as_deref()?.trim();
    (!w.is_empty()).then(|| w.replace(['\n', '\r'], " "))
}

/// `Ann: ` for a segment Ann speaks (SRT, plain text); nothing without a speaker.
fn said_by(s: &Segment) -> String {
    speaker_name(s).map_or_else(String::new, |w| format!("{w}: "))
}

/// WebVTT's voice span opening a cue Ann speaks (`<v Ann>`); nothing without a speaker.
fn voice_tag(s: &Segment) -> String {
    speaker_name(s).map_or_else(String::new, |w| format!("<v {}>", escape_vtt(&w)))
}

/// One whitespace-free RTTM field.
fn rttm_token(s: &str) -> String {
    let t: String = s.split_whitespace().collect::<Vec<_>>().join("_");
    if t.is_empty() { "audio".to_owned() } else { t }
}

fn escape_vtt(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
