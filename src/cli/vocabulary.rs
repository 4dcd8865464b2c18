//! `verbatim vocabulary`: the library's list of terms (names, acronyms, numbers) learnt from
//! the words users corrected in transcripts, or added by hand; `--vocabulary` on transcribe
//! and retranscribe primes whisper with them.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use crate::paths::DataDir;
use crate::storage::now_ms;
use crate::transcript::vocabulary;

#[derive(Debug, Subcommand)]
pub enum VocabularyCommand {
    /// Add terms (quote a term of several words).
    Add {
        #[arg(value_name = "TERM", required = true)]
        terms: Vec<String>,
    },
    /// Remove terms (a learnt correction stays removed when it is made again).
    Remove {
        #[arg(value_name = "TERM", required = true)]
        terms: Vec<String>,
    },
    /// The prompt a job with --vocabulary gets.
    Prompt,
}

pub(super) fn vocabulary(
    data: &DataDir,
    command: Option<VocabularyCommand>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let conn = crate::storage::open(&data.db_path())?;
    let mut out = std::io::stdout().lock();
    match command {
        Some(VocabularyCommand::Add { terms }) => {
            let n = vocabulary::add_terms(&conn, &terms, now_ms())?;
            writeln!(out, "{n} term(s) added")?;
        }
        Some(VocabularyCommand::Remove { terms }) => {
            let n = vocabulary::remove_terms(&conn, &terms)?;
            writeln!(out, "{n} term(s) removed")?;
            if n < terms.len() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Some(VocabularyCommand::Prompt) => {
            let prompt = vocabulary::vocabulary_prompt(&conn, 400)?;
            if json {
                writeln!(out, "{}", serde_json::json!({ "prompt": prompt }))?;
            } else {
                writeln!(
                    out,
                    "{}",
                    super::terminal_safe(prompt.as_deref().unwrap_or("(no terms)"))
                )?;
            }
        }
        None => {
            let rows = vocabulary::vocabulary(&conn)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else if rows.is_empty() {
                writeln!(
                    out,
                    "The vocabulary is empty: correct a name in a transcript and save, or \
                     `verbatim vocabulary add TERM`."
                )?;
            } else {
                writeln!(out, "{:<28} {:<10} {:>5}  was", "term", "source", "times")?;
                for r in rows {
                    // Terms kept before they were checked may hold control characters: they
                    // are shown escaped, never sent to the terminal as they are.
                    writeln!(
                        out,
                        "{:<28} {:<10} {:>5}  {}",
                        super::terminal_safe(&r.term),
                        r.source,
                        r.times,
                        super::terminal_safe(r.replaced.as_deref().unwrap_or("-"))
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
