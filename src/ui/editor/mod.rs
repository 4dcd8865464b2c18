//! The editor panel: the audio's timeline with the segments and the playhead
//! ([`timeline`]), a virtualized segment list (click to seek and play, the playing one
//! highlighted and followed, inline text editing of the selected one: [`segment_list`]), the
//! edit tools and the keys ([`shortcuts`]), the versions list and the side-by-side
//! comparison of two versions ([`versions`]). This file holds the panel's types and lays the
//! parts out.

mod bands;
mod segment_list;
mod shortcuts;
mod timeline;
mod versions;
mod zoom;

use bevy_egui::egui::{self, Color32, Rect};

use super::Intent;
use crate::dsp::peaks::PeakPyramid;
use crate::editor::rows::SegmentRows;
use crate::editor::{CompareDoc, Doc};
use crate::storage::ids::VersionId;
use crate::transcript::edit::{Edit, SegmentKey};
use crate::transcript::export::{Format, timestamp};
use bands::BandKey;
use segment_list::segment_list;
pub use shortcuts::next_flagged;
use shortcuts::{jump_to_flag, shortcuts};
use timeline::waveform;
pub use versions::structure_label;
use versions::{compare_view, versions};
pub use zoom::{MIN_VIEW_MS, into_view, timeline_heights, visible, zoomed};

/// The colour of quality flags (the strip on the waveform, the mark in the list).
const FLAG_COLOUR: Color32 = Color32::from_rgb(240, 150, 40);

/// "Speaker: all / Ann / Bo…": the list shows only what one speaker says. The speakers are
/// read from the segments only while the menu is open (a long transcript is not scanned
/// every frame); shown once a segment has a speaker or a filter is on.
fn speaker_filter(ui: &mut egui::Ui, view: &View<'_>, st: &mut EditorUi) {
    let segs = view.segments;
    let any = st.speaker_filter.is_some()
        || view
            .doc
            .selected
            .and_then(|i| segs.row(i))
            .is_some_and(|r| r.speaker.is_some())
        || (0..segs.len().min(64)).any(|i| segs.row(i).is_some_and(|r| r.speaker.is_some()));
    if !any {
        return;
    }
    let shown = st
        .speaker_filter
        .clone()
        .unwrap_or_else(|| "all".to_owned());
    egui::ComboBox::from_id_salt("speaker filter")
        .selected_text(format!("Speaker: {shown}"))
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut st.speaker_filter, None, "all");
            let mut names: Vec<&str> = Vec::new();
            for i in 0..segs.len() {
                if let Some(w) = segs.row(i).and_then(|r| r.speaker)
                    && !names.contains(&w)
                {
                    names.push(w);
                }
            }
            for w in names {
                ui.selectable_value(
                    &mut st.speaker_filter,
                    Some(w.to_owned()),
                    egui::RichText::new(w).color(speaker_colour(w)),
                );
            }
        });
}

/// A speaker's colour: the same name, the same colour, in every transcript and session (one
/// of eight hues told apart on the dark theme, picked by the name's hash).
pub fn speaker_colour(name: &str) -> Color32 {
    const PALETTE: [Color32; 8] = [
        Color32::from_rgb(102, 194, 165),
        Color32::from_rgb(252, 141, 98),
        Color32::from_rgb(141, 160, 203),
        Color32::from_rgb(231, 138, 195),
        Color32::from_rgb(166, 216, 84),
        Color32::from_rgb(255, 217, 47),
        Color32::from_rgb(229, 196, 148),
        Color32::from_rgb(80, 180, 230),
    ];
    // FNV-1a: stable across runs and builds (std's hasher is seeded per process).
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    PALETTE[(h % PALETTE.len() as u64) as usize]
}

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
    /// Find who speaks (a new version with each segment's speaker).
    FindSpeakers,
    CancelFindSpeakers,
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
    /// The open transcript's speakers are being found: how far (0 to 1).
    pub finding_speakers: Option<f32>,
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
    /// List only what this speaker says.
    pub speaker_filter: Option<String>,
    /// The segment whose speaker is being changed (its row shows the choices).
    pub speaker_edit: Option<SegmentKey>,
    /// The new name typed for that speaker.
    pub speaker_name: String,
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
    ui.horizontal_wrapped(|ui| header(ui, doc, &mut push));
    waveform(ui, view, st, &mut push);
    bookmarks(ui, view, &mut push);
    if let Some(cmp) = view.compare {
        compare_view(ui, cmp, &mut push);
        return;
    }
    // The tool rows wrap: at 1024 px with the library shown, nothing is cut off.
    ui.horizontal_wrapped(|ui| edit_tools(ui, view, st, &mut push));
    ui.horizontal_wrapped(|ui| flag_tools(ui, view, st, &mut push));
    egui::CollapsingHeader::new(format!("Versions ({})", doc.versions.len()))
        .default_open(true)
        .show(ui, |ui| versions(ui, doc, st, &mut push));
    ui.separator();
    segment_list(ui, view, st, &mut push);
}

/// The title row: close, the title, the version and whether it has unsaved changes.
fn header(ui: &mut egui::Ui, doc: &Doc, push: &mut impl FnMut(EditorIntent)) {
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
}

/// The edit tools: split, merge, delete, insert; undo, redo; the note and save; export.
fn edit_tools(
    ui: &mut egui::Ui,
    view: &View<'_>,
    st: &mut EditorUi,
    push: &mut impl FnMut(EditorIntent),
) {
    let doc = view.doc;
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
}

/// The flags row: how many, the walk from one to the next, the filter, and re-transcribing
/// the selected or the flagged segments with a beam width.
fn flag_tools(
    ui: &mut egui::Ui,
    view: &View<'_>,
    st: &mut EditorUi,
    push: &mut impl FnMut(EditorIntent),
) {
    let doc = view.doc;
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
        jump_to_flag(view, st, false, push);
    }
    if ui
        .add_enabled(flagged > 0, egui::Button::new("Next flag ▶"))
        .on_hover_text("F8")
        .clicked()
    {
        jump_to_flag(view, st, true, push);
    }
    ui.checkbox(&mut st.flagged_only, "Only flagged segments");
    speaker_filter(ui, view, st);
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
    ui.separator();
    if let Some(done) = view.finding_speakers {
        ui.add(
            egui::ProgressBar::new(done)
                .desired_width(190.0)
                .text(format!("Finding speakers… {:.0} %", done * 100.0)),
        );
        if ui
            .button("Cancel")
            .on_hover_text("Stop finding speakers (nothing is saved)")
            .clicked()
        {
            push(EditorIntent::CancelFindSpeakers);
        }
    } else if ui
        .button("Find speakers")
        .on_hover_text(
            "Who speaks when (the speaker models in the models folder): each segment gets its \
             speaker, split where the speaker changes; the result is a new version",
        )
        .clicked()
    {
        push(EditorIntent::FindSpeakers);
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
