//! The models the window can use: the model files in the models folder (read off the frame,
//! on a thread), the one picked when the model asked for is not installed, and a download of
//! the recommended model with its progress.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bevy::prelude::*;
use crossbeam_channel::Receiver;

use super::{Level, UiState};
use crate::transcribe::TranscribeSettings;
use crate::transcribe::catalog::{self, Installed};
use crate::transcribe::download;

/// A download in progress.
pub struct ModelDownload {
    pub name: String,
    done: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    result: Receiver<Result<PathBuf, String>>,
}

impl ModelDownload {
    /// Bytes so far and in all (0: not known yet).
    pub fn progress(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

/// The installed models, as last read.
#[derive(Resource, Default)]
pub struct ModelShelf {
    pub installed: Vec<Installed>,
    /// The folder has been read at least once.
    pub scanned: bool,
    /// The CAM++ speaker model is in the folder (as last read).
    pub speaker_model: bool,
    scan: Option<Receiver<(Vec<Installed>, bool)>>,
    pub download: Option<ModelDownload>,
}

impl ModelShelf {
    /// Reads the models folder again, on a thread.
    pub fn rescan(&mut self, dir: PathBuf) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("verbatim-models".into())
            .spawn(move || {
                let speaker = dir.join(crate::speakers::CAMPLUS_FILE).is_file();
                let _ = tx.send((catalog::installed(&dir), speaker));
            });
        match spawned {
            Ok(_) => self.scan = Some(rx),
            Err(e) => tracing::warn!("cannot read the models folder: {e}"),
        }
    }

    /// Whether `model` (a name or a path) is one of the installed speech models.
    pub fn has(&self, model: &str) -> bool {
        self.installed
            .iter()
            .any(|m| !m.vad && (m.name == model || m.path == Path::new(model)))
    }

    /// The speech models.
    pub fn speech(&self) -> impl Iterator<Item = &Installed> {
        self.installed.iter().filter(|m| !m.vad)
    }

    pub fn busy(&self) -> bool {
        self.scan.is_some() || self.download.is_some()
    }

    /// Starts downloading a catalog model into `dir` (checksum verified, resumable).
    pub fn start_download(&mut self, name: &str, dir: &Path) -> Result<(), String> {
        let k = catalog::find(name).ok_or_else(|| format!("unknown model {name:?}"))?;
        let d = download::Download {
            url: catalog::download_url(k),
            dest: dir.join(k.file_name()),
            sha256: Some(k.sha256.to_string()),
            size: Some(k.size_bytes),
            check: download::Check::Ggml,
        };
        self.start(k.name, d)
    }

    /// Starts the download `d` of the model `name` on a thread of its own.
    pub fn start(&mut self, name: &str, d: download::Download) -> Result<(), String> {
        if self.download.is_some() {
            return Err("a model is downloading already".into());
        }
        let dir = d
            .dest
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let (done, total) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(d.size.unwrap_or(0))),
        );
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (d_done, d_total) = (Arc::clone(&done), Arc::clone(&total));
        std::thread::Builder::new()
            .name("verbatim-download".into())
            .spawn(move || {
                let result = std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))
                    .and_then(|()| {
                        download::download(&d, |now, all| {
                            d_done.store(now, Ordering::Relaxed);
                            if let Some(all) = all {
                                d_total.store(all, Ordering::Relaxed);
                            }
                        })
                        .map(|got| got.path)
                        .map_err(|e| e.to_string())
                    });
                let _ = tx.send(result);
            })
            .map_err(|e| format!("cannot start the download: {e}"))?;
        self.download = Some(ModelDownload {
            name: name.to_string(),
            done,
            total,
            result: rx,
        });
        Ok(())
    }
}

/// Reads the models folder at start.
pub fn scan_at_start(mut shelf: ResMut<ModelShelf>, settings: Res<TranscribeSettings>) {
    shelf.rescan(settings.models_dir.clone());
}

/// Takes what the scan and the download threads found. When the model new jobs would use is
/// not installed (a first run: the default `base` on a machine without it), the best
/// installed one is picked instead, and the user told.
pub fn update_shelf(
    mut shelf: ResMut<ModelShelf>,
    mut settings: ResMut<TranscribeSettings>,
    mut state: ResMut<UiState>,
) {
    if let Some(rx) = &shelf.scan
        && let Ok(found) = rx.try_recv()
    {
        shelf.scan = None;
        (shelf.installed, shelf.speaker_model) = found;
        shelf.scanned = true;
        let wanted = settings.default_model.clone();
        if !shelf.has(&wanted) && !Path::new(&wanted).is_file() {
            match catalog::pick(&shelf.installed, &wanted) {
                Some(m) => {
                    let name = m.name.clone();
                    state.notify_about(
                        super::Topic::Model,
                        Level::Info,
                        format!("Model {wanted} is not installed: using {name}"),
                    );
                    settings.default_model = name;
                }
                None => state.notify_about(
                    super::Topic::Model,
                    Level::Error,
                    format!(
                        "No speech model is installed yet: download {} under Transcription jobs \
                         (or `verbatim models download {}`)",
                        catalog::RECOMMENDED,
                        catalog::RECOMMENDED
                    ),
                ),
            }
        }
    }
    let finished = shelf
        .download
        .as_ref()
        .and_then(|d| d.result.try_recv().ok().map(|r| (d.name.clone(), r)));
    if let Some((name, result)) = finished {
        shelf.download = None;
        match result {
            Ok(path) => {
                state.notify_about(
                    super::Topic::Model,
                    Level::Info,
                    format!("Downloaded model {name} ({})", path.display()),
                );
                settings.default_model = name;
                let dir = settings.models_dir.clone();
                shelf.rescan(dir);
            }
            Err(e) => state.notify_about(
                super::Topic::Model,
                Level::Error,
                format!("Downloading {name} failed: {e}"),
            ),
        }
    }
}
