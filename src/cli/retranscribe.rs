//! `verbatim retranscribe ID --from MS --to MS`: one span of a transcript transcribed again
//! with other settings, saved as a new version (source `retranscribe`) in which every segment
//! outside the span is the previous version's.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use bevy::prelude::*;
use clap::Args;
use serde::Serialize;

use super::transcribe::{Finished, Queued, collect, parse_word_timing, run_jobs};
use super::{core, headless_app, update_until};
use crate::paths::DataDir;
use crate::storage::ids::TranscriptId;
use crate::transcribe::jobs::Redo;
use crate::transcribe::jobs::TranscriptionJob;
use crate::transcribe::{
    DecodeParams, GpuPref, TranscribeRequest, TranscribeSettings, WordTiming, catalog, model_file,
};
use crate::transcript;
use crate::transcript::Segment;
use crate::transcript::export::timestamp;
use crate::transcript::retranscribe::covering_span;
use crate::transcript::sql::TranscriptRow;
use crate::transcript::sql::VersionRow;

#[derive(Debug, Args)]
pub struct RetranscribeArgs {
    /// The transcript (`verbatim transcripts`).
    #[arg(value_name = "ID")]
    pub id: i64,
    /// Start of the span, in ms. The span grows to the whole of every segment it touches.
    #[arg(long, value_name = "MS", required_unless_present = "flagged")]
    pub from: Option<u64>,
    /// End of the span, in ms.
    #[arg(long, value_name = "MS", required_unless_present = "flagged")]
    pub to: Option<u64>,
    /// Every flagged segment instead of one span (`verbatim flags ID`): flagged neighbours
    /// make one span, and every span is transcribed again in one job saved as one version.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub flagged: bool,
    /// With --flagged: refuse more spans than this (a large batch is asked for by name).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_SPANS, requires = "flagged")]
    pub max_spans: usize,
    /// The version to repair (default: the current one).
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
    /// A model name (`verbatim models list`) or the path of a ggml model file.
    #[arg(long, short, value_name = "NAME|PATH")]
    pub model: Option<String>,
    /// Beam search with this width (default: greedy).
    #[arg(long, value_name = "N")]
    pub beam: Option<u32>,
    /// Decode once at temperature 0 (by default a window that looks wrong is retried at
    /// higher temperatures).
    #[arg(long)]
    pub no_fallback: bool,
    /// Spoken language (en, de, ...) or auto.
    #[arg(long, short, value_name = "CODE")]
    pub language: Option<String>,
    /// Text that primes the decoder (names, spelling). By default the span is decoded with
    /// no prompt and without the text before it.
    #[arg(long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// Prime the decoder with the library's vocabulary too (`verbatim vocabulary`).
    #[arg(long)]
    pub vocabulary: bool,
    /// Send silence to whisper too.
    #[arg(long)]
    pub no_vad: bool,
    /// How words are timed: tokens or dtw.
    #[arg(long, value_name = "tokens|dtw", value_parser = parse_word_timing)]
    pub word_timing: Option<WordTiming>,
    /// auto, on or off.
    #[arg(long, default_value = "auto", value_name = "auto|on|off")]
    pub gpu: String,
    /// whisper threads (default: every core, fewer while other programs keep cores busy; a
    /// number given here is used as given).
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How many spans `--flagged` takes without `--max-spans`.
pub const DEFAULT_MAX_SPANS: usize = 500;

/// The exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

#[derive(Debug, Serialize)]
struct Report {
    transcript: i64,
    status: String,
    based_on_version: u32,
    version: Option<u32>,
    /// The first span's start and the last one's end.
    from_ms: u64,
    to_ms: u64,
    /// Every span transcribed again (one with --from/--to).
    spans: Vec<[u64; 2]>,
    /// Segments of the span before and after.
    replaced: usize,
    new: usize,
    model: String,
    params: DecodeParams,
    error: Option<String>,
}

pub(super) fn retranscribe(data: &DataDir, args: RetranscribeArgs) -> anyhow::Result<ExitCode> {
    // The arguments first (the span, the beam), then what they name (the transcript, its
    // version), then the model: a mistake is reported as what it is.
    let gpu = GpuPref::parse(&args.gpu)
        .with_context(|| format!("--gpu {:?}: use auto, on or off", args.gpu))?;
    crate::transcribe::protocol::check_beam(args.beam).map_err(anyhow::Error::msg)?;
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        anyhow::bail!("--from {from} must be before --to {to} (milliseconds)");
    }
    let (transcript, base, segments, to_clamped) = base_version(data, &args)?;
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| catalog::DEFAULT_MODEL.to_string());
    let model_path = catalog::resolve(&catalog::models_dir(data.root()), &model)?;
    model_file::inspect_whisper_file(&model_path)?;
    if let Some((asked, end)) = to_clamped {
        eprintln!(
            "--to {asked} is past the end of {} ({}): the span ends there",
            super::terminal_safe(&transcript.audio_name),
            timestamp(end, '.')
        );
    }
    let Some(spans) = spans_to_redo(data, &args, (&transcript, &base), &segments, to_clamped)?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    // One job for every span (sorted, and joined where they touch), saved as one version of
    // the version asked for.
    let redo = Redo::spans(Some(base.id), &spans).context("no span to transcribe again")?;
    let spans = redo.each();
    let in_spans = |s: &Segment| in_any(&spans, s);
    let replaced = segments.iter().filter(|s| in_spans(s)).count();
    let (from_ms, to_ms) = (
        spans.first().map_or(0, |s| s.0),
        spans.last().map_or(0, |s| s.1),
    );
    let params = decode_params(&args);

    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&interrupted);
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
    }
    let mut app = headless_app(core(data)?);
    app.init_resource::<Queued>()
        .init_resource::<Finished>()
        .add_systems(Last, collect);
    {
        let mut s = app.world_mut().resource_mut::<TranscribeSettings>();
        s.default_model.clone_from(&model);
        s.gpu = gpu;
        s.params = params.clone();
        s.threads = args.threads;
        s.reserved_cores = 0;
        s.run_all_pending = false;
    }
    app.world_mut().write_message(TranscribeRequest {
        audio_file: transcript.audio_file,
        model: Some(model.clone()),
        gpu: Some(gpu),
        params: Some(params.clone()),
        token: 0,
        into: Some(transcript.id),
        redo: Some(redo),
        new_transcript: false,
    });
    if !update_until(&mut app, Duration::from_secs(600), |w| {
        !w.resource::<Queued>().0.is_empty()
    }) {
        anyhow::bail!("the jobs could not be queued (is the database writable?)");
    }
    let queued = std::mem::take(&mut app.world_mut().resource_mut::<Queued>().0);
    let mut job_of = HashMap::new();
    for q in queued {
        match q.result {
            Ok(id) => {
                job_of.insert(id, q.token as usize);
            }
            Err(e) => anyhow::bail!("cannot queue the job: {e}"),
        }
    }
    let labels = vec![span_label(&transcript.audio_name, &spans)];
    run_jobs(&mut app, &labels, args.json, &job_of, &interrupted);
    let job = job_of.keys().next().copied();
    let finished: Option<TranscriptionJob> = {
        let world = app.world_mut();
        let mut q = world.query::<&TranscriptionJob>();
        q.iter(world).find(|j| Some(j.id) == job).cloned()
    };
    drop(app); // the database writer finishes everything queued

    let conn = crate::storage::open(&data.db_path())?;
    // The version the last job made (its parameters name the job): other processes may have
    // saved versions around it.
    let made = match (job, &finished) {
        (Some(job), Some(f)) if f.error.is_none() => {
            transcript::sql::version_made_by_job(&conn, transcript.id, job)?
        }
        _ => None,
    };
    let new = match &made {
        Some(v) => transcript::sql::segments(&conn, v.id)?
            .into_iter()
            .map(Segment::from)
            .filter(|s| in_spans(s))
            .count(),
        None => 0,
    };
    let cancelled = finished
        .as_ref()
        .is_some_and(|j| j.status == crate::transcribe::JobStatus::Cancelled)
        || (made.is_none() && interrupted.load(Ordering::SeqCst));
    let report = Report {
        transcript: transcript.id.0,
        status: finished
            .as_ref()
            .map_or("did not run".into(), |j| j.status.as_db().to_string()),
        based_on_version: base.number,
        version: made.as_ref().map(|v| v.number),
        from_ms,
        to_ms,
        spans: spans.iter().map(|(a, b)| [*a, *b]).collect(),
        replaced,
        new,
        model,
        params,
        error: finished.and_then(|j| j.error),
    };
    print_report(&report, &spans, cancelled, args.json)?;
    Ok(match report.version {
        Some(_) => ExitCode::SUCCESS,
        None if cancelled => ExitCode::from(INTERRUPTED),
        None => ExitCode::FAILURE,
    })
}

/// How the spans are decoded: the span on its own (the text before it is what is being
/// repaired, so it is no context), with the arguments' settings.
fn decode_params(args: &RetranscribeArgs) -> DecodeParams {
    DecodeParams {
        language: args.language.clone().filter(|l| l != "auto"),
        beam_size: args.beam,
        temperature_fallback: !args.no_fallback,
        initial_prompt: args.prompt.clone(),
        vad: !args.no_vad,
        carry_context: false,
        word_timing: args.word_timing.unwrap_or_default(),
        use_vocabulary: args.vocabulary,
        ..DecodeParams::default()
    }
}

/// How the job is named while it runs: the file and its span (or how many spans).
fn span_label(audio_name: &str, spans: &[(u64, u64)]) -> String {
    match spans {
        [(a, b)] => format!(
            "{} {}-{}",
            audio_name,
            timestamp(*a, '.'),
            timestamp(*b, '.')
        ),
        many => format!("{} ({} spans)", audio_name, many.len()),
    }
}

/// The spans to transcribe again: `--from`/`--to` (widened to the segments they touch), or
/// every flagged run of segments (`None`: none is flagged, said on stdout).
fn spans_to_redo(
    data: &DataDir,
    args: &RetranscribeArgs,
    (transcript, base): (&TranscriptRow, &VersionRow),
    segments: &[Segment],
    to_clamped: Option<(u64, u64)>,
) -> anyhow::Result<Option<Vec<(u64, u64)>>> {
    Ok(Some(match (args.from, args.to) {
        (Some(from), Some(to)) if !args.flagged => {
            let to = to_clamped.map_or(to, |(_, end)| end);
            vec![covering_span(segments, from, to)]
        }
        _ => {
            use crate::transcript::flags::{FlagRules, flags_with_speech};
            let rules = FlagRules::default();
            let speech = {
                let conn = crate::storage::open(&data.db_path())?;
                transcript::sql::speech_regions(&conn, transcript.id)?
            };
            let flagged = flagged_spans(segments, |s| {
                !flags_with_speech(s, &rules, speech.as_deref()).is_empty()
            });
            if flagged.is_empty() {
                let mut out = std::io::stdout().lock();
                writeln!(
                    out,
                    "no segment of version {} of transcript {} is flagged: nothing to transcribe again",
                    base.number, transcript.id
                )?;
                return Ok(None);
            }
            if flagged.len() > args.max_spans {
                let ms: u64 = flagged.iter().map(|(a, b)| b - a).sum();
                anyhow::bail!(
                    "version {} of transcript {} has {} flagged spans ({} of audio), more than \
                     --max-spans {}: pass --max-spans {} to transcribe them all again in one \
                     job, or repair a stretch with --from and --to",
                    base.number,
                    transcript.id,
                    flagged.len(),
                    timestamp(ms, '.'),
                    args.max_spans,
                    flagged.len()
                );
            }
            flagged
        }
    }))
}

/// The report: JSON, or a line saying which version was made, or why none was.
fn print_report(
    report: &Report,
    spans: &[(u64, u64)],
    cancelled: bool,
    json: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(report)?)?;
    } else {
        match report.version {
            Some(n) => writeln!(
                out,
                "version {n} of transcript {}: {} transcribed again with {}; {} segment(s) \
                 replaced by {} (`verbatim diff {} --from {} --to {n}` shows what changed)",
                report.transcript,
                match spans {
                    [(a, b)] => format!("{} to {}", timestamp(*a, '.'), timestamp(*b, '.')),
                    many => format!("{} flagged spans", many.len()),
                },
                report.model,
                report.replaced,
                report.new,
                report.transcript,
                report.based_on_version,
            )?,
            None if cancelled => writeln!(
                out,
                "cancelled: nothing was transcribed again and no version was saved \
                 (version {} of transcript {} is as it was)",
                report.based_on_version, report.transcript
            )?,
            None => writeln!(
                out,
                "{} not transcribed again: {}",
                match spans.len() {
                    1 => "the span was".to_string(),
                    n => format!("the {n} spans were"),
                },
                report.error.as_deref().unwrap_or(&report.status)
            )?,
        }
    }
    Ok(())
}

/// The spans a batch repairs: each run of flagged segments next to one another (no segment
/// that is not flagged between them) is one span, from its first segment's start to its last
/// one's end.
fn flagged_spans(segments: &[Segment], flagged: impl Fn(&Segment) -> bool) -> Vec<(u64, u64)> {
    let mut order: Vec<&Segment> = segments.iter().collect();
    order.sort_by_key(|s| (s.start_ms, s.end_ms));
    let mut spans: Vec<(u64, u64)> = Vec::new();
    let mut open = false;
    for s in order {
        if !flagged(s) {
            open = false;
            continue;
        }
        match spans.last_mut() {
            Some(last) if open => last.1 = last.1.max(s.end_ms),
            _ => spans.push((s.start_ms, s.end_ms.max(s.start_ms + 1))),
        }
        open = true;
    }
    spans
}

/// Whether a segment lies (partly) in one of `spans` (sorted, disjoint).
fn in_any(spans: &[(u64, u64)], s: &Segment) -> bool {
    // The first span that ends after the segment starts.
    let i = spans.partition_point(|&(_, b)| b <= s.start_ms);
    spans
        .get(i)
        .is_some_and(|&(a, b)| s.start_ms < b && s.end_ms > a)
}

/// The transcript, the version to repair and its segments; checks the span.
/// The transcript, the version to repair and its segments, and `(asked, end)` when `--to`
/// was past the end of the audio (the span is clamped to it).
type Base = (
    transcript::sql::TranscriptRow,
    VersionRow,
    Vec<Segment>,
    Option<(u64, u64)>,
);

fn base_version(data: &DataDir, args: &RetranscribeArgs) -> anyhow::Result<Base> {
    let conn = crate::storage::open(&data.db_path())?;
    let id = TranscriptId(args.id);
    let transcript = transcript::sql::get_transcript(&conn, id)?
        .with_context(|| format!("there is no transcript {id} (see `verbatim transcripts`)"))?;
    let version = match args.version {
        Some(n) => transcript::sql::version_by_number(&conn, id, n)?
            .with_context(|| format!("transcript {id} has no version {n}"))?,
        None => transcript::sql::current_version(&conn, id)?
            .with_context(|| format!("transcript {id} has no current version"))?,
    };
    let mut clamped = None;
    if let (Some(from), Some(to)) = (args.from, args.to) {
        let end = transcript.duration_ms;
        if end > 0 && from >= end {
            anyhow::bail!(
                "--from {from} is past the end of {} ({} ms long)",
                super::terminal_safe(&transcript.audio_name),
                end
            );
        }
        if end > 0 && to > end {
            clamped = Some((to, end));
        }
    }
    let segments = transcript::sql::segments(&conn, version.id)?
        .into_iter()
        .map(Segment::from)
        .collect();
    Ok((transcript, version, segments, clamped))
}
