//! What stretch of the file the timeline shows: the view kept inside the file, zoomed around
//! a point, moved to bring a stretch into view; the lanes' heights and the ruler's step.

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

/// The stretch of the file the timeline shows: `(start_ms, span_ms)`, the whole file unless
/// zoomed, kept inside the file.
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
pub(super) fn tick_step(span_ms: u64, width_px: f32) -> u64 {
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
