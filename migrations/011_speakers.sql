-- 011: speakers the library remembers (issue 32). Append-only: see 001_initial.sql.
--
-- A named voice: its voiceprint is the mean of the unit CAM++ embeddings (192 little-endian
-- f32) of every window it was named on, `windows` of them, so naming it again in another
-- recording refines it. A new recording's speakers are matched to these by cosine similarity.
CREATE TABLE speakers (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    voiceprint  BLOB NOT NULL CHECK (length(voiceprint) = 768),
    windows     INTEGER NOT NULL CHECK (windows > 0),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
