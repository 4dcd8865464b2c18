//! The timeline: the waveform of the stretch in view with the segment, flags and word lanes,
//! the ruler, the bookmarks, the playhead and the spectrogram strip; zoom, scroll, seek and
//! the segment edges dragged.

use bevy_egui::egui::{self, Color32, Pos2, Rect, Sense, Stroke};

use super::bands::{BandKey, dense_bands, segment_block};
use super::segment_list::{PLAYING_WORD, flag_details, unsure_colour, unsure_shade};
use super::zoom::{tick_step, timeline_heights, visible, zoomed};
use super::{EditorIntent, EditorUi, FLAG_COLOUR, TimelineRects, View};
use crate::dsp::peaks::MinMax;
use crate::editor::rows::{SegmentRows, SegmentView};
use crate::transcript::edit::Edit;
use crate::transcript::export::timestamp;
use crate::transcript::words;

/// The timeline: the waveform of the stretch in view with the segments as bands (their edges
/// draggable), the flags as strips, the bookmarks, a word lane when the words are wide enough
/// to read, a time ruler and the playhead. Ctrl+wheel (or +/-) zooms from the whole file down
/// to 50 ms across, the wheel scrolls, a click seeks; while playing the view follows the
/// playhead. Each frame draws only what is in view: the waveform's columns come from the
/// peak pyramid's level that fits a pixel, and the segments in view are found by binary
/// search, so a 10-hour file costs what a minute does.
pub(super) fn waveform(
    ui: &mut egui::Ui,
    view: &View<'_>,
    st: &mut EditorUi,
    push: &mut impl FnMut(EditorIntent),
) {
    let dur = view.doc.transcript.duration_ms.max(1);
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
    let (g, r) = Lanes::allocate(ui, view, st, dur, (start, span));
    let painter = ui.painter_at(g.wave.union(g.words));
    painter.rect_filled(g.wave, 2.0, Color32::from_gray(18));
    painter.rect_filled(g.segments, 0.0, Color32::from_gray(22));
    painter.rect_filled(g.flags, 0.0, Color32::from_gray(16));
    painter.rect_filled(g.words, 0.0, Color32::from_gray(26));
    let dense = segment_bands(&painter, view, st, &g);
    peaks(&painter, view, &g);
    ruler(&painter, &g);
    bookmark_marks(&painter, view, &g);
    if (start..=g.end()).contains(&pos) {
        let x = g.x_of(pos);
        painter.line_segment(
            [Pos2::new(x, g.wave.top()), Pos2::new(x, g.words.bottom())],
            Stroke::new(1.5, Color32::from_rgb(250, 200, 60)),
        );
    }
    zoom_and_scroll(ui, view, &g, &r, push);
    // A click on a word, or on the spectrogram, seeks there.
    let seeks = r.words.union(r.spectrogram.clone());
    if seeks.clicked()
        && let Some(p) = seeks.interact_pointer_pos()
    {
        push(EditorIntent::Seek {
            ms: g.ms_at(p.x),
            play: view.player.playing,
        });
    }
    if drag_edges(ui, view, st, &g, &r, dense, push) {
        return;
    }
    clicks(view, &g, &r, push);
}

/// Where the timeline's lanes are on screen and the stretch of the file they show.
#[derive(Debug, Clone, Copy)]
struct Lanes {
    /// The waveform.
    wave: Rect,
    /// The segment blocks (their edges draggable).
    segments: Rect,
    /// A strip under each flagged segment.
    flags: Rect,
    /// The timed words.
    words: Rect,
    /// The view: its first ms and how many ms it spans.
    start: u64,
    span: u64,
    /// The file's duration (ms).
    dur: u64,
}

/// The lanes' answers to the pointer this frame.
struct LaneResponses {
    wave: egui::Response,
    segments: egui::Response,
    flags: egui::Response,
    words: egui::Response,
    spectrogram: egui::Response,
}

impl Lanes {
    /// The lanes laid out one under the other, the spectrogram strip under them; the rects
    /// kept in `st` for the tests and the pointer.
    fn allocate(
        ui: &mut egui::Ui,
        view: &View<'_>,
        st: &mut EditorUi,
        dur: u64,
        (start, span): (u64, u64),
    ) -> (Self, LaneResponses) {
        let width = ui.available_width().max(100.0);
        // A tall window gives the timeline more height (at 1920×1080 the list still has room).
        let (wave_h, spec_h) = timeline_heights(ui.available_height());
        let (wave, wave_r) =
            ui.allocate_exact_size(egui::vec2(width, wave_h), Sense::click_and_drag());
        let (segments, segments_r) =
            ui.allocate_exact_size(egui::vec2(width, 20.0), Sense::click_and_drag());
        let (flags, flags_r) = ui.allocate_exact_size(egui::vec2(width, 8.0), Sense::click());
        let (words, words_r) = ui.allocate_exact_size(egui::vec2(width, 18.0), Sense::click());
        st.timeline_px = width as u32;
        st.timeline_rects = Some(TimelineRects {
            wave,
            segments,
            flags,
            words,
        });
        let spectrogram = spectrogram_strip(ui, view, (start, span), egui::vec2(width, spec_h));
        let lanes = Lanes {
            wave,
            segments,
            flags,
            words,
            start,
            span,
            dur,
        };
        let responses = LaneResponses {
            wave: wave_r,
            segments: segments_r,
            flags: flags_r,
            words: words_r,
            spectrogram,
        };
        (lanes, responses)
    }

    fn end(&self) -> u64 {
        self.start + self.span
    }

    /// The x (px) of a time in the file.
    fn x_of(&self, ms: u64) -> f32 {
        self.wave.left()
            + self.wave.width() * ((ms as f64 - self.start as f64) / self.span as f64) as f32
    }

    /// The time in the file at x (px), clamped to the view.
    fn ms_at(&self, px: f32) -> u64 {
        let share = f64::from(((px - self.wave.left()) / self.wave.width()).clamp(0.0, 1.0));
        self.start + (share * self.span as f64) as u64
    }

    /// A segment's stretch on screen (clipped to the view) and its band on the waveform.
    fn band_of(&self, s: &SegmentView<'_>) -> ((f32, f32), Rect) {
        let (a, b) = (
            self.x_of(s.start_ms).max(self.wave.left()),
            self.x_of(s.end_ms).min(self.wave.right()),
        );
        let band = Rect::from_min_max(
            Pos2::new(a, self.wave.top()),
            Pos2::new(b.max(a + 1.0), self.wave.bottom()),
        );
        ((a, b), band)
    }

    /// The first segment that may be in view (the last one starting before it).
    fn first(&self, segs: &dyn SegmentRows) -> usize {
        segs.index_at(self.start).unwrap_or(0)
    }

    /// The segment under x (px), if one covers that time.
    fn segment_at(&self, segs: &dyn SegmentRows, x: f32) -> Option<usize> {
        let ms = self.ms_at(x);
        segs.index_at(ms)
            .filter(|&i| segs.row(i).is_some_and(|s| s.end_ms > ms))
    }
}

fn band_colour(selected: bool) -> Color32 {
    if selected {
        Color32::from_rgba_unmultiplied(90, 140, 220, 70)
    } else {
        Color32::from_rgba_unmultiplied(90, 140, 220, 25)
    }
}

/// The segments in view as bands on the waveform, strips on the flags lane, blocks on the
/// segment lane and their words on the word lane. More segments in view than pixels (a long
/// file seen whole): one look-up per pixel column instead of one band per segment, so the
/// cost follows the width, not the file; the answer is whether it was so (dense).
fn segment_bands(painter: &egui::Painter, view: &View<'_>, st: &mut EditorUi, g: &Lanes) -> bool {
    let (doc, segs) = (view.doc, view.segments);
    let first = g.first(segs);
    let end = g.end();
    let count = segs
        .index_at(end)
        .map_or(0, |e| e + 1)
        .saturating_sub(first);
    let dense = count as f32 > g.wave.width() / 2.0;
    if dense {
        dense_segment_bands(painter, view, st, g);
        // The selected segment over the dense bands (so a new selection redraws nothing
        // else); the words would be too narrow to show.
        if let Some(s) = doc.selected.and_then(|i| segs.row(i)) {
            let (_, band) = g.band_of(&s);
            if band.right() >= g.wave.left() && band.left() <= g.wave.right() {
                painter.rect_filled(band, 0.0, band_colour(true));
            }
        }
        return true;
    }
    let font = egui::FontId::proportional(11.0);
    let in_view = in_view_from(segs, first, end).filter(|(_, s)| s.end_ms > g.start);
    for (i, s) in in_view {
        let ((a, b), band) = g.band_of(&s);
        painter.rect_filled(band, 0.0, band_colour(doc.selected == Some(i)));
        if !s.flags.is_empty() {
            let strip = Rect::from_min_max(
                Pos2::new(band.left(), g.flags.top() + 1.0),
                Pos2::new(band.right().max(band.left() + 2.0), g.flags.bottom() - 1.0),
            );
            painter.rect_filled(strip, 1.0, FLAG_COLOUR);
        }
        segment_block(
            painter,
            g.segments,
            (a, b),
            &s,
            doc.selected == Some(i),
            &font,
        );
        word_lane(painter, g, &s, view.player.position_ms, &font);
    }
    false
}

/// The dense bands: the same picture as the last frame (playing, hovering, another
/// selection) drawn again as it was, else computed again from the segments' times.
fn dense_segment_bands(painter: &egui::Painter, view: &View<'_>, st: &mut EditorUi, g: &Lanes) {
    let (doc, segs) = (view.doc, view.segments);
    let key = BandKey {
        version: doc.version.id.0,
        revision: doc.session.revision(),
        view: (g.start, g.span),
        left: g.wave.left(),
        top: g.wave.top(),
        width: g.wave.width() as u32,
        height: g.wave.height() as u32,
        flagged: segs.flagged_count(),
    };
    if let Some((_, mesh)) = st.bands.as_ref().filter(|(k, _)| *k == key) {
        painter.add(egui::Shape::mesh(std::sync::Arc::clone(mesh)));
        return;
    }
    // The segments' times as a plain list, made once per version state: a change of view or
    // width looks each pixel column up in it by binary search.
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
        g.wave,
        g.flags,
        |px| g.ms_at(px),
        band_colour(false),
    ));
    painter.add(egui::Shape::mesh(std::sync::Arc::clone(&mesh)));
    st.bands = Some((key, mesh));
}

/// The word lane under one segment: each timed word where it is, if there is room to read it.
fn word_lane(
    painter: &egui::Painter,
    g: &Lanes,
    s: &SegmentView<'_>,
    pos: u64,
    font: &egui::FontId,
) {
    let lane = g.words;
    let playing = words::playing(s.words, pos);
    for (k, w) in s.words.iter().enumerate() {
        let Some((ws, we)) = w.span() else { continue };
        if we <= g.start || ws >= g.end() {
            continue;
        }
        let (wa, wb) = (g.x_of(ws).max(lane.left()), g.x_of(we).min(lane.right()));
        let fill = if playing == Some(k) {
            PLAYING_WORD
        } else if let Some(shade) = unsure_shade(w) {
            unsure_colour(60.0 + 140.0 * shade)
        } else {
            Color32::from_gray(70)
        };
        // A word is a box with its text where the text fits; where it does not (a long
        // stretch seen whole), a short tick: how dense the words are, and where the unsure
        // ones are, without a row of empty boxes.
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

/// The waveform's columns from the peak pyramid's level that fits a pixel.
fn peaks(painter: &egui::Painter, view: &View<'_>, g: &Lanes) {
    let rect = g.wave;
    let Some(p) = view.peaks else {
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "reading the waveform…",
            egui::FontId::proportional(12.0),
            Color32::GRAY,
        );
        return;
    };
    let px = rect.width().max(1.0) as usize;
    let spp = (g.span as f64 * 16.0) / px as f64;
    let mut cols: Vec<Option<MinMax>> = Vec::with_capacity(px);
    p.screen_columns(g.start * 16, spp, px, &mut cols);
    let mut mesh = egui::Mesh::default();
    super::super::recorder_panel::waveform_mesh(
        &cols,
        rect,
        Color32::from_rgb(90, 170, 240),
        &mut mesh,
    );
    painter.add(egui::Shape::mesh(mesh));
}

/// The ruler: ticks with times along the top.
fn ruler(painter: &egui::Painter, g: &Lanes) {
    let rect = g.wave;
    let step = tick_step(g.span, rect.width());
    let mut t = g.start.div_ceil(step) * step;
    while t <= g.end() {
        let x = g.x_of(t);
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
}

/// Bookmarks: a flag at the top of their stretch.
fn bookmark_marks(painter: &egui::Painter, view: &View<'_>, g: &Lanes) {
    let rect = g.wave;
    let mark = Color32::from_rgb(240, 120, 200);
    for b in view
        .doc
        .bookmarks
        .iter()
        .filter(|b| b.end_ms > g.start && b.start_ms < g.end())
    {
        let (a, z) = (
            g.x_of(b.start_ms),
            g.x_of(b.end_ms).max(g.x_of(b.start_ms) + 2.0),
        );
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
}

/// Zoom: Ctrl+wheel around the pointer, +/- around the playhead; the wheel scrolls.
fn zoom_and_scroll(
    ui: &egui::Ui,
    view: &View<'_>,
    g: &Lanes,
    r: &LaneResponses,
    push: &mut impl FnMut(EditorIntent),
) {
    let pos = view.player.position_ms;
    let hovered =
        r.wave.hovered() || r.segments.hovered() || r.words.hovered() || r.spectrogram.hovered();
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
    let pointer_ms = r
        .wave
        .hover_pos()
        .or(r.segments.hover_pos())
        .or(r.words.hover_pos())
        .or(r.spectrogram.hover_pos())
        .map_or(pos, |p| g.ms_at(p.x));
    let (dur, current) = (g.dur, (g.start, g.span));
    let mut next = None;
    if hovered && zoom != 1.0 {
        next = Some(zoomed(dur, current, 1.0 / f64::from(zoom), pointer_ms));
    } else if hovered && scroll != egui::Vec2::ZERO {
        let px = if scroll.x != 0.0 { scroll.x } else { scroll.y };
        let delta = (-f64::from(px) / f64::from(g.wave.width()) * g.span as f64) as i64;
        let s = g.start.saturating_add_signed(delta);
        next = Some(visible(dur, Some((s, g.span))));
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
}

/// Segment edges can be dragged, on the waveform or the segment lane: grab one within 5 px
/// (not in a long file seen whole, where many segments share a pixel). While one is dragged
/// the answer is true: the frame's other clicks are the drag's.
fn drag_edges(
    ui: &egui::Ui,
    view: &View<'_>,
    st: &mut EditorUi,
    g: &Lanes,
    r: &LaneResponses,
    dense: bool,
    push: &mut impl FnMut(EditorIntent),
) -> bool {
    let segs = view.segments;
    let (first, end) = (g.first(segs), g.end());
    let edges = r.wave.union(r.segments.clone());
    let edge_at = |x: f32| {
        in_view_from(segs, first, end)
            .filter(|(_, s)| s.end_ms > g.start)
            .flat_map(|(i, s)| [(i, false, s.start_ms), (i, true, s.end_ms)])
            .map(|(i, end, t)| ((g.x_of(t) - x).abs(), i, end))
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
    let (Some((i, end)), Some(p)) = (st.dragging, edges.interact_pointer_pos()) else {
        return false;
    };
    let rect = g.wave;
    let painter = ui.painter_at(g.wave.union(g.words));
    ui.ctx().set_cursor_icon(egui::CursorIcon::ResizeHorizontal);
    let x = p.x.clamp(rect.left(), rect.right());
    painter.line_segment(
        [Pos2::new(x, rect.top()), Pos2::new(x, g.segments.bottom())],
        Stroke::new(2.0, Color32::from_rgb(120, 220, 255)),
    );
    // Where the edge would go, as the list writes times.
    let label = timestamp(g.ms_at(x), '.');
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
            let t = g.ms_at(x);
            let (start_ms, end_ms) = if end { (s.start_ms, t) } else { (t, s.end_ms) };
            push(EditorIntent::Edit(Edit::SetTimes {
                index: i,
                start_ms,
                end_ms,
            }));
        }
        st.dragging = None;
    }
    true
}

/// The flags lane says what is wrong with the segment under the pointer, a click on it or on
/// a segment's block selects that segment, a click (or drag) on the waveform seeks.
fn clicks(view: &View<'_>, g: &Lanes, r: &LaneResponses, push: &mut impl FnMut(EditorIntent)) {
    let segs = view.segments;
    if let Some(p) = r.flags.hover_pos()
        && let Some(s) = g.segment_at(segs, p.x).and_then(|i| segs.row(i))
        && !s.flags.is_empty()
    {
        r.flags
            .clone()
            .on_hover_text_at_pointer(format!("⚠ {}", flag_details(&s)));
    }
    if r.flags.clicked()
        && let Some(p) = r.flags.interact_pointer_pos()
        && let Some(i) = g.segment_at(segs, p.x)
    {
        push(EditorIntent::Select(Some(i)));
    }
    if r.segments.clicked()
        && let Some(p) = r.segments.interact_pointer_pos()
        && let Some(i) = g.segment_at(segs, p.x)
    {
        push(EditorIntent::Select(Some(i)));
    }
    if (r.wave.clicked() || r.wave.dragged())
        && let Some(p) = r.wave.interact_pointer_pos()
    {
        push(EditorIntent::Seek {
            ms: g.ms_at(p.x),
            play: view.player.playing,
        });
    }
}

/// The segments from `first` on that start before `end` (ms), with their indices.
fn in_view_from<'a>(
    segs: &'a dyn SegmentRows,
    first: usize,
    end: u64,
) -> impl Iterator<Item = (usize, SegmentView<'a>)> + 'a {
    (first..segs.len()).map_while(move |i| segs.row(i).filter(|s| s.start_ms < end).map(|s| (i, s)))
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
        super::super::recorder_panel::frequency_labels(
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
