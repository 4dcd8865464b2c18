#!/usr/bin/env bash
# Live captions benchmark: the six shared clips played REPEAT times in a row (default 1:
# 40 s; REPEAT=2: 77 s; REPEAT=16: 10 minutes) through the capture path (fake:clip),
# transcribed live with the real tiny.en by each policy in POLICIES (default: pauses, the
# product's; agreement, LocalAgreement-2 alone; stream, whisper.cpp's `stream` example), one
# after the other in one run. BUSY=1 runs each again with one core kept busy by another
# program (a shell busy loop, as `stress-ng --cpu 1` would). Prints one line per run: live
# WER against the reference and against the final pass over the file, the committed words'
# caption lag p50/p95/max (recorded length when a word is committed minus its end), how long
# after its end a word was first shown (tentative or committed), and the live worker's CPU
# (seconds and share of the take's length).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/verbatim-ci-target}"
export VERBATIM_LIVE_REPEAT="${REPEAT:-1}"
# FEATURES=cuda (or vulkan, metal) measures a GPU build: the live worker then runs there.
features=()
if [[ -n "${FEATURES:-}" ]]; then features=(--features "$FEATURES"); fi
cargo test "${features[@]}" --test transcribe_live --no-run >/dev/null 2>&1
busy_pid=""
stop_busy() { if [[ -n "$busy_pid" ]]; then kill "$busy_pid" 2>/dev/null || true; wait "$busy_pid" 2>/dev/null || true; busy_pid=""; fi; }
trap stop_busy EXIT
loads=(idle)
if [[ "${BUSY:-0}" == 1 ]]; then loads+=(busy); fi
for load in "${loads[@]}"; do
    if [[ "$load" == busy ]]; then
        (while :; do :; done) &
        busy_pid=$!
    fi
    for policy in ${POLICIES:-pauses agreement stream}; do
        VERBATIM_LIVE_POLICY=$policy cargo test "${features[@]}" --quiet --test transcribe_live -- \
            --exact live_captions_on_real_speech_commit_each_word_once --nocapture 2>&1 |
            grep '^BENCH' | sed "s/^BENCH /load=$load /"
    done
    stop_busy
done
