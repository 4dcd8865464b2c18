//! The library panel: every audio file in the database, and importing more.

use std::path::PathBuf;

use bevy_egui::egui;

use super::{Intent, UiState};
use crate::library::format_duration_ms;
use crate::library::sql::AudioFileRow;

pub struct View<'a> {
    /// Newest first.
    pub rows: &'a [&'a AudioFileRow],
    pub loaded: bool,
    pub load_error: Option<&'a str>,
    pub importing: usize,
    /// The newest job of each file: its status text.
    pub job_state: &'a std::collections::HashMap<crate::storage::ids::AudioFileId, String>,
    /// The newest transcript of each file.
    pub transcript_of:
        &'a std::collections::HashMap<crate::storage::ids::AudioFileId, FileTranscript>,
    pub search_results: &'a [crate::transcript::sql::SearchHit],
    /// The library's speakers (the speakers panel).
    pub speakers: &'a [crate::speakers::sql::SpeakerUsage],
}

/// A file's newest transcript, as its row shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileTranscript {
    pub id: crate::storage::ids::TranscriptId,
    pub versions: u32,
}

pub fn show(ui: &mut egui::Ui, view: &View<'_>, state: &mut UiState, out: &mut Vec<Intent>) {
    ui.heading("Library");
    ui.horizontal(|ui| {
        ui.label("Import:");
        let edit = ui.add(
            egui::TextEdit::singleline(&mut state.import_path)
                .hint_text("path to a WAV, FLAC, MP3 or Ogg Vorbis file")
                .desired_width((ui.available_width() - 70.0).max(120.0)),
        );
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let path = state.import_path.trim().to_owned();
        let clicked = ui
            .add_enabled(!path.is_empty(), egui::Button::new("Import"))
            .clicked();
        if (clicked || enter) && !path.is_empty() {
            out.push(Intent::Import(vec![PathBuf::from(path)]));
            state.import_path.clear();
        }
    });
    ui.horizontal(|ui| {
        if ui
            .button("Browse…")
            .on_hover_text("Pick audio files to import")
            .clicked()
        {
            out.push(Intent::BrowseImport);
        }
        ui.weak("or drop files on the window");
    });
    // Every file that has no transcript yet (and no job on its way), in one click.
    let waiting: Vec<_> = view
        .rows
        .iter()
        .filter(|f| {
            let busy = view
                .job_state
                .get(&f.id)
                .is_some_and(|s| !matches!(s.as_str(), "done" | "failed" | "cancelled"));
            !view.transcript_of.contains_key(&f.id) && !busy
        })
        .map(|f| f.id)
        .collect();
    if !waiting.is_empty()
        && ui
            .button(format!(
                "Transcribe all not yet transcribed ({})",
                waiting.len()
            ))
            .on_hover_text("One job each, with the model chosen under Transcription jobs")
            .clicked()
    {
        out.extend(waiting.into_iter().map(Intent::Transcribe));
    }
    if let Some(e) = view.load_error {
        ui.colored_label(
            ui.visuals().error_fg_color,
            format!("The library could not be loaded: {e}"),
        );
    }
    search(ui, view, state, out);
    super::speakers_panel::show(ui, view.speakers, state, out);
    ui.separator();

    if !view.loaded && view.load_error.is_none() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Loading the library…");
        });
        return;
    }
    if view.rows.is_empty() {
        ui.label("The library is empty. Import audio above, drop files on the window, or run `verbatim import FILE...`.");
        return;
    }

    // Two lines a file (the name in full on hover, with where it came from; then what it
    // is and what can be done with it), virtualized: a library of thousands scrolls at the
    // cost of the rows on screen.
    let line = ui.text_style_height(&egui::TextStyle::Body);
    let row_height = 2.0 * line + 3.0 * ui.spacing().item_spacing.y + 4.0;
    egui::ScrollArea::vertical()
        .id_salt("library-files")
        .auto_shrink([false, false])
        .show_rows(ui, row_height, view.rows.len(), |ui, range| {
            for file in view.rows[range].iter().copied() {
                let selected = state.selected == Some(file.id);
                let frame = egui::Frame::new()
                    .fill(if selected {
                        ui.visuals().selection.bg_fill.gamma_multiply(0.5)
                    } else {
                        egui::Color32::TRANSPARENT
                    })
                    .inner_margin(2.0);
                frame.show(ui, |ui| file_row(ui, view, state, file, row_height, out));
            }
        });
}

/// The search box and its results (a click opens the transcript at the segment).
fn search(ui: &mut egui::Ui, view: &View<'_>, state: &mut UiState, out: &mut Vec<Intent>) {
    ui.horizontal(|ui| {
        ui.label("Search:");
        let r = ui.add(
            egui::TextEdit::singleline(&mut state.search)
                .hint_text("words in any transcript")
                .desired_width((ui.available_width() - 70.0).max(120.0)),
        );
        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button("Search").clicked() || enter) && !state.search.trim().is_empty() {
            out.push(Intent::Search(state.search.trim().to_string()));
        }
    });
    if !view.search_results.is_empty() {
        egui::ScrollArea::vertical()
            .id_salt("search-results")
            .max_height(140.0)
            .show(ui, |ui| {
                for h in view.search_results {
                    let text = format!(
                        "{} · v{} · {} · {}",
                        h.title.as_deref().unwrap_or("?"),
                        h.version_number,
                        crate::transcript::export::timestamp(h.start_ms, '.'),
                        h.snippet
                    );
                    if ui.link(text).clicked() {
                        out.push(Intent::OpenTranscript {
                            transcript: h.transcript_id,
                            segment: Some(h.segment_index as usize),
                        });
                    }
                }
            });
    }
}

/// One file's two lines: its name (in full on hover, with where it came from), then what can
/// be done with it and what it is.
fn file_row(
    ui: &mut egui::Ui,
    view: &View<'_>,
    state: &mut UiState,
    file: &AudioFileRow,
    row_height: f32,
    out: &mut Vec<Intent>,
) {
    ui.set_min_height(row_height - 4.0);
    ui.set_width(ui.available_width());
    let name = ui
        .add(
            egui::Label::new(egui::RichText::new(&file.original_name).strong())
                .truncate()
                .sense(egui::Sense::click()),
        )
        .on_hover_text(match &file.original_path {
            Some(p) => format!("{}\n{p}", file.original_name),
            None => file.original_name.clone(),
        });
    if name.clicked() {
        state.selected = Some(file.id);
    }
    ui.horizontal(|ui| {
        if ui.small_button("Transcribe").clicked() {
            out.push(Intent::Transcribe(file.id));
        }
        if let Some(t) = view.transcript_of.get(&file.id) {
            let label = match t.versions {
                0 | 1 => "Open".to_string(),
                n => format!("Open ({n} versions)"),
            };
            if ui
                .small_button(label)
                .on_hover_text(format!(
                    "Transcript {} with its history; Transcribe adds a version",
                    t.id
                ))
                .clicked()
            {
                out.push(Intent::OpenTranscript {
                    transcript: t.id,
                    segment: None,
                });
            }
        } else if let Some(s) = view.job_state.get(&file.id) {
            ui.label(s);
        }
        ui.weak(format_duration_ms(file.duration_ms));
        ui.weak(format_size(file.size_bytes));
        ui.add(egui::Label::new(egui::RichText::new(format_format(file)).weak()).truncate())
            .on_hover_text(format!("added {}", format_time(file.created_at)));
    });
}

/// `WAV · pcm_s16le · 16 kHz · mono`
pub fn format_format(f: &AudioFileRow) -> String {
    let rate = if f.sample_rate.is_multiple_of(1000) {
        format!("{} kHz", f.sample_rate / 1000)
    } else {
        format!("{:.1} kHz", f64::from(f.sample_rate) / 1000.0)
    };
    let channels = match f.channels {
        1 => "mono".to_owned(),
        2 => "stereo".to_owned(),
        n => format!("{n} ch"),
    };
    format!(
        "{} · {} · {rate} · {channels}",
        f.container.to_uppercase(),
        f.codec
    )
}

pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1000.0;
    let mut unit = UNITS[0];
    for u in UNITS.iter().skip(1) {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// Local date and time of a `*_at` column.
pub fn format_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| "?".to_owned())
}
