-- Transcription jobs, version 3: why the back-end that ran differs from the one asked for
-- ("this build has no GPU back-end", "the GPU failed mid-job ..."), and when the row last
-- changed. Append-only: see 001_initial.sql.
ALTER TABLE transcription_jobs ADD COLUMN backend_note TEXT;
ALTER TABLE transcription_jobs ADD COLUMN updated_at INTEGER;
