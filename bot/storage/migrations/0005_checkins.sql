-- Check-ins: a member's own mood notes, their reminders and settings, listener requests made from
-- a check-in, and circle-level check-in prompts. Everything with a user_id is personal data and
-- takes part in /privacy export and delete (bot/storage/checkins.py).

-- The tags members may pick on a check-in: a JSON list of names; NULL means the defaults.
ALTER TABLE circles ADD COLUMN checkin_tags TEXT;

CREATE TABLE checkins (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    circle_id   INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    mood        INTEGER NOT NULL CHECK (mood BETWEEN 1 AND 5),
    note_enc    BLOB,                                    -- private note, AES-GCM under a key from SECRET_KEY
    tags        TEXT NOT NULL DEFAULT '[]',              -- JSON list, at most 3
    share_pulse INTEGER NOT NULL DEFAULT 0 CHECK (share_pulse IN (0, 1)),  -- mood (and tags) in the anonymous pulse
    timezone    TEXT NOT NULL,                           -- the member's zone when they checked in
    local_date  TEXT NOT NULL,                           -- YYYY-MM-DD in that zone
    created_at  TEXT NOT NULL,
    updated_at  TEXT,
    source_key  TEXT UNIQUE                              -- the message the mood was tapped on: a double click stores one
);
CREATE INDEX checkins_by_member ON checkins (guild_id, user_id, created_at);
CREATE INDEX checkins_for_pulse ON checkins (circle_id, share_pulse, created_at);

-- A member's own check-in settings in a server: the opt-in listener offer after low days in a row.
CREATE TABLE checkin_settings (
    guild_id            INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    listener_after_days INTEGER CHECK (listener_after_days IS NULL OR listener_after_days BETWEEN 2 AND 14),
    listener_offered_on TEXT,                            -- local date of the last offer (once per low run)
    updated_at          TEXT NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- One reminder per member per server: a wall-clock rule in the member's zone. The next UTC
-- instant is computed from it every time (so daylight-saving changes never shift it).
CREATE TABLE checkin_reminders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id      INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    circle_id     INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    local_time    TEXT NOT NULL,                         -- HH:MM
    weekdays      TEXT NOT NULL,                         -- digits, Monday = 0: '0123456' is every day
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    paused_reason TEXT CHECK (paused_reason IS NULL OR paused_reason IN ('dms_closed', 'not_in_circle', 'circle_closed')),
    notice_due    INTEGER NOT NULL DEFAULT 0,            -- tell the member once why it paused
    next_at       TEXT,                                  -- UTC; informational (the scheduled job is the truth)
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (guild_id, user_id)
);

-- "Ask a listener to reach out", made from a check-in. Pending until the listener rota routes it.
-- Holds no reason and no note: only that the member asked, in which circle, and when.
CREATE TABLE checkin_support_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id   INTEGER NOT NULL,
    circle_id  INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    checkin_id INTEGER REFERENCES checkins (id) ON DELETE SET NULL,
    status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'cancelled', 'routed', 'closed')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX checkin_support_one_pending ON checkin_support_requests (circle_id, user_id) WHERE status = 'pending';
CREATE INDEX checkin_support_by_member ON checkin_support_requests (guild_id, user_id);

-- A circle's scheduled check-in prompt (in the server's time zone). Nothing here is about a person.
CREATE TABLE checkin_prompts (
    circle_id       INTEGER PRIMARY KEY REFERENCES circles (id) ON DELETE CASCADE,
    guild_id        INTEGER NOT NULL,
    frequency       TEXT NOT NULL CHECK (frequency IN ('daily', 'weekly')),
    weekday         INTEGER CHECK (weekday IS NULL OR weekday BETWEEN 0 AND 6),
    local_time      TEXT NOT NULL,                       -- HH:MM
    last_message_id INTEGER,                             -- the latest posted prompt (replaced by the next)
    next_at         TEXT,
    updated_at      TEXT NOT NULL
);
