//! The editor panel: the audio's waveform with the segments and the playhead, a virtualized
//! segment list (click to seek and play, the playing one highlighted and followed, inline
//! text editing of the selected one), the edit tools, the versions list, and the side-by-side
//! comparison of two versions.

use bevy_egui::egui::{self, Color32, Pos2, Rect, Sense, Stroke};

use super::Intent;
use crate::dsp::peaks::{MinMax, PeakPyramid};
use crate::editor::rows::{SegmentRows, SegmentView};
use crate::editor::{CompareDoc, Doc};
use crate::storage::ids::VersionId;
use crate::transcript::diff::{Kind, Span};
use crate::transcript::edit::{Edit, SegmentKey};
use crate::transcript::export::{Format, timestamp};
use crate::transcript::words;

/// The colour of quality flags (the strip on the waveform, the mark in the list).
const FLAG_COLOUR: Color32 = Color32::from_rgb(240, 150, 40);

/// What the editor asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum EditorIntent {
    Seek {
        ms: u64,
        play: bool,
    },
    TogglePlay,
    SetSpeed(f32),
    Loop(Option<(u64, u64)>),
    Select(Option<usize>),
    Edit(Edit),
    /// The text typed into a segment's field, for that segment of that version only, and
    /// only if its text is still `base` (`EditorCommand::EditText`).
    EditText {
        version: VersionId,
        key: SegmentKey,
        base: String,
        text: String,
    },
    /// The user is typing into a segment's field (unsaved work), or stopped.
    Typing(bool),
    /// Save on top of a version saved since the edits began (after `EditorEvent::Stale`).
    SaveOnTop {
        note: Option<String>,
    },
    /// Restore the autosaved unsaved edits offered at open, or drop them.
    RestoreDraft,
    DiscardEdits,
    Undo,
    Redo,
    Save {
        note: Option<String>,
    },
    OpenVersion(u32),
    Rollback(u32),
    Compare {
        left: u32,
        right: u32,
    },
    CloseCompare,
    Export(Format),
    /// Word-level SRT (a cue per word) or VTT (a timestamp before each word).
    ExportWords(Format),
    /// Show this stretch of the file on the timeline (`(start_ms, span_ms)`; `None`: all).
    View(Option<(u64, u64)>),
    /// These spans of the open transcript transcribed again, with beam search of this width
    /// (`None`: greedy), each saved as a new version (source `retranscribe`).
    Retranscribe {
        spans: Vec<(u64, u64)>,
        beam: Option<u32>,
    },
    Close,
}

/// Playback as the panel sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerView {
    pub position_ms: u64,
    pub playing: bool,
    pub speed: f32,
    /// `Some(reason)` when playback cannot work here.
    pub unavailable: Option<String>,
}

pub struct View<'a> {
    pub doc: &'a Doc,
    /// The open version's segments (its entities in the app), in time order.
    pub segments: &'a dyn SegmentRows,
    pub compare: Option<&'a CompareDoc>,
    pub player: PlayerView,
    pub peaks: Option<&'a PeakPyramid>,
    /// The file's spectrogram picture and the stretch `(start_ms, span_ms)` it shows (it may
    /// be of the view before, while the new one is computed: it is drawn where it belongs).
    pub spectrogram: Option<(&'a egui::TextureHandle, (u64, u64))>,
    /// The keyboard is the editor's: no file dialog or settings window is over it (their
    /// Enter and Escape must not split a segment or start playback too).
    pub keyboard: bool,
}

/// The text in the selected segment's field: it belongs to one segment (`key`) of one
/// version, and was read from it as `base`. Typed text (`text != base`) is given to that
/// segment when the field is left (Enter, a click elsewhere), only if its text is still
/// `base`; an untouched field writes nothing and is read again whenever the segment changes.
#[derive(Debug, Clone, PartialEq)]
pub struct TextDraft {
    pub version: VersionId,
    pub key: SegmentKey,
    pub base: String,
    pub text: String,
}

impl EditorUi {
    /// Scrolls the segment list to segment `i` at the next frame.
    pub fn scroll_to_segment(&mut self, i: usize) {
        self.scroll_to = Some(i);
    }
}

impl TextDraft {
    /// Whether the user typed something (an unsaved change).
    pub fn typed(&self) -> bool {
        self.text != self.base
    }

    /// What leaving the field asks for: the typed text, for its segment only.
    pub fn commit(self) -> EditorIntent {
        EditorIntent::EditText {
            version: self.version,
            key: self.key,
            base: self.base,
            text: self.text,
        }
    }
}

/// Panel-only state.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EditorUi {
    /// The selected segment's text field.
    pub draft: Option<TextDraft>,
    /// What the editor was last told of typing (`EditorIntent::Typing`).
    typing_told: bool,
    /// A text field had the keyboard when the panel was last drawn: a key pressed now
    /// belongs to that field (its Enter, Escape, Space), even though a field drawn earlier in
    /// this frame (the library's search box) may have let go of the keyboard already.
    text_focus_last: bool,
    /// A version saved since the edits began: `(base, current)` (asks Save on top / Cancel).
    pub stale: Option<(u32, u32)>,
    pub note: String,
    pub compare_left: Option<u32>,
    last_followed: Option<usize>,
    /// A segment edge being dragged on the waveform: (segment, is its end).
    dragging: Option<(usize, bool)>,
    /// Looping the selected segment.
    pub looping: bool,
    /// The timeline and the list stay where they are while playing (the transport bar's
    /// Follow unticked).
    pub no_follow: bool,
    /// List only the flagged segments.
    pub flagged_only: bool,
    /// A segment to scroll the list to (after a jump to a flag).
    scroll_to: Option<usize>,
    /// The timeline's stretch in view, `(start_ms, span_ms)`; `None`: the whole file.
    pub view: Option<(u64, u64)>,
    /// The dense band columns last drawn, and what they were drawn from.
    bands: Option<(BandKey, std::sync::Arc<egui::Mesh>)>,
    /// The open version's segment times (start, end, flagged) for the dense bands, and the
    /// version state they are of (version, revision, flagged count, length).
    spans: Option<(SpansKey, Vec<Span3>)>,
    /// The timeline's width in pixels (the spectrogram is computed for it).
    pub timeline_px: u32,
    /// Where the timeline's lanes were drawn last (for tests and tools that point at them).
    pub timeline_rects: Option<TimelineRects>,
    /// The beam width a re-transcription asks for (0: not set yet, 5; 1: greedy).
    pub redo_beam: u32,
}

/// Where the timeline's lanes are on screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelineRects {
    pub wave: Rect,
    pub segments: Rect,
    pub flags: Rect,
    pub words: Rect,
}

/// A segment's start, end and whether it is flagged (the dense bands' look-up list).
type Span3 = (u64, u64, bool);
/// The version state the dense bands' look-up list is of: version, revision, flagged count,
/// number of segments.
type SpansKey = (i64, u64, usize, usize);

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
fn jump_to_flag(
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

/// Who has the keyboard this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyOwner {
    /// A text field (now, or when the panel was last drawn): every key is its.
    Text,
    /// Another widget the user moved to with Tab: Space and Enter press it.
    Widget,
    /// The editor's shortcuts.
    Editor,
}

fn key_owner(ui: &egui::Ui, st: &EditorUi) -> KeyOwner {
    let ctx = ui.ctx();
    if st.text_focus_last || ctx.text_edit_focused() {
        KeyOwner::Text
    } else if ctx.memory(|m| m.focused()).is_some() {
        KeyOwner::Widget
    } else {
        KeyOwner::Editor
    }
}

/// Whether the selected segment's field holds typed text not yet given to the editor.
pub fn typing(st: &EditorUi) -> bool {
    st.draft.as_ref().is_some_and(TextDraft::typed)
}

pub fn show(ui: &mut egui::Ui, view: &View<'_>, st: &mut EditorUi, out: &mut Vec<Intent>) {
    let owner = key_owner(ui, st);
    let first = out.len();
    show_panel(ui, view, st, owner, out);
    // Text typed into the field came before the click that left it: the field's text goes
    // to its segment before that click's command (a Split or Merge of the same segment
    // would otherwise change it under the typed text, which would then be refused).
    out[first..].sort_by_key(|i| !matches!(i, Intent::Editor(EditorIntent::EditText { .. })));
    st.text_focus_last = ui.ctx().text_edit_focused();
    let typing = typing(st);
    if typing != st.typing_told {
        st.typing_told = typing;
        out.push(Intent::Editor(EditorIntent::Typing(typing)));
    }
}

fn show_panel(
    ui: &mut egui::Ui,
    view: &View<'_>,
    st: &mut EditorUi,
    owner: KeyOwner,
    out: &mut Vec<Intent>,
) {
    let doc = view.doc;
    let mut push = |i: EditorIntent| out.push(Intent::Editor(i));
    shortcuts(ui, view, st, owner, &mut push);
    draft_offer(ui, doc, &mut push);
    stale_offer(ui, st, &mut push);
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Close")
            .on_hover_text("Close the transcript (the recorder takes the main area)")
            .clicked()
        {
            push(EditorIntent::Close);
        }
        ui.heading(
            doc.transcript
                .title
                .as_deref()
                .unwrap_or(&doc.transcript.audio_name),
        );
        ui.label(format!(
            "version {} ({}){}",
            doc.version.number,
            doc.version.source.as_str(),
            if doc.session.dirty() {
                " · unsaved changes"
            } else {
                ""
            }
        ));
    });
    waveform(ui, view, st, &mut push);
    bookmarks(ui, view, &mut push);
    if let Some(cmp) = view.compare {
        compare_view(ui, cmp, &mut push);
        return;
    }
    // The tool rows wrap: at 1024 px with the library shown, nothing is cut off.
    ui.horizontal_wrapped(|ui| {
        let sel = doc.selected;
        let pos = view.player.position_ms;
        if ui
            .button("Split at playhead")
            .on_hover_text("Enter")
            .clicked()
            && let Some(i) = view.segments.index_at(pos)
        {
            push(EditorIntent::Edit(Edit::Split {
                index: i,
                at_ms: pos,
                at_char: None,
            }));
        }
        if ui
            .button("Merge with next")
            .on_hover_text("Ctrl+M")
            .clicked()
            && let Some(i) = sel
        {
            push(EditorIntent::Edit(Edit::Merge { index: i }));
        }
        if ui.button("Delete").clicked()
            && let Some(i) = sel
        {
            push(EditorIntent::Edit(Edit::Delete { index: i }));
        }
        if ui.button("Insert after").clicked() {
            push(EditorIntent::Edit(Edit::Insert {
                after: sel,
                text: "…".into(),
            }));
        }
        ui.separator();
        if ui
            .add_enabled(doc.session.can_undo(), egui::Button::new("Undo"))
            .on_hover_text("Ctrl+Z")
            .clicked()
        {
            push(EditorIntent::Undo);
        }
        if ui
            .add_enabled(doc.session.can_redo(), egui::Button::new("Redo"))
            .on_hover_text("Ctrl+Shift+Z")
            .clicked()
        {
            push(EditorIntent::Redo);
        }
        ui.separator();
        ui.add(
            egui::TextEdit::singleline(&mut st.note)
                .hint_text("note for this version")
                .desired_width(180.0),
        );
        if ui
            .add_enabled(doc.session.dirty(), egui::Button::new("Save version"))
            .on_hover_text("Ctrl+S")
            .clicked()
        {
            let note = std::mem::take(&mut st.note);
            push(EditorIntent::Save {
                note: Some(note).filter(|n| !n.trim().is_empty()),
            });
        }
        ui.separator();
        ui.menu_button("Export", |ui| {
            for f in Format::ALL {
                if ui.button(f.code().to_uppercase()).clicked() {
                    push(EditorIntent::Export(f));
                    ui.close();
                }
            }
            ui.separator();
            if ui.button("SRT, a cue per word").clicked() {
                push(EditorIntent::ExportWords(Format::Srt));
                ui.close();
            }
            if ui.button("VTT with word times").clicked() {
                push(EditorIntent::ExportWords(Format::Vtt));
                ui.close();
            }
        });
    });
    ui.horizontal_wrapped(|ui| {
        let flagged = view.segments.flagged_count();
        ui.label(
            egui::RichText::new(format!("⚠ {flagged} flagged")).color(if flagged > 0 {
                FLAG_COLOUR
            } else {
                ui.visuals().weak_text_color()
            }),
        );
        if ui
            .add_enabled(flagged > 0, egui::Button::new("◀ Previous flag"))
            .on_hover_text("Shift+F8")
            .clicked()
        {
            jump_to_flag(view, st, false, &mut push);
        }
        if ui
            .add_enabled(flagged > 0, egui::Button::new("Next flag ▶"))
            .on_hover_text("F8")
            .clicked()
        {
            jump_to_flag(view, st, true, &mut push);
        }
        ui.checkbox(&mut st.flagged_only, "Only flagged segments");
        ui.separator();
        if st.redo_beam == 0 {
            st.redo_beam = 5;
        }
        let beam = (st.redo_beam > 1).then_some(st.redo_beam);
        let selected = doc.selected.and_then(|i| view.segments.row(i));
        if ui
            .add_enabled(
                selected.is_some(),
                egui::Button::new("Re-transcribe selected"),
            )
            .on_hover_text(
                "Transcribe the selected segment again (beam search, no text before it as \
                 context); the result is a new version, the rest stays as it is",
            )
            .clicked()
            && let Some(s) = selected
        {
            push(EditorIntent::Retranscribe {
                spans: vec![(s.start_ms, s.end_ms)],
                beam,
            });
        }
        if ui
            .add_enabled(flagged > 0, egui::Button::new("Re-transcribe flagged"))
            .on_hover_text("Each flagged segment again, one job after another")
            .clicked()
        {
            let spans = (0..view.segments.len())
                .filter_map(|i| view.segments.row(i))
                .filter(|r| !r.flags.is_empty())
                .map(|r| (r.start_ms, r.end_ms))
                .collect();
            push(EditorIntent::Retranscribe { spans, beam });
        }
        ui.add(
            egui::DragValue::new(&mut st.redo_beam)
                .range(1..=8)
                .prefix("beam "),
        )
        .on_hover_text("1: greedy decoding");
    });
    egui::CollapsingHeader::new(format!("Versions ({})", doc.versions.len()))
        .default_open(true)
        .show(ui, |ui| versions(ui, doc, st, &mut push));
    ui.separator();
    segment_list(ui, view, st, &mut push);
}

/// The editor's keys: only when the keyboard is the editor's (no dialog or settings window,
/// no text field); Space and Enter also not while the user has moved to a button with Tab
/// (they press it). A key acted on is consumed, so no widget drawn after acts on it too.
fn shortcuts(
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

/// Unsaved edits kept from an earlier session of this transcript (a crash, a kill): offered
/// back until restored or discarded.
fn draft_offer(ui: &mut egui::Ui, doc: &Doc, push: &mut impl FnMut(EditorIntent)) {
    let Some(d) = doc.draft.as_ref() else { return };
    egui::Frame::new()
        .fill(Color32::from_rgb(60, 50, 20))
        .inner_margin(4.0)
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "Unsaved edits of this transcript were kept ({} segments, made on version \
                     {}).",
                    d.segments.len(),
                    d.base_number
                ));
                if ui
                    .button("Restore them")
                    .on_hover_text("Open them as unsaved edits of the version they were made on")
                    .clicked()
                {
                    push(EditorIntent::RestoreDraft);
                }
                if ui.button("Discard them").clicked() {
                    push(EditorIntent::DiscardEdits);
                }
            });
        });
}

/// A save refused because another version was saved since the edits began: the user
/// decides (the edits stay either way).
fn stale_offer(ui: &mut egui::Ui, st: &mut EditorUi, push: &mut impl FnMut(EditorIntent)) {
    let Some((base, current)) = st.stale else {
        return;
    };
    egui::Frame::new()
        .fill(Color32::from_rgb(70, 35, 25))
        .inner_margin(4.0)
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "Not saved: version {current} was saved while you edited version {base}. \
                     Your edits are still here."
                ));
                if ui
                    .button(format!("Save on top of version {current}"))
                    .on_hover_text(
                        "Your text becomes the newest version; version {current} stays in the \
                         history (compare them there)",
                    )
                    .clicked()
                {
                    let note = std::mem::take(&mut st.note);
                    push(EditorIntent::SaveOnTop {
                        note: Some(note).filter(|n| !n.trim().is_empty()),
                    });
                    st.stale = None;
                }
                if ui.button("Not now").clicked() {
                    st.stale = None;
                }
            });
        });
}

/// The bookmarks set while the take recorded: one button each, which seeks there.
fn bookmarks(ui: &mut egui::Ui, view: &View<'_>, push: &mut impl FnMut(EditorIntent)) {
    let marks = &view.doc.bookmarks;
    if marks.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.weak("Bookmarks:");
        for b in marks {
            let label: String = b.label.chars().take(40).collect();
            let more = if label.len() < b.label.len() {
                "…"
            } else {
                ""
            };
            if ui
                .small_button(format!("🔖 {} {label}{more}", timestamp(b.start_ms, '.')))
                .on_hover_text(&b.label)
                .clicked()
            {
                push(EditorIntent::Seek {
                    ms: b.start_ms,
                    play: view.player.playing,
                });
            }
        }
    });
}

/// The segments from `first` on that start before `end` (ms), with their indices.
fn in_view_from<'a>(
    segs: &'a dyn SegmentRows,
    first: usize,
    end: u64,
) -> impl Iterator<Item = (usize, SegmentView<'a>)> + 'a {
    (first..segs.len()).map_while(move |i| segs.row(i).filter(|s| s.start_ms < end).map(|s| (i, s)))
}

/// One segment on the segment lane: a block from `a` to `b` (px) with the start of its text
/// when there is room, lighter when selected, outlined when flagged; its edges marked as
/// handles.
fn segment_block(
    painter: &egui::Painter,
    lane: Rect,
    (a, b): (f32, f32),
    s: &SegmentView<'_>,
    selected: bool,
    font: &egui::FontId,
) {
    let block = Rect::from_min_max(
        Pos2::new(a, lane.top() + 2.0),
        Pos2::new(b.max(a + 1.0), lane.bottom() - 2.0),
    );
    let fill = if selected {
        Color32::from_rgb(70, 110, 180)
    } else {
        Color32::from_rgb(44, 62, 92)
    };
    painter.rect_filled(block, 3.0, fill);
    if !s.flags.is_empty() {
        painter.rect_stroke(
            block,
            3.0,
            Stroke::new(1.0, FLAG_COLOUR),
            egui::StrokeKind::Inside,
        );
    }
    let handle = Stroke::new(2.0, Color32::from_gray(170));
    for x in [block.left() + 1.0, block.right() - 1.0] {
        painter.line_segment(
            [
                Pos2::new(x, block.top() + 3.0),
                Pos2::new(x, block.bottom() - 3.0),
            ],
            handle,
        );
    }
    if block.width() > 24.0 {
        let text = s.text.trim();
        let galley = painter.layout_no_wrap(text.to_owned(), font.clone(), Color32::WHITE);
        let clip = block.shrink2(egui::vec2(5.0, 0.0));
        painter.with_clip_rect(clip).galley(
            Pos2::new(clip.left(), block.center().y - galley.size().y / 2.0),
            galley,
            Color32::WHITE,
        );
    }
}

/// The segment bands of a long file seen whole, a pixel column at a time: each column's
/// segment found by binary search in `spans` (start, end, flagged), neighbouring columns of
/// one kind drawn as one rectangle (a run), flagged ones with a strip on the flags lane.
fn dense_bands(
    spans: &[Span3],
    rect: Rect,
    flags: Rect,
    ms_at: impl Fn(f32) -> u64,
    colour: Color32,
) -> egui::Mesh {
    let mut mesh = egui::Mesh::default();
    let mut band: Option<(f32, f32)> = None;
    let mut strip: Option<(f32, f32)> = None;
    let flush = |mesh: &mut egui::Mesh, run: Option<(f32, f32)>, flag: bool| {
        if let Some((a, z)) = run {
            let ((y0, y1), c) = if flag {
                ((flags.top() + 1.0, flags.bottom() - 1.0), FLAG_COLOUR)
            } else {
                ((rect.top(), rect.bottom()), colour)
            };
            mesh.add_colored_rect(Rect::from_min_max(Pos2::new(a, y0), Pos2::new(z, y1)), c);
        }
    };
    for px in 0..rect.width() as usize {
        let x = rect.left() + px as f32;
        let ms = ms_at(x + 0.5);
        let Some(&(_, _, flagged)) = spans
            .partition_point(|s| s.0 <= ms)
            .checked_sub(1)
            .and_then(|i| spans.get(i))
            .filter(|s| s.1 > ms)
        else {
            continue;
        };
        match &mut band {
            Some((_, z)) if *z == x => *z = x + 1.0,
            run => flush(&mut mesh, run.replace((x, x + 1.0)), false),
        }
        if flagged {
            match &mut strip {
                Some((_, z)) if *z == x => *z = x + 1.0,
                run => flush(&mut mesh, run.replace((x, x + 1.0)), true),
            }
        }
    }
    flush(&mut mesh, band, false);
    flush(&mut mesh, strip, true);
    mesh
}

/// What the timeline's dense band columns depend on: the version and its state, the view,
/// the width and the flags (the selection is drawn over them).
#[derive(Debug, Clone, Copy, PartialEq)]
struct BandKey {
    version: i64,
    revision: u64,
    view: (u64, u64),
    left: f32,
    top: f32,
    width: u32,
    height: u32,
    flagged: usize,
}

/// The spectrogram of the stretch in view, under the word lane: log-frequency rows with their
/// labels; a click seeks like the waveform.
fn spectrogram_strip(
    ui: &mut egui::Ui,
    view: &View<'_>,
    (start, span): (u64, u64),
    size: egui::Vec2,
) -> egui::Response {
    let (rect, resp) = ui.allocate_exact_size(size, Sense::click());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, Color32::from_gray(8));
    let x_of = |ms: u64| {
        rect.left() + rect.width() * ((ms as f64 - start as f64) / span.max(1) as f64) as f32
    };
    match view.spectrogram {
        Some((tex, (ps, pspan))) => {
            let r = Rect::from_x_y_ranges(x_of(ps)..=x_of(ps + pspan), rect.y_range());
            painter.image(
                tex.id(),
                r,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        None => {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "computing the spectrogram…",
                egui::FontId::proportional(11.0),
                Color32::GRAY,
            );
        }
    }
    let (lo, hi) = crate::editor::SPECTROGRAM_HZ;
    if let Ok(axis) = crate::dsp::spectrum::LogAxis::new(lo, hi, 1) {
        super::recorder_panel::frequency_labels(
            &painter,
            rect,
            &axis,
            &[
                (100.0, "100 Hz"),
                (500.0, "500 Hz"),
                (1_000.0, "1 kHz"),
                (4_000.0, "4 kHz"),
            ],
        );
    }
    let pos = view.player.position_ms;
    if (start..=start + span).contains(&pos) {
        let x = x_of(pos);
        painter.line_segment(
            [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
            Stroke::new(1.0, Color32::from_rgb(250, 200, 60)),
        );
    }
    resp
}

/// The waveform's and the spectrogram's heights for `available` pixels of editor height:
/// 90 and 64 in a 1280×800 window, growing with the window up to 200 and 140.
pub fn timeline_heights(available: f32) -> (f32, f32) {
    (
        (available * 0.16).clamp(90.0, 200.0),
        (available * 0.11).clamp(64.0, 140.0),
    )
}

/// The shortest stretch the timeline shows across its width (ms).
pub const MIN_VIEW_MS: u64 = 50;

/// The stretch of the file the timeline shows: `(start_ms, span_ms)`, the whole file unless
/// zoomed, kept inside the file.
/// The timeline's view moved so that `(start_ms, end_ms)` is in it (its start a tenth of the
/// span in), or `None` when it already is (or the whole file is shown).
pub fn into_view(
    duration_ms: u64,
    view: Option<(u64, u64)>,
    (start_ms, end_ms): (u64, u64),
) -> Option<(u64, u64)> {
    let (vs, span) = (view?.0, view?.1);
    if start_ms >= vs && end_ms.min(start_ms + span) <= vs + span {
        return None;
    }
    Some(visible(
        duration_ms,
        Some((start_ms.saturating_sub(span / 10), span)),
    ))
}

pub fn visible(duration_ms: u64, view: Option<(u64, u64)>) -> (u64, u64) {
    let dur = duration_ms.max(1);
    match view {
        Some((start, span)) => {
            let span = span.clamp(MIN_VIEW_MS.min(dur), dur);
            (start.min(dur - span), span)
        }
        None => (0, dur),
    }
}

/// The view zoomed by `factor` (< 1: in) around `at_ms`, which stays where it is on screen.
pub fn zoomed(duration_ms: u64, view: (u64, u64), factor: f64, at_ms: u64) -> (u64, u64) {
    let (start, span) = view;
    let dur = duration_ms.max(1);
    let new_span = ((span as f64 * factor).round() as u64).clamp(MIN_VIEW_MS.min(dur), dur);
    let share = (at_ms.saturating_sub(start)) as f64 / span.max(1) as f64;
    let new_start = (at_ms as f64 - share * new_span as f64).max(0.0) as u64;
    visible(dur, Some((new_start, new_span)))
}

/// A tick step for a ruler of `span_ms` over `width_px`: labels at least ~90 px apart.
fn tick_step(span_ms: u64, width_px: f32) -> u64 {
    const STEPS: [u64; 16] = [
        10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000,
        1_800_000, 3_600_000,
    ];
    let per_px = span_ms as f64 / f64::from(width_px.max(1.0));
    STEPS
        .into_iter()
        .find(|s| *s as f64 / per_px >= 90.0)
        .unwrap_or(3_600_000)
}

/// The timeline: the waveform of the stretch in view with the segments as bands (their edges
/// draggable), the flags as strips, the bookmarks, a word lane when the words are wide enough
/// to read, a time ruler and the playhead. Ctrl+wheel (or +/-) zooms from the whole file down
/// to 50 ms across, the wheel scrolls, a click seeks; while playing the view follows the
/// playhead. Each frame draws only what is in view: the waveform's columns come from the
/// peak pyramid's level that fits a pixel, and the segments in view are found by binary
/// search, so a 10-hour file costs what a minute does.
fn waveform(
    ui: &mut egui::Ui,
    view: &View<'_>,
    st: &mut EditorUi,
    push: &mut impl FnMut(EditorIntent),
) {
    let doc = view.doc;
    let dur = doc.transcript.duration_ms.max(1);
    let (start, span) = visible(dur, st.view);
    // Follow playback: a playhead leaving the view pages it on.
    let pos = view.player.position_ms;
    if view.player.playing
        && !st.no_follow
        && st.view.is_some()
        && (pos < start || pos >= start + span)
    {
        let next = visible(dur, Some((pos.saturating_sub(span / 10), span)));
        push(EditorIntent::View(Some(next)));
    }
    let width = ui.available_width().max(100.0);
    // A tall window gives the timeline more height (at 1920×1080 the list still has room).
    let (wave_h, spec_h) = timeline_heights(ui.available_height());
    let (rect, resp) = ui.allocate_exact_size(egui::vec2(width, wave_h), Sense::click_and_drag());
    // The segment lane: each segment a block with its text, its edges draggable.
    let (seg_lane, seg_resp) =
        ui.allocate_exact_size(egui::vec2(width, 20.0), Sense::click_and_drag());
    // The flags lane: a strip under each flagged segment, what is wrong on hover.
    let (flags_lane, flags_resp) = ui.allocate_exact_size(egui::vec2(width, 8.0), Sense::click());
    let (lane, lane_resp) = ui.allocate_exact_size(egui::vec2(width, 18.0), Sense::click());
    st.timeline_px = width as u32;
    st.timeline_rects = Some(TimelineRects {
        wave: rect,
        segments: seg_lane,
        flags: flags_lane,
        words: lane,
    });
    let spec_resp = spectrogram_strip(ui, view, (start, span), egui::vec2(width, spec_h));
    let painter = ui.painter_at(rect.union(lane));
    painter.rect_filled(rect, 2.0, Color32::from_gray(18));
    painter.rect_filled(seg_lane, 0.0, Color32::from_gray(22));
    painter.rect_filled(flags_lane, 0.0, Color32::from_gray(16));
    painter.rect_filled(lane, 0.0, Color32::from_gray(26));
    let x_of =
        |ms: u64| rect.left() + rect.width() * ((ms as f64 - start as f64) / span as f64) as f32;
    let ms_at = |px: f32| {
        let share = f64::from(((px - rect.left()) / rect.width()).clamp(0.0, 1.0));
        start + (share * span as f64) as u64
    };
    // The segments in view: from the last one starting before the view to the first one
    // starting after it.
    let segs = view.segments;
    let first = segs.index_at(start).unwrap_or(0);
    let end = start + span;
    let in_view = in_view_from(segs, first, end).filter(|(_, s)| s.end_ms > start);
    // A segment's stretch on screen (clipped to the view) and its band on the waveform.
    let band_of = |s: &SegmentView<'_>| {
        let (a, b) = (
            x_of(s.start_ms).max(rect.left()),
            x_of(s.end_ms).min(rect.right()),
        );
        let band = Rect::from_min_max(
            Pos2::new(a, rect.top()),
            Pos2::new(b.max(a + 1.0), rect.bottom()),
        );
        ((a, b), band)
    };
    let now_word = |s: &SegmentView<'_>| words::playing(s.words, pos);
    let font = egui::FontId::proportional(11.0);
    let band_colour = |selected: bool| {
        if selected {
            Color32::from_rgba_unmultiplied(90, 140, 220, 70)
        } else {
            Color32::from_rgba_unmultiplied(90, 140, 220, 25)
        }
    };
    // More segments in view than pixels (a long file seen whole): one look-up per pixel
    // column instead of one band per segment, so the cost follows the width, not the file.
    let count = segs
        .index_at(end)
        .map_or(0, |e| e + 1)
        .saturating_sub(first);
    let dense = count as f32 > rect.width() / 2.0;
    let key = BandKey {
        version: doc.version.id.0,
        revision: doc.session.revision(),
        view: (start, span),
        left: rect.left(),
        top: rect.top(),
        width: rect.width() as u32,
        height: rect.height() as u32,
        flagged: segs.flagged_count(),
    };
    let cached = st.bands.as_ref().filter(|(k, _)| *k == key);
    if let (true, Some((_, mesh))) = (dense, cached) {
        // The same picture as the last frame (playing, hovering, another selection): drawn
        // again as it was.
        painter.add(egui::Shape::mesh(std::sync::Arc::clone(mesh)));
    } else if dense {
        // The segments' times as a plain list, made once per version state: a change of
        // view or width looks each pixel column up in it by binary search.
        let spans_key = (key.version, key.revision, key.flagged, segs.len());
        if st.spans.as_ref().is_none_or(|(k, _)| *k != spans_key) {
            let spans = (0..segs.len())
                .filter_map(|i| segs.row(i))
                .map(|s| (s.start_ms, s.end_ms, !s.flags.is_empty()))
                .collect();
            st.spans = Some((spans_key, spans));
        }
        let spans = st.spans.as_ref().map_or(&[][..], |(_, v)| v.as_slice());
        let mesh = std::sync::Arc::new(dense_bands(
            spans,
            rect,
            flags_lane,
            ms_at,
            band_colour(false),
        ));
        painter.add(egui::Shape::mesh(std::sync::Arc::clone(&mesh)));
        st.bands = Some((key, mesh));
    }
    // The selected segment over the dense bands (so a new selection redraws nothing else).
    if let (true, Some(s)) = (dense, doc.selected.and_then(|i| segs.row(i))) {
        let (_, band) = band_of(&s);
        if band.right() >= rect.left() && band.left() <= rect.right() {
            painter.rect_filled(band, 0.0, band_colour(true));
        }
    }
    // Dense: the pixels above drew the bands, and words would be too narrow to show.
    let bands = if dense { 0 } else { usize::MAX };
    for (i, s) in in_view.take(bands) {
        let ((a, b), band) = band_of(&s);
        painter.rect_filled(band, 0.0, band_colour(doc.selected == Some(i)));
        if !s.flags.is_empty() {
            let strip = Rect::from_min_max(
                Pos2::new(band.left(), flags_lane.top() + 1.0),
                Pos2::new(
                    band.right().max(band.left() + 2.0),
                    flags_lane.bottom() - 1.0,
                ),
            );
            painter.rect_filled(strip, 1.0, FLAG_COLOUR);
        }
        segment_block(
            &painter,
            seg_lane,
            (a, b),
            &s,
            doc.selected == Some(i),
            &font,
        );
        // The word lane: each timed word where it is, if there is room to read it.
        let playing = now_word(&s);
        for (k, w) in s.words.iter().enumerate() {
            let Some((ws, we)) = w.span() else { continue };
            if we <= start || ws >= end {
                continue;
            }
            let (wa, wb) = (x_of(ws).max(lane.left()), x_of(we).min(lane.right()));
            let fill = if playing == Some(k) {
                PLAYING_WORD
            } else if let Some(shade) = unsure_shade(w) {
                unsure_colour(60.0 + 140.0 * shade)
            } else {
                Color32::from_gray(70)
            };
            // A word is a box with its text where the text fits; where it does not (a long
            // stretch seen whole), a short tick: how dense the words are, and where the
            // unsure ones are, without a row of empty boxes.
            let galley = (wb - wa >= 14.0)
                .then(|| painter.layout_no_wrap(w.text.clone(), font.clone(), Color32::WHITE))
                .filter(|g| g.size().x + 4.0 <= wb - wa - 1.0);
            let Some(galley) = galley else {
                let h = lane.height() * 0.4;
                painter.line_segment(
                    [
                        Pos2::new(wa, lane.bottom() - 1.0 - h),
                        Pos2::new(wa, lane.bottom() - 1.0),
                    ],
                    Stroke::new(1.0, fill),
                );
                continue;
            };
            let r = Rect::from_min_max(
                Pos2::new(wa, lane.top() + 1.0),
                Pos2::new(wb - 1.0, lane.bottom() - 1.0),
            );
            painter.rect_filled(r, 2.0, fill);
            painter.galley(
                Pos2::new(r.left() + 2.0, r.center().y - galley.size().y / 2.0),
                galley,
                Color32::WHITE,
            );
        }
    }
    if let Some(p) = view.peaks {
        let px = rect.width().max(1.0) as usize;
        let spp = (span as f64 * 16.0) / px as f64;
        let mut cols: Vec<Option<MinMax>> = Vec::with_capacity(px);
        p.screen_columns(start * 16, spp, px, &mut cols);
        let mut mesh = egui::Mesh::default();
        super::recorder_panel::waveform_mesh(
            &cols,
            rect,
            Color32::from_rgb(90, 170, 240),
            &mut mesh,
        );
        painter.add(egui::Shape::mesh(mesh));
    } else {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "reading the waveform…",
            egui::FontId::proportional(12.0),
            Color32::GRAY,
        );
    }
    // The ruler: ticks with times along the top.
    let step = tick_step(span, rect.width());
    let mut t = start.div_ceil(step) * step;
    while t <= end {
        let x = x_of(t);
        painter.line_segment(
            [Pos2::new(x, rect.top()), Pos2::new(x, rect.top() + 6.0)],
            Stroke::new(1.0, Color32::from_gray(140)),
        );
        let label = if step < 1_000 {
            timestamp(t, '.')
        } else {
            timestamp(t, '.')[..8].to_string()
        };
        painter.text(
            Pos2::new(x + 2.0, rect.top() + 1.0),
            egui::Align2::LEFT_TOP,
            label,
            egui::FontId::monospace(10.0),
            Color32::from_gray(150),
        );
        t += step;
    }
    // Bookmarks: a flag at the top of their stretch.
    let mark = Color32::from_rgb(240, 120, 200);
    for b in doc
        .bookmarks
        .iter()
        .filter(|b| b.end_ms > start && b.start_ms < end)
    {
        let (a, z) = (x_of(b.start_ms), x_of(b.end_ms).max(x_of(b.start_ms) + 2.0));
        painter.rect_filled(
            Rect::from_min_max(Pos2::new(a, rect.top()), Pos2::new(z, rect.top() + 5.0)),
            0.0,
            mark,
        );
        painter.line_segment(
            [Pos2::new(a, rect.top()), Pos2::new(a, rect.bottom())],
            Stroke::new(1.0, mark),
        );
    }
    if (start..=end).contains(&pos) {
        let x = x_of(pos);
        painter.line_segment(
            [Pos2::new(x, rect.top()), Pos2::new(x, lane.bottom())],
            Stroke::new(1.5, Color32::from_rgb(250, 200, 60)),
        );
    }
    // Zoom: Ctrl+wheel around the pointer, +/- around the playhead; the wheel scrolls.
    let hovered =
        resp.hovered() || seg_resp.hovered() || lane_resp.hovered() || spec_resp.hovered();
    // Asked before `input` takes its lock (asking inside it would wait on itself).
    let typing = ui.ctx().egui_wants_keyboard_input();
    let (scroll, zoom, keys) = ui.input(|i| {
        // Ctrl with + / - / 0 zooms the whole window (egui's own), not the timeline.
        let key = |k| view.keyboard && !typing && !i.modifiers.command && i.key_pressed(k);
        (
            i.smooth_scroll_delta,
            // Ctrl+wheel (and a pinch) arrive as zoom.
            i.zoom_delta(),
            (
                key(egui::Key::Plus) || key(egui::Key::Equals),
                key(egui::Key::Minus),
                key(egui::Key::Num0),
            ),
        )
    });
    let pointer_ms = resp
        .hover_pos()
        .or(seg_resp.hover_pos())
        .or(lane_resp.hover_pos())
        .or(spec_resp.hover_pos())
        .map_or(pos, |p| ms_at(p.x));
    let current = (start, span);
    let mut next = None;
    if hovered && zoom != 1.0 {
        next = Some(zoomed(dur, current, 1.0 / f64::from(zoom), pointer_ms));
    } else if hovered && scroll != egui::Vec2::ZERO {
        let px = if scroll.x != 0.0 { scroll.x } else { scroll.y };
        let delta = (-f64::from(px) / f64::from(rect.width()) * span as f64) as i64;
        let s = start.saturating_add_signed(delta);
        next = Some(visible(dur, Some((s, span))));
    }
    if keys.0 {
        next = Some(zoomed(dur, current, 0.5, pos));
    } else if keys.1 {
        next = Some(zoomed(dur, current, 2.0, pos));
    } else if keys.2 {
        push(EditorIntent::View(None));
    }
    if let Some(n) = next
        && n != current
    {
        push(EditorIntent::View(if n == (0, dur) {
            None
        } else {
            Some(n)
        }));
    }
    // A click on a word, or on the spectrogram, seeks there.
    let seeks = lane_resp.union(spec_resp);
    if seeks.clicked()
        && let Some(p) = seeks.interact_pointer_pos()
    {
        push(EditorIntent::Seek {
            ms: ms_at(p.x),
            play: view.player.playing,
        });
    }
    // Segment edges can be dragged, on the waveform or the segment lane: grab one within
    // 5 px (not in a long file seen whole, where many segments share a pixel).
    let edges = resp.union(seg_resp.clone());
    let edge_at = |x: f32| {
        in_view_from(segs, first, end)
            .filter(|(_, s)| s.end_ms > start)
            .flat_map(|(i, s)| [(i, false, s.start_ms), (i, true, s.end_ms)])
            .map(|(i, end, t)| ((x_of(t) - x).abs(), i, end))
            .filter(|(d, _, _)| *d <= 5.0)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, i, end)| (i, end))
    };
    if !dense
        && st.dragging.is_none()
        && let Some(p) = edges.hover_pos()
        && edge_at(p.x).is_some()
    {
        ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
    }
    // Where the button went down (the drag starts a few pixels later).
    if !dense
        && edges.drag_started()
        && let Some(p) = ui
            .input(|i| i.pointer.press_origin())
            .or(edges.interact_pointer_pos())
    {
        st.dragging = edge_at(p.x);
    }
    if let (Some((i, end)), Some(p)) = (st.dragging, edges.interact_pointer_pos()) {
        ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
        let x = p.x.clamp(rect.left(), rect.right());
        painter.line_segment(
            [Pos2::new(x, rect.top()), Pos2::new(x, seg_lane.bottom())],
            Stroke::new(2.0, Color32::from_rgb(120, 220, 255)),
        );
        // Where the edge would go, as the list writes times.
        let label = timestamp(ms_at(x), '.');
        let at = Pos2::new(
            (x + 6.0).min(rect.right() - 90.0).max(rect.left()),
            rect.top() + 2.0,
        );
        let galley = painter.layout_no_wrap(
            label,
            egui::FontId::monospace(12.0),
            Color32::from_rgb(120, 220, 255),
        );
        painter.rect_filled(
            egui::Rect::from_min_size(at, galley.size()).expand(2.0),
            2.0,
            Color32::from_black_alpha(200),
        );
        painter.galley(at, galley, Color32::WHITE);
        if edges.drag_stopped() {
            if let Some(s) = segs.row(i) {
                let t = ms_at(x);
                let (start_ms, end_ms) = if end { (s.start_ms, t) } else { (t, s.end_ms) };
                push(EditorIntent::Edit(Edit::SetTimes {
                    index: i,
                    start_ms,
                    end_ms,
                }));
            }
            st.dragging = None;
        }
        return;
    }
    // The flags lane says what is wrong with the segment under the pointer.
    let segment_at = |x: f32| {
        let ms = ms_at(x);
        segs.index_at(ms)
            .filter(|&i| segs.row(i).is_some_and(|s| s.end_ms > ms))
    };
    if let Some(p) = flags_resp.hover_pos()
        && let Some(s) = segment_at(p.x).and_then(|i| segs.row(i))
        && !s.flags.is_empty()
    {
        flags_resp
            .clone()
            .on_hover_text_at_pointer(format!("⚠ {}", flag_details(&s)));
    }
    if flags_resp.clicked()
        && let Some(p) = flags_resp.interact_pointer_pos()
        && let Some(i) = segment_at(p.x)
    {
        push(EditorIntent::Select(Some(i)));
    }
    // A click on a segment's block selects it.
    if seg_resp.clicked()
        && let Some(p) = seg_resp.interact_pointer_pos()
        && let Some(i) = segment_at(p.x)
    {
        push(EditorIntent::Select(Some(i)));
    }
    if (resp.clicked() || resp.dragged())
        && let Some(p) = resp.interact_pointer_pos()
    {
        push(EditorIntent::Seek {
            ms: ms_at(p.x),
            play: view.player.playing,
        });
    }
}

fn segment_list(
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
    // The rows listed: all, or the flagged ones (row k shows segment order[k]).
    let order: Option<Vec<usize>> = st.flagged_only.then(|| {
        (0..segs.len())
            .filter(|&i| segs.row(i).is_some_and(|r| !r.flags.is_empty()))
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
fn flag_details(s: &SegmentView<'_>) -> String {
    s.flags
        .iter()
        .map(|f| f.detail.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// How unsure the model was of a word below [`words::LOW_PROBABILITY`] (0: just under it, 1:
/// not at all sure); `None` for a word it was sure of, or one with no probability.
fn unsure_shade(w: &words::Word) -> Option<f32> {
    w.p.filter(|p| *p < words::LOW_PROBABILITY)
        .map(|p| (1.0 - p / words::LOW_PROBABILITY).clamp(0.0, 1.0))
}

/// The orange of unsure words, at this opacity (0-255).
fn unsure_colour(alpha: f32) -> Color32 {
    Color32::from_rgba_unmultiplied(240, 150, 40, alpha as u8)
}

/// The background of the word being played.
const PLAYING_WORD: Color32 = Color32::from_rgb(150, 120, 20);

fn versions(ui: &mut egui::Ui, doc: &Doc, st: &mut EditorUi, push: &mut impl FnMut(EditorIntent)) {
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
                        super::library_panel::format_time(v.created_at),
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

fn compare_view(ui: &mut egui::Ui, cmp: &CompareDoc, push: &mut impl FnMut(EditorIntent)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The dense bands: one rectangle per run of covered columns, a gap left open, a
    /// flagged segment's strip where it is.
    #[test]
    fn dense_bands_draw_runs_of_columns_and_leave_gaps() {
        // 100 px for 100 s: a pixel a second. Segments cover 0-40 s and 50-100 s (flagged
        // 60-70 s), with a gap at 40-50 s.
        let mut spans: Vec<Span3> = (0..40)
            .map(|s| (s * 1000, s * 1000 + 1000, false))
            .collect();
        spans.push((50_000, 60_000, false));
        spans.push((60_000, 70_000, true));
        spans.push((70_000, 100_000, false));
        let rect = Rect::from_min_size(Pos2::new(10.0, 0.0), egui::vec2(100.0, 20.0));
        let ms_at = |px: f32| ((px - 10.0) * 1000.0) as u64;
        let flags = Rect::from_min_size(Pos2::new(10.0, 40.0), egui::vec2(100.0, 8.0));
        let mesh = dense_bands(&spans, rect, flags, ms_at, Color32::WHITE);
        // Each rectangle is 4 vertices; two bands, then the strip over them.
        let rects: Vec<(f32, f32, Color32)> = mesh
            .vertices
            .chunks(4)
            .map(|v| {
                let xs = v.iter().map(|p| p.pos.x);
                (
                    xs.clone().fold(f32::MAX, f32::min),
                    xs.fold(f32::MIN, f32::max),
                    v[0].color,
                )
            })
            .collect();
        assert_eq!(
            rects,
            [
                (10.0, 50.0, Color32::WHITE),
                (60.0, 110.0, Color32::WHITE),
                (70.0, 80.0, FLAG_COLOUR),
            ]
        );
    }
}
