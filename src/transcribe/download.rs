//! Model downloads: HTTP(S), resumable, checksum-verified, with progress.
//!
//! The file grows as `<name>.part` next to its destination. An interrupted download resumes
//! with a `Range` request from the part's length (a server that ignores the range gets the
//! part restarted). The finished part is hashed (SHA-256 against the published value when
//! the model is known), checked as a model file ([`super::model_file`]) and only then
//! renamed into place, so a model file in the models folder is always whole.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::model_file;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("cannot reach {url}: {message}")]
    Http { url: String, message: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error(
        "{url} answered HTTP {status}: the repository is gated; accept its conditions on \
         huggingface.co while signed in, then set HF_TOKEN to one of your access tokens and run \
         the download again"
    )]
    Gated { url: String, status: u16 },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the download of {url} is corrupt: SHA-256 {actual}, expected {expected}; it was deleted, run the download again"
    )]
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("the download of {url} has {actual} bytes, expected {expected}")]
    Size {
        url: String,
        expected: u64,
        actual: u64,
    },
    #[error(
        "the download of {url} stalled: {what}; the {done} bytes received are kept, run the same command again to resume"
    )]
    Stalled {
        url: String,
        what: String,
        done: u64,
    },
    #[error(
        "the connection to {url} ended after {done} of {total} bytes; they are kept, run the same command again to resume"
    )]
    Incomplete { url: String, done: u64, total: u64 },
    #[error("the file from {url} is not a usable model, so it was deleted: {why}")]
    Model { url: String, why: String },
}

/// How long connecting may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// How long the server may send nothing (before the headers, or in the body) before the
/// download counts as stalled, unless `VERBATIM_DOWNLOAD_TIMEOUT` (seconds) says otherwise.
pub const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The stall timeout in force: [`READ_TIMEOUT`] or `VERBATIM_DOWNLOAD_TIMEOUT`.
pub fn read_timeout() -> std::time::Duration {
    std::env::var("VERBATIM_DOWNLOAD_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(READ_TIMEOUT, std::time::Duration::from_secs_f64)
}

/// The file name a URL's download gets: its last path segment, without query or fragment.
pub fn url_file_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let after_scheme = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, path) = after_scheme.split_once('/')?;
    let name = path.rsplit('/').next()?;
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 200
        && !name.chars().any(|c| c.is_control() || c == '\\');
    ok.then(|| name.to_owned())
}

/// What to fetch and what it must be.
#[derive(Debug, Clone)]
pub struct Download {
    pub url: String,
    pub dest: PathBuf,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// What the file must be before it takes its name.
    pub check: Check,
}

/// What a downloaded file is checked to be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Check {
    /// A ggml model (whisper or VAD), read as `models verify` reads it.
    #[default]
    Ggml,
    /// The CAM++ speaker model, loaded as diarization loads it.
    CamPlus,
    /// pyannote's segmentation model, loaded as diarization loads it.
    Segmentation,
}

/// How it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub path: PathBuf,
    pub bytes: u64,
    /// Bytes that were already there from an earlier, interrupted attempt.
    pub resumed_from: u64,
    pub sha256: String,
}

/// The partial file of a download.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Fetches `d`, calling `progress(done, total)` as bytes arrive.
pub fn download(
    d: &Download,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Downloaded, DownloadError> {
    let part = part_path(&d.dest);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DownloadError::Io {
            path: path.clone(),
            source,
        }
    };
    if let Some(dir) = d.dest.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    if d.size.is_some_and(|s| have > s) {
        have = 0;
    }
    let timeout = read_timeout();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(timeout))
        .build()
        .into();
    let mut req = agent.get(&d.url);
    // Hugging Face's gated repositories (pyannote's) answer a token of a user who accepted
    // their conditions.
    let hugging_face = d.url.starts_with("https://huggingface.co/");
    if hugging_face
        && let Ok(token) = std::env::var("HF_TOKEN")
        && !token.trim().is_empty()
    {
        req = req.header("Authorization", &format!("Bearer {}", token.trim()));
    }
    if have > 0 {
        req = req.header("Range", &format!("bytes={have}-"));
    }
    let stalled_after = |what: &str, done: u64| DownloadError::Stalled {
        url: d.url.clone(),
        what: format!("no {what} for {} s", timeout.as_secs_f64()),
        done,
    };
    let http = |e: ureq::Error| {
        let timed_out = matches!(&e, ureq::Error::Timeout(_))
            || matches!(&e, ureq::Error::Io(io) if stalled(io));
        if timed_out {
            stalled_after("answer", have)
        } else {
            DownloadError::Http {
                url: d.url.clone(),
                message: e.to_string(),
            }
        }
    };
    let mut resp = req.call().map_err(http)?;
    let status = resp.status().as_u16();
    let resumed_from = match status {
        206 => have,
        200 => 0,
        // The part is already complete (or the server cannot give more): check what we have.
        416 if have > 0 => have,
        401 | 403 if hugging_face => {
            return Err(DownloadError::Gated {
                url: d.url.clone(),
                status,
            });
        }
        s => {
            return Err(DownloadError::Status {
                url: d.url.clone(),
                status: s,
            });
        }
    };
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed_from > 0)
        .truncate(resumed_from == 0)
        .open(&part)
        .map_err(io(&part))?;
    let mut done = resumed_from;
    if status != 416 {
        let total = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(|n| n + resumed_from)
            .or(d.size);
        progress(done, total);
        let mut body = resp.body_mut().as_reader();
        let mut buf = vec![0u8; 1 << 16];
        let mut failed = None;
        loop {
            let n = match body.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            if n == 0 {
                break;
            }
            file.write_all(buf.get(..n).unwrap_or_default())
                .map_err(io(&part))?;
            done += n as u64;
            progress(done, total);
        }
        // What arrived is kept for the resume, whatever stopped the body.
        file.sync_all().map_err(io(&part))?;
        if let Some(e) = failed {
            return Err(if stalled(&e) {
                stalled_after("data", done)
            } else {
                DownloadError::Incomplete {
                    url: d.url.clone(),
                    done,
                    total: total.unwrap_or(done),
                }
            });
        }
        if let Some(t) = total
            && done < t
            && d.size.is_none()
        {
            return Err(DownloadError::Incomplete {
                url: d.url.clone(),
                done,
                total: t,
            });
        }
    }
    file.sync_all().map_err(io(&part))?;
    drop(file);

    let sha = check_arrived(d, &part, done)?;
    std::fs::rename(&part, &d.dest).map_err(io(&d.dest))?;
    Ok(Downloaded {
        path: d.dest.clone(),
        bytes: done,
        resumed_from,
        sha256: sha,
    })
}

/// What arrived, checked before it takes the model's name: its size, its SHA-256 (the
/// answer), and that it reads as a model. A file that fails is deleted (resuming cannot help),
/// except one that is short of its size.
fn check_arrived(d: &Download, part: &Path, done: u64) -> Result<String, DownloadError> {
    if let Some(size) = d.size
        && done != size
    {
        if done > size {
            let _ = std::fs::remove_file(part);
        }
        return Err(DownloadError::Size {
            url: d.url.clone(),
            expected: size,
            actual: done,
        });
    }
    let sha = sha256_file(part).map_err(|source| DownloadError::Io {
        path: part.to_path_buf(),
        source,
    })?;
    if let Some(expected) = &d.sha256
        && !expected.eq_ignore_ascii_case(&sha)
    {
        let _ = std::fs::remove_file(part);
        return Err(DownloadError::Checksum {
            url: d.url.clone(),
            expected: expected.clone(),
            actual: sha,
        });
    }
    let speaker = match d.check {
        Check::Ggml => None,
        Check::CamPlus => Some(crate::speakers::campplus::CamPlus::load(part).map(|_| ())),
        Check::Segmentation => {
            Some(crate::speakers::segmentation::Segmentation::load(part).map(|_| ()))
        }
    };
    if let Some(result) = speaker {
        return match result {
            Ok(()) => Ok(sha),
            Err(e) => {
                let _ = std::fs::remove_file(part);
                Err(DownloadError::Model {
                    url: d.url.clone(),
                    why: e.to_string(),
                })
            }
        };
    }
    if let Err(e) = model_file::inspect(part) {
        let _ = std::fs::remove_file(part);
        let why = match e {
            // The whole file arrived and is short: resuming cannot help.
            model_file::ModelFileError::Truncated {
                what,
                offset,
                needed,
                len,
                ..
            } => format!(
                "it is truncated ({what} needs {needed} bytes at offset {offset}, but the file has {len})"
            ),
            other => other.to_string(),
        };
        return Err(DownloadError::Model {
            url: d.url.clone(),
            why,
        });
    }
    Ok(sha)
}

/// Whether a read failed because the server sent nothing for too long (the socket's
/// timeout, or ureq's own timeout wrapped in the body reader's I/O error).
fn stalled(e: &std::io::Error) -> bool {
    let ureq_timeout = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<ureq::Error>())
        .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)));
    ureq_timeout
        || matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        )
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}
