//! The versions list (open, compare, roll back) and two versions side by side.

use bevy_egui::egui::{self, Color32, Sense, Stroke};

use super::{EditorIntent, EditorUi};
use crate::editor::{CompareDoc, Doc};
use crate::transcript::diff::{Kind, Span};
use crate::transcript::export::timestamp;

pub(super) fn versions(
    ui: &mut egui::Ui,
    doc: &Doc,
    st: &mut EditorUi,
    push: &mut impl FnMut(EditorIntent),
) {
    egui::ScrollArea::vertical()
        .id_salt("versions")
        .max_height(110.0)
        .show(ui, |ui| {
            for v in doc.versions.iter().rev() {
                ui.horizontal(|ui| {
                    let open = v.number == doc.version.number;
                    let label = format!(
                        "{}v{}  {}  {}  {}  {} segments  {}",
                        if v.is_current { "★ " } else { "" },
                        v.number,
                        super::super::library_panel::format_time(v.created_at),
                        v.source.as_str(),
                        v.model
                            .as_deref()
                            .or(v.author.as_deref())
                            .map(short)
                            .unwrap_or_else(|| "-".into()),
                        v.segment_count,
                        v.note.as_deref().unwrap_or("")
                    );
                    if ui.selectable_label(open, label).clicked() && !open {
                        push(EditorIntent::OpenVersion(v.number));
                    }
                    if !v.is_current && ui.small_button("Roll back").clicked() {
                        push(EditorIntent::Rollback(v.number));
                    }
                    match st.compare_left {
                        Some(l) if l != v.number => {
                            if ui.small_button(format!("Compare with v{l}")).clicked() {
                                push(EditorIntent::Compare {
                                    left: l.min(v.number),
                                    right: l.max(v.number),
                                });
                                st.compare_left = None;
                            }
                        }
                        Some(_) => {
                            if ui.small_button("Cancel compare").clicked() {
                                st.compare_left = None;
                            }
                        }
                        None => {
                            if ui.small_button("Compare…").clicked() {
                                st.compare_left = Some(v.number);
                            }
                        }
                    }
                });
            }
        });
}

fn short(s: &str) -> String {
    std::path::Path::new(s)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| s.to_string())
}

fn span_color(kind: Kind, left: bool) -> Option<Color32> {
    match kind {
        Kind::Same => None,
        Kind::Deleted => Some(Color32::from_rgb(120, 40, 40)),
        Kind::Inserted => Some(Color32::from_rgb(30, 100, 45)),
        Kind::Changed if left => Some(Color32::from_rgb(120, 80, 20)),
        Kind::Changed => Some(Color32::from_rgb(100, 90, 20)),
    }
}

fn spans_job(spans: &[Span], left: bool, ui: &egui::Ui) -> egui::text::LayoutJob {
    let mut job = egui::text::LayoutJob::default();
    for sp in spans {
        let mut fmt = egui::TextFormat {
            font_id: egui::TextStyle::Body.resolve(ui.style()),
            color: ui.visuals().text_color(),
            ..Default::default()
        };
        if let Some(bg) = span_color(sp.kind, left) {
            fmt.background = bg;
            if sp.kind == Kind::Deleted {
                fmt.strikethrough = Stroke::new(1.0, Color32::from_gray(220));
            }
        }
        job.append(&sp.text, 0.0, fmt);
    }
    job.wrap.max_width = ui.available_width();
    job
}

/// What happened to a compared row's segments, in words (`None`: nothing but maybe text).
pub fn structure_label(r: &crate::transcript::diff::Row) -> Option<&'static str> {
    use crate::transcript::diff::Structure as S;
    Some(match r.structure {
        S::Split => "split",
        S::Merged => "merged",
        S::Regrouped => "regrouped",
        S::Added => "added",
        S::Removed => "removed",
        S::Kept if r.timing_changed => "retimed",
        S::Kept => return None,
    })
}

pub(super) fn compare_view(
    ui: &mut egui::Ui,
    cmp: &CompareDoc,
    push: &mut impl FnMut(EditorIntent),
) {
    ui.horizontal(|ui| {
        ui.strong(format!(
            "Version {} ↔ version {}",
            cmp.left.number, cmp.right.number
        ));
        ui.label(cmp.result.describe());
        if ui.button("Close compare").clicked() {
            push(EditorIntent::CloseCompare);
        }
    });
    ui.separator();
    let row_h = ui.text_style_height(&egui::TextStyle::Body) * 2.0 + 10.0;
    let half = ((ui.available_width() - 24.0) / 2.0).max(100.0);
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show_rows(ui, row_h, cmp.result.rows.len(), |ui, range| {
            for r in &cmp.result.rows[range] {
                ui.horizontal_top(|ui| {
                    for (k, (spans, time)) in
                        [(&r.left_spans, r.left_time), (&r.right_spans, r.right_time)]
                            .into_iter()
                            .enumerate()
                    {
                        ui.allocate_ui(egui::vec2(half, row_h), |ui| {
                            ui.set_width(half);
                            ui.vertical(|ui| {
                                ui.horizontal(|ui| {
                                    let n = if k == 0 { r.left.len() } else { r.right.len() };
                                    if let Some((a, b)) = time {
                                        let t = ui.add(
                                            egui::Label::new(
                                                egui::RichText::new(format!(
                                                    "{} – {}",
                                                    timestamp(a, '.'),
                                                    timestamp(b, '.')
                                                ))
                                                .monospace(),
                                            )
                                            .sense(Sense::click()),
                                        );
                                        if t.clicked() {
                                            push(EditorIntent::Seek { ms: a, play: true });
                                        }
                                        if n > 1 {
                                            ui.weak(format!("{n} segments"));
                                        }
                                    }
                                    // What happened, said once, on the right side.
                                    if k == 1
                                        && let Some(what) = structure_label(r)
                                    {
                                        ui.colored_label(Color32::from_rgb(230, 180, 60), what);
                                    }
                                });
                                let job = spans_job(spans, k == 0, ui);
                                let l = ui.add(egui::Label::new(job).sense(Sense::click()));
                                if l.clicked()
                                    && let Some((a, _)) = time
                                {
                                    push(EditorIntent::Seek { ms: a, play: true });
                                }
                            });
                        });
                    }
                });
                ui.separator();
            }
        });
}
