#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The synthetic whisper model and the real Silero model, for the transcription tests.

use std::path::PathBuf;
use std::sync::OnceLock;

use verbatim::transcribe::synthetic::{SynthSpec, write_model};

/// The synthetic model, written once per test binary run.
pub fn synthetic_model() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| synthetic_with(&SynthSpec::default(), "synth-f16"))
        .clone()
}

/// A synthetic model with other dimensions, written once per name.
pub fn synthetic_with(spec: &SynthSpec, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("models");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("ggml-{name}-{}.bin", std::process::id()));
    if !path.exists() {
        let tmp = path.with_extension("tmp");
        write_model(&tmp, spec).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    path
}

/// whisper.cpp's Silero v6.2.0 model from `../shared/data/models`.
pub fn vad_model() -> PathBuf {
    super::manifest_dir().join("../shared/data/models/silero-v6.2.0-ggml.bin")
}

/// The `verbatim` binary (the worker process).
pub fn verbatim_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_verbatim"))
}
