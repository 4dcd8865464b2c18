//! The live draft of a take: the text committed while it recorded, kept.
//!
//! Every committed piece is stored as it is committed ([`super::live::sql::insert_live_piece`]), so a
//! crash loses none of it. When the take is stored, or recovered after a crash, the pieces
//! become version 1 of the take's transcript (source `live`), regrouped into sentences, with
//! the caption lag statistics in the version's parameters; the whole-take pass then becomes
//! version 2 of the same transcript, so the compare view shows what was seen live against
//! the final text.

use rusqlite::Connection;
use serde::Serialize;

use super::agreement::ends_sentence;
use super::live::sql::LivePiece;
use super::protocol::{Segment, Word};
use crate::library;
use crate::storage::StorageError;
use crate::storage::ids::{AudioFileId, SessionId, TranscriptId};
use crate::transcript;
use crate::transcript::sql::{NewVersion, VersionSource};

/// A draft segment ends after a word that ends a sentence, before a pause this long, or
/// once it is this long.
const PAUSE_MS: u64 = 1500;
const MAX_SEGMENT_MS: u64 = 12_000;

/// A committed piece as stored.
pub fn piece_row(piece: &Segment, at_ms: u64) -> LivePiece {
    LivePiece {
        at_ms,
        segment: piece.stored(),
    }
}

fn words_of(piece: &LivePiece) -> Vec<Word> {
    piece
        .segment
        .words_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<Vec<Word>>(j).ok())
        .unwrap_or_default()
}

/// Words as one stored segment.
fn segment(words: &[Word]) -> Option<transcript::Segment> {
    Segment::of_words(words).as_ref().map(Segment::stored)
}

/// The draft's segments: the committed words regrouped into sentences (a piece is whatever
/// one live step committed, often half a sentence). A piece without words is kept as it is.
pub fn draft_segments(pieces: &[LivePiece]) -> Vec<transcript::Segment> {
    let mut out = Vec::new();
    let mut run: Vec<Word> = Vec::new();
    for piece in pieces {
        let words = words_of(piece);
        if words.is_empty() {
            out.extend(segment(&std::mem::take(&mut run)));
            if !piece.segment.text.trim().is_empty() {
                out.push(piece.segment.clone());
            }
            continue;
        }
        for w in words {
            if let (Some(first), Some(prev)) = (run.first(), run.last())
                && (w.start_ms.saturating_sub(prev.end_ms) >= PAUSE_MS
                    || w.end_ms.saturating_sub(first.start_ms) > MAX_SEGMENT_MS)
            {
                out.extend(segment(&std::mem::take(&mut run)));
            }
            let end = ends_sentence(&w.text);
            run.push(w);
            if end {
                out.extend(segment(&std::mem::take(&mut run)));
            }
        }
    }
    out.extend(segment(&run));
    out
}

/// How far the captions were behind the speech: per word, the take's length when the word
/// was committed minus the word's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LagStats {
    pub words: usize,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub max_ms: u64,
}

/// The value at quantile `q` (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl LagStats {
    pub fn of(lags: &[u64]) -> Self {
        let mut sorted = lags.to_vec();
        sorted.sort_unstable();
        Self {
            words: sorted.len(),
            p50_ms: quantile(&sorted, 0.5),
            p95_ms: quantile(&sorted, 0.95),
            max_ms: sorted.last().copied().unwrap_or(0),
        }
    }

    fn of_pieces(pieces: &[LivePiece]) -> Self {
        let lags: Vec<u64> = pieces
            .iter()
            .flat_map(|p| {
                let words = words_of(p);
                let at = p.at_ms;
                let ends: Vec<u64> = if words.is_empty() {
                    vec![p.segment.end_ms]
                } else {
                    words.iter().map(|w| w.end_ms).collect()
                };
                ends.into_iter().map(move |e| at.saturating_sub(e))
            })
            .collect();
        Self::of(&lags)
    }
}

/// Makes a take's live draft version 1 of a new transcript of `audio_file` (titled by its
/// name) and notes it on
/// the session; returns that transcript. A session whose draft was already saved returns
/// the same transcript again (saving is idempotent). With no committed piece, `keep_empty`
/// says whether an empty draft is still kept (live ran and heard nothing) or none is made
/// (`None`: the take was recorded without live text). `about` goes into the version's
/// parameters beside the lag statistics. All or nothing: it runs in a savepoint of its own.
pub fn save(
    conn: &Connection,
    session: SessionId,
    audio_file: AudioFileId,
    about: serde_json::Value,
    keep_empty: bool,
    now: i64,
) -> Result<Option<TranscriptId>, StorageError> {
    conn.execute_batch("SAVEPOINT live_draft")?;
    let saved = (|| {
        let draft = draft_of(conn, session, &about, keep_empty)?;
        let Some((version, segments)) = draft else {
            return crate::transcribe::live::sql::session_live_transcript(conn, session);
        };
        // Titled like a transcript from a job: by the file's name.
        let title = library::sql::audio_file(conn, audio_file)?.map(|a| a.original_name);
        let (transcript, _) = transcript::sql::create_transcript(
            conn,
            audio_file,
            None,
            title.as_deref(),
            &version,
            &segments,
            now,
        )?;
        crate::transcribe::live::sql::set_session_live_transcript(conn, session, transcript)?;
        Ok(Some(transcript))
    })();
    match &saved {
        Ok(_) => conn.execute_batch("RELEASE live_draft")?,
        Err(_) => conn.execute_batch("ROLLBACK TO live_draft; RELEASE live_draft")?,
    }
    saved
}

/// What recovery did with a take whose live text no transcript held.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adopted {
    pub session: SessionId,
    pub audio_file: AudioFileId,
    /// The transcript its live text is version 1 of (its full pass, queued now, becomes
    /// version 2).
    pub transcript: TranscriptId,
}

/// Takes that stopped and were stored, but whose process died before their live text became
/// version 1 or before their full pass was queued (a kill right after a take stops): the
/// draft is made now and the full pass queued with `model` and the default decoding (the
/// live take's own settings died with its process). Only takes whose process is gone (`is_alive` says no) are touched; running this again
/// does nothing more (all of it in one savepoint per take).
pub fn adopt_stranded(
    conn: &Connection,
    is_alive: impl Fn(&str) -> bool,
    model: &str,
    now: i64,
) -> Result<Vec<Adopted>, StorageError> {
    let candidates: Vec<(SessionId, AudioFileId, Option<String>)> = conn
        .prepare_cached(
            "SELECT s.id, s.audio_file_id, s.runner FROM recording_sessions s \
             WHERE s.status = 'complete' AND s.audio_file_id IS NOT NULL \
             AND (EXISTS (SELECT 1 FROM live_pieces p WHERE p.session_id = s.id) \
                  OR s.live_transcript_id IS NOT NULL) \
             AND NOT EXISTS (SELECT 1 FROM transcription_jobs j \
                             WHERE j.audio_file_id = s.audio_file_id) \
             ORDER BY s.id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut adopted = Vec::new();
    for (session, audio_file, runner) in candidates {
        if runner.as_deref().is_some_and(&is_alive) {
            continue;
        }
        let about = serde_json::json!({ "recovered": true, "model": model });
        let Some(transcript) = save(conn, session, audio_file, about, false, now)? else {
            continue;
        };
        let job = crate::transcribe::jobs::sql::NewJob {
            audio_file,
            model: model.to_owned(),
            requested_backend: "auto".into(),
            language: None,
            params_json: "{}".into(),
            runner: None,
            into_transcript: Some(transcript),
            redo: None,
        };
        crate::transcribe::jobs::sql::insert_job(conn, &job, now)?;
        tracing::info!(
            session = %session,
            transcript = %transcript,
            "kept the live text of an interrupted take and queued its full pass"
        );
        adopted.push(Adopted {
            session,
            audio_file,
            transcript,
        });
    }
    Ok(adopted)
}

/// The version and segments a session's draft needs; `None`: none to make (there is one
/// already, or nothing was committed and an empty draft is not wanted).
fn draft_of(
    conn: &Connection,
    session: SessionId,
    about: &serde_json::Value,
    keep_empty: bool,
) -> Result<Option<(NewVersion, Vec<transcript::Segment>)>, StorageError> {
    if let Some(t) = crate::transcribe::live::sql::session_live_transcript(conn, session)?
        && transcript::sql::get_transcript(conn, t)?.is_some()
    {
        tracing::debug!(session = %session, transcript = %t, "the live draft is kept already");
        return Ok(None);
    }
    let pieces = crate::transcribe::live::sql::live_pieces(conn, session)?;
    if pieces.is_empty() && !keep_empty {
        return Ok(None);
    }
    let lag = LagStats::of_pieces(&pieces);
    let mut version = NewVersion::new(VersionSource::Live);
    version.note = Some(format!(
        "live draft: {} words, caption lag p50 {:.1} s, p95 {:.1} s",
        lag.words,
        lag.p50_ms as f64 / 1000.0,
        lag.p95_ms as f64 / 1000.0
    ));
    version.params_json = Some(serde_json::json!({ "live": about, "lag": lag }).to_string());
    version.model = about
        .get("model")
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    Ok(Some((version, draft_segments(&pieces))))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn w(text: &str, start_ms: u64, end_ms: u64) -> Word {
        Word {
            start_ms,
            end_ms,
            text: text.into(),
            p: 0.8,
        }
    }

    fn piece(words: &[Word], at_ms: u64) -> LivePiece {
        piece_row(&Segment::of_words(words).unwrap(), at_ms)
    }

    /// Recovery keeps a crashed take's live text through the port the live feature hands it
    /// (`capture::recovery::LiveText`, whose `keep` is [`save`]): the draft lands as version 1
    /// of a transcript of the stored file, and a recovery run again (another process, a
    /// retry after a failed commit) gets the same transcript, not a second one.
    #[test]
    fn a_saved_draft_lands_once_however_often_it_is_saved() {
        let conn = crate::storage::open_in_memory().unwrap();
        let (file, _) = library::sql::insert_audio_file(
            &conn,
            &library::sql::NewAudioFile {
                sha256: "ab".repeat(32),
                original_name: "take.wav".into(),
                original_path: None,
                stored_path: "audio/ab/take.wav".into(),
                size_bytes: 1000,
                container: "wav".into(),
                codec: "pcm_s16le".into(),
                duration_ms: 3000,
                sample_rate: 16000,
                channels: 1,
            },
            1,
        )
        .unwrap();
        let session = crate::capture::sql::insert_recording_session(
            &conn,
            &crate::capture::sql::NewRecordingSession {
                device_id: None,
                device_name: "fake".into(),
                sample_rate: 16000,
                channels: 1,
                sample_format: "i16".into(),
                file_path: "recordings/take.wav".into(),
                runner: None,
            },
            1,
        )
        .unwrap();
        let words = [w("Ask", 0, 400), w("not.", 500, 900)];
        super::super::live::sql::insert_live_piece(&conn, session, &piece(&words, 1_500), 2)
            .unwrap();
        let about = serde_json::json!({ "recovered": true });
        let first = save(&conn, session, file.id, about.clone(), false, 3)
            .unwrap()
            .unwrap();
        let again = save(&conn, session, file.id, about, false, 4)
            .unwrap()
            .unwrap();
        assert_eq!(first, again);
        let transcripts: i64 = conn
            .query_row("SELECT COUNT(*) FROM transcripts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(transcripts, 1);
        let version = transcript::sql::current_version(&conn, first)
            .unwrap()
            .unwrap();
        assert_eq!(version.number, 1);
        assert_eq!(version.source, VersionSource::Live);
        let text: Vec<String> = transcript::sql::segments(&conn, version.id)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect();
        assert_eq!(text.join(" "), "Ask not.");
    }

    #[test]
    fn pieces_regroup_into_sentences_and_pauses() {
        let pieces = [
            piece(&[w("And", 0, 200), w("so,", 200, 500)], 1500),
            piece(&[w("my", 600, 800), w("fellow", 800, 1100)], 2500),
            piece(&[w("Americans.", 1100, 1800), w("Ask", 2000, 2300)], 3400),
            // A long pause before "not": a new segment even without a full stop.
            piece(&[w("not", 5000, 5300), w("what?", 5300, 5800)], 7000),
        ];
        let segs = draft_segments(&pieces);
        let texts: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["And so, my fellow Americans.", "Ask", "not what?"]);
        assert_eq!((segs[0].start_ms, segs[0].end_ms), (0, 1800));
        assert_eq!((segs[2].start_ms, segs[2].end_ms), (5000, 5800));
        let words: Vec<Word> =
            serde_json::from_str(segs[0].words_json.as_deref().unwrap()).unwrap();
        assert_eq!(words.len(), 5);
    }

    #[test]
    fn a_segment_is_cut_when_it_grows_too_long() {
        let words: Vec<Word> = (0..40).map(|i| w("word", i * 500, i * 500 + 400)).collect();
        let segs = draft_segments(&[piece(&words, 21_000)]);
        assert!(segs.len() >= 2, "{segs:?}");
        assert!(segs.iter().all(|s| s.end_ms - s.start_ms <= MAX_SEGMENT_MS));
        let total: usize = segs.iter().map(|s| s.text.split(' ').count()).sum();
        assert_eq!(total, 40, "no word lost or doubled");
    }

    #[test]
    fn lag_is_commit_time_minus_word_end() {
        let pieces = [
            piece(&[w("a", 0, 1000), w("b", 1000, 2000)], 3000),
            piece(&[w("c", 2000, 2500)], 5000),
        ];
        let lag = LagStats::of_pieces(&pieces);
        assert_eq!(lag.words, 3);
        assert_eq!(lag.p50_ms, 2000);
        assert_eq!(lag.max_ms, 2500);
        assert_eq!(lag.p95_ms, 2500);
        assert_eq!(quantile(&[], 0.5), 0);
        assert_eq!(quantile(&[7], 0.95), 7);
    }
}
