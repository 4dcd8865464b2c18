//! WAV files written to a pipe (`ffmpeg ... -f wav -`, `sox ... -t wav -`) cannot go back to
//! fill in their sizes, so their RIFF and `data` sizes say 0xFFFFFFFF ("unknown"). Most
//! readers take that to mean "to the end of the file"; symphonia takes it literally and the
//! file looked cut off. [`SizeFixed`] shows the decoder the same file with those two fields
//! set from the file's real length. Only the unknown marker is replaced: a size that is
//! merely larger than the file is a truncated file and stays visible as one.

use std::io::{Read, Seek, SeekFrom};

/// The "unknown size" a streaming writer leaves in a 32-bit size field.
const UNKNOWN: u32 = u32::MAX;
/// Chunks looked at before `data` (fmt, LIST, fact, ...): a real file has a handful.
const MAX_CHUNKS: usize = 64;

/// A reader that overlays corrected size fields on the bytes it reads.
#[derive(Debug)]
pub struct SizeFixed<R> {
    inner: R,
    len: u64,
    pos: u64,
    patches: Vec<(u64, [u8; 4])>,
}

impl<R: Read + Seek> SizeFixed<R> {
    /// Wraps `inner`; a reader that is not a streamed WAV passes through unchanged.
    pub fn new(mut inner: R) -> std::io::Result<Self> {
        let len = inner.seek(SeekFrom::End(0))?;
        let patches = find_patches(&mut inner, len).unwrap_or_default();
        inner.seek(SeekFrom::Start(0))?;
        Ok(Self {
            inner,
            len,
            pos: 0,
            patches,
        })
    }

    /// Whether any size field was replaced.
    pub fn patched(&self) -> bool {
        !self.patches.is_empty()
    }
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn find_patches(r: &mut (impl Read + Seek), len: u64) -> std::io::Result<Vec<(u64, [u8; 4])>> {
    let mut head = [0u8; 12];
    r.seek(SeekFrom::Start(0))?;
    r.read_exact(&mut head)?;
    if head.get(0..4) != Some(b"RIFF") || head.get(8..12) != Some(b"WAVE") {
        return Ok(Vec::new());
    }
    let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX - 1).to_le_bytes();
    let mut patches = Vec::new();
    let riff = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if riff == UNKNOWN {
        patches.push((4, clamp(len.saturating_sub(8))));
    }
    let mut at: u64 = 12;
    for _ in 0..MAX_CHUNKS {
        if at + 8 > len {
            break;
        }
        r.seek(SeekFrom::Start(at))?;
        let mut id = [0u8; 4];
        r.read_exact(&mut id)?;
        let size = read_u32(r)?;
        if &id == b"data" {
            let rest = len - (at + 8);
            if size == UNKNOWN || (size == 0 && rest > 0 && riff == UNKNOWN) {
                patches.push((at + 4, clamp(rest)));
            }
            break;
        }
        // Chunks are padded to an even length.
        at += 8 + u64::from(size) + u64::from(size & 1);
    }
    // Nothing to fix unless the data size was the unknown marker too.
    if !patches.iter().any(|(off, _)| *off != 4) {
        patches.clear();
    }
    Ok(patches)
}

impl<R: Read> Read for SizeFixed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let start = self.pos;
        for (off, bytes) in &self.patches {
            for (i, b) in bytes.iter().enumerate() {
                let p = off + i as u64;
                if p >= start
                    && p < start + n as u64
                    && let Some(slot) = buf.get_mut((p - start) as usize)
                {
                    *slot = *b;
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for SizeFixed<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(to)?;
        Ok(self.pos)
    }
}

impl<R: Read + Seek + Send + Sync> symphonia::core::io::MediaSource for SizeFixed<R> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn wav(riff: u32, data: u32, frames: usize) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&riff.to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&16_000u32.to_le_bytes());
        v.extend_from_slice(&32_000u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&16u16.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&data.to_le_bytes());
        v.extend(std::iter::repeat_n(0u8, frames * 2));
        v
    }

    fn read_all(bytes: Vec<u8>) -> Vec<u8> {
        let mut r = SizeFixed::new(std::io::Cursor::new(bytes)).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 7]; // odd reads cross the patched fields
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn unknown_sizes_become_the_real_ones() {
        let out = read_all(wav(u32::MAX, u32::MAX, 100));
        assert_eq!(u32::from_le_bytes(out[4..8].try_into().unwrap()), 36 + 200);
        assert_eq!(u32::from_le_bytes(out[40..44].try_into().unwrap()), 200);
    }

    #[test]
    fn real_sizes_and_truncated_files_are_left_alone() {
        let good = wav(236, 200, 100);
        assert_eq!(read_all(good.clone()), good);
        // Says 400 bytes of data, has 200: a cut-off file must still look cut off.
        let cut = wav(436, 400, 100);
        assert_eq!(read_all(cut.clone()), cut);
        let not_wav = b"OggS not a wav at all".to_vec();
        assert_eq!(read_all(not_wav.clone()), not_wav);
    }
}
