//! Capture: everything between the input device and the take on disk.
//!
//! - [`stream`]: the input stream on its control thread (cpal or the fake device);
//! - [`ring`]: the real-time ring between the audio callback and the writer;
//! - [`recorder`]: the writer thread (take, overruns, peaks, session row);
//! - [`wav`]: the crash-safe take writer and its repair;
//! - [`recovery`]: interrupted takes found and repaired at start and by `verbatim recover`;
//! - [`plugin`]: the ECS side (the `RecordingSession` entity and its live analysis).

pub mod devices;
pub mod fake;
pub mod monitors;
pub mod plugin;
pub mod recorder;
pub mod recovery;
pub mod ring;
pub mod sql;
pub mod stream;
pub mod take;
pub mod wav;
pub mod writer;
