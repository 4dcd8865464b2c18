//! Audio in for whisper: any file symphonia decodes (WAV, FLAC, MP3, Ogg Vorbis), downmixed
//! and resampled with rubato to 16 kHz mono f32, **streamed**: a reader holds one decoded
//! packet and one resampler chunk at a time, so an hour-long file never sits in memory as a
//! whole decoded copy (the transcription pipeline asks for bounded windows of it).

use std::collections::VecDeque;
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use rubato::{FftFixedIn, Resampler};
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::formats::{FormatReader, SeekMode, SeekTo};
use symphonia::core::units::Timestamp;

/// whisper's sample rate.
pub const WHISPER_RATE: u32 = 16_000;

/// Input frames per resampler call.
const RESAMPLE_CHUNK: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    #[error("cannot open the audio file {path}: {message}")]
    Open { path: String, message: String },
    #[error("the audio file {path} is corrupt at {at_ms} ms: {message}")]
    Decode {
        path: String,
        at_ms: u64,
        message: String,
    },
    #[error("cannot resample {rate} Hz audio: {message}")]
    Resample { rate: u32, message: String },
}

/// A 16 kHz mono f32 stream over an audio file.
pub struct Pcm16k {
    path: String,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    source_rate: u32,
    channels: usize,
    /// Frames the container says it holds (at the source rate), when it says.
    declared_frames: Option<u64>,
    resampler: Option<FftFixedIn<f32>>,
    /// Mono samples at the source rate, waiting for a full resampler chunk.
    mono_in: Vec<f32>,
    interleaved: Vec<f32>,
    resampled: Vec<Vec<f32>>,
    /// Output ready to hand out.
    ready: VecDeque<f32>,
    /// Output frames the resampler's delay still owes us the right to drop.
    skip_out: usize,
    source_frames_in: u64,
    frames_out: u64,
    /// Source frames still to drop after a seek landed before its target.
    drop_source: u64,
    eof: bool,
    flushed: bool,
}

impl std::fmt::Debug for Pcm16k {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pcm16k")
            .field("path", &self.path)
            .field("source_rate", &self.source_rate)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl Pcm16k {
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let name = path.display().to_string();
        let open_err = |message: String| AudioError::Open {
            path: name.clone(),
            message,
        };
        let file = File::open(path)
            .and_then(crate::media::streamed_wav::SizeFixed::new)
            .map_err(|e| open_err(e.to_string()))?;
        let extension = path.extension().and_then(|e| e.to_str());
        let opened = catch_unwind(AssertUnwindSafe(|| {
            crate::media::open_track(Box::new(file), extension)
        }))
        .map_err(|_| open_err("the decoder crashed reading its header".into()))?;
        let crate::media::AudioTrack {
            format,
            track_id,
            declared_frames,
            params,
            ..
        } = opened.map_err(|e| open_err(e.to_string()))?;
        let source_rate = params
            .sample_rate
            .filter(|r| *r > 0)
            .ok_or_else(|| open_err("no sample rate".into()))?;
        let channels = params.channels.as_ref().map_or(1, |c| c.count().max(1));
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| open_err(e.to_string()))?;
        let resampler = if source_rate == WHISPER_RATE {
            None
        } else {
            Some(
                FftFixedIn::<f32>::new(
                    source_rate as usize,
                    WHISPER_RATE as usize,
                    RESAMPLE_CHUNK,
                    2,
                    1,
                )
                .map_err(|e| AudioError::Resample {
                    rate: source_rate,
                    message: e.to_string(),
                })?,
            )
        };
        let skip_out = resampler.as_ref().map_or(0, |r| r.output_delay());
        let out_max = resampler.as_ref().map_or(0, |r| r.output_frames_max());
        Ok(Self {
            path: name,
            format,
            decoder,
            track_id,
            source_rate,
            channels,
            declared_frames,
            resampler,
            mono_in: Vec::with_capacity(RESAMPLE_CHUNK * 2),
            interleaved: Vec::new(),
            resampled: vec![vec![0.0; out_max]],
            ready: VecDeque::new(),
            skip_out,
            source_frames_in: 0,
            frames_out: 0,
            drop_source: 0,
            eof: false,
            flushed: false,
        })
    }

    /// The source's sample rate and channel count.
    pub fn source_format(&self) -> (u32, usize) {
        (self.source_rate, self.channels)
    }

    /// How long the file says it is, in 16 kHz samples (for progress), when it says.
    pub fn expected_samples(&self) -> Option<u64> {
        self.declared_frames
            .map(|n| n * u64::from(WHISPER_RATE) / u64::from(self.source_rate))
    }

    /// Samples handed out so far.
    pub fn position(&self) -> u64 {
        self.frames_out
    }

    /// Appends up to `max` samples to `out`; returns how many (0: the end of the file).
    pub fn read(&mut self, out: &mut Vec<f32>, max: usize) -> Result<usize, AudioError> {
        let mut n = 0;
        while n < max {
            if let Some(s) = self.ready.pop_front() {
                out.push(s);
                n += 1;
                self.frames_out += 1;
                continue;
            }
            if self.flushed {
                break;
            }
            self.fill()?;
        }
        Ok(n)
    }

    /// Moves to 16 kHz sample `n` of a fresh stream: a container seek where the format
    /// supports it (WAV, FLAC), else decoding and dropping.
    pub fn seek_to(&mut self, n: u64) -> Result<(), AudioError> {
        if n == 0 {
            return Ok(());
        }
        let target = n * u64::from(self.source_rate) / u64::from(WHISPER_RATE);
        let track_id = self.track_id;
        let seeked = catch_unwind(AssertUnwindSafe(|| {
            self.format.seek(
                SeekMode::Accurate,
                SeekTo::Timestamp {
                    ts: Timestamp::new(target as i64),
                    track_id,
                },
            )
        }));
        match seeked {
            Ok(Ok(to)) => {
                let actual = u64::try_from(to.actual_ts.get()).unwrap_or(0).min(target);
                self.decoder.reset();
                self.mono_in.clear();
                self.ready.clear();
                if let Some(rs) = self.resampler.as_mut() {
                    rs.reset();
                    self.skip_out = rs.output_delay();
                }
                self.drop_source = target - actual;
                self.source_frames_in = target;
                self.frames_out = n;
                Ok(())
            }
            _ => {
                tracing::debug!("seek not supported here; decoding up to the position");
                self.skip(n)
            }
        }
    }

    /// Skips `n` samples (reads and drops them).
    pub fn skip(&mut self, n: u64) -> Result<(), AudioError> {
        let mut scratch = Vec::with_capacity(16_384);
        let mut left = n;
        while left > 0 {
            scratch.clear();
            let got = self.read(&mut scratch, left.min(16_384) as usize)?;
            if got == 0 {
                break;
            }
            left -= got as u64;
        }
        Ok(())
    }

    /// Decodes one packet (or flushes at the end) into `ready`.
    fn fill(&mut self) -> Result<(), AudioError> {
        if !self.eof {
            self.decode_packet()?;
        }
        let Some(rs) = self.resampler.as_mut() else {
            self.ready.extend(self.mono_in.drain(..));
            if self.eof {
                self.flushed = true;
            }
            return Ok(());
        };
        let rate = self.source_rate;
        let rs_err = |e: rubato::ResampleError| AudioError::Resample {
            rate,
            message: e.to_string(),
        };
        let mut consumed = 0;
        while self.mono_in.len() - consumed >= rs.input_frames_next() {
            let need = rs.input_frames_next();
            let (_, produced) = rs
                .process_into_buffer(
                    &[&self.mono_in[consumed..consumed + need]],
                    &mut self.resampled,
                    None,
                )
                .map_err(rs_err)?;
            consumed += need;
            push_out(
                &mut self.ready,
                &self.resampled[0][..produced],
                &mut self.skip_out,
            );
        }
        self.mono_in.drain(..consumed);
        if self.eof {
            // The tail: pad with zeros until every input frame has come out, then stop.
            let total_out =
                (self.source_frames_in * u64::from(WHISPER_RATE)).div_ceil(u64::from(rate));
            let mut produced_total = self.frames_out + self.ready.len() as u64;
            let mut rounds = 0;
            while produced_total < total_out && rounds < 64 {
                let tail = std::mem::take(&mut self.mono_in);
                let input: Option<&[&[f32]]> = if tail.is_empty() {
                    None
                } else {
                    Some(&[&tail[..]])
                };
                let (_, produced) = rs
                    .process_partial_into_buffer(input, &mut self.resampled, None)
                    .map_err(rs_err)?;
                let before = self.ready.len();
                push_out(
                    &mut self.ready,
                    &self.resampled[0][..produced],
                    &mut self.skip_out,
                );
                produced_total += (self.ready.len() - before) as u64;
                rounds += 1;
            }
            let excess = produced_total.saturating_sub(total_out) as usize;
            for _ in 0..excess.min(self.ready.len()) {
                self.ready.pop_back();
            }
            self.flushed = true;
        }
        Ok(())
    }

    fn decode_packet(&mut self) -> Result<(), AudioError> {
        loop {
            let at_ms = self.source_frames_in * 1000 / u64::from(self.source_rate);
            let path = self.path.clone();
            let err = |message: String| AudioError::Decode {
                path: path.clone(),
                at_ms,
                message,
            };
            let packet = match catch_unwind(AssertUnwindSafe(|| self.format.next_packet())) {
                Err(_) => return Err(err("the decoder crashed".into())),
                Ok(Ok(Some(p))) => p,
                Ok(Ok(None)) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(Err(symphonia::core::errors::Error::IoError(e)))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    self.eof = true;
                    return Ok(());
                }
                Ok(Err(e)) => return Err(err(e.to_string())),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoder = &mut self.decoder;
            let interleaved = &mut self.interleaved;
            let decoded = catch_unwind(AssertUnwindSafe(|| match decoder.decode(&packet) {
                Ok(buf) => {
                    buf.copy_to_vec_interleaved::<f32>(interleaved);
                    Ok(Some(buf.spec().channels().count().max(1)))
                }
                Err(symphonia::core::errors::Error::DecodeError(e)) => {
                    tracing::debug!("skipping an undecodable packet: {e}");
                    Ok(None)
                }
                Err(e) => Err(e.to_string()),
            }));
            let channels = match decoded {
                Err(_) => return Err(err("the decoder crashed".into())),
                Ok(Err(m)) => return Err(err(m)),
                Ok(Ok(None)) => continue,
                Ok(Ok(Some(c))) => c,
            };
            // Encoder delay and padding are not audio.
            let frames = self.interleaved.len() / channels;
            let start = (packet.trim_start.get() as usize).min(frames);
            let end = frames
                .saturating_sub(packet.trim_end.get() as usize)
                .max(start);
            let scale = 1.0 / channels as f32;
            for frame in self.interleaved[start * channels..end * channels].chunks_exact(channels) {
                self.mono_in.push(frame.iter().sum::<f32>() * scale);
            }
            self.source_frames_in += (end - start) as u64;
            return Ok(());
        }
    }
}

fn push_out(ready: &mut VecDeque<f32>, produced: &[f32], skip: &mut usize) {
    let drop = (*skip).min(produced.len());
    *skip -= drop;
    ready.extend(&produced[drop..]);
}

/// Reads a whole file as 16 kHz mono (tests and short clips; jobs stream instead).
pub fn read_all(path: &Path) -> Result<Vec<f32>, AudioError> {
    let mut pcm = Pcm16k::open(path)?;
    let mut out = Vec::with_capacity(pcm.expected_samples().unwrap_or(0).min(1 << 26) as usize);
    while pcm.read(&mut out, 1 << 16)? > 0 {}
    Ok(out)
}
