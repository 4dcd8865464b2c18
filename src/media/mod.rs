//! Media probing: what is in an audio file, checked by decoding all of it.
//!
//! Every file is hostile. symphonia has open crashes on tiny inputs (an ID3v2 tag reaching
//! `unreachable!()`, a Xing header dividing by zero, header-driven huge allocations), so
//! [`probe_file`] runs the probe and the decode behind `catch_unwind`, refuses files over a
//! size cap, and refuses headers that claim more audio, channels or frames per packet than
//! any real recording has before a decoder gets to allocate for them.

pub mod decode;
pub mod streamed_wav;

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

/// What a probe found. Every field was checked by decoding the whole stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// Container short name (`wav`, `flac`, `mp3`, `ogg`, ...).
    pub container: String,
    /// Codec short name (`pcm_s16le`, `flac`, `mp3`, `vorbis`, ...).
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// Frames (samples per channel) actually decoded.
    pub frames: u64,
    pub duration_ms: u64,
}

/// Limits that keep a hostile or absurd file from exhausting the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeLimits {
    /// Largest file accepted, in bytes.
    pub max_bytes: u64,
    /// Longest audio accepted, in seconds.
    pub max_seconds: u64,
    /// Most channels accepted.
    pub max_channels: usize,
    /// Largest claimed packet, in frames (decoders allocate for it up front).
    pub max_frames_per_packet: u64,
}

impl Default for ProbeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024 * 1024 * 1024,
            max_seconds: 24 * 3600,
            max_channels: 32,
            max_frames_per_packet: 1 << 20,
        }
    }
}

/// Why a file cannot be used as audio. Messages name the reason; callers add the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ProbeError {
    #[error("file not found")]
    NotFound,
    #[error("is a directory, not an audio file")]
    IsDirectory,
    #[error("is not a regular file")]
    NotAFile,
    #[error("file is empty")]
    Empty,
    #[error("file is too large ({size} bytes; the limit is {limit} bytes)")]
    TooLarge { size: u64, limit: u64 },
    #[error("audio is too long ({seconds} s; the limit is {limit} s)")]
    TooLong { seconds: u64, limit: u64 },
    #[error("unsupported format: {0} (Verbatim reads WAV, FLAC, MP3 and Ogg Vorbis)")]
    Unsupported(String),
    #[error("contains no audio track")]
    NoAudioTrack,
    #[error("contains no audio samples")]
    NoSamples,
    #[error("file is truncated: it declares {expected} frames but only {decoded} could be read")]
    Truncated { expected: u64, decoded: u64 },
    #[error("file is corrupt: {0}")]
    Corrupt(String),
    #[error("the decoder crashed on this file ({0}); the file is probably corrupt")]
    DecoderCrashed(String),
    #[error("cannot read the file: {0}")]
    Io(String),
}

/// Probes and fully decodes `path`. `name_hint` (usually the original file name) lets the
/// prober try the format its extension suggests first.
pub fn probe_file(
    path: &Path,
    name_hint: &Path,
    limits: &ProbeLimits,
) -> Result<MediaInfo, ProbeError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    if meta.is_dir() {
        return Err(ProbeError::IsDirectory);
    }
    if !meta.is_file() {
        return Err(ProbeError::NotAFile);
    }
    if meta.len() == 0 {
        return Err(ProbeError::Empty);
    }
    if meta.len() > limits.max_bytes {
        return Err(ProbeError::TooLarge {
            size: meta.len(),
            limit: limits.max_bytes,
        });
    }
    let file = File::open(path)
        .and_then(streamed_wav::SizeFixed::new)
        .map_err(|e| io_error(path, e))?;
    let extension = name_hint
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match catch_unwind(AssertUnwindSafe(|| {
        probe_source(file, extension.as_deref(), limits)
    })) {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            tracing::warn!(file = %path.display(), panic = %what, "symphonia panicked while probing");
            Err(ProbeError::DecoderCrashed(what))
        }
    }
}

/// The same checks on bytes in memory (the fuzz target and its corpus replay use this).
pub fn probe_bytes(
    bytes: Vec<u8>,
    extension: Option<&str>,
    limits: &ProbeLimits,
) -> Result<MediaInfo, ProbeError> {
    if bytes.is_empty() {
        return Err(ProbeError::Empty);
    }
    if bytes.len() as u64 > limits.max_bytes {
        return Err(ProbeError::TooLarge {
            size: bytes.len() as u64,
            limit: limits.max_bytes,
        });
    }
    catch_unwind(AssertUnwindSafe(|| {
        match streamed_wav::SizeFixed::new(std::io::Cursor::new(bytes)) {
            Ok(source) => probe_source(source, extension, limits),
            Err(e) => Err(ProbeError::Io(e.to_string())),
        }
    }))
    .unwrap_or_else(|_| Err(ProbeError::DecoderCrashed("panic while probing".to_owned())))
}

fn io_error(path: &Path, e: std::io::Error) -> ProbeError {
    match e.kind() {
        std::io::ErrorKind::NotFound => ProbeError::NotFound,
        _ => ProbeError::Io(format!("{}: {e}", PathBuf::from(path).display())),
    }
}

fn symphonia_error(e: SymphoniaError) -> ProbeError {
    match e {
        SymphoniaError::Unsupported(what) => ProbeError::Unsupported(what.to_owned()),
        SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            ProbeError::Corrupt("ends before its header is complete".to_owned())
        }
        SymphoniaError::IoError(e) => ProbeError::Io(e.to_string()),
        SymphoniaError::LimitError(what) => {
            ProbeError::Corrupt(format!("exceeds a decoder limit: {what}"))
        }
        other => ProbeError::Corrupt(other.to_string()),
    }
}

/// An audio track found by probing, ready to decode.
pub(crate) struct AudioTrack {
    pub format: Box<dyn symphonia::core::formats::FormatReader>,
    pub track_id: u32,
    /// Frames the container declares, when it does.
    pub declared_frames: Option<u64>,
    pub params: AudioCodecParameters,
    /// Container short name (`wav`, `flac`, `mp3`, `ogg`, ...).
    pub container: String,
}

/// Probes `source` (the extension, when known, is tried first) and finds its audio track.
/// Shared by the import probe and the transcription decoder.
pub(crate) fn open_track(
    source: Box<dyn symphonia::core::io::MediaSource>,
    extension: Option<&str>,
) -> Result<AudioTrack, ProbeError> {
    let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(symphonia_error)?;
    let container = match format
        .format_info()
        .short_name
        .to_ascii_lowercase()
        .as_str()
    {
        "wave" | "riff" => "wav".to_owned(),
        other => other.to_owned(),
    };
    let track = format
        .default_track(TrackType::Audio)
        .ok_or(ProbeError::NoAudioTrack)?;
    let track_id = track.id;
    let declared_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .cloned()
        .ok_or(ProbeError::NoAudioTrack)?;
    Ok(AudioTrack {
        format,
        track_id,
        declared_frames,
        params,
        container,
    })
}

fn probe_source<S>(
    source: S,
    extension: Option<&str>,
    limits: &ProbeLimits,
) -> Result<MediaInfo, ProbeError>
where
    S: symphonia::core::io::MediaSource + 'static,
{
    let AudioTrack {
        mut format,
        track_id,
        declared_frames,
        params,
        container,
    } = open_track(Box::new(source), extension)?;

    let sample_rate = check_declared(&params, declared_frames, limits)?;
    let max_frames = limits.max_seconds.saturating_mul(u64::from(sample_rate));

    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(symphonia_error)?;
    let codec = decoder.codec_info().short_name.to_owned();

    let mut decoded: u64 = 0;
    let mut channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    let mut packets: u64 = 0;
    let mut bad_packets: u64 = 0;
    let mut hit_eof_error = false;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                hit_eof_error = true;
                break;
            }
            Err(SymphoniaError::ResetRequired) => {
                return Err(ProbeError::Unsupported(
                    "a stream whose parameters change mid-file".to_owned(),
                ));
            }
            Err(e) => {
                if decoded == 0 {
                    return Err(symphonia_error(e));
                }
                // Damage after some good audio: keep what decodes, but say so below.
                tracing::debug!(error = %e, "packet read error after {decoded} frames");
                hit_eof_error = true;
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        packets += 1;
        match decoder.decode(&packet) {
            Ok(buf) => {
                // Encoder delay and padding are decoded but are not part of the audio.
                let trim = packet
                    .trim_start
                    .get()
                    .saturating_add(packet.trim_end.get());
                decoded += (buf.frames() as u64).saturating_sub(trim);
                channels = channels.max(buf.spec().channels().count());
            }
            Err(SymphoniaError::DecodeError(_)) => bad_packets += 1,
            Err(e) => return Err(symphonia_error(e)),
        }
        if decoded > max_frames {
            return Err(ProbeError::TooLong {
                seconds: decoded / u64::from(sample_rate),
                limit: limits.max_seconds,
            });
        }
    }

    if decoded == 0 {
        return Err(if let Some(expected) = declared_frames.filter(|n| *n > 0) {
            ProbeError::Corrupt(format!(
                "declares {expected} frames but none of them decode"
            ))
        } else if bad_packets > 0 {
            ProbeError::Corrupt(format!("none of its {packets} audio packets decode"))
        } else if hit_eof_error {
            ProbeError::Corrupt("ends before any audio".to_owned())
        } else {
            ProbeError::NoSamples
        });
    }
    // More than 1 in 10 packets undecodable is damage, not a glitch.
    if bad_packets * 10 > packets {
        return Err(ProbeError::Corrupt(format!(
            "{bad_packets} of its {packets} audio packets do not decode"
        )));
    }
    if let Some(expected) = declared_frames {
        // Allow for encoder delay/padding accounting: at most one packet, and at most 2% of
        // the declared length (so a short file cut short is still caught).
        let slack = params
            .max_frames_per_packet
            .unwrap_or(2304)
            .min(expected / 50);
        if decoded + slack < expected {
            return Err(ProbeError::Truncated { expected, decoded });
        }
    } else if hit_eof_error {
        return Err(ProbeError::Corrupt(format!(
            "is cut off after {decoded} frames"
        )));
    }
    // The container's playable length (without encoder delay and padding) where it states one.
    let frames = declared_frames
        .filter(|n| *n > 0)
        .map_or(decoded, |n| n.min(decoded));
    if channels == 0 || channels > limits.max_channels {
        return Err(ProbeError::Corrupt(format!(
            "decodes to {channels} channels"
        )));
    }
    let channels =
        u16::try_from(channels).map_err(|_| ProbeError::Corrupt("too many channels".to_owned()))?;
    Ok(MediaInfo {
        container,
        codec,
        sample_rate,
        channels,
        frames,
        duration_ms: frames.saturating_mul(1000) / u64::from(sample_rate),
    })
}

/// What the container declares, checked before anything decodes: a sample rate, a sane
/// channel count and packet size, a length within the limit. The answer: the sample rate.
fn check_declared(
    params: &AudioCodecParameters,
    declared_frames: Option<u64>,
    limits: &ProbeLimits,
) -> Result<u32, ProbeError> {
    let sample_rate = params
        .sample_rate
        .filter(|r| *r > 0)
        .ok_or_else(|| ProbeError::Corrupt("declares no sample rate".to_owned()))?;
    if let Some(ch) = &params.channels
        && (ch.count() == 0 || ch.count() > limits.max_channels)
    {
        return Err(ProbeError::Corrupt(format!(
            "declares {} channels",
            ch.count()
        )));
    }
    if params
        .max_frames_per_packet
        .is_some_and(|n| n > limits.max_frames_per_packet)
    {
        return Err(ProbeError::Corrupt(
            "declares an impossibly large packet size".to_owned(),
        ));
    }
    let max_frames = limits.max_seconds.saturating_mul(u64::from(sample_rate));
    if let Some(n) = declared_frames.filter(|n| *n > max_frames) {
        return Err(ProbeError::TooLong {
            seconds: n / u64::from(sample_rate),
            limit: limits.max_seconds,
        });
    }
    Ok(sample_rate)
}
