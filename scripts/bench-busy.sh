#!/usr/bin/env bash
# Whisper on a busy machine: the six shared clips twice in a row (83 s) transcribed by the
# CLI with tiny.en, idle and with one core kept busy by another program (a shell busy loop,
# as `stress-ng --cpu 1` would), in one run:
#   - default threads (every core; fewer while other programs keep cores busy),
#   - every core, fixed (`--threads N`: how every job ran before the threads gave way),
#   - one core fewer, fixed.
# Prints a markdown table: seconds (the job's own processing time) and the ratio to the idle
# default. RUNS=N repeats each row and keeps the median. MODEL=path picks another model.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${MODEL:-../shared/data/models/tiny.en-ggml.bin}
runs=${RUNS:-1}
# The test-profile binary, a work folder, a busy loop: scripts/bench/lib.sh.
source scripts/bench/lib.sh
python3 - "$work/long.wav" <<'PY'
import glob, sys, wave
clips = sorted(glob.glob("../shared/data/speech/*.wav"))
out = wave.open(sys.argv[1], "wb")
for i in range(2):
    for n, path in enumerate(clips):
        w = wave.open(path)
        if i == 0 and n == 0:
            out.setparams(w.getparams())
        out.writeframes(w.readframes(w.getnframes()))
        out.writeframes(b"\0\0" * w.getframerate())
out.close()
PY
cores=$(nproc)
# One job on a fresh home; prints its processing seconds.
job() {
  local home="$work/home"
  rm -rf "$home"
  VERBATIM_HOME="$home" "$bin" transcribe "$work/long.wav" --model "$model" "$@" \
    --export txt --out "$work/out" 2>/dev/null |
    sed -n 's/.* segments, \([0-9.]*\) s on .*/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
row() {
  local load=$1 label=$2; shift 2
  local s
  s=$(for _ in $(seq "$runs"); do job "$@"; done | median)
  echo "$load|$label|$s"
}
rows="$work/rows"
row idle "default ($cores threads)" >>"$rows"
row idle "$cores threads, fixed" --threads "$cores" >>"$rows"
busy_start
row "one core busy" "default (gives way)" >>"$rows"
row "one core busy" "$cores threads, fixed" --threads "$cores" >>"$rows"
if [ "$cores" -gt 1 ]; then
  row "one core busy" "$((cores - 1)) threads, fixed" --threads "$((cores - 1))" >>"$rows"
fi
awk -F'|' 'NR == 1 {base = $3; print "| load | threads | seconds | vs idle default |"; print "| --- | --- | --- | --- |"}
  {printf "| %s | %s | %.1f | %.2f× |\n", $1, $2, $3, $3 / base}' "$rows"
