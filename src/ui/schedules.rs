//! Bevy's system-order ambiguity check over the window app (`verbatim --check-schedules`):
//! the headless frame has its own test (`tests/ecs.rs`); this one adds the window's schedules
//! and systems, which need a display to build.

use bevy::ecs::schedule::{InternedScheduleLabel, ScheduleLabel};
use bevy::prelude::*;
use bevy_egui::EguiPrimaryContextPass;

/// The pairs of systems, at least one of them Verbatim's, that touch the same data with no
/// order between them, in the schedules a frame of the window runs (one line each).
pub fn ambiguities(app: &mut App) -> Vec<String> {
    let labels: [InternedScheduleLabel; 5] = [
        PreUpdate.intern(),
        Update.intern(),
        PostUpdate.intern(),
        Last.intern(),
        EguiPrimaryContextPass.intern(),
    ];
    let mut found = Vec::new();
    for label in labels {
        let world = app.world_mut();
        let scoped = world.try_schedule_scope(label, |world, schedule| {
            if let Err(e) = schedule.initialize(world) {
                found.push(format!("{label:?}: the schedule does not build: {e:?}"));
                return;
            }
            // Once built, the systems live in the executable schedule, not the graph.
            let names: std::collections::HashMap<_, String> = match schedule.systems() {
                Ok(systems) => systems.map(|(k, s)| (k, s.name().to_string())).collect(),
                Err(e) => {
                    found.push(format!("{label:?}: {e}"));
                    return;
                }
            };
            let name = |k| names.get(k).cloned().unwrap_or_else(|| "?".to_owned());
            for (a, b, on) in schedule.graph().conflicting_systems().iter() {
                let (a, b) = (name(a), name(b));
                if a.starts_with("verbatim") || b.starts_with("verbatim") {
                    let on: Vec<String> = on
                        .iter()
                        .map(|id| {
                            world
                                .components()
                                .get_name(*id)
                                .map_or_else(|| format!("{id:?}"), |n| n.to_string())
                        })
                        .collect();
                    found.push(format!("{label:?}: {a} and {b} (on {})", on.join(", ")));
                }
            }
        });
        if scoped.is_err() {
            found.push(format!("{label:?}: no such schedule"));
        }
    }
    found
}
