-- 002: what the recorder keeps about a take besides its status (issue 3).
-- stop_reason: why the take ended. 'device_lost' and 'disk_full' takes are complete files
-- holding everything captured until then; 'crash' takes were repaired at the next start.
ALTER TABLE recording_sessions ADD COLUMN stop_reason TEXT
    CHECK (stop_reason IS NULL OR stop_reason IN
           ('user', 'duration', 'device_lost', 'disk_full', 'write_error', 'crash'));
-- Frames lost to overruns (the ring was full), and where: a JSON array of [frame, lost] pairs,
-- frame being the position in the take where the gap is. Drawn as xrun markers.
ALTER TABLE recording_sessions ADD COLUMN frames_dropped INTEGER NOT NULL DEFAULT 0
    CHECK (frames_dropped >= 0);
ALTER TABLE recording_sessions ADD COLUMN xruns_json TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(xruns_json));
-- Last time the recorder brought the row up to date (every 250 ms of audio while recording).
ALTER TABLE recording_sessions ADD COLUMN updated_at INTEGER;
