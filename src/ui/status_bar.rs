//! The status bar: database, build features, library size, imports, the latest notice.

use bevy_egui::egui;

use super::{Level, UiState};

pub struct View {
    pub db_path: Option<String>,
    pub features: Vec<&'static str>,
    pub files: usize,
    pub importing: usize,
}

pub fn show(ui: &mut egui::Ui, view: &View, state: &UiState) {
    ui.horizontal(|ui| {
        match &view.db_path {
            Some(p) => ui.label(format!("Database: {p}")),
            None => ui.colored_label(ui.visuals().error_fg_color, "No database open"),
        };
        ui.separator();
        ui.label(format!("Build: {}", view.features.join(", ")));
        ui.separator();
        ui.label(format!("{} audio files", view.files));
        if view.importing > 0 {
            ui.separator();
            ui.spinner();
            ui.label(format!("importing {}", view.importing));
        }
        if let Some(n) = state.notices.back() {
            ui.separator();
            match n.level {
                Level::Info => ui.label(&n.text),
                Level::Error => ui.colored_label(ui.visuals().error_fg_color, &n.text),
            };
        }
    });
}
