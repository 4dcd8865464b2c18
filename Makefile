# Verbatim: two commands do everything on a fresh Debian machine.
#   make run    install missing system packages, build, launch the workstation
#   make test   install missing system packages (Xvfb too), lint, run every test
SHELL := /bin/bash
CARGO ?= cargo
# Arguments for `make run`, e.g. make run ARGS="library"
ARGS ?=
# The virtual screen the GUI tests run on when there is no display.
XVFB := xvfb-run -a -s "-screen 0 1600x1000x24"

.PHONY: run test test-gpu setup setup-test build lint test-only bench fuzz fuzz-stable clean

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

# Runs the audio import fuzzer, then the transcript import fuzzer, for FUZZ_SECONDS each
# (needs nightly and cargo-fuzz).
FUZZ_SECONDS ?= 300
fuzz:
	$(CARGO) +nightly fuzz run --fuzz-dir tests/fuzz import tests/fuzz/corpus/import -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536
	$(CARGO) +nightly fuzz run --fuzz-dir tests/fuzz transcript tests/fuzz/corpus/transcript -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536

# The same fuzzers on the stable toolchain (no cargo-fuzz): libFuzzer with SanitizerCoverage's
# stable -C flags, overflow checks and debug assertions on, no AddressSanitizer. Runs each
# target for FUZZ_SECONDS on a scratch copy of its corpus.
FUZZ_FLAGS := -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
	-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
	-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks
FUZZ_TARGET_DIR ?= target/fuzz-stable
fuzz-stable:
	cd tests/fuzz && RUSTFLAGS="$(FUZZ_FLAGS)" CARGO_TARGET_DIR=$(abspath $(FUZZ_TARGET_DIR)) \
		$(CARGO) build --release --target x86_64-unknown-linux-gnu --bins
	for t in import transcript; do \
		work=$$(mktemp -d) && cp tests/fuzz/corpus/$$t/* $$work/ && \
		$(FUZZ_TARGET_DIR)/x86_64-unknown-linux-gnu/release/$$t $$work -max_total_time=$(FUZZ_SECONDS) \
			-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix=$$work/ || exit 1; \
		rm -rf $$work; \
	done

clean:
	$(CARGO) clean
