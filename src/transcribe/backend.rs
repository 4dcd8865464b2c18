//! Which compute back-ends this build and machine have (ggml's device registry).
//!
//! One of two places with `unsafe` (the other is [`super::quantize`]): ggml's device enumeration is a C API that whisper-rs does
//! not wrap. Each call is a plain getter over ggml's static registry: indices come from
//! `ggml_backend_dev_count`, returned pointers are owned by ggml and live for the process,
//! and strings are NUL-terminated C strings that are copied out at once.
#![allow(unsafe_code)]

use std::ffi::CStr;

use whisper_rs::whisper_rs_sys as sys;

/// A GPU ggml can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuDevice {
    /// ggml's back-end name ("CUDA0", "Vulkan0", "Metal").
    pub name: String,
    /// The device, as the driver names it.
    pub description: String,
}

/// The GPU back-ends compiled into this build ("cuda", "vulkan", "metal"); empty for CPU-only.
pub fn compiled_gpu_backends() -> Vec<&'static str> {
    crate::build_info::features()
        .into_iter()
        .filter(|f| *f != "cpu")
        .collect()
}

/// GPUs ggml found (always empty in a CPU-only build).
pub fn gpu_devices() -> Vec<GpuDevice> {
    let mut out = Vec::new();
    // SAFETY: see the module comment; no pointer outlives this loop except copied strings.
    unsafe {
        let n = sys::ggml_backend_dev_count();
        for i in 0..n {
            let dev = sys::ggml_backend_dev_get(i);
            if dev.is_null() {
                continue;
            }
            let ty = sys::ggml_backend_dev_type(dev);
            if ty != sys::ggml_backend_dev_type_GGML_BACKEND_DEVICE_TYPE_GPU
                && ty != sys::ggml_backend_dev_type_GGML_BACKEND_DEVICE_TYPE_IGPU
            {
                continue;
            }
            let text = |p: *const std::os::raw::c_char| {
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            };
            out.push(GpuDevice {
                name: text(sys::ggml_backend_dev_name(dev)),
                description: text(sys::ggml_backend_dev_description(dev)),
            });
        }
    }
    out
}

/// The widest SIMD extension the CPU has that ggml uses ("AVX512", "AVX2", "NEON", ...).
pub fn cpu_simd() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX512";
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return "AVX2";
        }
        if std::arch::is_x86_feature_detected!("avx") {
            return "AVX";
        }
        "SSE"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "NEON"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

/// "cpu: 2 threads, AVX2".
pub fn describe_cpu(threads: u32) -> String {
    format!(
        "cpu: {threads} thread{}, {}",
        if threads == 1 { "" } else { "s" },
        cpu_simd()
    )
}

/// "cuda: NVIDIA H200".
pub fn describe_gpu(dev: &GpuDevice) -> String {
    let lower = dev.name.to_ascii_lowercase();
    let family = ["cuda", "vulkan", "metal"]
        .into_iter()
        .find(|f| lower.starts_with(f))
        .unwrap_or("gpu");
    format!("{family}: {}", dev.description)
}

/// How many whisper threads a job gets: the cores left free by capture and the UI, at
/// least one, at most eight (whisper scales poorly past that, and ggml's thread pool spins:
/// oversubscribing a core costs far more than it gains).
pub fn whisper_threads(reserved_cores: u32) -> u32 {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    cores.saturating_sub(reserved_cores).clamp(1, 8)
}
