//! Crash-safe WAV takes.
//!
//! A take is written as 32-bit float WAV at the device's own rate and channel count. The
//! header's sizes are brought up to date every 250 ms of audio and the data is flushed to disk
//! (`fsync`) at least every second of audio, so a crash, `kill -9` or power cut loses at most
//! that much; [`recover`] repairs the header of an interrupted take from the bytes actually on
//! disk. A plain WAV's 32-bit sizes end at 4 GiB (hound's writer silently wraps there), and
//! symphonia, which reads our files back, does not read RF64, so a long take rolls over to a
//! new part file (`take.wav`, `take.part002.wav`, ...) at a frame boundary, without a gap.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Bytes before the first sample: RIFF header, 16-byte `fmt ` chunk, `data` chunk header.
pub const HEADER_BYTES: u64 = 44;
const FORMAT_IEEE_FLOAT: u16 = 3;
const BYTES_PER_SAMPLE: u64 = 4;
/// Largest part file: the RIFF size field (file length - 8) must fit in 32 bits.
pub const MAX_PART_BYTES: u64 = u32::MAX as u64 - 8;

#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("cannot write the recording {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a Verbatim take (unexpected header)")]
    NotATake { path: PathBuf },
    #[error("a take needs at least one channel and a non-zero sample rate")]
    BadFormat,
}

impl WavError {
    /// Whether the disk is full (the take is closed with what was written).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, WavError::Write { source, .. }
            if source.kind() == std::io::ErrorKind::StorageFull
                || source.kind() == std::io::ErrorKind::FileTooLarge
                || source.raw_os_error() == Some(27) /* EFBIG */
                || source.raw_os_error() == Some(28) /* ENOSPC */)
    }
}

/// How often the writer makes the file consistent and durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durability {
    /// Header sizes are rewritten after this many frames (250 ms of audio by default).
    pub header_every_frames: u64,
    /// Data is fsynced after this many frames (1 s of audio by default).
    pub sync_every_frames: u64,
    /// A part file rolls over before it would exceed this many bytes.
    pub max_part_bytes: u64,
}

impl Durability {
    pub fn for_rate(sample_rate: u32) -> Self {
        Self {
            header_every_frames: u64::from(sample_rate / 4).max(1),
            sync_every_frames: u64::from(sample_rate).max(1),
            max_part_bytes: MAX_PART_BYTES,
        }
    }
}

/// What a finished (or recovered) take holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeSummary {
    /// The part files, in order.
    pub parts: Vec<PathBuf>,
    pub frames: u64,
    pub sample_rate: u32,
    pub channels: u16,
}

/// The path of part `n` (1-based) of a take whose first part is `first`.
pub fn part_path(first: &Path, n: u32) -> PathBuf {
    if n <= 1 {
        return first.to_path_buf();
    }
    let stem = first
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    first.with_file_name(format!("{stem}.part{n:03}.wav"))
}

/// Streams interleaved f32 frames into a take.
#[derive(Debug)]
pub struct TakeWriter {
    first: PathBuf,
    file: File,
    part: u32,
    parts: Vec<PathBuf>,
    sample_rate: u32,
    channels: u16,
    durability: Durability,
    /// Frames in the current part.
    part_frames: u64,
    /// Frames in all parts.
    frames: u64,
    header_frames: u64,
    synced_frames: u64,
    /// Scratch for converting samples to bytes without allocating per write.
    bytes: Vec<u8>,
}

impl TakeWriter {
    /// Creates the first part at `path` (which must not exist).
    pub fn create(
        path: &Path,
        sample_rate: u32,
        channels: u16,
        durability: Durability,
    ) -> Result<Self, WavError> {
        if channels == 0 || sample_rate == 0 {
            return Err(WavError::BadFormat);
        }
        let file = new_part(path, sample_rate, channels)?;
        Ok(Self {
            first: path.to_path_buf(),
            file,
            part: 1,
            parts: vec![path.to_path_buf()],
            sample_rate,
            channels,
            durability,
            part_frames: 0,
            frames: 0,
            header_frames: 0,
            synced_frames: 0,
            bytes: Vec::with_capacity(64 * 1024),
        })
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Frames whose header update has reached the file (what a reader would see now).
    pub fn frames_in_header(&self) -> u64 {
        self.header_frames
    }

    /// Frames known to be on stable storage.
    pub fn frames_synced(&self) -> u64 {
        self.synced_frames
    }

    pub fn current_part(&self) -> &Path {
        self.parts
            .last()
            .map_or(self.first.as_path(), PathBuf::as_path)
    }

    fn frame_bytes(&self) -> u64 {
        u64::from(self.channels) * BYTES_PER_SAMPLE
    }

    fn part_capacity_frames(&self) -> u64 {
        (self.durability.max_part_bytes.saturating_sub(HEADER_BYTES) / self.frame_bytes()).max(1)
    }

    /// Appends interleaved samples (a whole number of frames; a trailing partial frame is
    /// dropped). Keeps the header and the disk up to date as [`Durability`] says. On an error
    /// the take stays valid up to the last whole write; call [`TakeWriter::finish`] to close it.
    pub fn write(&mut self, interleaved: &[f32]) -> Result<(), WavError> {
        let ch = usize::from(self.channels);
        let mut rest = &interleaved[..interleaved.len() - interleaved.len() % ch];
        while !rest.is_empty() {
            let room = self.part_capacity_frames() - self.part_frames;
            if room == 0 {
                self.roll_over()?;
                continue;
            }
            let take = (rest.len() / ch).min(usize::try_from(room).unwrap_or(usize::MAX));
            let (now, later) = rest.split_at(take * ch);
            self.append(now)?;
            rest = later;
        }
        Ok(())
    }

    fn append(&mut self, samples: &[f32]) -> Result<(), WavError> {
        self.bytes.clear();
        for s in samples {
            self.bytes.extend_from_slice(&s.to_le_bytes());
        }
        let path = self.current_part().to_path_buf();
        self.file
            .write_all(&self.bytes)
            .map_err(|source| WavError::Write { path, source })?;
        let n = (samples.len() / usize::from(self.channels)) as u64;
        self.part_frames += n;
        self.frames += n;
        if self.frames - self.header_frames >= self.durability.header_every_frames {
            self.update_header()?;
        }
        if self.frames - self.synced_frames >= self.durability.sync_every_frames {
            self.sync()?;
        }
        Ok(())
    }

    /// Rewrites the current part's header sizes for the frames written so far.
    pub fn update_header(&mut self) -> Result<(), WavError> {
        let data = self.part_frames * self.frame_bytes();
        let path = self.current_part().to_path_buf();
        write_sizes(&mut self.file, data).map_err(|source| WavError::Write { path, source })?;
        self.header_frames = self.frames;
        Ok(())
    }

    /// Flushes data and header to stable storage.
    pub fn sync(&mut self) -> Result<(), WavError> {
        let path = self.current_part().to_path_buf();
        self.file
            .sync_data()
            .map_err(|source| WavError::Write { path, source })?;
        self.synced_frames = self.frames;
        Ok(())
    }

    fn roll_over(&mut self) -> Result<(), WavError> {
        self.update_header()?;
        self.sync()?;
        self.part += 1;
        let next = part_path(&self.first, self.part);
        self.file = new_part(&next, self.sample_rate, self.channels)?;
        self.parts.push(next);
        self.part_frames = 0;
        Ok(())
    }

    /// Closes the take: final header, fsync. Safe to call after a write error (disk full):
    /// the take then holds everything written before it.
    pub fn finish(mut self) -> Result<TakeSummary, WavError> {
        // After a failed write the file may end in a partial frame; cut it off.
        let path = self.current_part().to_path_buf();
        let expected = HEADER_BYTES + self.part_frames * self.frame_bytes();
        let len = self
            .file
            .metadata()
            .map_err(|source| WavError::Read {
                path: path.clone(),
                source,
            })?
            .len();
        if len != expected {
            self.file
                .set_len(expected)
                .map_err(|source| WavError::Write {
                    path: path.clone(),
                    source,
                })?;
        }
        self.update_header()?;
        self.sync()?;
        Ok(TakeSummary {
            parts: self.parts,
            frames: self.frames,
            sample_rate: self.sample_rate,
            channels: self.channels,
        })
    }
}

fn new_part(path: &Path, sample_rate: u32, channels: u16) -> Result<File, WavError> {
    let err = |source| WavError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .open(path)
        .map_err(err)?;
    file.write_all(&header(sample_rate, channels, 0))
        .map_err(err)?;
    file.sync_all().map_err(err)?;
    // Make the new file's directory entry durable too.
    if let Some(dir) = path.parent().and_then(|d| File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(file)
}

/// A 44-byte IEEE-float WAV header for `data_bytes` of samples.
pub fn header(sample_rate: u32, channels: u16, data_bytes: u32) -> [u8; 44] {
    let block_align = channels * 4;
    let mut h = [0u8; 44];
    let mut put = |at: usize, b: &[u8]| h[at..at + b.len()].copy_from_slice(b);
    put(0, b"RIFF");
    put(4, &(36u32.saturating_add(data_bytes)).to_le_bytes());
    put(8, b"WAVEfmt ");
    put(16, &16u32.to_le_bytes());
    put(20, &FORMAT_IEEE_FLOAT.to_le_bytes());
    put(22, &channels.to_le_bytes());
    put(24, &sample_rate.to_le_bytes());
    put(
        28,
        &(sample_rate.saturating_mul(u32::from(block_align))).to_le_bytes(),
    );
    put(32, &block_align.to_le_bytes());
    put(34, &32u16.to_le_bytes());
    put(36, b"data");
    put(40, &data_bytes.to_le_bytes());
    h
}

fn write_sizes(file: &mut File, data_bytes: u64) -> std::io::Result<()> {
    let data = u32::try_from(data_bytes).unwrap_or(u32::MAX);
    let end = file.stream_position()?;
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&36u32.saturating_add(data).to_le_bytes())?;
    file.seek(SeekFrom::Start(40))?;
    file.write_all(&data.to_le_bytes())?;
    file.seek(SeekFrom::Start(end))?;
    Ok(())
}

/// What a finished (or repaired) take part holds, read from its header: the recorder wrote
/// the file itself, so its 44-byte header is exact and the samples need not be decoded to
/// know what they are. The header's data size must match the file's length to the byte: a
/// part cut short or grown since it was closed is refused (and left for recovery to repair).
pub fn media_info(path: &Path) -> Result<crate::media::MediaInfo, WavError> {
    let not_a_take = || WavError::NotATake {
        path: path.to_path_buf(),
    };
    let mut file = File::open(path).map_err(|source| WavError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut h = [0u8; 44];
    file.read_exact(&mut h).map_err(|_| not_a_take())?;
    let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (channels, rate, data_bytes) = (u16_at(22), u32_at(24), u64::from(u32_at(40)));
    let len = file
        .metadata()
        .map_err(|source| WavError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let frame_bytes = u64::from(channels) * BYTES_PER_SAMPLE;
    if h[..] != header(rate, channels, u32_at(40))[..]
        || channels == 0
        || rate == 0
        || data_bytes == 0
        || data_bytes % frame_bytes != 0
        || len != HEADER_BYTES + data_bytes
    {
        return Err(not_a_take());
    }
    let frames = data_bytes / frame_bytes;
    Ok(crate::media::MediaInfo {
        container: "wav".into(),
        codec: "pcm_f32le".into(),
        sample_rate: rate,
        channels,
        frames,
        duration_ms: frames.saturating_mul(1000) / u64::from(rate),
    })
}

/// Repairs an interrupted take's part file: the header sizes are set from the whole frames
/// actually on disk and a trailing partial frame is cut off. Returns the frames it holds.
pub fn recover_part(path: &Path) -> Result<(u64, u32, u16), WavError> {
    let read_err = |source| WavError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(read_err)?;
    let mut h = [0u8; 44];
    file.read_exact(&mut h).map_err(|_| WavError::NotATake {
        path: path.to_path_buf(),
    })?;
    let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    if &h[0..4] != b"RIFF"
        || &h[8..16] != b"WAVEfmt "
        || u32_at(16) != 16
        || &h[36..40] != b"data"
        || u16_at(20) != FORMAT_IEEE_FLOAT
    {
        return Err(WavError::NotATake {
            path: path.to_path_buf(),
        });
    }
    let channels = u16_at(22);
    let rate = u32_at(24);
    if channels == 0 || rate == 0 {
        return Err(WavError::NotATake {
            path: path.to_path_buf(),
        });
    }
    let frame_bytes = u64::from(channels) * BYTES_PER_SAMPLE;
    let len = file.metadata().map_err(read_err)?.len();
    let frames = len.saturating_sub(HEADER_BYTES) / frame_bytes;
    let write_err = |source| WavError::Write {
        path: path.to_path_buf(),
        source,
    };
    file.set_len(HEADER_BYTES + frames * frame_bytes)
        .map_err(write_err)?;
    file.seek(SeekFrom::End(0)).map_err(write_err)?;
    write_sizes(&mut file, frames * frame_bytes).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    Ok((frames, rate, channels))
}

/// Repairs every part of an interrupted take whose first part is `first`.
pub fn recover(first: &Path) -> Result<TakeSummary, WavError> {
    let mut parts = Vec::new();
    let mut frames = 0;
    let (mut rate, mut channels) = (0, 0);
    for n in 1.. {
        let p = part_path(first, n);
        if n > 1 && !p.exists() {
            break;
        }
        let (f, r, c) = recover_part(&p)?;
        frames += f;
        (rate, channels) = (r, c);
        parts.push(p);
    }
    Ok(TakeSummary {
        parts,
        frames,
        sample_rate: rate,
        channels,
    })
}
