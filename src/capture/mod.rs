//! Capture: everything between the input device and the take on disk.
//!
//! So far: the crash-safe take writer ([`wav`]), which the capture thread feeds from the ring.

pub mod wav;
