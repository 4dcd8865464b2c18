//! The editor's keys and the walk from one flagged segment to the next.

use bevy_egui::egui;

use super::{EditorIntent, EditorUi, KeyOwner, View, into_view};
use crate::editor::rows::SegmentRows;
use crate::transcript::edit::Edit;

/// The flagged segment after (or before) `from`, wrapping around; `from` itself counts only
/// when nothing else is flagged. `None`: no segment is flagged.
pub fn next_flagged(rows: &dyn SegmentRows, from: Option<usize>, forward: bool) -> Option<usize> {
    let n = rows.len();
    if n == 0 {
        return None;
    }
    let flagged = |i: usize| rows.row(i).is_some_and(|r| !r.flags.is_empty());
    let start = from.map_or(if forward { n - 1 } else { 0 }, |i| i.min(n - 1));
    (1..=n)
        .map(|k| {
            if forward {
                (start + k) % n
            } else {
                (start + n - k % n) % n
            }
        })
        .find(|&i| flagged(i))
}

/// Selects the next (previous) flagged segment, moves the playhead to it and scrolls to it.
pub(super) fn jump_to_flag(
    view: &View<'_>,
    st: &mut EditorUi,
    forward: bool,
    push: &mut impl FnMut(EditorIntent),
) {
    let from = view
        .doc
        .selected
        .or_else(|| view.segments.index_at(view.player.position_ms));
    if let Some(i) = next_flagged(view.segments, from, forward)
        && let Some(r) = view.segments.row(i)
    {
        push(EditorIntent::Select(Some(i)));
        push(EditorIntent::Seek {
            ms: r.start_ms,
            play: view.player.playing,
        });
        st.scroll_to = Some(i);
        // The timeline brings it into view too (zoomed in, it may be far away).
        if let Some(v) = into_view(
            view.doc.transcript.duration_ms,
            st.view,
            (r.start_ms, r.end_ms),
        ) {
            st.view = Some(v);
        }
    }
}

/// The editor's keys: only when the keyboard is the editor's (no dialog or settings window,
/// no text field); Space and Enter also not while the user has moved to a button with Tab
/// (they press it). A key acted on is consumed, so no widget drawn after acts on it too.
pub(super) fn shortcuts(
    ui: &egui::Ui,
    view: &View<'_>,
    st: &mut EditorUi,
    owner: KeyOwner,
    push: &mut impl FnMut(EditorIntent),
) {
    if !view.keyboard || owner == KeyOwner::Text {
        return;
    }
    let doc = view.doc;
    let pos = view.player.position_ms;
    let mut next_flag = None;
    let none = egui::Modifiers::NONE;
    ui.input_mut(|i| {
        let cmd = i.modifiers.command;
        if i.consume_key(none, egui::Key::Escape) {
            push(EditorIntent::TogglePlay);
        }
        if owner == KeyOwner::Editor && i.consume_key(none, egui::Key::Space) {
            push(EditorIntent::TogglePlay);
        }
        if i.key_pressed(egui::Key::F1) {
            push(EditorIntent::Seek {
                ms: pos.saturating_sub(2000),
                play: view.player.playing,
            });
        }
        if i.key_pressed(egui::Key::F2) {
            push(EditorIntent::Seek {
                ms: pos + 2000,
                play: view.player.playing,
            });
        }
        if i.key_pressed(egui::Key::F3) {
            push(EditorIntent::SetSpeed((view.player.speed - 0.1).max(0.5)));
        }
        if i.key_pressed(egui::Key::F4) {
            push(EditorIntent::SetSpeed((view.player.speed + 0.1).min(2.0)));
        }
        if i.key_pressed(egui::Key::F8) {
            next_flag = Some(!i.modifiers.shift);
        }
        if i.modifiers.alt && i.key_pressed(egui::Key::ArrowLeft) {
            push(EditorIntent::Edit(Edit::Nudge {
                at_ms: pos,
                delta_ms: -100,
            }));
        }
        if i.modifiers.alt && i.key_pressed(egui::Key::ArrowRight) {
            push(EditorIntent::Edit(Edit::Nudge {
                at_ms: pos,
                delta_ms: 100,
            }));
        }
        if owner == KeyOwner::Editor
            && let Some(idx) = view.segments.index_at(pos)
            && i.consume_key(none, egui::Key::Enter)
        {
            push(EditorIntent::Edit(Edit::Split {
                index: idx,
                at_ms: pos,
                at_char: None,
            }));
        }
        if cmd
            && i.key_pressed(egui::Key::M)
            && let Some(idx) = doc.selected
        {
            push(EditorIntent::Edit(Edit::Merge { index: idx }));
        }
        if cmd && i.key_pressed(egui::Key::S) && doc.session.dirty() {
            let note = std::mem::take(&mut st.note);
            push(EditorIntent::Save {
                note: Some(note).filter(|n| !n.trim().is_empty()),
            });
        }
        if cmd && i.key_pressed(egui::Key::Z) {
            push(if i.modifiers.shift {
                EditorIntent::Redo
            } else {
                EditorIntent::Undo
            });
        }
    });
    if let Some(forward) = next_flag {
        jump_to_flag(view, st, forward, push);
    }
}
