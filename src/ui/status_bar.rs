//! The status bar (database, build features, library size, imports, how many problems) and
//! the notice area above it.

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
        let errors = state
            .notices
            .iter()
            .filter(|n| n.level == Level::Error)
            .count();
        if errors > 0 {
            ui.separator();
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("{errors} problem(s): see above"),
            );
        }
    });
}

/// The one notice area: each notice until it is dismissed (×) or superseded.
pub fn notices(ui: &mut egui::Ui, state: &mut UiState) {
    let mut dismissed = None;
    for (i, n) in state.notices.iter().enumerate().rev() {
        ui.horizontal(|ui| {
            if ui
                .small_button("×")
                .on_hover_text("Dismiss this message")
                .clicked()
            {
                dismissed = Some(i);
            }
            let text = egui::Label::new(match n.level {
                Level::Info => egui::RichText::new(&n.text),
                Level::Error => egui::RichText::new(&n.text).color(ui.visuals().error_fg_color),
            })
            .wrap();
            ui.add(text);
        });
    }
    if let Some(i) = dismissed {
        state.notices.remove(i);
    }
}
