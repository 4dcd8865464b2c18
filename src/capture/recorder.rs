//! The recorder: an input stream, a writer thread that drains its ring into a crash-safe take,
//! and the session row that says what is being recorded.
//!
//! The writer thread ([`super::writer`]) owns everything on the slow side of the ring: the take file (and an
//! exclusive lock on it, so recovery leaves a live take alone), the overrun log, the peak
//! summaries, and the session's progress in the database (queued to the database writer every
//! 250 ms of audio). It never waits on the UI: it talks to the ECS through an event channel and
//! a second, lossy ring that only feeds the live analysis (a frozen UI drops display frames,
//! never audio on disk). It sleeps when the ring is empty; it never spins.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use ringbuf::traits::{Consumer, Split};
use ringbuf::{HeapCons, HeapRb};

use super::stream::{CaptureError, InputStream, StreamFormat};
use super::wav::{Durability, TakeWriter};
use super::writer::{Control, Writer};
pub use super::writer::{
    DEVICE_GONE, FIRST_AUDIO_TIMEOUT, RESERVE_BYTES, STALL_MAX, STALL_TIMEOUT,
};
pub use super::writer::{Finished, Progress, RecorderConfig, RecorderEvent, TakeStored};
use crate::capture;
use crate::capture::sql::NewRecordingSession;
use crate::storage::ids::SessionId;
use crate::storage::now_ms;
use crate::storage::writer::{DbSender, command};

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
