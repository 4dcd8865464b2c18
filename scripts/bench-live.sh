#!/usr/bin/env bash
# Live captions benchmark: the six shared clips played REPEAT times in a row (default 2:
# 77 s) through the capture path (fake:clip), transcribed live with the real tiny.en by
# LocalAgreement-2 and by the `stream` baseline (10 s every 3 s), one after the other in one
# run. Prints one line per policy: live WER against the reference and against the final pass
# over the file, caption lag p50/p95 (recorded length when a word is committed minus its
# end), and the live worker's CPU (seconds and share of the take's length).
# Run it on an idle machine: the lag depends on what else runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/verbatim-ci-target}"
export VERBATIM_LIVE_REPEAT="${REPEAT:-2}"
# FEATURES=cuda (or vulkan, metal) measures a GPU build: the live worker then runs there.
features=()
if [[ -n "${FEATURES:-}" ]]; then features=(--features "$FEATURES"); fi
cargo test "${features[@]}" --test transcribe_live --no-run >/dev/null 2>&1
for policy in agreement stream; do
    VERBATIM_LIVE_POLICY=$policy cargo test "${features[@]}" --quiet --test transcribe_live -- \
        --exact live_captions_on_real_speech_commit_each_word_once --nocapture 2>&1 |
        grep '^BENCH' | sed 's/^BENCH //'
done
