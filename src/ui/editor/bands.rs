//! The segment lane's blocks, and the bands of a long file seen whole drawn a pixel column at
//! a time (one look-up per column, so the cost follows the width, not the file).

use bevy_egui::egui::{self, Color32, Pos2, Rect, Stroke};

use super::{FLAG_COLOUR, Span3};
use crate::editor::rows::SegmentView;

/// One segment on the segment lane: a block from `a` to `b` (px) with the start of its text
/// when there is room, lighter when selected, outlined when flagged; its edges marked as
/// handles.
pub(super) fn segment_block(
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
    // Who speaks: a band of their colour along the block's foot.
    if let Some(who) = s.speaker {
        let band = Rect::from_min_max(
            Pos2::new(block.left(), block.bottom() - 4.0),
            Pos2::new(block.right(), block.bottom()),
        );
        painter.rect_filled(band, 1.0, super::speaker_colour(who));
    }
    if block.width() > 24.0 {
        let text = match s.speaker {
            Some(who) => format!("{who}: {}", s.text.trim()),
            None => s.text.trim().to_owned(),
        };
        let galley = painter.layout_no_wrap(text, font.clone(), Color32::WHITE);
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
pub(super) fn dense_bands(
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
pub(super) struct BandKey {
    pub(super) version: i64,
    pub(super) revision: u64,
    pub(super) view: (u64, u64),
    pub(super) left: f32,
    pub(super) top: f32,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) flagged: usize,
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
