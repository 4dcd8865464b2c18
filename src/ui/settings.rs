//! Settings that stay: what the user chose in the window — the model, the GPU choice, the
//! vocabulary prompt, live transcription, the input device, the transcript last open — is
//! kept in `settings.json` in the data directory and applied at the next start (before the
//! command line's `--model` and `--live`, which win). The file is written whole, through a
//! temporary file and a rename, on a thread of its own whenever something in it changes; a
//! damaged file is set aside (`settings.json.bad`) and the defaults used, with a warning.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::capture::plugin::CaptureSettings;
use crate::transcribe::live::LiveSettings;
use crate::transcribe::{GpuPref, TranscribeSettings};

/// The file in the data directory.
pub const FILE: &str = "settings.json";

/// What is kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The model name or path new jobs use.
    pub model: Option<String>,
    pub gpu: GpuPref,
    /// New jobs are primed with the library's vocabulary.
    pub use_vocabulary: bool,
    /// Speakers are not found after each transcription (on unless switched off).
    pub no_speakers_after: bool,
    /// Live transcription while recording.
    pub live: bool,
    /// The input device (`None`: the system's default).
    pub input_device: Option<String>,
    /// The transcript open in the editor when the window closed.
    pub last_transcript: Option<i64>,
    /// The library sidebar was hidden.
    pub library_hidden: bool,
    /// The job list shown or hidden by the user (`None`: shown while work runs).
    pub jobs_list_shown: Option<bool>,
    /// The window's zoom (`None`: 100 %, on top of the display's own scale).
    pub ui_zoom: Option<f32>,
    /// The folder the file dialogs open in (the one used last).
    pub last_folder: Option<PathBuf>,
    /// The folders files were picked in lately, newest first (the dialogs list them).
    #[serde(default)]
    pub recent_folders: Vec<PathBuf>,
    /// The timeline does not follow the playhead while playing.
    pub no_follow: bool,
    /// The window's size in logical pixels (`None`: the default, 1280×800).
    pub window_size: Option<(u32, u32)>,
    /// The library sidebar's width (`None`: the default).
    pub library_width: Option<f32>,
}

impl Settings {
    /// The kept window size, if it is one a window can have.
    pub fn window(&self) -> Option<(u32, u32)> {
        self.window_size.filter(|s| super::window_size_ok(*s))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a settings file Verbatim can read ({source}); set aside as {bad}")]
    Damaged {
        path: PathBuf,
        bad: PathBuf,
        source: serde_json::Error,
    },
    /// Not a regular file (a FIFO, a device, a folder): never opened, so it cannot block.
    #[error("{path} is not a regular file ({what}); the default settings are used")]
    NotAFile { path: PathBuf, what: &'static str },
    #[error(
        "{path} is {size} bytes, more than a settings file ever holds; the default settings are used"
    )]
    TooBig { path: PathBuf, size: u64 },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The most a settings file may hold (it is a few hundred bytes).
const MAX_BYTES: u64 = 1024 * 1024;

/// The settings in `dir` (the defaults when there are none yet).
pub fn load(dir: &Path) -> Result<Settings, SettingsError> {
    let path = dir.join(FILE);
    // Looked at before it is opened: opening a FIFO blocks until a writer comes, and the
    // window would never open.
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
        Err(source) => return Err(SettingsError::Read { path, source }),
    };
    if !meta.is_file() {
        let what = crate::paths::file_kind(&meta);
        return Err(SettingsError::NotAFile { path, what });
    }
    if meta.len() > MAX_BYTES {
        return Err(SettingsError::TooBig {
            path,
            size: meta.len(),
        });
    }
    let mut text = String::new();
    let read = std::fs::File::open(&path).and_then(|f| {
        std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_BYTES), &mut text)
    });
    if let Err(source) = read {
        return Err(SettingsError::Read { path, source });
    }
    serde_json::from_str(&text).map_err(|source| {
        let bad = dir.join(format!("{FILE}.bad"));
        // Kept for the user to look at; a failed rename only means it is overwritten later.
        let _ = std::fs::rename(&path, &bad);
        SettingsError::Damaged { path, bad, source }
    })
}

/// Writes `settings` to `dir` atomically (a temporary file in the same folder, synced, then
/// renamed over the old one).
pub fn save(dir: &Path, settings: &Settings) -> Result<(), SettingsError> {
    let path = dir.join(FILE);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        let text = serde_json::to_string_pretty(settings).map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|source| SettingsError::Write {
        path: path.clone(),
        source,
    })
}

/// Where the settings go, the last version written, and the thread that writes them.
#[derive(Resource)]
pub struct SettingsStore {
    pub saved: Settings,
    /// The folder the settings file is in.
    pub dir: PathBuf,
    tx: crossbeam_channel::Sender<Settings>,
}

impl SettingsStore {
    /// Starts the writer thread for `dir`. Each write takes the newest settings queued.
    pub fn new(dir: PathBuf, loaded: Settings) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded::<Settings>();
        let folder = dir.clone();
        let spawned = std::thread::Builder::new()
            .name("verbatim-settings".into())
            .spawn(move || {
                while let Ok(mut s) = rx.recv() {
                    while let Ok(newer) = rx.try_recv() {
                        s = newer;
                    }
                    if let Err(e) = save(&dir, &s) {
                        tracing::warn!("{e}");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the settings writer: {e}; settings will not be kept");
        }
        Self {
            saved: loaded,
            dir: folder,
            tx,
        }
    }
}

/// Applies loaded settings to the app's resources (before the command line's overrides).
pub fn apply(world: &mut World, s: &Settings) {
    if let Some(mut t) = world.get_resource_mut::<TranscribeSettings>() {
        if let Some(m) = &s.model {
            t.default_model.clone_from(m);
        }
        t.gpu = s.gpu;
        t.params.use_vocabulary = s.use_vocabulary;
        t.speakers_after = !s.no_speakers_after;
    }
    if let Some(mut l) = world.get_resource_mut::<LiveSettings>() {
        l.enabled = s.live;
    }
    if let Some(mut c) = world.get_resource_mut::<CaptureSettings>() {
        c.device.clone_from(&s.input_device);
    }
    if let Some(mut ui) = world.get_resource_mut::<super::UiState>() {
        ui.layout.library_hidden = s.library_hidden;
        ui.jobs.list_shown = s.jobs_list_shown;
        ui.zoom = s.ui_zoom;
        ui.zoom_pending = s.ui_zoom.is_some();
        ui.editor.no_follow = s.no_follow;
        ui.layout.library_width = s
            .library_width
            .filter(|w| super::LIBRARY_WIDTHS.contains(w));
    }
    if let Some(mut d) = world.get_resource_mut::<super::dialogs::FileDialogs>() {
        d.last_folder.clone_from(&s.last_folder);
        d.recent = s.recent_folders.clone();
    }
}

/// What the kept settings are read from.
#[derive(bevy::ecs::system::SystemParam)]
pub struct Sources<'w, 's> {
    window: Query<'w, 's, Ref<'static, Window>, With<bevy::window::PrimaryWindow>>,
    transcribe: Res<'w, TranscribeSettings>,
    live: Res<'w, LiveSettings>,
    capture: Res<'w, CaptureSettings>,
    editor: Res<'w, crate::editor::Editor>,
    ui: Res<'w, super::UiState>,
    dialogs: Res<'w, super::dialogs::FileDialogs>,
}

impl Sources<'_, '_> {
    fn changed(&self) -> bool {
        self.window.iter().any(|w| w.is_changed())
            || self.transcribe.is_changed()
            || self.live.is_changed()
            || self.capture.is_changed()
            || self.editor.is_changed()
            || self.ui.is_changed()
            || self.dialogs.is_changed()
    }

    /// The settings as the app has them now.
    fn current(&self, before: &Settings, had_doc: bool) -> Settings {
        let (t, ui) = (&self.transcribe, &self.ui);
        Settings {
            model: Some(t.default_model.clone()),
            gpu: t.gpu,
            use_vocabulary: t.params.use_vocabulary,
            no_speakers_after: !t.speakers_after,
            live: self.live.enabled,
            input_device: self.capture.device.clone(),
            // Closing the editor forgets it; before one is open (at start), the last one stays.
            last_transcript: match &self.editor.doc {
                Some(d) => Some(d.transcript.id.0),
                None if had_doc => None,
                None => before.last_transcript,
            },
            library_hidden: ui.layout.library_hidden,
            jobs_list_shown: ui.jobs.list_shown,
            // Not yet given to egui: what was loaded still holds.
            ui_zoom: if ui.zoom_pending {
                before.ui_zoom
            } else {
                ui.zoom
            },
            last_folder: self.dialogs.last_folder.clone(),
            recent_folders: self.dialogs.recent.clone(),
            no_follow: ui.editor.no_follow,
            // Kept once it is not the default (a window that never opened keeps what was).
            window_size: match self.window.iter().next() {
                Some(w) => Some((
                    w.resolution.width().round() as u32,
                    w.resolution.height().round() as u32,
                ))
                .filter(|s| *s != super::WINDOW_SIZE),
                None => before.window_size,
            },
            library_width: ui.layout.library_width,
        }
    }
}

/// Queues a write when what is kept changed.
pub fn keep_settings(
    store: Option<ResMut<SettingsStore>>,
    sources: Sources,
    mut had_doc: Local<bool>,
) {
    let Some(mut store) = store else { return };
    let was_open = std::mem::replace(&mut *had_doc, sources.editor.doc.is_some());
    if !sources.changed() {
        return;
    }
    let now = sources.current(&store.saved, was_open);
    if now != store.saved {
        if store.tx.send(now.clone()).is_err() {
            tracing::warn!("the settings writer has stopped; settings are not kept");
        }
        store.saved = now;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Issue 28, finding 4: `settings.json` as a FIFO blocked the window before it opened
    /// anything. Anything but a regular file is refused without being opened, at once.
    #[test]
    fn a_settings_file_that_is_not_a_regular_file_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        if made.is_ok_and(|s| s.success()) {
            let (tx, rx) = std::sync::mpsc::channel();
            let d = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let _ = tx.send(load(&d).map_err(|e| e.to_string()));
            });
            let got = rx
                .recv_timeout(std::time::Duration::from_secs(5))
                .expect("load returns, it does not wait on the FIFO");
            let e = got.unwrap_err();
            assert!(
                e.contains("is not a regular file (a FIFO (named pipe))"),
                "{e}"
            );
            std::fs::remove_file(&path).unwrap();
        }
        std::fs::create_dir(&path).unwrap();
        assert!(matches!(
            load(dir.path()),
            Err(SettingsError::NotAFile { .. })
        ));
        std::fs::remove_dir(&path).unwrap();
        let big = std::fs::File::create(&path).unwrap();
        big.set_len(MAX_BYTES + 1).unwrap();
        assert!(matches!(
            load(dir.path()),
            Err(SettingsError::TooBig { .. })
        ));
    }

    #[test]
    fn settings_round_trip_and_a_damaged_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Settings::default());
        let s = Settings {
            model: Some("tiny.en".into()),
            gpu: GpuPref::Off,
            use_vocabulary: true,
            no_speakers_after: true,
            live: true,
            input_device: Some("pulse".into()),
            last_transcript: Some(7),
            library_hidden: true,
            jobs_list_shown: Some(false),
            ui_zoom: Some(1.25),
            last_folder: Some("/home/me/talks".into()),
            recent_folders: vec!["/home/me/talks".into(), "/home/me/Music".into()],
            no_follow: true,
            window_size: Some((1600, 1000)),
            library_width: Some(300.0),
        };
        save(dir.path(), &s).unwrap();
        assert_eq!(load(dir.path()).unwrap(), s);
        // A file from a newer or older build: unknown fields ignored, missing ones default.
        std::fs::write(dir.path().join(FILE), r#"{"live": true, "colour": "blue"}"#).unwrap();
        let partial = load(dir.path()).unwrap();
        assert!(partial.live && partial.model.is_none());
        std::fs::write(dir.path().join(FILE), "{ not json").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("set aside"), "{err}");
        assert!(dir.path().join("settings.json.bad").is_file());
        assert_eq!(load(dir.path()).unwrap(), Settings::default());
    }
}
