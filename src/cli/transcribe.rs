//! `verbatim transcribe` and `verbatim jobs`: transcription from the shell.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use bevy::prelude::*;
use clap::Args;
use serde::Serialize;

use super::{ImportLog, core, headless_app, track_imports, update_until};
use crate::library::ImportRequested;
use crate::paths::DataDir;
use crate::storage::ids::{AudioFileId, JobId};
use crate::transcribe::jobs::{JobQueued, TranscriptionJob};
use crate::transcribe::{
    DecodeParams, GpuPref, JobCommand, JobFinished, JobStatus, TranscribeRequest,
    TranscribeSettings, WordTiming, catalog, model_file,
};
use crate::transcript;
use crate::transcript::export::{self, Format};

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Audio files to import and transcribe, or ids of library entries (`verbatim library`).
    #[arg(required = true, value_name = "FILE|ID")]
    pub inputs: Vec<String>,
    /// A model name (`verbatim models list`) or the path of a ggml model file.
    #[arg(long, short, value_name = "NAME|PATH")]
    pub model: Option<String>,
    /// Use the GPU: auto (when there is one), on (ask for it; the job says when it fell
    /// back to the CPU), off.
    #[arg(long, default_value = "auto", value_name = "auto|on|off")]
    pub gpu: String,
    /// Spoken language (en, de, ...) or auto to detect it.
    #[arg(long, short, value_name = "CODE")]
    pub language: Option<String>,
    /// Translate into English.
    #[arg(long)]
    pub translate: bool,
    /// Beam search with this width (default: greedy).
    #[arg(long, value_name = "N")]
    pub beam: Option<u32>,
    /// Decode once at temperature 0 (no retries at higher temperatures when the output looks
    /// wrong).
    #[arg(long)]
    pub no_fallback: bool,
    /// Send silence to whisper too (voice activity detection is on by default).
    #[arg(long)]
    pub no_vad: bool,
    /// The Silero VAD model (default: ggml-silero-v6.2.0.bin in the models folder, installed
    /// there from the copy bundled with Verbatim).
    #[arg(long, value_name = "PATH")]
    pub vad_model: Option<PathBuf>,
    /// Text that primes the decoder (names, spelling).
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// Prime the decoder with the library's vocabulary too (`verbatim vocabulary`: the
    /// names and terms users corrected in transcripts, or added).
    #[arg(long)]
    pub vocabulary: bool,
    /// Decode every window on its own, without the text before it as context (helps when a
    /// recording makes whisper repeat itself).
    #[arg(long)]
    pub no_context: bool,
    /// Always run whisper's encoder over full 30 s windows, also for shorter audio (slower;
    /// by default short audio gets its length plus a 2.56 s margin).
    #[arg(long)]
    pub full_window: bool,
    /// How words are timed: tokens (whisper's own token timestamps, the default) or dtw
    /// (whisper.cpp's alignment of the model's attention heads; later on the onsets).
    #[arg(long, value_name = "tokens|dtw", value_parser = parse_word_timing)]
    pub word_timing: Option<WordTiming>,
    /// whisper threads (default: every core, fewer while other programs keep cores busy; a
    /// number given here is used as given).
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,
    /// Export the transcripts: a comma-separated list of srt, vtt, json, txt, csv, rttm.
    #[arg(long, value_name = "FORMATS")]
    pub export: Option<String>,
    /// Who speaks: `auto` or how many speakers. Each transcript's segments get their
    /// speakers (a new version, before the exports). Needs the speaker models in the models
    /// folder (`campplus_cn_en_common.pt`, and `pyannote-segmentation-3.0.bin` for overlaps).
    #[arg(long, value_name = "auto|N")]
    pub speakers: Option<String>,
    /// Where exports go (default: the current folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// A transcript of its own for each file, even one that has a transcript already (by
    /// default the result becomes a new version of the file's transcript).
    #[arg(long)]
    pub new_transcript: bool,
}

/// One job's outcome, as `--json` prints it.
#[derive(Debug, Serialize)]
struct JobReport {
    input: String,
    job: Option<i64>,
    audio_file: Option<i64>,
    status: String,
    transcript: Option<i64>,
    /// The transcript's version the job made (its current one).
    version: Option<u32>,
    segments: usize,
    model: Option<String>,
    backend_requested: Option<&'static str>,
    backend: Option<String>,
    backend_note: Option<String>,
    threads: Option<u32>,
    processing_ms: Option<i64>,
    error: Option<String>,
    #[serde(serialize_with = "lossy_paths")]
    exports: Vec<PathBuf>,
    /// Exports that could not be written (the others were).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    export_errors: Vec<String>,
    /// With `--speakers`: who speaks in the transcript, in order of appearance.
    #[serde(skip_serializing_if = "Option::is_none")]
    speakers: Option<Vec<String>>,
    /// Why the speakers could not be found (the transcript itself is saved).
    #[serde(skip_serializing_if = "Option::is_none")]
    speakers_error: Option<String>,
}

fn lossy_paths<S: serde::Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

impl JobReport {
    fn failed(input: &str, error: String) -> Self {
        Self {
            input: input.to_string(),
            job: None,
            audio_file: None,
            status: "failed".into(),
            transcript: None,
            version: None,
            segments: 0,
            model: None,
            backend_requested: None,
            backend: None,
            backend_note: None,
            threads: None,
            processing_ms: None,
            error: Some(error),
            exports: Vec::new(),
            export_errors: Vec::new(),
            speakers: None,
            speakers_error: None,
        }
    }
}

#[derive(Resource, Default)]
pub(super) struct Queued(pub(super) Vec<JobQueued>);
#[derive(Resource, Default)]
pub(super) struct Finished(pub(super) Vec<JobFinished>);

pub(super) fn collect(
    mut q: MessageReader<JobQueued>,
    mut f: MessageReader<JobFinished>,
    mut queued: ResMut<Queued>,
    mut finished: ResMut<Finished>,
) {
    queued.0.extend(q.read().cloned());
    finished.0.extend(f.read().cloned());
}

pub(super) fn transcribe(data: &DataDir, args: TranscribeArgs) -> anyhow::Result<ExitCode> {
    let gpu = GpuPref::parse(&args.gpu)
        .with_context(|| format!("--gpu {:?}: use auto, on or off", args.gpu))?;
    crate::transcribe::protocol::check_beam(args.beam).map_err(anyhow::Error::msg)?;
    let formats = match &args.export {
        Some(list) => Format::parse_list(list).map_err(anyhow::Error::msg)?,
        None => Vec::new(),
    };
    if let Some(p) = &args.vad_model {
        model_file::inspect_vad_file(p)?;
    }
    // Diarization asked for: its models checked before anything is transcribed.
    let speakers = match &args.speakers {
        Some(s) => {
            let n = super::diarize::parse_speakers(s)?;
            super::diarize::check_models(data)?;
            Some(n)
        }
        None => None,
    };
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| catalog::DEFAULT_MODEL.to_string());
    // Fail before importing anything when the model is missing or malformed.
    let models_dir = catalog::models_dir(data.root());
    let model_path = catalog::resolve(&models_dir, &model)?;
    let info = model_file::inspect_whisper_file(&model_path)?;
    if !args.json {
        eprintln!("model: {}", info.describe());
    }

    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&interrupted);
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
    }
    let mut app = headless_app(core(data)?);
    track_imports(&mut app);
    app.init_resource::<Queued>()
        .init_resource::<Finished>()
        .add_systems(Last, collect);
    configure(&mut app, &args, &model, gpu);
    let mut reports: Vec<Option<JobReport>> = args.inputs.iter().map(|_| None).collect();
    let audio_of = import_inputs(&mut app, &args, &mut reports)?;
    let job_of = queue_jobs(&mut app, &args, &audio_of, &model, gpu, &mut reports)?;
    run_jobs(&mut app, &args.inputs, args.json, &job_of, &interrupted);
    let jobs: Vec<TranscriptionJob> = {
        let world = app.world_mut();
        let mut q = world.query::<&TranscriptionJob>();
        q.iter(world).cloned().collect()
    };
    drop(app); // the database writer finishes everything queued

    let conn = crate::storage::open(&data.db_path())?;
    let out_dir = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
    for job in jobs.iter().filter(|j| job_of.contains_key(&j.id)) {
        let i = job_of[&job.id];
        // Speakers before the exports, so the exports carry them.
        let found = match (speakers, job.transcript, &job.status) {
            (Some(n), Some(t), JobStatus::Completed) => {
                Some(super::diarize::diarize_transcript(data, t, n, &[]).map(|(_, s)| s.speakers))
            }
            _ => None,
        };
        let mut report = job_report(&conn, job, &args.inputs[i], &formats, &out_dir)?;
        match found {
            Some(Ok(s)) => report.speakers = Some(s),
            Some(Err(e)) => report.speakers_error = Some(format!("{e:#}")),
            None => {}
        }
        reports[i] = Some(report);
    }
    let reports: Vec<JobReport> = reports
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| JobReport::failed(&args.inputs[i], "did not run".into())))
        .collect();
    let failed = reports
        .iter()
        .filter(|r| {
            r.status != "completed" || !r.export_errors.is_empty() || r.speakers_error.is_some()
        })
        .count();
    print_reports(&reports, args.json)?;
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The decoding options the arguments ask for.
fn decode_params(args: &TranscribeArgs) -> DecodeParams {
    DecodeParams {
        language: args.language.clone().filter(|l| l != "auto"),
        translate: args.translate,
        beam_size: args.beam,
        initial_prompt: args.prompt.clone(),
        vad: !args.no_vad,
        temperature_fallback: !args.no_fallback,
        carry_context: !args.no_context,
        short_audio_ctx: !args.full_window,
        word_timing: args.word_timing.unwrap_or_default(),
        use_vocabulary: args.vocabulary,
        ..DecodeParams::default()
    }
}

pub(super) fn parse_word_timing(s: &str) -> Result<WordTiming, String> {
    WordTiming::parse(s).ok_or_else(|| format!("{s:?} is not a word timing (dtw or tokens)"))
}

/// The job settings of this run: model, GPU, decoding, threads, the VAD model.
fn configure(app: &mut App, args: &TranscribeArgs, model: &str, gpu: GpuPref) {
    let mut s = app.world_mut().resource_mut::<TranscribeSettings>();
    s.default_model = model.to_string();
    s.gpu = gpu;
    s.params = decode_params(args);
    s.threads = args.threads;
    s.reserved_cores = 0;
    s.run_all_pending = false;
    if let Some(p) = &args.vad_model {
        s.vad_model = Some(p.clone());
    }
    if !args.no_vad && s.vad_path().is_none() && !args.json {
        eprintln!(
            "note: the voice activity model could not be installed (see the log), so \
             silence goes to whisper too"
        );
    }
}

/// Imports the inputs that are files (library ids go straight to a job): which library file
/// each input is. An import that fails is that input's report.
fn import_inputs(
    app: &mut App,
    args: &TranscribeArgs,
    reports: &mut [Option<JobReport>],
) -> anyhow::Result<HashMap<usize, AudioFileId>> {
    let mut audio_of: HashMap<usize, AudioFileId> = HashMap::new();
    let mut imports: HashMap<PathBuf, usize> = HashMap::new();
    for (i, input) in args.inputs.iter().enumerate() {
        match input.parse::<i64>() {
            Ok(id) if !Path::new(input).exists() => {
                audio_of.insert(i, AudioFileId(id));
            }
            _ => {
                let path = PathBuf::from(input);
                imports.insert(path.clone(), i);
                app.world_mut().write_message(ImportRequested(path));
            }
        }
    }
    let waiting_imports = imports.len();
    let ok = update_until(app, Duration::from_secs(24 * 3600), |world| {
        world.resource::<ImportLog>().0.len() >= waiting_imports
    });
    if !ok {
        anyhow::bail!("the imports did not finish");
    }
    for f in std::mem::take(&mut app.world_mut().resource_mut::<ImportLog>().0) {
        let Some(&i) = imports.get(&f.source) else {
            continue;
        };
        match f.result {
            Ok(imp) => {
                audio_of.insert(i, imp.row.id);
            }
            Err(e) => reports[i] = Some(JobReport::failed(&args.inputs[i], e.to_string())),
        }
    }
    Ok(audio_of)
}

/// Queues a job per library file: which input each job is for. A job that cannot be queued
/// is that input's report.
fn queue_jobs(
    app: &mut App,
    args: &TranscribeArgs,
    audio_of: &HashMap<usize, AudioFileId>,
    model: &str,
    gpu: GpuPref,
    reports: &mut [Option<JobReport>],
) -> anyhow::Result<HashMap<JobId, usize>> {
    for (&i, &audio) in audio_of {
        app.world_mut().write_message(TranscribeRequest {
            audio_file: audio,
            model: Some(model.to_string()),
            gpu: Some(gpu),
            params: None,
            token: i as u64,
            into: None,
            redo: None,
            new_transcript: args.new_transcript,
        });
    }
    let expected = audio_of.len();
    let ok = update_until(app, Duration::from_secs(600), |world| {
        world.resource::<Queued>().0.len() >= expected
    });
    if !ok {
        anyhow::bail!("the jobs could not be queued (is the database writable?)");
    }
    let mut job_of: HashMap<JobId, usize> = HashMap::new();
    for q in std::mem::take(&mut app.world_mut().resource_mut::<Queued>().0) {
        let i = q.token as usize;
        match q.result {
            Ok(id) => {
                job_of.insert(id, i);
            }
            Err(e) => {
                reports[i] = Some(JobReport::failed(
                    &args.inputs[i],
                    format!(
                        "cannot queue the job: {e} (is library id {} right?)",
                        audio_of[&i]
                    ),
                ))
            }
        }
    }

    Ok(job_of)
}

/// Runs until every job ended, with a progress bar per job on a terminal; Ctrl+C cancels them.
pub(super) fn run_jobs(
    app: &mut App,
    inputs: &[String],
    json: bool,
    job_of: &HashMap<JobId, usize>,
    interrupted: &AtomicBool,
) {
    let tty = std::io::stderr().is_terminal() && !json;
    let multi = indicatif::MultiProgress::new();
    if !tty {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let style =
        indicatif::ProgressStyle::with_template("{prefix:>20!} {bar:28} {percent:>3}% {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let mut bars: HashMap<JobId, indicatif::ProgressBar> = HashMap::new();
    for (&id, &i) in job_of {
        let bar = multi.add(indicatif::ProgressBar::new(1000).with_style(style.clone()));
        bar.set_prefix(short_name(&inputs[i]));
        bars.insert(id, bar);
    }
    let total = job_of.len();
    let mut cancel_sent = false;
    update_until(app, Duration::from_secs(7 * 24 * 3600), |world| {
        if interrupted.load(Ordering::SeqCst) && !cancel_sent {
            cancel_sent = true;
            let ids: Vec<JobId> = job_of.keys().copied().collect();
            for id in ids {
                world.write_message(JobCommand::Cancel(id));
            }
        }
        let mut q = world.query::<&TranscriptionJob>();
        for job in q.iter(world) {
            if let Some(bar) = bars.get(&job.id) {
                bar.set_position((job.progress * 1000.0) as u64);
                let mut msg = job.describe_backend();
                if let Some(eta) = job.eta.filter(|_| job.status == JobStatus::Running) {
                    msg = format!("ETA {:.0} s · {msg}", eta.as_secs_f32());
                }
                if let Some(note) = &job.note {
                    msg = format!("{note} · {msg}");
                }
                bar.set_message(msg);
            }
        }
        world
            .resource::<Finished>()
            .0
            .iter()
            .filter(|f| job_of.contains_key(&f.id))
            .count()
            >= total
    });
    for bar in bars.values() {
        bar.finish_and_clear();
    }
}

/// What became of one job, with its exports written (each failed export is noted in the
/// report; the others still run).
fn job_report(
    conn: &rusqlite::Connection,
    job: &TranscriptionJob,
    input: &str,
    formats: &[Format],
    out_dir: &Path,
) -> anyhow::Result<JobReport> {
    let mut report = JobReport {
        input: input.to_string(),
        job: Some(job.id.0),
        audio_file: Some(job.audio_file.0),
        status: format!("{:?}", job.status).to_lowercase(),
        transcript: job.transcript.map(|t| t.0),
        version: None,
        segments: 0,
        model: Some(job.model.clone()),
        backend_requested: Some(job.gpu.as_db()),
        backend: job.backend.clone(),
        backend_note: job.backend_note.clone(),
        threads: job.threads,
        processing_ms: job.processing_ms,
        error: job.error.clone(),
        exports: Vec::new(),
        export_errors: Vec::new(),
        speakers: None,
        speakers_error: None,
    };
    if let Some(t) = job.transcript
        && let Some(version) = transcript::sql::current_version(conn, t)?
    {
        let segments = transcript::sql::segments(conn, version.id)?;
        report.segments = segments.len();
        report.version = Some(version.number);
        if !formats.is_empty() {
            std::fs::create_dir_all(out_dir)
                .with_context(|| format!("cannot create {}", out_dir.display()))?;
        }
        let stem = Path::new(&job.audio_name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("transcript-{t}"));
        for f in formats {
            let path = out_dir.join(format!("{stem}.{}", f.code()));
            let meta = export::Meta {
                title: &job.audio_name,
                transcript_id: t.0,
                version: version.number,
                model: Some(&job.model),
            };
            let segs: Vec<crate::transcript::Segment> =
                segments.iter().cloned().map(Into::into).collect();
            // A name taken (two inputs called x.wav) gets a suffix; one failed export
            // is reported and the others still run.
            let written = match export::write_new(&path, &export::render(*f, &meta, &segs)) {
                Ok(p) => p,
                Err(e) => {
                    report
                        .export_errors
                        .push(format!("cannot write {}: {e}", path.display()));
                    continue;
                }
            };
            let abs = std::fs::canonicalize(&written).unwrap_or(written.clone());
            if let Err(e) = transcript::sql::record_export(
                conn,
                t,
                version.id,
                f.code(),
                &abs.to_string_lossy(),
                crate::storage::now_ms(),
            ) {
                report.export_errors.push(format!(
                    "{} was written but not recorded in the history: {e}",
                    written.display()
                ));
            }
            report.exports.push(written);
        }
    }
    Ok(report)
}

fn print_reports(reports: &[JobReport], json: bool) -> anyhow::Result<()> {
    if json {
        emit_line(&serde_json::to_string_pretty(reports)?)?;
    } else {
        for r in reports {
            match r.status.as_str() {
                "completed" => {
                    emit_line(&format!(
                        "{}: job {} completed: transcript {} version {}, {} segments, {:.1} s \
                         on {}{}",
                        r.input,
                        r.job.unwrap_or_default(),
                        r.transcript.unwrap_or_default(),
                        r.version.unwrap_or_default(),
                        r.segments,
                        r.processing_ms.unwrap_or_default() as f64 / 1000.0,
                        r.backend.as_deref().unwrap_or("?"),
                        r.backend_note
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default()
                    ))?;
                    if let Some(s) = &r.speakers {
                        emit_line(&super::terminal_safe(&format!(
                            "  speakers: {}",
                            if s.is_empty() {
                                "none found".to_owned()
                            } else {
                                s.join(", ")
                            }
                        )))?;
                    }
                    if let Some(e) = &r.speakers_error {
                        eprintln!("{}", super::terminal_safe(&format!("  speakers: {e}")));
                    }
                    for e in &r.exports {
                        emit_line(&format!("  wrote {}", e.display()))?;
                    }
                    for e in &r.export_errors {
                        eprintln!("{}", super::terminal_safe(&format!("  {e}")));
                    }
                }
                other => eprintln!(
                    "{}",
                    super::terminal_safe(&format!(
                        "{}: {other}{}",
                        r.input,
                        r.error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ))
                ),
            }
        }
    }
    Ok(())
}

fn short_name(input: &str) -> String {
    Path::new(input)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| input.to_string())
}

pub(super) fn emit_line(s: &str) -> std::io::Result<()> {
    super::emit(format_args!("{s}"))
}

/// One job `verbatim jobs --run` ran.
#[derive(Debug, Serialize)]
struct RanJob {
    job: i64,
    audio: String,
    status: String,
    transcript: Option<i64>,
    error: Option<String>,
}

/// `verbatim jobs --run`: every pending job of this library that no living process holds
/// (jobs of ended processes are adopted, as the window does), run to the end. Exits non-zero
/// when one failed or Ctrl-C cancelled them.
pub(super) fn run_pending(data: &DataDir, json: bool) -> anyhow::Result<ExitCode> {
    use crate::transcribe::jobs::{JobRunner, JobsLoaded};
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&interrupted);
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
    }
    let mut app = headless_app(core(data)?);
    {
        let mut s = app.world_mut().resource_mut::<TranscribeSettings>();
        s.run_all_pending = true;
        s.reserved_cores = 0;
    }
    let mut ran: HashMap<JobId, RanJob> = HashMap::new();
    let mut cancel_sent = false;
    update_until(&mut app, Duration::from_secs(7 * 24 * 3600), |world| {
        if !world.resource::<JobsLoaded>().0 {
            return false;
        }
        let mut q = world.query::<&TranscriptionJob>();
        let runner = world.resource::<JobRunner>();
        let mine: Vec<TranscriptionJob> = q.iter(world).filter(|j| runner.is(j)).cloned().collect();
        for j in &mine {
            ran.insert(
                j.id,
                RanJob {
                    job: j.id.0,
                    audio: j.audio_name.clone(),
                    status: j.status.as_db().to_string(),
                    transcript: j.transcript.map(|t| t.0),
                    error: j.error.clone(),
                },
            );
        }
        if interrupted.load(Ordering::SeqCst) && !cancel_sent {
            cancel_sent = true;
            for j in mine.iter().filter(|j| !j.status.is_finished()) {
                world.write_message(JobCommand::Cancel(j.id));
            }
        }
        mine.iter().all(|j| j.status.is_finished())
    });
    drop(app);
    let mut ran: Vec<RanJob> = ran.into_values().collect();
    ran.sort_by_key(|r| r.job);
    if json {
        emit_line(&serde_json::to_string_pretty(&ran)?)?;
    } else if ran.is_empty() {
        emit_line("No pending job to run.")?;
    } else {
        for r in &ran {
            emit_line(&format!(
                "job {}: {} {}{}{}",
                r.job,
                r.audio,
                r.status,
                r.transcript
                    .map(|t| format!(": transcript {t}"))
                    .unwrap_or_default(),
                r.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ))?;
        }
    }
    let failed = ran.iter().any(|r| r.status != "completed");
    Ok(if failed || interrupted.load(Ordering::SeqCst) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn jobs(data: &DataDir, json: bool) -> anyhow::Result<ExitCode> {
    let conn = crate::storage::open(&data.db_path())?;
    let rows = crate::transcribe::jobs::sql::list_jobs(&conn, 100)?;
    if json {
        emit_line(&serde_json::to_string_pretty(&rows)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        emit_line("No transcription jobs yet (`verbatim transcribe FILE` starts one).")?;
        return Ok(ExitCode::SUCCESS);
    }
    emit_line(&format!(
        "{:>5}  {:<10} {:>5}  {:<28} {:<14} {:<5} {:<34} {:>7}  {:>10}",
        "job", "status", "done", "audio", "model", "asked", "ran on", "threads", "transcript"
    ))?;
    for r in rows {
        emit_line(&format!(
            "{:>5}  {:<10} {:>4.0}%  {:<28} {:<14} {:<5} {:<34} {:>7}  {:>10}{}",
            r.id,
            r.status.as_db(),
            r.progress * 100.0,
            truncate(&format!("{} ({})", r.audio_name, r.audio_file), 28),
            truncate(&r.model, 14),
            r.requested_backend,
            truncate(
                &match (&r.actual_backend, &r.backend_note) {
                    (Some(b), Some(n)) => format!("{b} ({n})"),
                    (Some(b), None) => b.clone(),
                    _ => "-".into(),
                },
                34
            ),
            r.threads
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into()),
            r.transcript
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into()),
            r.error
                .as_deref()
                .filter(|_| r.status != JobStatus::Completed)
                .map(|e| format!("  {e}"))
                .unwrap_or_default()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
