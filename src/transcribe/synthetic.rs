//! A small but genuine whisper model in ggml format, for tests and benchmarks.
//!
//! No real whisper model can be downloaded where the test suite runs, so the suite writes
//! its own: whisper's real file layout (hyper-parameters, an 80-band mel filter bank, a
//! vocabulary with whisper's token count and special-token layout, every tensor whisper.cpp
//! asks for) with tiny dimensions and seeded random weights. whisper.cpp loads and runs it
//! like any model; the words it produces are garbage, but the code path, timing and segment
//! handling are the real ones. Writing one takes a few milliseconds.

use std::io::{BufWriter, Write};
use std::path::Path;

/// The dimensions of a synthetic model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SynthSpec {
    /// 51864 (English only) or 51865 (multilingual).
    pub n_vocab: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    /// 1: f16 matrices and convolutions (what real models ship). 0 writes an all-f32 model,
    /// which whisper.cpp's CPU convolution cannot run (the validator must refuse it).
    pub ftype: i32,
    pub seed: u64,
}

impl Default for SynthSpec {
    fn default() -> Self {
        Self {
            n_vocab: 51865,
            n_audio_state: 64,
            n_audio_head: 2,
            n_audio_layer: 1,
            n_text_state: 64,
            n_text_head: 2,
            n_text_layer: 1,
            ftype: 1,
            seed: 0x5eed,
        }
    }
}

const N_MELS: i32 = 80;
const N_FFT: i32 = 201;
const N_AUDIO_CTX: i32 = 1500;
const N_TEXT_CTX: i32 = 448;

/// Writes the model to `path`.
pub fn write_model(path: &Path, spec: &SynthSpec) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut rng = Rng(spec.seed | 1);
    put_i32(&mut w, super::model_file::GGML_MAGIC as i32)?;
    for v in [
        spec.n_vocab,
        N_AUDIO_CTX,
        spec.n_audio_state,
        spec.n_audio_head,
        spec.n_audio_layer,
        N_TEXT_CTX,
        spec.n_text_state,
        spec.n_text_head,
        spec.n_text_layer,
        N_MELS,
        spec.ftype,
    ] {
        put_i32(&mut w, v)?;
    }
    put_i32(&mut w, N_MELS)?;
    put_i32(&mut w, N_FFT)?;
    for v in mel_filters() {
        w.write_all(&v.to_le_bytes())?;
    }
    // The text tokens: 50256 for English models, 50257 for multilingual ones; whisper.cpp
    // adds the special tokens (end of text, languages, timestamps) itself.
    let n_text_tokens = if spec.n_vocab >= 51865 { 50257 } else { 50256 };
    put_i32(&mut w, n_text_tokens)?;
    for i in 0..n_text_tokens {
        let token = token_text(i as u32);
        put_i32(&mut w, token.len() as i32)?;
        w.write_all(&token)?;
    }
    let (wtype, vtype) = if spec.ftype == 0 { (0, 0) } else { (1, 1) };
    let a = spec.n_audio_state;
    let t = spec.n_text_state;
    let mut tensor = |w: &mut BufWriter<std::fs::File>,
                      name: &str,
                      ne: &[i32],
                      ty: i32,
                      init: Init|
     -> std::io::Result<()> {
        put_i32(w, ne.len() as i32)?;
        put_i32(w, name.len() as i32)?;
        put_i32(w, ty)?;
        for d in ne {
            put_i32(w, *d)?;
        }
        w.write_all(name.as_bytes())?;
        let n: i64 = ne.iter().map(|d| i64::from(*d)).product();
        // Scale weights by 1/sqrt(fan_in) so activations stay in range through the layers.
        let scale = 1.0 / (f64::from(ne[0].max(1))).sqrt() as f32;
        for _ in 0..n {
            let v = match init {
                Init::Zero => 0.0,
                Init::One => 1.0,
                Init::Random => rng.uniform() * scale * 1.7,
            };
            if ty == 1 {
                w.write_all(&f32_to_f16(v).to_le_bytes())?;
            } else {
                w.write_all(&v.to_le_bytes())?;
            }
        }
        Ok(())
    };
    tensor(
        &mut w,
        "encoder.positional_embedding",
        &[a, N_AUDIO_CTX],
        0,
        Init::Random,
    )?;
    tensor(
        &mut w,
        "encoder.conv1.weight",
        &[3, N_MELS, a],
        vtype,
        Init::Random,
    )?;
    tensor(&mut w, "encoder.conv1.bias", &[1, a], 0, Init::Zero)?;
    tensor(
        &mut w,
        "encoder.conv2.weight",
        &[3, a, a],
        vtype,
        Init::Random,
    )?;
    tensor(&mut w, "encoder.conv2.bias", &[1, a], 0, Init::Zero)?;
    tensor(&mut w, "encoder.ln_post.weight", &[a], 0, Init::One)?;
    tensor(&mut w, "encoder.ln_post.bias", &[a], 0, Init::Zero)?;
    for i in 0..spec.n_audio_layer {
        block(
            &mut w,
            &mut tensor,
            &format!("encoder.blocks.{i}"),
            a,
            wtype,
            false,
        )?;
    }
    tensor(
        &mut w,
        "decoder.positional_embedding",
        &[t, N_TEXT_CTX],
        0,
        Init::Random,
    )?;
    tensor(
        &mut w,
        "decoder.token_embedding.weight",
        &[t, spec.n_vocab],
        wtype,
        Init::Random,
    )?;
    tensor(&mut w, "decoder.ln.weight", &[t], 0, Init::One)?;
    tensor(&mut w, "decoder.ln.bias", &[t], 0, Init::Zero)?;
    for i in 0..spec.n_text_layer {
        block(
            &mut w,
            &mut tensor,
            &format!("decoder.blocks.{i}"),
            t,
            wtype,
            true,
        )?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

#[derive(Clone, Copy)]
enum Init {
    Zero,
    One,
    Random,
}

type TensorFn<'a> =
    dyn FnMut(&mut BufWriter<std::fs::File>, &str, &[i32], i32, Init) -> std::io::Result<()> + 'a;

fn block(
    w: &mut BufWriter<std::fs::File>,
    tensor: &mut TensorFn<'_>,
    p: &str,
    s: i32,
    wtype: i32,
    cross: bool,
) -> std::io::Result<()> {
    tensor(w, &format!("{p}.mlp_ln.weight"), &[s], 0, Init::One)?;
    tensor(w, &format!("{p}.mlp_ln.bias"), &[s], 0, Init::Zero)?;
    tensor(
        w,
        &format!("{p}.mlp.0.weight"),
        &[s, 4 * s],
        wtype,
        Init::Random,
    )?;
    tensor(w, &format!("{p}.mlp.0.bias"), &[4 * s], 0, Init::Zero)?;
    tensor(
        w,
        &format!("{p}.mlp.2.weight"),
        &[4 * s, s],
        wtype,
        Init::Random,
    )?;
    tensor(w, &format!("{p}.mlp.2.bias"), &[s], 0, Init::Zero)?;
    let attns: &[&str] = if cross {
        &["attn", "cross_attn"]
    } else {
        &["attn"]
    };
    for at in attns {
        tensor(w, &format!("{p}.{at}_ln.weight"), &[s], 0, Init::One)?;
        tensor(w, &format!("{p}.{at}_ln.bias"), &[s], 0, Init::Zero)?;
        tensor(
            w,
            &format!("{p}.{at}.query.weight"),
            &[s, s],
            wtype,
            Init::Random,
        )?;
        tensor(w, &format!("{p}.{at}.query.bias"), &[s], 0, Init::Zero)?;
        tensor(
            w,
            &format!("{p}.{at}.key.weight"),
            &[s, s],
            wtype,
            Init::Random,
        )?;
        tensor(
            w,
            &format!("{p}.{at}.value.weight"),
            &[s, s],
            wtype,
            Init::Random,
        )?;
        tensor(w, &format!("{p}.{at}.value.bias"), &[s], 0, Init::Zero)?;
        tensor(
            w,
            &format!("{p}.{at}.out.weight"),
            &[s, s],
            wtype,
            Init::Random,
        )?;
        tensor(w, &format!("{p}.{at}.out.bias"), &[s], 0, Init::Zero)?;
    }
    Ok(())
}

fn put_i32(w: &mut impl Write, v: i32) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

/// Token `i`: the 256 single bytes first (as in whisper's byte-level BPE), then unique
/// pronounceable pieces, every other one with a leading space like a word start.
fn token_text(i: u32) -> Vec<u8> {
    if i < 256 {
        return vec![i as u8];
    }
    const SYL: [&str; 40] = [
        "ka", "to", "mi", "re", "su", "no", "ha", "li", "be", "do", "fa", "ge", "jo", "lu", "ma",
        "ne", "po", "ri", "sa", "te", "vi", "wa", "ye", "zo", "an", "el", "in", "on", "un", "ar",
        "er", "or", "ust", "est", "ing", "ed", "ly", "th", "sh", "ch",
    ];
    let mut n = i - 256;
    let space = n.is_multiple_of(2);
    n /= 2;
    let mut s = String::new();
    if space {
        s.push(' ');
    }
    loop {
        s.push_str(SYL[(n % 40) as usize]);
        n /= 40;
        if n == 0 {
            break;
        }
        n -= 1;
    }
    s.into_bytes()
}

/// An 80-band triangular mel filter bank over 201 FFT bins at 16 kHz (HTK mel scale).
fn mel_filters() -> Vec<f32> {
    let mel = |f: f64| 2595.0 * (1.0 + f / 700.0).log10();
    let hz = |m: f64| 700.0 * (10f64.powf(m / 2595.0) - 1.0);
    let (lo, hi) = (mel(0.0), mel(8000.0));
    let points: Vec<f64> = (0..(N_MELS + 2))
        .map(|i| hz(lo + (hi - lo) * f64::from(i) / f64::from(N_MELS + 1)))
        .collect();
    let mut out = Vec::with_capacity((N_MELS * N_FFT) as usize);
    for m in 0..N_MELS as usize {
        let (l, c, r) = (points[m], points[m + 1], points[m + 2]);
        for k in 0..N_FFT {
            let f = f64::from(k) * 8000.0 / f64::from(N_FFT - 1);
            let v = if f > l && f <= c {
                (f - l) / (c - l)
            } else if f > c && f < r {
                (r - f) / (r - c)
            } else {
                0.0
            };
            out.push((v * 2.0 / (r - l) * 100.0) as f32);
        }
    }
    out
}

/// xorshift64*: fast, seeded, good enough for weights.
struct Rng(u64);

impl Rng {
    /// Uniform in [-1, 1).
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((v >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

/// IEEE 754 half precision, round to nearest even (normals, subnormals, zero, inf).
pub fn f32_to_f16(v: f32) -> u16 {
    let x = v.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let mant = x & 0x007f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x0080_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let mid = 1 << (shift - 1);
        let round = u32::from(rem > mid || (rem == mid && (half & 1) == 1));
        return sign | (half + round) as u16;
    }
    let half = ((e as u32) << 10) | (mant >> 13);
    let rem = mant & 0x1fff;
    let round = u32::from(rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1));
    sign | (half + round) as u16
}
