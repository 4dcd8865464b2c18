//! One screenshot of the window, checked for content and saved (the GUI smoke test).

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

use crate::capture::plugin::{RecordingSession, TakeStats};
use crate::library::LibraryState;

/// Frames to wait after the library is shown, so egui has laid everything out.
const SETTLE_FRAMES: u32 = 10;
/// Give up (and fail) after this many frames.
const MAX_FRAMES: u32 = 6000;

#[derive(Resource)]
struct Plan {
    path: PathBuf,
    settled: u32,
    frames: u32,
    requested: bool,
    /// Wait for a take with this much audio first.
    recording: bool,
    /// Wait for the editor (`Some(false)`) or its comparison (`Some(true)`).
    editor: Option<bool>,
}

/// Seconds of audio a take must hold before a recording screenshot is taken.
const RECORDED_SECONDS: f64 = 3.0;

pub(super) fn plugin(app: &mut App, path: PathBuf, recording: bool, editor: Option<bool>) {
    app.insert_resource(Plan {
        path,
        settled: 0,
        frames: 0,
        requested: false,
        recording,
        editor,
    })
    .add_systems(Update, take_when_ready);
}

#[allow(clippy::too_many_arguments)] // a Bevy system: each argument is a system param
fn take_when_ready(
    mut commands: Commands,
    mut plan: ResMut<Plan>,
    library: Res<LibraryState>,
    takes: Query<(&RecordingSession, &TakeStats)>,
    live: Query<&crate::transcribe::live::LiveTranscript>,
    live_settings: Res<crate::transcribe::live::LiveSettings>,
    editor: Res<crate::editor::Editor>,
    peaks: Res<crate::editor::DocPeaks>,
    mut exit: MessageWriter<AppExit>,
) {
    plan.frames += 1;
    if plan.frames > MAX_FRAMES {
        tracing::error!("screenshot: the window never became ready");
        exit.write(AppExit::error());
        return;
    }
    if plan.requested || !(library.loaded || library.error.is_some()) {
        return;
    }
    if plan.recording
        && !takes
            .iter()
            .any(|(s, stats)| s.seconds(stats) >= RECORDED_SECONDS)
    {
        return;
    }
    match plan.editor {
        Some(false) if editor.doc.is_none() || peaks.pyramid.is_none() => return,
        Some(true) if editor.compare.is_none() || peaks.pyramid.is_none() => return,
        _ => {}
    }
    // With live transcription on, wait for its first window of text.
    if plan.recording && live_settings.enabled && !live.iter().any(|t| t.steps >= 1) {
        return;
    }
    plan.settled += 1;
    if plan.settled < SETTLE_FRAMES {
        return;
    }
    plan.requested = true;
    let path = plan.path.clone();
    commands
        .spawn(Screenshot::primary_window())
        .observe(move |captured: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| {
            match save_checked(&captured.image, &path) {
                Ok(colors) => {
                    tracing::info!("screenshot saved to {} ({colors} distinct colours)", path.display());
                    exit.write(AppExit::Success);
                }
                Err(e) => {
                    tracing::error!("screenshot: {e}");
                    exit.write(AppExit::error());
                }
            }
        });
}

/// Saves the image as PNG after checking it is not blank. Returns its distinct colour count.
fn save_checked(image: &Image, path: &std::path::Path) -> Result<usize, String> {
    let dynamic = image
        .clone()
        .try_into_dynamic()
        .map_err(|e| format!("cannot convert the screenshot: {e}"))?;
    let rgba = dynamic.to_rgba8();
    let colors = distinct_colors(rgba.as_raw(), 4096);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    rgba.save(path)
        .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
    if colors < 8 {
        return Err(format!(
            "the screenshot is blank ({colors} distinct colours); saved anyway to {}",
            path.display()
        ));
    }
    Ok(colors)
}

/// Distinct RGBA values in `pixels`, counting up to `cap`.
pub fn distinct_colors(pixels: &[u8], cap: usize) -> usize {
    let mut seen = std::collections::HashSet::new();
    for px in pixels.chunks_exact(4) {
        seen.insert([px[0], px[1], px[2], px[3]]);
        if seen.len() >= cap {
            break;
        }
    }
    seen.len()
}
