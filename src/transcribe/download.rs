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
    #[error("the downloaded file is not a usable model: {0}")]
    Model(#[from] model_file::ModelFileError),
}

/// What to fetch and what it must be.
#[derive(Debug, Clone)]
pub struct Download {
    pub url: String,
    pub dest: PathBuf,
    pub sha256: Option<String>,
    pub size: Option<u64>,
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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(&d.url);
    if have > 0 {
        req = req.header("Range", &format!("bytes={have}-"));
    }
    let http = |e: ureq::Error| DownloadError::Http {
        url: d.url.clone(),
        message: e.to_string(),
    };
    let mut resp = req.call().map_err(http)?;
    let status = resp.status().as_u16();
    let resumed_from = match status {
        206 => have,
        200 => 0,
        // The part is already complete (or the server cannot give more): check what we have.
        416 if have > 0 => have,
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
        loop {
            let n = body.read(&mut buf).map_err(|e| DownloadError::Http {
                url: d.url.clone(),
                message: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n]).map_err(io(&part))?;
            done += n as u64;
            progress(done, total);
        }
    }
    file.sync_all().map_err(io(&part))?;
    drop(file);

    if let Some(size) = d.size
        && done != size
    {
        if done > size {
            let _ = std::fs::remove_file(&part);
        }
        return Err(DownloadError::Size {
            url: d.url.clone(),
            expected: size,
            actual: done,
        });
    }
    let sha = sha256_file(&part).map_err(io(&part))?;
    if let Some(expected) = &d.sha256
        && !expected.eq_ignore_ascii_case(&sha)
    {
        let _ = std::fs::remove_file(&part);
        return Err(DownloadError::Checksum {
            url: d.url.clone(),
            expected: expected.clone(),
            actual: sha,
        });
    }
    if let Err(e) = model_file::inspect(&part) {
        let _ = std::fs::remove_file(&part);
        return Err(e.into());
    }
    std::fs::rename(&part, &d.dest).map_err(io(&d.dest))?;
    Ok(Downloaded {
        path: d.dest.clone(),
        bytes: done,
        resumed_from,
        sha256: sha,
    })
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
