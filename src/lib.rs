//! Verbatim: record, transcribe and edit speech.
//!
//! The app is a Bevy ECS world. [`CorePlugin`] holds everything that runs headless (storage,
//! library, import) and is what the CLI and the tests build; [`ui::UiPlugin`] adds the
//! window and the egui panels. A frame flows one way through [`AppSystems`], chained once here.

pub mod build_info;
pub mod capture;
pub mod cli;
pub mod dsp;
pub mod editor;
pub mod library;
pub mod logging;
pub mod media;
pub mod paths;
pub mod playback;
pub mod storage;
pub mod transcribe;
pub mod transcript;
pub mod ui;

use std::sync::Mutex;

use bevy::ecs::error::{BevyError, ErrorContext};
use bevy::prelude::*;

use crate::library::import::AudioStore;
use crate::storage::writer::DbWriter;

/// The order of a frame. Chained once, in [`CorePlugin`].
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppSystems {
    /// Drain queues: the audio ring, worker results, database replies (one system per queue).
    Ingest,
    /// Levels, spectrum and spectrogram columns, waveform peaks.
    Analyze,
    /// Start queued transcription jobs.
    Dispatch,
    /// Turn intents into domain changes.
    Apply,
    /// Send changed entities to the database writer, one batch per frame.
    Persist,
}

impl AppSystems {
    /// This phase's systems of one feature: within a phase the features run in
    /// [`Feature`]'s order, so no two systems touching the same data run in an undefined
    /// order (the ambiguity test in `tests/ecs.rs` holds this).
    pub fn of(self, feature: Feature) -> Step {
        Step(self, feature)
    }
}

/// The features of a frame; [`CorePlugin`] orders them within each phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    Playback,
    Capture,
    Library,
    Transcripts,
    Jobs,
    Live,
    Editor,
    Window,
    Storage,
}

/// One feature's systems in one phase ([`AppSystems::of`]).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step(pub AppSystems, pub Feature);

/// Everything that runs without a window, GPU, sound card or model.
pub struct CorePlugin {
    writer: Mutex<Option<DbWriter>>,
    store: AudioStore,
}

impl CorePlugin {
    /// `writer` owns the database; `store` is the audio store in the same data directory.
    pub fn new(writer: DbWriter, store: AudioStore) -> Self {
        Self {
            writer: Mutex::new(Some(writer)),
            store,
        }
    }
}

impl Plugin for CorePlugin {
    fn build(&self, app: &mut App) {
        let phases = [
            AppSystems::Ingest,
            AppSystems::Analyze,
            AppSystems::Dispatch,
            AppSystems::Apply,
            AppSystems::Persist,
        ];
        for pair in phases.windows(2) {
            app.configure_sets(Update, pair[1].after(pair[0]));
        }
        // Within each phase the features run in this order (a take stored by capture joins
        // the library, whose files transcripts and jobs link to, before live transcription
        // and the editor read them; the window, then the storage flush, come last).
        for phase in phases {
            use Feature::*;
            app.configure_sets(
                Update,
                (
                    phase.of(Playback),
                    phase.of(Capture),
                    phase.of(Library),
                    phase.of(Transcripts),
                    phase.of(Jobs),
                    phase.of(Live),
                    phase.of(Editor),
                    phase.of(Window),
                    phase.of(Storage),
                )
                    .chain()
                    .in_set(phase),
            );
        }
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        match writer {
            Some(writer) => {
                app.insert_resource(storage::plugin::Database::new(writer));
            }
            None => tracing::error!("CorePlugin was built twice; the second build has no database"),
        }
        app.add_plugins((
            storage::plugin::plugin,
            library::LibraryPlugin::new(self.store.clone()),
            capture::plugin::CapturePlugin {
                store: self.store.clone(),
            },
            transcribe::TranscribePlugin {
                store: self.store.clone(),
                worker: None,
            },
            transcribe::live::LivePlugin { worker: None },
            editor::EditorPlugin {
                store: self.store.clone(),
            },
        ));
    }
}

/// The whole workstation: [`CorePlugin`] plus the window and panels.
pub struct AppPlugin {
    pub core: CorePlugin,
    pub ui: ui::UiPlugin,
}

impl Plugin for AppPlugin {
    fn build(&self, app: &mut App) {
        self.core.build(app);
        self.ui.build(app);
    }
}

/// Errors that systems returned, for the UI to show (the handler itself has no world access).
static SYSTEM_ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Installs the app's error handler: a failing system is logged and reported to the user,
/// and the app keeps running. Call once per `App`.
pub fn install_error_handler(app: &mut App) {
    app.set_error_handler(report_system_error);
}

fn report_system_error(error: BevyError, ctx: ErrorContext) {
    let message = format!("{} failed: {error}", ctx.name());
    tracing::error!("{message}");
    if let Ok(mut errors) = SYSTEM_ERRORS.lock()
        && errors.len() < 100
    {
        errors.push(message);
    }
}

/// Takes the system errors reported since the last call.
pub fn take_system_errors() -> Vec<String> {
    SYSTEM_ERRORS
        .lock()
        .map(|mut e| std::mem::take(&mut *e))
        .unwrap_or_default()
}
