//! The speakers the library remembers: a name and a voiceprint (the mean of the unit
//! embeddings of every window the name was given to), matched against new recordings.

use rusqlite::{Connection, OptionalExtension, params};

use super::campplus::DIM;
use crate::storage::StorageError;

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
    if name.is_empty() || mean.len() != DIM || windows == 0 {
        return Err(StorageError::Invalid(
            "a speaker needs a name and a voiceprint".into(),
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
        return Err(StorageError::Invalid(
            "a speaker's name cannot be empty".into(),
        ));
    }
    if old != new && exists(conn, new)? {
        return Err(StorageError::Invalid(format!(
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
        return Err(StorageError::Invalid(
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
            Err(StorageError::Invalid(_))
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
}
