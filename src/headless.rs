//! The app without a window, driven frame by frame: what the CLI's commands and the tests
//! build ([`headless_app`]) and run until something holds ([`update_until`]).

use std::time::{Duration, Instant};

use bevy::prelude::*;

use crate::CorePlugin;
use crate::library::ImportFinished;
use crate::schedule::install_error_handler;

/// A headless app over the data directory: MinimalPlugins + CorePlugin, driven by hand.
pub fn headless_app(core: CorePlugin) -> App {
    let mut app = App::new();
    install_error_handler(&mut app);
    app.add_plugins((MinimalPlugins, core));
    app.finish();
    app.cleanup();
    app
}

/// Runs frames until `done` says so or `timeout` passes; false on timeout.
pub fn update_until(
    app: &mut App,
    timeout: Duration,
    mut done: impl FnMut(&mut World) -> bool,
) -> bool {
    let start = Instant::now();
    loop {
        app.update();
        if done(app.world_mut()) {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Collects import outcomes (CLI and tests).
#[derive(Resource, Default, Debug)]
pub struct ImportLog(pub Vec<ImportFinished>);

fn log_imports(mut finished: MessageReader<ImportFinished>, mut log: ResMut<ImportLog>) {
    log.0.extend(finished.read().cloned());
}

/// Adds [`ImportLog`] and the system that fills it.
pub fn track_imports(app: &mut App) {
    app.init_resource::<ImportLog>()
        .add_systems(Last, log_imports);
}
