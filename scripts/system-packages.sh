#!/usr/bin/env bash
# The one list of Debian packages Verbatim needs, and the one place that installs them.
#
#   scripts/system-packages.sh run    # what building and launching the workstation needs
#   scripts/system-packages.sh test   # the above plus what the test suite drives (Xvfb, ...)
#   scripts/system-packages.sh list [run|test]   # print the list and exit
#
# Installs only what is missing. As root it runs apt-get itself; otherwise it uses `sudo -n`
# when that works without a password, and else prints the exact command to run and fails.
set -euo pipefail

profile=${1:-run}
if [ "$profile" = list ]; then list_only=1; profile=${2:-test}; else list_only=0; fi

# Building: C toolchain for the bundled SQLite, cmake and libclang (bindgen) for whisper.cpp,
# pkg-config for the -sys crates, and the
# headers that winit (X11 + Wayland) and ALSA (cpal) link against.
build=(build-essential pkg-config cmake libclang-dev libx11-dev libxkbcommon-dev libwayland-dev libasound2-dev)
# Running the window: a Vulkan loader and Mesa's software Vulkan (lavapipe) so the window
# renders on any machine, with or without a GPU driver; the X11 cursor/keyboard runtime.
runtime=(libvulkan1 mesa-vulkan-drivers libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6)
# Testing: a virtual X server for the GUI tests; a PulseAudio server with a null sink, its
# command-line tools (paplay, pactl) and ALSA's PulseAudio plugin, so cpal (ALSA) records real
# audio played into the null sink's monitor on a machine without a sound card; espeak-ng
# speaks the whispered sentences of the whispered-speech test (tests/real_speech.rs).
testing=(xvfb xauth pulseaudio pulseaudio-utils libasound2-plugins espeak-ng)

case "$profile" in
  run) wanted=("${build[@]}" "${runtime[@]}") ;;
  test) wanted=("${build[@]}" "${runtime[@]}" "${testing[@]}") ;;
  *) echo "usage: $0 run|test|list [run|test]" >&2; exit 2 ;;
esac

if [ "$list_only" = 1 ]; then printf '%s\n' "${wanted[@]}"; exit 0; fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "system-packages: no Rust toolchain (cargo) found. Install Rust 1.95 or newer with rustup," >&2
  echo "then run this again." >&2
  exit 1
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "system-packages: not a Debian-based system; install the equivalents of: ${wanted[*]}" >&2
  exit 0
fi

missing=()
for p in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
echo "system-packages: installing ${missing[*]}" >&2
if [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${cmd[@]}" -qq
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  sudo -n env DEBIAN_FRONTEND=noninteractive "${cmd[@]}" -qq
else
  echo "system-packages: missing packages and no root rights. Run:" >&2
  echo "  sudo apt-get update && sudo ${cmd[*]}" >&2
  exit 1
fi
