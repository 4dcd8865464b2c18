//! `verbatim diarize FILE`: who spoke when in an audio file, from the speech regions
//! transcription uses (Silero's and the loud stretches it missed) and
//! the CAM++ speaker model (placed in the models folder); turns as lines, RTTM or JSON, and
//! with `--reference` the diarization error rate against reference turns.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::emit;
use crate::paths::DataDir;
use crate::speakers::campplus::CamPlus;
use crate::speakers::der::der;
use crate::speakers::diarize::{MAX_SPEAKERS, Speakers, Voice, diarize_voices};
use crate::speakers::identity::{Recognised, recognise};
use crate::speakers::segmentation::{SEGMENTATION_FILE, Segmentation};
use crate::speakers::segmented::diarize_with_segmentation;
use crate::speakers::{CAMPLUS_FILE, Turn, read_rttm, sql};
use crate::storage::now_ms;
use crate::transcribe::catalog;
use crate::transcript::export::timestamp;

/// The longest recording `verbatim diarize` decodes (its speech is what the clustering
/// limit, `MAX_WINDOWS`, counts; silence is free).
const MAX_AUDIO_MINUTES: u64 = 60;

#[derive(Debug, Args)]
pub struct DiarizeArgs {
    /// The audio file (any format Verbatim imports).
    #[arg(value_name = "FILE")]
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

fn parse_speakers(s: &str) -> anyhow::Result<Speakers> {
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
    let meta = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if !meta.is_file() {
        anyhow::bail!(
            "{} is not a regular file (a folder, a pipe or a device)",
            args.file.display()
        );
    }
    let reference = match &args.reference {
        Some(p) => Some(read_rttm(&std::fs::read_to_string(p).with_context(
            || format!("cannot read the reference RTTM {}", p.display()),
        )?)?),
        None => None,
    };
    let models = catalog::models_dir(data.root());
    let model_path = models.join(CAMPLUS_FILE);
    if !model_path.is_file() {
        anyhow::bail!(
            "the speaker model is not installed: put {CAMPLUS_FILE} (3D-Speaker's CAM++, from \
             ModelScope iic/speech_campplus_sv_zh_en_16k-common_advanced) in {}",
            models.display()
        );
    }
    let model = CamPlus::load(&model_path)?;
    // The file's length before it is decoded whole: a recording far beyond what the
    // clustering takes is refused before it fills the memory.
    let expected = crate::media::decode::Pcm16k::open(&args.file)
        .with_context(|| format!("cannot decode {}", args.file.display()))?
        .expected_samples();
    if let Some(n) = expected
        && n > MAX_AUDIO_MINUTES * 60 * 16_000
    {
        anyhow::bail!(
            "{} is {} minutes long; diarization takes up to {MAX_AUDIO_MINUTES} minutes yet: \
             cut it into parts",
            args.file.display(),
            n / 16_000 / 60
        );
    }
    let names = parse_names(&args.names)?;
    // With the segmentation model, speech and overlaps are its; without, the VAD's speech.
    let seg_path = models.join(SEGMENTATION_FILE);
    let (method, (mut turns, mut voices)) = if seg_path.is_file() {
        let seg = Segmentation::load(&seg_path)?;
        let audio = decode(&args.file)?;
        (
            Method::Segmentation,
            diarize_with_segmentation(&seg, &model, &audio, speakers)?,
        )
    } else {
        eprintln!(
            "the segmentation model is not installed ({SEGMENTATION_FILE}, pyannote \
             segmentation-3.0 from Hugging Face, in {}): speech is found by the VAD and \
             overlapped speech gets one speaker",
            models.display()
        );
        let vad = catalog::default_vad(&models)
            .context("the Silero VAD model could not be installed in the models folder")?;
        let audio = decode(&args.file)?;
        let speech = crate::transcribe::engine::speech_regions(&vad, &audio, 2)
            .map_err(|f| anyhow::anyhow!("{}: {}", args.file.display(), f.message))?;
        (
            Method::Vad,
            diarize_voices(&model, &audio, &speech, speakers)?,
        )
    };
    // The speakers the library remembers, by voice.
    let conn = crate::storage::open(&data.db_path())?;
    let recognised = recognise(&voices, &sql::known(&conn)?);
    let mut offered = Vec::new();
    for (voice, r) in voices.iter_mut().zip(&recognised) {
        match r {
            Recognised::Known { name, .. } => {
                for t in turns.iter_mut().filter(|t| t.speaker == voice.speaker) {
                    t.speaker.clone_from(name);
                }
                voice.speaker.clone_from(name);
            }
            Recognised::Maybe { name, similarity } => {
                offered.push((voice.speaker.clone(), name.clone(), *similarity));
            }
            Recognised::New => {}
        }
    }
    remember(&conn, &voices, &names)?;
    let scored = reference.as_deref().map(|r| der(r, &turns));
    print(&args, method, &turns, &offered, scored)?;
    Ok(ExitCode::SUCCESS)
}

/// What found the speech of a diarization.
#[derive(Debug, Clone, Copy, Serialize)]
enum Method {
    #[serde(rename = "segmentation-3.0")]
    Segmentation,
    #[serde(rename = "silero-vad")]
    Vad,
}

/// The whole file, decoded to 16 kHz mono.
fn decode(file: &std::path::Path) -> anyhow::Result<Vec<f32>> {
    crate::media::decode::read_all(file)
        .with_context(|| format!("cannot decode {}", file.display()))
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

/// The voices the user named, remembered (all or none: a name for a speaker this file does
/// not have is refused before anything is written).
fn remember(
    conn: &rusqlite::Connection,
    voices: &[Voice],
    names: &[(String, String)],
) -> anyhow::Result<()> {
    let mut chosen = Vec::new();
    for (speaker, name) in names {
        let Some(v) = voices.iter().find(|v| &v.speaker == speaker) else {
            let have: Vec<&str> = voices.iter().map(|v| v.speaker.as_str()).collect();
            anyhow::bail!(
                "--name {speaker}={name}: this file has no speaker {speaker} (it has {})",
                have.join(", ")
            );
        };
        chosen.push((v, name));
    }
    let tx = conn.unchecked_transaction()?;
    for (v, name) in chosen {
        sql::remember(&tx, name, &v.mean, v.windows, now_ms())?;
        eprintln!("remembered {} as {name}", v.speaker);
    }
    tx.commit()?;
    Ok(())
}

fn print(
    args: &DiarizeArgs,
    method: Method,
    turns: &[Turn],
    offered: &[(String, String, f32)],
    scored: Option<crate::speakers::der::Der>,
) -> anyhow::Result<()> {
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
    /// Rename a remembered speaker (every later recording of that voice gets the new name).
    Rename {
        #[arg(value_name = "OLD")]
        old: String,
        #[arg(value_name = "NEW")]
        new: String,
    },
    /// Merge speaker FROM into INTO: one person remembered under two names becomes one.
    Merge {
        #[arg(value_name = "INTO")]
        into: String,
        #[arg(value_name = "FROM")]
        from: String,
    },
}

/// `verbatim speakers`: the speakers the library remembers, with how much of their voice it
/// has heard; `rename` and `merge`.
pub(super) fn speakers(
    data: &DataDir,
    command: Option<SpeakersCommand>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match command {
        Some(SpeakersCommand::Rename { old, new }) => {
            let conn = crate::storage::open(&data.db_path())?;
            sql::rename(&conn, &old, &new, now_ms())?;
            emit(format_args!("renamed {old} to {}", new.trim()))?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(SpeakersCommand::Merge { into, from }) => {
            let conn = crate::storage::open(&data.db_path())?;
            let tx = conn.unchecked_transaction()?;
            sql::merge(&tx, &into, &from, now_ms())?;
            tx.commit()?;
            emit(format_args!("merged {from} into {into}"))?;
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    #[derive(Serialize)]
    struct Row<'a> {
        name: &'a str,
        windows: u32,
        /// Speech the voiceprint was made from, roughly (windows every 0.75 s).
        speech_s: f64,
        updated_at: i64,
    }
    let conn = crate::storage::open(&data.db_path())?;
    let known = sql::known(&conn)?;
    let step_s = crate::speakers::diarize::STEP_MS as f64 / 1000.0;
    let rows: Vec<Row<'_>> = known
        .iter()
        .map(|k| Row {
            name: &k.name,
            windows: k.windows,
            speech_s: f64::from(k.windows) * step_s,
            updated_at: k.updated_at,
        })
        .collect();
    if json {
        emit(format_args!("{}", serde_json::to_string_pretty(&rows)?))?;
    } else if rows.is_empty() {
        emit(format_args!(
            "no speakers yet: `verbatim diarize FILE --name SPEAKER_01=Ann` names one"
        ))?;
    } else {
        for r in rows {
            emit(format_args!(
                "{}  (voiceprint from {} windows, about {:.0} s of speech)",
                super::terminal_safe(r.name),
                r.windows,
                r.speech_s
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
