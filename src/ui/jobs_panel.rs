//! The jobs panel: every transcription job with its progress, ETA, the back-end it asked
//! for and the one that ran, and cancel / retry; plus the GPU and model settings.

use bevy_egui::egui;
use egui_extras::{Column, TableBuilder};

use super::Intent;
use crate::transcribe::{GpuPref, JobCommand, JobStatus, TranscriptionJob};

pub struct View<'a> {
    /// Newest first.
    pub jobs: &'a [&'a TranscriptionJob],
    pub gpu: GpuPref,
    pub model: &'a str,
    /// GPU back-ends compiled in ("cpu" when none).
    pub features: &'a [&'static str],
    /// New jobs are primed with the library's vocabulary.
    pub use_vocabulary: bool,
}

/// The settings being edited.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobsUi {
    pub model_edit: Option<String>,
}

pub fn show(ui: &mut egui::Ui, view: &View<'_>, st: &mut JobsUi, out: &mut Vec<Intent>) {
    ui.horizontal(|ui| {
        ui.heading("Transcription jobs");
        ui.separator();
        ui.label("GPU:");
        for (pref, label) in [
            (GpuPref::Auto, "auto"),
            (GpuPref::On, "on"),
            (GpuPref::Off, "off"),
        ] {
            if ui.selectable_label(view.gpu == pref, label).clicked() && view.gpu != pref {
                out.push(Intent::SetGpu(pref));
            }
        }
        ui.weak(format!("(this build: {})", view.features.join(", ")));
        ui.separator();
        ui.label("Model:");
        let edit = st.model_edit.get_or_insert_with(|| view.model.to_string());
        let r = ui.add(
            egui::TextEdit::singleline(edit)
                .hint_text("name (base.en) or path to a ggml .bin")
                .desired_width(220.0),
        );
        if r.lost_focus() && edit.trim() != view.model && !edit.trim().is_empty() {
            out.push(Intent::SetModel(edit.trim().to_string()));
        }
        ui.separator();
        let mut vocabulary = view.use_vocabulary;
        if ui
            .checkbox(&mut vocabulary, "Prompt with the vocabulary")
            .on_hover_text(
                "Give whisper the names and terms corrected in this library's transcripts \
                 (`verbatim vocabulary`) as its prompt",
            )
            .changed()
        {
            out.push(Intent::UseVocabulary(vocabulary));
        }
    });
    if view.jobs.is_empty() {
        ui.weak("No jobs yet: press Transcribe on a library entry or a finished take.");
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    TableBuilder::new(ui)
        .striped(true)
        .resizable(true)
        .max_scroll_height(160.0)
        .column(Column::initial(40.0))
        .column(Column::initial(200.0).clip(true))
        .column(Column::initial(90.0))
        .column(Column::initial(160.0))
        .column(Column::initial(70.0))
        .column(Column::initial(300.0).clip(true))
        .column(Column::remainder().at_least(120.0))
        .header(row_height, |mut h| {
            for t in ["Job", "Audio", "Status", "Progress", "ETA", "Back-end", ""] {
                h.col(|ui| {
                    ui.strong(t);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, view.jobs.len(), |mut row| {
                let Some(job) = view.jobs.get(row.index()).copied() else {
                    return;
                };
                row.col(|ui| {
                    ui.label(job.id.to_string());
                });
                row.col(|ui| {
                    ui.label(&job.audio_name)
                        .on_hover_text(format!("model {}", job.model));
                });
                row.col(|ui| {
                    let text = status_text(job.status);
                    match job.status {
                        JobStatus::Failed => {
                            ui.colored_label(ui.visuals().error_fg_color, text)
                                .on_hover_text(job.error.as_deref().unwrap_or(""));
                        }
                        _ => {
                            ui.label(text)
                                .on_hover_text(job.note.as_deref().unwrap_or(""));
                        }
                    }
                });
                row.col(|ui| {
                    ui.add(
                        egui::ProgressBar::new(job.progress)
                            .show_percentage()
                            .desired_width(150.0),
                    );
                });
                row.col(|ui| {
                    ui.label(
                        job.eta
                            .filter(|_| job.status == JobStatus::Running)
                            .map(|d| format!("{:.0} s", d.as_secs_f32()))
                            .unwrap_or_default(),
                    );
                });
                row.col(|ui| {
                    let threads = job
                        .threads
                        .map(|t| format!(", {t} threads"))
                        .unwrap_or_default();
                    ui.label(job.describe_backend())
                        .on_hover_text(format!("asked for: {}{threads}", job.gpu.as_db()));
                });
                row.col(|ui| match job.status {
                    JobStatus::Pending | JobStatus::Running => {
                        if ui.button("Cancel").clicked() {
                            out.push(Intent::Job(JobCommand::Cancel(job.id)));
                        }
                        if let Some(n) = &job.note {
                            ui.weak(n);
                        }
                    }
                    JobStatus::Failed | JobStatus::Cancelled => {
                        if ui.button("Retry").clicked() {
                            out.push(Intent::Job(JobCommand::Retry(job.id)));
                        }
                        if let Some(e) = &job.error {
                            ui.colored_label(ui.visuals().error_fg_color, e);
                        }
                    }
                    JobStatus::Completed => {
                        if let Some(t) = job.transcript {
                            ui.label(format!("transcript #{t}"));
                        }
                    }
                    JobStatus::Saving => {
                        ui.spinner();
                    }
                });
            });
        });
}

pub fn status_text(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Pending => "queued",
        JobStatus::Running => "running",
        JobStatus::Saving => "saving",
        JobStatus::Completed => "done",
        JobStatus::Failed => "failed",
        JobStatus::Cancelled => "cancelled",
    }
}
