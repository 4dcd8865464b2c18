//! The recorder: an input stream, a writer thread that drains its ring into a crash-safe take,
//! and the session row that says what is being recorded.
//!
//! The writer thread owns everything on the slow side of the ring: the take file (and an
//! exclusive lock on it, so recovery leaves a live take alone), the overrun log, the peak
//! summaries, and the session's progress in the database (queued to the database writer every
//! 250 ms of audio). It never waits on the UI: it talks to the ECS through an event channel and
//! a second, lossy ring that only feeds the live analysis (a frozen UI drops display frames,
//! never audio on disk). It sleeps when the ring is empty; it never spins.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::ring::RingReader;
use super::stream::{CaptureError, InputStream, Source, StreamEvent, StreamFormat};
use super::take::{is_managed_take, remove_stored, reserve_path, stage_part};
use super::wav::{Durability, TakeSummary, TakeWriter};
use crate::capture;
use crate::capture::sql::{
    NewRecordingSession, SessionEnd, SessionProgress, SessionStatus, StopReason,
};
use crate::dsp::peaks::{FINE, MinMax};
use crate::library::import::{self, AudioStore, Imported, StagedImport};
use crate::storage::ids::SessionId;
use crate::storage::now_ms;
use crate::storage::writer::{DbSender, Effects, command};

/// A pause in the device's deliveries of at least this (or four times its usual period, at
/// most [`STALL_MAX`]) is a gap: counted, marked on the waveform, and the take goes on. A
/// loaded machine starves the audio server for half a second and more (628 ms measured)
/// while the device is fine.
pub const STALL_TIMEOUT: Duration = Duration::from_millis(200);
/// The longest a device's usual period makes the gap threshold.
pub const STALL_MAX: Duration = Duration::from_secs(2);
/// No audio for this long (not paused) means the device is gone, whatever the backend says
/// (PulseAudio through ALSA reports nothing when its source is removed: the deliveries just
/// stop, measured by `tests/capture_cli.rs`). A stream error ends the take at once.
pub const DEVICE_GONE: Duration = Duration::from_secs(3);
/// How long a device may take to deliver its first audio.
pub const FIRST_AUDIO_TIMEOUT: Duration = Duration::from_secs(5);

/// What to record, where.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    pub source: Source,
    /// The take's first part (must not exist).
    pub take_path: PathBuf,
    /// The take as the session row names it: relative to the data directory for takes in
    /// `recordings/`, absolute otherwise.
    pub session_path: String,
    /// Stop by itself after this many seconds of audio (`--seconds`), to the frame.
    pub max_seconds: Option<f64>,
    /// Header/fsync/rollover cadence; `None`: every 250 ms / 1 s / 4 GiB.
    pub durability: Option<Durability>,
    /// Seconds the capture ring holds (how long the writer may stall without losing audio).
    pub ring_seconds: f32,
    /// Seconds the analysis ring holds.
    pub analysis_seconds: f32,
    /// Import the finished take into this library (needs a database).
    pub store: Option<AudioStore>,
    /// Where the answer to storing the take goes.
    pub stored: Option<Sender<TakeStored>>,
    /// Fault injection for tests: the writer stops draining for this long once the take
    /// holds this many seconds (what a stalled disk or a starved thread does).
    #[doc(hidden)]
    pub stall_writer: Option<(f64, Duration)>,
    /// The process recording (noted on the session: see migration 009).
    pub runner: Option<String>,
}

impl RecorderConfig {
    pub fn new(source: Source, take_path: PathBuf, session_path: String) -> Self {
        Self {
            source,
            take_path,
            session_path,
            max_seconds: None,
            stored: None,
            durability: None,
            ring_seconds: 4.0,
            analysis_seconds: 1.0,
            store: None,
            stall_writer: None,
            runner: None,
        }
    }
}

enum Control {
    Pause,
    Resume,
    Stop,
}

/// Counters the writer reports (at least every 250 ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub frames_written: u64,
    pub frames_synced: u64,
    pub frames_delivered: u64,
    pub overruns: u64,
    pub frames_dropped: u64,
    pub paused: bool,
    /// Samples the analysis ring had no room for (display only; nothing lost on disk).
    pub analysis_dropped: u64,
    /// Pauses in the device's deliveries that did not end the take.
    pub gaps: u64,
}

/// How a take ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub reason: StopReason,
    pub summary: Option<TakeSummary>,
    /// What went wrong, in words for the user (device gone, disk full, ...).
    pub error: Option<String>,
    pub session: Option<SessionId>,
    pub progress: SessionProgress,
    /// Whether the take was handed to the library import.
    pub importing: bool,
}

/// What the writer thread tells the ECS.
#[derive(Debug, Clone, PartialEq)]
pub enum RecorderEvent {
    Progress(Progress),
    /// Min/max of every 256 frames (all channels), in order, since the last `Peaks`.
    Peaks(Vec<MinMax>),
    /// Frames lost because the ring was full, at this frame of the take.
    Overrun {
        at_frame: u64,
        frames_lost: u64,
    },
    /// A device error that did not stop the take.
    DeviceError(String),
    /// The device delivered nothing for `ms`, then went on; the pause ends at this frame.
    Gap {
        at_frame: u64,
        ms: u64,
    },
    Finished(Finished),
}

/// A running recording. Dropping it stops the take and waits for the writer.
pub struct Recorder {
    control: Sender<Control>,
    events: Receiver<RecorderEvent>,
    analysis: Mutex<HeapCons<f32>>,
    format: StreamFormat,
    session: Option<SessionId>,
    path: PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("format", &self.format)
            .field("session", &self.session)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Opens the device, creates the take and its session row, and starts the writer.
    pub fn start(config: RecorderConfig, db: Option<DbSender>) -> Result<Self, CaptureError> {
        if config.take_path.exists() {
            return Err(CaptureError::File(format!(
                "{} already exists; choose another name",
                config.take_path.display()
            )));
        }
        if let Some(dir) = config.take_path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| CaptureError::File(format!("{}: {e}", dir.display())))?;
        }
        let (stream, reader) = InputStream::open(&config.source, config.ring_seconds)?;
        let format = stream.format().clone();
        let durability = config
            .durability
            .unwrap_or_else(|| Durability::for_rate(format.sample_rate));
        let take = TakeWriter::create(
            &config.take_path,
            format.sample_rate,
            format.channels,
            durability,
        )
        .map_err(|e| CaptureError::File(e.to_string()))?;
        // The lock tells recovery (in this or another process) that the take is live.
        let lock = File::open(&config.take_path)
            .and_then(|f| f.lock().map(|()| f))
            .map_err(|e| CaptureError::File(format!("{}: {e}", config.take_path.display())))?;

        let session = db
            .as_ref()
            .and_then(|db| open_session(db, &config, &format));
        let channels = usize::from(format.channels.max(1));
        let analysis_len =
            ((format.sample_rate as f32 * config.analysis_seconds.max(0.1)) as usize) * channels;
        let (analysis_prod, analysis_cons) = HeapRb::<f32>::new(analysis_len.max(1)).split();
        let (control_tx, control_rx) = crossbeam_channel::unbounded();
        let (event_tx, event_rx) = crossbeam_channel::unbounded();
        let path = config.take_path.clone();
        tracing::info!(
            take = %path.display(),
            session = ?session.map(|s| s.0),
            "recording from {} ({} Hz, {} ch, {})",
            format.device_name, format.sample_rate, format.channels, format.sample_format
        );
        let writer = Writer {
            reader,
            stream: Some(stream),
            take: Some(take),
            lock,
            reserve: None,
            control: control_rx,
            events: event_tx,
            analysis: analysis_prod,
            db,
            session,
            config,
            channels,
            rate: format.sample_rate,
        };
        let thread = std::thread::Builder::new()
            .name("verbatim-capture-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| CaptureError::Thread(e.to_string()))?;
        Ok(Self {
            control: control_tx,
            events: event_rx,
            analysis: Mutex::new(analysis_cons),
            format,
            session,
            path,
            thread: Some(thread),
        })
    }

    pub fn format(&self) -> &StreamFormat {
        &self.format
    }

    pub fn session(&self) -> Option<SessionId> {
        self.session
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pause(&self) {
        let _ = self.control.send(Control::Pause);
    }

    pub fn resume(&self) {
        let _ = self.control.send(Control::Resume);
    }

    /// Asks the writer to stop: the device stops, what is in the ring is written, the take is
    /// closed and imported. A `Finished` event follows.
    pub fn stop(&self) {
        let _ = self.control.send(Control::Stop);
    }

    pub fn try_event(&self) -> Option<RecorderEvent> {
        self.events.try_recv().ok()
    }

    /// Waits up to `timeout` for the next event.
    pub fn next_event(&self, timeout: Duration) -> Option<RecorderEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Moves up to `buf.len()` interleaved samples of the analysis tee into `buf`.
    pub fn read_analysis(&self, buf: &mut [f32]) -> usize {
        match self.analysis.lock() {
            Ok(mut cons) => {
                let whole = buf.len() / self.format.channels.max(1) as usize
                    * self.format.channels.max(1) as usize;
                cons.pop_slice(buf.get_mut(..whole).unwrap_or_default())
            }
            Err(_) => 0,
        }
    }

    /// Whether the writer thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Stop);
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the capture writer thread panicked");
        }
    }
}

fn open_session(
    db: &DbSender,
    config: &RecorderConfig,
    format: &StreamFormat,
) -> Option<SessionId> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let session = NewRecordingSession {
        device_id: format.device_id.clone(),
        device_name: format.device_name.clone(),
        sample_rate: format.sample_rate,
        channels: format.channels,
        sample_format: format.sample_format.clone(),
        file_path: config.session_path.clone(),
        runner: config.runner.clone(),
    };
    let open = command(
        move |c, _| {
            capture::sql::insert_recording_session(c, &session, now_ms()).map_err(|e| e.to_string())
        },
        move |r: Result<SessionId, String>| {
            let _ = tx.send(r);
        },
    );
    if db.send(open).is_err() {
        tracing::error!("the database writer is gone; recording without a session row");
        return None;
    }
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(id)) => Some(id),
        Ok(Err(e)) => {
            tracing::error!("cannot open the recording session: {e}; recording anyway");
            None
        }
        Err(_) => {
            tracing::error!("the database did not answer; recording without a session row");
            None
        }
    }
}

struct Writer {
    reader: RingReader,
    stream: Option<InputStream>,
    take: Option<TakeWriter>,
    lock: File,
    /// Space held back on the take's disk until the take is stored.
    reserve: Option<Reserve>,
    control: Receiver<Control>,
    events: Sender<RecorderEvent>,
    analysis: HeapProd<f32>,
    db: Option<DbSender>,
    session: Option<SessionId>,
    config: RecorderConfig,
    channels: usize,
    rate: u32,
}

/// Space kept free for storing the take: when the disk fills up mid-take, the take itself
/// is safe (everything up to the last whole frame is on disk), but adding it to the library
/// still needs a little room (the database's journal, the header rewrite). So a take starts
/// by writing [`RESERVE_BYTES`] beside itself and gives them back when it ends; a crash
/// leaves the file, and recovery deletes it before storing the take.
pub const RESERVE_BYTES: usize = 2 << 20;

struct Reserve(PathBuf);

impl Reserve {
    /// Writes the reserve (real bytes: a sparse file would reserve nothing). `None` when
    /// the disk cannot spare it; the take is recorded anyway.
    fn hold(take: &Path) -> Option<Self> {
        use std::io::Write;
        let path = reserve_path(take);
        let written = File::create(&path).and_then(|mut f| {
            f.write_all(&vec![0u8; RESERVE_BYTES])?;
            f.sync_all()
        });
        match written {
            Ok(()) => Some(Self(path)),
            Err(e) => {
                tracing::warn!("cannot keep space for storing the take ({e}); recording anyway");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }
}

impl Drop for Reserve {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            tracing::warn!("cannot remove {}: {e}", self.0.display());
        }
    }
}

/// Per-256-frame min/max being built while recording.
struct PeakBuilder {
    block: MinMax,
    frames: usize,
    done: Vec<MinMax>,
}

impl Default for PeakBuilder {
    fn default() -> Self {
        Self {
            block: MinMax::EMPTY,
            frames: 0,
            done: Vec::new(),
        }
    }
}

impl PeakBuilder {
    fn push(&mut self, interleaved: &[f32], channels: usize) {
        for frame in interleaved.chunks_exact(channels) {
            if self.frames == 0 {
                self.block = MinMax::EMPTY;
            }
            for &s in frame {
                self.block.add(s);
            }
            self.frames += 1;
            if self.frames == FINE {
                self.done.push(self.block);
                self.frames = 0;
            }
        }
    }
}

impl Writer {
    fn run(mut self) {
        let _span =
            tracing::info_span!("capture_writer", session = ?self.session.map(|s| s.0)).entered();
        // Written here, not where the take starts: 2 MiB and an fsync stay off the frame.
        self.reserve = Reserve::hold(&self.config.take_path);
        let ch = self.channels;
        let mut buf = vec![0.0f32; 4096 * ch];
        let mut paused = false;
        let mut stop: Option<StopReason> = None;
        let mut error: Option<String> = None;
        let mut progress = SessionProgress::default();
        let mut last = self.reader.counters().snapshot();
        let mut peaks = PeakBuilder::default();
        let report_every = u64::from(self.rate / 4).max(1);
        let mut next_report = report_every;
        let mut last_report = Instant::now();
        let mut last_delivered = last.frames_delivered;
        let mut last_delivery = Instant::now();
        // The latest look at the ring that found nothing new since `last_delivery`. A gap is
        // a pause this thread saw, not one it slept through: a write that blocked on a busy
        // disk (or a descheduled writer) finds the device's frames waiting in the ring.
        let mut quiet_look: Option<Instant> = None;
        // The device's usual time between deliveries (a moving average of the normal ones).
        let mut period: Option<Duration> = None;
        // Where the take stood when the device's deliveries paused (the gap's mark).
        let mut paused_at: Option<u64> = None;
        let mut analysis_dropped: u64 = 0;

        loop {
            for c in self.control.try_iter() {
                match c {
                    Control::Pause => paused = true,
                    Control::Resume => paused = false,
                    Control::Stop => stop = stop.or(Some(StopReason::User)),
                }
            }
            if let Some(stream) = &self.stream {
                while let Some(ev) = stream.try_event() {
                    match ev {
                        StreamEvent::DeviceLost(m) => {
                            tracing::error!("input device lost: {m}");
                            stop = stop.or(Some(StopReason::DeviceLost));
                            error = error.or(Some(format!("the input device was lost ({m})")));
                        }
                        StreamEvent::Error(m) => {
                            tracing::warn!("input device error: {m}");
                            let _ = self.events.send(RecorderEvent::DeviceError(m));
                        }
                    }
                }
            }
            if matches!(stop, Some(StopReason::User)) && self.stream.is_some() {
                // Stop the device first, then write out everything it delivered.
                self.stream = None;
            }
            let n = if stop.is_some() {
                self.reader.read(&mut buf)
            } else {
                self.reader.read_blocking(
                    &mut buf,
                    Duration::from_millis(2),
                    Duration::from_millis(20),
                )
            };
            let snap = self.reader.counters().snapshot();
            let threshold =
                period.map_or(STALL_TIMEOUT, |p| (p * 4).clamp(STALL_TIMEOUT, STALL_MAX));
            if snap.frames_delivered != last_delivered {
                let interval = last_delivery.elapsed();
                let seen_quiet = quiet_look.map_or(Duration::ZERO, |q| {
                    q.saturating_duration_since(last_delivery)
                });
                if last_delivered > 0 && interval >= threshold {
                    if seen_quiet >= threshold / 2 && !paused {
                        // The device went on after a pause: a gap, not the end of the take,
                        // marked where the deliveries stopped.
                        let written = self.take.as_ref().map_or(0, TakeWriter::frames);
                        let at = paused_at
                            .take()
                            .unwrap_or(written + (self.reader.pending() / ch) as u64);
                        let ms = interval.as_millis() as u64;
                        tracing::warn!(
                            at_frame = at,
                            "the input device delivered nothing for {ms} ms, then went on"
                        );
                        progress.gaps.push((at, ms));
                        let _ = self.events.send(RecorderEvent::Gap { at_frame: at, ms });
                    }
                } else if last_delivered > 0 {
                    // Only the normal intervals make the usual period: not a pause, nor a
                    // stretch this thread slept through.
                    period = Some(period.map_or(interval, |p| (p * 7 + interval) / 8));
                }
                paused_at = None;
                quiet_look = None;
                last_delivered = snap.frames_delivered;
                last_delivery = Instant::now();
            } else {
                quiet_look = Some(Instant::now());
                if n == 0
                    && last_delivered > 0
                    && paused_at.is_none()
                    && last_delivery.elapsed() >= threshold
                {
                    // Nothing for a while, and everything delivered is written: the take
                    // stands where the pause began.
                    paused_at = Some(self.take.as_ref().map_or(0, TakeWriter::frames));
                }
            }
            if n == 0 {
                if stop.is_some() {
                    break;
                }
                let limit = if last_delivered == 0 {
                    FIRST_AUDIO_TIMEOUT
                } else {
                    DEVICE_GONE
                };
                if !paused && last_delivery.elapsed() >= limit {
                    tracing::error!("no audio from the input device for {limit:?}");
                    stop = Some(StopReason::DeviceLost);
                    error = Some("the input device stopped delivering audio".into());
                    continue;
                }
                if last_report.elapsed() >= Duration::from_millis(250) {
                    last_report = Instant::now();
                    self.report(&progress, snap, paused, analysis_dropped, &mut peaks, false);
                }
                continue;
            }
            let data = buf.get(..n).unwrap_or_default();
            let pushed = self.analysis.push_slice(data);
            analysis_dropped += (n - pushed) as u64;
            if paused {
                continue;
            }
            let Some(take) = self.take.as_mut() else {
                break;
            };
            let mut data = data;
            if let Some(max) = self
                .config
                .max_seconds
                .map(|s| (s.max(0.0) * f64::from(self.rate)).round() as u64)
            {
                let left = max.saturating_sub(take.frames()) as usize * ch;
                if data.len() >= left {
                    data = data.get(..left).unwrap_or_default();
                    stop = Some(StopReason::Duration);
                    self.stream = None;
                }
            }
            if let Err(e) = take.write(data) {
                let reason = if e.is_disk_full() {
                    StopReason::DiskFull
                } else {
                    StopReason::WriteError
                };
                tracing::error!("{e}");
                error = Some(if e.is_disk_full() {
                    "the disk is full; the take holds everything recorded until then".to_owned()
                } else {
                    e.to_string()
                });
                stop = Some(reason);
                self.stream = None;
                break;
            }
            peaks.push(data, ch);
            progress.frames_written = take.frames();
            if let Some((at, pause)) = self.config.stall_writer
                && take.frames() as f64 >= at * f64::from(self.rate)
            {
                self.config.stall_writer = None;
                std::thread::sleep(pause);
            }
            if snap.overruns > last.overruns {
                let lost = snap.frames_dropped.saturating_sub(last.frames_dropped);
                // The gap sits after what was in the ring when the overrun happened.
                let at = take.frames() + (self.reader.pending() / ch) as u64;
                tracing::warn!(
                    at_frame = at,
                    at_s = at as f64 / f64::from(self.rate),
                    frames_lost = lost,
                    "overrun: the writer fell behind and {lost} frames were lost"
                );
                progress.xruns.push((at, lost));
                progress.overruns = snap.overruns;
                progress.frames_dropped = snap.frames_dropped;
                let _ = self.events.send(RecorderEvent::Overrun {
                    at_frame: at,
                    frames_lost: lost,
                });
            }
            last = snap;
            if take.frames() >= next_report {
                next_report = take.frames() + report_every;
                last_report = Instant::now();
                self.report(&progress, snap, paused, analysis_dropped, &mut peaks, true);
            }
        }
        self.stream = None;
        self.finish(
            stop.unwrap_or(StopReason::User),
            error,
            progress,
            &mut peaks,
        );
    }

    fn report(
        &self,
        progress: &SessionProgress,
        snap: super::ring::CounterSnapshot,
        paused: bool,
        analysis_dropped: u64,
        peaks: &mut PeakBuilder,
        to_db: bool,
    ) {
        if !peaks.done.is_empty() {
            let _ = self
                .events
                .send(RecorderEvent::Peaks(std::mem::take(&mut peaks.done)));
        }
        let synced = self.take.as_ref().map_or(0, TakeWriter::frames_synced);
        let _ = self.events.send(RecorderEvent::Progress(Progress {
            frames_written: progress.frames_written,
            frames_synced: synced,
            frames_delivered: snap.frames_delivered,
            overruns: snap.overruns,
            frames_dropped: snap.frames_dropped,
            paused,
            analysis_dropped,
            gaps: progress.gaps.len() as u64,
        }));
        if to_db
            && let (Some(db), Some(id)) = (&self.db, self.session)
            && db
                .send(crate::storage::writer::unanswered(
                    move || format!("cannot update recording session {id}"),
                    {
                        let progress = progress.clone();
                        move |c| capture::sql::update_recording_progress(c, id, &progress, now_ms())
                    },
                ))
                .is_err()
        {
            tracing::warn!("the database writer is gone; the session row is not updated");
        }
    }

    fn finish(
        &mut self,
        reason: StopReason,
        mut error: Option<String>,
        mut progress: SessionProgress,
        peaks: &mut PeakBuilder,
    ) {
        // The space held back is what storing the take may need now.
        self.reserve = None;
        let snap = self.reader.counters().snapshot();
        progress.overruns = snap.overruns;
        progress.frames_dropped = snap.frames_dropped;
        let summary = match self.take.take().map(TakeWriter::finish) {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                tracing::error!("cannot close the take: {e}");
                error = Some(e.to_string());
                None
            }
            None => None,
        };
        if let Some(s) = &summary {
            progress.frames_written = s.frames;
        }
        if let Err(e) = self.lock.unlock() {
            tracing::debug!("unlock: {e}");
        }
        self.report(&progress, snap, false, 0, peaks, false);
        let status = if summary.is_some() {
            SessionStatus::Complete
        } else {
            SessionStatus::Failed
        };
        tracing::info!(
            frames = progress.frames_written,
            seconds = progress.frames_written as f64 / f64::from(self.rate),
            overruns = progress.overruns,
            reason = reason.as_str(),
            "take closed: {}",
            self.config.take_path.display()
        );
        let end = SessionEnd {
            status,
            stop_reason: reason,
            progress: progress.clone(),
            error: error.clone(),
        };
        let mut importing = false;
        if let Some(db) = &self.db {
            let mut staged = Vec::new();
            let mut end = end;
            let managed = self
                .config
                .store
                .as_ref()
                .is_some_and(|st| is_managed_take(st.data_dir(), &self.config.session_path));
            if let (Some(store), Some(s)) = (&self.config.store, &summary)
                && s.frames > 0
            {
                for part in &s.parts {
                    match stage_part(part, store, managed) {
                        Ok(st) => staged.push(st),
                        Err(e) => {
                            tracing::error!("cannot add the take to the library: {e}");
                            let msg = format!(
                                "the take is saved at {} but could not be added to the library: {e}; `verbatim recover` adds it",
                                part.display()
                            );
                            let msg = match error.take() {
                                Some(first) => format!("{first}; {msg}"),
                                None => msg,
                            };
                            end.error = Some(msg.clone());
                            error = Some(msg);
                            // Left open, so recovery finds it and tries again.
                            end.status = SessionStatus::Recording;
                            staged.clear();
                            break;
                        }
                    }
                }
            }
            importing = !staged.is_empty();
            let remove_after = match (&summary, importing) {
                (Some(s), true) if managed => s.parts.clone(),
                _ => Vec::new(),
            };
            let (session, store, notify) = (
                self.session,
                self.config.store.clone(),
                self.config.stored.clone(),
            );
            let save = command(
                move |c, effects| {
                    let imported =
                        save_recording(c, store.as_ref(), session, &end, staged, effects)?;
                    effects.after_commit(move || remove_stored(&remove_after));
                    Ok(imported)
                },
                move |r: Result<Vec<Imported>, String>| {
                    let (imported, result) = match r {
                        Ok(i) => (i, Ok(())),
                        Err(e) => (Vec::new(), Err(e)),
                    };
                    if let Some(tx) = notify {
                        let _ = tx.send(TakeStored {
                            session,
                            imported,
                            result,
                        });
                    }
                },
            );
            if db.send(save).is_err() {
                tracing::error!("the database writer is gone; the session stays open for recovery");
                importing = false;
            }
        }
        let _ = self.events.send(RecorderEvent::Finished(Finished {
            reason,
            summary,
            error,
            session: self.session,
            progress,
            importing,
        }));
    }
}

/// How storing a finished take ended (for the capture plugin, and the library).
#[derive(Debug, Clone, PartialEq)]
pub struct TakeStored {
    pub session: Option<SessionId>,
    /// The take's parts as library entries (empty when the import failed).
    pub imported: Vec<Imported>,
    pub result: Result<(), String>,
}

/// Imports a finished take's parts and closes its session (a writer command's work).
fn save_recording(
    conn: &rusqlite::Connection,
    store: Option<&AudioStore>,
    session: Option<SessionId>,
    end: &SessionEnd,
    staged: Vec<StagedImport>,
    effects: &mut Effects,
) -> Result<Vec<Imported>, String> {
    let mut imported = Vec::new();
    if let Some(store) = store {
        for part in staged {
            imported
                .push(import::commit_in(conn, store, part, effects).map_err(|e| e.to_string())?);
        }
    }
    if let Some(id) = session {
        let file = imported.first().map(|i| i.row.id);
        capture::sql::close_recording_session(conn, id, end, file, now_ms())
            .map_err(|e| e.to_string())?;
    }
    Ok(imported)
}
