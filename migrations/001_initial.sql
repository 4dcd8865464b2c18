-- Verbatim schema, version 1: the whole product's data model.
-- Append-only: never edit a migration that has shipped; add NNN_name.sql instead.
-- Times are milliseconds since the Unix epoch (UTC); durations and offsets are milliseconds.

-- Audio files, deduplicated by the SHA-256 of their bytes. `stored_path` is relative to the
-- data directory (content-addressed: audio/<aa>/<sha256>.<ext>).
CREATE TABLE audio_files (
    id              INTEGER PRIMARY KEY,
    sha256          TEXT    NOT NULL UNIQUE CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    original_name   TEXT    NOT NULL CHECK (original_name <> ''),
    original_path   TEXT,
    stored_path     TEXT    NOT NULL UNIQUE CHECK (stored_path <> ''),
    size_bytes      INTEGER NOT NULL CHECK (size_bytes > 0),
    container       TEXT    NOT NULL,
    codec           TEXT    NOT NULL,
    duration_ms     INTEGER NOT NULL CHECK (duration_ms >= 0),
    sample_rate     INTEGER NOT NULL CHECK (sample_rate > 0),
    channels        INTEGER NOT NULL CHECK (channels > 0),
    created_at      INTEGER NOT NULL
);

-- One row per take. The WAV at `file_path` is written while `status = 'recording'`; a take
-- interrupted by a crash is found at the next start and marked 'recovered'.
CREATE TABLE recording_sessions (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT,
    device_name     TEXT    NOT NULL,
    sample_rate     INTEGER NOT NULL CHECK (sample_rate > 0),
    channels        INTEGER NOT NULL CHECK (channels > 0),
    sample_format   TEXT    NOT NULL,
    file_path       TEXT    NOT NULL,
    audio_file_id   INTEGER REFERENCES audio_files (id) ON DELETE SET NULL,
    status          TEXT    NOT NULL DEFAULT 'recording'
                            CHECK (status IN ('recording', 'complete', 'recovered', 'failed')),
    frames_written  INTEGER NOT NULL DEFAULT 0 CHECK (frames_written >= 0),
    overruns        INTEGER NOT NULL DEFAULT 0 CHECK (overruns >= 0),
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    error           TEXT,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX recording_sessions_status ON recording_sessions (status);
CREATE INDEX recording_sessions_audio ON recording_sessions (audio_file_id);

-- Transcription jobs: what was asked (model, backend, language, parameters) and what happened.
CREATE TABLE transcription_jobs (
    id                  INTEGER PRIMARY KEY,
    audio_file_id       INTEGER NOT NULL REFERENCES audio_files (id) ON DELETE CASCADE,
    model               TEXT    NOT NULL,
    requested_backend   TEXT    NOT NULL DEFAULT 'auto' CHECK (requested_backend IN ('auto', 'gpu', 'cpu')),
    actual_backend      TEXT,
    language            TEXT,   -- NULL: detect
    threads             INTEGER CHECK (threads IS NULL OR threads > 0),
    params_json         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params_json)),
    status              TEXT    NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    progress            REAL    NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    created_at          INTEGER NOT NULL,
    started_at          INTEGER,
    finished_at         INTEGER,
    processing_ms       INTEGER CHECK (processing_ms IS NULL OR processing_ms >= 0),
    error               TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0)
);
CREATE INDEX transcription_jobs_audio ON transcription_jobs (audio_file_id);
CREATE INDEX transcription_jobs_status ON transcription_jobs (status);

-- A transcript of one audio file. Its text lives in immutable versions; `current_version_id`
-- names exactly one of them. It is NOT NULL and a deferred foreign key, so a transcript is
-- inserted with the placeholder 0 and its first version (the trigger below points the
-- transcript at every new version) must exist before the transaction commits.
CREATE TABLE transcripts (
    id                  INTEGER PRIMARY KEY,
    audio_file_id       INTEGER NOT NULL REFERENCES audio_files (id) ON DELETE CASCADE,
    job_id              INTEGER REFERENCES transcription_jobs (id) ON DELETE SET NULL,
    title               TEXT,
    current_version_id  INTEGER NOT NULL
                        REFERENCES transcript_versions (id) DEFERRABLE INITIALLY DEFERRED,
    created_at          INTEGER NOT NULL
);
CREATE INDEX transcripts_audio ON transcripts (audio_file_id);
CREATE INDEX transcripts_job ON transcripts (job_id);
CREATE INDEX transcripts_current ON transcripts (current_version_id);

CREATE TABLE transcript_versions (
    id                  INTEGER PRIMARY KEY CHECK (id > 0),
    transcript_id       INTEGER NOT NULL REFERENCES transcripts (id) ON DELETE CASCADE,
    number              INTEGER NOT NULL CHECK (number >= 1),
    source              TEXT    NOT NULL CHECK (source IN ('model', 'edit', 'rollback', 'import')),
    based_on_version_id INTEGER REFERENCES transcript_versions (id) ON DELETE SET NULL,
    model               TEXT,
    params_json         TEXT CHECK (params_json IS NULL OR json_valid(params_json)),
    author              TEXT,
    note                TEXT,
    created_at          INTEGER NOT NULL,
    UNIQUE (transcript_id, number)
);
CREATE INDEX transcript_versions_based_on ON transcript_versions (based_on_version_id);

CREATE TABLE segments (
    id          INTEGER PRIMARY KEY,
    version_id  INTEGER NOT NULL REFERENCES transcript_versions (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL CHECK (idx >= 0),
    start_ms    INTEGER NOT NULL CHECK (start_ms >= 0),
    end_ms      INTEGER NOT NULL CHECK (end_ms >= start_ms),
    text        TEXT    NOT NULL,
    confidence  REAL CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
    words_json  TEXT CHECK (words_json IS NULL OR json_valid(words_json)),
    speaker     TEXT,
    UNIQUE (version_id, idx)
);

-- Versions are history: a new version becomes current; nothing rewrites an old one.
CREATE TRIGGER transcript_versions_become_current
AFTER INSERT ON transcript_versions
BEGIN
    UPDATE transcripts SET current_version_id = NEW.id WHERE id = NEW.transcript_id;
END;

CREATE TRIGGER transcripts_current_version_belongs
BEFORE UPDATE OF current_version_id ON transcripts
WHEN NOT EXISTS (SELECT 1 FROM transcript_versions
                 WHERE id = NEW.current_version_id AND transcript_id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'the current version must be a version of the same transcript');
END;

CREATE TRIGGER transcripts_insert_placeholder
BEFORE INSERT ON transcripts
WHEN NEW.current_version_id <> 0
BEGIN
    SELECT RAISE(ABORT, 'a new transcript starts with current_version_id 0; insert its first version next');
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

CREATE TRIGGER segments_immutable
BEFORE UPDATE ON segments
BEGIN
    SELECT RAISE(ABORT, 'segments of a saved version are immutable: save a new version instead');
END;

CREATE TRIGGER segments_no_delete
BEFORE DELETE ON segments
WHEN EXISTS (SELECT 1 FROM transcript_versions WHERE id = OLD.version_id)
BEGIN
    SELECT RAISE(ABORT, 'segments of a saved version cannot be deleted on their own');
END;

-- Full-text search over segment text (external content: the text is stored once).
CREATE VIRTUAL TABLE segments_fts USING fts5 (
    text,
    content = 'segments',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER segments_fts_insert AFTER INSERT ON segments
BEGIN
    INSERT INTO segments_fts (rowid, text) VALUES (NEW.id, NEW.text);
END;

CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments
BEGIN
    INSERT INTO segments_fts (segments_fts, rowid, text) VALUES ('delete', OLD.id, OLD.text);
END;

-- Exports.
CREATE TABLE export_formats (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    extension   TEXT NOT NULL,
    mime_type   TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO export_formats (code, name, extension, mime_type) VALUES
    ('srt',  'SubRip subtitles',  'srt',  'application/x-subrip'),
    ('vtt',  'WebVTT subtitles',  'vtt',  'text/vtt'),
    ('json', 'Verbatim JSON',     'json', 'application/json'),
    ('txt',  'Plain text',        'txt',  'text/plain'),
    ('csv',  'CSV (one segment a row)', 'csv', 'text/csv');

CREATE TABLE exports (
    id              INTEGER PRIMARY KEY,
    transcript_id   INTEGER NOT NULL REFERENCES transcripts (id) ON DELETE CASCADE,
    version_id      INTEGER NOT NULL REFERENCES transcript_versions (id) ON DELETE CASCADE,
    format          TEXT    NOT NULL REFERENCES export_formats (code),
    path            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX exports_transcript ON exports (transcript_id);
CREATE INDEX exports_version ON exports (version_id);
CREATE INDEX exports_format ON exports (format);

CREATE TRIGGER exports_version_belongs
BEFORE INSERT ON exports
WHEN NOT EXISTS (SELECT 1 FROM transcript_versions
                 WHERE id = NEW.version_id AND transcript_id = NEW.transcript_id)
BEGIN
    SELECT RAISE(ABORT, 'the exported version must be a version of the exported transcript');
END;
