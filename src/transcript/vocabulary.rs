//! The library's vocabulary (migration 007): the names and terms users corrected in
//! transcripts or added, and the prompt they make for whisper. The transcript feature owns
//! this SQL; every statement is parameterized and cached.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::storage::StorageError;
use crate::storage::ids::TranscriptId;

/// A term of the library's vocabulary (migration 007).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VocabularyRow {
    pub term: String,
    /// `correction` or `user`.
    pub source: String,
    /// What the model had written, for a correction.
    pub replaced: Option<String>,
    pub transcript_id: Option<TranscriptId>,
    /// How often it was corrected (or added).
    pub times: u32,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Learns the corrections (`(what the model wrote, what the user wrote)`) made in
/// `transcript`: a new term is added, a known one counts once more (a hidden one stays
/// hidden). The number of corrections recorded.
pub fn learn_corrections(
    conn: &Connection,
    transcript: TranscriptId,
    corrections: &[(String, String)],
    now: i64,
) -> Result<usize, StorageError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO vocabulary (term, source, replaced, transcript_id, times, created_at, \
         updated_at) VALUES (?1, 'correction', ?2, ?3, 1, ?4, ?4) \
         ON CONFLICT (term) DO UPDATE SET times = times + 1, updated_at = excluded.updated_at, \
         replaced = coalesce(replaced, excluded.replaced)",
    )?;
    // Putting back what the model wrote, in place of a term learnt from it, is no new term.
    let mut undoes = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM vocabulary WHERE term = ?1 AND replaced = ?2)",
    )?;
    let mut n = 0;
    for (was, now_text) in corrections {
        // A correction that cannot be a term (too long, control characters) is not learnt.
        let Ok(term) = check_term(now_text) else {
            continue;
        };
        if term.is_empty()
            || undoes.query_row(params![was.trim(), term], |r| r.get::<_, bool>(0))?
        {
            continue;
        }
        n += stmt.execute(params![term, was.trim(), transcript, now])?;
    }
    Ok(n)
}

/// Adds terms by hand (a hidden one is shown again). The number added or shown again.
/// The longest vocabulary term (characters): a name or a phrase of a few words, which whisper
/// reads as two or three tokens a word.
pub const MAX_TERM_CHARS: usize = 64;

/// A vocabulary term as it will be kept (trimmed), or why it cannot be one: empty, too long,
/// or holding a control character (an escape sequence, a bell, a line break) that would reach
/// the terminal and whisper's prompt.
fn check_term(term: &str) -> Result<&str, String> {
    let t = term.trim();
    if t.is_empty() {
        return Err("an empty term".into());
    }
    if let Some(c) = t.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{:?} holds a control character (U+{:04X})",
            t.escape_debug().to_string(),
            u32::from(c)
        ));
    }
    let n = t.chars().count();
    if n > MAX_TERM_CHARS {
        return Err(format!(
            "a term of {n} characters (at most {MAX_TERM_CHARS}: a name or a short phrase)"
        ));
    }
    Ok(t)
}

/// Adds the user's terms (each checked by `check_term`; one that is not valid refuses
/// them all, so nothing half-done is kept). The number added.
pub fn add_terms(conn: &Connection, terms: &[String], now: i64) -> Result<usize, StorageError> {
    for t in terms {
        check_term(t).map_err(|e| StorageError::Invalid(format!("not a vocabulary term: {e}")))?;
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO vocabulary (term, source, created_at, updated_at) VALUES (?1, 'user', ?2, ?2) \
         ON CONFLICT (term) DO UPDATE SET hidden = 0, updated_at = excluded.updated_at \
         WHERE hidden = 1",
    )?;
    let mut n = 0;
    for t in terms.iter().filter_map(|t| check_term(t).ok()) {
        n += stmt.execute(params![t, now])?;
    }
    Ok(n)
}

/// Removes terms (case does not matter): a correction is kept hidden so the same correction
/// saved again does not bring it back. The number removed.
pub fn remove_terms(conn: &Connection, terms: &[String]) -> Result<usize, StorageError> {
    let mut hide = conn.prepare_cached(
        "UPDATE vocabulary SET hidden = 1 WHERE term = ?1 AND source = 'correction' AND hidden = 0",
    )?;
    let mut delete =
        conn.prepare_cached("DELETE FROM vocabulary WHERE term = ?1 AND source = 'user'")?;
    let mut n = 0;
    for t in terms.iter().map(|t| t.trim()) {
        n += hide.execute([t])? + delete.execute([t])?;
    }
    Ok(n)
}

/// The vocabulary the user sees (not the removed terms), most used first.
pub fn vocabulary(conn: &Connection) -> Result<Vec<VocabularyRow>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT term, source, replaced, transcript_id, times, created_at, updated_at \
         FROM vocabulary WHERE hidden = 0 ORDER BY times DESC, updated_at DESC, term",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(VocabularyRow {
            term: r.get(0)?,
            source: r.get(1)?,
            replaced: r.get(2)?,
            transcript_id: r.get(3)?,
            times: r.get(4)?,
            created_at: r.get(5)?,
            updated_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The vocabulary as whisper's initial prompt: the terms, most used first, joined by commas,
/// at most `max_chars` long (whisper keeps the last 224 prompt tokens). `None`: no terms.
pub fn vocabulary_prompt(
    conn: &Connection,
    max_chars: usize,
) -> Result<Option<String>, StorageError> {
    let mut prompt = String::new();
    for row in vocabulary(conn)? {
        // Terms kept before they were checked are checked here too; one that does not fit
        // is left out and the next ones still tried (one long term emptied the prompt).
        if check_term(&row.term).is_err() {
            continue;
        }
        let extra = if prompt.is_empty() { 0 } else { 2 };
        if prompt.len() + extra + row.term.len() + 1 > max_chars {
            continue;
        }
        if !prompt.is_empty() {
            prompt.push_str(", ");
        }
        prompt.push_str(&row.term);
    }
    Ok(if prompt.is_empty() {
        None
    } else {
        prompt.push('.');
        Some(prompt)
    })
}

#[cfg(test)]
mod tests {
    /// Issue 28, finding 8: terms with control characters were kept, printed raw and fed to
    /// whisper; one term over 400 characters emptied the prompt.
    #[test]
    fn vocabulary_terms_are_checked_and_the_prompt_takes_what_fits() {
        #![allow(clippy::unwrap_used)]
        let conn = crate::storage::open_in_memory().unwrap();
        for bad in [
            "\u{1b}[31mred",
            "bell\u{7}",
            "two\nlines",
            "   ",
            &"x".repeat(65),
        ] {
            let e = super::add_terms(&conn, &["Dashwood".into(), bad.to_string()], 1);
            assert!(e.is_err(), "{bad:?} was taken");
        }
        assert!(
            super::vocabulary(&conn).unwrap().is_empty(),
            "nothing half-added"
        );
        assert_eq!(
            super::add_terms(&conn, &[" Dashwood ".into(), "Norland Park".into()], 1).unwrap(),
            2
        );
        // A long term kept before terms were checked: left out, the others still prompt.
        conn.execute(
            "INSERT INTO vocabulary (term, source, times, created_at, updated_at) \
             VALUES (?1, 'user', 99, 0, 0)",
            [&"y".repeat(500)],
        )
        .unwrap();
        let p = super::vocabulary_prompt(&conn, 400).unwrap().unwrap();
        assert!(p.contains("Dashwood") && p.contains("Norland Park"), "{p}");
        assert!(p.len() <= 400);
    }
}
