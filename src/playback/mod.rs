//! Playback for the editor: a cpal output stream owned by a control thread, play / pause /
//! seek / loop a span / speed 0.5×–2×. The audio is decoded once to 16 kHz mono (the rate
//! whisper saw; plenty for speech) by the control thread; the callback owns its copy and reads
//! play state, speed, seek and loop requests from atomics, and publishes its position the
//! same way: no lock, allocation or I/O on the audio thread.
//!
//! Speed changes the rate (and so the pitch), like a tape: no well-kept Rust crate does
//! real-time time-stretching we could vouch for, and at 0.5×–2× speech stays intelligible.
//! Without an output device the editor works and says playback is unavailable.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use bevy::prelude::*;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use crossbeam_channel::{Receiver, Sender};

use crate::media::decode::{WHISPER_RATE, read_all};

const NONE: u64 = u64::MAX;

/// State shared with the audio callback.
#[derive(Debug)]
pub struct Shared {
    /// Position in 16 kHz samples (published by the callback).
    pub position: AtomicU64,
    pub playing: AtomicBool,
    /// Speed in thousandths (1000 = 1×).
    pub speed_milli: AtomicU32,
    /// A seek request (16 kHz samples), `u64::MAX` when none.
    pub seek_to: AtomicU64,
    /// Loop span in samples; `loop_end == 0`: no loop.
    pub loop_start: AtomicU64,
    pub loop_end: AtomicU64,
    /// Samples loaded (the end).
    pub len: AtomicU64,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            position: AtomicU64::new(0),
            playing: AtomicBool::new(false),
            speed_milli: AtomicU32::new(1000),
            seek_to: AtomicU64::new(NONE),
            loop_start: AtomicU64::new(0),
            loop_end: AtomicU64::new(0),
            len: AtomicU64::new(0),
        }
    }
}

/// The callback's own state.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cursor {
    pub pos: f64,
}

/// Fills `out` (interleaved, `channels`) from `samples` at `device_rate`: the callback's whole
/// job, separate so it can be tested without a device.
pub fn fill(
    out: &mut [f32],
    channels: usize,
    device_rate: u32,
    samples: &[f32],
    shared: &Shared,
    cursor: &mut Cursor,
) {
    let seek = shared.seek_to.swap(NONE, Ordering::AcqRel);
    if seek != NONE {
        cursor.pos = seek as f64;
    }
    let playing = shared.playing.load(Ordering::Acquire);
    let speed = f64::from(shared.speed_milli.load(Ordering::Relaxed).clamp(500, 2000)) / 1000.0;
    let step = f64::from(WHISPER_RATE) / f64::from(device_rate.max(1)) * speed;
    let (ls, le) = (
        shared.loop_start.load(Ordering::Relaxed) as f64,
        shared.loop_end.load(Ordering::Relaxed) as f64,
    );
    let end = samples.len() as f64;
    for frame in out.chunks_exact_mut(channels.max(1)) {
        let v = if playing && cursor.pos < end {
            let i = cursor.pos as usize;
            let frac = (cursor.pos - i as f64) as f32;
            let a = samples.get(i).copied().unwrap_or(0.0);
            let b = samples.get(i + 1).copied().unwrap_or(a);
            cursor.pos += step;
            if le > ls && cursor.pos >= le {
                cursor.pos = ls;
            }
            a + (b - a) * frac
        } else {
            0.0
        };
        frame.fill(v);
    }
    if playing && cursor.pos >= end {
        shared.playing.store(false, Ordering::Release);
    }
    // A hair of slack: thirds of a sample (48 kHz -> 16 kHz) must not publish as 1599.999.
    shared
        .position
        .store((cursor.pos + 1e-6).min(end) as u64, Ordering::Release);
}

enum Ctl {
    Load(PathBuf),
    /// Samples (16 kHz mono) someone already decoded: nothing is decoded again.
    Samples(Arc<[f32]>),
}

/// Whether playback works here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayerStatus {
    Idle,
    Loading,
    Ready,
    Unavailable(String),
}

/// The player (a resource).
#[derive(Resource)]
pub struct Player {
    pub shared: Arc<Shared>,
    control: Option<Sender<Ctl>>,
    status_rx: Receiver<PlayerStatus>,
    pub status: PlayerStatus,
    pub loaded: Option<PathBuf>,
}

impl Player {
    /// Starts the control thread (which opens the default output device per file).
    pub fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let (tx, rx) = crossbeam_channel::unbounded();
        let (status_tx, status_rx) = crossbeam_channel::unbounded();
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("verbatim-playback".into())
            .spawn(move || control(rx, s, status_tx));
        let control = match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::error!("cannot start the playback thread: {e}");
                None
            }
        };
        Self {
            shared,
            control,
            status_rx,
            status: PlayerStatus::Idle,
            loaded: None,
        }
    }

    pub fn load(&mut self, path: &Path) {
        self.loaded = Some(path.to_path_buf());
        self.shared.playing.store(false, Ordering::Release);
        if let Some(c) = &self.control {
            let _ = c.send(Ctl::Load(path.to_path_buf()));
            self.status = PlayerStatus::Loading;
        }
    }

    /// Plays these already decoded samples (16 kHz mono) of `path`: the editor decodes a
    /// file once and shares it with its waveform.
    pub fn load_samples(&mut self, path: &Path, samples: Arc<[f32]>) {
        self.loaded = Some(path.to_path_buf());
        self.shared.playing.store(false, Ordering::Release);
        if let Some(c) = &self.control {
            let _ = c.send(Ctl::Samples(samples));
            self.status = PlayerStatus::Loading;
        }
    }

    pub fn play(&self) {
        self.shared.playing.store(true, Ordering::Release);
    }

    pub fn pause(&self) {
        self.shared.playing.store(false, Ordering::Release);
    }

    pub fn toggle(&self) {
        self.shared.playing.fetch_xor(true, Ordering::AcqRel);
    }

    pub fn is_playing(&self) -> bool {
        self.shared.playing.load(Ordering::Acquire)
    }

    pub fn seek_ms(&self, ms: u64) {
        let s = ms * u64::from(WHISPER_RATE) / 1000;
        self.shared.seek_to.store(s, Ordering::Release);
        // The UI sees the new position at once, before the callback runs.
        self.shared.position.store(s, Ordering::Release);
    }

    pub fn position_ms(&self) -> u64 {
        self.shared.position.load(Ordering::Acquire) * 1000 / u64::from(WHISPER_RATE)
    }

    pub fn speed(&self) -> f32 {
        self.shared.speed_milli.load(Ordering::Relaxed) as f32 / 1000.0
    }

    pub fn set_speed(&self, speed: f32) {
        let m = (speed.clamp(0.5, 2.0) * 1000.0).round() as u32;
        self.shared.speed_milli.store(m, Ordering::Relaxed);
    }

    /// Loops `start..end` ms; `None` stops looping.
    pub fn set_loop(&self, span: Option<(u64, u64)>) {
        let (a, b) = span.map_or((0, 0), |(a, b)| {
            (
                a * u64::from(WHISPER_RATE) / 1000,
                b * u64::from(WHISPER_RATE) / 1000,
            )
        });
        self.shared.loop_start.store(a, Ordering::Relaxed);
        self.shared.loop_end.store(b, Ordering::Relaxed);
    }

    fn poll_status(&mut self) {
        while let Ok(s) = self.status_rx.try_recv() {
            self.status = s;
        }
    }
}

fn control(rx: Receiver<Ctl>, shared: Arc<Shared>, status: Sender<PlayerStatus>) {
    let mut stream: Option<cpal::Stream> = None;
    for ctl in rx {
        drop(stream.take());
        let samples: Arc<[f32]> = match ctl {
            Ctl::Samples(s) => s,
            Ctl::Load(path) => match read_all(&path) {
                Ok(s) => s.into(),
                Err(e) => {
                    let _ = status.send(PlayerStatus::Unavailable(format!(
                        "cannot read the audio: {e}"
                    )));
                    continue;
                }
            },
        };
        shared.len.store(samples.len() as u64, Ordering::Release);
        match open_stream(samples, shared.clone()) {
            Ok(s) => {
                stream = Some(s);
                let _ = status.send(PlayerStatus::Ready);
            }
            Err(e) => {
                tracing::warn!("playback unavailable: {e}");
                let _ = status.send(PlayerStatus::Unavailable(e));
            }
        }
    }
}

fn open_stream(samples: Arc<[f32]>, shared: Arc<Shared>) -> Result<cpal::Stream, String> {
    let host = cpal::default_host();
    let device = host
        .default_output_device()
        .ok_or_else(|| "no audio output device".to_string())?;
    let config = device
        .default_output_config()
        .map_err(|e| format!("the output device has no usable format: {e}"))?;
    let channels = usize::from(config.channels());
    let rate = config.sample_rate();
    let format = config.sample_format();
    let mut cursor = Cursor::default();
    // A stream in trouble can report an error thousands of times a second (a PulseAudio null
    // sink did 69,000 in one): the first is logged, then one line each time the count
    // reaches the next power of ten.
    let errors = std::sync::atomic::AtomicU64::new(0);
    let err = move |e: cpal::Error| {
        let n = errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if n.checked_ilog10() != (n - 1).checked_ilog10() {
            tracing::warn!("playback stream error: {e} ({n} so far)");
        }
    };
    let stream = match format {
        cpal::SampleFormat::F32 => device.build_output_stream(
            config.into(),
            move |out: &mut [f32], _| fill(out, channels, rate, &samples, &shared, &mut cursor),
            err,
            None,
        ),
        cpal::SampleFormat::I16 => {
            // Scratch sized before the stream starts; larger requests are filled in pieces.
            let mut scratch = vec![0f32; 8192 * channels.max(1)];
            device.build_output_stream(
                config.into(),
                move |out: &mut [i16], _| {
                    for chunk in out.chunks_mut(scratch.len()) {
                        let buf = &mut scratch[..chunk.len()];
                        fill(buf, channels, rate, &samples, &shared, &mut cursor);
                        for (o, s) in chunk.iter_mut().zip(buf.iter()) {
                            *o = (s.clamp(-1.0, 1.0) * 32767.0) as i16;
                        }
                    }
                },
                err,
                None,
            )
        }
        other => {
            return Err(format!(
                "the output device wants {other} samples (f32 and i16 are supported)"
            ));
        }
    }
    .map_err(|e| format!("cannot open the output stream: {e}"))?;
    stream
        .play()
        .map_err(|e| format!("cannot start the output stream: {e}"))?;
    Ok(stream)
}

/// What the user asks of the player (the editor's keys and buttons); seeking goes through
/// the editor, which knows the document.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub enum PlayerCommand {
    TogglePlay,
    SetSpeed(f32),
    /// Loop `start..end` ms; `None` stops looping.
    Loop(Option<(u64, u64)>),
}

pub struct PlaybackPlugin;

impl Plugin for PlaybackPlugin {
    fn build(&self, app: &mut App) {
        use crate::schedule::{AppSystems, Feature};
        app.insert_resource(Player::start())
            .add_message::<PlayerCommand>()
            .add_systems(
                Update,
                (
                    poll_status.in_set(AppSystems::Ingest.of(Feature::Playback)),
                    apply_commands.in_set(AppSystems::Apply.of(Feature::Playback)),
                ),
            );
    }
}

fn apply_commands(mut commands: MessageReader<PlayerCommand>, player: Res<Player>) {
    for c in commands.read() {
        match *c {
            PlayerCommand::TogglePlay => player.toggle(),
            PlayerCommand::SetSpeed(s) => player.set_speed(s),
            PlayerCommand::Loop(span) => player.set_loop(span),
        }
    }
}

fn poll_status(mut player: ResMut<Player>) {
    player.poll_status();
}
