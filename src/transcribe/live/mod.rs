//! Live transcription while recording.
//!
//! The policy is [`LivePolicy::Pauses`]: every `step` (1 s) of new audio, the unconfirmed
//! part of the take (the buffer, from the last trim point to what is on disk) is transcribed
//! once, prompted with the committed text before it. A word is committed, once, with its
//! word times, when whisper heard `stable_after` (1.2 s) of audio after it or when two
//! consecutive hypotheses agree on it (LocalAgreement-2, [`super::agreement`]); when the
//! engine's VAD hears a pause of `pause` (0.5 s) at the buffer's end the utterance is
//! committed whole and the next buffer starts after it. The rest is the tail, shown apart.
//! The buffer is cut after committed words once it is longer than `window` (10 s), and each
//! step reads up to the newest audio (nothing queues when the worker falls behind), so a
//! step's work stays bounded on a long take and a busy machine. When the take stops, one
//! last step reads it to its end and its tail is committed: the live draft covers the whole
//! take. LocalAgreement-2 alone and whisper.cpp's `stream` are kept as baselines.
//!
//! Live steps run a q8_0 copy of the chosen model, made once ([`model`]): a quarter less
//! CPU and words shown sooner; the whole-take pass runs the chosen model.
//!
//! The audio comes from the take file the capture writer keeps on disk (its header is never
//! more than 250 ms behind), read by a second worker process, so capture is never slowed and
//! file jobs keep their own worker. The recorder panel shows the committed text, the tail
//! and the lag.
//!
//! Each committed piece is kept in the database as it is committed ([`super::draft`]), so a
//! crash loses none of it. When the take ends and is stored, the draft becomes version 1 of
//! the take's transcript (source `live`), and a normal file job over the whole recording is
//! queued into that transcript: every captured sample is transcribed again, and that pass
//! becomes version 2. Clicking a committed line while recording bookmarks it.

use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::agreement::Agreement;
use super::draft;
use super::jobs::{TranscribeRequest, TranscribeSettings};
use super::protocol::{FromWorker, JobSpec, Segment, Word};
use super::worker::{EngineEvent, ProcessTranscriber, WorkerCommand};
use super::{Transcriber, backend, catalog};
use crate::capture::plugin::{RecordingSession, TakeStats, is_active};
use crate::capture::recovery::LiveText;
use crate::library::{AudioFile, Importer};
use crate::storage::ids::SessionId;
use crate::storage::ids::TranscriptId;
use crate::storage::now_ms;
use crate::storage::plugin::{Database, Replies};
pub mod model;
pub mod sql;
mod transcript;

pub use transcript::{Committed, LiveTranscript};
use transcript::{Running, Step};

use crate::schedule::{AppSystems, Feature};
use crate::storage::writer::unanswered;
use sql::Bookmark;

/// Which text a live step commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LivePolicy {
    /// One decode per step (after SimulStreaming's AlignAtt and WhisperLive's endpointing):
    /// a word is committed once whisper has heard [`LiveSettings::stable_after`] of audio
    /// after it (or two consecutive hypotheses agree on it, as below), and when the VAD hears
    /// the speaker stop for [`LiveSettings::pause`] the utterance is committed whole and the
    /// buffer starts afresh after it. So a word's lag is about `stable_after` plus a step,
    /// not two steps, and the buffer holds one utterance at most: a step's cost does not
    /// grow with the take or with a busy machine (each step reads up to the newest audio;
    /// nothing queues).
    #[default]
    Pauses,
    /// LocalAgreement-2 ([`super::agreement`]): what two consecutive hypotheses of the
    /// growing buffer agree on (the policy before `Pauses`, kept as the benchmark's
    /// baseline).
    Agreement,
    /// whisper.cpp's `stream` example (the policy before LocalAgreement, kept as the
    /// benchmark's baseline): the last `window` every `step`; the segments that end before
    /// the next window starts are final.
    Stream,
}

/// The user turns live captions on or off (the recorder's switch); takes from then on follow.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSwitch(pub bool);

/// How live transcription runs.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct LiveSettings {
    pub enabled: bool,
    pub policy: LivePolicy,
    /// New audio between two steps.
    pub step: Duration,
    /// The buffer is trimmed once it is longer than this.
    pub window: Duration,
    /// `Pauses`: a word this long before the buffer's end is stable.
    pub stable_after: Duration,
    /// `Pauses`: this much silence (by the VAD) at the buffer's end ends the utterance.
    pub pause: Duration,
    /// Live steps run a q8_0 copy of an f16 or f32 model ([`model`]); off runs the model
    /// as it is (the benchmark's baseline).
    pub quantized_copy: bool,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            policy: LivePolicy::Pauses,
            step: Duration::from_secs(1),
            window: Duration::from_secs(10),
            stable_after: Duration::from_millis(1_200),
            pause: Duration::from_millis(500),
            quantized_copy: true,
        }
    }
}

impl LiveSettings {
    /// LocalAgreement-2 as it ran before `Pauses` (the benchmark's baseline).
    pub fn agreement_baseline() -> Self {
        Self {
            enabled: true,
            policy: LivePolicy::Agreement,
            window: Duration::from_secs(15),
            ..Self::default()
        }
    }

    /// The `stream` baseline as it ran before: 10 s every 3 s.
    pub fn stream_baseline() -> Self {
        Self {
            enabled: true,
            policy: LivePolicy::Stream,
            step: Duration::from_secs(3),
            window: Duration::from_secs(10),
            ..Self::default()
        }
    }
}

/// The least new audio a step transcribes (a shorter buffer holds no word yet).
const MIN_BUFFER_MS: u64 = 1000;
/// What is on disk lags the capture by up to the header interval.
const DISK_LAG_MS: u64 = 250;

/// The second worker, for live windows only.
#[derive(Resource)]
pub struct LiveEngine(pub Box<dyn Transcriber>);

/// The live worker's process id once it is up (its CPU use is measured from it).
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LiveWorker {
    pub pid: Option<u32>,
}

/// Live transcription; needs [`super::TranscribePlugin`].
pub struct LivePlugin {
    pub worker: Option<WorkerCommand>,
}

impl Plugin for LivePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<LiveSettings>()
            // Recovery keeps a crashed take's live text through these.
            .insert_resource(LiveText {
                end_ms: sql::live_text_end_ms,
                keep: |conn, session, file, about| {
                    draft::save(conn, session, file, about, false, now_ms())
                },
            })
            .init_resource::<LiveWorker>()
            .init_resource::<model::LiveModel>()
            .init_resource::<Replies<DraftSaved>>()
            .init_resource::<Replies<StrandedReply>>()
            .init_resource::<Stranded>()
            .add_systems(Startup, adopt_stranded);
        if !app.world().contains_resource::<LiveEngine>() {
            match self.worker.clone().map_or_else(WorkerCommand::current, Ok) {
                Ok(cmd) => {
                    app.insert_resource(LiveEngine(Box::new(ProcessTranscriber::new(cmd))));
                }
                Err(e) => tracing::error!("live transcription is unavailable: {e}"),
            }
        }
        app.add_message::<BookmarkLive>()
            .add_message::<LiveSwitch>()
            .add_systems(
                Update,
                (
                    (ingest, draft_saved, take_stranded)
                        .chain()
                        .in_set(AppSystems::Ingest.of(Feature::Live)),
                    (model::prepare_live_model, dispatch)
                        .chain()
                        .in_set(AppSystems::Dispatch.of(Feature::Live)),
                    (switch, bookmark, persist, save_draft)
                        .chain()
                        .in_set(AppSystems::Apply.of(Feature::Live)),
                ),
            );
    }
}

/// What the start's look for stranded live text found (`None`: not answered yet).
#[derive(Resource, Debug, Default)]
pub struct Stranded(pub Option<Result<Vec<draft::Adopted>, String>>);

struct StrandedReply(Result<Vec<draft::Adopted>, String>);

/// At start, like the recovery of interrupted takes: the takes whose process died between
/// stopping and keeping their live text get their draft and full pass now
/// ([`draft::adopt_stranded`]).
fn adopt_stranded(
    capture: Res<crate::capture::plugin::CaptureSettings>,
    settings: Res<TranscribeSettings>,
    db: Option<ResMut<Database>>,
    replies: Res<Replies<StrandedReply>>,
) {
    let (true, Some(mut db)) = (capture.recover_on_start, db) else {
        return;
    };
    let data_dir = db
        .path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let model = settings.default_model.clone();
    db.write(
        move |c, _| {
            draft::adopt_stranded(
                c,
                |id| crate::storage::runner::is_alive(&data_dir, id),
                &model,
                now_ms(),
            )
            .map_err(|e| e.to_string())
        },
        replies.to(StrandedReply),
    );
}

fn take_stranded(
    replies: Res<Replies<StrandedReply>>,
    mut stranded: ResMut<Stranded>,
    mut changed: MessageWriter<crate::library::transcripts::TranscriptsChanged>,
) {
    for StrandedReply(result) in replies.drain() {
        match &result {
            Ok(list) if !list.is_empty() => {
                changed.write(crate::library::transcripts::TranscriptsChanged);
            }
            Ok(_) => {}
            Err(e) => tracing::error!("cannot keep the live text of interrupted takes: {e}"),
        }
        stranded.0 = Some(result);
    }
}

/// A live step's decoding: the user's, primed with the committed text (`prompt`).
fn step_params(
    base: &super::DecodeParams,
    policy: LivePolicy,
    last: bool,
    prompt: String,
) -> super::DecodeParams {
    let mut params = base.clone();
    if policy == LivePolicy::Pauses {
        // One decode per step: a hypothesis that fails whisper's tests is not decoded
        // again over the full window and at higher temperatures (a short fresh buffer
        // took 2.6 s that way); the next step hears it again with more audio. The last
        // step has no next step: it decodes with every fallback, as the full pass does
        // (one failed decode there would lose the take's last words).
        if !last {
            params.temperature_fallback = false;
            params.single_decode = true;
        }
        // Words are stable by where they end: the alignment heads' times (DTW), not the
        // token timestamps, which drift by a second and more near a buffer's end.
        params.word_timing = super::WordTiming::Dtw;
    }
    if !prompt.is_empty() {
        params.initial_prompt = Some(match &params.initial_prompt {
            Some(p) => format!("{p} {prompt}"),
            None => prompt,
        });
    }
    params
}

/// Live job ids are negative, so they never meet a database job id.
fn next_live_id() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static N: AtomicI64 = AtomicI64::new(-1);
    N.fetch_sub(1, Ordering::Relaxed)
}

fn recorded_ms(s: &RecordingSession, stats: &TakeStats) -> u64 {
    stats.0.frames_written * 1000 / u64::from(s.format.sample_rate.max(1))
}

fn dispatch(
    mut commands: Commands,
    live: Res<LiveSettings>,
    settings: Res<TranscribeSettings>,
    engine: Option<ResMut<LiveEngine>>,
    mut sessions: Query<(
        Entity,
        &RecordingSession,
        &TakeStats,
        Option<&mut LiveTranscript>,
    )>,
    // Where a stopped take is stored: the library's files and its store.
    (files, importer): (Query<&AudioFile>, Option<Res<Importer>>),
    live_model: Res<model::LiveModel>,
) {
    let Some(mut engine) = engine else { return };
    if !live.enabled {
        return;
    }
    for (entity, session, stats, transcript) in &mut sessions {
        let active = is_active(session);
        let Some(mut t) = transcript else {
            if active {
                commands.entity(entity).insert(LiveTranscript {
                    next_end_ms: live.step.as_millis() as u64,
                    ..Default::default()
                });
            }
            continue;
        };
        if t.finished || t.running.is_some() || engine.0.busy() {
            continue;
        }
        let recorded = recorded_ms(session, stats);
        // After the stop the take is whole on disk: one last step reads it to the end.
        let last = !active;
        if active && recorded < t.next_end_ms {
            continue;
        }
        let model = match catalog::resolve(&settings.models_dir, &settings.default_model) {
            // Its q8_0 copy once that is made (the whole-take pass runs the model itself).
            Ok(m) => live_model.for_step(&m),
            Err(e) => {
                if t.error.is_none() {
                    t.error = Some(e.to_string());
                }
                if last {
                    t.finished = true;
                }
                continue;
            }
        };
        let end = if last {
            recorded
        } else {
            recorded.saturating_sub(DISK_LAG_MS)
        };
        let start = match live.policy {
            LivePolicy::Pauses | LivePolicy::Agreement => t.agreement.buffer_start_ms(),
            LivePolicy::Stream => end.saturating_sub(live.window.as_millis() as u64),
        };
        if end < start + MIN_BUFFER_MS && !last {
            continue;
        }
        // A stopped take moves into the library (stored in place): read it there.
        let audio = if session.path.exists() {
            session.path.clone()
        } else {
            let stored = session.audio_file.and_then(|id| {
                let row = &files.iter().find(|f| f.0.id == id)?.0;
                Some(importer.as_ref()?.store().absolute(&row.stored_path))
            });
            match stored {
                Some(p) => p,
                // Being stored right now: the next frame knows where.
                None if session.store_error.is_none() => continue,
                None => session.path.clone(),
            }
        };
        let prompt = match live.policy {
            LivePolicy::Pauses | LivePolicy::Agreement => t.agreement.prompt(),
            LivePolicy::Stream => String::new(),
        };
        let params = step_params(&settings.params, live.policy, last, prompt);
        t.ran_with = model.file_name().map(|n| n.to_string_lossy().into_owned());
        let job = next_live_id();
        let spec = JobSpec {
            job,
            audio,
            model,
            params,
            vad_model: settings.vad_path(),
            gpu: settings.gpu,
            // Capture and the window keep their cores.
            threads: settings
                .threads
                .unwrap_or_else(|| backend::whisper_threads(settings.reserved_cores + 1)),
            adapt_threads: settings.threads.is_none(),
            vad_threads: 1,
            spans_ms: vec![(start, end.max(start + 1))],
        };
        match engine.0.submit(spec) {
            Ok(()) => {
                t.running = Some(Running {
                    job,
                    start_ms: start,
                    end_ms: end,
                    started: Instant::now(),
                    segments: Vec::new(),
                    last,
                });
            }
            Err(e) => {
                t.error = Some(e.to_string());
                if last {
                    t.finished = true;
                }
            }
        }
    }
}

fn ingest(
    engine: Option<ResMut<LiveEngine>>,
    live: Res<LiveSettings>,
    mut transcripts: Query<(&mut LiveTranscript, &RecordingSession, &TakeStats)>,
    mut worker: ResMut<LiveWorker>,
) {
    let Some(mut engine) = engine else { return };
    while let Some(event) = engine.0.poll() {
        if let EngineEvent::Message(FromWorker::Ready { pid, .. }) = &event {
            worker.pid = Some(*pid);
        }
        let job = match &event {
            EngineEvent::Message(m) => m.job(),
            EngineEvent::Crashed { job, .. } => *job,
        };
        let Some(job) = job else { continue };
        let Some((mut t, session, stats)) = transcripts
            .iter_mut()
            .find(|(t, _, _)| t.running.as_ref().is_some_and(|r| r.job == job))
        else {
            continue;
        };
        match event {
            EngineEvent::Message(FromWorker::Segment { segment, .. }) => {
                if let Some(r) = t.running.as_mut() {
                    r.segments.push(segment);
                }
            }
            EngineEvent::Message(FromWorker::Done { stats: done, .. }) => {
                let Some(r) = t.running.take() else { continue };
                tracing::trace!(
                    start_ms = r.start_ms,
                    end_ms = r.end_ms,
                    "hypothesis: {}",
                    r.segments
                        .iter()
                        .map(|s| s.text.trim())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                let step = Step {
                    recorded_ms: recorded_ms(session, stats),
                    start_ms: r.start_ms,
                    end_ms: r.end_ms,
                    last: r.last,
                    segments: r.segments,
                    speech_ms: done.speech_ms,
                    speech_regions: done.speech_regions,
                };
                t.apply(step, &live);
                t.steps += 1;
                t.next_end_ms = r.end_ms + live.step.as_millis() as u64;
                t.error = None;
                tracing::debug!(
                    took_ms = r.started.elapsed().as_millis() as u64,
                    // The worker's own time for the step (the rest is the hand-over).
                    worker_ms = done.processing_ms,
                    start_ms = r.start_ms,
                    end_ms = r.end_ms,
                    committed = t.committed_words().len(),
                    tail = %t.tail_text(),
                    "live step done"
                );
            }
            EngineEvent::Message(FromWorker::Failed { error, .. })
            | EngineEvent::Crashed { message: error, .. } => {
                if let Some(r) = t.running.take() {
                    t.next_end_ms = r.end_ms + live.step.as_millis() as u64;
                    if r.last {
                        // The take could not be read to its end: the tail is what there is.
                        let step = Step {
                            recorded_ms: recorded_ms(session, stats),
                            start_ms: r.start_ms,
                            end_ms: r.end_ms,
                            last: true,
                            segments: Vec::new(),
                            speech_ms: 0,
                            speech_regions: None,
                        };
                        t.apply(step, &live);
                    }
                }
                t.error = Some(error);
            }
            EngineEvent::Message(_) => {}
        }
    }
}

/// Intent: mark committed piece `piece` of the session entity's live text.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookmarkLive {
    pub session: Entity,
    pub piece: usize,
}

fn switch(mut switches: MessageReader<LiveSwitch>, mut live: ResMut<LiveSettings>) {
    if let Some(LiveSwitch(on)) = switches.read().last()
        && live.enabled != *on
    {
        live.enabled = *on;
    }
}

fn bookmark(mut intents: MessageReader<BookmarkLive>, mut live: Query<&mut LiveTranscript>) {
    for i in intents.read() {
        if let Ok(mut t) = live.get_mut(i.session)
            && t.bookmark(i.piece)
        {
            tracing::info!(piece = i.piece, "bookmarked a live line");
        }
    }
}

/// Sends newly committed pieces and bookmarks to the database as they appear, so a crash
/// loses none of them (the writer commits each frame's batch).
fn persist(
    mut sessions: Query<(&RecordingSession, &mut LiveTranscript)>,
    db: Option<ResMut<Database>>,
) {
    let Some(mut db) = db else { return };
    for (session, mut t) in &mut sessions {
        let Some(id) = session.session else { continue };
        if t.persisted == t.committed.len() && t.marks.is_empty() {
            continue;
        }
        let t = &mut *t;
        for c in &t.committed[t.persisted..] {
            let piece = draft::piece_row(&c.piece, c.at_ms);
            db.queue(unanswered(
                move || format!("cannot keep the live text of session {id}"),
                move |c| sql::insert_live_piece(c, id, &piece, now_ms()),
            ));
        }
        t.persisted = t.committed.len();
        for i in t.marks.drain(..) {
            let Some(c) = t.committed.get(i) else {
                continue;
            };
            let mark = Bookmark {
                start_ms: c.piece.start_ms,
                end_ms: c.piece.end_ms,
                label: c.piece.text.clone(),
            };
            db.queue(unanswered(
                move || format!("cannot keep a bookmark of session {id}"),
                move |c| sql::insert_session_bookmark(c, id, &mark, now_ms()),
            ));
        }
    }
}

/// The sessions whose take or live text changed this frame: what `save_draft` waits for (the
/// take stopped and stored, the last live step in) lives in these two components, in an order
/// that depends on the take.
type ChangedLive = Or<(Changed<RecordingSession>, Changed<LiveTranscript>)>;

/// A finished, stored take with live text: its draft becomes version 1 of the take's
/// transcript ([`draft_saved`] then queues the whole-file pass as version 2). Looks only at
/// sessions that changed, so it reacts in the frame the last condition comes true.
fn save_draft(
    mut sessions: Query<(&RecordingSession, &mut LiveTranscript), ChangedLive>,
    db: Option<ResMut<Database>>,
    live: Res<LiveSettings>,
    settings: Res<TranscribeSettings>,
    replies: Res<Replies<DraftSaved>>,
    mut requests: MessageWriter<TranscribeRequest>,
) {
    let mut db = db;
    for (session, mut t) in &mut sessions {
        if t.draft_asked || !t.finished || is_active(session) {
            continue;
        }
        let Some(audio) = session.audio_file else {
            continue;
        };
        t.draft_asked = true;
        match (session.session, db.as_mut()) {
            (Some(id), Some(db)) => {
                let about = serde_json::json!({
                    "policy": format!("{:?}", live.policy).to_lowercase(),
                    "step_ms": live.step.as_millis() as u64,
                    "window_ms": live.window.as_millis() as u64,
                    "model": settings.default_model,
                    "ran_with": t.ran_with,
                    "steps": t.steps,
                });
                // Live ran (it heard nothing): an empty draft says so.
                let keep_empty = t.steps > 0;
                db.write(
                    move |c, _| {
                        draft::save(c, id, audio, about, keep_empty, now_ms())
                            .map_err(|e| e.to_string())
                    },
                    replies.to(move |result| DraftSaved {
                        session: id,
                        result,
                    }),
                );
            }
            // No session row to keep a draft with: the whole-file pass alone.
            _ => queue_final_pass(&mut t, audio, None, &mut requests),
        }
    }
}

fn queue_final_pass(
    t: &mut LiveTranscript,
    audio: crate::storage::ids::AudioFileId,
    into: Option<TranscriptId>,
    requests: &mut MessageWriter<TranscribeRequest>,
) {
    if t.final_pass_queued {
        return;
    }
    t.final_pass_queued = true;
    requests.write(TranscribeRequest {
        audio_file: audio,
        model: None,
        gpu: None,
        params: None,
        token: u64::MAX - audio.0 as u64,
        into,
        redo: None,
        new_transcript: false,
    });
    tracing::info!(audio = %audio, ?into, "recording stored: queued the full transcription pass");
}

/// The answer to keeping a take's live draft (`None`: there was no live text to keep).
struct DraftSaved {
    session: SessionId,
    result: Result<Option<TranscriptId>, String>,
}

/// The draft is version 1: the whole-file pass goes into the same transcript.
fn draft_saved(
    replies: Res<Replies<DraftSaved>>,
    mut sessions: Query<(&RecordingSession, &mut LiveTranscript)>,
    mut requests: MessageWriter<TranscribeRequest>,
    mut changed: MessageWriter<crate::library::transcripts::TranscriptsChanged>,
) {
    for DraftSaved { session, result } in replies.drain() {
        let Some((s, mut t)) = sessions
            .iter_mut()
            .find(|(s, _)| s.session == Some(session))
        else {
            continue;
        };
        let Some(audio) = s.audio_file else { continue };
        let into = match result {
            Ok(id) => {
                if id.is_some() {
                    changed.write(crate::library::transcripts::TranscriptsChanged);
                }
                t.transcript = id;
                id
            }
            Err(e) => {
                tracing::error!(session = %session, "the live draft was not kept: {e}");
                t.error = Some(format!("the live draft was not kept: {e}"));
                None
            }
        };
        queue_final_pass(&mut t, audio, into, &mut requests);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn a_step_decodes_once_but_the_last_step_with_every_fallback() {
        let base = super::super::DecodeParams::default();
        let step = step_params(&base, LivePolicy::Pauses, false, "Ask not".into());
        assert!(step.single_decode && !step.temperature_fallback);
        assert_eq!(step.word_timing, super::super::WordTiming::Dtw);
        assert_eq!(step.initial_prompt.as_deref(), Some("Ask not"));
        // Nothing hears the last step's audio again: a failed decode there would lose the
        // take's last words.
        let last = step_params(&base, LivePolicy::Pauses, true, String::new());
        assert!(!last.single_decode && last.temperature_fallback);
        assert_eq!(last.initial_prompt, None);
        // The user's prompt comes first; a user who turned the fallback off keeps it off.
        let mine = super::super::DecodeParams {
            initial_prompt: Some("Dashwood".into()),
            temperature_fallback: false,
            ..base.clone()
        };
        let last = step_params(&mine, LivePolicy::Pauses, true, "Mr. John".into());
        assert!(!last.temperature_fallback);
        assert_eq!(last.initial_prompt.as_deref(), Some("Dashwood Mr. John"));
        // The baselines decode as the user asked.
        let agreement = step_params(&base, LivePolicy::Agreement, false, String::new());
        assert_eq!(agreement, base);
    }
}
