//! `verbatim transcripts|versions|flags|diff|rollback|export|search` and `import --transcript`: the
//! editor's operations from the shell, through the same ECS (EditorPlugin) and database writer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bevy::prelude::*;

use super::{core, headless_app, update_until};
use crate::editor::{Editor, EditorCommand, EditorEvent};
use crate::paths::DataDir;
use crate::storage::ids::TranscriptId;
use crate::transcript;
use crate::transcript::diff::Kind;
use crate::transcript::export::Format;

#[derive(Resource, Default)]
struct Events(Vec<EditorEvent>);

fn collect(mut r: MessageReader<EditorEvent>, mut out: ResMut<Events>) {
    out.0.extend(r.read().cloned());
}

fn app(data: &DataDir) -> anyhow::Result<App> {
    let mut app = headless_app(core(data)?);
    app.init_resource::<Events>().add_systems(Last, collect);
    Ok(app)
}

/// Sends `cmd` and runs frames until an event `done` accepts (or a failure) arrives.
fn run(
    app: &mut App,
    cmd: EditorCommand,
    done: impl Fn(&EditorEvent) -> bool,
) -> anyhow::Result<EditorEvent> {
    app.world_mut().resource_mut::<Events>().0.clear();
    app.world_mut().write_message(cmd);
    let mut got = None;
    update_until(app, Duration::from_secs(120), |w| {
        let ev = &w.resource::<Events>().0;
        got = ev
            .iter()
            .find(|e| done(e) || matches!(e, EditorEvent::Failed(_) | EditorEvent::Refused(_)))
            .cloned();
        got.is_some()
    });
    match got {
        Some(EditorEvent::Failed(e)) | Some(EditorEvent::Refused(e)) => anyhow::bail!("{e}"),
        Some(e) => Ok(e),
        None => anyhow::bail!("no answer within 120 s"),
    }
}

fn open(app: &mut App, id: i64, version: Option<u32>) -> anyhow::Result<()> {
    run(
        app,
        EditorCommand::Open {
            transcript: TranscriptId(id),
            version,
            segment: None,
        },
        |e| matches!(e, EditorEvent::Opened { .. }),
    )?;
    Ok(())
}

fn print(s: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes())?;
    o.write_all(b"\n")
}

pub(super) fn transcripts(data: &DataDir, json: bool) -> anyhow::Result<ExitCode> {
    let mut app = app(data)?;
    run(&mut app, EditorCommand::ListTranscripts, |e| {
        matches!(e, EditorEvent::Listed(_))
    })?;
    let list = app.world().resource::<Editor>().transcripts.clone();
    if json {
        print(&serde_json::to_string_pretty(&list)?)?;
    } else if list.is_empty() {
        print("No transcripts yet (`verbatim transcribe FILE` makes one).")?;
    } else {
        for t in list {
            print(&format!(
                "{:>5}  {}  {} versions  {}",
                t.id,
                t.title.as_deref().unwrap_or(&t.audio_name),
                t.versions,
                crate::library::format_duration_ms(t.duration_ms)
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn versions(data: &DataDir, id: i64, json: bool) -> anyhow::Result<ExitCode> {
    // The list alone, read off the database: no segment is loaded (a version of 200,000
    // segments took 693 MB to list when the transcript was opened for it).
    let conn = crate::storage::open(&data.db_path())?;
    let t = TranscriptId(id);
    if crate::transcript::sql::get_transcript(&conn, t)?.is_none() {
        anyhow::bail!("there is no transcript {id} (see `verbatim transcripts`)");
    }
    let versions = crate::transcript::sql::versions(&conn, t)?;
    if json {
        print(&serde_json::to_string_pretty(&versions)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    for v in versions {
        print(&format!(
            "{} v{:<3} {}  {:<12} {:<24} {:>6} segments  {}",
            if v.is_current { "*" } else { " " },
            v.number,
            crate::ui::library_panel::format_time(v.created_at),
            v.source.as_str(),
            v.model.as_deref().or(v.author.as_deref()).unwrap_or("-"),
            v.segment_count,
            v.note.as_deref().unwrap_or("")
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One flag as `verbatim flags --json` prints it.
#[derive(serde::Serialize)]
struct FlagLine<'a> {
    segment: usize,
    start_ms: u64,
    end_ms: u64,
    kind: crate::transcript::flags::FlagKind,
    detail: &'a str,
    text: &'a str,
}

/// The flags the editor's systems computed for the opened version's segment entities.
pub(super) fn flags(
    data: &DataDir,
    id: i64,
    version: Option<u32>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use crate::editor::flags::SegmentFlags;
    use crate::editor::segments::{OpenVersion, SegmentText, SegmentTiming, Segments};
    let mut app = app(data)?;
    open(&mut app, id, version)?;
    let world = app.world_mut();
    let order = world
        .query_filtered::<&Segments, With<OpenVersion>>()
        .single(world)
        .map(|s| s.entities().to_vec())
        .context("the version opened without its segments")?;
    let mut rows = world.query::<(&SegmentTiming, &SegmentText, &SegmentFlags)>();
    let mut lines = Vec::new();
    for (i, e) in order.iter().enumerate() {
        let (t, text, flags) = rows.get(world, *e).context("a segment was not flagged")?;
        for f in &flags.0 {
            lines.push(FlagLine {
                segment: i,
                start_ms: t.start_ms,
                end_ms: t.end_ms,
                kind: f.kind,
                detail: &f.detail,
                text: &text.0,
            });
        }
    }
    if json {
        print(&serde_json::to_string_pretty(&lines)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        print(&match order.len() {
            1 => "No flags: the segment looks right.".to_owned(),
            n => format!("No flags: {n} segments look right."),
        })?;
    }
    for l in &lines {
        print(&format!(
            "{}-{}  {:<10}  {}  | {}",
            crate::transcript::export::timestamp(l.start_ms, '.'),
            crate::transcript::export::timestamp(l.end_ms, '.'),
            l.kind.as_str(),
            l.detail,
            l.text
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn diff(
    data: &DataDir,
    id: i64,
    from: u32,
    to: u32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    // The two versions read off the database and compared: nothing is opened for editing
    // (the open transcript's segments as entities were most of a large diff's memory).
    let conn = crate::storage::open(&data.db_path())?;
    let t = TranscriptId(id);
    if crate::transcript::sql::get_transcript(&conn, t)?.is_none() {
        anyhow::bail!("there is no transcript {id} (see `verbatim transcripts`)");
    }
    let version = |n: u32| -> anyhow::Result<Vec<crate::transcript::Segment>> {
        let v = crate::transcript::sql::version_by_number(&conn, t, n)?
            .with_context(|| format!("transcript {id} has no version {n}"))?;
        Ok(crate::transcript::sql::segments(&conn, v.id)?
            .into_iter()
            .map(crate::transcript::Segment::from)
            .collect())
    };
    let (left, right) = (version(from)?, version(to)?);
    let result = crate::transcript::diff::compare(&left, &right);
    drop((left, right));
    if json {
        print(&serde_json::to_string_pretty(&result)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    print(&format!(
        "version {from} -> {to}: {} (WER of {to} measured against {from})",
        result.describe()
    ))?;
    let fmt_time = |t: Option<(u64, u64)>| {
        t.map(|(a, b)| {
            format!(
                "{}-{}",
                crate::transcript::export::timestamp(a, '.'),
                crate::transcript::export::timestamp(b, '.')
            )
        })
        .unwrap_or_else(|| "-".into())
    };
    for row in result.rows.iter().filter(|r| r.changed()) {
        let side = |spans: &[crate::transcript::diff::Span]| {
            spans
                .iter()
                .map(|sp| match sp.kind {
                    Kind::Same => sp.text.clone(),
                    Kind::Deleted => format!("[-{}-]", sp.text.trim()),
                    Kind::Inserted => format!("{{+{}+}}", sp.text.trim()),
                    Kind::Changed => format!("<{}>", sp.text.trim()),
                })
                .collect::<String>()
        };
        print(&format!(
            "@ {} | {}",
            fmt_time(row.left_time),
            fmt_time(row.right_time)
        ))?;
        print(&format!("- {}", side(&row.left_spans)))?;
        print(&format!("+ {}", side(&row.right_spans)))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn rollback(data: &DataDir, id: i64, to: u32) -> anyhow::Result<ExitCode> {
    let mut app = app(data)?;
    open(&mut app, id, None)?;
    let ev = run(&mut app, EditorCommand::Rollback { to }, |e| {
        matches!(e, EditorEvent::Saved { .. })
    })?;
    if let EditorEvent::Saved { version, .. } = ev {
        print(&format!(
            "transcript {id}: version {version} (a copy of version {to}) is now current"
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn export(
    data: &DataDir,
    id: i64,
    version: Option<u32>,
    format: &str,
    out: Option<PathBuf>,
    words: bool,
) -> anyhow::Result<ExitCode> {
    let format = Format::parse(format)
        .with_context(|| format!("unknown format {format:?} (srt, vtt, json, txt, csv, rttm)"))?;
    let mut app = app(data)?;
    open(&mut app, id, version)?;
    let (stem, number) = {
        let editor = app.world().resource::<Editor>();
        let doc = editor.doc.as_ref().context("the transcript did not open")?;
        (
            Path::new(&doc.transcript.audio_name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("transcript-{id}")),
            doc.version.number,
        )
    };
    let name = format!("{stem}.v{number}.{}", format.code());
    // A folder gets the file inside it, under its default name.
    let path = match out {
        Some(dir) if dir.is_dir() => dir.join(name),
        Some(out) => out,
        None => PathBuf::from(name),
    };
    let command = EditorCommand::Export {
        format,
        path: path.clone(),
        words,
    };
    let ev = run(&mut app, command, |e| matches!(e, EditorEvent::Exported(_)))?;
    // Written to standard output (`--out -`, `/dev/stdout`): the report goes to stderr, so
    // the export alone is what a pipe gets.
    let to_stdout = path == Path::new("-") || path == Path::new("/dev/stdout");
    if let EditorEvent::Exported(p) = ev {
        let line = format!(
            "wrote {} (transcript {id}, version {number})",
            if to_stdout {
                "standard output".to_string()
            } else {
                p.display().to_string()
            }
        );
        if to_stdout {
            eprintln!("{}", super::terminal_safe(&line));
        } else {
            print(&line)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn import_version(data: &DataDir, file: &Path, id: i64) -> anyhow::Result<ExitCode> {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let format = Format::parse(&ext)
        .filter(|f| matches!(f, Format::Srt | Format::Vtt | Format::Json))
        .with_context(|| {
            format!(
                "{}: transcripts are imported from .srt, .vtt or .json",
                file.display()
            )
        })?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let segments = crate::transcript::import::parse(format, &text)
        .with_context(|| format!("{} is not a valid {} file", file.display(), format.code()))?;
    // The transcript's audio length off the database: opening it for editing would load its
    // current version (a 200,000-segment version took 490 MB more).
    let duration = {
        let conn = crate::storage::open(&data.db_path())?;
        transcript::sql::get_transcript(&conn, TranscriptId(id))?
            .with_context(|| format!("there is no transcript {id} (see `verbatim transcripts`)"))?
            .duration_ms
    };
    let mut app = app(data)?;
    crate::transcript::edit::validate(&segments, duration)
        .with_context(|| format!("{} cannot be a version of transcript {id}", file.display()))?;
    let note = format!(
        "imported from {}",
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let n = segments.len();
    let ev = run(
        &mut app,
        EditorCommand::ImportVersion {
            transcript: TranscriptId(id),
            segments,
            note,
        },
        |e| matches!(e, EditorEvent::Saved { .. }),
    )?;
    if let EditorEvent::Saved { version, .. } = ev {
        print(&format!(
            "transcript {id}: version {version} imported ({n} segments) and current"
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn search(
    data: &DataDir,
    query: &str,
    speaker: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut app = app(data)?;
    let command = EditorCommand::Search {
        query: query.to_string(),
        speaker: speaker.map(str::to_owned),
    };
    run(&mut app, command, |e| matches!(e, EditorEvent::Searched(_)))?;
    let hits = app.world().resource::<Editor>().search_results.clone();
    if json {
        print(&serde_json::to_string_pretty(&hits)?)?;
    } else if hits.is_empty() {
        match speaker {
            Some(w) => print(&format!("Nothing found for {query:?} said by {w:?}."))?,
            None => print(&format!("Nothing found for {query:?}."))?,
        }
    } else {
        for h in &hits {
            print(&format!(
                "transcript {} v{} {}  {}  {}{}",
                h.transcript_id,
                h.version_number,
                crate::transcript::export::timestamp(h.start_ms, '.'),
                h.title.as_deref().unwrap_or(""),
                h.speaker
                    .as_deref()
                    .map(|w| format!("{w}: "))
                    .unwrap_or_default(),
                h.snippet
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
