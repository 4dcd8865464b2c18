//! Capture: everything between the input device and the take on disk.
//!
//! So far: the real-time ring between the audio callback and the writer ([`ring`]), a
//! deterministic fake device ([`fake`]) and the crash-safe take writer ([`wav`]).

pub mod devices;
pub mod fake;
pub mod ring;
pub mod wav;
