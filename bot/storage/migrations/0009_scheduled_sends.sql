-- Scheduled messages survive faults (see bot/sends.py and bot/scheduler.py).
--
-- A job that failed for a passing reason (Discord answered 429 or 5xx, the connection dropped or
-- timed out) waits for its next try within its window: it stays 'pending', with the time of the
-- next try in retry_at and the tries so far in attempts. run_at never changes: it is the
-- occurrence's identity (with the id) and where its window starts.
ALTER TABLE scheduled_jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE scheduled_jobs ADD COLUMN retry_at TEXT;
CREATE INDEX scheduled_jobs_retrying ON scheduled_jobs (retry_at) WHERE retry_at IS NOT NULL;

-- One row per message a job occurrence sends, keyed by the nonce Discord dedupes on (derived from
-- the job id, its scheduled time and what is sent to whom, so a re-run uses the same one). Written
-- before each try, so a restart knows whether Discord may already have the message:
--   sending     tried; unsure_since is the first try whose answer never came (Discord may have it)
--   sent        Discord accepted it (channel_id, message_id): a re-run doesn't send it again
--   maybe_sent  it may have gone through, and Discord's dedupe window has passed: not sent again
--   failed      Discord refused it for good (a 4xx); a later run may try again
-- No user id or text is stored here (the nonce hashes who it was for). Kept for a week (the daily
-- maintenance job deletes older rows).
CREATE TABLE scheduled_sends (
    nonce         TEXT PRIMARY KEY,
    job_id        TEXT NOT NULL,
    run_at        TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'sending'
                  CHECK (status IN ('sending', 'sent', 'maybe_sent', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    unsure_since  TEXT,
    last_error    TEXT,
    channel_id    INTEGER,
    message_id    INTEGER,
    first_try_at  TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX scheduled_sends_by_job ON scheduled_sends (job_id, run_at);
CREATE INDEX scheduled_sends_by_age ON scheduled_sends (updated_at);
