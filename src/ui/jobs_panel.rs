//! The jobs panel: every transcription job with its progress, ETA, the back-end it asked
//! for and the one that ran, and cancel / retry; plus the GPU and model settings.

use bevy_egui::egui;
use egui_extras::{Column, TableBuilder};

use super::Intent;
use crate::transcribe::catalog::{self, Installed};
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
    /// Speakers are found after each transcription (when the speaker model is installed).
    pub speakers_after: bool,
    /// The CAM++ speaker model is in the models folder.
    pub speaker_model: bool,
    /// The model files in the models folder (speech and voice activity models).
    pub installed: &'a [Installed],
    /// The folder has been read (until then nothing is said about what is missing).
    pub scanned: bool,
    /// A model downloading: its name, bytes done and in all.
    pub download: Option<(&'a str, (u64, u64))>,
}

/// The settings being edited.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobsUi {
    /// A path being typed for a model file that is not in the models folder.
    pub model_edit: Option<String>,
    /// Transcribe was asked for with no model to run: the picker is marked.
    pub attention: bool,
    /// The job list shown (`Some`) or hidden (`Some(false)`) by the user; `None`: shown while
    /// there is work running or waiting, or a failure to look at.
    pub list_shown: Option<bool>,
}

/// Whether the job list is shown: as the user set it, else while something needs an eye.
pub fn list_shown(view: &View<'_>, st: &JobsUi) -> bool {
    st.list_shown.unwrap_or_else(|| {
        view.jobs.iter().any(|j| {
            matches!(
                j.status,
                JobStatus::Pending | JobStatus::Running | JobStatus::Saving | JobStatus::Failed
            )
        })
    })
}

/// The model row: the installed speech models to choose from (the bundled voice activity
/// model listed as what it is), a path for any other file, the download of the recommended
/// model when none is installed, and its progress.
pub fn model_picker(ui: &mut egui::Ui, view: &View<'_>, st: &mut JobsUi, out: &mut Vec<Intent>) {
    let speech: Vec<&Installed> = view.installed.iter().filter(|m| !m.vad).collect();
    let current = speech
        .iter()
        .find(|m| m.name == view.model || m.path.as_os_str() == view.model);
    // A model file given by its path (`--model FILE`, or typed in) is a choice too.
    let by_path = view.model.ends_with(".bin");
    let missing = view.scanned && current.is_none() && !by_path;
    let frame = if st.attention || (missing && speech.is_empty()) {
        egui::Frame::new()
            .stroke(egui::Stroke::new(1.5, ui.visuals().error_fg_color))
            .inner_margin(2.0)
    } else {
        egui::Frame::new()
    };
    frame.show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.label("Model:");
            let shown = match current {
                Some(m) => m.name.clone(),
                None if by_path => std::path::Path::new(view.model).file_name().map_or_else(
                    || view.model.to_string(),
                    |n| n.to_string_lossy().into_owned(),
                ),
                None if speech.is_empty() && view.scanned => "none installed".into(),
                None => view.model.to_string(),
            };
            egui::ComboBox::from_id_salt("model-picker")
                .selected_text(shown)
                .width(180.0)
                .show_ui(ui, |ui| {
                    for m in &speech {
                        let chosen = current.is_some_and(|c| c.path == m.path);
                        if ui
                            .selectable_label(chosen, &m.name)
                            .on_hover_text(&m.describe)
                            .clicked()
                            && !chosen
                        {
                            out.push(Intent::SetModel(m.name.clone()));
                        }
                    }
                    for m in view.installed.iter().filter(|m| m.vad) {
                        ui.add_enabled(
                            false,
                            egui::Button::selectable(
                                false,
                                format!("{} (voice detection)", m.name),
                            ),
                        )
                        .on_disabled_hover_text(format!(
                            "{}: finds speech for the VAD, not a model to transcribe with",
                            m.describe
                        ));
                    }
                    if speech.is_empty() {
                        ui.weak("No speech model in the models folder yet.");
                    }
                });
            if ui
                .small_button("↻")
                .on_hover_text("Read the models folder again")
                .clicked()
            {
                out.push(Intent::RescanModels);
            }
            let edit = st.model_edit.get_or_insert_with(String::new);
            let r = ui.add(
                egui::TextEdit::singleline(edit)
                    .hint_text("or the path of a ggml .bin")
                    .desired_width(170.0),
            );
            if r.lost_focus() && !edit.trim().is_empty() && edit.trim() != view.model {
                out.push(Intent::SetModel(edit.trim().to_string()));
            }
            if missing && !speech.is_empty() {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("{} is not installed", view.model),
                );
            }
            match view.download {
                Some((name, (done, total))) => {
                    let share = if total > 0 {
                        done as f32 / total as f32
                    } else {
                        0.0
                    };
                    ui.add(
                        egui::ProgressBar::new(share)
                            .desired_width(160.0)
                            .text(format!(
                                "{name}: {:.0} of {:.0} MB",
                                done as f64 / 1e6,
                                total as f64 / 1e6
                            )),
                    );
                }
                None if view.scanned && speech.is_empty() && !by_path => {
                    let size = catalog::find(catalog::RECOMMENDED)
                        .map_or(0.0, |k| k.size_bytes as f64 / 1e6);
                    if ui
                        .button(format!("Download {} ({size:.0} MB)", catalog::RECOMMENDED))
                        .on_hover_text(
                            "English, fast on a CPU; checksum-verified, and an interrupted \
                             download resumes",
                        )
                        .clicked()
                    {
                        out.push(Intent::DownloadModel(catalog::RECOMMENDED.to_string()));
                    }
                }
                None => {}
            }
        });
    });
}

/// GPU auto / on / off, and the back-ends this build has.
pub fn gpu_choice(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Intent>) {
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
}

/// Whether new jobs are prompted with the library's vocabulary.
pub fn vocabulary_checkbox(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Intent>) {
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
}

/// Whether each new transcript gets its speakers once transcribed.
pub fn speakers_checkbox(ui: &mut egui::Ui, view: &View<'_>, out: &mut Vec<Intent>) {
    let mut on = view.speakers_after;
    let r = ui
        .checkbox(&mut on, "Find speakers after transcribing")
        .on_hover_text(
            "Each new transcript gets who speaks when (a new version) once its job is done: \
             the speaker models in the models folder, on a thread of their own",
        );
    if r.changed() {
        out.push(Intent::SpeakersAfter(on));
    }
    if on && !view.speaker_model {
        ui.weak(
            "(the speaker model is not installed: `verbatim models download campplus` and \
             `segmentation-3.0`)",
        );
    }
}

pub fn show(ui: &mut egui::Ui, view: &View<'_>, st: &mut JobsUi, out: &mut Vec<Intent>) {
    let shown = list_shown(view, st);
    // Wraps onto a second row in a narrow window rather than cutting controls off.
    ui.horizontal_wrapped(|ui| {
        let active = view
            .jobs
            .iter()
            .filter(|j| {
                matches!(
                    j.status,
                    JobStatus::Pending | JobStatus::Running | JobStatus::Saving
                )
            })
            .count();
        let title = match active {
            0 => format!("{} Transcription jobs", if shown { "⏷" } else { "▶" }),
            n => format!(
                "{} Transcription jobs ({n} active)",
                if shown { "⏷" } else { "▶" }
            ),
        };
        if ui
            .add(egui::Button::new(egui::RichText::new(title).heading()).frame(false))
            .on_hover_text(if shown {
                "Hide the job list"
            } else {
                "Show the job list"
            })
            .clicked()
        {
            st.list_shown = Some(!shown);
        }
        ui.separator();
        gpu_choice(ui, view, out);
        ui.separator();
        model_picker(ui, view, st, out);
        ui.separator();
        vocabulary_checkbox(ui, view, out);
    });
    if !shown {
        return;
    }
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
