-- 008: unsaved edits kept while the user edits (issue 27). Append-only: see 001_initial.sql.
--
-- The editor writes the segments it holds unsaved, a second or so after each change, so a
-- crash or kill loses none of them; the next open of the transcript offers them back. One
-- draft a transcript: the newest unsaved state. Saving a version or discarding the edits
-- deletes it (in the same transaction as the save).
CREATE TABLE edit_drafts (
    transcript_id INTEGER PRIMARY KEY REFERENCES transcripts (id) ON DELETE CASCADE,
    -- The version the edits were made on.
    base_version_id INTEGER NOT NULL REFERENCES transcript_versions (id) ON DELETE CASCADE,
    -- The segments as the editor held them (JSON list of segments, as exported).
    segments_json TEXT NOT NULL CHECK (json_valid(segments_json)),
    updated_at INTEGER NOT NULL
);
