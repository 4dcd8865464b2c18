-- 010: one re-transcription job for many spans (issue 28). Append-only: see 001_initial.sql.
--
-- `verbatim retranscribe --flagged` repairs every flagged stretch of a version in one job and
-- one new version (it queued a job, and wrote a whole version, per span). The spans, in time
-- order and disjoint, as JSON `[[from_ms, to_ms], ...]`; span_start_ms and span_end_ms
-- (migration 006) hold the first one's start and the last one's end. NULL: the one span
-- [span_start_ms, span_end_ms), as before this migration.
ALTER TABLE transcription_jobs ADD COLUMN spans_json TEXT
    CHECK (spans_json IS NULL OR json_valid(spans_json));
