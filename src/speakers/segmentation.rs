//! pyannote's segmentation-3.0 (PyanNet) in Rust, on candle: 10 s of 16 kHz audio in, 589
//! frames out, each with the log-probabilities of the seven "who is speaking" classes of the
//! powerset of up to three local speakers, at most two at once (nobody; 1; 2; 3; 1+2; 1+3;
//! 2+3). The weights are read from the checkpoint as published
//! (`pytorch_model.bin`, here `pyannote-segmentation-3.0.bin`), under its `state_dict` key.
//!
//! The network, as pyannote.audio 3 defines it:
//! - SincNet: an instance norm of the waveform; 80 band-pass filters of 251 taps (40 cosine
//!   and 40 sine, computed from two learnt frequencies each, as asteroid's `ParamSincFB`
//!   does), stride 10, their absolute value; two convolutions of 5 taps to 60 channels; each
//!   of the three followed by max-pooling by 3, an instance norm and a leaky ReLU;
//! - a 4-layer bidirectional LSTM of 128 units a direction;
//! - two linear layers of 128 with leaky ReLUs, a linear layer to the 7 classes, log-softmax.
//!
//! The recurrence runs over a batch of windows at once (one matrix product per time step for
//! all of them), so its cost is in large products rather than per-step overhead.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::SpeakerError;

/// The model's file name in the models folder.
pub const SEGMENTATION_FILE: &str = "pyannote-segmentation-3.0.bin";
/// One window: 10 s at 16 kHz.
pub const WINDOW_SAMPLES: usize = 160_000;
/// Frames a window gives, and the samples between two frames' starts (SincNet's stride 10
/// and three poolings by 3).
pub const FRAMES: usize = 589;
pub const FRAME_STEP: usize = 270;
/// A frame's receptive field (samples): what each frame's decision is about is centred
/// half of this after its start.
pub const FRAME_FIELD: usize = 991;
/// Local speakers a window tells apart, and the classes of their powerset.
pub const LOCAL: usize = 3;
pub const CLASSES: usize = 7;
/// The speakers each class means (pyannote's `Powerset(3, 2)` order).
pub const POWERSET: [[bool; LOCAL]; CLASSES] = [
    [false, false, false],
    [true, false, false],
    [false, true, false],
    [false, false, true],
    [true, true, false],
    [true, false, true],
    [false, true, true],
];

const FILTERS: usize = 80;
const TAPS: usize = 251;
const SINC_STRIDE: usize = 10;
const CHANNELS: usize = 60;
const HIDDEN: usize = 128;
const LAYERS: usize = 4;
const GATES: usize = 4 * HIDDEN;
const NORM_EPS: f32 = 1e-5;
const LEAK: f32 = 0.01;

type R<T> = Result<T, SpeakerError>;

fn compute(e: candle_core::Error) -> SpeakerError {
    SpeakerError::Compute(e.to_string())
}

fn refuse(why: String) -> SpeakerError {
    SpeakerError::NotSegmentation(why)
}

/// One direction of one LSTM layer: the input's part of the gates (its weights transposed,
/// `in × 512`, with both biases summed) and the recurrent weights transposed (`128 × 512`).
struct Direction {
    input: Linear,
    w_hh: Tensor,
}

/// A linear layer: its weights transposed (`in × out`) and its bias.
struct Linear {
    w: Tensor,
    b: Vec<f32>,
}

/// An instance norm's learnt scale and shift per channel.
struct InstanceNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

pub struct Segmentation {
    wav_norm: InstanceNorm,
    /// The 80 band-pass filters, `(80, 1, 251)`.
    sinc: Tensor,
    convs: [(Tensor, Tensor); 2],
    norms: [InstanceNorm; 3],
    lstm: Vec<[Direction; 2]>,
    linear: [Linear; 2],
    classifier: Linear,
}

struct Weights(HashMap<String, Tensor>);

impl Weights {
    fn get(&self, name: &str, shape: &[usize]) -> R<Tensor> {
        let t = self
            .0
            .get(name)
            .ok_or_else(|| refuse(format!("it has no tensor {name}")))?;
        if t.dims() != shape {
            return Err(refuse(format!(
                "{name} is {:?}, segmentation-3.0 has {shape:?}",
                t.dims()
            )));
        }
        t.to_dtype(DType::F32).map_err(compute)
    }

    fn vec(&self, name: &str, len: usize) -> R<Vec<f32>> {
        self.get(name, &[len])?.to_vec1::<f32>().map_err(compute)
    }

    fn norm(&self, prefix: &str, c: usize) -> R<InstanceNorm> {
        Ok(InstanceNorm {
            weight: self.vec(&format!("{prefix}.weight"), c)?,
            bias: self.vec(&format!("{prefix}.bias"), c)?,
        })
    }

    fn transposed(&self, name: &str, out: usize, inp: usize) -> R<Tensor> {
        self.get(name, &[out, inp])?
            .t()
            .and_then(|t| t.contiguous())
            .map_err(compute)
    }

    fn linear(&self, prefix: &str, out: usize, inp: usize) -> R<Linear> {
        Ok(Linear {
            w: self.transposed(&format!("{prefix}.weight"), out, inp)?,
            b: self.vec(&format!("{prefix}.bias"), out)?,
        })
    }
}

impl Segmentation {
    /// Loads the checkpoint at `path`; another file (another model, a truncated or damaged
    /// copy) is refused with the reason.
    pub fn load(path: &Path) -> R<Self> {
        let tensors = super::read_checkpoint(path, Some("state_dict"), refuse)?;
        Self::from_weights(&Weights(tensors))
    }

    fn from_weights(w: &Weights) -> R<Self> {
        let half = FILTERS / 2;
        let low = w.vec_2d("sincnet.conv1d.0.filterbank.low_hz_", half)?;
        let band = w.vec_2d("sincnet.conv1d.0.filterbank.band_hz_", half)?;
        let window = w.vec("sincnet.conv1d.0.filterbank.window_", TAPS / 2)?;
        let n = w
            .get("sincnet.conv1d.0.filterbank.n_", &[1, TAPS / 2])?
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(compute)?;
        let sinc = Tensor::from_vec(
            sinc_filters(&low, &band, &window, &n),
            (FILTERS, 1, TAPS),
            &Device::Cpu,
        )
        .map_err(compute)?;
        let conv = |i: usize, inp: usize| -> R<(Tensor, Tensor)> {
            Ok((
                w.get(&format!("sincnet.conv1d.{i}.weight"), &[CHANNELS, inp, 5])?,
                w.get(&format!("sincnet.conv1d.{i}.bias"), &[CHANNELS])?
                    .reshape((1, CHANNELS, 1))
                    .map_err(compute)?,
            ))
        };
        let mut lstm = Vec::with_capacity(LAYERS);
        for l in 0..LAYERS {
            let inp = if l == 0 { CHANNELS } else { 2 * HIDDEN };
            let dir = |suffix: &str| -> R<Direction> {
                let b_ih = w.vec(&format!("lstm.bias_ih_l{l}{suffix}"), GATES)?;
                let b_hh = w.vec(&format!("lstm.bias_hh_l{l}{suffix}"), GATES)?;
                Ok(Direction {
                    input: Linear {
                        w: w.transposed(&format!("lstm.weight_ih_l{l}{suffix}"), GATES, inp)?,
                        b: b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
                    },
                    w_hh: w.transposed(&format!("lstm.weight_hh_l{l}{suffix}"), GATES, HIDDEN)?,
                })
            };
            lstm.push([dir("")?, dir("_reverse")?]);
        }
        Ok(Self {
            wav_norm: w.norm("sincnet.wav_norm1d", 1)?,
            sinc,
            convs: [conv(1, FILTERS)?, conv(2, CHANNELS)?],
            norms: [
                w.norm("sincnet.norm1d.0", FILTERS)?,
                w.norm("sincnet.norm1d.1", CHANNELS)?,
                w.norm("sincnet.norm1d.2", CHANNELS)?,
            ],
            lstm,
            linear: [
                w.linear("linear.0", HIDDEN, 2 * HIDDEN)?,
                w.linear("linear.1", HIDDEN, HIDDEN)?,
            ],
            classifier: w.linear("classifier", CLASSES, HIDDEN)?,
        })
    }

    /// The log-probabilities of the seven classes for each frame of each window (every window
    /// exactly [`WINDOW_SAMPLES`] long): `windows.len() × FRAMES × CLASSES`, row-major.
    pub fn log_probs(&self, windows: &[&[f32]]) -> R<Vec<f32>> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let mut feats = Vec::with_capacity(windows.len() * FRAMES * CHANNELS);
        for w in windows {
            if w.len() != WINDOW_SAMPLES {
                return Err(SpeakerError::Compute(format!(
                    "a segmentation window is {} samples, not {WINDOW_SAMPLES}",
                    w.len()
                )));
            }
            feats.extend(self.sincnet(w)?);
        }
        let b = windows.len();
        let mut x = feats;
        let mut width = CHANNELS;
        for layer in &self.lstm {
            x = bilstm(&x, b, width, layer)?;
            width = 2 * HIDDEN;
        }
        for l in &self.linear {
            x = linear(&x, b * FRAMES, width, l)?;
            x.iter_mut().for_each(|v| *v = leaky(*v));
            width = HIDDEN;
        }
        let mut y = linear(&x, b * FRAMES, width, &self.classifier)?;
        for row in y.chunks_exact_mut(CLASSES) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
            let log_sum = max + sum.ln();
            row.iter_mut().for_each(|v| *v -= log_sum);
        }
        Ok(y)
    }

    /// Who speaks in each frame of each window: the most likely class's speakers.
    pub fn activity(&self, windows: &[&[f32]]) -> R<Vec<Vec<[bool; LOCAL]>>> {
        let lp = self.log_probs(windows)?;
        Ok(lp
            .chunks_exact(FRAMES * CLASSES)
            .map(|w| {
                w.chunks_exact(CLASSES)
                    .map(|row| {
                        let best = row
                            .iter()
                            .enumerate()
                            .fold(
                                (0, f32::NEG_INFINITY),
                                |acc, (i, &v)| {
                                    if v > acc.1 { (i, v) } else { acc }
                                },
                            )
                            .0;
                        POWERSET[best]
                    })
                    .collect()
            })
            .collect())
    }

    /// SincNet over one window: `FRAMES × 60` features, time-major.
    fn sincnet(&self, samples: &[f32]) -> R<Vec<f32>> {
        let mut wav = samples.to_vec();
        instance_norm(&mut wav, 1, WINDOW_SAMPLES, &self.wav_norm);
        let x = Tensor::from_vec(wav, (1, 1, WINDOW_SAMPLES), &Device::Cpu).map_err(compute)?;
        let y = x
            .conv1d(&self.sinc, 0, SINC_STRIDE, 1, 1)
            .map_err(compute)?;
        let len = y.dims3().map_err(compute)?.2;
        let mut v = y
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(compute)?;
        v.iter_mut().for_each(|s| *s = s.abs());
        let (mut v, mut len) = pool_norm_leaky(&v, FILTERS, len, &self.norms[0]);
        for (i, (w, b)) in self.convs.iter().enumerate() {
            let c_in = if i == 0 { FILTERS } else { CHANNELS };
            let x = Tensor::from_vec(v, (1, c_in, len), &Device::Cpu).map_err(compute)?;
            let y = x
                .conv1d(w, 0, 1, 1, 1)
                .and_then(|y| y.broadcast_add(b))
                .map_err(compute)?;
            let l = y.dims3().map_err(compute)?.2;
            let flat = y
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(compute)?;
            (v, len) = pool_norm_leaky(&flat, CHANNELS, l, &self.norms[i + 1]);
        }
        if len != FRAMES {
            return Err(SpeakerError::Compute(format!(
                "SincNet gave {len} frames, not {FRAMES}"
            )));
        }
        // Channel-major to time-major.
        let mut out = vec![0.0f32; FRAMES * CHANNELS];
        for c in 0..CHANNELS {
            for t in 0..FRAMES {
                out[t * CHANNELS + c] = v[c * FRAMES + t];
            }
        }
        Ok(out)
    }
}

impl Weights {
    /// A `(len, 1)` tensor's values.
    fn vec_2d(&self, name: &str, len: usize) -> R<Vec<f32>> {
        self.get(name, &[len, 1])?
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(compute)
    }
}

/// asteroid's `ParamSincFB.filters` with pyannote's settings (50 Hz lowest frequency and
/// band, 16 kHz): the cosine filters, then the sine filters, `80 × 251`, row-major.
fn sinc_filters(low_hz: &[f32], band_hz: &[f32], window: &[f32], n: &[f32]) -> Vec<f32> {
    const MIN_LOW: f32 = 50.0;
    const MIN_BAND: f32 = 50.0;
    const NYQUIST: f32 = 8_000.0;
    let half = TAPS / 2;
    let mut out = vec![0.0f32; FILTERS * TAPS];
    for (kind, sine) in [false, true].into_iter().enumerate() {
        for (f, (l, b)) in low_hz.iter().zip(band_hz).enumerate() {
            let low = MIN_LOW + l.abs();
            let high = (low + MIN_BAND + b.abs()).clamp(MIN_LOW, NYQUIST);
            let band = high - low;
            let row = &mut out[(kind * low_hz.len() + f) * TAPS..][..TAPS];
            for i in 0..half {
                let (fl, fh) = (low * n[i], high * n[i]);
                let left = if sine {
                    (fl.cos() - fh.cos()) / (n[i] / 2.0) * window[i]
                } else {
                    (fh.sin() - fl.sin()) / (n[i] / 2.0) * window[i]
                };
                row[i] = left / (2.0 * band);
                row[TAPS - 1 - i] = if sine { -left } else { left } / (2.0 * band);
            }
            // The centre tap: 2·band, divided like the rest by 2·band.
            row[half] = if sine { 0.0 } else { 1.0 };
        }
    }
    out
}

fn leaky(v: f32) -> f32 {
    if v < 0.0 { LEAK * v } else { v }
}

/// Instance norm over time of `c` channel-major rows of `len`, with the learnt scale and
/// shift (biased variance, as PyTorch).
fn instance_norm(x: &mut [f32], c: usize, len: usize, n: &InstanceNorm) {
    for ch in 0..c {
        let row = &mut x[ch * len..(ch + 1) * len];
        let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / len as f64;
        let var = row
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / len as f64;
        let scale = n.weight[ch] / ((var as f32) + NORM_EPS).sqrt();
        let shift = n.bias[ch] - mean as f32 * scale;
        row.iter_mut().for_each(|v| *v = *v * scale + shift);
    }
}

/// Max-pooling by 3 (the remainder dropped), instance norm, leaky ReLU: `(c, len)` to
/// `(c, len / 3)`.
fn pool_norm_leaky(x: &[f32], c: usize, len: usize, n: &InstanceNorm) -> (Vec<f32>, usize) {
    let out_len = len / 3;
    let mut out = Vec::with_capacity(c * out_len);
    for ch in 0..c {
        let row = &x[ch * len..(ch + 1) * len];
        out.extend(
            row.chunks_exact(3)
                .map(|p| p[0].max(p[1]).max(p[2]))
                .take(out_len),
        );
    }
    instance_norm(&mut out, c, out_len, n);
    out.iter_mut().for_each(|v| *v = leaky(*v));
    (out, out_len)
}

/// `rows × inp` times a linear layer, plus its bias: `rows × out`.
fn linear(x: &[f32], rows: usize, inp: usize, l: &Linear) -> R<Vec<f32>> {
    let t = Tensor::from_slice(x, (rows, inp), &Device::Cpu).map_err(compute)?;
    let mut y = t
        .matmul(&l.w)
        .and_then(|y| y.flatten_all())
        .and_then(|y| y.to_vec1::<f32>())
        .map_err(compute)?;
    let out = l.b.len();
    for row in y.chunks_exact_mut(out) {
        row.iter_mut().zip(&l.b).for_each(|(v, b)| *v += b);
    }
    Ok(y)
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// One bidirectional LSTM layer over `b` sequences of `FRAMES` steps of `inp` values:
/// `b × FRAMES × 256` (forward, then backward, as PyTorch concatenates them).
fn bilstm(x: &[f32], b: usize, inp: usize, dirs: &[Direction; 2]) -> R<Vec<f32>> {
    let mut out = vec![0.0f32; b * FRAMES * 2 * HIDDEN];
    for (d, dir) in dirs.iter().enumerate() {
        // The input's part of every gate, for every step at once.
        let pre = linear(x, b * FRAMES, inp, &dir.input)?;
        let mut h = vec![0.0f32; b * HIDDEN];
        let mut c = vec![0.0f32; b * HIDDEN];
        for step in 0..FRAMES {
            let t = if d == 0 { step } else { FRAMES - 1 - step };
            let rec = Tensor::from_slice(&h, (b, HIDDEN), &Device::Cpu)
                .and_then(|h| h.matmul(&dir.w_hh))
                .and_then(|g| g.flatten_all())
                .and_then(|g| g.to_vec1::<f32>())
                .map_err(compute)?;
            for s in 0..b {
                let g = &rec[s * GATES..(s + 1) * GATES];
                let p = &pre[(s * FRAMES + t) * GATES..][..GATES];
                let hs = &mut h[s * HIDDEN..(s + 1) * HIDDEN];
                let cs = &mut c[s * HIDDEN..(s + 1) * HIDDEN];
                for k in 0..HIDDEN {
                    // PyTorch's gate order: input, forget, cell, output.
                    let i = sigmoid(g[k] + p[k]);
                    let f = sigmoid(g[HIDDEN + k] + p[HIDDEN + k]);
                    let cell = (g[2 * HIDDEN + k] + p[2 * HIDDEN + k]).tanh();
                    let o = sigmoid(g[3 * HIDDEN + k] + p[3 * HIDDEN + k]);
                    cs[k] = f * cs[k] + i * cell;
                    hs[k] = o * cs[k].tanh();
                }
                out[(s * FRAMES + t) * 2 * HIDDEN + d * HIDDEN..][..HIDDEN].copy_from_slice(hs);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    fn shared(rel: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data")
            .join(rel)
    }

    fn model() -> Segmentation {
        Segmentation::load(&shared("models/speaker").join(SEGMENTATION_FILE)).unwrap()
    }

    /// The same log-probabilities as PyTorch running the published network on the same
    /// audio (`scripts/segmentation-reference.py`): a telephone call and a far-field meeting,
    /// one window each, computed together in one batch.
    #[test]
    fn the_network_gives_what_pytorch_gives() {
        let m = model();
        let reference = include_str!("../../tests/data/segmentation-reference.txt");
        let mut audio = Vec::new();
        let mut expected = Vec::new();
        for line in reference.lines() {
            let mut f = line.split_whitespace();
            let name = f.next().unwrap();
            let start: usize = f.next().unwrap().parse().unwrap();
            let values: Vec<f32> = f.map(|v| v.parse().unwrap()).collect();
            assert_eq!(values.len(), FRAMES * CLASSES);
            let a = crate::media::decode::read_all(&shared(&format!("diarization/{name}.wav")))
                .unwrap();
            audio.push(a[start..start + WINDOW_SAMPLES].to_vec());
            expected.push(values);
        }
        assert_eq!(audio.len(), 2);
        let windows: Vec<&[f32]> = audio.iter().map(Vec::as_slice).collect();
        let got = m.log_probs(&windows).unwrap();
        let mut worst = 0.0f32;
        let mut same_class = 0;
        for (w, exp) in expected.iter().enumerate() {
            let g = &got[w * FRAMES * CLASSES..][..FRAMES * CLASSES];
            for (a, b) in g.iter().zip(exp) {
                worst = worst.max((a - b).abs());
            }
            let argmax = |r: &[f32]| {
                r.iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |a, (i, &v)| if v > a.1 { (i, v) } else { a },
                    )
                    .0
            };
            same_class += g
                .chunks_exact(CLASSES)
                .zip(exp.chunks_exact(CLASSES))
                .filter(|(a, b)| argmax(a) == argmax(b))
                .count();
        }
        assert!(worst < 2e-3, "largest difference {worst}");
        assert_eq!(same_class, 2 * FRAMES);
        // A window alone gives what it gives in the batch.
        let alone = m.log_probs(&windows[1..]).unwrap();
        let batch = &got[FRAMES * CLASSES..];
        let d = alone
            .iter()
            .zip(batch)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(d < 1e-4, "{d}");
    }

    /// Another file, a truncated copy, a folder, nothing: refused with the reason.
    #[test]
    fn what_is_not_the_segmentation_model_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for other in [
            shared("models/tiny.en-ggml.bin"),
            shared("models/speaker").join(crate::speakers::CAMPLUS_FILE),
        ] {
            let e = Segmentation::load(&other).err().unwrap();
            assert!(matches!(e, SpeakerError::NotSegmentation(_)), "{e}");
        }
        let real = std::fs::read(shared("models/speaker").join(SEGMENTATION_FILE)).unwrap();
        for keep in [0, 100, real.len() / 2, real.len() - 1000] {
            let cut = dir.path().join(format!("cut{keep}.bin"));
            std::fs::write(&cut, &real[..keep]).unwrap();
            let e = Segmentation::load(&cut).err().unwrap();
            assert!(matches!(e, SpeakerError::NotSegmentation(_)), "{keep}: {e}");
        }
        assert!(matches!(
            Segmentation::load(dir.path()),
            Err(SpeakerError::NotSegmentation(_))
        ));
        assert!(matches!(
            Segmentation::load(&dir.path().join("none.bin")),
            Err(SpeakerError::Io { .. })
        ));
        let m = model();
        assert!(m.log_probs(&[]).unwrap().is_empty());
        assert!(m.log_probs(&[&[0.0; 1_000]]).is_err());
    }
}
