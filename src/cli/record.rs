//! `verbatim record` and `verbatim recover`: the capture ECS, headless.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use serde::Serialize;

use super::{core, emit, headless_app, update_until};
use crate::capture::plugin::{
    Levels, RecordCommand, RecordRequest, RecordingNotice, RecordingSession, TakeState, TakeStats,
};
use crate::capture::recorder::Finished;
use crate::capture::recovery::{Recovered, RecoveryStatus};
use crate::capture::sql::StopReason;
use crate::capture::stream::Source;
use crate::library::AudioFile;
use crate::library::import::AudioStore;
use crate::paths::DataDir;
use crate::storage::ids::{AudioFileId, TranscriptId};
use crate::transcribe::live::{LiveSettings, LiveTranscript};
use crate::transcribe::{JobStatus, TranscribeSettings, TranscriptionJob, catalog, model_file};

/// Every [`RecordingNotice`] seen (CLI and tests).
#[derive(Resource, Default, Debug)]
pub struct RecordingLog(pub Vec<RecordingNotice>);

fn log_notices(mut notices: MessageReader<RecordingNotice>, mut log: ResMut<RecordingLog>) {
    log.0.extend(notices.read().cloned());
}

/// Adds [`RecordingLog`] and the system that fills it.
pub fn track_recording(app: &mut App) {
    app.init_resource::<RecordingLog>()
        .add_systems(Last, log_notices);
}

#[derive(Serialize)]
struct RecordJson {
    session: Option<i64>,
    device: String,
    sample_rate: u32,
    channels: u16,
    frames: u64,
    seconds: f64,
    overruns: u64,
    frames_dropped: u64,
    /// `[frame, ms]` per pause in the device's deliveries that did not end the take.
    gaps: Vec<(u64, u64)>,
    stop_reason: &'static str,
    error: Option<String>,
    /// Where the take is now: the library copy when it was stored, else the take itself.
    #[serde(serialize_with = "super::lossy_path")]
    file: PathBuf,
    audio_file_id: Option<i64>,
}

/// `verbatim record`'s options.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Device id, name or part of a name (`verbatim devices`); `default`; or a test
    /// signal `fake:sine|sweep|noise|silence|clipping|ramp[:RATE[:CHANNELS]]`.
    #[arg(long, value_name = "ID|NAME")]
    device: Option<String>,
    /// Stop after this many seconds (exact to the frame).
    #[arg(long, value_name = "N")]
    seconds: Option<f64>,
    /// Also keep the take at FILE.wav (default: only the library copy).
    #[arg(long, value_name = "FILE.wav")]
    out: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Print a line with the frames captured at every writer update (for scripts).
    #[arg(long, hide = true)]
    report: bool,
    /// Transcribe while recording: committed text as it is confirmed, the unconfirmed
    /// tail on the status line (with --json: one JSON object per line); then the full
    /// pass over the take, and the command returns once it is stored.
    #[arg(long)]
    live: bool,
    /// The model for --live (a name from `verbatim models list` or a path).
    #[arg(long, value_name = "NAME|PATH", requires = "live")]
    model: Option<String>,
}

/// One committed piece of live text, as `--live --json` prints it.
#[derive(Serialize)]
struct CommittedJson<'a> {
    event: &'static str,
    text: &'a str,
    start_ms: u64,
    end_ms: u64,
    /// The take's recorded length when it was committed: `at_ms - end_ms` is the lag.
    at_ms: u64,
}

/// Prints the live pieces not printed yet, and the tail on a terminal's status line.
struct LivePrinter {
    printed: usize,
    json: bool,
    tty: bool,
}

impl LivePrinter {
    fn show(&mut self, t: &LiveTranscript) -> std::io::Result<()> {
        while let Some(c) = t.committed.get(self.printed) {
            let (p, at_ms) = (&c.piece, c.at_ms);
            self.printed += 1;
            if self.json {
                let line = serde_json::to_string(&CommittedJson {
                    event: "committed",
                    text: &p.text,
                    start_ms: p.start_ms,
                    end_ms: p.end_ms,
                    at_ms,
                })
                .map_err(std::io::Error::other)?;
                emit(format_args!("{line}"))?;
            } else {
                if self.tty {
                    eprint!("\r\x1b[2K");
                }
                emit(format_args!("{}", p.text))?;
            }
        }
        Ok(())
    }

    /// The unconfirmed tail, shortened to fit a status line.
    fn tail(t: &LiveTranscript) -> String {
        let tail = t.tail_text();
        let chars: Vec<char> = tail.chars().collect();
        let keep = 48;
        if chars.len() > keep {
            format!(
                "…{}",
                chars[chars.len() - keep..].iter().collect::<String>()
            )
        } else {
            tail
        }
    }
}

pub(super) fn record(data: &DataDir, args: RecordArgs) -> anyhow::Result<ExitCode> {
    let RecordArgs {
        device,
        seconds,
        out,
        json,
        report,
        live,
        model,
    } = args;
    // `--live`, with its model.
    let live = live.then(|| model.unwrap_or_else(|| catalog::DEFAULT_MODEL.to_owned()));
    if let Some(s) = seconds
        && !(s.is_finite() && s > 0.0)
    {
        anyhow::bail!("--seconds must be a positive number");
    }
    if let Some(o) = &out
        && o.exists()
    {
        anyhow::bail!("{} already exists; choose another name", o.display());
    }
    let source = match &device {
        Some(d) => Some(Source::parse(d)?),
        None => None,
    };
    // Fail before recording when the live model is missing or malformed.
    if let Some(model) = &live {
        let path = catalog::resolve(&catalog::models_dir(data.root()), model)?;
        let info = model_file::inspect_whisper_file(&path)?;
        if !json {
            eprintln!("live model: {}", info.describe());
        }
    }
    let presses = Arc::new(AtomicUsize::new(0));
    {
        let presses = Arc::clone(&presses);
        ctrlc::set_handler(move || {
            presses.fetch_add(1, Ordering::SeqCst);
        })?;
    }
    let mut app = headless_app(core(data)?);
    track_recording(&mut app);
    if let Some(model) = &live {
        let world = app.world_mut();
        let mut s = world.resource_mut::<TranscribeSettings>();
        s.default_model = model.clone();
        s.run_all_pending = false;
        world.resource_mut::<LiveSettings>().enabled = true;
    }
    app.world_mut()
        .write_message(RecordCommand::Start(RecordRequest {
            source,
            out,
            seconds,
            ..Default::default()
        }));
    watch(&mut app, &presses, live.is_some(), json, report)?;
    // Let the library entity for the stored take arrive.
    let store = AudioStore::new(data.root());
    let _ = update_until(&mut app, Duration::from_millis(500), |w| {
        let mut q = w.query::<&RecordingSession>();
        let id = q.iter(w).next().and_then(|s| s.audio_file);
        let mut files = w.query::<&AudioFile>();
        id.is_none() || files.iter(w).any(|f| Some(f.0.id) == id)
    });
    let world = app.world_mut();
    let mut q = world.query::<&RecordingSession>();
    let Some((audio_file, path, format, session, finished, store_error)) =
        q.iter(world).next().map(|s| {
            (
                s.audio_file,
                s.path.clone(),
                s.format.clone(),
                s.session,
                s.finished.clone(),
                s.store_error.clone(),
            )
        })
    else {
        anyhow::bail!("the recording vanished");
    };
    let Some(f) = finished else {
        anyhow::bail!("the recording did not finish");
    };
    let mut files = world.query::<&AudioFile>();
    let file = audio_file
        .and_then(|id| {
            files
                .iter(world)
                .find(|a| a.0.id == id)
                .map(|a| store.absolute(&a.0.stored_path))
        })
        .unwrap_or(path);
    // --live: the full pass over the stored take, then its transcript.
    // The take's transcript is the live draft's (version 1; the full pass is version 2).
    let transcript = match (&live, audio_file) {
        (Some(_), Some(id)) => {
            let full = final_pass(&mut app, id, &presses, json)?;
            let world = app.world_mut();
            let mut q = world.query::<&LiveTranscript>();
            full.or(q.iter(world).next().and_then(|t| t.transcript))
        }
        _ => None,
    };
    let rate = f64::from(format.sample_rate.max(1));
    let summary = RecordJson {
        session: session.map(|i| i.0),
        device: format.device_name.clone(),
        sample_rate: format.sample_rate,
        channels: format.channels,
        frames: f.progress.frames_written,
        seconds: f.progress.frames_written as f64 / rate,
        overruns: f.progress.overruns,
        frames_dropped: f.progress.frames_dropped,
        gaps: f.progress.gaps.clone(),
        stop_reason: f.reason.as_str(),
        error: f.error.clone(),
        file,
        audio_file_id: audio_file.map(|i| i.0),
    };
    print_summary(&summary, json, live.is_some().then_some(transcript))?;
    Ok(outcome(
        &f,
        audio_file,
        store_error.as_deref(),
        &summary.file,
    ))
}

/// Shows the take while it records (levels, live captions, `--report` lines) until it has
/// stopped and is stored (and its live draft finished); Ctrl-C stops it.
fn watch(
    app: &mut App,
    presses: &AtomicUsize,
    live: bool,
    json: bool,
    report: bool,
) -> anyhow::Result<()> {
    let mut printer = LivePrinter {
        printed: 0,
        json,
        tty: std::io::stderr().is_terminal() && !json,
    };
    let tty = std::io::stderr().is_terminal() && !json;
    let mut stop_sent = false;
    let mut last_frames = u64::MAX;
    let mut last_draw = Instant::now();
    let mut finished_at: Option<Instant> = None;
    loop {
        app.update();
        let world = app.world_mut();
        if let Some(RecordingNotice::StartFailed(e)) = world
            .resource::<RecordingLog>()
            .0
            .iter()
            .find(|n| matches!(n, RecordingNotice::StartFailed(_)))
        {
            anyhow::bail!("{e}");
        }
        let mut q = world.query::<(
            &RecordingSession,
            &TakeStats,
            &Levels,
            Option<&LiveTranscript>,
        )>();
        let Some((s, stats, levels, live_text)) = q.iter(world).next() else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if let Some(t) = live_text {
            printer.show(t)?;
        }
        if report && stats.0.frames_written != last_frames {
            last_frames = stats.0.frames_written;
            // One line per update, for the crash test and scripts.
            emit(format_args!(
                "captured {} synced {} delivered {}",
                stats.0.frames_written, stats.0.frames_synced, stats.0.frames_delivered
            ))?;
        }
        if tty && last_draw.elapsed() >= Duration::from_millis(50) && s.state != TakeState::Finished
        {
            last_draw = Instant::now();
            let tail = live_text.map(LivePrinter::tail).unwrap_or_default();
            eprint!("\r\x1b[2K{}{tail}", level_line(s, stats, levels));
        }
        if s.state == TakeState::Finished {
            let stored = s.audio_file.is_some();
            let importing = s.finished.as_ref().is_some_and(|f| f.importing);
            let since = *finished_at.get_or_insert_with(Instant::now);
            // The live draft ends with one last step over the whole take.
            let draft_done = !live || live_text.is_none_or(|t| t.finished);
            // Wait for the library to store the take (a hash and a rename: seconds at most).
            if (stored || !importing || s.store_error.is_some()) && draft_done
                || since.elapsed() > Duration::from_secs(600)
            {
                break;
            }
        }
        if presses.load(Ordering::SeqCst) > 0 && !stop_sent {
            stop_sent = true;
            world.write_message(RecordCommand::Stop);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if tty {
        eprintln!();
    }
    Ok(())
}

/// The take's summary: a line for people, pretty JSON, or (with `--live --json`) a last
/// `stopped` event naming its transcript.
fn print_summary(
    summary: &RecordJson,
    json: bool,
    live: Option<Option<TranscriptId>>,
) -> anyhow::Result<()> {
    if let (true, Some(transcript)) = (json, live) {
        // One object per line: the last one says how the take ended and names its transcript.
        let mut v = serde_json::to_value(summary)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("event".into(), "stopped".into());
            o.insert("transcript".into(), transcript.map(|t| t.0).into());
        }
        emit(format_args!("{v}"))?;
    } else if json {
        emit(format_args!("{}", serde_json::to_string_pretty(summary)?))?;
    } else {
        emit(format_args!(
            "Recorded {:.2} s from {} ({} Hz, {} ch) to {}{}{}",
            summary.seconds,
            summary.device,
            summary.sample_rate,
            summary.channels,
            summary.file.display(),
            summary
                .audio_file_id
                .map(|i| format!(" (library id {i})"))
                .unwrap_or_default(),
            if summary.overruns > 0 {
                format!(
                    "; {} overruns lost {} frames (marked in the log)",
                    summary.overruns, summary.frames_dropped
                )
            } else {
                String::new()
            } + &if summary.gaps.is_empty() {
                String::new()
            } else {
                format!(
                    "; the device paused {} time(s), longest {} ms (marked in the log)",
                    summary.gaps.len(),
                    summary.gaps.iter().map(|g| g.1).max().unwrap_or_default()
                )
            }
        ))?;
    }
    Ok(())
}

/// The exit code, and the truth about where the take is: in the library, or only on disk
/// (recoverable).
fn outcome(
    f: &Finished,
    audio_file: Option<AudioFileId>,
    store_error: Option<&str>,
    file: &Path,
) -> ExitCode {
    let early = !matches!(f.reason, StopReason::User | StopReason::Duration);
    match (audio_file, store_error, &f.error) {
        (Some(_), _, None) if !early => ExitCode::SUCCESS,
        (Some(_), _, err) => {
            eprintln!(
                "verbatim: the recording stopped early: {}; everything captured until then is in the library",
                err.as_deref().unwrap_or(f.reason.as_str())
            );
            ExitCode::FAILURE
        }
        (None, _, _) if f.progress.frames_written == 0 && f.summary.is_some() => {
            eprintln!(
                "verbatim: nothing was captured{}",
                f.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
            ExitCode::FAILURE
        }
        (None, store, err) => {
            let why: Vec<&str> = [err.as_deref(), store].into_iter().flatten().collect();
            let why = if why.is_empty() {
                "the library did not answer".to_owned()
            } else {
                why.join("; ")
            };
            if f.summary.is_some() {
                eprintln!(
                    "verbatim: the take is NOT in the library: {why}. It is kept at {}; run `verbatim recover` (after freeing space if the disk is full) to add it",
                    file.display()
                );
            } else {
                eprintln!("verbatim: the take could not be closed: {why}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Runs the full pass over the stored take (queued by live transcription) to its end; its
/// transcript. A Ctrl-C (after the one that stopped the take) leaves it queued and says so.
fn final_pass(
    app: &mut App,
    audio: AudioFileId,
    presses: &AtomicUsize,
    json: bool,
) -> anyhow::Result<Option<TranscriptId>> {
    let before = presses.load(Ordering::SeqCst);
    if !json {
        eprintln!("transcribing the whole take…");
    }
    let mut outcome = None;
    let mut left = false;
    let _ = update_until(app, Duration::from_secs(24 * 3600), |w| {
        if presses.load(Ordering::SeqCst) > before {
            left = true;
            return true;
        }
        let mut q = w.query::<&TranscriptionJob>();
        outcome = q
            .iter(w)
            .find(|j| j.audio_file == audio && j.status.is_finished())
            .map(|j| (j.status, j.transcript, j.error.clone()));
        outcome.is_some()
    });
    if left {
        eprintln!(
            "verbatim: the full transcription of the take stays queued; the workstation runs it (`verbatim jobs` shows it)"
        );
        return Ok(None);
    }
    match outcome {
        Some((JobStatus::Completed, transcript, _)) => Ok(transcript),
        Some((status, _, error)) => {
            eprintln!(
                "verbatim: the full transcription {}: {}",
                status.as_db(),
                error.unwrap_or_default()
            );
            Ok(None)
        }
        None => Ok(None),
    }
}

/// `● 00:12.3  L ▕██████░░░░▏ -12.3 dB  R ... overruns 0`
fn level_line(s: &RecordingSession, stats: &TakeStats, levels: &Levels) -> String {
    let secs = s.seconds(stats);
    let state = match s.state {
        TakeState::Starting => "…",
        TakeState::Recording => "●",
        TakeState::Paused => "‖",
        _ => "■",
    };
    let mut line = format!(
        "{state} {:02}:{:04.1} ",
        (secs / 60.0).floor() as u64,
        secs % 60.0
    );
    let names = ["L", "R"];
    for (i, m) in levels.meters.iter().take(2).enumerate() {
        let width = 20usize;
        let fill = (((m.peak_dbfs + 60.0) / 60.0).clamp(0.0, 1.0) * width as f32).round() as usize;
        let name = if levels.meters.len() == 1 {
            "M"
        } else {
            names.get(i).copied().unwrap_or("?")
        };
        line.push_str(&format!(
            " {name} {}{} {:>6.1} dB{}",
            "█".repeat(fill),
            "░".repeat(width - fill),
            m.peak_dbfs.max(-99.9),
            if m.clip { " CLIP" } else { "" }
        ));
    }
    line.push_str(&format!("  overruns {}  ", stats.0.overruns));
    line
}

#[derive(Serialize)]
struct RecoverJson<'a> {
    sessions: &'a [Recovered],
    /// Takes whose live text no transcript held: kept now, their full pass queued.
    live_text: &'a [crate::transcribe::draft::Adopted],
}

pub(super) fn recover(data: &DataDir, json: bool) -> anyhow::Result<ExitCode> {
    let mut app = headless_app(core(data)?);
    // A recovered take's full pass runs with the model the user chose in the window.
    if let Ok(s) = crate::ui::settings::load(data.root())
        && let Some(m) = s.model
    {
        app.world_mut()
            .resource_mut::<crate::transcribe::TranscribeSettings>()
            .default_model = m;
    }
    track_recording(&mut app);
    let done = update_until(&mut app, Duration::from_secs(3600), |w| {
        w.resource::<RecordingLog>()
            .0
            .iter()
            .any(|n| matches!(n, RecordingNotice::Recovered(_)))
            && w.resource::<crate::transcribe::live::Stranded>()
                .0
                .is_some()
    });
    if !done {
        anyhow::bail!("recovery did not finish");
    }
    let log = std::mem::take(&mut app.world_mut().resource_mut::<RecordingLog>().0);
    let Some(RecordingNotice::Recovered(result)) = log
        .into_iter()
        .find(|n| matches!(n, RecordingNotice::Recovered(_)))
    else {
        anyhow::bail!("recovery did not report");
    };
    let stranded = app
        .world_mut()
        .resource_mut::<crate::transcribe::live::Stranded>()
        .0
        .take()
        .unwrap_or(Ok(Vec::new()));
    let list = result.map_err(|e| {
        anyhow::anyhow!(
            "recovery failed: {e}; the interrupted takes stay where they are: free space if the disk is full, then run `verbatim recover` again"
        )
    })?;
    let adopted = stranded.as_deref().unwrap_or_default();
    if json {
        emit(format_args!(
            "{}",
            serde_json::to_string_pretty(&RecoverJson {
                sessions: &list,
                live_text: adopted,
            })?
        ))?;
    } else if list.is_empty() && adopted.is_empty() {
        emit(format_args!("No interrupted recordings."))?;
    } else {
        for a in adopted {
            emit(format_args!(
                "session {}: its live text is now transcript {} (version 1); its full \
                 transcription is queued (it runs in the window, or with `verbatim jobs --run`)",
                a.session, a.transcript
            ))?;
        }
        for r in &list {
            let secs = r.frames as f64 / f64::from(r.sample_rate.max(1));
            match (r.status, &r.error) {
                (RecoveryStatus::InUse, _) => emit(format_args!(
                    "session {}: {} is still being recorded; left alone",
                    r.session, r.file_path
                ))?,
                (RecoveryStatus::Recovered, None) => emit(format_args!(
                    "session {}: recovered {:.2} s from {}{}{}",
                    r.session,
                    secs,
                    r.file_path,
                    r.imported
                        .first()
                        .map(|i| format!(" (library id {})", i.row.id))
                        .unwrap_or_default(),
                    r.live_transcript
                        .map(|t| format!("; its live text is transcript {t}"))
                        .unwrap_or_default()
                ))?,
                (_, e) => emit(format_args!(
                    "session {}: {} {}: {}{}",
                    r.session,
                    r.status,
                    r.file_path,
                    e.as_deref().unwrap_or(""),
                    r.live_transcript
                        .map(|t| format!(
                            "; its live text is kept as transcript {t} (no audio: silence \
                             stands in for it)"
                        ))
                        .unwrap_or_default()
                ))?,
            }
        }
    }
    // A failure is a take whose audio is lost or still not in the library (it stays
    // recoverable); a session that never captured anything has nothing to lose.
    let failed = list.iter().any(|r| {
        r.status == RecoveryStatus::Failed
            && r.error.as_deref() != Some(crate::capture::recovery::NOTHING_CAPTURED)
    });
    if let Err(e) = &stranded {
        eprintln!(
            "verbatim: the live text of interrupted takes could not be kept: {}",
            super::terminal_safe(e)
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
