//! The speakers the library remembers: a name and a voiceprint (the mean of the unit
//! embeddings of every window the name was given to), matched against new recordings.

use rusqlite::{Connection, OptionalExtension, params};

use super::campplus::DIM;
use crate::storage::StorageError;
use crate::storage::ids::TranscriptId;

/// A remembered speaker.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownSpeaker {
    pub id: i64,
    pub name: String,
    /// The mean of `windows` unit embeddings (not itself unit length).
    pub voiceprint: Vec<f32>,
    pub windows: u32,
    pub updated_at: i64,
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Every remembered speaker, by name.
pub fn known(conn: &Connection) -> Result<Vec<KnownSpeaker>, StorageError> {
    let mut st = conn
        .prepare("SELECT id, name, voiceprint, windows, updated_at FROM speakers ORDER BY name")?;
    let rows = st.query_map([], |r| {
        Ok(KnownSpeaker {
            id: r.get(0)?,
            name: r.get(1)?,
            voiceprint: from_blob(&r.get::<_, Vec<u8>>(2)?),
            windows: r.get(3)?,
            updated_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Gives `name` to a voice heard in `windows` windows with mean embedding `mean`: a new
/// speaker, or the one of that name with its voiceprint refined (the means weighted by their
/// windows).
pub fn remember(
    conn: &Connection,
    name: &str,
    mean: &[f32],
    windows: u32,
    now: i64,
) -> Result<(), StorageError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StorageError::Refused(
            "a speaker's name cannot be empty".into(),
        ));
    }
    if mean.len() != DIM || windows == 0 {
        return Err(StorageError::Invalid(
            "a speaker's voiceprint must be 192 values from at least one window".into(),
        ));
    }
    let old: Option<(Vec<u8>, u32)> = conn
        .query_row(
            "SELECT voiceprint, windows FROM speakers WHERE name = ?1",
            params![name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match old {
        None => {
            conn.execute(
                "INSERT INTO speakers (name, voiceprint, windows, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![name, to_blob(mean), windows, now],
            )?;
        }
        Some((blob, n)) => {
            let old = from_blob(&blob);
            let total = n + windows;
            let merged: Vec<f32> = old
                .iter()
                .zip(mean)
                .map(|(a, b)| (a * n as f32 + b * windows as f32) / total as f32)
                .collect();
            conn.execute(
                "UPDATE speakers SET voiceprint = ?2, windows = ?3, updated_at = ?4
                 WHERE name = ?1",
                params![name, to_blob(&merged), total, now],
            )?;
        }
    }
    Ok(())
}

/// Renames a remembered speaker (everywhere: the name is only kept here). A name already
/// taken, or an unknown speaker, is refused.
pub fn rename(conn: &Connection, old: &str, new: &str, now: i64) -> Result<(), StorageError> {
    let new = new.trim();
    if new.is_empty() {
        return Err(StorageError::Refused(
            "a speaker's name cannot be empty".into(),
        ));
    }
    if old != new && exists(conn, new)? {
        return Err(StorageError::Refused(format!(
            "there is already a speaker named {new:?} (merge the two instead)"
        )));
    }
    let n = conn.execute(
        "UPDATE speakers SET name = ?2, updated_at = ?3 WHERE name = ?1",
        params![old, new, now],
    )?;
    if n == 0 {
        return Err(StorageError::NotFound(format!("the speaker {old:?}")));
    }
    Ok(())
}

/// Merges speaker `from` into `into` (one person named twice): one voiceprint, the means
/// weighted by their windows; `from` is gone.
pub fn merge(conn: &Connection, into: &str, from: &str, now: i64) -> Result<(), StorageError> {
    if into == from {
        return Err(StorageError::Refused(
            "a speaker cannot be merged with itself".into(),
        ));
    }
    let get = |name: &str| -> Result<(Vec<f32>, u32), StorageError> {
        conn.query_row(
            "SELECT voiceprint, windows FROM speakers WHERE name = ?1",
            params![name],
            |r| Ok((from_blob(&r.get::<_, Vec<u8>>(0)?), r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| StorageError::NotFound(format!("the speaker {name:?}")))
    };
    let (from_print, from_windows) = get(from)?;
    get(into)?;
    remember(conn, into, &from_print, from_windows, now)?;
    conn.execute("DELETE FROM speakers WHERE name = ?1", params![from])?;
    Ok(())
}

/// Whether `name` is a label diarization gave (`SPEAKER_01`…): such a label names a voice
/// of one recording only (the same label in another recording is someone else), until the
/// user names them.
pub fn is_label(name: &str) -> bool {
    name.strip_prefix("SPEAKER_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A speaker as the library knows them: from its voiceprints (remembered speakers) and from
/// the current version of every transcript (names given to segments). A diarization label
/// (`SPEAKER_01`) is listed once per transcript: it is a different person in each.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpeakerUsage {
    pub name: String,
    /// A label of this transcript only (see [`is_label`]).
    pub only_in: Option<TranscriptId>,
    /// The recording's name, for a label.
    pub recording: Option<String>,
    /// Has a voiceprint: later recordings of this voice are recognised.
    pub remembered: bool,
    /// Voiceprint windows (0 when not remembered).
    pub windows: u32,
    /// Recordings (audio files) whose current transcript has segments of this speaker.
    pub recordings: u32,
    pub transcripts: u32,
    /// Their segments' time in those current versions.
    pub speaking_ms: u64,
    /// Their longest segment: where to hear them.
    pub sample: Option<Sample>,
}

/// A stretch of a transcript where one speaker talks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sample {
    pub transcript: TranscriptId,
    pub segment_index: usize,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// Every speaker: remembered ones and names on segments of current versions, by name
/// (case-insensitive), a label once per transcript that has it.
pub fn usage(conn: &Connection) -> Result<Vec<SpeakerUsage>, StorageError> {
    // One row per speaker and transcript; SQLite gives the bare columns of the row holding
    // MAX(): their longest segment there.
    let mut st = conn.prepare_cached(
        "SELECT s.speaker, t.id, t.audio_file_id, COALESCE(t.title, a.original_name), \
                SUM(s.end_ms - s.start_ms), MAX(s.end_ms - s.start_ms), s.idx, s.start_ms, \
                s.end_ms \
         FROM transcripts t JOIN segments s ON s.version_id = t.current_version_id \
         JOIN audio_files a ON a.id = t.audio_file_id \
         WHERE s.speaker IS NOT NULL AND length(trim(s.speaker)) > 0 \
         GROUP BY s.speaker, t.id ORDER BY t.id",
    )?;
    struct Part {
        name: String,
        transcript: TranscriptId,
        file: i64,
        title: Option<String>,
        total: i64,
        longest: i64,
        sample: Sample,
    }
    let parts = st.query_map([], |r| {
        let transcript = r.get(1)?;
        Ok(Part {
            name: r.get(0)?,
            transcript,
            file: r.get(2)?,
            title: r.get(3)?,
            total: r.get(4)?,
            longest: r.get(5)?,
            sample: Sample {
                transcript,
                segment_index: r.get::<_, i64>(6)?.max(0) as usize,
                start_ms: r.get(7)?,
                end_ms: r.get(8)?,
            },
        })
    })?;
    let mut all: Vec<(SpeakerUsage, Vec<i64>, i64)> = Vec::new();
    for p in parts {
        let p = p?;
        let label = is_label(&p.name);
        let at = all
            .iter()
            .position(|(u, _, _)| u.name == p.name && (!label || u.only_in == Some(p.transcript)));
        let (u, files, longest) = match at {
            Some(i) => &mut all[i],
            None => {
                all.push((
                    SpeakerUsage {
                        name: p.name.clone(),
                        only_in: label.then_some(p.transcript),
                        recording: if label { p.title.clone() } else { None },
                        remembered: false,
                        windows: 0,
                        recordings: 0,
                        transcripts: 0,
                        speaking_ms: 0,
                        sample: None,
                    },
                    Vec::new(),
                    -1,
                ));
                let n = all.len() - 1;
                &mut all[n]
            }
        };
        if !files.contains(&p.file) {
            files.push(p.file);
        }
        u.recordings = files.len() as u32;
        u.transcripts += 1;
        u.speaking_ms += p.total.max(0) as u64;
        if p.longest > *longest {
            *longest = p.longest;
            u.sample = Some(p.sample);
        }
    }
    let mut all: Vec<SpeakerUsage> = all.into_iter().map(|(u, _, _)| u).collect();
    for k in known(conn)? {
        match all
            .iter_mut()
            .find(|u| u.name == k.name && u.only_in.is_none())
        {
            Some(u) => {
                u.remembered = true;
                u.windows = k.windows;
            }
            None => all.push(SpeakerUsage {
                name: k.name,
                only_in: None,
                recording: None,
                remembered: true,
                windows: k.windows,
                recordings: 0,
                transcripts: 0,
                speaking_ms: 0,
                sample: None,
            }),
        }
    }
    // Names first (people), then the labels of each recording.
    all.sort_by(|a, b| {
        (a.only_in.is_some(), a.only_in)
            .cmp(&(b.only_in.is_some(), b.only_in))
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(all)
}

/// What a change of a speaker everywhere did: whether the library's voiceprint was
/// changed, and the new version of each transcript that had them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Changed {
    pub library: bool,
    /// (transcript, its new version's number).
    pub versions: Vec<(TranscriptId, u32)>,
}

/// Transcripts whose current version has segments of `name`.
fn transcripts_with(conn: &Connection, name: &str) -> Result<Vec<TranscriptId>, StorageError> {
    let mut st = conn.prepare_cached(
        "SELECT DISTINCT t.id FROM transcripts t \
         JOIN segments s ON s.version_id = t.current_version_id \
         WHERE s.speaker = ?1 ORDER BY t.id",
    )?;
    let ids = st.query_map(params![name], |r| r.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// Gives every segment of `from` in the current version of each of `transcripts` to `to`: a
/// new version of each (source `edit`, author `speakers`, built on the current one), as any
/// other edit of a transcript. Run it inside a transaction (the callers do).
fn rewrite_transcripts(
    conn: &Connection,
    transcripts: &[TranscriptId],
    (from, to): (&str, &str),
    note: &str,
    now: i64,
) -> Result<Vec<(TranscriptId, u32)>, StorageError> {
    use crate::transcript::sql as tsql;
    let mut out = Vec::new();
    for &t in transcripts {
        let Some(base) = tsql::current_version(conn, t)? else {
            continue;
        };
        let segments: Vec<crate::transcript::Segment> = tsql::segments(conn, base.id)?
            .into_iter()
            .map(|r| {
                let mut s: crate::transcript::Segment = r.into();
                if s.speaker.as_deref() == Some(from) {
                    s.speaker = Some(to.to_owned());
                }
                s
            })
            .collect();
        let mut v = tsql::NewVersion::new(tsql::VersionSource::Edit);
        v.based_on = Some(base.id);
        v.author = Some("speakers".into());
        v.note = Some(note.to_owned());
        let (_, number) = tsql::add_version(conn, t, &v, &segments, now)?;
        out.push((t, number));
    }
    Ok(out)
}

/// Where a change of `name` applies: the transcripts it is made in, and whether the
/// library's voiceprints take part (not when it is made in one transcript only). A label
/// (`SPEAKER_01`) is a person of one recording: without `scope`, it is refused when several
/// transcripts have it.
fn reach(
    conn: &Connection,
    name: &str,
    scope: Option<TranscriptId>,
) -> Result<(Vec<TranscriptId>, bool), StorageError> {
    let with = transcripts_with(conn, name)?;
    match scope {
        Some(t) if with.contains(&t) => Ok((vec![t], false)),
        Some(t) => Err(StorageError::NotFound(format!(
            "the speaker {name:?} in transcript {}",
            t.0
        ))),
        // A label of one recording: named there only (after anyone, known or not).
        None if is_label(name) && with.len() == 1 => Ok((with, false)),
        None if is_label(name) && with.len() > 1 => {
            let list: Vec<String> = with.iter().map(|t| t.0.to_string()).collect();
            Err(StorageError::Refused(format!(
                "{name} is a label of several recordings (transcripts {}), a different person \
                 in each: say which transcript (`--transcript ID` on the command line)",
                list.join(", ")
            )))
        }
        None if with.is_empty() && !exists(conn, name)? => {
            Err(StorageError::NotFound(format!("the speaker {name:?}")))
        }
        None => Ok((with, true)),
    }
}

/// Renames a speaker: everywhere (the library's voiceprint when remembered, and their
/// segments in the current version of every transcript, a new version each), or in one
/// transcript (`scope`: naming a label of a recording after a person, who may be known
/// already). A name another speaker already has where the change applies is refused (merge
/// the two instead), as is a name nobody has. Run it inside a transaction.
pub fn rename_everywhere(
    conn: &Connection,
    old: &str,
    new: &str,
    scope: Option<TranscriptId>,
    now: i64,
) -> Result<Changed, StorageError> {
    let new = new.trim();
    if new.is_empty() {
        return Err(StorageError::Refused(
            "a speaker's name cannot be empty".into(),
        ));
    }
    if new == old {
        return Ok(Changed::default());
    }
    let (transcripts, library) = reach(conn, old, scope)?;
    let taken = if library {
        exists(conn, new)? || !transcripts_with(conn, new)?.is_empty()
    } else {
        transcripts_with(conn, new)?
            .iter()
            .any(|t| transcripts.contains(t))
    };
    if taken {
        return Err(StorageError::Refused(format!(
            "there is already a speaker named {new:?} (merge the two instead)"
        )));
    }
    let library = library && exists(conn, old)?;
    if library {
        rename(conn, old, new, now)?;
    }
    let versions = rewrite_transcripts(
        conn,
        &transcripts,
        (old, new),
        &format!("{old} renamed {new}"),
        now,
    )?;
    Ok(Changed { library, versions })
}

/// Merges speaker `from` into `into` (one person under two names): everywhere, one
/// voiceprint (the means weighted by their windows; `from`'s alone becomes `into`'s) and
/// `from`'s segments in the current version of every transcript given to `into` (a new
/// version each); or in one transcript (`scope`). Run it inside a transaction.
pub fn merge_everywhere(
    conn: &Connection,
    into: &str,
    from: &str,
    scope: Option<TranscriptId>,
    now: i64,
) -> Result<Changed, StorageError> {
    if into == from {
        return Err(StorageError::Refused(
            "a speaker cannot be merged with itself".into(),
        ));
    }
    let (transcripts, library) = reach(conn, from, scope)?;
    if library && !exists(conn, into)? && transcripts_with(conn, into)?.is_empty() {
        return Err(StorageError::NotFound(format!("the speaker {into:?}")));
    }
    let library = library
        && match (exists(conn, into)?, exists(conn, from)?) {
            (true, true) => {
                merge(conn, into, from, now)?;
                true
            }
            (false, true) => {
                rename(conn, from, into, now)?;
                true
            }
            _ => false,
        };
    let versions = rewrite_transcripts(
        conn,
        &transcripts,
        (from, into),
        &format!("{from} merged into {into}"),
        now,
    )?;
    Ok(Changed { library, versions })
}

fn exists(conn: &Connection, name: &str) -> Result<bool, StorageError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM speakers WHERE name = ?1",
            params![name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    #[test]
    fn a_speaker_is_remembered_and_refined() {
        let conn = crate::storage::open_in_memory().unwrap();
        let a = vec![1.0; DIM];
        let b = vec![0.0; DIM];
        remember(&conn, " Ann ", &a, 3, 10).unwrap();
        remember(&conn, "Ann", &b, 1, 20).unwrap();
        let k = known(&conn).unwrap();
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].name, "Ann");
        assert_eq!(k[0].windows, 4);
        assert!((k[0].voiceprint[0] - 0.75).abs() < 1e-6);
        assert_eq!(k[0].updated_at, 20);
        assert!(remember(&conn, "  ", &a, 1, 0).is_err());
        assert!(remember(&conn, "Bob", &a[..10], 1, 0).is_err());
    }

    #[test]
    fn speakers_are_renamed_and_merged() {
        let conn = crate::storage::open_in_memory().unwrap();
        remember(&conn, "Ann", &vec![1.0; DIM], 3, 1).unwrap();
        remember(&conn, "A. N.", &vec![0.0; DIM], 1, 1).unwrap();
        remember(&conn, "Bob", &vec![0.5; DIM], 2, 1).unwrap();
        assert!(matches!(
            rename(&conn, "Bob", "Ann", 2),
            Err(StorageError::Refused(_))
        ));
        assert!(matches!(
            rename(&conn, "Nobody", "Zed", 2),
            Err(StorageError::NotFound(_))
        ));
        rename(&conn, "Bob", "Robert", 2).unwrap();
        merge(&conn, "Ann", "A. N.", 3).unwrap();
        let k = known(&conn).unwrap();
        let names: Vec<&str> = k.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Ann", "Robert"]);
        assert_eq!(k[0].windows, 4);
        assert!((k[0].voiceprint[0] - 0.75).abs() < 1e-6);
        assert!(merge(&conn, "Ann", "Ann", 4).is_err());
        assert!(matches!(
            merge(&conn, "Ann", "Nobody", 4),
            Err(StorageError::NotFound(_))
        ));
    }

    /// A transcript of a new audio file (its hash from `n`) whose segments are said by
    /// `who` (one second each).
    fn transcript_of(conn: &Connection, n: u8, who: &[Option<&str>]) -> TranscriptId {
        use crate::transcript::sql::{NewVersion, VersionSource};
        let (file, _) = crate::library::sql::insert_audio_file(
            conn,
            &crate::library::sql::NewAudioFile {
                sha256: format!("{n:02x}").repeat(32),
                original_name: format!("{n}.wav"),
                original_path: None,
                stored_path: format!("audio/{n}.wav"),
                size_bytes: 64_044,
                container: "wav".into(),
                codec: "pcm_s16le".into(),
                duration_ms: 60_000,
                sample_rate: 16_000,
                channels: 1,
            },
            0,
        )
        .unwrap();
        let segs: Vec<crate::transcript::Segment> = who
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let a = i as u64 * 1_000;
                let mut s = crate::transcript::Segment::new(a, a + 900 + i as u64, format!("s{i}"));
                s.speaker = w.map(str::to_owned);
                s
            })
            .collect();
        crate::transcript::sql::create_transcript(
            conn,
            file.id,
            None,
            None,
            &NewVersion::new(VersionSource::Model),
            &segs,
            0,
        )
        .unwrap()
        .0
    }

    fn speakers_of(conn: &Connection, t: TranscriptId) -> Vec<Option<String>> {
        let v = crate::transcript::sql::current_version(conn, t)
            .unwrap()
            .unwrap();
        crate::transcript::sql::segments(conn, v.id)
            .unwrap()
            .into_iter()
            .map(|r| crate::transcript::Segment::from(r).speaker)
            .collect()
    }

    #[test]
    fn usage_counts_recordings_and_time_from_current_versions_and_the_library() {
        let mut conn = crate::storage::open_in_memory().unwrap();
        let conn = conn.transaction().unwrap();
        let a = transcript_of(
            &conn,
            1,
            &[
                Some("Ann"),
                Some("Bo"),
                Some("Ann"),
                None,
                Some("SPEAKER_01"),
            ],
        );
        let b = transcript_of(&conn, 2, &[Some("Ann"), Some("  "), Some("SPEAKER_01")]);
        remember(&conn, "Cy", &vec![1.0; DIM], 2, 1).unwrap();
        remember(&conn, "Ann", &vec![1.0; DIM], 5, 1).unwrap();
        let u = usage(&conn).unwrap();
        let names: Vec<(&str, Option<TranscriptId>)> =
            u.iter().map(|s| (s.name.as_str(), s.only_in)).collect();
        // People first; a label once per recording (a different person in each).
        assert_eq!(
            names,
            [
                ("Ann", None),
                ("Bo", None),
                ("Cy", None),
                ("SPEAKER_01", Some(a)),
                ("SPEAKER_01", Some(b))
            ]
        );
        assert_eq!((u[0].recordings, u[0].transcripts), (2, 2));
        // 900 + 902 in the first, 900 in the second.
        assert_eq!(u[0].speaking_ms, 2_702);
        assert!(u[0].remembered);
        assert_eq!(u[0].windows, 5);
        // Her longest segment is where to hear her.
        assert_eq!(
            u[0].sample,
            Some(Sample {
                transcript: a,
                segment_index: 2,
                start_ms: 2_000,
                end_ms: 2_902
            })
        );
        assert_eq!(
            (u[1].recordings, u[1].speaking_ms, u[1].remembered),
            (1, 901, false)
        );
        assert_eq!(
            (u[2].recordings, u[2].sample, u[2].remembered),
            (0, None, true)
        );
        assert_eq!((u[3].recordings, u[3].speaking_ms), (1, 904));
        assert_eq!(u[3].recording.as_deref(), Some("1.wav"));
        assert_eq!(u[4].sample.map(|s| s.transcript), Some(b));
        assert!(is_label("SPEAKER_07") && !is_label("SPEAKER_") && !is_label("Speaker 1"));
    }

    #[test]
    fn renaming_and_merging_everywhere_make_new_versions_of_each_transcript() {
        let mut conn = crate::storage::open_in_memory().unwrap();
        let conn = conn.transaction().unwrap();
        let a = transcript_of(
            &conn,
            1,
            &[Some("SPEAKER_01"), Some("Bo"), Some("SPEAKER_01")],
        );
        let b = transcript_of(&conn, 2, &[Some("Bo"), None]);
        let c = transcript_of(&conn, 3, &[Some("Cy")]);
        remember(&conn, "Bo", &vec![1.0; DIM], 2, 1).unwrap();
        // Taken names, unknown speakers and empty names are refused; nothing changes.
        for (old, new) in [("SPEAKER_01", "Bo"), ("Bo", "Cy"), ("Nobody", "Zed")] {
            assert!(
                rename_everywhere(&conn, old, new, None, 2).is_err(),
                "{old} -> {new}"
            );
        }
        assert!(rename_everywhere(&conn, "Bo", " ", None, 2).is_err());
        assert!(rename_everywhere(&conn, "Cy", "Zed", Some(a), 2).is_err());
        assert_eq!(usage(&conn).unwrap().len(), 3);
        // A label of one recording: renamed in the transcript that has it.
        let r = rename_everywhere(&conn, "SPEAKER_01", " Ann ", None, 2).unwrap();
        assert_eq!(
            r,
            Changed {
                library: false,
                versions: vec![(a, 2)]
            }
        );
        let ann = Some("Ann".to_owned());
        let bo = Some("Bo".to_owned());
        assert_eq!(
            speakers_of(&conn, a),
            [ann.clone(), bo.clone(), ann.clone()]
        );
        let v2 = crate::transcript::sql::current_version(&conn, a)
            .unwrap()
            .unwrap();
        assert_eq!(v2.author.as_deref(), Some("speakers"));
        assert_eq!(v2.note.as_deref(), Some("SPEAKER_01 renamed Ann"));
        assert!(v2.based_on.is_some());
        // A remembered speaker: the library and both transcripts.
        let r = rename_everywhere(&conn, "Bo", "Robert", None, 3).unwrap();
        assert_eq!(
            r,
            Changed {
                library: true,
                versions: vec![(a, 3), (b, 2)]
            }
        );
        assert_eq!(known(&conn).unwrap()[0].name, "Robert");
        assert_eq!(speakers_of(&conn, b), [Some("Robert".to_owned()), None]);
        // Merged: Cy's segments are Robert's; Cy was not remembered, so the library keeps
        // Robert's voiceprint alone.
        let r = merge_everywhere(&conn, "Robert", "Cy", None, 4).unwrap();
        assert_eq!(
            r,
            Changed {
                library: false,
                versions: vec![(c, 2)]
            }
        );
        assert_eq!(speakers_of(&conn, c), [Some("Robert".to_owned())]);
        assert!(merge_everywhere(&conn, "Robert", "Robert", None, 5).is_err());
        assert!(merge_everywhere(&conn, "Robert", "Cy", None, 5).is_err());
        // The old versions are untouched.
        let v1 = crate::transcript::sql::version_by_number(&conn, a, 1)
            .unwrap()
            .unwrap();
        let first: Vec<Option<String>> = crate::transcript::sql::segments(&conn, v1.id)
            .unwrap()
            .into_iter()
            .map(|r| crate::transcript::Segment::from(r).speaker)
            .collect();
        assert_eq!(first[0].as_deref(), Some("SPEAKER_01"));
        let names: Vec<String> = usage(&conn).unwrap().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["Ann", "Robert"]);
    }

    #[test]
    fn a_label_is_a_person_of_one_recording() {
        let mut conn = crate::storage::open_in_memory().unwrap();
        let conn = conn.transaction().unwrap();
        let a = transcript_of(&conn, 1, &[Some("SPEAKER_01"), Some("SPEAKER_02")]);
        let b = transcript_of(&conn, 2, &[Some("SPEAKER_01"), Some("Maeve")]);
        remember(&conn, "Maeve", &vec![1.0; DIM], 2, 1).unwrap();
        // SPEAKER_01 is someone else in each recording: which one must be said.
        let e = rename_everywhere(&conn, "SPEAKER_01", "Ed", None, 2).unwrap_err();
        assert!(e.to_string().contains("transcripts 1, 2"), "{e}");
        assert!(merge_everywhere(&conn, "Maeve", "SPEAKER_01", None, 2).is_err());
        // Named after a known person in one recording: that recording only, the library's
        // Maeve untouched.
        let r = rename_everywhere(&conn, "SPEAKER_01", "Maeve", Some(a), 2).unwrap();
        assert_eq!(
            r,
            Changed {
                library: false,
                versions: vec![(a, 2)]
            }
        );
        assert_eq!(speakers_of(&conn, b)[0].as_deref(), Some("SPEAKER_01"));
        // Where Maeve already speaks, a rename to her is refused; a merge into her is one.
        assert!(rename_everywhere(&conn, "SPEAKER_01", "Maeve", Some(b), 3).is_err());
        let r = merge_everywhere(&conn, "Maeve", "SPEAKER_01", Some(b), 3).unwrap();
        assert_eq!(
            r,
            Changed {
                library: false,
                versions: vec![(b, 2)]
            }
        );
        assert_eq!(
            speakers_of(&conn, b),
            [Some("Maeve".to_owned()), Some("Maeve".to_owned())]
        );
        let k = known(&conn).unwrap();
        assert_eq!((k.len(), k[0].windows), (1, 2));
        // A label merged into another of its recording.
        let r = merge_everywhere(&conn, "Maeve", "SPEAKER_02", Some(a), 4).unwrap();
        assert_eq!(r.versions, [(a, 3)]);
        assert!(merge_everywhere(&conn, "Maeve", "SPEAKER_02", Some(b), 4).is_err());
        let u = usage(&conn).unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!((u[0].name.as_str(), u[0].recordings), ("Maeve", 2));
    }
}
