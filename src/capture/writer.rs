//! The capture writer thread: it drains the ring into the take (crash-safe, fsynced as it
//! goes), watches the device's deliveries for gaps and overruns, feeds the lossy analysis
//! ring, reports progress to the ECS and the session row, and stores the take when it ends.
//! What it is told (`RecorderConfig`, `Control`) and what it tells (`RecorderEvent`,
//! `Progress`, `Finished`, `TakeStored`) are defined here; the recorder re-exports them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ringbuf::HeapProd;
use ringbuf::traits::Producer;

use super::ring::{CounterSnapshot, RingReader};
use super::stream::{InputStream, Source, StreamEvent};
use super::take::{is_managed_take, remove_stored, reserve_path, stage_part};
use super::wav::{Durability, TakeSummary, TakeWriter};
use crate::capture;
use crate::capture::sql::{SessionEnd, SessionProgress, SessionStatus, StopReason};
use crate::dsp::peaks::{FINE, MinMax};
use crate::library::import::{self, AudioStore, Imported, StagedImport};
use crate::storage::ids::SessionId;
use crate::storage::now_ms;
use crate::storage::writer::{DbSender, Effects, command};

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

pub(super) enum Control {
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

/// How storing a finished take ended (for the capture plugin, and the library).
#[derive(Debug, Clone, PartialEq)]
pub struct TakeStored {
    pub session: Option<SessionId>,
    /// The take's parts as library entries (empty when the import failed).
    pub imported: Vec<Imported>,
    pub result: Result<(), String>,
}

/// Imports a finished take's parts and closes its session (a writer command's work).
pub(super) fn save_recording(
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

pub(super) struct Writer {
    pub(super) reader: RingReader,
    pub(super) stream: Option<InputStream>,
    pub(super) take: Option<TakeWriter>,
    pub(super) lock: File,
    /// Space held back on the take's disk until the take is stored.
    pub(super) reserve: Option<Reserve>,
    pub(super) control: Receiver<Control>,
    pub(super) events: Sender<RecorderEvent>,
    pub(super) analysis: HeapProd<f32>,
    pub(super) db: Option<DbSender>,
    pub(super) session: Option<SessionId>,
    pub(super) config: RecorderConfig,
    pub(super) channels: usize,
    pub(super) rate: u32,
}

/// Space kept free for storing the take: when the disk fills up mid-take, the take itself
/// is safe (everything up to the last whole frame is on disk), but adding it to the library
/// still needs a little room (the database's journal, the header rewrite). So a take starts
/// by writing [`RESERVE_BYTES`] beside itself and gives them back when it ends; a crash
/// leaves the file, and recovery deletes it before storing the take.
pub const RESERVE_BYTES: usize = 2 << 20;

pub(super) struct Reserve(PathBuf);

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
    pub(super) fn run(mut self) {
        let _span =
            tracing::info_span!("capture_writer", session = ?self.session.map(|s| s.0)).entered();
        // Written here, not where the take starts: 2 MiB and an fsync stay off the frame.
        self.reserve = Reserve::hold(&self.config.take_path);
        let ch = self.channels;
        let mut buf = vec![0.0f32; 4096 * ch];
        let mut st = RunState::new(self.reader.counters().snapshot(), self.rate);
        loop {
            self.poll_controls(&mut st);
            let n = if st.stop.is_some() {
                self.reader.read(&mut buf)
            } else {
                self.reader.read_blocking(
                    &mut buf,
                    Duration::from_millis(2),
                    Duration::from_millis(20),
                )
            };
            let snap = self.reader.counters().snapshot();
            self.watch_deliveries(&mut st, snap.frames_delivered, n);
            if n == 0 {
                if st.stop.is_some() {
                    break;
                }
                let limit = if st.deliveries.last_delivered == 0 {
                    FIRST_AUDIO_TIMEOUT
                } else {
                    DEVICE_GONE
                };
                if !st.paused && st.deliveries.last_delivery.elapsed() >= limit {
                    tracing::error!("no audio from the input device for {limit:?}");
                    st.stop = Some(StopReason::DeviceLost);
                    st.error = Some("the input device stopped delivering audio".into());
                    continue;
                }
                if st.last_report.elapsed() >= Duration::from_millis(250) {
                    st.last_report = Instant::now();
                    self.report_run(&mut st, snap, false);
                }
                continue;
            }
            let data = buf.get(..n).unwrap_or_default();
            let pushed = self.analysis.push_slice(data);
            st.analysis_dropped += (n - pushed) as u64;
            if st.paused {
                continue;
            }
            if !self.write(data, snap, &mut st) {
                break;
            }
        }
        self.stream = None;
        self.finish(
            st.stop.unwrap_or(StopReason::User),
            st.error,
            st.progress,
            &mut st.peaks,
        );
    }

    /// The UI's pause, resume and stop; the device's errors and its loss.
    fn poll_controls(&mut self, st: &mut RunState) {
        for c in self.control.try_iter() {
            match c {
                Control::Pause => st.paused = true,
                Control::Resume => st.paused = false,
                Control::Stop => st.stop = st.stop.or(Some(StopReason::User)),
            }
        }
        if let Some(stream) = &self.stream {
            while let Some(ev) = stream.try_event() {
                match ev {
                    StreamEvent::DeviceLost(m) => {
                        tracing::error!("input device lost: {m}");
                        st.stop = st.stop.or(Some(StopReason::DeviceLost));
                        st.error = st
                            .error
                            .take()
                            .or(Some(format!("the input device was lost ({m})")));
                    }
                    StreamEvent::Error(m) => {
                        tracing::warn!("input device error: {m}");
                        let _ = self.events.send(RecorderEvent::DeviceError(m));
                    }
                }
            }
        }
        if matches!(st.stop, Some(StopReason::User)) && self.stream.is_some() {
            // Stop the device first, then write out everything it delivered.
            self.stream = None;
        }
    }

    /// Watches the device's deliveries after a read of `n` samples: a pause in them longer
    /// than the usual period allows is a gap, marked where the deliveries stopped.
    fn watch_deliveries(&mut self, st: &mut RunState, delivered: u64, n: usize) {
        let ch = self.channels;
        let d = &mut st.deliveries;
        let threshold = d
            .period
            .map_or(STALL_TIMEOUT, |p| (p * 4).clamp(STALL_TIMEOUT, STALL_MAX));
        if delivered != d.last_delivered {
            let interval = d.last_delivery.elapsed();
            let seen_quiet = d.quiet_look.map_or(Duration::ZERO, |q| {
                q.saturating_duration_since(d.last_delivery)
            });
            if d.last_delivered > 0 && interval >= threshold {
                if seen_quiet >= threshold / 2 && !st.paused {
                    // The device went on after a pause: a gap, not the end of the take,
                    // marked where the deliveries stopped.
                    let written = self.take.as_ref().map_or(0, TakeWriter::frames);
                    let at = d
                        .paused_at
                        .take()
                        .unwrap_or(written + (self.reader.pending() / ch) as u64);
                    let ms = interval.as_millis() as u64;
                    tracing::warn!(
                        at_frame = at,
                        "the input device delivered nothing for {ms} ms, then went on"
                    );
                    st.progress.gaps.push((at, ms));
                    let _ = self.events.send(RecorderEvent::Gap { at_frame: at, ms });
                }
            } else if d.last_delivered > 0 {
                // Only the normal intervals make the usual period: not a pause, nor a stretch
                // this thread slept through.
                d.period = Some(d.period.map_or(interval, |p| (p * 7 + interval) / 8));
            }
            d.paused_at = None;
            d.quiet_look = None;
            d.last_delivered = delivered;
            d.last_delivery = Instant::now();
        } else {
            d.quiet_look = Some(Instant::now());
            if n == 0
                && d.last_delivered > 0
                && d.paused_at.is_none()
                && d.last_delivery.elapsed() >= threshold
            {
                // Nothing for a while, and everything delivered is written: the take stands
                // where the pause began.
                d.paused_at = Some(self.take.as_ref().map_or(0, TakeWriter::frames));
            }
        }
    }

    /// Writes a block to the take (cut at the take's length limit), counts overruns and
    /// reports progress; false: the take ends here (no take, or the write failed).
    fn write(&mut self, data: &[f32], snap: CounterSnapshot, st: &mut RunState) -> bool {
        let ch = self.channels;
        let Some(take) = self.take.as_mut() else {
            return false;
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
                st.stop = Some(StopReason::Duration);
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
            st.error = Some(if e.is_disk_full() {
                "the disk is full; the take holds everything recorded until then".to_owned()
            } else {
                e.to_string()
            });
            st.stop = Some(reason);
            self.stream = None;
            return false;
        }
        st.peaks.push(data, ch);
        st.progress.frames_written = take.frames();
        if let Some((at, pause)) = self.config.stall_writer
            && take.frames() as f64 >= at * f64::from(self.rate)
        {
            self.config.stall_writer = None;
            std::thread::sleep(pause);
        }
        if snap.overruns > st.last.overruns {
            let lost = snap.frames_dropped.saturating_sub(st.last.frames_dropped);
            // The gap sits after what was in the ring when the overrun happened.
            let at = take.frames() + (self.reader.pending() / ch) as u64;
            tracing::warn!(
                at_frame = at,
                at_s = at as f64 / f64::from(self.rate),
                frames_lost = lost,
                "overrun: the writer fell behind and {lost} frames were lost"
            );
            st.progress.xruns.push((at, lost));
            st.progress.overruns = snap.overruns;
            st.progress.frames_dropped = snap.frames_dropped;
            let _ = self.events.send(RecorderEvent::Overrun {
                at_frame: at,
                frames_lost: lost,
            });
        }
        st.last = snap;
        if take.frames() >= st.next_report {
            st.next_report = take.frames() + st.report_every;
            st.last_report = Instant::now();
            self.report_run(st, snap, true);
        }
        true
    }

    /// [`Writer::report`] of the loop's state.
    fn report_run(&self, st: &mut RunState, snap: CounterSnapshot, to_db: bool) {
        let RunState {
            progress,
            paused,
            analysis_dropped,
            peaks,
            ..
        } = st;
        self.report(progress, snap, *paused, *analysis_dropped, peaks, to_db);
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

/// The writer loop's state between two reads of the ring.
struct RunState {
    paused: bool,
    stop: Option<StopReason>,
    error: Option<String>,
    progress: SessionProgress,
    /// The ring's counters at the last block written (overruns are counted against it).
    last: CounterSnapshot,
    peaks: PeakBuilder,
    /// Progress is reported every this many frames written (a quarter second).
    report_every: u64,
    next_report: u64,
    last_report: Instant,
    deliveries: Deliveries,
    /// Samples the live analysis ring had no room for.
    analysis_dropped: u64,
}

impl RunState {
    fn new(counters: CounterSnapshot, rate: u32) -> Self {
        let report_every = u64::from(rate / 4).max(1);
        Self {
            paused: false,
            stop: None,
            error: None,
            progress: SessionProgress::default(),
            last: counters,
            peaks: PeakBuilder::default(),
            report_every,
            next_report: report_every,
            last_report: Instant::now(),
            deliveries: Deliveries {
                last_delivered: counters.frames_delivered,
                last_delivery: Instant::now(),
                quiet_look: None,
                period: None,
                paused_at: None,
            },
            analysis_dropped: 0,
        }
    }
}

/// How the device has been delivering.
struct Deliveries {
    /// Frames the device had delivered at the last change.
    last_delivered: u64,
    last_delivery: Instant,
    /// The latest look at the ring that found nothing new since `last_delivery`. A gap is a
    /// pause this thread saw, not one it slept through: a write that blocked on a busy disk
    /// (or a descheduled writer) finds the device's frames waiting in the ring.
    quiet_look: Option<Instant>,
    /// The device's usual time between deliveries (a moving average of the normal ones).
    period: Option<Duration>,
    /// Where the take stood when the device's deliveries paused (the gap's mark).
    paused_at: Option<u64>,
}
