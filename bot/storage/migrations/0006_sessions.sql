-- Scheduled group sessions: series (the recurrence rule), their occurrences (each one a native
-- Discord event), exceptions to single occurrences, RSVPs, reminder opt-ins, who is present
-- during a session (until it closes), and anonymous feedback.

CREATE TABLE session_series (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id           INTEGER NOT NULL,
    circle_id          INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    title              TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    timezone           TEXT NOT NULL,             -- IANA zone the local times are in
    start_date         TEXT NOT NULL,             -- first local date, YYYY-MM-DD
    start_time         TEXT NOT NULL,             -- local wall-clock time, HH:MM
    duration_minutes   INTEGER NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('once', 'weekly', 'monthly')),
    weekdays           TEXT NOT NULL DEFAULT '',  -- weekly: comma-separated 0 (Monday) .. 6
    interval_weeks     INTEGER NOT NULL DEFAULT 1,
    month_week         INTEGER,                   -- monthly: 1..5, or -1 for the last
    month_weekday      INTEGER,                   -- monthly: 0 (Monday) .. 6
    channel_id         INTEGER NOT NULL,          -- where: a voice, stage or text channel
    channel_kind       TEXT NOT NULL CHECK (channel_kind IN ('voice', 'stage', 'text')),
    channel_name       TEXT NOT NULL DEFAULT '',
    reminder_offsets   TEXT NOT NULL DEFAULT '1440,15',   -- minutes before the start
    capacity           INTEGER,
    speaker_minutes    INTEGER NOT NULL DEFAULT 3,
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended', 'cancelled')),
    events_blocked     INTEGER NOT NULL DEFAULT 0,  -- 1 after telling the mods Create Events is missing
    created_at         TEXT NOT NULL,
    cancelled_at       TEXT
);
CREATE INDEX session_series_by_circle ON session_series (circle_id, status);
CREATE INDEX session_series_by_guild ON session_series (guild_id, status);

-- A skipped or moved single occurrence, by its original local date.
CREATE TABLE session_exceptions (
    series_id        INTEGER NOT NULL REFERENCES session_series (id) ON DELETE CASCADE,
    original_date    TEXT NOT NULL,
    skip             INTEGER NOT NULL DEFAULT 0,
    new_date         TEXT,
    new_time         TEXT,
    duration_minutes INTEGER,
    note             TEXT,
    PRIMARY KEY (series_id, original_date)
);

-- Occurrences made ahead of time (the next one, and any others in the coming week).
CREATE TABLE session_occurrences (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    series_id               INTEGER NOT NULL REFERENCES session_series (id) ON DELETE CASCADE,
    guild_id                INTEGER NOT NULL,
    circle_id               INTEGER NOT NULL,
    original_date           TEXT NOT NULL,
    starts_at               TEXT NOT NULL,   -- UTC
    ends_at                 TEXT NOT NULL,   -- UTC
    status                  TEXT NOT NULL DEFAULT 'scheduled'
                            CHECK (status IN ('scheduled', 'open', 'closed', 'skipped', 'cancelled', 'missed')),
    note                    TEXT,
    discord_event_id        INTEGER,
    event_status            TEXT NOT NULL DEFAULT 'none'
                            CHECK (event_status IN ('none', 'scheduled', 'active', 'completed', 'gone')),
    announce_channel_id     INTEGER,
    announce_message_id     INTEGER,
    opening_channel_id      INTEGER,
    opening_message_id      INTEGER,
    goround_message_id      INTEGER,
    goround_position        INTEGER NOT NULL DEFAULT 0,
    timer_state             TEXT NOT NULL DEFAULT 'idle' CHECK (timer_state IN ('idle', 'running', 'paused', 'done')),
    timer_ends_at           TEXT,
    timer_remaining_seconds INTEGER,
    reminders_sent          INTEGER NOT NULL DEFAULT 0,
    reminders_undelivered   INTEGER NOT NULL DEFAULT 0,  -- closed DMs: skipped quietly, counted here
    attendance_count        INTEGER,
    opened_at               TEXT,
    closed_at               TEXT,
    created_at              TEXT NOT NULL,
    UNIQUE (series_id, original_date)
);
CREATE INDEX session_occurrences_by_event ON session_occurrences (discord_event_id);
CREATE INDEX session_occurrences_by_circle ON session_occurrences (circle_id, starts_at);

-- Who is going (or waiting for a place). Kept until a day after the session.
CREATE TABLE session_rsvps (
    occurrence_id   INTEGER NOT NULL REFERENCES session_occurrences (id) ON DELETE CASCADE,
    guild_id        INTEGER NOT NULL,
    circle_id       INTEGER NOT NULL,
    user_id         INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('going', 'waitlist', 'declined')),
    via_button      INTEGER NOT NULL DEFAULT 0,
    via_interested  INTEGER NOT NULL DEFAULT 0,
    dm_closed       INTEGER NOT NULL DEFAULT 0,   -- a reminder could not be delivered (DMs closed)
    created_at      TEXT NOT NULL,               -- the place in the waitlist
    PRIMARY KEY (occurrence_id, user_id)
);
CREATE INDEX session_rsvps_by_user ON session_rsvps (guild_id, user_id);

-- Members who want reminders for every session of a circle.
CREATE TABLE session_reminder_optins (
    circle_id  INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (circle_id, user_id)
);
CREATE INDEX session_reminder_optins_by_user ON session_reminder_optins (guild_id, user_id);

-- Who pressed "I'm here" during an open session, and the go-round order. Deleted when the session
-- closes (only the count is kept).
CREATE TABLE session_presence (
    occurrence_id INTEGER NOT NULL REFERENCES session_occurrences (id) ON DELETE CASCADE,
    guild_id      INTEGER NOT NULL,
    circle_id     INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    arrived_at    TEXT NOT NULL,
    speak_order   INTEGER,
    passed        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (occurrence_id, user_id)
);
CREATE INDEX session_presence_by_user ON session_presence (guild_id, user_id);

-- Anonymous feedback: a score and an optional comment, with nothing about who gave it.
CREATE TABLE session_feedback (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    occurrence_id INTEGER NOT NULL REFERENCES session_occurrences (id) ON DELETE CASCADE,
    score         INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment       TEXT
);
CREATE INDEX session_feedback_by_occurrence ON session_feedback (occurrence_id);

-- Who already gave feedback (a keyed hash, so nobody can vote twice), kept apart from the votes:
-- no row here says which score is whose. Ordered by the hash, not by time. Deleted a week after.
CREATE TABLE session_feedback_voters (
    occurrence_id   INTEGER NOT NULL REFERENCES session_occurrences (id) ON DELETE CASCADE,
    guild_id        INTEGER NOT NULL,
    voter_user_hash TEXT NOT NULL,
    PRIMARY KEY (occurrence_id, voter_user_hash)
) WITHOUT ROWID;
CREATE INDEX session_feedback_voters_by_hash ON session_feedback_voters (guild_id, voter_user_hash);
