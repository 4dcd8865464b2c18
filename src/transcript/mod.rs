//! Transcripts without the ECS: editing (versions are made of these edits), comparing two
//! versions, export and import formats.

pub mod diff;
pub mod edit;
pub mod export;
pub mod import;
pub mod wer;
