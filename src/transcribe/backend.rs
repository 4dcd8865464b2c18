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

/// How many cores other programs keep busy, and so how many whisper threads make sense now.
///
/// ggml's thread pool syncs its threads at every operation and spins while it waits: when
/// another program holds one of the cores a thread was counted on, every operation waits for
/// the starved thread (an 83 s file on 2 cores with one taken by a busy loop: 14.0 s with 2
/// threads, 11.2 s with 1; idle, 6.2 s with 2; `scripts/bench-busy.sh`). Between two looks it reads the machine's busy
/// time (`/proc/stat`) less this process's own (`/proc/self/stat`): what is left is other
/// programs, in cores. Where `/proc` is not there, the threads asked for are used.
#[derive(Debug, Default)]
pub struct CoreWatch {
    last: Option<CpuSample>,
    /// The threads the last look chose (kept while too little time has passed to look).
    chosen: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CpuSample {
    /// Busy and total clock ticks summed over every core.
    busy: u64,
    total: u64,
    /// This process's user + system ticks.
    own: u64,
}

/// Fewer ticks than this between two looks (every core together) say nothing yet.
const MIN_TICKS: u64 = 20;
/// How long the first look of a job waits when the job started too recently to tell.
const FIRST_LOOK: std::time::Duration = std::time::Duration::from_millis(120);

impl CoreWatch {
    /// Starts watching: the next [`Self::threads`] looks at what ran from now.
    pub fn start(&mut self) {
        self.last = sample();
        self.chosen = None;
    }

    /// The threads for the next whisper call: `asked`, less the cores other programs kept
    /// busy since the last look (a core counts as taken from 0.6 of it), at least one.
    pub fn threads(&mut self, asked: u32) -> u32 {
        if asked <= 1 {
            return 1;
        }
        let Some(before) = self.last else {
            self.last = sample();
            return asked;
        };
        let mut now = sample();
        if now.is_some_and(|n| n.total.saturating_sub(before.total) < MIN_TICKS) {
            if let Some(chosen) = self.chosen {
                return chosen.min(asked);
            }
            // The job's first call, too soon to tell: a first look costs a tenth of a
            // second, a first window run with a thread that has no core costs seconds.
            std::thread::sleep(FIRST_LOOK);
            now = sample();
        }
        let Some(now) = now else { return asked };
        self.last = Some(now);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let threads = free_threads(asked, cores, others_busy_cores(before, now, cores));
        self.chosen = Some(threads);
        threads
    }
}

/// Cores other programs kept busy between two samples.
fn others_busy_cores(before: CpuSample, now: CpuSample, cores: u32) -> f64 {
    let total = now.total.saturating_sub(before.total).max(1) as f64;
    let busy = now.busy.saturating_sub(before.busy) as f64;
    let own = now.own.saturating_sub(before.own) as f64;
    ((busy - own).max(0.0) / total) * f64::from(cores)
}

/// `asked` threads less the cores `taken` by others (0.6 of a core counts), at least one.
fn free_threads(asked: u32, cores: u32, taken: f64) -> u32 {
    let taken = (taken + 0.4).floor().max(0.0) as u32;
    asked.min(cores.saturating_sub(taken)).max(1)
}

fn sample() -> Option<CpuSample> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_sample(&stat, &own)
}

fn parse_sample(stat: &str, own: &str) -> Option<CpuSample> {
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    let idle = get(3) + get(4);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
    // "pid (comm) state ppid ...": utime and stime are fields 14 and 15; the name may hold
    // spaces and parentheses, so count from the last ')'.
    let rest = own.get(own.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(CpuSample {
        busy,
        total: busy + idle,
        own: utime + stime,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_is_read_and_a_name_with_spaces_does_not_shift_the_fields() {
        let stat = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\n";
        let own = "4242 (verbatim (worker) x) S 1 4242 4242 0 -1 4194304 10 0 0 0 37 11 0 0 20 0 3";
        let s = parse_sample(stat, own).unwrap();
        assert_eq!((s.busy, s.total, s.own), (160, 980, 48));
        assert_eq!(parse_sample("nonsense", own), None);
    }

    #[test]
    fn threads_give_way_to_the_cores_other_programs_hold() {
        let at = |busy, total, own| CpuSample { busy, total, own };
        // 2 cores, 200 ticks: a busy loop (100) and our own whisper (90).
        let taken = others_busy_cores(at(0, 0, 0), at(190, 200, 90), 2);
        assert!((taken - 1.0).abs() < 1e-9, "{taken}");
        assert_eq!(free_threads(2, 2, taken), 1);
        // Only our own work: nothing taken.
        assert_eq!(
            free_threads(2, 2, others_busy_cores(at(0, 0, 0), at(180, 200, 180), 2)),
            2
        );
        // A browser at a third of a core does not cost a thread; never below one.
        assert_eq!(free_threads(2, 2, 0.3), 2);
        assert_eq!(free_threads(4, 4, 3.0), 1);
        assert_eq!(free_threads(2, 2, 5.0), 1);
        // Fewer than asked are never raised.
        assert_eq!(free_threads(1, 8, 0.0), 1);
    }
}
