-- 009: which process records a take (issue 28). Append-only: see 001_initial.sql.
--
-- `runner` names the lock file under `<data>/runners/` its process holds while it lives (as
-- for jobs, migration 004). A take that stopped is complete before its live text becomes
-- version 1 and its full pass is queued; a process killed in between leaves committed live
-- pieces that no transcript holds. Recovery keeps them, but only for takes whose process is
-- gone (a live one is about to do it itself). NULL: a take recorded before this migration.
ALTER TABLE recording_sessions ADD COLUMN runner TEXT;
