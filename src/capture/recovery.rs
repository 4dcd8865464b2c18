//! Recovery of interrupted takes: a session still `recording` whose take nobody holds (the
//! recorder keeps an exclusive lock on its take while it writes) was cut short by a crash, a
//! kill or a power cut. Its WAV headers are repaired from the frames actually on disk, the
//! parts are imported into the library, and the session is marked `recovered` (or `failed`,
//! with the reason, when nothing usable is left).

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::take::{
    is_managed_take, remove_stored, reserve_path, stage_part, take_in_use, take_path,
};
use super::wav;
use crate::capture;
use crate::capture::sql::{SessionEnd, SessionProgress, SessionStatus, StopReason};
use crate::library::import::{self, AudioStore, Imported, Placed};
use crate::storage::ids::{AudioFileId, SessionId, TranscriptId};
use crate::storage::writer::Effects;
use crate::storage::{StorageError, now_ms};

/// [`LiveText::keep`]: a recovered take's live text made version 1 of a transcript of its
/// stored file.
pub type KeepLiveText = fn(
    &Connection,
    SessionId,
    AudioFileId,
    serde_json::Value,
) -> Result<Option<TranscriptId>, StorageError>;

/// A take's live text, of which capture records nothing: the feature that keeps it (the live
/// draft, `transcribe::live`) puts these two functions in the world, and recovery keeps what
/// was committed before a crash through them without knowing transcription (capture sits
/// below transcription; nothing of it calls up there).
#[derive(bevy::prelude::Resource, Debug, Clone, Copy)]
pub struct LiveText {
    /// Where a take's committed live text ends (ms into the take); `None`: it has none.
    pub end_ms: fn(&Connection, SessionId) -> Result<Option<u64>, StorageError>,
    /// Makes a recovered take's live text version 1 of a transcript of its stored file
    /// (`about` goes into the version's parameters) and returns that transcript; `None`: the
    /// take has no live text. Keeping it again returns the same transcript.
    pub keep: KeepLiveText,
}

impl LiveText {
    /// An app without live transcription: no take has live text.
    pub const NONE: Self = Self {
        end_ms: |_, _| Ok(None),
        keep: |_, _, _, _| Ok(None),
    };
}

/// What recovery did with one interrupted take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryStatus {
    Recovered,
    Failed,
    /// Another recorder still writes it; left alone.
    InUse,
}

impl RecoveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recovered => "recovered",
            Self::Failed => "failed",
            Self::InUse => "in_use",
        }
    }
}

impl std::fmt::Display for RecoveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for RecoveryStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Why a take that never captured a frame is closed as failed (nothing was lost).
pub const NOTHING_CAPTURED: &str = "nothing had been captured before the crash";

/// What recovery did with one interrupted session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovered {
    pub session: SessionId,
    pub file_path: String,
    pub status: RecoveryStatus,
    pub frames: u64,
    pub sample_rate: u32,
    pub imported: Vec<Imported>,
    pub error: Option<String>,
    /// The transcript the take's live draft became (its text committed before the crash).
    pub live_transcript: Option<TranscriptId>,
}

/// An interrupted session, and where its committed live text ends (`None`: it has none).
pub type Interrupted = (capture::sql::RecordingSessionRow, Option<u64>);

/// The sessions still `recording` (interrupted unless a recorder holds their take), read
/// before recovery's file work.
pub fn interrupted(conn: &Connection, live: LiveText) -> Result<Vec<Interrupted>, StorageError> {
    capture::sql::list_recording_sessions(conn, Some(SessionStatus::Recording))?
        .into_iter()
        .map(|row| {
            let end = (live.end_ms)(conn, row.id)?;
            Ok((row, end))
        })
        .collect()
}

/// An interrupted take made ready off the writer: headers repaired, parts hashed and probed
/// (or copied into staging, for a take the user placed elsewhere).
pub struct Prepared {
    id: SessionId,
    stop_reason: Option<StopReason>,
    path: PathBuf,
    report: Recovered,
    progress: SessionProgress,
    step: Step,
}

enum Step {
    /// Another recorder still writes it: reported, left alone.
    InUse,
    /// Its parts, ready to be moved into the store (or why they are not).
    Store {
        staged: Result<Vec<import::StagedImport>, String>,
        parts: Vec<PathBuf>,
        managed: bool,
    },
    /// Nothing usable: closed as failed with the reason in the report; its live text, if it
    /// has any, over silence staged to stand in for the lost audio.
    Close {
        lost_text: Option<Result<import::StagedImport, String>>,
    },
}

/// The file work of recovery, for a thread of its own (never the writer's transaction):
/// for each interrupted session (`status` = recording), repair the take's headers from the
/// frames on disk and stage its parts.
pub fn prepare(store: &AudioStore, rows: Vec<Interrupted>) -> Vec<Prepared> {
    let mut out = Vec::new();
    for (row, live_end_ms) in rows {
        let path = take_path(store.data_dir(), &row.file_path);
        let mut p = Prepared {
            id: row.id,
            stop_reason: row.stop_reason,
            path: path.clone(),
            report: Recovered {
                session: row.id,
                file_path: row.file_path.clone(),
                status: RecoveryStatus::Failed,
                frames: 0,
                sample_rate: row.sample_rate,
                imported: Vec::new(),
                error: None,
                live_transcript: None,
            },
            progress: SessionProgress {
                frames_written: row.frames_written,
                overruns: row.overruns,
                frames_dropped: row.frames_dropped,
                xruns: row.xruns.clone(),
                gaps: Vec::new(),
            },
            step: Step::Close { lost_text: None },
        };
        if take_in_use(&path) {
            p.report.status = RecoveryStatus::InUse;
            p.step = Step::InUse;
            out.push(p);
            continue;
        }
        let _span = tracing::info_span!("recover", session = %row.id).entered();
        // A take cut short keeps the space it held back for its storing: give it back.
        let reserve = reserve_path(&path);
        if reserve.exists()
            && let Err(e) = std::fs::remove_file(&reserve)
        {
            tracing::warn!("cannot remove {}: {e}", reserve.display());
        }
        let outcome = if path.exists() {
            wav::recover(&path).map_err(|e| e.to_string())
        } else {
            Err(format!("the take {} is missing", path.display()))
        };
        let managed = is_managed_take(store.data_dir(), &row.file_path);
        match outcome {
            Ok(summary) if summary.frames > 0 => {
                p.report.frames = summary.frames;
                p.report.sample_rate = summary.sample_rate;
                p.progress.frames_written = summary.frames;
                p.step = Step::Store {
                    staged: stage_parts(store, &summary.parts, managed),
                    parts: summary.parts,
                    managed,
                };
            }
            // The database knew of frames the file no longer holds: emptied since.
            Ok(_) if row.frames_written > 0 => {
                p.report.error = Some(format!(
                    "its file holds no audio, though {} frames were on record",
                    row.frames_written
                ));
            }
            Ok(_) => p.report.error = Some(NOTHING_CAPTURED.into()),
            Err(e) => p.report.error = Some(e),
        }
        if let (Step::Close { lost_text }, Some(end_ms)) = (&mut p.step, live_end_ms) {
            *lost_text = Some(stage_silence(store, &p.report, end_ms));
        }
        out.push(p);
    }
    out
}

/// Stages every part of a take (all or none). A managed take is staged in place.
fn stage_parts(
    store: &AudioStore,
    parts: &[PathBuf],
    managed: bool,
) -> Result<Vec<import::StagedImport>, String> {
    parts
        .iter()
        .map(|part| {
            // A managed take was repaired just before: its header is exact.
            stage_part(part, store, managed).map_err(|e| format!("{}: {e}", part.display()))
        })
        .collect()
}

/// The database work of recovery (a writer command's work, inside its savepoint): the
/// prepared takes move into the store and their sessions close. A session that is no longer
/// `recording` (another process recovered it meanwhile) is left alone and not reported.
///
/// A take that cannot be added to the library (the disk is full, the database refuses) keeps
/// its session `recording`, with the reason in its error: it stays where it is and the next
/// recovery tries again. Such a session is reported `failed`.
pub fn commit(
    conn: &Connection,
    store: &AudioStore,
    prepared: Vec<Prepared>,
    live: LiveText,
    effects: &mut Effects,
) -> Result<Vec<Recovered>, StorageError> {
    let mut out = Vec::new();
    for p in prepared {
        let Prepared {
            id,
            stop_reason,
            path,
            mut report,
            progress,
            step,
        } = p;
        let still_open = capture::sql::get_recording_session(conn, id)?
            .is_some_and(|r| r.status == SessionStatus::Recording);
        if !still_open {
            continue;
        }
        match step {
            Step::InUse => {
                out.push(report);
                continue;
            }
            Step::Store {
                staged,
                parts,
                managed,
            } => match staged.and_then(|s| store_parts(conn, store, s)) {
                Ok((imported, placed)) => {
                    effects.on_rollback(move || placed.into_iter().for_each(Placed::undo));
                    report.imported = imported;
                    report.status = RecoveryStatus::Recovered;
                    if managed {
                        effects.after_commit(move || remove_stored(&parts));
                    }
                }
                Err(e) => {
                    let e = format!(
                        "repaired, but not added to the library: {e}; it stays at {} and \
                         `verbatim recover` tries again",
                        path.display()
                    );
                    tracing::warn!(session = %id, "{e}");
                    if let Err(db) = capture::sql::note_session_error(conn, id, &e, now_ms()) {
                        tracing::warn!(session = %id, "cannot note why: {db}");
                    }
                    report.error = Some(e);
                    out.push(report);
                    continue;
                }
            },
            Step::Close { lost_text } => {
                // Its audio is gone, but the live text the user saw is not: kept as a
                // transcript of its own, marked as having no audio of its own.
                if let Some(staged) = lost_text {
                    let why = report.error.clone();
                    match keep_text_of_lost_take(conn, store, id, staged, why, live, effects) {
                        Ok(t) => report.live_transcript = t,
                        Err(e) => {
                            tracing::warn!(session = %id, "cannot keep the live text of a lost take: {e}");
                        }
                    }
                }
            }
        }
        let end = SessionEnd {
            status: match report.status {
                RecoveryStatus::Recovered => SessionStatus::Recovered,
                RecoveryStatus::Failed | RecoveryStatus::InUse => SessionStatus::Failed,
            },
            // A take the recorder closed but could not store keeps its own reason.
            stop_reason: stop_reason.unwrap_or(StopReason::Crash),
            progress,
            error: report.error.clone(),
        };
        let file = report.imported.first();
        capture::sql::close_recording_session(conn, id, &end, file.map(|i| i.row.id), now_ms())?;
        // The live text committed before the crash becomes the recovered take's draft.
        if let Some(i) = file {
            let about = serde_json::json!({ "recovered": true });
            match (live.keep)(conn, id, i.row.id, about) {
                Ok(t) => report.live_transcript = t,
                Err(e) => tracing::warn!(session = %id, "cannot keep the live draft: {e}"),
            }
        }
        match &report.error {
            None => tracing::info!(
                frames = report.frames,
                "recovered the interrupted take {}",
                path.display()
            ),
            Some(e) => tracing::warn!("interrupted take {}: {e}", path.display()),
        }
        out.push(report);
    }
    Ok(out)
}

/// Silence to stand in for the lost audio of a take whose live text ends at `end_ms`, staged
/// for the library (file work, off the writer): a transcript needs an audio file, so it gets
/// silence as long as the text (8 kHz, 8 bits), named "audio lost", whose WAV says so in its
/// comment.
fn stage_silence(
    store: &AudioStore,
    report: &Recovered,
    end_ms: u64,
) -> Result<import::StagedImport, String> {
    let why = report
        .error
        .as_deref()
        .unwrap_or("it could not be recovered");
    let comment = format!(
        "Verbatim: silence standing in for the lost audio of take {} ({}): {why}. \
         Only its live text survives.",
        report.session, report.file_path
    );
    let staging = store.staging_dir();
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let dir = tempfile::tempdir_in(&staging).map_err(|e| e.to_string())?;
    let path = dir.path().join(format!(
        "take {} (audio lost, live text only).wav",
        report.session
    ));
    // Half a second after the last word, so that every segment lies inside it.
    write_silence(&path, end_ms + 500, &comment).map_err(|e| e.to_string())?;
    import::stage(&path, store, &crate::media::ProbeLimits::default()).map_err(|e| e.to_string())
}

/// The live text of a take whose audio could not be recovered (deleted, emptied, its header
/// destroyed), as a transcript of its own over the staged silence ([`stage_silence`]).
/// Nothing is queued for it.
fn keep_text_of_lost_take(
    conn: &Connection,
    store: &AudioStore,
    session: SessionId,
    staged: Result<import::StagedImport, String>,
    why: Option<String>,
    live: LiveText,
    effects: &mut Effects,
) -> Result<Option<TranscriptId>, String> {
    let (imported, placed) = import::commit(conn, store, staged?).map_err(|e| e.to_string())?;
    effects.on_rollback(move || placed.into_iter().for_each(Placed::undo));
    let about = serde_json::json!({ "recovered": true, "audio_lost": why });
    (live.keep)(conn, session, imported.row.id, about).map_err(|e| e.to_string())
}

/// A WAV of `ms` of silence, 8 kHz 8-bit mono, with `comment` in its INFO list (which also
/// makes every such file's content, and so its hash in the library, its own).
fn write_silence(path: &Path, ms: u64, comment: &str) -> std::io::Result<()> {
    use std::io::Write;
    const RATE: u32 = 8_000;
    let frames = u32::try_from(ms * u64::from(RATE) / 1000)
        .map_err(|_| std::io::Error::other("the text is too long for a WAV"))?
        .max(1);
    let mut icmt = comment.as_bytes().to_vec();
    icmt.push(0);
    if icmt.len() % 2 == 1 {
        icmt.push(0);
    }
    let list_len = 4 + 8 + icmt.len() as u32;
    let data_pad = frames % 2;
    let riff_len = 4 + (8 + 16) + (8 + list_len) + (8 + frames + data_pad);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"RIFF")?;
    out.write_all(&riff_len.to_le_bytes())?;
    out.write_all(b"WAVEfmt ")?;
    out.write_all(&16u32.to_le_bytes())?;
    out.write_all(&1u16.to_le_bytes())?; // PCM
    out.write_all(&1u16.to_le_bytes())?; // mono
    out.write_all(&RATE.to_le_bytes())?;
    out.write_all(&RATE.to_le_bytes())?; // bytes a second
    out.write_all(&1u16.to_le_bytes())?; // block align
    out.write_all(&8u16.to_le_bytes())?; // bits
    out.write_all(b"LIST")?;
    out.write_all(&list_len.to_le_bytes())?;
    out.write_all(b"INFOICMT")?;
    out.write_all(&(icmt.len() as u32).to_le_bytes())?;
    out.write_all(&icmt)?;
    out.write_all(b"data")?;
    out.write_all(&frames.to_le_bytes())?;
    // Unsigned 8-bit: 128 is silence.
    let block = [128u8; 8192];
    let mut left = (frames + data_pad) as usize;
    while left > 0 {
        let n = left.min(block.len());
        out.write_all(&block[..n])?;
        left -= n;
    }
    out.flush()?;
    out.get_ref().sync_all()
}

/// Adds a take's staged parts to the library, all or none: inside a savepoint of its own,
/// and what was placed is taken back if one part fails.
fn store_parts(
    conn: &Connection,
    store: &AudioStore,
    staged: Vec<import::StagedImport>,
) -> Result<(Vec<Imported>, Vec<Placed>), String> {
    conn.execute_batch("SAVEPOINT recover_take")
        .map_err(|e| e.to_string())?;
    let mut imported = Vec::new();
    let mut placed = Vec::new();
    let mut failed = None;
    for part in staged {
        let name = part.source.display().to_string();
        match import::commit(conn, store, part) {
            Ok((i, p)) => {
                placed.extend(p);
                imported.push(i);
            }
            Err(e) => {
                failed = Some(format!("{name}: {e}"));
                break;
            }
        }
    }
    let end = if failed.is_some() {
        "ROLLBACK TO recover_take; RELEASE recover_take"
    } else {
        "RELEASE recover_take"
    };
    let ended = conn.execute_batch(end).map_err(|e| e.to_string());
    match (failed, ended) {
        (None, Ok(())) => Ok((imported, placed)),
        (Some(e), _) | (None, Err(e)) => {
            placed.into_iter().for_each(Placed::undo);
            Err(e)
        }
    }
}
