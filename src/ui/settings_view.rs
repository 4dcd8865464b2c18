//! The settings view (Settings in the top bar, Ctrl+,): every setting that stays across runs
//! in one place — model, GPU, vocabulary prompt, input device, live transcript, window zoom,
//! the sidebar, the job list, the timeline following playback — and where the library, the
//! models and the settings file are. The controls are the same ones the panels show (the
//! model picker, the device picker, …), so a change made here or there is the same change.

use std::path::Path;

use bevy_egui::egui;

use super::{Intent, UiState, jobs_panel, recorder_panel};

/// Where things are kept.
pub struct Paths<'a> {
    pub settings_file: Option<&'a Path>,
    pub database: Option<&'a Path>,
    pub models: &'a Path,
}

pub struct View<'a> {
    pub jobs: &'a jobs_panel::View<'a>,
    pub recorder: &'a recorder_panel::View<'a>,
    /// A take is recording (the input cannot change under it).
    pub recording: bool,
    pub paths: Paths<'a>,
}

/// The zoom steps offered (on top of the display's own scale).
pub const ZOOMS: &[f32] = &[0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0];

pub fn show(ui: &mut egui::Ui, view: &View<'_>, state: &mut UiState, out: &mut Vec<Intent>) {
    ui.heading("Transcription");
    // The model and GPU rows label themselves (they are the jobs drawer's rows too).
    ui.horizontal_wrapped(|ui| jobs_panel::model_picker(ui, view.jobs, &mut state.jobs, out));
    ui.horizontal_wrapped(|ui| jobs_panel::gpu_choice(ui, view.jobs, out));
    jobs_panel::vocabulary_checkbox(ui, view.jobs, out);
    ui.horizontal_wrapped(|ui| jobs_panel::speakers_checkbox(ui, view.jobs, out));
    ui.separator();
    ui.heading("Recording");
    egui::Grid::new("settings-recording")
        .num_columns(2)
        .spacing([12.0, 8.0])
        .show(ui, |ui| {
            ui.label("Input");
            ui.horizontal_wrapped(|ui| {
                recorder_panel::device_picker(ui, view.recorder, view.recording, out)
            });
            ui.end_row();
            ui.label("While recording");
            recorder_panel::live_checkbox(ui, view.recorder.live_enabled, out);
            ui.end_row();
        });
    ui.separator();
    ui.heading("Window");
    egui::Grid::new("settings-window")
        .num_columns(2)
        .spacing([12.0, 8.0])
        .show(ui, |ui| {
            ui.label("Zoom");
            ui.horizontal_wrapped(|ui| zoom_choice(ui, state));
            ui.end_row();
            ui.label("Library");
            let mut shown = !state.layout.library_hidden;
            if ui
                .checkbox(&mut shown, "Show the library sidebar")
                .changed()
            {
                state.layout.library_hidden = !shown;
            }
            ui.end_row();
            ui.label("Job list");
            ui.horizontal_wrapped(|ui| {
                for (choice, label, hover) in [
                    (
                        None,
                        "while work runs",
                        "Opens while jobs run or one failed",
                    ),
                    (Some(true), "always", "Always open"),
                    (Some(false), "hidden", "Closed until opened"),
                ] {
                    if ui
                        .selectable_label(state.jobs.list_shown == choice, label)
                        .on_hover_text(hover)
                        .clicked()
                    {
                        state.jobs.list_shown = choice;
                    }
                }
            });
            ui.end_row();
            ui.label("Timeline");
            let mut follow = !state.editor.no_follow;
            if ui
                .checkbox(&mut follow, "Follow the playhead while playing")
                .changed()
            {
                state.editor.no_follow = !follow;
            }
            ui.end_row();
        });
    if ui
        .button("Restore the default layout")
        .on_hover_text("Sidebar shown, job list while work runs, 100 % zoom, follow playback")
        .clicked()
    {
        state.layout.library_hidden = false;
        state.jobs.list_shown = None;
        state.editor.no_follow = false;
        state.zoom = Some(1.0);
        state.zoom_pending = true;
    }
    ui.separator();
    ui.heading("Where things are");
    egui::Grid::new("settings-paths")
        .num_columns(2)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            let row = |ui: &mut egui::Ui, label: &str, path: Option<&Path>| {
                ui.label(label);
                match path {
                    Some(p) => {
                        let text = p.display().to_string();
                        ui.add(egui::Label::new(egui::RichText::new(&text).monospace()).truncate())
                            .on_hover_text(text);
                    }
                    None => {
                        ui.weak("not kept in this run");
                    }
                }
                ui.end_row();
            };
            row(ui, "Library", view.paths.database);
            row(ui, "Models", Some(view.paths.models));
            row(ui, "Settings", view.paths.settings_file);
        });
    ui.weak("Settings apply at once and are kept for the next start.");
}

/// The window zoom: the steps, the current one marked.
fn zoom_choice(ui: &mut egui::Ui, state: &mut UiState) {
    let now = state.zoom.unwrap_or(1.0);
    for z in ZOOMS {
        let label = format!("{:.0} %", z * 100.0);
        if ui.selectable_label((now - z).abs() < 0.01, label).clicked() {
            state.zoom = Some(*z);
            state.zoom_pending = true;
        }
    }
    ui.weak("(Ctrl + / Ctrl - / Ctrl 0)");
}
