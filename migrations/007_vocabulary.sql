-- 007: the library's vocabulary (issue 14, "learn from corrections"). Append-only: see
-- 001_initial.sql.
--
-- Terms the user taught the library: words they corrected in a transcript (source
-- 'correction', with what the model had written in `replaced`) or typed into the list
-- (source 'user'). A job asked to use the vocabulary gets its terms as whisper's initial
-- prompt (most used first). A removed correction is kept `hidden`, so the next save of the
-- same correction does not bring it back; adding it by hand shows it again.
CREATE TABLE vocabulary (
    id INTEGER PRIMARY KEY,
    term TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(trim(term)) > 0),
    source TEXT NOT NULL CHECK (source IN ('correction', 'user')),
    replaced TEXT,
    transcript_id INTEGER REFERENCES transcripts (id) ON DELETE SET NULL,
    times INTEGER NOT NULL DEFAULT 1 CHECK (times >= 1),
    hidden INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
