#!/usr/bin/env bash
# Two builds of Verbatim on the same long files, interleaved: `verbatim transcribe` end to end
# on a fresh data directory (process start, model load, import, the worker, the database),
# tiny.en, the default 2 threads. Prints each run's seconds and the worker's peak resident
# memory, then the minimum per build and file and whether the words differ. BUSY=1 keeps one
# core busy with a shell loop.
# usage: BEFORE=path/to/verbatim AFTER=path/to/verbatim [ROUNDS=3] [BUSY=0] scripts/bench-ab.sh
# The files (made here with python3's wave module from ../shared/data/speech): the six clips
# five times with 1 s pauses (208.7 s), and the clips four times in a seeded shuffle, a
# quarter at -12 dB and a quarter at -18 dB, with noise pauses of 0.8-5 s (214.8 s).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BEFORE:?BEFORE=path to the first verbatim binary}" "${AFTER:?AFTER=path to the second}"
model=${MODEL:-$PWD/../shared/data/models/tiny.en-ggml.bin}
work=$(mktemp -d); trap 'rm -rf "$work"; [[ -n "${busy:-}" ]] && kill -9 "$busy" 2>/dev/null || true' EXIT
python3 - "$work" "$PWD/../shared/data/speech" <<'PY'
import array, glob, random, sys, wave
out_dir, speech = sys.argv[1], sys.argv[2]
clips = sorted(glob.glob(speech + '/*.wav'))
def read(c):
    w = wave.open(c); return array.array('h', w.readframes(w.getnframes()))
def write(name, a):
    o = wave.open(f'{out_dir}/{name}', 'wb'); o.setnchannels(1); o.setsampwidth(2)
    o.setframerate(16000); o.writeframes(a.tobytes()); o.close()
a = array.array('h')
for _ in range(5):
    for c in clips:
        a.extend(read(c)); a.extend(array.array('h', bytes(32000)))
write('clips5.wav', a)
random.seed(7)
order = [c for _ in range(4) for c in clips]; random.shuffle(order)
a = array.array('h')
for i, c in enumerate(order):
    g = [1.0, 1.0, 0.25, 0.125][i % 4]
    a.extend(array.array('h', [int(x * g) for x in read(c)]))
    a.extend(array.array('h', [int(random.gauss(0, 30)) for _ in range(int(16000 * random.choice([0.8, 1.5, 3.0, 5.0])))]))
write('mixed4.wav', a)
PY
if [[ "${BUSY:-0}" == 1 ]]; then bash -c 'while :; do :; done' & busy=$!; fi
results=$work/results
for round in $(seq "${ROUNDS:-3}"); do
    for f in clips5 mixed4; do
        for build in before after; do
            bin=$BEFORE; [[ $build == after ]] && bin=$AFTER
            rm -rf "$work/home"
            line=$( { /usr/bin/time -f "TIME %e %M" "$bin" --data-dir "$work/home" transcribe \
                --model "$model" "$work/$f.wav" --export txt --out "$work/$build" >/dev/null; } 2>&1 \
                | grep '^TIME')
            read -r _ secs kb <<<"$line"
            echo "round $round $f $build ${secs} s, worker peak $((kb / 1000)) MB"
            echo "$f $build $secs $kb" >>"$results"
        done
    done
done
echo "minimum per build and file:"
sort -k1,1 -k2,2 -k3,3n "$results" | awk '!seen[$1" "$2]++ { printf "%s %s %s s, %d MB\n", $1, $2, $3, $4 / 1000 }'
echo "words (the last round's text, before against after):"
for f in clips5 mixed4; do
    python3 - "$work/before/$f.txt" "$work/after/$f.txt" "$f" <<'PY'
import difflib, re, sys
words = [re.findall(r"[\w']+", open(p).read().lower()) for p in sys.argv[1:3]]
sm = difflib.SequenceMatcher(a=words[0], b=words[1], autojunk=False)
changed = sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in sm.get_opcodes() if op != 'equal')
print(f"{sys.argv[3]}: {len(words[0])} words before, {len(words[1])} after, {changed} different")
for op, i1, i2, j1, j2 in sm.get_opcodes():
    if op != 'equal':
        print(f"  {' '.join(words[0][i1:i2])!r} -> {' '.join(words[1][j1:j2])!r}")
PY
done
