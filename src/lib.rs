//! Verbatim: record, transcribe and edit speech.
//!
//! The app is a Bevy ECS world. [`CorePlugin`] holds everything that runs headless (storage,
//! library, import) and is what the CLI and the tests build; [`ui::UiPlugin`] adds the
//! window and the egui panels. A frame flows one way through the phases of [`schedule`].

pub mod build_info;
pub mod capture;
pub mod cli;
pub mod dsp;
pub mod editor;
pub mod headless;
pub mod library;
pub mod logging;
pub mod media;
pub mod paths;
pub mod playback;
pub mod schedule;
pub mod speakers;
pub mod storage;
pub mod transcribe;
pub mod transcript;
pub mod ui;

use std::sync::Mutex;

use bevy::prelude::*;

use crate::library::import::AudioStore;
use crate::storage::writer::DbWriter;

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
        schedule::configure(app);
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
