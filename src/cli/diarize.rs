//! `verbatim diarize FILE|TRANSCRIPT`: who spoke when in an audio file or a transcript's
//! audio, from the segmentation model's speech and overlaps (or, without it, the speech
//! regions transcription uses) and the CAM++ speaker model (both in the models folder);
//! turns as lines, RTTM or JSON, and with `--reference` the diarization error rate against
//! reference turns. A transcript's segments get their speakers as a new version.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::emit;
use crate::paths::DataDir;
use crate::speakers::der::der;
use crate::speakers::diarize::{MAX_SPEAKERS, Speakers};
use crate::speakers::run::{self, Diarized, Method, SavedSpeakers};
use crate::speakers::{read_rttm, sql};
use crate::storage::StorageError;
use crate::storage::ids::TranscriptId;
use crate::storage::now_ms;
use crate::transcribe::catalog;
use crate::transcript::export::timestamp;

#[derive(Debug, Args)]
pub struct DiarizeArgs {
    /// The audio file (any format Verbatim imports), or the number of a transcript in the
    /// library: its segments get their speakers, saved as a new version.
    #[arg(value_name = "FILE|TRANSCRIPT")]
    pub file: PathBuf,
    /// `auto`, or how many speakers there are.
    #[arg(long, default_value = "auto", value_name = "auto|N")]
    pub speakers: String,
    /// Print RTTM (`SPEAKER <file> 1 <start> <duration> <NA> <NA> <speaker> <NA> <NA>`).
    #[arg(long, conflicts_with = "json")]
    pub rttm: bool,
    #[arg(long)]
    pub json: bool,
    /// Reference turns (RTTM) to score against: the DER, its missed speech, false alarm and
    /// confusion (no collar, overlapped speech scored).
    #[arg(long, value_name = "RTTM")]
    pub reference: Option<PathBuf>,
    /// Remember a speaker of this file under a name (`SPEAKER_01=Ann`, repeatable): later
    /// recordings of that voice are given the name. Naming a remembered speaker again
    /// refines their voiceprint.
    #[arg(long = "name", value_name = "SPEAKER=NAME")]
    pub names: Vec<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    file: &'a std::path::Path,
    /// What found the speech: `segmentation-3.0` (overlaps included) or `silero-vad`.
    speech: Method,
    /// For a transcript of the library: the version its speakers were saved as.
    #[serde(skip_serializing_if = "Option::is_none")]
    transcript: Option<&'a SavedSpeakers>,
    speakers: Vec<&'a str>,
    /// Voices the library may know but that were not named: the user decides.
    offered: Vec<Offer<'a>>,
    turns: Vec<TurnJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    der: Option<DerJson>,
}

#[derive(Serialize)]
struct Offer<'a> {
    speaker: &'a str,
    maybe: &'a str,
    similarity: f32,
}

#[derive(Serialize)]
struct TurnJson<'a> {
    speaker: &'a str,
    start_ms: u64,
    end_ms: u64,
}

#[derive(Serialize)]
struct DerJson {
    der: f64,
    missed: f64,
    false_alarm: f64,
    confusion: f64,
}

pub(super) fn parse_speakers(s: &str) -> anyhow::Result<Speakers> {
    if s == "auto" {
        return Ok(Speakers::Auto);
    }
    match s.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(Speakers::Exactly(n)),
        _ => anyhow::bail!(
            "--speakers {s:?}: use auto (up to {MAX_SPEAKERS} are found) or a number from 1 to 64"
        ),
    }
}

pub(super) fn diarize(data: &DataDir, args: DiarizeArgs) -> anyhow::Result<ExitCode> {
    let speakers = parse_speakers(&args.speakers)?;
    // A transcript of the library by its number, unless a file of that name is here.
    let transcript = match std::fs::symlink_metadata(&args.file) {
        Err(_) => args
            .file
            .to_str()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map(crate::storage::ids::TranscriptId),
        Ok(_) => None,
    };
    if transcript.is_none() {
        let meta = std::fs::metadata(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))?;
        if !meta.is_file() {
            anyhow::bail!(
                "{} is not a regular file (a folder, a pipe or a device)",
                args.file.display()
            );
        }
    }
    let reference = match &args.reference {
        Some(p) => Some(read_rttm(&std::fs::read_to_string(p).with_context(
            || format!("cannot read the reference RTTM {}", p.display()),
        )?)?),
        None => None,
    };
    let names = parse_names(&args.names)?;
    let (d, saved) = match transcript {
        Some(t) => {
            let (d, saved) = diarize_transcript(data, t, speakers, &names)?;
            (d, Some(saved))
        }
        None => (
            run::diarize_file(
                &catalog::models_dir(data.root()),
                &data.db_path(),
                &args.file,
                speakers,
                &names,
                &crate::speakers::Progress::default(),
            )?,
            None,
        ),
    };
    if let Some(n) = &d.note {
        eprintln!("{n}");
    }
    for (label, name) in &d.remembered {
        eprintln!("remembered {label} as {name}");
    }
    let scored = reference.as_deref().map(|r| der(r, &d.turns));
    print(&args, &d, saved.as_ref(), scored)?;
    Ok(ExitCode::SUCCESS)
}

/// Checks before any work that diarization can run: the speaker model is installed and
/// loads (for `transcribe --speakers`, before anything is transcribed).
pub(super) fn check_models(data: &DataDir) -> anyhow::Result<()> {
    run::load_models(&catalog::models_dir(data.root()))?;
    Ok(())
}

/// [`run::diarize_transcript`] on this data directory.
pub(super) fn diarize_transcript(
    data: &DataDir,
    t: crate::storage::ids::TranscriptId,
    speakers: Speakers,
    names: &[(String, String)],
) -> anyhow::Result<(Diarized, SavedSpeakers)> {
    Ok(run::diarize_transcript(
        data.root(),
        &catalog::models_dir(data.root()),
        &data.db_path(),
        t,
        speakers,
        names,
        &crate::speakers::Progress::default(),
    )?)
}

/// A label of one recording named after a person (`from` to `to` in the one transcript `c`
/// changed): their voice is remembered from that recording, as the window does; what
/// happened, in a line (none when nothing was named).
fn learn_named(data: &DataDir, from: &str, to: &str, c: &sql::Changed) -> Option<String> {
    let ([(t, _)], false) = (c.versions.as_slice(), c.library) else {
        return None;
    };
    if !sql::is_label(from) || sql::is_label(to) {
        return None;
    }
    let models = catalog::models_dir(data.root());
    Some(
        match run::learn_voice(data.root(), &models, &data.db_path(), *t, to) {
            Ok(n) => format!(
                "remembered {to}'s voice (about {:.0} s of speech): later recordings of it get \
                 the name",
                f64::from(n) * crate::speakers::diarize::STEP_MS as f64 / 1000.0
            ),
            Err(e) => format!("{to}'s voice was not remembered: {e}"),
        },
    )
}

/// `SPEAKER=NAME` pairs.
fn parse_names(pairs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                Ok((a.trim().to_owned(), b.trim().to_owned()))
            }
            _ => anyhow::bail!("--name {p:?}: write SPEAKER=NAME, e.g. --name SPEAKER_01=Ann"),
        })
        .collect()
}

fn print(
    args: &DiarizeArgs,
    d: &Diarized,
    saved: Option<&SavedSpeakers>,
    scored: Option<crate::speakers::der::Der>,
) -> anyhow::Result<()> {
    let (method, turns, offered) = (d.method, &d.turns, &d.offered);
    let mut names: Vec<&str> = Vec::new();
    for t in turns {
        if !names.contains(&t.speaker.as_str()) {
            names.push(&t.speaker);
        }
    }
    if args.json {
        let report = Report {
            file: &args.file,
            speech: method,
            transcript: saved,
            speakers: names,
            offered: offered
                .iter()
                .map(|(speaker, maybe, similarity)| Offer {
                    speaker,
                    maybe,
                    similarity: *similarity,
                })
                .collect(),
            turns: turns
                .iter()
                .map(|t| TurnJson {
                    speaker: &t.speaker,
                    start_ms: t.start_ms,
                    end_ms: t.end_ms,
                })
                .collect(),
            der: scored.map(|d| DerJson {
                der: d.rate(),
                missed: d.missed,
                false_alarm: d.false_alarm,
                confusion: d.confusion,
            }),
        };
        emit(format_args!("{}", serde_json::to_string_pretty(&report)?))?;
        return Ok(());
    }
    let stem = args
        .file
        .file_stem()
        .map_or_else(|| "audio".into(), |s| s.to_string_lossy().replace(' ', "_"));
    for t in turns {
        if args.rttm {
            emit(format_args!(
                "SPEAKER {stem} 1 {:.3} {:.3} <NA> <NA> {} <NA> <NA>",
                t.start_ms as f64 / 1000.0,
                (t.end_ms - t.start_ms) as f64 / 1000.0,
                t.speaker
            ))?;
        } else {
            emit(format_args!(
                "{} - {}  {}",
                timestamp(t.start_ms, '.'),
                timestamp(t.end_ms, '.'),
                t.speaker
            ))?;
        }
    }
    for (speaker, maybe, similarity) in offered {
        eprintln!(
            "{speaker} may be {maybe} (similarity {similarity:.2}); --name {speaker}={maybe} \
             says so"
        );
    }
    if let Some(sv) = saved {
        let line = match sv.version {
            Some(v) => format!(
                "transcript {}: version {v} saved with speakers {} ({} segments, {} split where \
                 the speaker changes)",
                sv.transcript,
                sv.speakers.join(", "),
                sv.segments,
                sv.split
            ),
            None => format!(
                "transcript {}: every segment already has its speaker; no version saved",
                sv.transcript
            ),
        };
        if args.rttm {
            eprintln!("{line}");
        } else {
            emit(format_args!("{line}"))?;
        }
    }
    if let Some(d) = scored {
        // On stderr with RTTM, so the RTTM stays a clean file.
        let line = format!(
            "DER {:.1} % (missed {:.1} %, false alarm {:.1} %, confusion {:.1} %), {} speakers",
            100.0 * d.rate(),
            100.0 * d.missed,
            100.0 * d.false_alarm,
            100.0 * d.confusion,
            names.len()
        );
        if args.rttm {
            eprintln!("{line}");
        } else {
            emit(format_args!("{line}"))?;
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum SpeakersCommand {
    /// Rename a speaker everywhere: the voice the library remembers (later recordings get the
    /// new name) and their segments in every transcript (a new version of each).
    Rename {
        #[arg(value_name = "OLD")]
        old: String,
        #[arg(value_name = "NEW")]
        new: String,
        /// Only in this transcript (a label such as SPEAKER_01 is a person of one recording:
        /// when several have it, say which).
        #[arg(long, value_name = "ID")]
        transcript: Option<i64>,
    },
    /// Merge speaker FROM into INTO everywhere: one person under two names becomes one (in the
    /// library and in every transcript, a new version of each).
    Merge {
        #[arg(value_name = "INTO")]
        into: String,
        #[arg(value_name = "FROM")]
        from: String,
        /// Only in this transcript.
        #[arg(long, value_name = "ID")]
        transcript: Option<i64>,
    },
}

/// `verbatim speakers`: the speakers the library remembers, with how much of their voice it
/// has heard; `rename` and `merge`.
pub(super) fn speakers(
    data: &DataDir,
    command: Option<SpeakersCommand>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    // A change of `from` to `to` (a rename or a merge) in one immediate transaction, then
    // what it did and the voice it remembered, when a label was named.
    let change = |from: &str,
                  to: &str,
                  what: String,
                  apply: &dyn Fn(&rusqlite::Connection) -> Result<sql::Changed, StorageError>|
     -> anyhow::Result<ExitCode> {
        let mut conn = crate::storage::open(&data.db_path())?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let c = apply(&tx)?;
        tx.commit()?;
        let learnt = learn_named(data, from, to, &c);
        let mut line = what;
        if !c.versions.is_empty() {
            let list: Vec<String> = c
                .versions
                .iter()
                .map(|(t, v)| format!("transcript {} version {v}", t.0))
                .collect();
            line.push_str(&format!(" (new versions: {})", list.join(", ")));
        }
        emit(format_args!("{}", super::terminal_safe(&line)))?;
        if let Some(line) = learnt {
            emit(format_args!("{}", super::terminal_safe(&line)))?;
        }
        Ok(ExitCode::SUCCESS)
    };
    match command {
        Some(SpeakersCommand::Rename {
            old,
            new,
            transcript,
        }) => {
            let scope = transcript.map(TranscriptId);
            return change(
                &old,
                new.trim(),
                format!("renamed {old} to {}", new.trim()),
                &|c| sql::rename_everywhere(c, &old, &new, scope, now_ms()),
            );
        }
        Some(SpeakersCommand::Merge {
            into,
            from,
            transcript,
        }) => {
            let scope = transcript.map(TranscriptId);
            return change(&from, &into, format!("merged {from} into {into}"), &|c| {
                sql::merge_everywhere(c, &into, &from, scope, now_ms())
            });
        }
        None => {}
    }
    #[derive(Serialize)]
    struct Row<'a> {
        name: &'a str,
        /// A label of this transcript only (`SPEAKER_01`: a different person in each).
        transcript: Option<TranscriptId>,
        recording: Option<&'a str>,
        /// Has a voiceprint: recognised in later recordings.
        remembered: bool,
        recordings: u32,
        transcripts: u32,
        /// Their segments' time in the current versions.
        speaking_s: f64,
        /// Voiceprint windows.
        windows: u32,
        /// Their longest segment.
        sample: Option<sql::Sample>,
    }
    let conn = crate::storage::open(&data.db_path())?;
    let all = sql::usage(&conn)?;
    let rows: Vec<Row<'_>> = all
        .iter()
        .map(|u| Row {
            name: &u.name,
            transcript: u.only_in,
            recording: u.recording.as_deref(),
            remembered: u.remembered,
            recordings: u.recordings,
            transcripts: u.transcripts,
            speaking_s: u.speaking_ms as f64 / 1000.0,
            windows: u.windows,
            sample: u.sample,
        })
        .collect();
    if json {
        emit(format_args!("{}", serde_json::to_string_pretty(&rows)?))?;
    } else if rows.is_empty() {
        emit(format_args!(
            "no speakers yet: `verbatim transcribe FILE --speakers auto` finds them, \
             `verbatim diarize FILE --name SPEAKER_01=Ann` names one"
        ))?;
    } else {
        for r in rows {
            let recordings = match r.recordings {
                1 => "1 recording".to_owned(),
                n => format!("{n} recordings"),
            };
            let name = match (r.transcript, r.recording) {
                (Some(t), Some(rec)) => format!("{} (transcript {}, {rec})", r.name, t.0),
                (Some(t), None) => format!("{} (transcript {})", r.name, t.0),
                _ => r.name.to_owned(),
            };
            emit(format_args!(
                "{}  {recordings}, {} speaking{}",
                super::terminal_safe(&name),
                crate::library::format_duration_ms((r.speaking_s * 1000.0) as u64),
                if r.remembered {
                    format!(", voice remembered ({} windows)", r.windows)
                } else {
                    String::new()
                }
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
