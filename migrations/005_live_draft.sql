-- 005: the live draft of a take (issue 12). Append-only: see 001_initial.sql.
--
-- Versions gain two sources: 'live' (the text committed while recording, kept as version 1
-- of the take's transcript) and 'retranscribe' (a span transcribed again, for the self-repair
-- work). SQLite cannot change a CHECK in place, so transcript_versions is rebuilt the way
-- https://www.sqlite.org/lang_altertable.html#otheralter describes: the migrations run with
-- foreign keys off and this one checks them before it commits (rusqlite_migration's
-- foreign_key_check). Row ids are kept, so every reference stays valid. The triggers of other
-- tables that name transcript_versions are dropped first and made again after, unchanged.

DROP TRIGGER transcripts_current_version_belongs;
DROP TRIGGER segments_no_delete;
DROP TRIGGER exports_version_belongs;

CREATE TABLE transcript_versions_rebuilt (
    id                  INTEGER PRIMARY KEY CHECK (id > 0),
    transcript_id       INTEGER NOT NULL REFERENCES transcripts (id) ON DELETE CASCADE,
    number              INTEGER NOT NULL CHECK (number >= 1),
    source              TEXT    NOT NULL
                        CHECK (source IN ('model', 'edit', 'rollback', 'import', 'live', 'retranscribe')),
    based_on_version_id INTEGER REFERENCES transcript_versions (id) ON DELETE SET NULL,
    model               TEXT,
    params_json         TEXT CHECK (params_json IS NULL OR json_valid(params_json)),
    author              TEXT,
    note                TEXT,
    created_at          INTEGER NOT NULL,
    UNIQUE (transcript_id, number)
);
INSERT INTO transcript_versions_rebuilt (id, transcript_id, number, source, based_on_version_id,
                                         model, params_json, author, note, created_at)
    SELECT id, transcript_id, number, source, based_on_version_id, model, params_json, author,
           note, created_at
    FROM transcript_versions;
DROP TABLE transcript_versions;
ALTER TABLE transcript_versions_rebuilt RENAME TO transcript_versions;
CREATE INDEX transcript_versions_based_on ON transcript_versions (based_on_version_id);

CREATE TRIGGER transcript_versions_become_current
AFTER INSERT ON transcript_versions
BEGIN
    UPDATE transcripts SET current_version_id = NEW.id WHERE id = NEW.transcript_id;
END;

CREATE TRIGGER transcript_versions_immutable
BEFORE UPDATE ON transcript_versions
BEGIN
    SELECT RAISE(ABORT, 'transcript versions are immutable: save a new version instead');
END;

CREATE TRIGGER transcript_versions_no_delete
BEFORE DELETE ON transcript_versions
WHEN EXISTS (SELECT 1 FROM transcripts WHERE id = OLD.transcript_id)
BEGIN
    SELECT RAISE(ABORT, 'transcript versions are history and cannot be deleted on their own');
END;

CREATE TRIGGER transcripts_current_version_belongs
BEFORE UPDATE OF current_version_id ON transcripts
WHEN NOT EXISTS (SELECT 1 FROM transcript_versions
                 WHERE id = NEW.current_version_id AND transcript_id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'the current version must be a version of the same transcript');
END;

CREATE TRIGGER segments_no_delete
BEFORE DELETE ON segments
WHEN EXISTS (SELECT 1 FROM transcript_versions WHERE id = OLD.version_id)
BEGIN
    SELECT RAISE(ABORT, 'segments of a saved version cannot be deleted on their own');
END;

CREATE TRIGGER exports_version_belongs
BEFORE INSERT ON exports
WHEN NOT EXISTS (SELECT 1 FROM transcript_versions
                 WHERE id = NEW.version_id AND transcript_id = NEW.transcript_id)
BEGIN
    SELECT RAISE(ABORT, 'the exported version must be a version of the exported transcript');
END;

-- The text committed while a take records, persisted as it is committed, so a crash loses
-- none of it: when the take is stored (or recovered) it becomes version 1 of the take's
-- transcript. One row per committed piece; `at_ms` is the take's recorded length when the
-- piece was committed (minus a word's end: that word's caption lag).
CREATE TABLE live_pieces (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES recording_sessions (id) ON DELETE CASCADE,
    start_ms    INTEGER NOT NULL CHECK (start_ms >= 0),
    end_ms      INTEGER NOT NULL CHECK (end_ms >= start_ms),
    at_ms       INTEGER NOT NULL CHECK (at_ms >= 0),
    text        TEXT    NOT NULL,
    confidence  REAL CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
    words_json  TEXT CHECK (words_json IS NULL OR json_valid(words_json)),
    created_at  INTEGER NOT NULL
);
CREATE INDEX live_pieces_session ON live_pieces (session_id, start_ms);

-- The transcript a take's live draft became (at most one per take).
ALTER TABLE recording_sessions ADD COLUMN live_transcript_id INTEGER
    REFERENCES transcripts (id) ON DELETE SET NULL;

-- The transcript a job's result becomes a new version of; NULL: a new transcript. The
-- whole-take pass of a live take is version 2 of the draft's transcript.
ALTER TABLE transcription_jobs ADD COLUMN transcript_id INTEGER
    REFERENCES transcripts (id) ON DELETE SET NULL;

-- Marks the user set: on a committed live line while recording (session_id, the take's
-- times) or on a file (audio_file_id). The editor shows those of the file it opens, the
-- session's through recording_sessions.audio_file_id.
CREATE TABLE bookmarks (
    id              INTEGER PRIMARY KEY,
    session_id      INTEGER REFERENCES recording_sessions (id) ON DELETE CASCADE,
    audio_file_id   INTEGER REFERENCES audio_files (id) ON DELETE CASCADE,
    start_ms        INTEGER NOT NULL CHECK (start_ms >= 0),
    end_ms          INTEGER NOT NULL CHECK (end_ms >= start_ms),
    label           TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    CHECK (session_id IS NOT NULL OR audio_file_id IS NOT NULL)
);
CREATE INDEX bookmarks_session ON bookmarks (session_id);
CREATE INDEX bookmarks_audio ON bookmarks (audio_file_id);
