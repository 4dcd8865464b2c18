//! The supervised worker process.
//!
//! whisper.cpp can take its whole process down (a `GGML_ASSERT`, a crafted model), so it
//! never runs in the app: [`ProcessTranscriber`] spawns `verbatim worker`, talks to it over
//! its stdin/stdout ([`super::protocol`]), forwards its stderr to the log, notices when it
//! dies (the running job fails with the reason) and starts a new one for the next job.
//! [`worker_main`] is the other end.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use super::engine::{Emit, Engine, Faults};
use super::protocol::{FailKind, FromWorker, JobSpec, ToWorker};
use super::{TranscribeError, Transcriber};

/// What the engine reports to the app.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    Message(FromWorker),
    /// The worker process died; `job` was running on it.
    Crashed {
        job: Option<i64>,
        message: String,
    },
}

/// How to start the worker.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerCommand {
    /// The `verbatim` executable (the running one, except in tests).
    pub exe: PathBuf,
    /// Extra environment (tests inject faults this way).
    pub env: Vec<(String, String)>,
}

impl WorkerCommand {
    /// The running executable, unless `VERBATIM_WORKER_EXE` names another.
    pub fn current() -> Result<Self, TranscribeError> {
        let exe = match std::env::var_os("VERBATIM_WORKER_EXE") {
            Some(p) => PathBuf::from(p),
            None => std::env::current_exe().map_err(|e| {
                TranscribeError::Worker(format!(
                    "cannot find the verbatim executable to start the transcription worker: {e}"
                ))
            })?,
        };
        Ok(Self {
            exe,
            env: Vec::new(),
        })
    }
}

enum Raw {
    Line(u64, String),
    Eof(u64),
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    generation: u64,
}

/// A [`Transcriber`] that runs whisper in a child process and restarts it when it dies.
pub struct ProcessTranscriber {
    command: WorkerCommand,
    running: Option<Running>,
    generation: u64,
    raw_tx: Sender<Raw>,
    raw_rx: Receiver<Raw>,
    current: Option<i64>,
    /// Workers started so far (the first one included).
    pub starts: u32,
}

impl std::fmt::Debug for ProcessTranscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessTranscriber")
            .field("command", &self.command)
            .field("generation", &self.generation)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl ProcessTranscriber {
    pub fn new(command: WorkerCommand) -> Self {
        let (raw_tx, raw_rx) = crossbeam_channel::unbounded();
        Self {
            command,
            running: None,
            generation: 0,
            raw_tx,
            raw_rx,
            current: None,
            starts: 0,
        }
    }

    /// The worker's process id, while one runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    fn spawn(&mut self) -> Result<(), TranscribeError> {
        self.generation += 1;
        let generation = self.generation;
        let mut cmd = Command::new(&self.command.exe);
        cmd.arg("worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.command.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| {
            TranscribeError::Worker(format!(
                "cannot start the transcription worker ({}): {e}",
                self.command.exe.display()
            ))
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TranscribeError::Worker(
                "the worker's pipes did not open".into(),
            ));
        };
        let tx = self.raw_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("verbatim-worker-out".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    match line {
                        Ok(l) => {
                            if tx.send(Raw::Line(generation, l)).is_err() {
                                return;
                            }
                        }
                        Err(_) => break,
                    }
                }
                let _ = tx.send(Raw::Eof(generation));
            })
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("verbatim-worker-log".into())
                    .spawn(move || {
                        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                            tracing::info!(target: "verbatim::worker", "{line}");
                        }
                    })
            });
        if let Err(e) = spawned {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TranscribeError::Worker(format!(
                "cannot start a thread: {e}"
            )));
        }
        tracing::info!(pid = child.id(), generation, "transcription worker started");
        self.starts += 1;
        self.running = Some(Running {
            child,
            stdin,
            generation,
        });
        Ok(())
    }

    fn send(&mut self, msg: &ToWorker) -> Result<(), TranscribeError> {
        let Some(r) = self.running.as_mut() else {
            return Err(TranscribeError::Worker("no worker is running".into()));
        };
        let line = serde_json::to_string(msg)
            .map_err(|e| TranscribeError::Worker(format!("cannot encode a message: {e}")))?;
        writeln!(r.stdin, "{line}")
            .and_then(|_| r.stdin.flush())
            .map_err(|e| TranscribeError::Worker(format!("the worker stopped listening: {e}")))
    }

    /// The worker of `generation` ended: reap it and say how.
    fn reap(&mut self, generation: u64) -> Option<EngineEvent> {
        let r = self.running.take_if(|r| r.generation == generation)?;
        let mut child = r.child;
        drop(r.stdin);
        let status = match child.try_wait() {
            Ok(Some(s)) => Some(s),
            _ => {
                // Its stdout closed; give it a moment to finish exiting.
                std::thread::sleep(std::time::Duration::from_millis(50));
                match child.try_wait() {
                    Ok(Some(s)) => Some(s),
                    _ => {
                        let _ = child.kill();
                        child.wait().ok()
                    }
                }
            }
        };
        let how = status.map_or_else(|| "ended".to_string(), describe_exit);
        let job = self.current.take();
        tracing::error!(generation, ?job, "transcription worker {how}");
        Some(EngineEvent::Crashed {
            job,
            message: format!("the transcription engine {how}"),
        })
    }
}

/// "was killed by signal 9 (SIGKILL)", "exited with code 3".
fn describe_exit(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let name = match sig {
                6 => " (SIGABRT: whisper.cpp aborted)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV: whisper.cpp crashed)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return format!("was killed by signal {sig}{name}");
        }
    }
    match status.code() {
        Some(c) => format!("exited with code {c}"),
        None => "ended".into(),
    }
}

impl Transcriber for ProcessTranscriber {
    fn submit(&mut self, spec: JobSpec) -> Result<(), TranscribeError> {
        if self.running.is_none() {
            self.spawn()?;
        }
        let job = spec.job;
        if let Err(e) = self.send(&ToWorker::Run(Box::new(spec))) {
            // A worker that died between jobs: drop it; the job is dispatched again (after
            // its backoff) on a fresh one.
            tracing::warn!("{e}; restarting the worker");
            if let Some(r) = self.running.take() {
                let mut child = r.child;
                let _ = child.kill();
                let _ = child.wait();
            }
            return Err(e);
        }
        self.current = Some(job);
        Ok(())
    }

    fn cancel(&mut self, job: i64) {
        if let Err(e) = self.send(&ToWorker::Cancel { job }) {
            tracing::warn!("cannot cancel job {job}: {e}");
        }
    }

    fn poll(&mut self) -> Option<EngineEvent> {
        loop {
            let raw = match self.raw_rx.try_recv() {
                Ok(r) => r,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return None,
            };
            match raw {
                Raw::Line(generation, line) => {
                    if generation != self.generation {
                        continue;
                    }
                    match serde_json::from_str::<FromWorker>(&line) {
                        Ok(msg) => {
                            if let FromWorker::Done { job, .. } | FromWorker::Failed { job, .. } =
                                &msg
                                && self.current == Some(*job)
                            {
                                self.current = None;
                            }
                            return Some(EngineEvent::Message(msg));
                        }
                        Err(_) => {
                            tracing::debug!(target: "verbatim::worker", "stdout: {line}");
                        }
                    }
                }
                Raw::Eof(generation) => {
                    if let Some(ev) = self.reap(generation) {
                        // Start the next worker now, so the next job finds it warm.
                        if let Err(e) = self.spawn() {
                            tracing::error!("cannot restart the transcription worker: {e}");
                        }
                        return Some(ev);
                    }
                }
            }
        }
    }

    fn busy(&self) -> bool {
        self.current.is_some()
    }

    fn worker_pid(&self) -> Option<u32> {
        self.pid()
    }

    fn worker_starts(&self) -> u32 {
        self.starts
    }
}

impl Drop for ProcessTranscriber {
    fn drop(&mut self) {
        if self.running.is_some() {
            let _ = self.send(&ToWorker::Shutdown);
        }
        if let Some(r) = self.running.take() {
            let mut child = r.child;
            drop(r.stdin);
            for _ in 0..50 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `verbatim worker`: runs jobs from stdin until it closes.
pub fn worker_main() -> ExitCode {
    whisper_rs::install_logging_hooks();
    let faults = Faults::from_env();
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let emit: Emit = Arc::new(move |msg: FromWorker| {
        let Ok(line) = serde_json::to_string(&msg) else {
            return;
        };
        if let Ok(mut o) = out.lock() {
            let _ = writeln!(o, "{line}");
            let _ = o.flush();
        }
    });
    emit(FromWorker::Ready {
        pid: std::process::id(),
        whisper: whisper_rs::get_whisper_version().to_string(),
        system_info: whisper_rs::print_system_info().trim().to_string(),
    });

    let (job_tx, job_rx) = crossbeam_channel::unbounded::<JobSpec>();
    let current = Arc::new(AtomicI64::new(-1));
    let cancel = Arc::new(AtomicBool::new(false));
    let cancelled: Arc<Mutex<HashSet<i64>>> = Arc::default();
    {
        let (current, cancel, cancelled) = (current.clone(), cancel.clone(), cancelled.clone());
        let reader = std::thread::Builder::new()
            .name("worker-stdin".into())
            .spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    match serde_json::from_str::<ToWorker>(&line) {
                        Ok(ToWorker::Run(spec)) => {
                            if job_tx.send(*spec).is_err() {
                                break;
                            }
                        }
                        Ok(ToWorker::Cancel { job }) => {
                            if current.load(Ordering::SeqCst) == job {
                                cancel.store(true, Ordering::SeqCst);
                            } else if let Ok(mut c) = cancelled.lock() {
                                c.insert(job);
                            }
                        }
                        Ok(ToWorker::Shutdown) => break,
                        Err(e) => tracing::warn!("ignoring a malformed message ({e}): {line}"),
                    }
                }
                // The app is gone (or asked us to stop): abandon the running job.
                cancel.store(true, Ordering::SeqCst);
            });
        if let Err(e) = reader {
            tracing::error!("cannot start the worker's reader: {e}");
            return ExitCode::FAILURE;
        }
    }

    let mut engine = Engine::new(faults);
    for spec in job_rx {
        let job = spec.job;
        let skip = cancelled
            .lock()
            .map(|mut c| c.remove(&job))
            .unwrap_or(false);
        if skip {
            emit(FromWorker::Failed {
                job,
                kind: FailKind::Cancelled,
                error: "cancelled".into(),
            });
            continue;
        }
        cancel.store(false, Ordering::SeqCst);
        current.store(job, Ordering::SeqCst);
        let span = tracing::info_span!("transcribe", job).entered();
        let result = engine.run(&spec, &cancel, &emit);
        drop(span);
        current.store(-1, Ordering::SeqCst);
        match result {
            Ok(stats) => emit(FromWorker::Done { job, stats }),
            Err(f) => emit(FromWorker::Failed {
                job,
                kind: f.kind,
                error: f.message,
            }),
        }
    }
    ExitCode::SUCCESS
}
