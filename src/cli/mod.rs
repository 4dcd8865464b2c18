//! The command line: `verbatim` opens the window; subcommands run the same ECS headless.
#![allow(clippy::print_stdout)]

mod diarize;
mod editor;
mod models;
mod record;
mod retranscribe;
mod transcribe;
mod vocabulary;
pub use record::{RecordingLog, track_recording};

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bevy::app::AppExit;
use bevy::ecs::message::Messages;
use bevy::prelude::*;
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::CorePlugin;
use crate::headless::{ImportLog, headless_app, track_imports, update_until};
use crate::library::import::AudioStore;
use crate::library::sql::AudioFileRow;
use crate::library::{
    AudioFile, ImportRequested, Importer, LibraryOrder, LibraryState, format_duration_ms,
};
use crate::paths::DataDir;
use crate::schedule::install_error_handler;
use crate::storage::writer::DbWriter;

#[derive(Debug, Parser)]
#[command(
    name = "verbatim",
    version,
    about = "Record, transcribe and edit speech."
)]
pub struct Cli {
    /// Where the database, audio and logs live (default: the per-user data directory).
    #[arg(long, global = true, env = crate::paths::HOME_ENV, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Open the window, save one screenshot of it as PNG once the library is shown, and
    /// exit (non-zero if the screenshot is blank). Used by the GUI smoke test.
    #[arg(long, hide = true, value_name = "PNG")]
    pub screenshot: Option<PathBuf>,
    /// Start recording from this source when the window opens (with --screenshot: the shot is
    /// taken after three seconds of recording).
    #[arg(long, hide = true, value_name = "SOURCE")]
    pub record_at_start: Option<String>,
    /// With --record-at-start: stop the take after this many seconds.
    #[arg(
        long,
        hide = true,
        value_name = "SECONDS",
        requires = "record_at_start"
    )]
    pub record_seconds: Option<f64>,
    /// The window's size in logical pixels, WIDTHxHEIGHT (default 1280x800).
    #[arg(long, hide = true, value_name = "WxH", value_parser = parse_size)]
    pub window_size: Option<(u32, u32)>,
    /// The window's transcription model: a name (`verbatim models list`) or a ggml file.
    #[arg(long, value_name = "NAME|PATH")]
    pub model: Option<String>,
    /// Start with live transcription on (the recorder panel's switch).
    #[arg(long)]
    pub live: bool,
    /// Open this transcript in the editor.
    #[arg(long, hide = true, value_name = "ID")]
    pub open_transcript: Option<i64>,
    /// With --open-transcript: the timeline shows START_MS:SPAN_MS of the file.
    #[arg(
        long,
        hide = true,
        value_name = "START:SPAN",
        requires = "open_transcript"
    )]
    pub timeline_view: Option<String>,
    /// Open the settings view at launch (for its screenshot).
    #[arg(long, hide = true)]
    pub show_settings: bool,
    /// With --open-transcript: compare versions A and B.
    #[arg(long, hide = true, value_name = "A:B")]
    pub compare: Option<String>,
    /// Write the number of frames the window has run to this file after each frame (the
    /// idle-window test counts them).
    #[arg(long, hide = true, value_name = "FILE")]
    pub frame_log: Option<PathBuf>,
    /// Build the window app, run Bevy's system-order ambiguity check over its schedules,
    /// print what it finds and exit (non-zero if it finds any). Used by the GUI tests.
    #[arg(long, hide = true)]
    pub check_schedules: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add audio files (WAV, FLAC, MP3, Ogg Vorbis) to the library; with --transcript, add an
    /// edited SRT, VTT or JSON file as a new version of that transcript.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print the outcome of every file as JSON.
        #[arg(long)]
        json: bool,
        /// The transcript the (SRT, VTT, JSON) file becomes a new version of.
        #[arg(long, value_name = "ID")]
        transcript: Option<i64>,
    },
    /// List transcripts: id, title, versions, length.
    Transcripts {
        #[arg(long)]
        json: bool,
    },
    /// A transcript's versions: number, time, source, model or author, segments, note.
    Versions {
        #[arg(value_name = "ID")]
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Where a transcript version looks wrong: repetition loops, text too fast for its span,
    /// spans too long for their words, text the model itself thought was no speech or was
    /// unsure of (one line, or JSON object, per flag)
    Flags {
        #[arg(value_name = "ID")]
        id: i64,
        /// The version (default: the current one).
        #[arg(long, value_name = "N")]
        version: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Compare two versions of a transcript: word changes per time-aligned row, WER.
    Diff {
        #[arg(value_name = "ID")]
        id: i64,
        #[arg(long, value_name = "A")]
        from: u32,
        #[arg(long, value_name = "B")]
        to: u32,
        #[arg(long)]
        json: bool,
    },
    /// Make an earlier version current again (as a new version: history stays).
    Rollback {
        #[arg(value_name = "ID")]
        id: i64,
        #[arg(long, value_name = "N")]
        to: u32,
    },
    /// Export a transcript version as SRT, VTT, JSON, TXT, CSV or RTTM (speaker turns),
    /// recorded in its history.
    Export {
        #[arg(value_name = "ID")]
        id: i64,
        /// The version (default: the current one).
        #[arg(long, value_name = "N")]
        version: Option<u32>,
        #[arg(long, value_name = "srt|vtt|json|txt|csv|rttm")]
        format: String,
        /// Default: NAME.vN.EXT in the current folder; a folder gets that name inside it; `-`
        /// (or a device such as /dev/stdout) is written as it is.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Word-level timing where the format allows: SRT one cue per word, VTT a timestamp
        /// tag before each word (JSON always has the words).
        #[arg(long)]
        words: bool,
    },
    /// Search every transcript's current text.
    Search {
        #[arg(value_name = "QUERY")]
        query: String,
        /// Only what this speaker says (the name segments carry, any case).
        #[arg(long, value_name = "NAME")]
        speaker: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the audio files in the library.
    Library {
        #[arg(long)]
        json: bool,
    },
    /// List the audio input devices (id, name, formats).
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// Record from an input device into the library, with a live level bar; Ctrl-C stops.
    Record(record::RecordArgs),
    /// Repair recordings interrupted by a crash and add them to the library.
    Recover {
        #[arg(long)]
        json: bool,
    },
    /// Transcribe audio files (imported first) or library entries, with a progress bar per
    /// job; optionally export the transcripts.
    Transcribe(transcribe::TranscribeArgs),
    /// Transcribe one span of a transcript again with other settings (beam search, another
    /// model, no prompt): a new version (source retranscribe) in which every segment outside
    /// the span is the previous version's.
    Retranscribe(retranscribe::RetranscribeArgs),
    /// The library's vocabulary: names and terms learnt from corrections (or added), which
    /// `--vocabulary` gives whisper as its prompt. No subcommand: the list.
    Vocabulary {
        #[command(subcommand)]
        command: Option<vocabulary::VocabularyCommand>,
        #[arg(long)]
        json: bool,
    },
    /// List transcription jobs: status, progress, back-end asked for and used, threads,
    /// transcript.
    Jobs {
        #[arg(long)]
        json: bool,
        /// Run every pending job of this library (those queued again after a crash, a
        /// recovered take's full pass, ...) and wait for them; jobs another running process
        /// holds are left to it.
        #[arg(long)]
        run: bool,
    },
    /// Who spoke when in an audio file: speaker turns from the speaker model (CAM++ in the
    /// models folder), as lines, RTTM or JSON; `--reference` scores them (DER).
    Diarize(diarize::DiarizeArgs),
    /// The speakers the library remembers (named with `verbatim diarize --name`); rename or
    /// merge them. No subcommand: the list.
    Speakers {
        #[command(subcommand)]
        command: Option<diarize::SpeakersCommand>,
        #[arg(long)]
        json: bool,
    },
    /// Manage whisper models: list, download, verify, path.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// The transcription worker process (started by the app; speaks JSON on stdin/stdout).
    #[command(hide = true)]
    Worker,
}

/// Writes a line to stdout; a closed pipe (`verbatim library | head`) ends the command quietly.
macro_rules! out {
    ($($arg:tt)*) => {
        emit(format_args!($($arg)*))?
    };
}

fn emit(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write;
    let text = args.to_string();
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(terminal_safe(&text).as_bytes())?;
    stdout.write_all(b"\n")
}

/// Runs the command line; the process exit code.
pub fn main() -> ExitCode {
    // A panic (a bug, or a decoder crash that catch_unwind turns into an error) goes to the
    // log with its location instead of a raw dump on the terminal.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if tracing::dispatcher::has_been_set() {
            tracing::error!(target: "panic", "{info}");
        } else {
            default_hook(info);
        }
    }));
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // `verbatim library | head`: the reader went away; that is not a failure.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("verbatim: {}", terminal_safe(&error_chain(&e)));
            ExitCode::FAILURE
        }
    }
}

/// A path in JSON: as text, with bytes that are not UTF-8 replaced (serde refuses such a
/// path, and the whole output was lost).
pub(crate) fn lossy_path<P: AsRef<Path>, S: serde::Serializer>(
    p: &P,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.as_ref().to_string_lossy())
}

/// An error and its causes, each cause once: many errors already quote their cause in
/// their own message, and printing the chain as well said everything twice.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

/// Text for the terminal with its control characters escaped (a file name with an escape
/// sequence in it must not drive the terminal).
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if matches!(cli.command, Some(Command::Worker)) {
        // The worker logs to stderr, which its supervisor forwards to the app's log.
        let _log = crate::logging::init(None, "info,whisper_rs=warn");
        return Ok(crate::transcribe::worker::worker_main());
    }
    let data = DataDir::resolve(cli.data_dir.as_deref())?;
    let gui = cli.command.is_none();
    let _log = crate::logging::init(Some(&data.log_dir()), if gui { "info" } else { "warn" });
    match cli.command {
        None => {
            let compare = cli
                .compare
                .as_deref()
                .map(|c| pair(c).context("--compare takes A:B, two version numbers"))
                .transpose()?;
            let view = cli
                .timeline_view
                .as_deref()
                .map(|v| pair(v).context("--timeline-view takes START_MS:SPAN_MS"))
                .transpose()?;
            let ui = crate::ui::UiPlugin {
                view,
                screenshot: cli.screenshot,
                record: cli.record_at_start,
                record_seconds: cli.record_seconds,
                settings_open: cli.show_settings,
                size: cli.window_size,
                open: cli.open_transcript.map(|t| (t, compare)),
                frame_log: cli.frame_log,
            };
            run_window(&data, ui, cli.model, cli.live, cli.check_schedules)
        }
        Some(Command::Import {
            files,
            json: _,
            transcript: Some(id),
        }) => {
            let [file] = files.as_slice() else {
                anyhow::bail!("--transcript takes one file");
            };
            editor::import_version(&data, file, id)
        }
        Some(Command::Import {
            files,
            json,
            transcript: None,
        }) => import(&data, &files, json),
        Some(Command::Transcripts { json }) => editor::transcripts(&data, json),
        Some(Command::Versions { id, json }) => editor::versions(&data, id, json),
        Some(Command::Flags { id, version, json }) => editor::flags(&data, id, version, json),
        Some(Command::Diff { id, from, to, json }) => editor::diff(&data, id, from, to, json),
        Some(Command::Rollback { id, to }) => editor::rollback(&data, id, to),
        Some(Command::Export {
            id,
            version,
            format,
            out,
            words,
        }) => editor::export(&data, id, version, &format, out, words),
        Some(Command::Search {
            query,
            speaker,
            json,
        }) => editor::search(&data, &query, speaker.as_deref(), json),
        Some(Command::Library { json }) => library(&data, json),
        Some(Command::Devices { json }) => devices(json),
        Some(Command::Record(args)) => record::record(&data, args),
        Some(Command::Recover { json }) => record::recover(&data, json),
        Some(Command::Transcribe(args)) => transcribe::transcribe(&data, args),
        Some(Command::Retranscribe(args)) => retranscribe::retranscribe(&data, args),
        Some(Command::Vocabulary { command, json }) => vocabulary::vocabulary(&data, command, json),
        Some(Command::Jobs { json, run: false }) => transcribe::jobs(&data, json),
        Some(Command::Jobs { json, run: true }) => transcribe::run_pending(&data, json),
        Some(Command::Models { command }) => models::models(&data, command),
        Some(Command::Diarize(args)) => diarize::diarize(&data, args),
        Some(Command::Speakers { command, json }) => diarize::speakers(&data, command, json),
        Some(Command::Worker) => Ok(ExitCode::FAILURE),
    }
}

/// `A:B` as two numbers.
fn pair<T: std::str::FromStr>(s: &str) -> Option<(T, T)> {
    let (a, b) = s.split_once(':')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// `1920x1080` as (1920, 1080).
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let px = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("{v:?} is not a number of pixels"))
    };
    let size = (px(w)?, px(h)?);
    if !crate::ui::window_size_ok(size) {
        return Err(format!("{s:?}: each side is 200 to 10000 pixels"));
    }
    Ok(size)
}

fn core(data: &DataDir) -> anyhow::Result<CorePlugin> {
    data.check_writable()?;
    let store = AudioStore::new(data.root());
    let writer = DbWriter::spawn(&data.db_path())
        .with_context(|| format!("cannot open the library in {}", data.root().display()))?;
    Ok(CorePlugin::new(writer, store))
}

/// Whether a window can be opened here.
fn display_available() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

fn run_window(
    data: &DataDir,
    mut ui: crate::ui::UiPlugin,
    model: Option<String>,
    live: bool,
    check_schedules: bool,
) -> anyhow::Result<ExitCode> {
    if !display_available() {
        eprintln!(
            "verbatim: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the window cannot open.\n\
             Run it from a desktop session, or use the command line: `verbatim --help` \
             (for example `verbatim import FILE...` and `verbatim library`)."
        );
        return Ok(ExitCode::from(2));
    }
    // What the user chose last time; the command line wins over it.
    let settings = crate::ui::settings::load(data.root()).unwrap_or_else(|e| {
        tracing::warn!("{e}; using the default settings");
        crate::ui::settings::Settings::default()
    });
    if ui.open.is_none() && ui.screenshot.is_none() {
        ui.open = settings.last_transcript.map(|t| (t, None));
    }
    if ui.size.is_none() {
        ui.size = settings.window();
    }
    let mut app = App::new();
    install_error_handler(&mut app);
    app.add_plugins(crate::AppPlugin {
        core: core(data)?,
        ui,
    });
    crate::ui::settings::apply(app.world_mut(), &settings);
    if let Some(m) = model {
        app.world_mut()
            .resource_mut::<crate::transcribe::TranscribeSettings>()
            .default_model = m;
    }
    if live {
        app.world_mut()
            .resource_mut::<crate::transcribe::live::LiveSettings>()
            .enabled = true;
    }
    app.insert_resource(crate::ui::settings::SettingsStore::new(
        data.root().to_path_buf(),
        settings,
    ));
    if check_schedules {
        app.finish();
        app.cleanup();
        let found = crate::ui::schedules::ambiguities(&mut app);
        for line in &found {
            emit(format_args!("{line}"))?;
        }
        emit(format_args!("{} ambiguous pairs", found.len()))?;
        return Ok(if found.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    Ok(match app.run() {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => ExitCode::from(code.get()),
    })
}

#[derive(Serialize)]
struct ImportJson<'a> {
    #[serde(serialize_with = "lossy_path")]
    file: &'a Path,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audio: Option<&'a AudioFileRow>,
}

fn import(data: &DataDir, files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut app = headless_app(core(data)?);
    track_imports(&mut app);
    for f in files {
        app.world_mut().write_message(ImportRequested(f.clone()));
    }
    let bar = indicatif::ProgressBar::new(files.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let total = files.len();
    let finished = update_until(&mut app, Duration::from_secs(24 * 3600), |world| {
        let n = world.resource::<ImportLog>().0.len();
        bar.set_position(n as u64);
        if let Some(last) = world.resource::<ImportLog>().0.last() {
            bar.set_message(last.source.display().to_string());
        }
        let idle = world
            .get_resource::<Importer>()
            .is_none_or(|i| i.in_flight() == 0);
        // Requests not yet picked up by the importer are still pending.
        let queued = !world.resource::<Messages<ImportRequested>>().is_empty();
        idle && (n >= total || !queued)
    });
    bar.finish_and_clear();
    let done = app.world().resource::<ImportLog>().0.len();
    if !finished || done < total {
        anyhow::bail!(
            "{} of {total} imports did not finish (the importer stopped; see the log in {})",
            total - done,
            data.log_dir().display()
        );
    }
    let log = std::mem::take(&mut app.world_mut().resource_mut::<ImportLog>().0);
    let failed = log.iter().filter(|f| f.result.is_err()).count();
    if json {
        let out: Vec<ImportJson<'_>> = log
            .iter()
            .map(|f| ImportJson {
                file: &f.source,
                status: match &f.result {
                    Ok(i) if i.created => "imported",
                    Ok(_) => "exists",
                    Err(_) => "failed",
                },
                error: f.result.as_ref().err().map(|e| e.to_string()),
                audio: f.result.as_ref().ok().map(|i| &i.row),
            })
            .collect();
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for f in &log {
            match &f.result {
                Ok(i) => out!(
                    "{} {}  id {}  {}  {}",
                    if i.created { "imported" } else { "exists  " },
                    f.source.display(),
                    i.row.id,
                    format_duration_ms(i.row.duration_ms),
                    crate::ui::library_panel::format_format(&i.row),
                ),
                Err(e) => eprintln!(
                    "error: {}",
                    terminal_safe(&format!("{}: {e}", f.source.display()))
                ),
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn library(data: &DataDir, json: bool) -> anyhow::Result<ExitCode> {
    let mut app = headless_app(core(data)?);
    let loaded = update_until(&mut app, Duration::from_secs(60), |world| {
        let s = world.resource::<LibraryState>();
        s.loaded || s.error.is_some()
    });
    if !loaded {
        anyhow::bail!("the library did not load within 60 s");
    }
    if let Some(e) = &app.world().resource::<LibraryState>().error {
        anyhow::bail!("cannot load the library: {e}");
    }
    let world = app.world();
    let rows: Vec<AudioFileRow> = world
        .resource::<LibraryOrder>()
        .0
        .iter()
        .filter_map(|e| world.get::<AudioFile>(*e))
        .map(|f| f.0.clone())
        .collect();
    if json {
        out!("{}", serde_json::to_string_pretty(&rows)?);
    } else if rows.is_empty() {
        out!("The library is empty. Add files with `verbatim import FILE...`.");
    } else {
        let table: Vec<[String; 5]> = rows
            .iter()
            .map(|r| {
                [
                    r.id.to_string(),
                    r.original_name.clone(),
                    format_duration_ms(r.duration_ms),
                    crate::ui::library_panel::format_format(r),
                    crate::ui::library_panel::format_time(r.created_at),
                ]
            })
            .collect();
        let header = ["ID", "NAME", "DURATION", "FORMAT", "ADDED"].map(str::to_owned);
        let width = |i: usize| {
            std::iter::once(&header)
                .chain(&table)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
        for r in std::iter::once(&header).chain(&table) {
            out!(
                "{:>w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4]
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn devices(json: bool) -> anyhow::Result<ExitCode> {
    let devices = crate::capture::devices::list_inputs();
    if json {
        out!("{}", serde_json::to_string_pretty(&devices)?);
        return Ok(ExitCode::SUCCESS);
    }
    if devices.is_empty() {
        out!(
            "No audio input devices found. Connect a microphone, or check that ALSA/PulseAudio/PipeWire \
             can see one (`arecord -L`)."
        );
        return Ok(ExitCode::SUCCESS);
    }
    for d in &devices {
        let default = if d.is_default { "  (default)" } else { "" };
        out!("{}{default}\n    id: {}", d.name, d.id);
        if let Some(c) = &d.default_config {
            out!(
                "    default: {} Hz, {} ch, {}",
                c.min_rate,
                c.channels,
                c.sample_format
            );
        }
        if let Some(e) = &d.error {
            out!("    unusable: {e}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
