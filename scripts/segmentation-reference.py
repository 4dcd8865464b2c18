#!/usr/bin/env python3
"""The reference numbers `src/speakers/segmentation.rs` is tested against: pyannote's
segmentation-3.0 run by PyTorch itself (torch.nn.LSTM, torch's conv1d and instance norm) on
10 s windows of the shared conversations, the filters computed as asteroid's ParamSincFB
computes them. Writes one line per window: the file, the start sample, then 589 x 7
log-probabilities rounded to 4 decimals.

    python3 -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch numpy
    /tmp/torchref/bin/python scripts/segmentation-reference.py > tests/data/segmentation-reference.txt
"""
import sys, wave
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SHARED = "../shared/data"
import pickle, types

class _Stub:
    def __init__(self, *a, **k): pass
    def __setstate__(self, state): pass

class _Unpickler(pickle.Unpickler):
    # The checkpoint also pickles pyannote's own classes (its task's specifications):
    # stand-ins for those, the tensors as torch reads them.
    def find_class(self, module, name):
        if module.startswith("pyannote"):
            return _Stub
        return super().find_class(module, name)

_pickle = types.ModuleType("stub_pickle")
_pickle.Unpickler = _Unpickler
_pickle.load = pickle.load
sd = torch.load(f"{SHARED}/models/speaker/pyannote-segmentation-3.0.bin",
                map_location="cpu", weights_only=False, pickle_module=_pickle)["state_dict"]

def filters():
    p = "sincnet.conv1d.0.filterbank."
    low = 50 + torch.abs(sd[p + "low_hz_"])
    high = torch.clamp(low + 50 + torch.abs(sd[p + "band_hz_"]), 50, 8000)
    n_, window_ = sd[p + "n_"], sd[p + "window_"]
    band = (high - low)[:, 0]
    ft_low, ft_high = torch.matmul(low, n_), torch.matmul(high, n_)
    out = []
    for kind in ("cos", "sin"):
        if kind == "cos":
            left = ((torch.sin(ft_high) - torch.sin(ft_low)) / (n_ / 2)) * window_
            center = 2 * band.view(-1, 1)
            right = torch.flip(left, dims=[1])
        else:
            left = ((torch.cos(ft_low) - torch.cos(ft_high)) / (n_ / 2)) * window_
            center = torch.zeros_like(band.view(-1, 1))
            right = -torch.flip(left, dims=[1])
        bp = torch.cat([left, center, right], dim=1) / (2 * band[:, None])
        out.append(bp.view(40, 1, 251))
    return torch.cat(out, dim=0)

lstm = nn.LSTM(60, 128, num_layers=4, batch_first=True, bidirectional=True)
lstm.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("lstm.")})
lstm.eval()

def inorm(x, name):
    return F.instance_norm(x, weight=sd[name + ".weight"], bias=sd[name + ".bias"], eps=1e-5)

@torch.no_grad()
def forward(wav):
    x = inorm(wav.view(1, 1, -1), "sincnet.wav_norm1d")
    x = torch.abs(F.conv1d(x, filters(), stride=10))
    x = F.leaky_relu(inorm(F.max_pool1d(x, 3, 3), "sincnet.norm1d.0"))
    for i in (1, 2):
        x = F.conv1d(x, sd[f"sincnet.conv1d.{i}.weight"], sd[f"sincnet.conv1d.{i}.bias"])
        x = F.leaky_relu(inorm(F.max_pool1d(x, 3, 3), f"sincnet.norm1d.{i}"))
    x, _ = lstm(x.transpose(1, 2))
    for i in (0, 1):
        x = F.leaky_relu(F.linear(x, sd[f"linear.{i}.weight"], sd[f"linear.{i}.bias"]))
    x = F.linear(x, sd["classifier.weight"], sd["classifier.bias"])
    return F.log_softmax(x, dim=-1)[0]

def read(path):
    """A mono 16 kHz WAV's samples (16-bit PCM or 32-bit float), as Verbatim decodes them."""
    data = open(path, "rb").read()
    at, fmt = 12, None
    while at + 8 <= len(data):
        cid, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        body = data[at + 8:at + 8 + size]
        if cid == b"fmt ":
            tag, channels, rate = int.from_bytes(body[0:2], "little"), body[2], int.from_bytes(body[4:8], "little")
            assert channels == 1 and rate == 16000, (channels, rate)
            fmt = tag
        elif cid == b"data":
            if fmt == 3:
                return np.frombuffer(body, dtype="<f4").copy()
            return np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0
        at += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")

for name, start in [("sample", 160000), ("ami_dev00", 320000)]:
    audio = read(f"{SHARED}/diarization/{name}.wav")
    lp = forward(torch.from_numpy(audio[start:start + 160000].copy()))
    assert lp.shape == (589, 7), lp.shape
    print(name, start, " ".join(f"{v:.4f}" for v in lp.flatten().tolist()))
