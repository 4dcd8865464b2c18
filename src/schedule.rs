//! The schedule's vocabulary: the phases of a frame ([`AppSystems`]), the features that run in
//! each ([`Feature`]) and their one order ([`configure`]), and what becomes of a system that
//! fails ([`install_error_handler`]). Every plugin places its systems with these; `lib.rs`
//! only composes the plugins.

use std::sync::Mutex;

use bevy::ecs::error::{BevyError, ErrorContext};
use bevy::prelude::*;

/// The order of a frame. Chained once, by [`configure`] (in `CorePlugin`).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppSystems {
    /// Drain queues: the audio ring, worker results, database replies (one system per queue).
    Ingest,
    /// Levels, spectrum and spectrogram columns, waveform peaks.
    Analyze,
    /// Start queued transcription jobs.
    Dispatch,
    /// Turn intents into domain changes.
    Apply,
    /// Send changed entities to the database writer, one batch per frame.
    Persist,
}

impl AppSystems {
    /// This phase's systems of one feature: within a phase the features run in
    /// [`Feature`]'s order, so no two systems touching the same data run in an undefined
    /// order (the ambiguity test in `tests/ecs.rs` holds this).
    pub fn of(self, feature: Feature) -> Step {
        Step(self, feature)
    }
}

/// The features of a frame; [`configure`] orders them within each phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    Playback,
    Capture,
    Library,
    Transcripts,
    Jobs,
    Live,
    Editor,
    Window,
    Storage,
}

/// One feature's systems in one phase ([`AppSystems::of`]).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step(pub AppSystems, pub Feature);

/// Chains the phases of a frame and, within each, the features (once per app).
pub fn configure(app: &mut App) {
    let phases = [
        AppSystems::Ingest,
        AppSystems::Analyze,
        AppSystems::Dispatch,
        AppSystems::Apply,
        AppSystems::Persist,
    ];
    for pair in phases.windows(2) {
        app.configure_sets(Update, pair[1].after(pair[0]));
    }
    // Within each phase the features run in this order (a take stored by capture joins
    // the library, whose files transcripts and jobs link to, before live transcription
    // and the editor read them; the window, then the storage flush, come last).
    for phase in phases {
        use Feature::*;
        app.configure_sets(
            Update,
            (
                phase.of(Playback),
                phase.of(Capture),
                phase.of(Library),
                phase.of(Transcripts),
                phase.of(Jobs),
                phase.of(Live),
                phase.of(Editor),
                phase.of(Window),
                phase.of(Storage),
            )
                .chain()
                .in_set(phase),
        );
    }
}

/// Errors that systems returned, for the UI to show (the handler itself has no world access).
static SYSTEM_ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Installs the app's error handler: a failing system is logged and reported to the user,
/// and the app keeps running. Call once per `App`.
pub fn install_error_handler(app: &mut App) {
    app.set_error_handler(report_system_error);
}

fn report_system_error(error: BevyError, ctx: ErrorContext) {
    let message = format!("{} failed: {error}", ctx.name());
    tracing::error!("{message}");
    if let Ok(mut errors) = SYSTEM_ERRORS.lock()
        && errors.len() < 100
    {
        errors.push(message);
    }
}

/// Takes the system errors reported since the last call.
pub fn take_system_errors() -> Vec<String> {
    SYSTEM_ERRORS
        .lock()
        .map(|mut e| std::mem::take(&mut *e))
        .unwrap_or_default()
}
