//! The transport bar under the main area, always there, like a media player's: play/pause,
//! back and forward, a position scrubber over the open file, the speed, loop the selected
//! segment, follow playback, and record / pause / stop for a take with its elapsed time.
//! With no transcript open the playback controls are greyed out and recording still works.

use bevy_egui::egui;

use super::Intent;
use super::editor::{EditorIntent, EditorUi, PlayerView};
use super::recorder_panel::{RecordIntent, record_buttons};
use crate::capture::plugin::TakeState;
use crate::transcript::export::timestamp;

/// How far the back / forward buttons move the playhead.
pub const SKIP_MS: u64 = 5_000;

/// The speeds offered (F3/F4 step by 0.1 in between).
pub const SPEEDS: &[f32] = &[0.5, 0.75, 1.0, 1.25, 1.5, 2.0];

/// The open transcript's playback as the bar sees it.
pub struct Playback<'a> {
    pub player: &'a PlayerView,
    pub duration_ms: u64,
    /// The selected segment's span (what Loop repeats).
    pub selected: Option<(u64, u64)>,
}

pub struct View<'a> {
    /// `None`: no transcript is open.
    pub playback: Option<Playback<'a>>,
    /// The current take's state and seconds recorded (`None`: none yet).
    pub take: Option<(TakeState, f64)>,
    /// The keyboard is the window's (no file dialog or settings window is open).
    pub keyboard: bool,
}

/// Draws the bar. Loop and follow are the editor's panel state (the timeline and the segment
/// list follow the playhead only while `follow` is on).
pub fn show(ui: &mut egui::Ui, view: &View<'_>, st: &mut EditorUi, out: &mut Vec<Intent>) {
    shortcuts(ui, view, out);
    // Wraps onto a second row when the window is narrow rather than cutting controls off.
    ui.horizontal_wrapped(|ui| {
        playback(ui, view.playback.as_ref(), st, out);
        ui.separator();
        record_buttons(ui, view.take, out);
    });
}

fn playback(
    ui: &mut egui::Ui,
    pb: Option<&Playback<'_>>,
    st: &mut EditorUi,
    out: &mut Vec<Intent>,
) {
    let mut push = |i: EditorIntent| out.push(Intent::Editor(i));
    let usable = pb.filter(|p| p.player.unavailable.is_none());
    let enabled = usable.is_some();
    let (pos, dur, playing, speed) = pb.map_or((0, 0, false, 1.0), |p| {
        (
            p.player.position_ms,
            p.duration_ms,
            p.player.playing,
            p.player.speed,
        )
    });
    let seek = |ms: u64| EditorIntent::Seek { ms, play: playing };
    if ui
        .add_enabled(enabled, egui::Button::new("⏮"))
        .on_hover_text("To the start")
        .clicked()
    {
        push(seek(0));
    }
    if ui
        .add_enabled(enabled, egui::Button::new("⏪"))
        .on_hover_text("Back 5 s (F1: 2 s)")
        .clicked()
    {
        push(seek(pos.saturating_sub(SKIP_MS)));
    }
    let label = if playing { "⏸ Pause" } else { "▶ Play" };
    if ui
        .add_enabled(enabled, egui::Button::new(label))
        .on_hover_text("Esc")
        .clicked()
    {
        push(EditorIntent::TogglePlay);
    }
    if ui
        .add_enabled(enabled, egui::Button::new("⏩"))
        .on_hover_text("Forward 5 s (F2: 2 s)")
        .clicked()
    {
        push(seek((pos + SKIP_MS).min(dur)));
    }
    ui.monospace(format!("{} / {}", timestamp(pos, '.'), timestamp(dur, '.')));
    let mut at = pos.min(dur);
    let scrubber = ui.add_enabled(
        enabled,
        egui::Slider::new(&mut at, 0..=dur.max(1))
            .show_value(false)
            .trailing_fill(true),
    );
    if scrubber.changed() {
        push(seek(at));
    }
    let mut chosen = speed;
    egui::ComboBox::from_id_salt("speed")
        .width(70.0)
        .selected_text(format!("{speed:.2}×"))
        .show_ui(ui, |ui| {
            for s in SPEEDS {
                ui.selectable_value(&mut chosen, *s, format!("{s:.2}×"));
            }
        })
        .response
        .on_hover_text("Playback speed (F3 / F4)");
    if enabled && (chosen - speed).abs() > f32::EPSILON {
        push(EditorIntent::SetSpeed(chosen));
    }
    let selected = pb.and_then(|p| p.selected);
    if ui
        .add_enabled(
            enabled && (selected.is_some() || st.looping),
            egui::Button::selectable(st.looping, "⟲ Loop"),
        )
        .on_hover_text("Play the selected segment over and over")
        .clicked()
    {
        st.looping = !st.looping;
        push(EditorIntent::Loop(selected.filter(|_| st.looping)));
        if st.looping
            && let Some((start, _)) = selected
        {
            push(EditorIntent::Seek {
                ms: start,
                play: true,
            });
        }
    }
    let mut follow = !st.no_follow;
    if ui
        .add_enabled(pb.is_some(), egui::Checkbox::new(&mut follow, "Follow"))
        .on_hover_text("The timeline and the segment list follow the playhead")
        .changed()
    {
        st.no_follow = !follow;
    }
    if let Some(why) = pb.and_then(|p| p.player.unavailable.as_deref()) {
        // One short line keeps the bar on one row; the reason is on hover.
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "No audio output (editing works)",
        )
        .on_hover_text(format!("Playback unavailable: {why}"));
    }
}

/// Ctrl+R records a new take or stops the one recording (not while typing).
fn shortcuts(ui: &egui::Ui, view: &View<'_>, out: &mut Vec<Intent>) {
    if !view.keyboard || ui.ctx().egui_wants_keyboard_input() {
        return;
    }
    let pressed = ui.input(|i| i.modifiers.command && i.key_pressed(egui::Key::R));
    if !pressed {
        return;
    }
    out.push(Intent::Record(match view.take.map(|(s, _)| s) {
        Some(TakeState::Recording | TakeState::Paused | TakeState::Starting) => RecordIntent::Stop,
        Some(TakeState::Stopping) => return,
        None | Some(TakeState::Finished) => RecordIntent::Start,
    }));
}
