//! Notices: what the features report (imports, jobs, takes, saves, errors) gathered for the
//! notice area.

use super::*;

pub(super) fn collect_notices(
    mut finished: MessageReader<ImportFinished>,
    mut recording: MessageReader<RecordingNotice>,
    mut jobs_done: MessageReader<JobFinished>,
    mut editor_events: MessageReader<crate::editor::EditorEvent>,
    mut state: ResMut<UiState>,
) {
    use crate::editor::EditorEvent as E;
    for e in editor_events.read() {
        match e {
            E::Saved { version, .. } => {
                state.editor.stale = None;
                state.notify_about(
                    Topic::Editor,
                    Level::Info,
                    format!("Saved as version {version}"),
                )
            }
            E::Refused(m) | E::Failed(m) => {
                state.notify_about(Topic::Editor, Level::Error, m.clone())
            }
            E::Stale { base, current, .. } => {
                state.editor.stale = Some((*base, *current));
            }
            E::Discarded => {
                state.notify_about(Topic::Editor, Level::Info, "Unsaved edits discarded")
            }
            E::Exported(p) => state.notify_about(
                Topic::Editor,
                Level::Info,
                format!("Exported {}", p.display()),
            ),
            E::SpeakersFound {
                transcript,
                version,
                speakers,
            } => state.notify_about(
                Topic::Editor,
                Level::Info,
                match (version, speakers.is_empty()) {
                    (_, true) => format!(
                        "No speakers found in transcript #{}: nobody speaks long enough to tell",
                        transcript.0
                    ),
                    (Some(v), false) => format!(
                        "Speakers found in transcript #{}: {} (version {v})",
                        transcript.0,
                        speakers.join(", ")
                    ),
                    (None, false) => format!(
                        "Speakers found in transcript #{}: {}; every segment already had its \
                         speaker",
                        transcript.0,
                        speakers.join(", ")
                    ),
                },
            ),
            E::SpeakersChanged {
                from,
                to,
                merged,
                versions,
            } => state.notify_about(
                Topic::Editor,
                Level::Info,
                format!(
                    "{} {to}{}",
                    if *merged {
                        format!("{from} merged into")
                    } else {
                        format!("{from} renamed")
                    },
                    match versions {
                        0 => String::new(),
                        1 => " (a new version of 1 transcript)".to_owned(),
                        n => format!(" (a new version of each of {n} transcripts)"),
                    }
                ),
            ),
            E::SpeakersCancelled { .. } => state.notify_about(
                Topic::Editor,
                Level::Info,
                "Finding speakers cancelled: nothing was saved",
            ),
            E::VoiceRemembered { name, windows } => state.notify_about(
                Topic::Editor,
                Level::Info,
                format!(
                    "{name}'s voice is remembered (about {:.0} s of speech): later recordings \
                     of it get the name",
                    f64::from(*windows) * crate::speakers::diarize::STEP_MS as f64 / 1000.0
                ),
            ),
            E::Opened { .. } | E::Compared | E::Searched(_) | E::Listed(_) => {}
        }
    }
    for j in jobs_done.read() {
        match (&j.status, &j.error) {
            (JobStatus::Failed, Some(e)) => {
                state.notify_about(
                    Topic::Jobs,
                    Level::Error,
                    format!("Transcription job {} failed: {e}", j.id),
                );
            }
            (JobStatus::Completed, _) => {
                // A job ran with a model: what was said about missing models is over.
                state.clear_topic(Topic::Model);
                state.notify_about(
                    Topic::Jobs,
                    Level::Info,
                    format!(
                        "Transcription job {} done: transcript #{}",
                        j.id,
                        j.transcript.map(|t| t.0).unwrap_or_default()
                    ),
                );
            }
            _ => {}
        }
    }
    for n in recording.read() {
        match n {
            RecordingNotice::StartFailed(e) => {
                state.notify_about(
                    Topic::Recording,
                    Level::Error,
                    format!("Cannot record: {e}"),
                );
            }
            RecordingNotice::DeviceError(e) => {
                state.notify_about(Topic::Recording, Level::Error, format!("Input device: {e}"));
            }
            RecordingNotice::Ended { finished, .. } => {
                let secs = finished.progress.frames_written;
                match &finished.error {
                    Some(e) => state.notify_about(
                        Topic::Recording,
                        Level::Error,
                        format!("Recording stopped: {e}"),
                    ),
                    None => state.notify_about(
                        Topic::Recording,
                        Level::Info,
                        format!("Recording finished ({secs} frames)"),
                    ),
                }
            }
            RecordingNotice::Recovered(Ok(list))
                if list
                    .iter()
                    .any(|r| r.status == crate::capture::recovery::RecoveryStatus::Recovered) =>
            {
                let n = list
                    .iter()
                    .filter(|r| r.status == crate::capture::recovery::RecoveryStatus::Recovered)
                    .count();
                state.notify(
                    Level::Info,
                    format!("Recovered {n} interrupted recording(s) into the library"),
                );
            }
            RecordingNotice::Recovered(Err(e)) => {
                state.notify(
                    Level::Error,
                    format!("Cannot recover interrupted recordings: {e}"),
                );
            }
            RecordingNotice::Recovered(Ok(_)) => {}
        }
    }
    for f in finished.read() {
        let level = if f.result.is_ok() {
            Level::Info
        } else {
            Level::Error
        };
        state.notify_about(Topic::Import, level, f.describe());
    }
    for e in crate::schedule::take_system_errors() {
        state.notify(Level::Error, e);
    }
}
