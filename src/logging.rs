//! tracing to stderr and to a daily log file in the data directory.

use std::io::IsTerminal;
use std::path::Path;

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
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_filter(stderr_filter);

    let mut guard = None;
    let mut file_error = None;
    let file_layer = log_dir.and_then(|dir| match open_log(dir) {
        Ok(appender) => {
            let (writer, g) = tracing_appender::non_blocking(appender);
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
        .filename_prefix("verbatim.log")
        .build(dir)
        .map_err(|e| e.to_string())
}
