# Verbatim: two commands do everything on a fresh Debian machine.
#   make run    install missing system packages, build, launch the workstation
#   make test   install missing system packages (Xvfb too), lint, run every test
SHELL := /bin/bash
CARGO ?= cargo
# Arguments for `make run`, e.g. make run ARGS="library"
ARGS ?=
# The virtual screen the GUI tests run on when there is no display.
XVFB := xvfb-run -a -s "-screen 0 1600x1000x24"

.PHONY: run test test-gpu setup setup-test build lint test-only bench fuzz clean

setup:
	@./scripts/system-packages.sh run

setup-test:
	@./scripts/system-packages.sh test

build: setup
	$(CARGO) build

run: build
	$(CARGO) run -- $(ARGS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

# Every test, under a virtual X server so the window tests run without a display.
test-only:
	$(XVFB) $(CARGO) test --all-targets

test: setup-test lint test-only

# The transcription engine tests on a GPU build. GPU_FEATURE=cuda needs the CUDA toolkit
# (nvcc) and an NVIDIA driver; GPU_FEATURE=vulkan needs Vulkan headers >= 1.3.275 (newer than
# Debian 12's 1.3.239) and glslc. See the README.
GPU_FEATURE ?= cuda
test-gpu: setup-test
	$(CARGO) test --features $(GPU_FEATURE) --test transcribe_jobs --test transcribe_cli -- --nocapture

bench: setup
	$(CARGO) bench

# Runs the import fuzzer for FUZZ_SECONDS (needs nightly and cargo-fuzz).
FUZZ_SECONDS ?= 300
fuzz:
	$(CARGO) +nightly fuzz run --fuzz-dir tests/fuzz import tests/fuzz/corpus/import -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536

clean:
	$(CARGO) clean
