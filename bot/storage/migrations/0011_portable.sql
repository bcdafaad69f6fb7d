-- Portable SQL (issue 16): the same statements run on SQLite and PostgreSQL.
--
-- The waitlist order of session RSVPs was (created_at, rowid); PostgreSQL has no rowid. queued is
-- the place in line among the occurrence's RSVPs, given when the row is written (keep_place keeps
-- it). Existing rows get their place from (created_at, user_id).
ALTER TABLE session_rsvps ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
UPDATE session_rsvps SET queued = (
    SELECT COUNT(*) FROM session_rsvps r
    WHERE r.occurrence_id = session_rsvps.occurrence_id
      AND (r.created_at < session_rsvps.created_at
           OR (r.created_at = session_rsvps.created_at AND r.user_id <= session_rsvps.user_id))
);
