//! Validation of whisper.cpp model files, in Rust, before whisper.cpp sees them.
//!
//! whisper.cpp trusts its model files: the loader vendored by whisper-rs-sys 0.15 reads a
//! tensor's `n_dims` into a 4-element array without a bounds check (a crafted file smashes
//! the stack, upstream #3944), builds special tokens from `n_vocab` without checking it
//! (#4059), allocates whatever a name length says, and aborts on shapes its kernels do not
//! support. So every file is walked here first, with the loader's own rules: the header, the
//! hyper-parameters, the mel filters, every vocabulary entry and every tensor record (rank,
//! name, shape, type, size against the file), and the set of tensors against what whisper.cpp
//! will ask for. Only a file that passes is handed to whisper.cpp, and only in the worker
//! process.
//!
//! Two formats are understood: whisper speech models (`ggml-*.bin`) and whisper.cpp's Silero
//! voice-activity models (`ggml-silero-*.bin`).

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// `ggml` in little-endian, the first four bytes of both formats.
pub const GGML_MAGIC: u32 = 0x6767_6d6c;

/// What is wrong with a model file, in words a user can act on.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ModelFileError {
    #[error("cannot read the model file {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(
        "{path} is not a ggml model file (it starts with {found:#010x}, not \"ggml\"); is it an HTML error page or a different format?"
    )]
    BadMagic { path: PathBuf, found: u32 },
    #[error(
        "{path} is truncated: {what} needs {needed} bytes at offset {offset}, but the file ends at {len} (an interrupted download? `verbatim models download` resumes it)"
    )]
    Truncated {
        path: PathBuf,
        what: String,
        offset: u64,
        needed: u64,
        len: u64,
    },
    #[error("{path} is malformed: {detail}")]
    Malformed { path: PathBuf, detail: String },
    #[error("{path} cannot be used: {detail}")]
    Unsupported { path: PathBuf, detail: String },
}

/// The hyper-parameters of a whisper speech model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WhisperHparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

impl WhisperHparams {
    /// The size class whisper.cpp derives from the encoder depth.
    pub fn size_class(&self) -> &'static str {
        match self.n_audio_layer {
            4 => "tiny",
            6 => "base",
            12 => "small",
            24 => "medium",
            32 => "large",
            _ => "custom",
        }
    }

    pub fn multilingual(&self) -> bool {
        self.n_vocab >= 51865
    }
}

/// What a valid file holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelKind {
    Whisper {
        hparams: WhisperHparams,
        /// The ggml type name of the big matrices (`f16`, `q5_0`, ...).
        weight_type: &'static str,
        vocab_in_file: u32,
    },
    Vad {
        model_type: String,
        version: String,
    },
}

/// A model file that passed every check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub size_bytes: u64,
    pub tensors: u32,
    #[serde(flatten)]
    pub kind: ModelKind,
}

impl ModelInfo {
    /// One line for the user: "whisper tiny (multilingual), f16, 77.7 MB".
    pub fn describe(&self) -> String {
        let mb = self.size_bytes as f64 / 1e6;
        match &self.kind {
            ModelKind::Whisper {
                hparams,
                weight_type,
                ..
            } => format!(
                "whisper {} ({}), {weight_type}, {} encoder + {} decoder layers, {mb:.1} MB",
                hparams.size_class(),
                if hparams.multilingual() {
                    "multilingual"
                } else {
                    "English only"
                },
                hparams.n_audio_layer,
                hparams.n_text_layer
            ),
            ModelKind::Vad {
                model_type,
                version,
            } => format!("voice activity model {model_type} v{version}, {mb:.1} MB"),
        }
    }
}

/// ggml tensor types whisper files use: (id, name, bytes per block, elements per block).
const GGML_TYPES: &[(i32, &str, u64, u64)] = &[
    (0, "f32", 4, 1),
    (1, "f16", 2, 1),
    (2, "q4_0", 18, 32),
    (3, "q4_1", 20, 32),
    (6, "q5_0", 22, 32),
    (7, "q5_1", 24, 32),
    (8, "q8_0", 34, 32),
    (9, "q8_1", 36, 32),
    (10, "q2_k", 84, 256),
    (11, "q3_k", 110, 256),
    (12, "q4_k", 144, 256),
    (13, "q5_k", 176, 256),
    (14, "q6_k", 210, 256),
    (15, "q8_k", 292, 256),
    (24, "i8", 1, 1),
    (25, "i16", 2, 1),
    (26, "i32", 4, 1),
    (27, "i64", 8, 1),
    (28, "f64", 8, 1),
    (30, "bf16", 2, 1),
];

fn ggml_type(id: i32) -> Option<(&'static str, u64, u64)> {
    GGML_TYPES
        .iter()
        .find(|t| t.0 == id)
        .map(|t| (t.1, t.2, t.3))
}

/// Bytes of a tensor of `nelements` values of ggml type `ty` (`None`: unknown type).
pub fn tensor_bytes(ty: i32, nelements: u64) -> Option<u64> {
    ggml_type(ty).map(|(_, size, block)| nelements / block * size)
}

/// ggml's `ggml_ftype_to_ggml_type` for the file types whisper.cpp can load.
fn ftype_to_type(ftype: i32) -> Option<i32> {
    Some(match ftype {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 3,
        7 => 8,
        8 => 6,
        9 => 7,
        10 => 10,
        11 => 11,
        12 => 12,
        13 => 13,
        14 => 14,
        _ => return None,
    })
}

/// ggml's `GGML_QNT_VERSION_FACTOR`: the quantisation version is folded into `ftype`.
const QNT_VERSION_FACTOR: i32 = 1000;

const F32: i32 = 0;
const F16: i32 = 1;

/// Limits no real file comes near; they keep a crafted header from asking for absurd memory.
const MAX_NAME_LEN: i32 = 256;
const MAX_TOKEN_LEN: u32 = 1024;
const MAX_DIM: i32 = 1 << 24;

/// The shape (ne0, ne1, ne2) and type whisper.cpp expects for one tensor.
#[derive(Debug, Clone, Copy)]
struct Expected {
    ne: [i64; 3],
    ty: i32,
}

/// Checks any supported model file and says what it is.
pub fn inspect(path: &Path) -> Result<ModelInfo, ModelFileError> {
    let mut r = Reader::open(path)?;
    let magic = r.u32("the magic number")?;
    if magic != GGML_MAGIC {
        return Err(ModelFileError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
        });
    }
    // A Silero file continues with a short type string ("silero-..."); a whisper file with
    // n_vocab (51864..51866), whose bytes are never printable text.
    let mut peek = [0u8; 10];
    let at = r.pos;
    let n = r.peek(&mut peek);
    r.seek(at)?;
    let len = i32::from_le_bytes([peek[0], peek[1], peek[2], peek[3]]);
    if n >= 10 && (1..=64).contains(&len) && &peek[4..10] == b"silero" {
        inspect_vad(r)
    } else {
        inspect_whisper(r)
    }
}

/// Checks a file that must be a whisper speech model.
pub fn inspect_whisper_file(path: &Path) -> Result<ModelInfo, ModelFileError> {
    let info = inspect(path)?;
    match info.kind {
        ModelKind::Whisper { .. } => Ok(info),
        ModelKind::Vad { .. } => Err(ModelFileError::Unsupported {
            path: path.to_path_buf(),
            detail: "this is a voice activity (VAD) model, not a speech recognition model".into(),
        }),
    }
}

/// Checks a file that must be a Silero VAD model.
pub fn inspect_vad_file(path: &Path) -> Result<ModelInfo, ModelFileError> {
    let info = inspect(path)?;
    match info.kind {
        ModelKind::Vad { .. } => Ok(info),
        ModelKind::Whisper { .. } => Err(ModelFileError::Unsupported {
            path: path.to_path_buf(),
            detail: "this is a speech recognition model, not a voice activity (VAD) model".into(),
        }),
    }
}

fn inspect_whisper(mut r: Reader) -> Result<ModelInfo, ModelFileError> {
    let mut v = [0i32; 11];
    for (i, name) in [
        "n_vocab",
        "n_audio_ctx",
        "n_audio_state",
        "n_audio_head",
        "n_audio_layer",
        "n_text_ctx",
        "n_text_state",
        "n_text_head",
        "n_text_layer",
        "n_mels",
        "ftype",
    ]
    .iter()
    .enumerate()
    {
        v[i] = r.i32(name)?;
    }
    let h = WhisperHparams {
        n_vocab: v[0],
        n_audio_ctx: v[1],
        n_audio_state: v[2],
        n_audio_head: v[3],
        n_audio_layer: v[4],
        n_text_ctx: v[5],
        n_text_state: v[6],
        n_text_head: v[7],
        n_text_layer: v[8],
        n_mels: v[9],
        ftype: v[10],
    };
    // whisper.cpp places its special tokens (end of text, languages, timestamps) at fixed
    // offsets from n_vocab; any other value indexes past its tables.
    if !(51864..=51866).contains(&h.n_vocab) {
        return Err(r.malformed(format!(
            "n_vocab is {}, but whisper models have 51864 (English), 51865 or 51866 (multilingual) tokens",
            h.n_vocab
        )));
    }
    if h.n_audio_ctx != 1500 || h.n_text_ctx != 448 {
        return Err(r.malformed(format!(
            "context sizes {} (audio) and {} (text) are not whisper's 1500 and 448",
            h.n_audio_ctx, h.n_text_ctx
        )));
    }
    if h.n_mels != 80 && h.n_mels != 128 {
        return Err(r.malformed(format!("{} mel bands (whisper uses 80 or 128)", h.n_mels)));
    }
    for (what, state, heads, layers) in [
        ("audio", h.n_audio_state, h.n_audio_head, h.n_audio_layer),
        ("text", h.n_text_state, h.n_text_head, h.n_text_layer),
    ] {
        if !(1..=8192).contains(&state)
            || !(1..=128).contains(&heads)
            || state % heads != 0
            || !(1..=64).contains(&layers)
        {
            return Err(r.malformed(format!(
                "absurd {what} dimensions: state {state}, {heads} heads, {layers} layers"
            )));
        }
    }
    let ftype = h.ftype % QNT_VERSION_FACTOR;
    let Some(wtype) = ftype_to_type(ftype) else {
        return Err(r.malformed(format!("unknown weight type (ftype {})", h.ftype)));
    };
    if wtype == F32 {
        // The conv weights then are f32 too, and the CPU convolution (im2col) asserts f16:
        // whisper.cpp would abort the process.
        return Err(ModelFileError::Unsupported {
            path: r.path.clone(),
            detail: "it stores every weight as f32 (ftype 0); whisper.cpp's CPU convolution only takes f16 and aborts on it. Use the f16 or a quantized model".into(),
        });
    }
    let vtype = F16;

    let n_mel = r.i32("the mel filter count")?;
    let n_fft = r.i32("the mel filter length")?;
    if n_mel != h.n_mels || n_fft != 201 {
        return Err(r.malformed(format!(
            "mel filter bank is {n_mel} x {n_fft}, expected {} x 201",
            h.n_mels
        )));
    }
    r.skip(4 * n_mel as u64 * n_fft as u64, "the mel filters")?;

    let n_tokens = r.i32("the vocabulary size")?;
    if n_tokens < 0 || n_tokens > h.n_vocab {
        return Err(r.malformed(format!(
            "the vocabulary has {n_tokens} entries, but the model has only {} tokens",
            h.n_vocab
        )));
    }
    for i in 0..n_tokens {
        let len = r.u32("a token length")?;
        if len > MAX_TOKEN_LEN {
            return Err(r.malformed(format!("token {i} is {len} bytes long")));
        }
        r.skip(u64::from(len), &format!("token {i}"))?;
    }

    let expected = whisper_tensors(&h, wtype, vtype);
    let tensors = read_tensors(&mut r, &expected)?;
    let weight_type = ggml_type(wtype).map(|t| t.0).unwrap_or("?");
    Ok(ModelInfo {
        path: r.path.clone(),
        size_bytes: r.len,
        tensors,
        kind: ModelKind::Whisper {
            hparams: h,
            weight_type,
            vocab_in_file: n_tokens as u32,
        },
    })
}

/// The tensors whisper.cpp's loader creates, by name (see `whisper_model_load`).
fn whisper_tensors(h: &WhisperHparams, wtype: i32, vtype: i32) -> BTreeMap<String, Expected> {
    let mut m = BTreeMap::new();
    let mut put = |name: String, ne: [i64; 3], ty: i32| {
        m.insert(name, Expected { ne, ty });
    };
    let (a, actx, mels) = (
        i64::from(h.n_audio_state),
        i64::from(h.n_audio_ctx),
        i64::from(h.n_mels),
    );
    let (t, tctx, vocab) = (
        i64::from(h.n_text_state),
        i64::from(h.n_text_ctx),
        i64::from(h.n_vocab),
    );
    put("encoder.positional_embedding".into(), [a, actx, 1], F32);
    put("encoder.conv1.weight".into(), [3, mels, a], vtype);
    put("encoder.conv1.bias".into(), [1, a, 1], F32);
    put("encoder.conv2.weight".into(), [3, a, a], vtype);
    put("encoder.conv2.bias".into(), [1, a, 1], F32);
    put("encoder.ln_post.weight".into(), [a, 1, 1], F32);
    put("encoder.ln_post.bias".into(), [a, 1, 1], F32);
    let block = |put: &mut dyn FnMut(String, [i64; 3], i32), p: &str, s: i64, cross: bool| {
        put(format!("{p}.mlp_ln.weight"), [s, 1, 1], F32);
        put(format!("{p}.mlp_ln.bias"), [s, 1, 1], F32);
        put(format!("{p}.mlp.0.weight"), [s, 4 * s, 1], wtype);
        put(format!("{p}.mlp.0.bias"), [4 * s, 1, 1], F32);
        put(format!("{p}.mlp.2.weight"), [4 * s, s, 1], wtype);
        put(format!("{p}.mlp.2.bias"), [s, 1, 1], F32);
        let attns: &[&str] = if cross {
            &["attn", "cross_attn"]
        } else {
            &["attn"]
        };
        for at in attns {
            put(format!("{p}.{at}_ln.weight"), [s, 1, 1], F32);
            put(format!("{p}.{at}_ln.bias"), [s, 1, 1], F32);
            put(format!("{p}.{at}.query.weight"), [s, s, 1], wtype);
            put(format!("{p}.{at}.query.bias"), [s, 1, 1], F32);
            put(format!("{p}.{at}.key.weight"), [s, s, 1], wtype);
            put(format!("{p}.{at}.value.weight"), [s, s, 1], wtype);
            put(format!("{p}.{at}.value.bias"), [s, 1, 1], F32);
            put(format!("{p}.{at}.out.weight"), [s, s, 1], wtype);
            put(format!("{p}.{at}.out.bias"), [s, 1, 1], F32);
        }
    };
    for i in 0..h.n_audio_layer {
        block(&mut put, &format!("encoder.blocks.{i}"), a, false);
    }
    put("decoder.positional_embedding".into(), [t, tctx, 1], F32);
    put(
        "decoder.token_embedding.weight".into(),
        [t, vocab, 1],
        wtype,
    );
    put("decoder.ln.weight".into(), [t, 1, 1], F32);
    put("decoder.ln.bias".into(), [t, 1, 1], F32);
    for i in 0..h.n_text_layer {
        block(&mut put, &format!("decoder.blocks.{i}"), t, true);
    }
    m
}

fn inspect_vad(mut r: Reader) -> Result<ModelInfo, ModelFileError> {
    let len = r.i32("the model type length")?;
    let ty = r.bytes(len as u64, "the model type")?;
    let model_type = String::from_utf8_lossy(&ty).into_owned();
    let version = format!(
        "{}.{}.{}",
        r.i32("the version")?,
        r.i32("the version")?,
        r.i32("the version")?
    );
    let n_window = r.i32("n_window")?;
    let n_context = r.i32("n_context")?;
    if !(1..=16384).contains(&n_window) || !(0..=16384).contains(&n_context) {
        return Err(r.malformed(format!("window {n_window} / context {n_context}")));
    }
    let layers = r.i32("the encoder layer count")?;
    // whisper.cpp's Silero graph has exactly four encoder convolutions.
    if layers != 4 {
        return Err(r.malformed(format!(
            "{layers} encoder layers (whisper.cpp's Silero VAD has 4)"
        )));
    }
    let mut enc = [[0i32; 3]; 4];
    for layer in enc.iter_mut() {
        for v in layer.iter_mut() {
            *v = r.i32("an encoder dimension")?;
            if !(1..=4096).contains(v) {
                return Err(r.malformed(format!("encoder dimension {v}")));
            }
        }
    }
    let mut lstm = [0i32; 4];
    for v in lstm.iter_mut() {
        *v = r.i32("an LSTM dimension")?;
        if !(1..=4096).contains(v) {
            return Err(r.malformed(format!("LSTM dimension {v}")));
        }
    }
    let (hidden, final_in) = (i64::from(lstm[1]), i64::from(lstm[2]));
    let mut expected = BTreeMap::new();
    expected.insert(
        "_model.stft.forward_basis_buffer".to_string(),
        Expected {
            ne: [256, 1, 258],
            ty: F16,
        },
    );
    for (i, [cin, cout, k]) in enc.iter().enumerate() {
        expected.insert(
            format!("_model.encoder.{i}.reparam_conv.weight"),
            Expected {
                ne: [i64::from(*k), i64::from(*cin), i64::from(*cout)],
                ty: F16,
            },
        );
        expected.insert(
            format!("_model.encoder.{i}.reparam_conv.bias"),
            Expected {
                ne: [i64::from(*cout), 1, 1],
                ty: F32,
            },
        );
    }
    for w in ["ih", "hh"] {
        expected.insert(
            format!("_model.decoder.rnn.weight_{w}"),
            Expected {
                ne: [hidden, 4 * hidden, 1],
                ty: F32,
            },
        );
        expected.insert(
            format!("_model.decoder.rnn.bias_{w}"),
            Expected {
                ne: [4 * hidden, 1, 1],
                ty: F32,
            },
        );
    }
    expected.insert(
        "_model.decoder.decoder.2.weight".into(),
        Expected {
            ne: [final_in, 1, 1],
            ty: F16,
        },
    );
    expected.insert(
        "_model.decoder.decoder.2.bias".into(),
        Expected {
            ne: [1, 1, 1],
            ty: F32,
        },
    );
    let tensors = read_tensors(&mut r, &expected)?;
    Ok(ModelInfo {
        path: r.path.clone(),
        size_bytes: r.len,
        tensors,
        kind: ModelKind::Vad {
            model_type,
            version,
        },
    })
}

/// Walks every tensor record to the end of the file with whisper.cpp's rules; the number of
/// tensors.
fn read_tensors(
    r: &mut Reader,
    expected: &BTreeMap<String, Expected>,
) -> Result<u32, ModelFileError> {
    let mut seen = HashSet::new();
    while r.pos < r.len {
        let n_dims = r.i32("a tensor header")?;
        let name_len = r.i32("a tensor header")?;
        let ttype = r.i32("a tensor header")?;
        let index = seen.len();
        if !(0..=4).contains(&n_dims) {
            return Err(r.malformed(format!(
                "tensor #{index} claims {n_dims} dimensions (ggml tensors have 0 to 4)"
            )));
        }
        if !(1..=MAX_NAME_LEN).contains(&name_len) {
            return Err(r.malformed(format!("tensor #{index} has a name of {name_len} bytes")));
        }
        let mut ne = [1i64; 4];
        for d in ne.iter_mut().take(n_dims as usize) {
            let v = r.i32("a tensor shape")?;
            if !(1..=MAX_DIM).contains(&v) {
                return Err(r.malformed(format!("tensor #{index} has a dimension of {v}")));
            }
            *d = i64::from(v);
        }
        let name_bytes = r.bytes(name_len as u64, "a tensor name")?;
        let name = String::from_utf8_lossy(&name_bytes).into_owned();
        let Some(exp) = expected.get(&name) else {
            return Err(r.malformed(format!("unknown tensor '{name}'")));
        };
        if !seen.insert(name.clone()) {
            return Err(r.malformed(format!("tensor '{name}' appears twice")));
        }
        let nelements: i64 = ne.iter().product();
        // whisper.cpp counts elements in an i32.
        if nelements > i64::from(i32::MAX) {
            return Err(r.malformed(format!("tensor '{name}' has {nelements} elements")));
        }
        let exp_elements: i64 = exp.ne.iter().product();
        if nelements != exp_elements
            || ne[0] != exp.ne[0]
            || ne[1] != exp.ne[1]
            || ne[2] != exp.ne[2]
        {
            return Err(r.malformed(format!(
                "tensor '{name}' has shape {:?}, expected {:?} from the hyper-parameters",
                &ne[..n_dims as usize],
                exp.ne
            )));
        }
        let Some((file_ty, file_size, _)) = ggml_type(ttype) else {
            return Err(r.malformed(format!("tensor '{name}' has unknown type {ttype}")));
        };
        let Some((exp_ty, exp_size, exp_block)) = ggml_type(exp.ty) else {
            return Err(r.malformed(format!("tensor '{name}': internal type table")));
        };
        // The loader's own size rule: elements x file type size / expected block size must
        // equal the expected tensor's byte size.
        let nbytes = (nelements as u64 / exp_block) * exp_size;
        if !(nelements as u64).is_multiple_of(exp_block)
            || (nelements as u64 * file_size) / exp_block != nbytes
        {
            return Err(r.malformed(format!(
                "tensor '{name}' is stored as {file_ty}, but whisper.cpp expects {exp_ty} for it"
            )));
        }
        r.skip(nbytes, &format!("the data of tensor '{name}'"))?;
    }
    let missing: Vec<&String> = expected.keys().filter(|k| !seen.contains(*k)).collect();
    if let Some(first) = missing.first() {
        return Err(r.malformed(format!(
            "{} of {} tensors are missing (first: '{first}')",
            missing.len(),
            expected.len()
        )));
    }
    Ok(seen.len() as u32)
}

/// A bounds-checked little-endian reader over a file.
struct Reader {
    path: PathBuf,
    file: BufReader<File>,
    pos: u64,
    len: u64,
}

impl Reader {
    fn open(path: &Path) -> Result<Self, ModelFileError> {
        let io = |e: std::io::Error| ModelFileError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(ModelFileError::Io {
                path: path.to_path_buf(),
                message: "not a regular file".into(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: BufReader::with_capacity(1 << 16, file),
            pos: 0,
            len: meta.len(),
        })
    }

    fn malformed(&self, detail: String) -> ModelFileError {
        ModelFileError::Malformed {
            path: self.path.clone(),
            detail,
        }
    }

    fn need(&self, n: u64, what: &str) -> Result<(), ModelFileError> {
        if self.pos.saturating_add(n) > self.len {
            return Err(ModelFileError::Truncated {
                path: self.path.clone(),
                what: what.to_string(),
                offset: self.pos,
                needed: n,
                len: self.len,
            });
        }
        Ok(())
    }

    fn io(&self, e: std::io::Error) -> ModelFileError {
        ModelFileError::Io {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, ModelFileError> {
        self.need(n, what)?;
        let mut buf = vec![0u8; n as usize];
        self.file.read_exact(&mut buf).map_err(|e| self.io(e))?;
        self.pos += n;
        Ok(buf)
    }

    fn i32(&mut self, what: &str) -> Result<i32, ModelFileError> {
        self.need(4, what)?;
        let mut b = [0u8; 4];
        self.file.read_exact(&mut b).map_err(|e| self.io(e))?;
        self.pos += 4;
        Ok(i32::from_le_bytes(b))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ModelFileError> {
        self.i32(what).map(|v| v as u32)
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), ModelFileError> {
        self.need(n, what)?;
        // Relative: small skips (tokens) stay inside the buffer instead of a syscall each.
        let by = i64::try_from(n).map_err(|_| self.malformed(format!("{what} is too large")))?;
        self.file.seek_relative(by).map_err(|e| self.io(e))?;
        self.pos += n;
        Ok(())
    }

    fn seek(&mut self, to: u64) -> Result<(), ModelFileError> {
        self.file
            .seek(SeekFrom::Start(to))
            .map_err(|e| self.io(e))?;
        self.pos = to;
        Ok(())
    }

    /// Reads up to `buf.len()` bytes without moving the logical position's bounds checks.
    fn peek(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            match self.file.read(&mut buf[n..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        n
    }
}
