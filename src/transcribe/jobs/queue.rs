//! Queue policy: a circuit breaker per model, so a model that keeps failing stops being
//! dispatched for a growing cool-down.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;

use super::TranscribeSettings;

/// Per-model failure counts and open breakers.
#[derive(Resource, Debug, Default)]
pub struct Breakers {
    models: HashMap<String, Breaker>,
}

#[derive(Debug, Default, Clone)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    trips: u32,
}

impl Breakers {
    /// When the model's breaker is open: until when.
    pub fn open_until(&self, model: &str) -> Option<Instant> {
        self.models
            .get(model)
            .and_then(|b| b.open_until)
            .filter(|t| *t > Instant::now())
    }

    pub fn trips(&self, model: &str) -> u32 {
        self.models.get(model).map_or(0, |b| b.trips)
    }

    pub(super) fn failed(&mut self, model: &str, settings: &TranscribeSettings) {
        let b = self.models.entry(model.to_string()).or_default();
        b.failures += 1;
        if b.failures >= settings.breaker_threshold {
            let factor = 1u32 << b.trips.min(4);
            let cooldown = (settings.breaker_cooldown * factor).min(Duration::from_secs(600));
            b.open_until = Some(Instant::now() + cooldown);
            b.trips += 1;
            b.failures = 0;
            tracing::warn!(
                model,
                ?cooldown,
                "model failed {} times in a row: pausing its jobs",
                settings.breaker_threshold
            );
        }
    }

    pub(super) fn succeeded(&mut self, model: &str) {
        self.models.remove(model);
    }
}
