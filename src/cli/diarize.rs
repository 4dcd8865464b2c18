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
        None => (diarize_file(data, &args.file, speakers, &names)?, None),
    };
    let scored = reference.as_deref().map(|r| der(r, &d.turns));
    print(&args, &d, saved.as_ref(), scored)?;
    Ok(ExitCode::SUCCESS)
}

/// A diarization's result, with the remembered speakers' names on its turns and voices.
pub(super) struct Diarized {
    method: Method,
    pub turns: Vec<Turn>,
    /// Voices the library may know but that were not named: the user decides.
    offered: Vec<(String, String, f32)>,
}

/// The speaker models of the models folder: CAM++ (required) and the segmentation model
/// (used when it is there).
fn load_models(data: &DataDir) -> anyhow::Result<(CamPlus, Option<Segmentation>)> {
    let models = catalog::models_dir(data.root());
    let model_path = models.join(CAMPLUS_FILE);
    if !model_path.is_file() {
        anyhow::bail!(
            "the speaker model is not installed: run `verbatim models download campplus`, or put \
             {CAMPLUS_FILE} (3D-Speaker's CAM++, from ModelScope \
             iic/speech_campplus_sv_zh_en_16k-common_advanced) in {}",
            models.display()
        );
    }
    let model = CamPlus::load(&model_path)?;
    let seg_path = models.join(SEGMENTATION_FILE);
    let seg = if seg_path.is_file() {
        Some(Segmentation::load(&seg_path)?)
    } else {
        None
    };
    Ok((model, seg))
}

/// Checks before any work that diarization can run: the speaker model is installed and
/// loads (for `transcribe --speakers`, before anything is transcribed).
pub(super) fn check_models(data: &DataDir) -> anyhow::Result<()> {
    load_models(data).map(|_| ())
}

/// Who spoke when in `file`: the remembered speakers recognised, the voices named in
/// `names` remembered.
fn diarize_file(
    data: &DataDir,
    file: &std::path::Path,
    speakers: Speakers,
    names: &[(String, String)],
) -> anyhow::Result<Diarized> {
    let (model, seg) = load_models(data)?;
    let models = catalog::models_dir(data.root());
    // The file's length before it is decoded whole: a recording far beyond what the
    // clustering takes is refused before it fills the memory.
    let expected = crate::media::decode::Pcm16k::open(file)
        .with_context(|| format!("cannot decode {}", file.display()))?
        .expected_samples();
    if let Some(n) = expected
        && n > MAX_AUDIO_MINUTES * 60 * 16_000
    {
        anyhow::bail!(
            "{} is {} minutes long; diarization takes up to {MAX_AUDIO_MINUTES} minutes yet: \
             cut it into parts",
            file.display(),
            n / 16_000 / 60
        );
    }
    // With the segmentation model, speech and overlaps are its; without, the VAD's speech.
    let (method, (mut turns, mut voices)) = match &seg {
        Some(seg) => {
            let audio = decode(file)?;
            (
                Method::Segmentation,
                diarize_with_segmentation(seg, &model, &audio, speakers)?,
            )
        }
        None => {
            eprintln!(
                "the segmentation model is not installed (`verbatim models download \
                 segmentation-3.0`, or {SEGMENTATION_FILE} in {}): speech is found by the VAD \
                 and overlapped speech gets one speaker",
                models.display()
            );
            let vad = catalog::default_vad(&models)
                .context("the Silero VAD model could not be installed in the models folder")?;
            let audio = decode(file)?;
            let speech = crate::transcribe::engine::speech_regions(&vad, &audio, 2)
                .map_err(|f| anyhow::anyhow!("{}: {}", file.display(), f.message))?;
            (
                Method::Vad,
                diarize_voices(&model, &audio, &speech, speakers)?,
            )
        }
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
    remember(&conn, &voices, names)?;
    Ok(Diarized {
        method,
        turns,
        offered,
    })
}

/// What diarizing a transcript saved.
#[derive(Debug, Serialize)]
pub(super) struct SavedSpeakers {
    pub transcript: i64,
    /// The new version (none when every segment already had the speaker it was given).
    pub version: Option<u32>,
    pub segments: usize,
    /// Segments cut in two or more where the speaker changes.
    pub split: usize,
    /// The speakers the segments got, in order of appearance.
    pub speakers: Vec<String>,
}

/// Who spoke when in transcript `t`'s audio, and its segments given their speakers as a new
/// version (source `edit`, author `diarization`), built on the version current when the
/// work began: if another version became current meanwhile, nothing is saved and the user
/// is told (their words are never replaced by an older text).
pub(super) fn diarize_transcript(
    data: &DataDir,
    t: crate::storage::ids::TranscriptId,
    speakers: Speakers,
    names: &[(String, String)],
) -> anyhow::Result<(Diarized, SavedSpeakers)> {
    let conn = crate::storage::open(&data.db_path())?;
    let row = crate::transcript::sql::get_transcript(&conn, t)?
        .with_context(|| format!("there is no transcript {} in the library", t.0))?;
    let base = crate::transcript::sql::current_version(&conn, t)?
        .with_context(|| format!("transcript {} has no version", t.0))?;
    let segments: Vec<crate::transcript::Segment> =
        crate::transcript::sql::segments(&conn, base.id)?
            .into_iter()
            .map(Into::into)
            .collect();
    drop(conn);
    let audio = data.root().join(&row.audio_path);
    let d = diarize_file(data, &audio, speakers, names)?;
    let (with, split) = crate::speakers::assign::assign(&segments, &d.turns);
    let mut found: Vec<String> = Vec::new();
    for s in &with {
        if let Some(w) = &s.speaker
            && !found.contains(w)
        {
            found.push(w.clone());
        }
    }
    let mut saved = SavedSpeakers {
        transcript: t.0,
        version: None,
        segments: with.len(),
        split,
        speakers: found,
    };
    if with == segments {
        return Ok((d, saved));
    }
    let mut conn = crate::storage::open(&data.db_path())?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now = crate::transcript::sql::current_version(&tx, t)?;
    if now.as_ref().map(|v| v.id) != Some(base.id) {
        anyhow::bail!(
            "transcript {} changed while its speakers were found (version {} is current now, \
             not {}): nothing was saved; run it again",
            t.0,
            now.map_or(0, |v| v.number),
            base.number
        );
    }
    let mut version =
        crate::transcript::sql::NewVersion::new(crate::transcript::sql::VersionSource::Edit);
    version.based_on = Some(base.id);
    version.author = Some("diarization".into());
    version.note = Some(format!(
        "speakers from {} and CAM++: {}",
        match d.method {
            Method::Segmentation => "segmentation-3.0",
            Method::Vad => "the VAD",
        },
        saved.speakers.join(", ")
    ));
    let (_, number) = crate::transcript::sql::add_version(&tx, t, &version, &with, now_ms())?;
    tx.commit()?;
    saved.version = Some(number);
    Ok((d, saved))
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
