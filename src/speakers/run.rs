//! Diarization as the command line and the window run it: the speaker models from the models
//! folder, a file's speakers found and matched with the ones the library remembers, and a
//! transcript's segments given their speakers as a new version. Blocking work: callers run
//! it on their own thread (the window does, see `editor::speakers`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::campplus::CamPlus;
use super::diarize::{Speakers, Voice, diarize_voices};
use super::identity::{Recognised, recognise};
use super::segmentation::{SEGMENTATION_FILE, Segmentation};
use super::segmented::diarize_with_segmentation;
use super::{CAMPLUS_FILE, Progress, SpeakerError, Spooled, Turn, sql};
use crate::storage::StorageError;
use crate::storage::ids::TranscriptId;
use crate::transcribe::catalog;
use crate::transcript::Segment;
use crate::transcript::sql::{NewVersion, VersionSource};

/// The longest recording diarized without the segmentation model (the VAD reads the whole
/// file decoded as `f32`: 230 MB an hour). With the model a recording is kept on disk
/// ([`Spooled`]) and has no limit but the disk's.
pub const MAX_AUDIO_MINUTES: u64 = 60;

/// What goes wrong running a diarization, in words a user understands.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "the speaker model is not installed: run `verbatim models download campplus`, or put \
         {CAMPLUS_FILE} (3D-Speaker's CAM++, from ModelScope \
         iic/speech_campplus_sv_zh_en_16k-common_advanced) in {}",
        .0.display()
    )]
    NotInstalled(PathBuf),
    #[error(transparent)]
    Speaker(#[from] SpeakerError),
    #[error("cannot decode {}: {why}", path.display())]
    Decode { path: PathBuf, why: String },
    #[error(
        "{} is {minutes} minutes long; without the segmentation model diarization takes up to \
         {MAX_AUDIO_MINUTES} minutes: install it (`verbatim models download segmentation-3.0`) \
         or cut the recording into parts",
        path.display()
    )]
    TooLong { path: PathBuf, minutes: u64 },
    #[error("the Silero VAD model could not be installed in the models folder")]
    NoVad,
    #[error("{}: {why}", path.display())]
    Vad { path: PathBuf, why: String },
    #[error("this file has no speaker {label} (it has {have}): nothing was remembered")]
    NoSuchSpeaker { label: String, have: String },
    #[error("there is no transcript {0} in the library")]
    NoTranscript(i64),
    #[error("{0} speaks too little in this recording for their voice to be remembered")]
    TooLittleSpeech(String),
    #[error(
        "transcript {transcript} changed while its speakers were found (version {now} is \
         current now, not {base}): nothing was saved; run it again"
    )]
    Stale {
        transcript: i64,
        base: u32,
        now: u32,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<rusqlite::Error> for RunError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Storage(e.into())
    }
}

/// What found the speech of a diarization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    #[serde(rename = "segmentation-3.0")]
    Segmentation,
    #[serde(rename = "silero-vad")]
    Vad,
}

/// A diarization's result, with the remembered speakers' names on its turns and voices.
#[derive(Debug, Clone)]
pub struct Diarized {
    pub method: Method,
    pub turns: Vec<Turn>,
    /// Voices the library may know but that were not named: the user decides
    /// (label, name, similarity).
    pub offered: Vec<(String, String, f32)>,
    /// Voices remembered under the names given (label, name).
    pub remembered: Vec<(String, String)>,
    /// Said to the user beside the result (the segmentation model missing, say).
    pub note: Option<String>,
}

/// What diarizing a transcript saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedSpeakers {
    pub transcript: i64,
    /// The new version (none when every segment already had the speaker it was given).
    pub version: Option<u32>,
    pub segments: usize,
    /// Segments cut in two or more where the speaker changes.
    pub split: usize,
    /// The speakers the segments got, in order of appearance.
    pub speakers: Vec<String>,
}

/// The speaker models of `models`: CAM++ (required) and the segmentation model (used when
/// it is there).
pub fn load_models(models: &Path) -> Result<(CamPlus, Option<Segmentation>), RunError> {
    let model_path = models.join(CAMPLUS_FILE);
    if !model_path.is_file() {
        return Err(RunError::NotInstalled(models.to_path_buf()));
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

fn decode(file: &Path) -> Result<Vec<f32>, RunError> {
    crate::media::decode::read_all(file).map_err(|e| RunError::Decode {
        path: file.to_path_buf(),
        why: e.to_string(),
    })
}

/// `file` as 16-bit 16 kHz samples in a temporary file in `dir`, decoded a stretch at a time
/// (no copy of the whole recording is ever in memory).
fn decode_spooled(file: &Path, dir: &Path) -> Result<Spooled, RunError> {
    let failed = |e: crate::media::decode::AudioError| RunError::Decode {
        path: file.to_path_buf(),
        why: e.to_string(),
    };
    let mut pcm = crate::media::decode::Pcm16k::open(file).map_err(failed)?;
    let mut out = Spooled::new_in(dir)?;
    let mut chunk = Vec::with_capacity(1 << 16);
    loop {
        chunk.clear();
        if pcm.read(&mut chunk, 1 << 16).map_err(failed)? == 0 {
            return Ok(out);
        }
        out.extend_from(&chunk)?;
    }
}

/// Who spoke when in `file`: the speakers the library (`db`) remembers recognised, the
/// voices named in `names` (label, name) remembered.
pub fn diarize_file(
    models: &Path,
    db: &Path,
    file: &Path,
    speakers: Speakers,
    names: &[(String, String)],
    progress: &Progress,
) -> Result<Diarized, RunError> {
    let (model, seg) = load_models(models)?;
    // With the segmentation model, speech and overlaps are its; without, the VAD's speech.
    let (method, note, (mut turns, mut voices)) = match &seg {
        Some(seg) => {
            // Beside the library's database, on its disk (a temporary folder may be memory).
            let dir = db.parent().filter(|d| !d.as_os_str().is_empty());
            let audio = decode_spooled(file, dir.unwrap_or(Path::new(".")))?;
            (
                Method::Segmentation,
                None,
                diarize_with_segmentation(seg, &model, &audio, speakers, progress)?,
            )
        }
        None => {
            // The file's length before it is decoded whole: a recording far beyond what
            // is diarized this way is refused before it fills the memory.
            let expected = crate::media::decode::Pcm16k::open(file)
                .map_err(|e| RunError::Decode {
                    path: file.to_path_buf(),
                    why: e.to_string(),
                })?
                .expected_samples();
            if let Some(n) = expected
                && n > MAX_AUDIO_MINUTES * 60 * 16_000
            {
                return Err(RunError::TooLong {
                    path: file.to_path_buf(),
                    minutes: n / 16_000 / 60,
                });
            }
            let vad = catalog::default_vad(models).ok_or(RunError::NoVad)?;
            let audio = decode(file)?;
            let speech =
                crate::transcribe::engine::speech_regions(&vad, &audio, 2).map_err(|f| {
                    RunError::Vad {
                        path: file.to_path_buf(),
                        why: f.message,
                    }
                })?;
            (
                Method::Vad,
                Some(format!(
                    "the segmentation model is not installed (`verbatim models download \
                     segmentation-3.0`, or {SEGMENTATION_FILE} in {}): speech is found by the \
                     VAD and overlapped speech gets one speaker",
                    models.display()
                )),
                diarize_voices(&model, &audio, &speech, speakers, (progress, 0.2, 1.0))?,
            )
        }
    };
    // The speakers the library remembers, by voice.
    let conn = crate::storage::open(db)?;
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
    let remembered = remember(&conn, &voices, names)?;
    Ok(Diarized {
        method,
        turns,
        offered,
        remembered,
        note,
    })
}

/// The voices the user named, remembered (all or none: a name for a speaker this file does
/// not have is refused before anything is written).
fn remember(
    conn: &rusqlite::Connection,
    voices: &[Voice],
    names: &[(String, String)],
) -> Result<Vec<(String, String)>, RunError> {
    let mut chosen = Vec::new();
    for (speaker, name) in names {
        let Some(v) = voices.iter().find(|v| &v.speaker == speaker) else {
            let have: Vec<&str> = voices.iter().map(|v| v.speaker.as_str()).collect();
            return Err(RunError::NoSuchSpeaker {
                label: speaker.clone(),
                have: have.join(", "),
            });
        };
        chosen.push((v, name));
    }
    let tx = conn.unchecked_transaction()?;
    let mut done = Vec::new();
    for (v, name) in chosen {
        sql::remember(&tx, name, &v.mean, v.windows, crate::storage::now_ms())?;
        done.push((v.speaker.clone(), name.clone()));
    }
    tx.commit()?;
    Ok(done)
}

/// Who spoke when in transcript `t`'s audio, and its segments given their speakers as a new
/// version (source `edit`, author `diarization`), built on the version current when the
/// work began: if another version became current meanwhile, nothing is saved
/// ([`RunError::Stale`]: a user's words are never replaced by an older text).
pub fn diarize_transcript(
    data_root: &Path,
    models: &Path,
    db: &Path,
    t: TranscriptId,
    speakers: Speakers,
    names: &[(String, String)],
    progress: &Progress,
) -> Result<(Diarized, SavedSpeakers), RunError> {
    let conn = crate::storage::open(db)?;
    let row =
        crate::transcript::sql::get_transcript(&conn, t)?.ok_or(RunError::NoTranscript(t.0))?;
    let base =
        crate::transcript::sql::current_version(&conn, t)?.ok_or(RunError::NoTranscript(t.0))?;
    let segments: Vec<Segment> = crate::transcript::sql::segments(&conn, base.id)?
        .into_iter()
        .map(Into::into)
        .collect();
    drop(conn);
    let audio = data_root.join(&row.audio_path);
    let d = diarize_file(models, db, &audio, speakers, names, progress)?;
    let (with, split) = super::assign::assign(&segments, &d.turns);
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
    let mut conn = crate::storage::open(db)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now = crate::transcript::sql::current_version(&tx, t)?;
    if now.as_ref().map(|v| v.id) != Some(base.id) {
        return Err(RunError::Stale {
            transcript: t.0,
            base: base.number,
            now: now.map_or(0, |v| v.number),
        });
    }
    let mut version = NewVersion::new(VersionSource::Edit);
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
    let (_, number) =
        crate::transcript::sql::add_version(&tx, t, &version, &with, crate::storage::now_ms())?;
    tx.commit()?;
    saved.version = Some(number);
    Ok((d, saved))
}

/// Remembers `name`'s voice from their segments in the current version of transcript `t`
/// (the user named a speaker of that recording): CAM++ windows over those segments, their
/// mean added to `name`'s voiceprint (a new speaker, or the one of that name refined), so
/// that later recordings of the voice get the name. Returns how many windows it heard.
pub fn learn_voice(
    data_root: &Path,
    models: &Path,
    db: &Path,
    t: TranscriptId,
    name: &str,
) -> Result<u32, RunError> {
    let model_path = models.join(CAMPLUS_FILE);
    if !model_path.is_file() {
        return Err(RunError::NotInstalled(models.to_path_buf()));
    }
    let conn = crate::storage::open(db)?;
    let row =
        crate::transcript::sql::get_transcript(&conn, t)?.ok_or(RunError::NoTranscript(t.0))?;
    let current =
        crate::transcript::sql::current_version(&conn, t)?.ok_or(RunError::NoTranscript(t.0))?;
    let spans: Vec<(u64, u64)> = crate::transcript::sql::segments(&conn, current.id)?
        .into_iter()
        .map(Segment::from)
        .filter(|s| s.speaker.as_deref() == Some(name))
        .map(|s| (s.start_ms, s.end_ms))
        .collect();
    drop(conn);
    let model = CamPlus::load(&model_path)?;
    let audio = decode_spooled(&data_root.join(&row.audio_path), data_root)?;
    let windows =
        super::diarize::windows(&model, &audio, &spans, (&Progress::default(), 0.0, 1.0))?;
    if windows.is_empty() {
        return Err(RunError::TooLittleSpeech(name.to_owned()));
    }
    let mut mean = vec![0.0f32; super::campplus::DIM];
    for w in &windows {
        for (m, x) in mean.iter_mut().zip(&w.embedding) {
            *m += x;
        }
    }
    let n = windows.len() as u32;
    mean.iter_mut().for_each(|m| *m /= n as f32);
    let conn = crate::storage::open(db)?;
    sql::remember(&conn, name, &mean, n, crate::storage::now_ms())?;
    Ok(n)
}
