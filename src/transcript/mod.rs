//! Transcripts without the ECS: the segment a version is made of, editing (versions are made
//! of these edits), comparing two versions, export and import formats, word error rate.

pub mod diff;
pub mod edit;
pub mod export;
pub mod flags;
pub mod import;
pub mod retranscribe;
pub mod segment;
pub mod sql;
pub mod vocabulary;
pub mod wer;
pub mod words;
pub use segment::Segment;
