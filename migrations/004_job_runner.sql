-- 004: which process runs (or will run) a job. `runner` names a lock file under
-- `<data>/runners/` that its process holds (an OS lock) while it lives; a job whose runner's
-- lock is free belongs to a process that is gone, and any Verbatim process may queue it
-- again. NULL: nobody's yet (a job queued again, or one from before this migration).
ALTER TABLE transcription_jobs ADD COLUMN runner TEXT;
CREATE INDEX transcription_jobs_runner ON transcription_jobs (runner)
    WHERE status IN ('pending', 'running');
