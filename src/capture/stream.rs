//! The input stream: a control thread owns the cpal stream (or the fake device) for its whole
//! life, because a cpal stream may not move between threads. The audio callback only calls
//! [`CallbackSink::push`]; device errors come back on a channel as [`StreamEvent`]s.

use std::str::FromStr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use serde::Serialize;

use super::fake::{FakeDevice, Signal};
use super::ring::{CallbackSink, RingReader, ring};

/// Largest callback converted in one piece (bigger ones are converted in pieces).
const MAX_CALLBACK_FRAMES: usize = 8192;

/// Where audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The host's default input device.
    Default,
    /// A device by id, name or a unique part of its name (see `devices::find`).
    Device(String),
    /// A generated signal delivered in real time, as a device would (tests, demos, no card).
    Fake(FakeSource),
}

/// A fake device: `fake:SIGNAL[:RATE[:CHANNELS]]` on the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeSource {
    pub signal: Signal,
    pub sample_rate: u32,
    pub channels: u16,
    pub callback_frames: usize,
    /// Simulate an unplugged device after this many frames: delivery stops and the stream
    /// reports the device as gone.
    pub unplug_after_frames: Option<u64>,
    /// Simulate a starved audio server after this many frames: nothing is delivered for the
    /// duration, then the audio held back arrives late, all at once (what PulseAudio does on a
    /// loaded machine).
    pub pause_after_frames: Option<(u64, Duration)>,
}

impl FakeSource {
    pub fn new(signal: Signal, sample_rate: u32, channels: u16) -> Self {
        Self {
            signal,
            sample_rate,
            channels,
            callback_frames: (sample_rate / 100).max(1) as usize,
            unplug_after_frames: None,
            pause_after_frames: None,
        }
    }
}

/// The sample rates Verbatim records at: from telephone speech (8 kHz; below it speech is
/// unintelligible and the rate shown would read "0.0 kHz") to the fastest interfaces.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 8_000..=768_000;

impl Source {
    /// Parses what `--device` (and the settings) hold: `default`, `fake:...`, or a device query.
    pub fn parse(s: &str) -> Result<Self, CaptureError> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("default") {
            return Ok(Source::Default);
        }
        let Some(rest) = s.strip_prefix("fake:") else {
            return Ok(Source::Device(s.to_owned()));
        };
        if let Some(path) = rest.strip_prefix("clip:") {
            // The file's samples live as long as the process: a test and demo source.
            let samples = crate::media::decode::read_all(std::path::Path::new(path))
                .map_err(|e| CaptureError::BadSource(format!("fake:clip: {e}")))?;
            let samples: &'static [f32] = Box::leak(samples.into_boxed_slice());
            return Ok(Source::Fake(FakeSource::new(
                Signal::Clip(samples),
                48_000,
                1,
            )));
        }
        let mut parts = rest.split(':');
        let signal = match parts.next().unwrap_or_default() {
            "sine" => Signal::Sine {
                hz: 1000.0,
                amplitude: 0.5,
            },
            "sweep" => Signal::Sweep {
                from_hz: 50.0,
                to_hz: 16_000.0,
                seconds: 8.0,
            },
            "noise" => Signal::Noise { amplitude: 0.3 },
            "silence" => Signal::Silence,
            "clipping" => Signal::Clipping { hz: 440.0 },
            "ramp" => Signal::Ramp,
            other => {
                return Err(CaptureError::BadSource(format!(
                    "unknown fake signal \"{other}\" (sine, sweep, noise, silence, clipping, ramp, clip:PATH)"
                )));
            }
        };
        let bad = |what: &str| CaptureError::BadSource(format!("bad {what} in \"{s}\""));
        let rate = match parts.next() {
            Some(r) => r.parse::<u32>().ok().filter(|r| SAMPLE_RATES.contains(r)),
            None => Some(48_000),
        }
        .ok_or_else(|| {
            CaptureError::BadSource(format!(
                "bad sample rate in \"{s}\": {} Hz to {} kHz",
                SAMPLE_RATES.start(),
                SAMPLE_RATES.end() / 1000
            ))
        })?;
        let channels = match parts.next() {
            Some(c) => c.parse::<u16>().ok().filter(|c| (1..=64).contains(c)),
            None => Some(2),
        }
        .ok_or_else(|| bad("channel count"))?;
        Ok(Source::Fake(FakeSource::new(signal, rate, channels)))
    }
}

/// Why capture could not start or went on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error("no input device: connect a microphone or choose another input")]
    NoDevice,
    #[error("{0}")]
    BadSource(String),
    #[error("the input device cannot record: {0}")]
    Config(String),
    #[error("{0} samples are not supported")]
    UnsupportedFormat(String),
    #[error("cannot start recording from the input device: {0}")]
    Build(String),
    #[error("cannot create the recording file: {0}")]
    File(String),
    #[error("the capture thread could not start: {0}")]
    Thread(String),
}

/// What the opened stream delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamFormat {
    pub device_id: Option<String>,
    pub device_name: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// The device's own sample format (converted to f32 in the callback).
    pub sample_format: String,
}

/// Something the device said after the stream started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// The device is gone (unplugged, server stopped): no more audio will come.
    DeviceLost(String),
    /// Any other error the backend reported; capture may go on.
    Error(String),
}

/// The running input stream. Dropping it stops the stream and joins the control thread.
#[derive(Debug)]
pub struct InputStream {
    stop: Option<Sender<()>>,
    events: Receiver<StreamEvent>,
    thread: Option<JoinHandle<()>>,
    format: StreamFormat,
}

impl InputStream {
    /// Opens `source` with a ring of `ring_seconds` and starts it. Returns once the device
    /// runs (or failed to start).
    pub fn open(source: &Source, ring_seconds: f32) -> Result<(Self, RingReader), CaptureError> {
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let (event_tx, event_rx) = crossbeam_channel::bounded(64);
        let source = source.clone();
        let thread = std::thread::Builder::new()
            .name("verbatim-capture-control".into())
            .spawn(move || control_thread(source, ring_seconds, ready_tx, stop_rx, event_tx))
            .map_err(|e| CaptureError::Thread(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok((format, reader))) => Ok((
                Self {
                    stop: Some(stop_tx),
                    events: event_rx,
                    thread: Some(thread),
                    format,
                },
                reader,
            )),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(CaptureError::Thread("the capture thread ended".into()))
            }
        }
    }

    pub fn format(&self) -> &StreamFormat {
        &self.format
    }

    /// The next device event, if any.
    pub fn try_event(&self) -> Option<StreamEvent> {
        self.events.try_recv().ok()
    }
}

impl Drop for InputStream {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the capture control thread panicked");
        }
    }
}

type Ready = Result<(StreamFormat, RingReader), CaptureError>;

fn control_thread(
    source: Source,
    ring_seconds: f32,
    ready: Sender<Ready>,
    stop: Receiver<()>,
    events: Sender<StreamEvent>,
) {
    let _span = tracing::info_span!("capture_control").entered();
    match source {
        Source::Fake(fake) => run_fake(fake, ring_seconds, ready, stop, events),
        Source::Default | Source::Device(_) => {
            let stream = match open_cpal(&source, ring_seconds, events) {
                Ok((stream, format, reader)) => {
                    tracing::info!(
                        device = %format.device_name,
                        rate = format.sample_rate,
                        channels = format.channels,
                        format = %format.sample_format,
                        "input stream started"
                    );
                    let _ = ready.send(Ok((format, reader)));
                    stream
                }
                Err(e) => {
                    tracing::warn!("cannot open the input: {e}");
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            // Hold the stream until told to stop (or the owner is gone).
            let _ = stop.recv();
            drop(stream);
            tracing::info!("input stream stopped");
        }
    }
}

fn ring_frames(rate: u32, seconds: f32) -> usize {
    ((rate as f32 * seconds.max(0.1)) as usize).max(MAX_CALLBACK_FRAMES * 2)
}

fn open_cpal(
    source: &Source,
    ring_seconds: f32,
    events: Sender<StreamEvent>,
) -> Result<(cpal::Stream, StreamFormat, RingReader), CaptureError> {
    let host = cpal::default_host();
    let device = match source {
        Source::Device(query) => {
            let by_id = cpal::DeviceId::from_str(query)
                .ok()
                .and_then(|id| host.device_by_id(&id));
            match by_id {
                Some(d) => d,
                None => {
                    let list = super::devices::list_inputs();
                    let found =
                        super::devices::find(&list, query).map_err(CaptureError::BadSource)?;
                    cpal::DeviceId::from_str(&found.id)
                        .ok()
                        .and_then(|id| host.device_by_id(&id))
                        .ok_or(CaptureError::NoDevice)?
                }
            }
        }
        _ => host.default_input_device().ok_or(CaptureError::NoDevice)?,
    };
    let device_id = device.id().ok().map(|id| id.to_string());
    let device_name = device
        .description()
        .map(|d| d.name().to_owned())
        .ok()
        .or_else(|| device_id.clone())
        .unwrap_or_else(|| "input device".to_owned());
    let supported = device
        .default_input_config()
        .map_err(|e| CaptureError::Config(e.to_string()))?;
    if !SAMPLE_RATES.contains(&supported.sample_rate()) {
        return Err(CaptureError::Config(format!(
            "the device records at {} Hz; Verbatim records at {} Hz to {} kHz",
            supported.sample_rate(),
            SAMPLE_RATES.start(),
            SAMPLE_RATES.end() / 1000
        )));
    }
    let format = StreamFormat {
        device_id,
        device_name,
        sample_rate: supported.sample_rate(),
        channels: supported.channels(),
        sample_format: supported.sample_format().to_string(),
    };
    let config: cpal::StreamConfig = supported.config();
    let (sink, reader) = ring(
        ring_frames(format.sample_rate, ring_seconds),
        format.channels,
        MAX_CALLBACK_FRAMES,
    );
    let stream = match supported.sample_format() {
        SampleFormat::I8 => build::<i8>(&device, &config, sink, events),
        SampleFormat::I16 => build::<i16>(&device, &config, sink, events),
        SampleFormat::I24 => build::<cpal::I24>(&device, &config, sink, events),
        SampleFormat::I32 => build::<i32>(&device, &config, sink, events),
        SampleFormat::I64 => build::<i64>(&device, &config, sink, events),
        SampleFormat::U8 => build::<u8>(&device, &config, sink, events),
        SampleFormat::U16 => build::<u16>(&device, &config, sink, events),
        SampleFormat::U24 => build::<cpal::U24>(&device, &config, sink, events),
        SampleFormat::U32 => build::<u32>(&device, &config, sink, events),
        SampleFormat::U64 => build::<u64>(&device, &config, sink, events),
        SampleFormat::F32 => build::<f32>(&device, &config, sink, events),
        SampleFormat::F64 => build::<f64>(&device, &config, sink, events),
        other => return Err(CaptureError::UnsupportedFormat(other.to_string())),
    }?;
    stream
        .play()
        .map_err(|e| CaptureError::Build(e.to_string()))?;
    Ok((stream, format, reader))
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut sink: CallbackSink,
    events: Sender<StreamEvent>,
) -> Result<cpal::Stream, CaptureError>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    device
        .build_input_stream::<T, _, _>(
            *config,
            // The real-time callback: convert and push, nothing else.
            move |data: &[T], _: &cpal::InputCallbackInfo| sink.push(data),
            // Not the audio path: errors are rare, and reported to the writer thread.
            move |err: cpal::Error| {
                let lost = matches!(
                    err.kind(),
                    cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::HostUnavailable
                );
                let msg = err.to_string();
                let _ = events.try_send(if lost {
                    StreamEvent::DeviceLost(msg)
                } else {
                    StreamEvent::Error(msg)
                });
            },
            None,
        )
        .map_err(|e| match e.kind() {
            cpal::ErrorKind::DeviceNotAvailable => CaptureError::NoDevice,
            _ => CaptureError::Build(e.to_string()),
        })
}

/// The fake device in real time: one callback every `callback_frames / rate` seconds, on
/// deadlines (no drift), from this thread as a driver's thread would.
fn run_fake(
    mut fake: FakeSource,
    ring_seconds: f32,
    ready: Sender<Ready>,
    stop: Receiver<()>,
    events: Sender<StreamEvent>,
) {
    let (mut sink, reader) = ring(
        ring_frames(fake.sample_rate, ring_seconds),
        fake.channels,
        fake.callback_frames.max(1),
    );
    let format = StreamFormat {
        device_id: Some(format!("fake:{}", signal_name(fake.signal))),
        device_name: format!("Test signal ({})", signal_name(fake.signal)),
        sample_rate: fake.sample_rate,
        channels: fake.channels,
        sample_format: "f32".into(),
    };
    if ready.send(Ok((format, reader))).is_err() {
        return;
    }
    let mut device = FakeDevice::new(
        fake.signal,
        fake.sample_rate,
        fake.channels,
        fake.callback_frames,
    );
    let period = Duration::from_secs_f64(fake.callback_frames as f64 / fake.sample_rate as f64);
    let start = Instant::now();
    let mut n: u32 = 0;
    let mut unplugged = false;
    loop {
        let deadline = start + period * n;
        let wait = deadline.saturating_duration_since(Instant::now());
        match stop.recv_timeout(wait) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if unplugged {
            n = n.saturating_add(1);
            continue;
        }
        if fake
            .unplug_after_frames
            .is_some_and(|limit| device.position() >= limit)
        {
            unplugged = true;
            let _ = events.try_send(StreamEvent::DeviceLost(
                "the test device was unplugged".into(),
            ));
            continue;
        }
        if let Some((at, pause)) = fake.pause_after_frames
            && device.position() >= at
        {
            fake.pause_after_frames = None;
            // The deadlines stay where they were: what is due meanwhile comes out in a burst.
            match stop.recv_timeout(pause) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        device.callback(&mut sink);
        n = n.saturating_add(1);
    }
}

fn signal_name(s: Signal) -> &'static str {
    match s {
        Signal::Sine { .. } => "sine",
        Signal::Sweep { .. } => "sweep",
        Signal::Noise { .. } => "noise",
        Signal::Silence => "silence",
        Signal::Clipping { .. } => "clipping",
        Signal::Ramp => "ramp",
        Signal::Clip(_) => "clip",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn sources_parse_from_what_the_user_types() {
        assert_eq!(Source::parse("").unwrap(), Source::Default);
        assert_eq!(Source::parse("default").unwrap(), Source::Default);
        assert_eq!(
            Source::parse("alsa:pulse").unwrap(),
            Source::Device("alsa:pulse".into())
        );
        let Source::Fake(f) = Source::parse("fake:ramp:16000:1").unwrap() else {
            panic!("not fake")
        };
        assert_eq!(
            (f.signal, f.sample_rate, f.channels),
            (Signal::Ramp, 16_000, 1)
        );
        assert!(Source::parse("fake:banjo").is_err());
        assert!(Source::parse("fake:sine:0").is_err());
        // Issue 28: a 1 Hz device was recorded as "0.0 kHz".
        for r in ["1", "7999", "768001"] {
            let e = Source::parse(&format!("fake:sine:{r}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("8000 Hz to 768 kHz"), "{e}");
        }
        assert!(Source::parse("fake:sine:8000").is_ok());
        assert!(Source::parse("fake:sine:48000:x").is_err());
    }

    #[test]
    fn the_fake_device_delivers_in_real_time_and_stops_on_drop() {
        let mut fake = FakeSource::new(Signal::Ramp, 8_000, 1);
        fake.callback_frames = 80;
        let (stream, mut reader) = InputStream::open(&Source::Fake(fake), 1.0).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let mut buf = vec![0.0; 8_000];
        let n = reader.read(&mut buf);
        // 300 ms at 8 kHz is 2,400 frames; allow for a slow machine.
        assert!((1_200..=3_200).contains(&n), "{n}");
        for (i, s) in buf[..n].iter().enumerate() {
            assert_eq!(*s, i as f32 / 16_777_216.0);
        }
        drop(stream);
    }

    #[test]
    fn an_unplugged_fake_device_says_so() {
        let mut fake = FakeSource::new(
            Signal::Sine {
                hz: 100.0,
                amplitude: 0.5,
            },
            8_000,
            1,
        );
        fake.callback_frames = 80;
        fake.unplug_after_frames = Some(400);
        let (stream, _reader) = InputStream::open(&Source::Fake(fake), 1.0).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(matches!(
            stream.try_event(),
            Some(StreamEvent::DeviceLost(_))
        ));
    }
}
