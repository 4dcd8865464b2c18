//! A finished job's transcript saved: a new transcript, a new version of the one it was
//! meant for, or spans repaired on the version current when it is written (never on a stale
//! base).

use bevy::prelude::*;

use super::sql::{self, Redo};
use super::{JobStatus, JobsReply, TranscriptionJob};
use crate::storage::ids::{TranscriptId, VersionId};
use crate::storage::plugin::{Database, Replies};
use crate::storage::{StorageError, now_ms};
use crate::transcript;
use crate::transcript::Segment;
use crate::transcript::retranscribe;
use crate::transcript::sql::{NewVersion, VersionSource};

pub(super) fn save_transcript(
    db: &mut Option<ResMut<Database>>,
    replies: &Replies<JobsReply>,
    job: &mut TranscriptionJob,
) {
    let Some(db) = db.as_mut() else { return };
    let segments: Vec<Segment> = job
        .segments
        .iter()
        .map(crate::transcribe::protocol::Segment::stored)
        .collect();
    let redo = job.redo.clone();
    let version = new_version(job);
    let mut update = job.update();
    update.status = JobStatus::Completed;
    let (id, audio_file, into, title) = (job.id, job.audio_file, job.into, job.audio_name.clone());
    // The transcript, its version and segments (FTS follows by trigger), and the job marked
    // completed, in one savepoint.
    db.write(
        move |c, _| {
            let now = now_ms();
            // The transcript it was meant for may have been deleted since: then a new one.
            let into =
                into.filter(|t| matches!(transcript::sql::get_transcript(c, *t), Ok(Some(_))));
            let stored = match (into, redo) {
                // A span again: the version it repairs (named, or the transcript's current
                // one when this job is saved: spans queued one after another each repair
                // what the one before made) with exactly that span replaced.
                (Some(t), Some(r)) => repair(c, t, &r, version, segments, now),
                (None, Some(_)) => Err(StorageError::NotFound(
                    "the transcript this span belonged to".into(),
                )),
                (Some(t), None) => transcript::sql::add_version(c, t, &version, &segments, now)
                    .map(|(v, _)| (t, v)),
                (None, None) => transcript::sql::create_transcript(
                    c,
                    audio_file,
                    Some(id),
                    Some(&title),
                    &version,
                    &segments,
                    now,
                ),
            };
            stored
                .and_then(|ids| sql::update_job(c, id, &update, now).map(|_| ids))
                .map_err(|e| e.to_string())
        },
        replies.to(move |result| JobsReply::Saved { job: id, result }),
    );
}

/// The version a finished job makes: a model version, or a repair of spans with a note
/// saying which; its parameters (the job, the decoding, the backend, the statistics) kept as
/// JSON.
fn new_version(job: &TranscriptionJob) -> NewVersion {
    let stats = job.stats.clone().unwrap_or_default();
    let params = serde_json::json!({
        // Which job made the version (its report finds it by this, whatever else was saved
        // around it).
        "job": job.id.0,
        "decode": job.params,
        "gpu": job.gpu,
        "backend": job.backend,
        "backend_note": job.backend_note,
        "threads": job.threads,
        "language_detected": stats.language,
        "stats": stats,
    });
    let mut params = params;
    let mut version = match &job.redo {
        Some(r) => {
            params["retranscribe"] = serde_json::json!({
                "from_ms": r.from_ms,
                "to_ms": r.to_ms,
                "based_on_version_id": r.based_on,
            });
            if !r.batch.is_empty() {
                params["retranscribe"]["spans"] = serde_json::json!(r.batch);
            }
            let mut v = NewVersion::new(VersionSource::Retranscribe);
            v.based_on = r.based_on;
            let clock = |ms| crate::transcript::export::timestamp(ms, '.');
            v.note = Some(match r.batch.len() {
                0 => format!(
                    "{} to {} transcribed again",
                    clock(r.from_ms),
                    clock(r.to_ms)
                ),
                n => format!(
                    "{n} spans from {} to {} transcribed again",
                    clock(r.from_ms),
                    clock(r.to_ms)
                ),
            });
            v
        }
        None => NewVersion::new(VersionSource::Model),
    };
    version.model = Some(job.model.clone());
    version.params_json = Some(params.to_string());
    version
}

/// Spans transcribed again, written into transcript `t` on the version that is current now
/// (an edit, an import or another job may have saved one since the job was queued): the
/// spans are re-applied onto it when their stretch still holds what the job repaired, and
/// the job is refused, saying so, when that stretch was changed.
fn repair(
    c: &rusqlite::Connection,
    t: TranscriptId,
    r: &Redo,
    version: NewVersion,
    segments: Vec<Segment>,
    now: i64,
) -> Result<(TranscriptId, VersionId), StorageError> {
    // Written on the version that is current now (an edit, an import or
    // another job may have saved one since this job was queued): the span is
    // re-applied onto it when its stretch still holds what the job repaired,
    // and the job is refused, saying so, when that stretch was changed.
    let current = transcript::sql::current_version(c, t)
        .and_then(|v| v.ok_or_else(|| StorageError::NotFound("the version to repair".into())));
    let spans = r.each();
    let base = current.and_then(|cur| match r.based_on {
        Some(asked) if asked != cur.id => {
            let inside = |v: VersionId| -> Result<Vec<Segment>, StorageError> {
                Ok(transcript::sql::segments(c, v)?
                    .into_iter()
                    .map(Segment::from)
                    .filter(|s| spans.iter().any(|&(a, b)| s.start_ms < b && s.end_ms > a))
                    .collect())
            };
            if inside(asked)? == inside(cur.id)? {
                Ok(cur.id)
            } else {
                let clock = |ms| crate::transcript::export::timestamp(ms, '.');
                let what = match spans.len() {
                    1 => format!("{} to {}", clock(r.from_ms), clock(r.to_ms)),
                    n => format!(
                        "one of the {n} spans from {} to {}",
                        clock(r.from_ms),
                        clock(r.to_ms)
                    ),
                };
                Err(StorageError::Invalid(format!(
                    "{what} was changed in version {} while this job ran; \
                     its text was not applied (transcribe again on version {})",
                    cur.number, cur.number
                )))
            }
        }
        _ => Ok(cur.id),
    });
    base.and_then(|v| {
        let base: Vec<Segment> = transcript::sql::segments(c, v)?
            .into_iter()
            .map(Segment::from)
            .collect();
        let spliced = retranscribe::splice_all(&base, &spans, segments);
        let mut version = version;
        // Based on the version it was written on (the one asked for, or the
        // current one it was re-applied onto).
        if version.based_on != Some(v) {
            version.based_on = Some(v);
            let mut params: serde_json::Value = version
                .params_json
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default();
            params["retranscribe"]["based_on_version_id"] = v.0.into();
            version.params_json = Some(params.to_string());
        }
        transcript::sql::add_version(c, t, &version, &spliced, now).map(|(v, _)| (t, v))
    })
}
