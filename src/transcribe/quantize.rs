//! `verbatim models quantize IN OUT --type q8_0|q5_1|q5_0|q4_0`: ggml's own quantisation of
//! a whisper model file, record for record what whisper.cpp's `quantize` tool does
//! (`examples/common-ggml.cpp`, `ggml_common_quantize_0`):
//!
//! - the header is copied with `ftype` set to the new type plus `GGML_QNT_VERSION * 1000`;
//! - the mel filters and the vocabulary are copied as they are;
//! - every 2-D tensor stored as f32 or f16 is quantised with `ggml_quantize_chunk`, except
//!   the positional embeddings (which whisper.cpp always loads as f32); the convolutions
//!   (3-D), biases and norms (1-D) stay as they are.
//!
//! The input is validated first ([`model_file::inspect_whisper_file`]), the output is written
//! to `OUT.part`, validated the same way, and only then renamed to `OUT`.
//!
//! `unsafe`: two ggml C functions whisper-rs does not wrap. `ggml_fp16_to_fp32_row` reads `n`
//! u16 and writes `n` f32, and `ggml_quantize_chunk` reads `nrows * n_per_row` f32 and writes
//! at most `nrows * ggml_row_size(type, n_per_row)` bytes; every buffer is allocated here with
//! exactly those lengths, and `n_per_row` is a multiple of the type's block size (checked).
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use whisper_rs::whisper_rs_sys as sys;

use super::model_file::{self, ModelKind};

/// ggml's `GGML_QNT_VERSION` (ggml.h of the vendored whisper.cpp 1.8.3).
const QNT_VERSION: i32 = 2;
const QNT_VERSION_FACTOR: i32 = 1000;

/// Tensors whisper.cpp's quantize tool leaves as they are.
const SKIP: &[&str] = &[
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
];

/// A quantisation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantType {
    Q8_0,
    Q5_1,
    Q5_0,
    Q4_0,
}

impl QuantType {
    pub const ALL: [Self; 4] = [Self::Q8_0, Self::Q5_1, Self::Q5_0, Self::Q4_0];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Q8_0 => "q8_0",
            Self::Q5_1 => "q5_1",
            Self::Q5_0 => "q5_0",
            Self::Q4_0 => "q4_0",
        }
    }

    /// ggml's `ggml_ftype` for a file mostly of this type.
    fn ftype(self) -> i32 {
        match self {
            Self::Q4_0 => 2,
            Self::Q8_0 => 7,
            Self::Q5_0 => 8,
            Self::Q5_1 => 9,
        }
    }

    /// ggml's `ggml_type`.
    fn ggml_type(self) -> u32 {
        match self {
            Self::Q4_0 => sys::ggml_type_GGML_TYPE_Q4_0,
            Self::Q5_0 => sys::ggml_type_GGML_TYPE_Q5_0,
            Self::Q5_1 => sys::ggml_type_GGML_TYPE_Q5_1,
            Self::Q8_0 => sys::ggml_type_GGML_TYPE_Q8_0,
        }
    }
}

/// Why a model could not be quantised.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    #[error(transparent)]
    Model(#[from] model_file::ModelFileError),
    #[error("{0} is already quantised ({1}); quantise the f16 model instead")]
    AlreadyQuantized(PathBuf, String),
    #[error("{0} is a voice activity model; only speech models are quantised")]
    NotWhisper(PathBuf),
    #[error("tensor '{name}' has rows of {row} values, not a multiple of {block} ({ty} blocks)")]
    Shape {
        name: String,
        row: i64,
        block: i64,
        ty: &'static str,
    },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a quantisation did.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizeReport {
    pub tensors: u32,
    pub quantized: u32,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Quantises the whisper model `input` into `output` (replacing it only when complete).
pub fn quantize(
    input: &Path,
    output: &Path,
    ty: QuantType,
) -> Result<QuantizeReport, QuantizeError> {
    let info = model_file::inspect_whisper_file(input)?;
    let ModelKind::Whisper { hparams, .. } = info.kind else {
        return Err(QuantizeError::NotWhisper(input.to_path_buf()));
    };
    let ftype = hparams.ftype % QNT_VERSION_FACTOR;
    if ftype != 0 && ftype != 1 {
        return Err(QuantizeError::AlreadyQuantized(
            input.to_path_buf(),
            info.describe(),
        ));
    }
    let part = output.with_extension("part");
    let result = write(input, &part, ty);
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    if let Err(e) = model_file::inspect_whisper_file(&part) {
        let _ = std::fs::remove_file(&part);
        return Err(e.into());
    }
    std::fs::rename(&part, output).map_err(|source| QuantizeError::Io {
        what: "rename the finished file to",
        path: output.to_path_buf(),
        source,
    })?;
    Ok(report)
}

struct Copier<'a> {
    r: BufReader<File>,
    w: BufWriter<File>,
    input: &'a Path,
    output: &'a Path,
    bytes_in: u64,
    bytes_out: u64,
}

impl Copier<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<(), QuantizeError> {
        self.r.read_exact(buf).map_err(|source| QuantizeError::Io {
            what: "read",
            path: self.input.to_path_buf(),
            source,
        })?;
        self.bytes_in += buf.len() as u64;
        Ok(())
    }

    fn write(&mut self, buf: &[u8]) -> Result<(), QuantizeError> {
        self.w.write_all(buf).map_err(|source| QuantizeError::Io {
            what: "write",
            path: self.output.to_path_buf(),
            source,
        })?;
        self.bytes_out += buf.len() as u64;
        Ok(())
    }

    fn i32(&mut self) -> Result<i32, QuantizeError> {
        let mut b = [0u8; 4];
        self.read(&mut b)?;
        Ok(i32::from_le_bytes(b))
    }

    fn copy(&mut self, n: usize) -> Result<(), QuantizeError> {
        let mut buf = vec![0u8; n];
        self.read(&mut buf)?;
        self.write(&buf)
    }

    /// Copies an i32 and returns it.
    fn copy_i32(&mut self) -> Result<i32, QuantizeError> {
        let v = self.i32()?;
        self.write(&v.to_le_bytes())?;
        Ok(v)
    }

    /// Reads to the end of the input: whether there is more.
    fn at_end(&mut self) -> Result<bool, QuantizeError> {
        use std::io::BufRead;
        let buf = self.r.fill_buf().map_err(|source| QuantizeError::Io {
            what: "read",
            path: self.input.to_path_buf(),
            source,
        })?;
        Ok(buf.is_empty())
    }
}

fn write(input: &Path, part: &Path, ty: QuantType) -> Result<QuantizeReport, QuantizeError> {
    let open = |what, path: &Path, f: std::io::Result<File>| {
        f.map_err(|source| QuantizeError::Io {
            what,
            path: path.to_path_buf(),
            source,
        })
    };
    let r = open("open", input, File::open(input))?;
    let w = open("create", part, File::create(part))?;
    let mut c = Copier {
        r: BufReader::with_capacity(1 << 20, r),
        w: BufWriter::with_capacity(1 << 20, w),
        input,
        output: part,
        bytes_in: 0,
        bytes_out: 0,
    };
    // Magic and hyper-parameters (the file was validated: the layout is known to hold).
    c.copy(4)?;
    for _ in 0..10 {
        c.copy_i32()?;
    }
    let _old_ftype = c.i32()?;
    c.write(&(ty.ftype() + QNT_VERSION * QNT_VERSION_FACTOR).to_le_bytes())?;
    // Mel filters.
    let n_mel = c.copy_i32()?;
    let n_fft = c.copy_i32()?;
    c.copy(n_mel as usize * n_fft as usize * 4)?;
    // Vocabulary.
    let n_vocab = c.copy_i32()?;
    for _ in 0..n_vocab {
        let len = c.copy_i32()?;
        c.copy(len as usize)?;
    }
    // Tensors.
    let qtype = ty.ggml_type();
    // SAFETY: a plain getter of a static table.
    let block = unsafe { sys::ggml_blck_size(qtype) };
    let (mut tensors, mut quantized) = (0u32, 0u32);
    while !c.at_end()? {
        let n_dims = c.i32()?;
        let name_len = c.i32()?;
        let ttype = c.i32()?;
        let mut ne = [1i64; 4];
        for d in ne.iter_mut().take(n_dims as usize) {
            *d = i64::from(c.i32()?);
        }
        let mut name = vec![0u8; name_len as usize];
        c.read(&mut name)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        let nelements = ne.iter().product::<i64>() as usize;
        let elem_bytes = if ttype == 0 { 4 } else { 2 };
        let quantize = n_dims == 2 && (ttype == 0 || ttype == 1) && !SKIP.contains(&name.as_str());
        tensors += 1;
        let out_type = if quantize { qtype as i32 } else { ttype };
        c.write(&n_dims.to_le_bytes())?;
        c.write(&name_len.to_le_bytes())?;
        c.write(&out_type.to_le_bytes())?;
        for d in ne.iter().take(n_dims as usize) {
            c.write(&(*d as i32).to_le_bytes())?;
        }
        c.write(name.as_bytes())?;
        if !quantize {
            // Validated: its type's size holds.
            let bytes = match model_file::tensor_bytes(ttype, nelements as u64) {
                Some(b) => b as usize,
                None => nelements * elem_bytes,
            };
            c.copy(bytes)?;
            continue;
        }
        if ne[0] % block != 0 {
            return Err(QuantizeError::Shape {
                name,
                row: ne[0],
                block,
                ty: ty.name(),
            });
        }
        let mut raw = vec![0u8; nelements * elem_bytes];
        c.read(&mut raw)?;
        let f32s: Vec<f32> = if ttype == 0 {
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        } else {
            let halves: Vec<u16> = raw
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect();
            let mut out = vec![0f32; nelements];
            // SAFETY: `halves` holds `nelements` u16, `out` room for `nelements` f32.
            unsafe {
                sys::ggml_fp16_to_fp32_row(halves.as_ptr(), out.as_mut_ptr(), nelements as i64)
            };
            out
        };
        // SAFETY: a plain getter of a static table.
        let row_bytes = unsafe { sys::ggml_row_size(qtype, ne[0]) };
        let nrows = nelements as i64 / ne[0];
        let mut dst = vec![0u8; row_bytes * nrows as usize];
        // SAFETY: `f32s` holds nrows * ne[0] values, `dst` nrows * row_size(ne[0]) bytes, and
        // ne[0] is a multiple of the block size (checked above); no importance matrix.
        let written = unsafe {
            sys::ggml_quantize_chunk(
                qtype,
                f32s.as_ptr(),
                dst.as_mut_ptr().cast(),
                0,
                nrows,
                ne[0],
                std::ptr::null(),
            )
        };
        dst.truncate(written.min(dst.len()));
        c.write(&dst)?;
        quantized += 1;
    }
    c.w.flush().map_err(|source| QuantizeError::Io {
        what: "write",
        path: part.to_path_buf(),
        source,
    })?;
    c.w.get_ref()
        .sync_all()
        .map_err(|source| QuantizeError::Io {
            what: "sync",
            path: part.to_path_buf(),
            source,
        })?;
    Ok(QuantizeReport {
        tensors,
        quantized,
        bytes_in: c.bytes_in,
        bytes_out: c.bytes_out,
    })
}
