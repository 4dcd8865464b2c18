//! Transcripts without the ECS: export formats (and, with the editor, edits and diffs).

pub mod export;
