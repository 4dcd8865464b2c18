//! What this build is: the Cargo features it was made with (which GPU backends whisper.cpp
//! was compiled for). Shown in the status bar, `--version` and every transcript's backend.

/// Cargo features this build was made with, for the status bar and `--version`.
pub fn features() -> Vec<&'static str> {
    let mut features = Vec::new();
    if cfg!(feature = "cuda") {
        features.push("cuda");
    }
    if cfg!(feature = "vulkan") {
        features.push("vulkan");
    }
    if cfg!(feature = "metal") {
        features.push("metal");
    }
    if features.is_empty() {
        features.push("cpu");
    }
    features
}
