#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly by design
//! One job in a `verbatim worker` process of its own, driven over its stdin/stdout protocol,
//! and the worker's peak resident memory (VmHWM) read while it still runs: for the memory
//! tests and the `job_memory` benchmark.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use std::path::{Path, PathBuf};

use verbatim::transcribe::protocol::{
    DecodeParams, FromWorker, GpuPref, JobSpec, JobStats, ToWorker,
};

/// What a job in its own worker did.
pub struct WorkerRun {
    pub segments: usize,
    pub stats: JobStats,
    /// The worker's peak resident memory, kB, read after the job and before it exits.
    pub peak_kb: u64,
    pub seconds: f64,
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A whole-file job on the CPU with the default decoding and the Silero VAD model `vad`,
/// `threads` whisper threads (used as given).
pub fn file_job(audio: &Path, model: PathBuf, vad: PathBuf, threads: u32) -> JobSpec {
    JobSpec {
        job: 1,
        audio: audio.to_path_buf(),
        model,
        params: DecodeParams::default(),
        vad_model: Some(vad),
        gpu: GpuPref::Off,
        threads,
        adapt_threads: false,
        vad_threads: 1,
        spans_ms: Vec::new(),
    }
}

/// Runs `job` in a fresh `verbatim worker` (the binary `exe`) and shuts it down after.
pub fn run_job(exe: &str, job: JobSpec) -> WorkerRun {
    let mut child = Command::new(exe)
        .arg("worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let t = Instant::now();
    writeln!(
        stdin,
        "{}",
        serde_json::to_string(&ToWorker::Run(Box::new(job))).unwrap()
    )
    .unwrap();
    let mut segments = 0;
    let mut peak_during = 0;
    let mut done = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        peak_during = peak_during.max(vm_hwm_kb(pid).unwrap_or(0));
        match serde_json::from_str::<FromWorker>(&line) {
            Ok(FromWorker::Segment { .. }) => segments += 1,
            Ok(FromWorker::Done { stats, .. }) => {
                let seconds = t.elapsed().as_secs_f64();
                let peak_kb = vm_hwm_kb(pid).unwrap_or(peak_during);
                done = Some(WorkerRun {
                    segments,
                    stats,
                    peak_kb,
                    seconds,
                });
                break;
            }
            Ok(FromWorker::Failed { error, .. }) => panic!("the job failed: {error}"),
            _ => {}
        }
    }
    let _ = writeln!(
        stdin,
        "{}",
        serde_json::to_string(&ToWorker::Shutdown).unwrap()
    );
    drop(stdin);
    let _ = child.wait();
    done.expect("the worker ended before the job was done")
}
