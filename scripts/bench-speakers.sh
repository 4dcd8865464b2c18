#!/usr/bin/env bash
# Diarization speed and memory: a long recording (MINUTES, default just under an hour) built
# from the shared conversations (a telephone call and two stretches of a
# meeting, repeated), diarized by `verbatim diarize FILE` with both speaker models (CAM++ and
# segmentation-3.0), idle and with one core kept busy by a shell busy loop, in one run.
# Prints a markdown table: wall seconds, times real time, CPU seconds, peak resident memory.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${MINUTES:-59.9}
# The test-profile binary, a work folder, a busy loop: scripts/bench/lib.sh.
source scripts/bench/lib.sh
mkdir -p "$work/home/models"
cp ../shared/data/models/speaker/campplus_cn_en_common.pt \
   ../shared/data/models/speaker/pyannote-segmentation-3.0.bin "$work/home/models/"
python3 - "$work/long.wav" "$minutes" <<'PY'
import array, struct, sys
def samples(path):
    b = open(path, "rb").read()
    i, fmt = 12, None
    while i < len(b):
        cid, n = b[i:i + 4], struct.unpack("<I", b[i + 4:i + 8])[0]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", b[i + 8:i + 24])
        if cid == b"data":
            d = b[i + 8:i + 8 + n]
            if fmt[0] == 3:  # 32-bit float
                a = array.array("f")
                a.frombytes(d)
                return array.array("h", (max(-32768, min(32767, int(x * 32767))) for x in a))
            a = array.array("h")
            a.frombytes(d)
            return a
        i += 8 + n + (n & 1)
    sys.exit(f"{path}: no audio")
d = "../shared/data/diarization/"
one = array.array("h")
for p in ["sample", "ami_dev00", "ami_dev01"]:
    one.extend(samples(d + p + ".wav"))
want = int(float(sys.argv[2]) * 60 * 16000)
out = array.array("h")
while len(out) < want:
    out.extend(one)
pcm = out[:want].tobytes()
with open(sys.argv[1], "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE")
    f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16))
    f.write(b"data" + struct.pack("<I", len(pcm)) + pcm)
PY
seconds=$(python3 -c "print($minutes * 60)")
run() {
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" \
    env VERBATIM_HOME="$work/home" "$bin" diarize "$work/long.wav" --json >/dev/null 2>"$work/err" \
    || { cat "$work/err" >&2; exit 1; }
  read -r wall user sys kb < "$work/time"
  python3 -c "print(f'| $1 | {$wall:.1f} | {$seconds / $wall:.1f}x | {$user + $sys:.1f} | {$kb / 1024:.0f} MB |')"
}
echo "$minutes minutes of audio, $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| load | seconds | real time | CPU seconds | peak memory |"
echo "| --- | ---: | ---: | ---: | ---: |"
run idle
# BUSY=0: the idle run only.
if [ "${BUSY:-1}" != 0 ]; then
  busy_start
  run "one core busy"
fi
