-- 006: self-repair (issue 14). Append-only: see 001_initial.sql.
--
-- What the model said about its own segments, for the quality flags: whisper's probability
-- that the segment's window holds no speech, and the mean log-probability of its text tokens.
-- NULL where unknown (imports, edited text, rows from before this migration).
ALTER TABLE segments ADD COLUMN no_speech REAL
    CHECK (no_speech IS NULL OR (no_speech >= 0 AND no_speech <= 1));
ALTER TABLE segments ADD COLUMN avg_logprob REAL
    CHECK (avg_logprob IS NULL OR avg_logprob <= 0);

-- A job that transcribes one span of its file again: its result replaces the segments of
-- version `based_on_version_id` inside [span_start_ms, span_end_ms) and becomes a new
-- version (source 'retranscribe') of the job's transcript_id. NULL: a whole-file job.
ALTER TABLE transcription_jobs ADD COLUMN span_start_ms INTEGER
    CHECK (span_start_ms IS NULL OR span_start_ms >= 0);
ALTER TABLE transcription_jobs ADD COLUMN span_end_ms INTEGER
    CHECK (span_end_ms IS NULL OR span_end_ms > span_start_ms);
ALTER TABLE transcription_jobs ADD COLUMN based_on_version_id INTEGER
    REFERENCES transcript_versions (id) ON DELETE SET NULL;
