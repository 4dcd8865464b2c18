# Sourced by scripts/bench-busy.sh and scripts/bench-speakers.sh (from the repository root):
# the test-profile binary (`$bin`, the build `make test` already made), a work folder (`$work`)
# and a busy loop on one core (`busy_start`), both removed however the script ends.
target=${CARGO_TARGET_DIR:-target}
cargo build --profile test --bin verbatim >/dev/null 2>&1
bin="$target/debug/verbatim"
work=$(mktemp -d)
busy_pid=""
busy_start() {
  bash -c 'while :; do :; done' >/dev/null 2>&1 &
  busy_pid=$!
}
cleanup() {
  if [ -n "$busy_pid" ]; then kill "$busy_pid" 2>/dev/null || true; wait "$busy_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
