-- 012: speaker turns as an export format (issue 32). Append-only: see 001_initial.sql.
--
-- RTTM (NIST's Rich Transcription Time Marked): one SPEAKER line per segment that has a
-- speaker, as diarization scorers (pyannote.metrics, dscore) read them.
INSERT INTO export_formats (code, name, extension, mime_type) VALUES
    ('rttm', 'RTTM speaker turns', 'rttm', 'text/plain');
