//! The segment list: one row per segment (virtualized), the selected one's text field, its
//! words with the unsure ones shaded, its flags.

use bevy_egui::egui::{self, Color32, Sense};

use super::{EditorIntent, EditorUi, FLAG_COLOUR, TextDraft, View};
use crate::editor::rows::SegmentView;
use crate::storage::ids::VersionId;
use crate::transcript::edit::Edit;
use crate::transcript::export::timestamp;
use crate::transcript::words;

pub(super) fn segment_list(
    ui: &mut egui::Ui,
    view: &View<'_>,
    st: &mut EditorUi,
    push: &mut impl FnMut(EditorIntent),
) {
    let doc = view.doc;
    let segs = view.segments;
    let playing_idx = segs.index_at(view.player.position_ms).filter(|&i| {
        segs.row(i)
            .is_some_and(|s| view.player.position_ms < s.end_ms)
    });
    let row_h = ui.text_style_height(&egui::TextStyle::Body) + 8.0;
    let mut area = egui::ScrollArea::vertical().auto_shrink([false, false]);
    // The rows listed: all, or the flagged ones and/or one speaker's (row k shows segment
    // order[k]).
    let who = st.speaker_filter.clone();
    let order: Option<Vec<usize>> = (st.flagged_only || who.is_some()).then(|| {
        (0..segs.len())
            .filter(|&i| {
                segs.row(i).is_some_and(|r| {
                    (!st.flagged_only || !r.flags.is_empty())
                        && who.as_deref().is_none_or(|w| r.speaker == Some(w))
                })
            })
            .collect()
    });
    let position = |i: usize| match &order {
        Some(o) => o.partition_point(|&x| x < i),
        None => i,
    };
    // Follow the playhead (or jump to a focused segment, or a flag).
    let target = st
        .scroll_to
        .take()
        .or(doc.focus)
        .or(if view.player.playing && !st.no_follow {
            playing_idx.filter(|i| st.last_followed != Some(*i))
        } else {
            None
        });
    if let Some(t) = target {
        area = area.vertical_scroll_offset((position(t) as f32 * row_h - 60.0).max(0.0));
        st.last_followed = Some(t);
    }
    let rows = order.as_ref().map_or(segs.len(), Vec::len);
    let mut field_drawn = false;
    area.show_rows(ui, row_h, rows, |ui, range| {
        for k in range {
            let i = order.as_ref().map_or(Some(k), |o| o.get(k).copied());
            let Some(i) = i else { continue };
            let Some(s) = segs.row(i) else { continue };
            let selected = doc.selected == Some(i);
            let playing = playing_idx == Some(i);
            let fill = if playing {
                Color32::from_rgb(60, 55, 20)
            } else if selected {
                Color32::from_rgb(30, 45, 70)
            } else {
                Color32::TRANSPARENT
            };
            egui::Frame::new().fill(fill).show(ui, |ui| {
                ui.set_min_height(row_h - 2.0);
                ui.horizontal(|ui| {
                    if !s.flags.is_empty() {
                        ui.label(egui::RichText::new("⚠").color(FLAG_COLOUR))
                            .on_hover_text(flag_details(&s));
                    }
                    let t = ui.add(
                        egui::Label::new(
                            egui::RichText::new(timestamp(s.start_ms, '.')).monospace(),
                        )
                        .sense(Sense::click()),
                    );
                    if t.clicked() {
                        push(EditorIntent::Select(Some(i)));
                        push(EditorIntent::Seek {
                            ms: s.start_ms,
                            play: true,
                        });
                    }
                    if let Some(who) = s.speaker {
                        speaker_menu(ui, segs, i, &s, who, st, push);
                    }
                    if selected {
                        let mut start = s.start_ms as f64 / 1000.0;
                        let mut end = s.end_ms as f64 / 1000.0;
                        // Times as the list shows them (hh:mm:ss.mmm); typed as that, mm:ss
                        // or seconds.
                        fn clock(v: &mut f64) -> egui::DragValue<'_> {
                            egui::DragValue::new(v)
                                .speed(0.01)
                                .custom_formatter(|v, _| {
                                    timestamp((v.max(0.0) * 1000.0).round() as u64, '.')
                                })
                                .custom_parser(|s| {
                                    crate::transcript::export::parse_clock(s)
                                        .map(|ms| ms as f64 / 1000.0)
                                })
                        }
                        let a = ui.add(clock(&mut start)).on_hover_text("Start");
                        let b = ui.add(clock(&mut end)).on_hover_text("End");
                        if (a.drag_stopped()
                            || a.lost_focus()
                            || b.drag_stopped()
                            || b.lost_focus())
                            && ((start * 1000.0).round() as u64 != s.start_ms
                                || (end * 1000.0).round() as u64 != s.end_ms)
                        {
                            push(EditorIntent::Edit(Edit::SetTimes {
                                index: i,
                                start_ms: (start.max(0.0) * 1000.0).round() as u64,
                                end_ms: (end.max(0.0) * 1000.0).round() as u64,
                            }));
                        }
                        field_drawn = true;
                        segment_field(ui, doc.version.id, &s, st, push);
                    } else if !s.words.is_empty() {
                        words_line(ui, &s, i, view.player.position_ms, playing, push);
                    } else {
                        let l = ui.add(egui::Label::new(s.text).sense(Sense::click()).truncate());
                        if l.clicked() {
                            push(EditorIntent::Select(Some(i)));
                            push(EditorIntent::Seek {
                                ms: s.start_ms,
                                play: true,
                            });
                        }
                    }
                });
            });
        }
    });
    if !field_drawn {
        // The selected row is out of view (or nothing is selected): its field lost the
        // keyboard without being drawn. Typed text goes to its segment now, as a field left
        // with a click would; an untouched one is forgotten (it is read afresh when shown).
        if let Some(d) = st.draft.take().filter(TextDraft::typed) {
            push(d.commit());
        }
    }
}

/// A segment's speaker, in their colour; a click opens, in the row, what can be done: give
/// this segment to another speaker of the transcript (or to nobody), or rename the speaker
/// everywhere in the transcript (a name already there merges the two). Each is an edit:
/// undone with Ctrl+Z, kept by saving a version.
fn speaker_menu(
    ui: &mut egui::Ui,
    segs: &dyn crate::editor::rows::SegmentRows,
    i: usize,
    s: &SegmentView<'_>,
    who: &str,
    st: &mut EditorUi,
    push: &mut impl FnMut(EditorIntent),
) {
    let open = st.speaker_edit == Some(s.key);
    let label = egui::RichText::new(who)
        .strong()
        .color(super::speaker_colour(who));
    if ui
        .add(egui::Button::new(label).selected(open))
        .on_hover_text("Give this segment to another speaker, or rename the speaker")
        .clicked()
    {
        st.speaker_edit = (!open).then_some(s.key);
        st.speaker_name.clear();
    }
    if !open {
        return;
    }
    let mut names: Vec<&str> = Vec::new();
    for k in 0..segs.len() {
        if let Some(w) = segs.row(k).and_then(|r| r.speaker)
            && !names.contains(&w)
        {
            names.push(w);
        }
    }
    let mut chosen: Option<Option<String>> = None;
    egui::ComboBox::from_id_salt(("speaker of", s.key))
        .selected_text("said by…")
        .show_ui(ui, |ui| {
            for w in names.iter().filter(|w| **w != who) {
                if ui
                    .selectable_label(
                        false,
                        egui::RichText::new(*w).color(super::speaker_colour(w)),
                    )
                    .clicked()
                {
                    chosen = Some(Some((*w).to_owned()));
                }
            }
            if ui.selectable_label(false, "nobody said").clicked() {
                chosen = Some(None);
            }
        });
    if let Some(speaker) = chosen {
        push(EditorIntent::Edit(Edit::SetSpeaker { index: i, speaker }));
        st.speaker_edit = None;
        return;
    }
    let field = ui.add(
        egui::TextEdit::singleline(&mut st.speaker_name)
            .hint_text(format!("rename {who}"))
            .desired_width(140.0),
    );
    let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    let name = st.speaker_name.trim().to_owned();
    let ok = !name.is_empty() && name != who;
    if (ui
        .add_enabled(ok, egui::Button::new("Rename"))
        .on_hover_text("Every segment of this speaker in the transcript")
        .clicked()
        || enter)
        && ok
    {
        push(EditorIntent::Edit(Edit::RenameSpeaker {
            from: who.to_owned(),
            to: name,
        }));
        st.speaker_name.clear();
        st.speaker_edit = None;
    }
}

/// The selected segment's text field. Its text belongs to one segment of one version and is
/// read from it whenever that segment changes, unless the user has typed; leaving the field
/// gives typed text to that segment (if it still reads as it did), Escape drops it.
fn segment_field(
    ui: &mut egui::Ui,
    version: VersionId,
    s: &SegmentView<'_>,
    st: &mut EditorUi,
    push: &mut impl FnMut(EditorIntent),
) {
    let ours = |d: &TextDraft| d.version == version && d.key == s.key;
    match st.draft.take() {
        // The same segment: kept while it is typed into or still reads as it did.
        Some(d) if ours(&d) && (d.typed() || d.base == s.text) => st.draft = Some(d),
        // Another segment's typed text (the selection moved while it had the keyboard): it
        // goes to its own segment.
        Some(d) if !ours(&d) && d.typed() => push(d.commit()),
        _ => {}
    }
    let draft = st.draft.get_or_insert_with(|| TextDraft {
        version,
        key: s.key,
        base: s.text.to_string(),
        text: s.text.to_string(),
    });
    let r = ui.add(egui::TextEdit::singleline(&mut draft.text).desired_width(f32::INFINITY));
    if r.has_focus() {
        return;
    }
    let escaped = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Escape));
    if escaped {
        // Escape leaves the field as it was.
        st.draft = None;
    } else if draft.typed()
        && let Some(d) = st.draft.take()
    {
        // Left (Enter, a click elsewhere, the keyboard taken away): the text goes to its
        // segment, and the field reads the segment afresh.
        push(d.commit());
    }
}

/// A segment's words, each its own label: the word being played highlighted, a word the
/// model was unsure of shaded (the less sure, the darker), an untimed one in italics; a click
/// seeks to the word, the context menu splits the segment before it (at the word boundary).
fn words_line(
    ui: &mut egui::Ui,
    s: &SegmentView<'_>,
    index: usize,
    position_ms: u64,
    playing_row: bool,
    push: &mut impl FnMut(EditorIntent),
) {
    let now = playing_row
        .then(|| words::playing(s.words, position_ms))
        .flatten();
    let tokens = words::tokens(s.text);
    ui.spacing_mut().item_spacing.x = 4.0;
    for (k, w) in s.words.iter().enumerate() {
        if ui.available_width() < 24.0 {
            ui.weak("…").on_hover_text(s.text);
            break;
        }
        let mut text = egui::RichText::new(&w.text);
        if now == Some(k) {
            text = text.background_color(PLAYING_WORD).color(Color32::WHITE);
        } else if let Some(shade) = unsure_shade(w) {
            text = text.background_color(unsure_colour(40.0 + 120.0 * shade));
        } else if w.span().is_none() {
            text = text.italics();
        }
        let r = ui.add(egui::Label::new(text).sense(Sense::click()));
        let r = match (w.span(), w.p) {
            (Some((a, b)), Some(p)) => r.on_hover_text(format!(
                "{} – {} · probability {:.0} %",
                timestamp(a, '.'),
                timestamp(b, '.'),
                p * 100.0
            )),
            (Some((a, b)), None) => {
                r.on_hover_text(format!("{} – {}", timestamp(a, '.'), timestamp(b, '.')))
            }
            (None, _) => r.on_hover_text("no time known for this word"),
        };
        if r.clicked() {
            push(EditorIntent::Seek {
                ms: w.start_ms.unwrap_or(s.start_ms),
                play: true,
            });
        }
        // Split before this word: at the middle of the gap between it and the one before.
        let cut = match (k.checked_sub(1).and_then(|j| s.words[j].span()), w.span()) {
            (Some((_, prev_end)), Some((start, _))) if k > 0 => {
                let at = prev_end.min(start) + start.saturating_sub(prev_end) / 2;
                tokens
                    .get(k)
                    .map(|(byte, _)| (at, s.text[..*byte].chars().count()))
            }
            _ => None,
        };
        if let Some((at_ms, at_char)) = cut {
            r.context_menu(|ui| {
                if ui.button(format!("Split before “{}”", w.text)).clicked() {
                    push(EditorIntent::Edit(Edit::Split {
                        index,
                        at_ms,
                        at_char: Some(at_char),
                    }));
                    ui.close();
                }
            });
        }
    }
}

/// What is wrong with a flagged segment, a flag a line.
pub(super) fn flag_details(s: &SegmentView<'_>) -> String {
    s.flags
        .iter()
        .map(|f| f.detail.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// How unsure the model was of a word below [`words::LOW_PROBABILITY`] (0: just under it, 1:
/// not at all sure); `None` for a word it was sure of, or one with no probability.
pub(super) fn unsure_shade(w: &words::Word) -> Option<f32> {
    w.p.filter(|p| *p < words::LOW_PROBABILITY)
        .map(|p| (1.0 - p / words::LOW_PROBABILITY).clamp(0.0, 1.0))
}

/// The orange of unsure words, at this opacity (0-255).
pub(super) fn unsure_colour(alpha: f32) -> Color32 {
    Color32::from_rgba_unmultiplied(240, 150, 40, alpha as u8)
}

/// The background of the word being played.
pub(super) const PLAYING_WORD: Color32 = Color32::from_rgb(150, 120, 20);
