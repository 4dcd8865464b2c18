//! tracing to stderr and to a daily log file in the data directory.
//!
//! No error loop can flood a terminal or fill a disk: a message repeated more than
//! [`BURST`] times within [`WINDOW`] is held back and counted, then summarised once
//! ("… repeated N times"); the log file is capped at [`MAX_FILE_BYTES`] a day and
//! [`MAX_FILES`] files (the oldest go).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// Keeps the log file writer alive; drop it last (it flushes).
pub struct LogGuard {
    _file: Option<WorkerGuard>,
}

/// Installs the global subscriber. `stderr_default` is the stderr filter when `RUST_LOG` is
/// unset (the CLI keeps its output quiet with "warn"; the window logs "info"). The file log
/// always gets info and above. Failing to open the log file (a read-only data directory)
/// is reported on stderr, not fatal.
pub fn init(log_dir: Option<&Path>, stderr_default: &str) -> LogGuard {
    let quiet_deps =
        "wgpu_core=warn,wgpu_hal=warn,naga=warn,bevy_render=warn,winit=warn,symphonia=error";
    let stderr_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{stderr_default},{quiet_deps}")));
    // Colours only on a terminal: the worker's stderr is a pipe into the app's log, and a
    // CLI's stderr may be a file; logs are plain text.
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(Limited::new(Fresh(std::io::stderr), u64::MAX))
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_filter(stderr_filter);

    let mut guard = None;
    let mut file_error = None;
    let file_layer = log_dir.and_then(|dir| match open_log(dir) {
        Ok(appender) => {
            let (writer, g) =
                tracing_appender::non_blocking(Limited::new(appender, MAX_FILE_BYTES).writer());
            guard = Some(g);
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(false)
                    .with_filter(EnvFilter::new(format!("info,{quiet_deps}"))),
            )
        }
        Err(e) => {
            file_error = Some(format!(
                "cannot write the log file in {}: {e}; logging to the terminal only",
                dir.display()
            ));
            None
        }
    });
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
    if let Some(e) = file_error {
        tracing::warn!("{e}");
    }
    LogGuard { _file: guard }
}

/// The daily log file in `dir`, created if needed. An error (a read-only or full data
/// directory) is returned, never a panic: the app runs without its log file then.
fn open_log(dir: &Path) -> Result<RollingFileAppender, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .max_log_files(MAX_FILES)
        .filename_prefix("verbatim.log")
        .build(dir)
        .map_err(|e| e.to_string())
}

/// How many times one message may be written within [`WINDOW`] before it is held back.
pub const BURST: u32 = 5;
/// The window of [`BURST`].
pub const WINDOW: Duration = Duration::from_secs(10);
/// The most one log file takes in a day (after that, one line says so and the rest of the
/// day is not written).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// How many daily log files are kept.
pub const MAX_FILES: usize = 7;
/// How many distinct recent messages the limiter remembers.
const REMEMBERED: usize = 512;

/// The message of a formatted line: what follows its timestamp (so the same message at
/// another time is the same message).
fn message_key(line: &[u8]) -> &[u8] {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    // fmt lines start with an RFC 3339 timestamp and a space.
    match text.iter().position(|b| *b == b' ') {
        Some(i) if text.first().is_some_and(u8::is_ascii_digit) => &text[i + 1..],
        _ => text,
    }
}

/// Where a limited log's lines go.
pub trait Sink: Send + 'static {
    fn put(&mut self, line: &[u8]) -> std::io::Result<()>;
    fn flush(&mut self) -> std::io::Result<()>;
}

impl<W: Write + Send + 'static> Sink for W {
    fn put(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.write_all(line)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Write::flush(self)
    }
}

/// A destination reached through a fresh handle each time (stderr).
pub struct Fresh<F>(pub F);

impl<F, W> Sink for Fresh<F>
where
    F: Fn() -> W + Send + 'static,
    W: Write,
{
    fn put(&mut self, line: &[u8]) -> std::io::Result<()> {
        (self.0)().write_all(line)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        (self.0)().flush()
    }
}

/// A message's count in its current window.
struct Seen {
    since: Instant,
    written: u32,
    held: u64,
}

/// Rate limiting and the size cap of one log destination.
struct Limiter<S> {
    out: S,
    seen: HashMap<Vec<u8>, Seen>,
    written_bytes: u64,
    cap: u64,
    capped: bool,
    /// The day (since the epoch) the size counts are of: the cap is a day's.
    day: u64,
}

/// Today, in days since the epoch.
fn today() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400)
}

impl<S: Sink> Limiter<S> {
    fn write_line(&mut self, line: &[u8], now: Instant) -> std::io::Result<()> {
        let day = today();
        if day != self.day {
            self.day = day;
            self.written_bytes = 0;
            self.capped = false;
        }
        let key = message_key(line);
        if self.seen.len() >= REMEMBERED && !self.seen.contains_key(key) {
            // Forget the windows that are over (saying what they held back).
            let over: Vec<Vec<u8>> = self
                .seen
                .iter()
                .filter(|(_, s)| now.duration_since(s.since) >= WINDOW)
                .map(|(k, _)| k.clone())
                .collect();
            for k in over {
                if let Some(s) = self.seen.remove(&k) {
                    self.summary(&k, s.held)?;
                }
            }
            if self.seen.len() >= REMEMBERED {
                self.flush_held()?;
                self.seen.clear();
            }
        }
        let seen = self.seen.entry(key.to_vec()).or_insert(Seen {
            since: now,
            written: 0,
            held: 0,
        });
        let mut held_before = 0;
        if now.duration_since(seen.since) >= WINDOW {
            held_before = seen.held;
            *seen = Seen {
                since: now,
                written: 0,
                held: 0,
            };
        }
        let pass = seen.written < BURST;
        if pass {
            seen.written += 1;
        } else {
            seen.held += 1;
        }
        self.summary(key, held_before)?;
        if pass { self.emit(line) } else { Ok(()) }
    }

    /// "… repeated N times" for a message held back `held` times.
    fn summary(&mut self, key: &[u8], held: u64) -> std::io::Result<()> {
        if held == 0 {
            return Ok(());
        }
        let mut line = format!("… held back, repeated {held} more times: ").into_bytes();
        line.extend_from_slice(key);
        line.push(b'\n');
        self.emit(&line)
    }

    fn emit(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.capped {
            return Ok(());
        }
        if self.written_bytes + line.len() as u64 > self.cap {
            self.capped = true;
            return self.out.put(
                b"... the log reached its size limit for today; nothing more is written to it \
                  until tomorrow\n",
            );
        }
        self.written_bytes += line.len() as u64;
        self.out.put(line)
    }

    /// Says what is held back now, and flushes.
    fn flush_held(&mut self) -> std::io::Result<()> {
        let held: Vec<(Vec<u8>, u64)> = self
            .seen
            .iter_mut()
            .filter(|(_, s)| s.held > 0)
            .map(|(k, s)| (k.clone(), std::mem::take(&mut s.held)))
            .collect();
        for (k, n) in held {
            self.summary(&k, n)?;
        }
        self.out.flush()
    }
}

/// A log destination that holds back floods and stops at a size cap: a `MakeWriter` for a
/// fmt layer, or one writer (the file, behind the non-blocking worker).
pub struct Limited<S> {
    inner: Arc<Mutex<Limiter<S>>>,
}

impl<S> Clone for Limited<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: Sink> Limited<S> {
    pub fn new(out: S, cap: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Limiter {
                out,
                seen: HashMap::new(),
                written_bytes: 0,
                cap,
                capped: false,
                day: today(),
            })),
        }
    }

    /// One writer over this destination.
    pub fn writer(&self) -> LimitedWriter<S> {
        LimitedWriter(self.clone())
    }

    /// Writes the "… repeated" lines of what is held back now, and flushes.
    pub fn flush_held(&self) -> std::io::Result<()> {
        match self.inner.lock() {
            Ok(mut l) => l.flush_held(),
            Err(_) => Ok(()),
        }
    }
}

/// A writer of a [`Limited`] destination; each `write` is one formatted event.
pub struct LimitedWriter<S>(Limited<S>);

impl<S: Sink> Write for LimitedWriter<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A writer that panicked mid-line poisons nothing: the log goes on without it.
        if let Ok(mut l) = self.0.inner.lock() {
            l.write_line(buf, Instant::now())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.inner.lock() {
            Ok(mut l) => l.out.flush(),
            Err(_) => Ok(()),
        }
    }
}

impl<'a, S: Sink> tracing_subscriber::fmt::MakeWriter<'a> for Limited<S> {
    type Writer = LimitedWriter<S>;

    fn make_writer(&'a self) -> Self::Writer {
        self.writer()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A million copies of one warning (the ALSA flood of issue 27): a few lines and a
    /// count, not a million lines; other messages still get through.
    #[test]
    fn a_flood_of_one_message_is_held_back_and_counted() {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let limited = Limited::new(Shared(Arc::clone(&out)), MAX_FILE_BYTES);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(limited.clone())
            .with_ansi(false)
            .finish();
        let cpu = std::time::Instant::now();
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..1_000_000 {
                tracing::warn!("playback stream error: buffer underrun");
            }
            tracing::error!("something else");
        });
        limited.flush_held().unwrap();
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let lines = text.lines().count();
        eprintln!(
            "1,000,000 warnings: {} bytes, {lines} lines, {:.2} s",
            text.len(),
            cpu.elapsed().as_secs_f64()
        );
        assert!(text.len() < 1_000_000, "{} bytes", text.len());
        assert!(text.contains("something else"));
        let held: u64 = text
            .lines()
            .filter_map(|l| l.strip_prefix("… held back, repeated "))
            .filter_map(|l| l.split(' ').next()?.parse::<u64>().ok())
            .sum();
        let written = text
            .lines()
            .filter(|l| !l.starts_with('…') && l.contains("playback stream error"))
            .count() as u64;
        assert_eq!(written, u64::from(BURST));
        assert_eq!(
            held + written,
            1_000_000,
            "every copy is written or counted"
        );
    }

    #[test]
    fn the_size_cap_stops_the_log_with_one_line() {
        let mut l = Limiter {
            out: Vec::<u8>::new(),
            seen: HashMap::new(),
            written_bytes: 0,
            cap: 1_000,
            capped: false,
            day: today(),
        };
        let now = Instant::now();
        for i in 0..1_000 {
            l.write_line(
                format!("2026-12-06T00:00:00Z  WARN message {i}\n").as_bytes(),
                now,
            )
            .unwrap();
        }
        assert!(l.out.len() < 1_200, "{}", l.out.len());
        assert!(String::from_utf8_lossy(&l.out).ends_with("until tomorrow\n"));
    }
}
