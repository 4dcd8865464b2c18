//! CAM++ (3D-Speaker's context-aware masking network) in Rust, on candle: 80-bin fbank in,
//! a 192-dimensional speaker embedding out. The weights are read from the PyTorch checkpoint
//! as it is published (`campplus_cn_en_common.pt`); the forward pass follows 3D-Speaker's
//! model definition:
//!
//! - the head (FCM): a 3×3 convolution and two stages of two residual blocks over the
//!   (frequency, time) plane, frequency halved three times (80 → 10 rows of 32 channels);
//! - a TDNN layer (kernel 5, stride 2 in time) to 128 channels;
//! - three densely connected blocks of 12, 24 and 16 CAM layers (each: batch-norm, ReLU, a
//!   1×1 bottleneck to 128, batch-norm, ReLU, a kernel-3 convolution to 32 channels masked by
//!   a context gate computed from the utterance mean and 100-frame segment means), each
//!   block followed by a transition that halves the channels;
//! - batch-norm and ReLU, mean and standard deviation over time, a dense layer to 192 and a
//!   last batch-norm without scale or shift (and, as in the original, no ReLU after it).
//!
//! Batch-norm is applied with the checkpoint's running statistics (inference). Strided
//! convolutions over frequency only (stride (2, 1)) are computed as stride 1 and every
//! other row kept: the same values.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::SpeakerError;
use super::fbank::{BINS, Fbank, subtract_mean};

/// The embedding's size.
pub const DIM: usize = 192;
/// PyTorch's batch-norm epsilon.
const BN_EPS: f64 = 1e-5;
/// CAM's segment pooling length (frames).
const SEG_LEN: usize = 100;
/// The dense blocks: layers, dilation.
const BLOCKS: [(usize, usize); 3] = [(12, 1), (24, 2), (16, 2)];
/// The fewest fbank frames an embedding is computed from (0.25 s): fewer leave the
/// statistics pooling nothing to measure.
pub const MIN_FRAMES: usize = 25;

type R<T> = Result<T, SpeakerError>;

fn model(e: candle_core::Error) -> SpeakerError {
    SpeakerError::Compute(e.to_string())
}

/// A batch-norm folded into a scale and a shift per channel, shaped to broadcast over
/// `(batch, channels, …)`.
struct Norm {
    scale: Tensor,
    shift: Tensor,
}

impl Norm {
    fn apply(&self, x: &Tensor) -> R<Tensor> {
        x.broadcast_mul(&self.scale)
            .and_then(|y| y.broadcast_add(&self.shift))
            .map_err(model)
    }
}

/// The checkpoint's tensors by name, checked as they are taken.
struct Weights {
    map: HashMap<String, Tensor>,
}

impl Weights {
    fn get(&self, name: &str, shape: &[usize]) -> R<Tensor> {
        let t = self
            .map
            .get(name)
            .ok_or_else(|| SpeakerError::NotCamPlus(format!("it has no tensor {name}")))?;
        if t.dims() != shape {
            return Err(SpeakerError::NotCamPlus(format!(
                "{name} is {:?}, CAM++ has {shape:?}",
                t.dims()
            )));
        }
        t.to_dtype(DType::F32).map_err(model)
    }

    /// A batch-norm over `c` channels for a tensor of `rank` dimensions (3: conv1d, 4: conv2d);
    /// `affine`: with its learnt scale and shift.
    fn norm(&self, prefix: &str, c: usize, rank: usize, affine: bool) -> R<Norm> {
        let vec = |n: &str| -> R<Vec<f32>> {
            self.get(&format!("{prefix}.{n}"), &[c])?
                .to_vec1::<f32>()
                .map_err(model)
        };
        let (mean, var) = (vec("running_mean")?, vec("running_var")?);
        let (w, b) = if affine {
            (vec("weight")?, vec("bias")?)
        } else {
            (vec![1.0; c], vec![0.0; c])
        };
        let scale: Vec<f32> = w
            .iter()
            .zip(&var)
            .map(|(w, v)| w / (f64::from(*v) + BN_EPS).sqrt() as f32)
            .collect();
        let shift: Vec<f32> = b
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        let shape: Vec<usize> = std::iter::once(1)
            .chain(std::iter::once(c))
            .chain(std::iter::repeat_n(1, rank - 2))
            .collect();
        Ok(Norm {
            scale: Tensor::from_vec(scale, shape.as_slice(), &Device::Cpu).map_err(model)?,
            shift: Tensor::from_vec(shift, shape.as_slice(), &Device::Cpu).map_err(model)?,
        })
    }
}

/// A residual block of the head.
struct ResBlock {
    conv1: Tensor,
    bn1: Norm,
    conv2: Tensor,
    bn2: Norm,
    /// A 1×1 convolution and its norm where the block halves the frequency rows.
    shortcut: Option<(Tensor, Norm)>,
    stride: usize,
}

/// One CAM layer of a dense block.
struct CamLayer {
    norm1: Norm,
    bottleneck: Tensor,
    norm2: Norm,
    local: Tensor,
    gate1: (Tensor, Tensor),
    gate2: (Tensor, Tensor),
    dilation: usize,
}

/// A transition: norm, ReLU, a 1×1 convolution halving the channels.
struct Transit {
    norm: Norm,
    conv: Tensor,
}

/// The CAM++ network with its weights.
pub struct CamPlus {
    head_conv1: Tensor,
    head_bn1: Norm,
    head_blocks: Vec<ResBlock>,
    head_conv2: Tensor,
    head_bn2: Norm,
    tdnn: Tensor,
    tdnn_norm: Norm,
    blocks: Vec<(Vec<CamLayer>, Transit)>,
    out_norm: Norm,
    dense: Tensor,
    dense_norm: Norm,
    fbank: Fbank,
}

impl CamPlus {
    /// Loads the checkpoint at `path`; a file that is not a CAM++ checkpoint (another model,
    /// a truncated or damaged file) is refused with the reason.
    pub fn load(path: &Path) -> R<Self> {
        let tensors = super::read_checkpoint(path, None, SpeakerError::NotCamPlus)?;
        Self::from_weights(&Weights { map: tensors })
    }

    fn from_weights(w: &Weights) -> R<Self> {
        let mut head_blocks = Vec::new();
        for (layer, stride) in [("layer1", 2), ("layer2", 2)] {
            for i in 0..2 {
                let p = format!("head.{layer}.{i}");
                let s = if i == 0 { stride } else { 1 };
                head_blocks.push(ResBlock {
                    conv1: w.get(&format!("{p}.conv1.weight"), &[32, 32, 3, 3])?,
                    bn1: w.norm(&format!("{p}.bn1"), 32, 4, true)?,
                    conv2: w.get(&format!("{p}.conv2.weight"), &[32, 32, 3, 3])?,
                    bn2: w.norm(&format!("{p}.bn2"), 32, 4, true)?,
                    shortcut: if s == 1 {
                        None
                    } else {
                        Some((
                            w.get(&format!("{p}.shortcut.0.weight"), &[32, 32, 1, 1])?,
                            w.norm(&format!("{p}.shortcut.1"), 32, 4, true)?,
                        ))
                    },
                    stride: s,
                });
            }
        }
        let mut blocks = Vec::new();
        let mut channels = 128;
        for (b, (layers, dilation)) in BLOCKS.into_iter().enumerate() {
            let mut cams = Vec::new();
            for i in 0..layers {
                let p = format!("xvector.block{}.tdnnd{}", b + 1, i + 1);
                let c = channels + i * 32;
                cams.push(CamLayer {
                    norm1: w.norm(&format!("{p}.nonlinear1.batchnorm"), c, 3, true)?,
                    bottleneck: w.get(&format!("{p}.linear1.weight"), &[128, c, 1])?,
                    norm2: w.norm(&format!("{p}.nonlinear2.batchnorm"), 128, 3, true)?,
                    local: w.get(&format!("{p}.cam_layer.linear_local.weight"), &[32, 128, 3])?,
                    gate1: (
                        w.get(&format!("{p}.cam_layer.linear1.weight"), &[64, 128, 1])?,
                        w.get(&format!("{p}.cam_layer.linear1.bias"), &[64])?
                            .reshape((1, 64, 1))
                            .map_err(model)?,
                    ),
                    gate2: (
                        w.get(&format!("{p}.cam_layer.linear2.weight"), &[32, 64, 1])?,
                        w.get(&format!("{p}.cam_layer.linear2.bias"), &[32])?
                            .reshape((1, 32, 1))
                            .map_err(model)?,
                    ),
                    dilation,
                });
            }
            channels += layers * 32;
            let p = format!("xvector.transit{}", b + 1);
            let transit = Transit {
                norm: w.norm(&format!("{p}.nonlinear.batchnorm"), channels, 3, true)?,
                conv: w.get(&format!("{p}.linear.weight"), &[channels / 2, channels, 1])?,
            };
            channels /= 2;
            blocks.push((cams, transit));
        }
        Ok(Self {
            head_conv1: w.get("head.conv1.weight", &[32, 1, 3, 3])?,
            head_bn1: w.norm("head.bn1", 32, 4, true)?,
            head_blocks,
            head_conv2: w.get("head.conv2.weight", &[32, 32, 3, 3])?,
            head_bn2: w.norm("head.bn2", 32, 4, true)?,
            tdnn: w.get("xvector.tdnn.linear.weight", &[128, 320, 5])?,
            tdnn_norm: w.norm("xvector.tdnn.nonlinear.batchnorm", 128, 3, true)?,
            blocks,
            out_norm: w.norm("xvector.out_nonlinear.batchnorm", channels, 3, true)?,
            dense: w.get("xvector.dense.linear.weight", &[DIM, channels * 2, 1])?,
            dense_norm: w.norm("xvector.dense.nonlinear.batchnorm", DIM, 3, false)?,
            fbank: Fbank::new(),
        })
    }

    /// The embedding of 16 kHz audio in [-1, 1] (at least [`MIN_FRAMES`] frames of it).
    pub fn embed(&self, samples: &[f32]) -> R<Vec<f32>> {
        let mut all = self.embed_batch(&[samples])?;
        all.pop().ok_or(SpeakerError::TooShort { ms: 0 })
    }

    /// The embeddings of several clips of one length, in one pass through the network (the
    /// convolutions' matrix products are larger, so the cores are busier per call): the
    /// same numbers as one clip at a time.
    pub fn embed_batch(&self, clips: &[&[f32]]) -> R<Vec<Vec<f32>>> {
        let Some(first) = clips.first() else {
            return Ok(Vec::new());
        };
        let frames = Fbank::frames(first.len());
        if frames < MIN_FRAMES {
            return Err(SpeakerError::TooShort {
                ms: first.len() as u64 * 1000 / 16_000,
            });
        }
        let mut feats = Vec::with_capacity(clips.len() * frames * BINS);
        for clip in clips {
            let mut f = self.fbank.compute(clip);
            if f.len() != frames * BINS {
                return Err(SpeakerError::Compute(
                    "the clips of one batch differ in length".into(),
                ));
            }
            subtract_mean(&mut f);
            feats.extend(f);
        }
        self.embed_features(feats, clips.len(), frames)
    }

    /// The embeddings of `batch` clips' mean-normalised fbank features (`batch × frames × 80`,
    /// row-major).
    pub fn embed_features(&self, feats: Vec<f32>, batch: usize, frames: usize) -> R<Vec<Vec<f32>>> {
        let x = Tensor::from_vec(feats, (batch, frames, BINS), &Device::Cpu).map_err(model)?;
        // (B, T, F) -> (B, 1, F, T): frequency rows, time columns.
        let x = x
            .transpose(1, 2)
            .and_then(|x| x.contiguous())
            .and_then(|x| x.reshape((batch, 1, BINS, frames)))
            .map_err(model)?;
        let x = self.head(&x)?;
        let x = self.xvector(&x)?;
        let flat = x
            .flatten_all()
            .and_then(|x| x.to_vec1::<f32>())
            .map_err(model)?;
        Ok(flat.chunks_exact(DIM).map(<[f32]>::to_vec).collect())
    }

    fn head(&self, x: &Tensor) -> R<Tensor> {
        let x = conv2d(x, &self.head_conv1, 1)?;
        let mut x = self.head_bn1.apply(&x)?.relu().map_err(model)?;
        for b in &self.head_blocks {
            let y = conv2d(&x, &b.conv1, b.stride)?;
            let y = b.bn1.apply(&y)?.relu().map_err(model)?;
            let y = b.bn2.apply(&conv2d(&y, &b.conv2, 1)?)?;
            let short = match &b.shortcut {
                Some((w, n)) => n.apply(&conv2d_1x1(&x, w, b.stride)?)?,
                None => x.clone(),
            };
            x = (y + short).and_then(|s| s.relu()).map_err(model)?;
        }
        let x = conv2d(&x, &self.head_conv2, 2)?;
        let x = self.head_bn2.apply(&x)?.relu().map_err(model)?;
        let (b, c, h, t) = x.dims4().map_err(model)?;
        x.reshape((b, c * h, t)).map_err(model)
    }

    fn xvector(&self, x: &Tensor) -> R<Tensor> {
        let x = x.conv1d(&self.tdnn, 2, 2, 1, 1).map_err(model)?;
        let mut x = self.tdnn_norm.apply(&x)?.relu().map_err(model)?;
        for (layers, transit) in &self.blocks {
            for l in layers {
                let y = cam_layer(&x, l)?;
                x = Tensor::cat(&[&x, &y], 1).map_err(model)?;
            }
            let y = transit.norm.apply(&x)?.relu().map_err(model)?;
            x = y.conv1d(&transit.conv, 0, 1, 1, 1).map_err(model)?;
        }
        let x = self.out_norm.apply(&x)?.relu().map_err(model)?;
        // Statistics pooling: mean and (unbiased) standard deviation over time.
        let t = x.dims3().map_err(model)?.2;
        if t < 2 {
            return Err(SpeakerError::TooShort { ms: 0 });
        }
        let mean = x.mean_keepdim(2).map_err(model)?;
        let std = x.var_keepdim(2).and_then(|v| v.sqrt()).map_err(model)?;
        let stats = Tensor::cat(&[&mean, &std], 1).map_err(model)?;
        let y = stats.conv1d(&self.dense, 0, 1, 1, 1).map_err(model)?;
        self.dense_norm.apply(&y)
    }
}

/// A 3×3 convolution with padding 1, strided over frequency (rows) only.
fn conv2d(x: &Tensor, w: &Tensor, row_stride: usize) -> R<Tensor> {
    let y = x.conv2d(w, 1, 1, 1, 1).map_err(model)?;
    every_other_row(y, row_stride)
}

/// A 1×1 convolution strided over frequency only.
fn conv2d_1x1(x: &Tensor, w: &Tensor, row_stride: usize) -> R<Tensor> {
    let y = x.conv2d(w, 0, 1, 1, 1).map_err(model)?;
    every_other_row(y, row_stride)
}

/// Rows 0, s, 2s, … of `(b, c, h, w)`: a stride-1 convolution's output as the stride-`s`
/// one's (h even for the strides CAM++ uses).
fn every_other_row(y: Tensor, s: usize) -> R<Tensor> {
    if s == 1 {
        return Ok(y);
    }
    let (b, c, h, w) = y.dims4().map_err(model)?;
    let kept = h.div_ceil(s);
    let padded = if h % s == 0 {
        y
    } else {
        let pad =
            Tensor::zeros((b, c, kept * s - h, w), DType::F32, &Device::Cpu).map_err(model)?;
        Tensor::cat(&[&y, &pad], 2).map_err(model)?
    };
    padded
        .reshape((b, c, kept, s, w))
        .and_then(|y| y.narrow(3, 0, 1))
        .and_then(|y| y.squeeze(3))
        .map_err(model)
}

/// One CAM layer: the bottleneck, then a local convolution masked by a gate computed from the
/// utterance's mean and its 100-frame segments' means.
fn cam_layer(x: &Tensor, l: &CamLayer) -> R<Tensor> {
    let y = l.norm1.apply(x)?.relu().map_err(model)?;
    let y = y.conv1d(&l.bottleneck, 0, 1, 1, 1).map_err(model)?;
    let y = l.norm2.apply(&y)?.relu().map_err(model)?;
    let local = y
        .conv1d(&l.local, l.dilation, 1, l.dilation, 1)
        .map_err(model)?;
    let context = y
        .mean_keepdim(2)
        .and_then(|m| m.broadcast_add(&segment_means(&y)?))
        .map_err(model)?;
    let g = context
        .conv1d(&l.gate1.0, 0, 1, 1, 1)
        .and_then(|g| g.broadcast_add(&l.gate1.1))
        .and_then(|g| g.relu())
        .and_then(|g| g.conv1d(&l.gate2.0, 0, 1, 1, 1))
        .and_then(|g| g.broadcast_add(&l.gate2.1))
        .map_err(model)?;
    // sigmoid(g) = 1 / (1 + e^-g)
    let mask = g
        .neg()
        .and_then(|g| g.exp())
        .and_then(|g| g.affine(1.0, 1.0))
        .and_then(|g| g.recip())
        .map_err(model)?;
    (local * mask).map_err(model)
}

/// Each frame's 100-frame segment mean (the last segment over the frames it has), as
/// PyTorch's `avg_pool1d(kernel 100, stride 100, ceil_mode)` expanded back to every frame.
fn segment_means(y: &Tensor) -> Result<Tensor, candle_core::Error> {
    let t = y.dim(2)?;
    let mut parts = Vec::with_capacity(t.div_ceil(SEG_LEN));
    let mut start = 0;
    while start < t {
        let len = SEG_LEN.min(t - start);
        let m = y.narrow(2, start, len)?.mean_keepdim(2)?;
        let (b, c, _) = m.dims3()?;
        parts.push(m.broadcast_as((b, c, len))?);
        start += len;
    }
    Tensor::cat(&parts, 2)
}

/// The cosine similarity of two embeddings (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
