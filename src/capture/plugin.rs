//! The ECS side of capture. A take is a `RecordingSession` entity; its live analysis (levels,
//! spectrum, spectrogram, waveform) are components on it. One system drains the recorder's
//! events (Ingest), one drains its analysis ring (Analyze), one acts on record commands
//! (Dispatch); the recorder's threads do the rest.

use std::path::PathBuf;
use std::time::Instant;

use bevy::prelude::*;
use crossbeam_channel::Receiver;

use super::devices::{self, InputDevice};
pub use super::monitors::{Levels, LiveSpectrum, Spectrogram, Waveform};
use super::recorder::{Finished, Progress, Recorder, RecorderConfig, RecorderEvent, TakeStored};
use super::recovery::{LiveText, Recovered};
use super::stream::{Source, StreamFormat};
use super::take::new_take_path;
use crate::dsp::meter::{self, Meter};
use crate::dsp::spectrum::SpectrumAnalyzer;
use crate::library::FilesStored;
use crate::library::import::AudioStore;
use crate::schedule::{AppSystems, Feature};
use crate::storage::ids::{AudioFileId, SessionId};
use crate::storage::plugin::{Database, Replies};

/// Capture settings (the recorder panel and the CLI change them).
#[derive(Resource, Debug, Clone)]
pub struct CaptureSettings {
    /// `None`: the default input device. Otherwise what `Source::parse` reads.
    pub device: Option<String>,
    /// Spectrum FFT size (a power of two, 256..=32768).
    pub fft_size: usize,
    /// Spectrogram bands (texture height) and columns kept (texture width).
    pub spectrogram_bands: usize,
    pub spectrogram_columns: usize,
    /// Repair interrupted takes when the app starts.
    pub recover_on_start: bool,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        Self {
            device: None,
            fft_size: SpectrumAnalyzer::DEFAULT_SIZE,
            spectrogram_bands: 128,
            spectrogram_columns: 512,
            recover_on_start: true,
        }
    }
}

/// Ask the recorder to do something.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum RecordCommand {
    Start(RecordRequest),
    Pause,
    Resume,
    Stop,
    /// List the input devices again (in the background).
    RefreshDevices,
    /// Record the next takes from this input (`None`: the default one); what
    /// `Source::parse` reads.
    SelectDevice(Option<String>),
}

/// A take to start.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordRequest {
    /// `None`: the device in [`CaptureSettings`].
    pub source: Option<Source>,
    /// Write the take here instead of the data directory's `recordings/`.
    pub out: Option<PathBuf>,
    /// Stop after this many seconds.
    pub seconds: Option<f64>,
    /// Seconds of ring between the callback and the writer (`None`: 4 s).
    pub ring_seconds: Option<f32>,
    /// Fault injection for tests (see `RecorderConfig::stall_writer`).
    #[doc(hidden)]
    pub stall_writer: Option<(f64, std::time::Duration)>,
}

/// Something about recording the user must hear about.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum RecordingNotice {
    /// A take could not start.
    StartFailed(String),
    /// The device reported an error; the take goes on.
    DeviceError(String),
    /// A take ended (how, and any error).
    Ended { entity: Entity, finished: Finished },
    /// Interrupted takes were repaired at start (or by `verbatim recover`).
    Recovered(Result<Vec<Recovered>, String>),
}

/// Where the take is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeState {
    /// The device is being opened off the frame (and the session row made).
    Starting,
    Recording,
    Paused,
    /// Stop asked; the writer is writing out the ring and closing the file.
    Stopping,
    Finished,
}

/// A recording session: the take being (or just) recorded.
#[derive(Component, Debug)]
pub struct RecordingSession {
    pub(super) recorder: Option<Recorder>,
    pub format: StreamFormat,
    pub path: PathBuf,
    pub session: Option<SessionId>,
    pub state: TakeState,
    pub started: Instant,
    pub finished: Option<Finished>,
    /// The library entry once the finished take is stored.
    pub audio_file: Option<AudioFileId>,
    /// Why the finished take could not be stored (it stays recoverable where it is).
    pub store_error: Option<String>,
}

impl RecordingSession {
    /// Seconds written to the take.
    pub fn seconds(&self, stats: &TakeStats) -> f64 {
        stats.0.frames_written as f64 / f64::from(self.format.sample_rate.max(1))
    }
}

/// The writer's latest counters.
#[derive(Component, Debug, Clone, Default)]
pub struct TakeStats(pub Progress);

/// Input devices as last listed.
#[derive(Resource, Debug, Default)]
pub struct InputDevices {
    pub list: Vec<InputDevice>,
    pub listed: bool,
    pending: Option<Receiver<Vec<InputDevice>>>,
}

impl InputDevices {
    pub fn refreshing(&self) -> bool {
        self.pending.is_some()
    }
}

/// Adds capture to an app: the systems, settings, and the recovery of interrupted takes.
pub struct CapturePlugin {
    pub store: AudioStore,
}

#[derive(Resource, Debug, Clone)]
struct CaptureStore(AudioStore);

impl Plugin for CapturePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<CaptureSettings>()
            .init_resource::<InputDevices>()
            .insert_resource(CaptureStore(self.store.clone()))
            .add_message::<RecordCommand>()
            .add_message::<RecordingNotice>()
            .init_resource::<Replies<TakeStored>>()
            .init_resource::<Replies<RecoveryReply>>()
            .init_resource::<Replies<RecoveryPlan>>()
            .add_systems(Startup, recover_on_start)
            .add_systems(
                Update,
                (finish_starting, drain_recorders, collect_devices)
                    .chain()
                    .in_set(AppSystems::Ingest.of(Feature::Capture)),
            )
            .add_systems(
                Update,
                analyze.in_set(AppSystems::Analyze.of(Feature::Capture)),
            )
            .add_systems(
                Update,
                handle_commands.in_set(AppSystems::Dispatch.of(Feature::Capture)),
            )
            .add_systems(
                Update,
                (run_recovery, link_stored_takes, link_sessions)
                    .chain()
                    .in_set(AppSystems::Apply.of(Feature::Capture)),
            )
            // After the window's exit check: closing the last window asks to exit in that
            // same last frame, and a reader before it would never see the request.
            .add_systems(Last, close_takes_on_exit.after(bevy::window::ExitSystems));
    }
}

/// The app is closing: close every take now, while the database writer still runs, so the
/// take is stored and its session closed instead of being left for recovery.
fn close_takes_on_exit(
    mut exit: MessageReader<AppExit>,
    mut sessions: Query<&mut RecordingSession>,
) {
    if exit.read().next().is_none() {
        return;
    }
    for mut s in sessions.iter_mut() {
        if let Some(recorder) = s.recorder.take() {
            tracing::info!("closing the take {} before exit", s.path.display());
            // Dropping stops the device, writes out the ring, closes and queues the store.
            drop(recorder);
            s.state = TakeState::Finished;
        }
    }
}

/// The answer to recovering interrupted takes.
struct RecoveryReply(Result<Vec<Recovered>, String>);

/// The interrupted sessions to recover (read first; the file work follows off the writer).
struct RecoveryPlan(Result<Vec<super::recovery::Interrupted>, String>);

fn recover_on_start(
    settings: Res<CaptureSettings>,
    db: Option<ResMut<Database>>,
    plans: Res<Replies<RecoveryPlan>>,
    live: Option<Res<LiveText>>,
) {
    let live = live.map_or(LiveText::NONE, |l| *l);
    if settings.recover_on_start
        && let Some(mut db) = db
    {
        db.read(
            move |c| super::recovery::interrupted(c, live).map_err(|e| e.to_string()),
            plans.to(RecoveryPlan),
        );
    }
}

/// Repairs and stages the interrupted takes on a thread of their own, then hands the
/// database part to the writer: no file work runs inside its transaction.
fn run_recovery(
    plans: Res<Replies<RecoveryPlan>>,
    db: Option<Res<Database>>,
    store: Res<CaptureStore>,
    recovered: Res<Replies<RecoveryReply>>,
    live: Option<Res<LiveText>>,
) {
    let live = live.map_or(LiveText::NONE, |l| *l);
    for RecoveryPlan(plan) in plans.drain() {
        let reply = recovered.to(RecoveryReply);
        let (rows, Some(db)) = (plan, db.as_ref()) else {
            reply(Err("no database is open".into()));
            continue;
        };
        let rows = match rows {
            Ok(rows) if rows.is_empty() => {
                reply(Ok(Vec::new()));
                continue;
            }
            Ok(rows) => rows,
            Err(e) => {
                reply(Err(e));
                continue;
            }
        };
        let (writer, store) = (db.sender(), store.0.clone());
        let spawned = std::thread::Builder::new()
            .name("verbatim-recover".into())
            .spawn(move || {
                let prepared = super::recovery::prepare(&store, rows);
                let commit = crate::storage::writer::command(
                    move |c, effects| {
                        super::recovery::commit(c, &store, prepared, live, effects)
                            .map_err(|e| e.to_string())
                    },
                    reply,
                );
                if let Err(e) = writer.send(commit) {
                    tracing::error!("cannot record the recovered takes: {e}");
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start recovery: {e}");
        }
    }
}

/// Whether a take is under way (recording, paused or closing).
pub fn is_active(s: &RecordingSession) -> bool {
    s.state != TakeState::Finished
}

#[allow(clippy::too_many_arguments)] // a Bevy system: each argument is a system param
fn handle_commands(
    mut commands: Commands,
    mut cmds: MessageReader<RecordCommand>,
    mut sessions: Query<(Entity, &mut RecordingSession)>,
    mut settings: ResMut<CaptureSettings>,
    store: Res<CaptureStore>,
    db: Option<Res<Database>>,
    stored: Res<Replies<TakeStored>>,
    mut devices: ResMut<InputDevices>,
    mut notices: MessageWriter<RecordingNotice>,
    process: Option<Res<crate::storage::runner::ThisProcess>>,
) {
    let runner = process.map(|p| p.0.clone());
    for cmd in cmds.read() {
        match cmd {
            RecordCommand::Start(req) => {
                if sessions.iter().any(|(_, s)| is_active(s)) {
                    notices.write(RecordingNotice::StartFailed(
                        "a recording is already running; stop it first".into(),
                    ));
                    continue;
                }
                let sink = stored.sender();
                match start(
                    req,
                    &settings,
                    &store.0,
                    db.as_deref(),
                    sink,
                    runner.clone(),
                ) {
                    Ok(bundle) => {
                        // Earlier takes stay entities; the new one is the current take,
                        // and only it keeps live monitors.
                        for (e, _) in sessions.iter() {
                            commands
                                .entity(e)
                                .remove::<(CurrentTake, Levels, LiveSpectrum, Spectrogram)>();
                        }
                        commands.spawn((bundle, CurrentTake));
                    }
                    Err(e) => {
                        tracing::error!("cannot start recording: {e}");
                        notices.write(RecordingNotice::StartFailed(e));
                    }
                }
            }
            RecordCommand::Pause | RecordCommand::Resume | RecordCommand::Stop => {
                for (_, mut s) in sessions.iter_mut() {
                    if s.state == TakeState::Starting && matches!(cmd, RecordCommand::Stop) {
                        // Stopped as soon as the device is open (`finish_starting`).
                        s.state = TakeState::Stopping;
                        continue;
                    }
                    let Some(rec) = &s.recorder else { continue };
                    match (cmd, s.state) {
                        (RecordCommand::Pause, TakeState::Recording) => {
                            rec.pause();
                            s.state = TakeState::Paused;
                        }
                        (RecordCommand::Resume, TakeState::Paused) => {
                            rec.resume();
                            s.state = TakeState::Recording;
                        }
                        (RecordCommand::Stop, TakeState::Recording | TakeState::Paused) => {
                            rec.stop();
                            s.state = TakeState::Stopping;
                        }
                        _ => {}
                    }
                }
            }
            RecordCommand::SelectDevice(d) => {
                if settings.device != *d {
                    settings.device = d.clone();
                }
            }
            RecordCommand::RefreshDevices => {
                if devices.pending.is_none() {
                    let (tx, rx) = crossbeam_channel::bounded(1);
                    let spawned = std::thread::Builder::new()
                        .name("verbatim-devices".into())
                        .spawn(move || {
                            let _ = tx.send(devices::list_inputs());
                        });
                    match spawned {
                        Ok(_) => devices.pending = Some(rx),
                        Err(e) => tracing::error!("cannot list devices: {e}"),
                    }
                }
            }
        }
    }
}

/// The newest take: the one the recorder shows and Pause/Stop act on. Earlier takes stay
/// entities (related to their stored file by [`SessionOf`]) without their live monitors.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CurrentTake;

/// The session recorded this audio-file entity (set once the take is stored).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
#[relationship(relationship_target = RecordedIn)]
pub struct SessionOf(pub Entity);

/// The recording sessions of an audio-file entity (a take's parts: each is a file).
#[derive(Component, Debug, Default, PartialEq, Eq)]
#[relationship_target(relationship = SessionOf)]
pub struct RecordedIn(Vec<Entity>);

impl RecordedIn {
    pub fn sessions(&self) -> &[Entity] {
        &self.0
    }
}

/// A take whose device is being opened on its own thread: the frame never waits for the
/// device or the database.
#[derive(Component)]
pub struct Starting(crossbeam_channel::Receiver<Result<Recorder, String>>);

/// What a started take's entity gets once its format is known.
type MonitorBundle = (Levels, LiveSpectrum, Spectrogram);

/// Checks the request and starts opening the device on a thread; the session is spawned
/// `Starting` at once and [`finish_starting`] completes it.
fn start(
    req: &RecordRequest,
    settings: &CaptureSettings,
    store: &AudioStore,
    db: Option<&Database>,
    stored: crossbeam_channel::Sender<TakeStored>,
    runner: Option<String>,
) -> Result<(Name, RecordingSession, TakeStats, Waveform, Starting), String> {
    let source = match &req.source {
        Some(s) => s.clone(),
        None => Source::parse(settings.device.as_deref().unwrap_or("default"))
            .map_err(|e| e.to_string())?,
    };
    let (path, session_path) = match &req.out {
        Some(p) => {
            let abs = std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let s = abs.to_string_lossy().into_owned();
            (abs, s)
        }
        None => new_take_path(store.data_dir())
            .map_err(|e| format!("cannot create the recordings folder: {e}"))?,
    };
    let mut config = RecorderConfig::new(source.clone(), path.clone(), session_path);
    config.store = Some(store.clone());
    config.stored = Some(stored);
    config.max_seconds = req.seconds;
    config.stall_writer = req.stall_writer;
    config.runner = runner;
    if let Some(r) = req.ring_seconds {
        config.ring_seconds = r;
    }
    let sender = db.map(Database::sender);
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("verbatim-record-start".into())
        .spawn(move || {
            // A take started as the app closes is dropped here: it stops and is stored.
            let _ = tx.send(Recorder::start(config, sender).map_err(|e| e.to_string()));
        })
        .map_err(|e| format!("cannot start recording: {e}"))?;
    Ok((
        Name::new("RecordingSession"),
        RecordingSession {
            session: None,
            path,
            format: StreamFormat {
                device_id: None,
                device_name: match &source {
                    Source::Default => "the default input".to_owned(),
                    Source::Device(name) => name.clone(),
                    Source::Fake(_) => "a test signal".to_owned(),
                },
                sample_rate: 0,
                channels: 0,
                sample_format: String::new(),
            },
            recorder: None,
            state: TakeState::Starting,
            started: Instant::now(),
            finished: None,
            audio_file: None,
            store_error: None,
        },
        TakeStats::default(),
        Waveform::default(),
        Starting(rx),
    ))
}

/// Apply: a stored take's session is related to its audio file's entity (once it exists).
fn link_sessions(
    mut commands: Commands,
    sessions: Query<(Entity, &RecordingSession), Without<SessionOf>>,
    files: Query<(Entity, &crate::library::AudioFile)>,
) {
    for (entity, s) in &sessions {
        let Some(id) = s.audio_file else { continue };
        if let Some((file, _)) = files.iter().find(|(_, f)| f.0.id == id) {
            commands.entity(entity).insert(SessionOf(file));
        }
    }
}

/// Ingest: a take whose device opened starts recording (and gets its meters); one that
/// could not start is removed and says why.
fn finish_starting(
    mut commands: Commands,
    mut sessions: Query<(Entity, &mut RecordingSession, &Starting)>,
    settings: Res<CaptureSettings>,
    mut notices: MessageWriter<RecordingNotice>,
) {
    for (entity, mut s, starting) in &mut sessions {
        let result = match starting.0.try_recv() {
            Ok(r) => r,
            Err(crossbeam_channel::TryRecvError::Empty) => continue,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                Err("the recording could not be started".to_owned())
            }
        };
        let started = result.and_then(|recorder| {
            let format = recorder.format().clone();
            let monitors: MonitorBundle = (
                Levels {
                    meters: vec![Meter::default(); usize::from(format.channels.max(1))],
                },
                LiveSpectrum::new(
                    settings.fft_size,
                    format.sample_rate,
                    settings.spectrogram_bands,
                )
                .map_err(|e| e.to_string())?,
                Spectrogram::new(settings.spectrogram_columns, settings.spectrogram_bands),
            );
            Ok((recorder, format, monitors))
        });
        match started {
            Ok((recorder, format, monitors)) => {
                // Stop was asked while the device opened.
                let stop = s.state == TakeState::Stopping;
                if stop {
                    recorder.stop();
                }
                s.session = recorder.session();
                s.format = format;
                s.recorder = Some(recorder);
                s.started = Instant::now();
                if !stop {
                    s.state = TakeState::Recording;
                }
                commands
                    .entity(entity)
                    .remove::<Starting>()
                    .insert(monitors);
            }
            Err(e) => {
                tracing::error!("cannot start recording: {e}");
                notices.write(RecordingNotice::StartFailed(e));
                commands.entity(entity).despawn();
            }
        }
    }
}

/// Ingest: the recorder's events into components.
fn drain_recorders(
    mut sessions: Query<(Entity, &mut RecordingSession, &mut TakeStats, &mut Waveform)>,
    mut notices: MessageWriter<RecordingNotice>,
) {
    for (entity, mut s, mut stats, mut wave) in sessions.iter_mut() {
        let mut ended = None;
        if let Some(rec) = &s.recorder {
            while let Some(ev) = rec.try_event() {
                match ev {
                    RecorderEvent::Progress(p) => stats.0 = p,
                    RecorderEvent::Peaks(blocks) => wave.pyramid.push_blocks(&blocks),
                    RecorderEvent::Overrun {
                        at_frame,
                        frames_lost,
                    } => wave.xruns.push((at_frame, frames_lost)),
                    RecorderEvent::Gap { at_frame, ms } => wave.gaps.push((at_frame, ms)),
                    RecorderEvent::DeviceError(m) => {
                        notices.write(RecordingNotice::DeviceError(m));
                    }
                    RecorderEvent::Finished(f) => ended = Some(f),
                }
            }
        }
        if let Some(f) = ended {
            s.state = TakeState::Finished;
            // The writer has sent its last event; joining it is immediate.
            s.recorder = None;
            s.finished = Some(f.clone());
            notices.write(RecordingNotice::Ended {
                entity,
                finished: f,
            });
        }
    }
}

/// Analyze: levels, spectrum and spectrogram from the analysis tee.
fn analyze(
    mut sessions: Query<(
        &RecordingSession,
        &mut Levels,
        &mut LiveSpectrum,
        &mut Spectrogram,
    )>,
    mut scratch: Local<(Vec<f32>, Vec<f32>, Vec<f32>)>,
) {
    let (buf, mono, chan) = &mut *scratch;
    for (s, mut levels, mut spectrum, mut gram) in sessions.iter_mut() {
        let Some(rec) = &s.recorder else { continue };
        let ch = usize::from(s.format.channels.max(1));
        buf.resize(16_384 * ch, 0.0);
        loop {
            let n = rec.read_analysis(buf);
            if n == 0 {
                break;
            }
            let data = buf.get(..n).unwrap_or_default();
            let frames = n / ch;
            let dt = frames as f32 / s.format.sample_rate.max(1) as f32;
            for (c, m) in levels.meters.iter_mut().enumerate() {
                chan.clear();
                chan.extend(data.iter().skip(c).step_by(ch));
                m.update(&meter::measure(chan), dt);
            }
            mono.clear();
            mono.extend(
                data.chunks_exact(ch)
                    .map(|f| f.iter().sum::<f32>() / ch as f32),
            );
            let gram = &mut *gram;
            spectrum.feed(mono, |bands| gram.push(bands));
        }
    }
}

fn collect_devices(mut devices: ResMut<InputDevices>) {
    let Some(rx) = &devices.pending else { return };
    match rx.try_recv() {
        Ok(list) => {
            devices.list = list;
            devices.listed = true;
            devices.pending = None;
        }
        Err(crossbeam_channel::TryRecvError::Empty) => {}
        Err(crossbeam_channel::TryRecvError::Disconnected) => devices.pending = None,
    }
}

/// Apply: a stored take's library entry on its session (and the take in the library);
/// recovery results as notices.
fn link_stored_takes(
    stored: Res<Replies<TakeStored>>,
    recovered: Res<Replies<RecoveryReply>>,
    mut sessions: Query<&mut RecordingSession>,
    mut notices: MessageWriter<RecordingNotice>,
    mut files: MessageWriter<FilesStored>,
    mut changed: MessageWriter<crate::library::transcripts::TranscriptsChanged>,
) {
    for take in stored.drain() {
        if let Some(id) = take.session {
            if let Err(e) = &take.result {
                tracing::error!(session = %id, "the take could not be stored: {e}");
            }
            for mut s in sessions.iter_mut() {
                if s.session == Some(id) {
                    s.audio_file = take.imported.first().map(|i| i.row.id);
                    s.store_error = take.result.as_ref().err().cloned();
                }
            }
        }
        files.write(FilesStored(take.imported));
    }
    for RecoveryReply(r) in recovered.drain() {
        if let Ok(list) = &r {
            if list.iter().any(|r| r.live_transcript.is_some()) {
                changed.write(crate::library::transcripts::TranscriptsChanged);
            }
            files.write(FilesStored(
                list.iter()
                    .flat_map(|r| r.imported.iter().cloned())
                    .collect(),
            ));
        }
        notices.write(RecordingNotice::Recovered(r));
    }
}
