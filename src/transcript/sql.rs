//! Transcripts, their immutable versions and segments, full-text search over them, and the
//! exports made of them. The transcript feature owns this SQL; every statement is
//! parameterized and cached; "no such row" is `Ok(None)`.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::storage::StorageError;
use crate::storage::ids::{AudioFileId, ExportId, JobId, SegmentId, TranscriptId, VersionId};
use crate::transcript::Segment;

/// Where a version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionSource {
    Model,
    Edit,
    Rollback,
    Import,
    /// The text committed while the take recorded.
    Live,
    /// A span transcribed again.
    Retranscribe,
}

impl VersionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Edit => "edit",
            Self::Rollback => "rollback",
            Self::Import => "import",
            Self::Live => "live",
            Self::Retranscribe => "retranscribe",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "model" => Self::Model,
            "edit" => Self::Edit,
            "rollback" => Self::Rollback,
            "import" => Self::Import,
            "live" => Self::Live,
            "retranscribe" => Self::Retranscribe,
            _ => return None,
        })
    }
}

/// A version to be saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewVersion {
    pub source: VersionSource,
    pub based_on: Option<VersionId>,
    pub model: Option<String>,
    pub params_json: Option<String>,
    pub author: Option<String>,
    pub note: Option<String>,
}

impl NewVersion {
    pub fn new(source: VersionSource) -> Self {
        Self {
            source,
            based_on: None,
            model: None,
            params_json: None,
            author: None,
            note: None,
        }
    }
}

impl From<SegmentRow> for Segment {
    fn from(r: SegmentRow) -> Self {
        Self {
            start_ms: r.start_ms,
            end_ms: r.end_ms,
            text: r.text,
            confidence: r.confidence,
            words_json: r.words_json,
            speaker: r.speaker,
            no_speech: r.no_speech,
            avg_logprob: r.avg_logprob,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRow {
    pub id: VersionId,
    pub transcript_id: TranscriptId,
    pub number: u32,
    pub source: VersionSource,
    pub based_on: Option<VersionId>,
    pub model: Option<String>,
    pub author: Option<String>,
    pub note: Option<String>,
    pub created_at: i64,
    pub is_current: bool,
    pub segment_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRow {
    pub id: SegmentId,
    pub idx: u32,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    pub confidence: Option<f32>,
    pub words_json: Option<String>,
    pub speaker: Option<String>,
    pub no_speech: Option<f32>,
    pub avg_logprob: Option<f32>,
}

/// Creates a transcript with its first version. Call inside a transaction: the schema only
/// accepts a transcript whose first version exists when the transaction commits.
pub fn create_transcript(
    conn: &Connection,
    audio_file: AudioFileId,
    job: Option<JobId>,
    title: Option<&str>,
    version: &NewVersion,
    segments: &[Segment],
    now: i64,
) -> Result<(TranscriptId, VersionId), StorageError> {
    let id: TranscriptId = conn
        .prepare_cached(
            "INSERT INTO transcripts (audio_file_id, job_id, title, current_version_id, created_at) \
             VALUES (?1, ?2, ?3, 0, ?4) RETURNING id",
        )?
        .query_row(params![audio_file, job, title, now], |r| r.get(0))?;
    let (version_id, _) = add_version(conn, id, version, segments, now)?;
    Ok((id, version_id))
}

/// Appends a new version (number = last + 1) with its segments; the schema makes it current.
pub fn add_version(
    conn: &Connection,
    transcript: TranscriptId,
    version: &NewVersion,
    segments: &[Segment],
    now: i64,
) -> Result<(VersionId, u32), StorageError> {
    let (id, number): (VersionId, u32) = conn
        .prepare_cached(
            "INSERT INTO transcript_versions (transcript_id, number, source, based_on_version_id, \
             model, params_json, author, note, created_at) \
             VALUES (?1, (SELECT COALESCE(MAX(number), 0) + 1 FROM transcript_versions \
                          WHERE transcript_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             RETURNING id, number",
        )?
        .query_row(
            params![
                transcript,
                version.source.as_str(),
                version.based_on,
                version.model,
                version.params_json,
                version.author,
                version.note,
                now
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO segments (version_id, idx, start_ms, end_ms, text, confidence, words_json, \
         speaker, no_speech, avg_logprob) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for (idx, s) in segments.iter().enumerate() {
        stmt.execute(params![
            id,
            idx as u64,
            s.start_ms,
            s.end_ms,
            s.text,
            s.confidence,
            s.words_json,
            s.speaker,
            s.no_speech,
            s.avg_logprob
        ])?;
    }
    Ok((id, number))
}

const VERSION_COLUMNS: &str = "v.id, v.transcript_id, v.number, v.source, v.based_on_version_id, \
     v.model, v.author, v.note, v.created_at, (t.current_version_id = v.id), \
     (SELECT COUNT(*) FROM segments s WHERE s.version_id = v.id)";

fn version_row(r: &Row<'_>) -> rusqlite::Result<VersionRow> {
    let source: String = r.get(3)?;
    Ok(VersionRow {
        id: r.get(0)?,
        transcript_id: r.get(1)?,
        number: r.get(2)?,
        source: VersionSource::parse(&source).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                format!("unknown version source {source:?}").into(),
            )
        })?,
        based_on: r.get(4)?,
        model: r.get(5)?,
        author: r.get(6)?,
        note: r.get(7)?,
        created_at: r.get(8)?,
        is_current: r.get(9)?,
        segment_count: r.get(10)?,
    })
}

/// The current version of a transcript.
pub fn current_version(
    conn: &Connection,
    transcript: TranscriptId,
) -> Result<Option<VersionRow>, StorageError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM transcripts t JOIN transcript_versions v \
         ON v.id = t.current_version_id WHERE t.id = ?1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([transcript], version_row)
        .optional()?)
}

/// Every version of a transcript, oldest first.
pub fn versions(
    conn: &Connection,
    transcript: TranscriptId,
) -> Result<Vec<VersionRow>, StorageError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM transcript_versions v JOIN transcripts t \
         ON t.id = v.transcript_id WHERE v.transcript_id = ?1 ORDER BY v.number"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([transcript], version_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Where the voice activity model heard speech in a transcript's audio (ms spans, in time
/// order), as the newest whole-file model version that ran it recorded (`stats` of its
/// parameters); `None` when no such version did (no VAD, or an import only). Versions of one
/// span (re-transcriptions) are not whole-file and are passed over.
pub fn speech_regions(
    conn: &Connection,
    transcript: TranscriptId,
) -> Result<Option<Vec<(u64, u64)>>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(params_json, '$.stats.speech_regions') FROM transcript_versions \
         WHERE transcript_id = ?1 AND source IN ('model', 'live') \
         AND json_type(params_json, '$.stats.speech_regions') = 'array' \
         ORDER BY number DESC LIMIT 1",
    )?;
    let json: Option<String> = stmt.query_row([transcript], |r| r.get(0)).optional()?;
    Ok(json.map(|j| {
        let mut spans: Vec<(u64, u64)> = serde_json::from_str::<Vec<[u64; 2]>>(&j)
            .unwrap_or_default()
            .into_iter()
            .filter(|[a, b]| b > a)
            .map(|[a, b]| (a, b))
            .collect();
        spans.sort_unstable();
        spans
    }))
}

/// A transcript with its audio file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptRow {
    pub id: TranscriptId,
    pub audio_file: AudioFileId,
    pub title: Option<String>,
    pub current_version: VersionId,
    pub job: Option<JobId>,
    pub created_at: i64,
    pub audio_name: String,
    /// Relative to the data directory.
    pub audio_path: String,
    pub duration_ms: u64,
    pub versions: u32,
}

const TRANSCRIPT_COLUMNS: &str = "t.id, t.audio_file_id, t.title, t.current_version_id, t.job_id, \
     t.created_at, a.original_name, a.stored_path, a.duration_ms, \
     (SELECT COUNT(*) FROM transcript_versions v WHERE v.transcript_id = t.id)";

fn transcript_row(r: &Row<'_>) -> rusqlite::Result<TranscriptRow> {
    Ok(TranscriptRow {
        id: r.get(0)?,
        audio_file: r.get(1)?,
        title: r.get(2)?,
        current_version: r.get(3)?,
        job: r.get(4)?,
        created_at: r.get(5)?,
        audio_name: r.get(6)?,
        audio_path: r.get(7)?,
        duration_ms: r.get(8)?,
        versions: r.get(9)?,
    })
}

pub fn get_transcript(
    conn: &Connection,
    id: TranscriptId,
) -> Result<Option<TranscriptRow>, StorageError> {
    conn.prepare_cached(&format!(
        "SELECT {TRANSCRIPT_COLUMNS} FROM transcripts t JOIN audio_files a ON a.id = t.audio_file_id \
         WHERE t.id = ?1"
    ))?
    .query_row([id], transcript_row)
    .optional()
    .map_err(Into::into)
}

/// The newest transcript of an audio file, if it has one.
pub fn newest_transcript_of(
    conn: &Connection,
    audio_file: AudioFileId,
) -> Result<Option<TranscriptId>, StorageError> {
    conn.prepare_cached(
        "SELECT id FROM transcripts WHERE audio_file_id = ?1 ORDER BY id DESC LIMIT 1",
    )?
    .query_row([audio_file], |r| r.get(0))
    .optional()
    .map_err(Into::into)
}

/// The version of `transcript` that job `job` made (its parameters name the job).
pub fn version_made_by_job(
    conn: &Connection,
    transcript: TranscriptId,
    job: JobId,
) -> Result<Option<VersionRow>, StorageError> {
    let id: Option<VersionId> = conn
        .prepare_cached(
            "SELECT id FROM transcript_versions WHERE transcript_id = ?1 \
             AND json_extract(params_json, '$.job') = ?2 ORDER BY number DESC LIMIT 1",
        )?
        .query_row(params![transcript, job], |r| r.get(0))
        .optional()?;
    match id {
        Some(v) => Ok(versions(conn, transcript)?.into_iter().find(|r| r.id == v)),
        None => Ok(None),
    }
}

/// Every transcript, newest first.
pub fn list_transcripts(conn: &Connection) -> Result<Vec<TranscriptRow>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TRANSCRIPT_COLUMNS} FROM transcripts t JOIN audio_files a ON a.id = t.audio_file_id \
         ORDER BY t.id DESC"
    ))?;
    let rows = stmt.query_map([], transcript_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A version by its number within its transcript.
pub fn version_by_number(
    conn: &Connection,
    transcript: TranscriptId,
    number: u32,
) -> Result<Option<VersionRow>, StorageError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM transcript_versions v JOIN transcripts t \
         ON t.id = v.transcript_id WHERE v.transcript_id = ?1 AND v.number = ?2"
    );
    conn.prepare_cached(&sql)?
        .query_row(params![transcript, number], version_row)
        .optional()
        .map_err(Into::into)
}

/// Makes version `to` current again by saving a copy of it as a new version (source
/// `rollback`): history is never rewritten. Returns the new version's id and number.
pub fn rollback(
    conn: &Connection,
    transcript: TranscriptId,
    to: u32,
    author: Option<&str>,
    now: i64,
) -> Result<(VersionId, u32), StorageError> {
    let Some(target) = version_by_number(conn, transcript, to)? else {
        return Err(StorageError::NotFound(format!(
            "version {to} of transcript {transcript}"
        )));
    };
    let segs: Vec<Segment> = segments(conn, target.id)?
        .into_iter()
        .map(Segment::from)
        .collect();
    let mut v = NewVersion::new(VersionSource::Rollback);
    v.based_on = Some(target.id);
    v.model = target.model.clone();
    v.author = author.map(str::to_string);
    v.note = Some(format!("rollback to version {to}"));
    add_version(conn, transcript, &v, &segs, now)
}

/// The segments of a version, in order.
pub fn segments(conn: &Connection, version: VersionId) -> Result<Vec<SegmentRow>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, idx, start_ms, end_ms, text, confidence, words_json, speaker, no_speech, \
         avg_logprob FROM segments WHERE version_id = ?1 ORDER BY idx",
    )?;
    let rows = stmt.query_map([version], |r| {
        Ok(SegmentRow {
            id: r.get(0)?,
            idx: r.get(1)?,
            start_ms: r.get(2)?,
            end_ms: r.get(3)?,
            text: r.get(4)?,
            confidence: r.get(5)?,
            words_json: r.get(6)?,
            speaker: r.get(7)?,
            no_speech: r.get(8)?,
            avg_logprob: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// ---------------------------------------------------------------------------------------------
// Search

/// One full-text match: where it is (transcript, version, time) and a highlighted snippet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub transcript_id: TranscriptId,
    pub audio_file_id: AudioFileId,
    pub version_id: VersionId,
    pub version_number: u32,
    pub segment_id: SegmentId,
    pub start_ms: u64,
    pub end_ms: u64,
    /// The segment text with matches wrapped in `[` and `]`.
    pub snippet: String,
    /// The segment's position in its version (the editor opens there).
    pub segment_index: u32,
    pub title: Option<String>,
    /// Who says it, when the segment has a speaker.
    pub speaker: Option<String>,
}

/// Turns what a user typed into an FTS5 query that cannot be a syntax error: every word is
/// a quoted term (quotes doubled), all must match, and the last one matches as a prefix so
/// results appear while typing. Returns `None` when nothing searchable is left.
fn fts_query(user_input: &str) -> Option<String> {
    let terms: Vec<String> = user_input
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    if terms.is_empty() {
        return None;
    }
    let mut q = terms.join(" ");
    q.push('*');
    Some(q)
}

/// Searches segment text. `current_only` limits hits to each transcript's current version
/// (what a user means by "search my transcripts"); otherwise every version is searched.
pub fn search(
    conn: &Connection,
    user_input: &str,
    speaker: Option<&str>,
    current_only: bool,
    limit: u32,
) -> Result<Vec<SearchHit>, StorageError> {
    let Some(query) = fts_query(user_input) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.audio_file_id, v.id, v.number, s.id, s.start_ms, s.end_ms, \
                snippet(segments_fts, 0, '[', ']', '…', 16), s.idx, t.title, s.speaker \
         FROM segments_fts \
         JOIN segments s ON s.id = segments_fts.rowid \
         JOIN transcript_versions v ON v.id = s.version_id \
         JOIN transcripts t ON t.id = v.transcript_id \
         WHERE segments_fts MATCH ?1 AND (?2 = 0 OR t.current_version_id = v.id) \
           AND (?4 IS NULL OR s.speaker = trim(?4) COLLATE NOCASE) \
         ORDER BY bm25(segments_fts), t.id, s.idx \
         LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![query, current_only, limit, speaker], |r| {
        Ok(SearchHit {
            transcript_id: r.get(0)?,
            audio_file_id: r.get(1)?,
            version_id: r.get(2)?,
            version_number: r.get(3)?,
            segment_id: r.get(4)?,
            start_ms: r.get(5)?,
            end_ms: r.get(6)?,
            snippet: r.get(7)?,
            segment_index: r.get(8)?,
            title: r.get(9)?,
            speaker: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// ---------------------------------------------------------------------------------------------
// Exports

/// Records that a version was exported to `path` in `format` (a code of `export_formats`).
pub fn record_export(
    conn: &Connection,
    transcript: TranscriptId,
    version: VersionId,
    format: &str,
    path: &str,
    now: i64,
) -> Result<ExportId, StorageError> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO exports (transcript_id, version_id, format, path, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )?
        .query_row(params![transcript, version, format, path, now], |r| {
            r.get(0)
        })?)
}

/// The export format codes the schema knows, in order.
pub fn export_formats(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut stmt = conn.prepare_cached("SELECT code FROM export_formats ORDER BY code")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn user_input_becomes_quoted_terms_with_a_prefix_on_the_last() {
        assert_eq!(
            fts_query("fellow ameri").as_deref(),
            Some("\"fellow\" \"ameri\"*")
        );
        assert_eq!(
            fts_query("say \"hi\"").as_deref(),
            Some("\"say\" \"\"\"hi\"\"\"*")
        );
        assert_eq!(
            fts_query("NEAR( AND"),
            Some("\"NEAR(\" \"AND\"*".to_owned())
        );
        assert_eq!(fts_query("  * ( ) -- "), None);
        assert_eq!(fts_query(""), None);
    }
}
