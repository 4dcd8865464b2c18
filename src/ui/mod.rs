//! The window: bevy_egui panels over the ECS. Panels are plain functions of a view, the
//! [`UiState`] and an intent list, so they can be tested without Bevy; the systems here build
//! the views, call the panels and turn intents into messages. The UI never mutates domain
//! components.

pub mod library_panel;
pub mod screenshot;
pub mod status_bar;

use std::collections::VecDeque;
use std::path::PathBuf;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::window::{FileDragAndDrop, RequestRedraw};
use bevy::winit::WinitSettings;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};

use crate::library::{
    AudioFile, ImportFinished, ImportRequested, Importer, LibraryOrder, LibraryState,
};
use crate::storage::plugin::Database;

/// What the user asked for in a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Import(Vec<PathBuf>),
}

/// How serious a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// A message for the user, shown in the status bar and the messages list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: Level,
    pub text: String,
}

/// UI-only state: text being typed, notices, selection.
#[derive(Resource, Debug, Default)]
pub struct UiState {
    pub import_path: String,
    pub notices: VecDeque<Notice>,
    pub selected: Option<crate::storage::ids::AudioFileId>,
}

impl UiState {
    pub fn notify(&mut self, level: Level, text: impl Into<String>) {
        self.notices.push_back(Notice {
            level,
            text: text.into(),
        });
        while self.notices.len() > 50 {
            self.notices.pop_front();
        }
    }
}

/// The window and its panels. `screenshot` makes the app take one screenshot of the window
/// once the library is shown, save it as PNG, and exit (the GUI smoke test uses it).
#[derive(Debug, Default, Clone)]
pub struct UiPlugin {
    pub screenshot: Option<PathBuf>,
}

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: "Verbatim".into(),
                resolution: (1280, 800).into(),
                ..default()
            }),
            ..default()
        }))
        .add_plugins(EguiPlugin::default())
        .init_resource::<UiState>()
        .add_systems(Startup, spawn_camera)
        .add_systems(
            Update,
            (file_drops, collect_notices).in_set(crate::AppSet::Apply),
        )
        .add_systems(Update, keep_awake_while_busy.after(crate::AppSet::Persist))
        .add_systems(EguiPrimaryContextPass, draw);
        if let Some(path) = &self.screenshot {
            // The smoke test needs frames to keep coming without input.
            app.insert_resource(WinitSettings::continuous());
            screenshot::plugin(app, path.clone());
        } else {
            // Redraw on input and when something changes, not 60 times a second at idle.
            app.insert_resource(WinitSettings::desktop_app());
        }
    }
}

fn spawn_camera(mut commands: Commands) {
    commands.spawn(Camera2d);
}

/// The window redraws only on input when idle; while background work is under way (imports,
/// the first library load) keep frames coming so results show as soon as they arrive.
fn keep_awake_while_busy(
    importer: Option<Res<Importer>>,
    library: Res<LibraryState>,
    mut redraw: MessageWriter<RequestRedraw>,
) {
    let importing = importer.is_some_and(|i| i.in_flight() > 0);
    let loading = !library.loaded && library.error.is_none();
    if importing || loading {
        redraw.write(RequestRedraw);
    }
}

/// Files dropped on the window are imported.
fn file_drops(
    mut drops: MessageReader<FileDragAndDrop>,
    mut imports: MessageWriter<ImportRequested>,
) {
    for drop in drops.read() {
        if let FileDragAndDrop::DroppedFile { path_buf, .. } = drop {
            imports.write(ImportRequested(path_buf.clone()));
        }
    }
}

fn collect_notices(mut finished: MessageReader<ImportFinished>, mut state: ResMut<UiState>) {
    for f in finished.read() {
        let level = if f.result.is_ok() {
            Level::Info
        } else {
            Level::Error
        };
        state.notify(level, f.describe());
    }
    for e in crate::take_system_errors() {
        state.notify(Level::Error, e);
    }
}

/// What the panels read of the library.
#[derive(SystemParam)]
struct LibraryData<'w, 's> {
    files: Query<'w, 's, &'static AudioFile>,
    order: Res<'w, LibraryOrder>,
    state: Res<'w, LibraryState>,
    importer: Option<Res<'w, Importer>>,
}

fn draw(
    mut contexts: EguiContexts,
    mut state: ResMut<UiState>,
    lib: LibraryData,
    db: Option<Res<Database>>,
    mut imports: MessageWriter<ImportRequested>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let rows: Vec<&crate::storage::repo::AudioFileRow> = lib
        .order
        .0
        .iter()
        .filter_map(|e| lib.files.get(*e).ok())
        .map(|f| &f.0)
        .collect();
    let importing = lib.importer.as_ref().map_or(0, |i| i.in_flight());
    let mut intents = Vec::new();

    let status = status_bar::View {
        db_path: db.as_ref().map(|d| d.path().display().to_string()),
        features: crate::build_features(),
        files: rows.len(),
        importing,
    };
    let mut root = egui::Ui::new(
        ctx.clone(),
        "verbatim-root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    egui::Panel::bottom("status").show(&mut root, |ui| status_bar::show(ui, &status, &state));
    egui::CentralPanel::default().show(&mut root, |ui| {
        let view = library_panel::View {
            rows: &rows,
            loaded: lib.state.loaded,
            load_error: lib.state.error.as_deref(),
            importing,
        };
        library_panel::show(ui, &view, &mut state, &mut intents);
    });

    if !intents.is_empty() {
        // Make sure the next frame runs now, so the intent is acted on without waiting for input.
        ctx.request_repaint();
    }
    for intent in intents {
        match intent {
            Intent::Import(paths) => {
                for p in paths {
                    imports.write(ImportRequested(p));
                }
            }
        }
    }
    Ok(())
}
