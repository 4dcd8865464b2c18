//! The speakers panel (in the library sidebar): who the library knows, in how many
//! recordings, for how long, whether their voice is remembered; hear them (their longest
//! segment, opened and played), rename them everywhere, merge two names of one person.

use bevy_egui::egui;

use super::{Intent, UiState};
use crate::speakers::sql::{Sample, SpeakerUsage};
use crate::storage::ids::TranscriptId;

/// What the panel asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeakersIntent {
    /// `scope`: a label of one recording is renamed there only.
    Rename {
        from: String,
        to: String,
        scope: Option<TranscriptId>,
    },
    Merge {
        into: String,
        from: String,
        scope: Option<TranscriptId>,
    },
    /// Open the transcript at the sample and play it.
    Hear(Sample),
}

/// A row of the panel: a name, or a label of one transcript.
pub type Who = (String, Option<TranscriptId>);

/// The panel's own state: the rename being typed, the merge being confirmed, the sample to
/// play once its transcript is open.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SpeakersUi {
    /// (speaker, where, the new name being typed).
    pub renaming: Option<(Who, String)>,
    /// (speaker, where, the one to merge them into, once chosen).
    pub merging: Option<(Who, Option<String>)>,
    /// The rename field just opened: it takes the keyboard, its text selected.
    pub focus_rename: bool,
    /// Play from `ms` once `transcript` is open.
    pub hear: Option<(crate::storage::ids::TranscriptId, u64)>,
}

pub fn show(
    ui: &mut egui::Ui,
    speakers: &[SpeakerUsage],
    state: &mut UiState,
    out: &mut Vec<Intent>,
) {
    let header = egui::CollapsingHeader::new(format!("Speakers ({})", speakers.len()))
        .id_salt("speakers-panel");
    header.show(ui, |ui| {
        if speakers.is_empty() {
            ui.weak(
                "None yet: \"Find speakers\" in an open transcript (or `verbatim transcribe \
                 --speakers auto`) finds who speaks.",
            );
            return;
        }
        egui::ScrollArea::vertical()
            .id_salt("speakers-list")
            .max_height(220.0)
            .show(ui, |ui| {
                for s in speakers {
                    row(ui, s, speakers, state, out);
                }
            });
    });
}

fn row(
    ui: &mut egui::Ui,
    s: &SpeakerUsage,
    all: &[SpeakerUsage],
    state: &mut UiState,
    out: &mut Vec<Intent>,
) {
    let ui_state = &mut state.speakers;
    let who: Who = (s.name.clone(), s.only_in);
    // Who they can be merged into: a person, or another label of the same recording.
    let targets: Vec<&str> = all
        .iter()
        .filter(|o| {
            let other = o.name != s.name || o.only_in != s.only_in;
            other && (o.only_in.is_none() || o.only_in == s.only_in)
        })
        .map(|o| o.name.as_str())
        .collect();
    ui.horizontal(|ui| {
        let colour = super::editor::speaker_colour(&s.name);
        ui.colored_label(colour, "■");
        ui.label(egui::RichText::new(&s.name).strong().color(colour))
            .on_hover_text(if s.remembered {
                format!(
                    "Their voice is remembered ({} windows): later recordings of it get this name",
                    s.windows
                )
            } else {
                "Not remembered by voice (a name on segments only)".to_owned()
            });
        let recordings = match (&s.recording, s.recordings) {
            (Some(r), _) => format!("in {r}"),
            (None, 1) => "1 recording".to_owned(),
            (None, n) => format!("{n} recordings"),
        };
        ui.weak(format!(
            "{recordings} · {}{}",
            crate::library::format_duration_ms(s.speaking_ms),
            if s.remembered { " · voice kept" } else { "" }
        ));
    });
    ui.horizontal(|ui| {
        ui.add_space(16.0);
        if let Some(sample) = s.sample
            && ui
                .small_button("▶ Hear")
                .on_hover_text("Open their longest segment and play it")
                .clicked()
        {
            out.push(Intent::Speakers(SpeakersIntent::Hear(sample)));
        }
        if ui
            .small_button("Rename…")
            .on_hover_text(if s.only_in.is_some() {
                "Name them (in this recording: its transcript gets a new version)"
            } else {
                "Rename them everywhere: every transcript gets a new version"
            })
            .clicked()
        {
            ui_state.merging = None;
            ui_state.renaming = Some((who.clone(), s.name.clone()));
            ui_state.focus_rename = true;
        }
        if !targets.is_empty()
            && ui
                .small_button("Merge…")
                .on_hover_text(
                    "One person under two names: give everything of theirs to another name",
                )
                .clicked()
        {
            ui_state.renaming = None;
            ui_state.merging = Some((who.clone(), None));
        }
    });
    if let Some((w, typed)) = ui_state.renaming.as_mut()
        && *w == who
    {
        let mut done = None;
        ui.horizontal(|ui| {
            ui.add_space(16.0);
            let mut field = egui::TextEdit::singleline(typed)
                .id_salt(("speaker-rename", &s.name, s.only_in))
                .desired_width(140.0)
                .show(ui);
            if std::mem::take(&mut ui_state.focus_rename) {
                // Typing replaces the old name at once.
                field.response.request_focus();
                let all = egui::text::CCursorRange::two(
                    egui::text::CCursor::new(0),
                    egui::text::CCursor::new(typed.chars().count()),
                );
                field.state.cursor.set_char_range(Some(all));
                field.state.store(ui.ctx(), field.response.id);
            }
            let r = field.response;
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let new = typed.trim().to_owned();
            let ok = !new.is_empty() && new != s.name;
            if ui.add_enabled(ok, egui::Button::new("Rename")).clicked() || (enter && ok) {
                done = Some(Some(new));
            }
            if ui.button("Cancel").clicked() {
                done = Some(None);
            }
        });
        if let Some(d) = done {
            if let Some(to) = d {
                out.push(Intent::Speakers(SpeakersIntent::Rename {
                    from: s.name.clone(),
                    to,
                    scope: s.only_in,
                }));
            }
            ui_state.renaming = None;
        }
    }
    if let Some((w, into)) = ui_state.merging.as_mut()
        && *w == who
    {
        let mut done = None;
        ui.horizontal(|ui| {
            ui.add_space(16.0);
            ui.label("into");
            egui::ComboBox::from_id_salt(("speaker-merge", &s.name))
                .selected_text(into.as_deref().unwrap_or("choose…"))
                .show_ui(ui, |ui| {
                    for other in &targets {
                        ui.selectable_value(into, Some((*other).to_owned()), *other);
                    }
                });
            if ui
                .add_enabled(into.is_some(), egui::Button::new("Merge"))
                .on_hover_text("Every transcript with them gets a new version")
                .clicked()
            {
                done = Some(into.clone());
            }
            if ui.button("Cancel").clicked() {
                done = Some(None);
            }
        });
        if let Some(d) = done {
            if let Some(into) = d {
                out.push(Intent::Speakers(SpeakersIntent::Merge {
                    into,
                    from: s.name.clone(),
                    scope: s.only_in,
                }));
            }
            ui_state.merging = None;
        }
    }
}
