-- Circles (peer support groups inside a server) and members' consent to join them.

ALTER TABLE guilds ADD COLUMN purge_after_days INTEGER NOT NULL DEFAULT 30;

CREATE TABLE circles (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id            INTEGER NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    name_key            TEXT NOT NULL,           -- casefolded name: unique per server
    description         TEXT NOT NULL DEFAULT '',
    channel_id          INTEGER,                 -- NULL when the channel went missing (see /circle repair)
    channel_managed     INTEGER NOT NULL DEFAULT 0,   -- 1 if the bot created the channel
    member_role_id      INTEGER,                 -- NULL when the role went missing
    facilitator_role_id INTEGER,
    ground_rules        TEXT NOT NULL,
    is_private          INTEGER NOT NULL DEFAULT 1,
    anonymous_sharing   INTEGER NOT NULL DEFAULT 1,
    pseudonym_rotation  TEXT NOT NULL DEFAULT 'weekly'
                        CHECK (pseudonym_rotation IN ('per_post', 'daily', 'weekly', 'fixed')),
    premoderation       INTEGER NOT NULL DEFAULT 0,
    retention_days      INTEGER NOT NULL DEFAULT 90 CHECK (retention_days BETWEEN 1 AND 3650),
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created_at          TEXT NOT NULL,
    archived_at         TEXT,
    UNIQUE (guild_id, name_key)
);
CREATE INDEX circles_by_channel ON circles (channel_id);

-- A member's consent to a circle's ground rules. The role in Discord is what grants access;
-- this row records when they agreed, and is deleted when they leave.
CREATE TABLE circle_members (
    circle_id    INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    guild_id     INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    consented_at TEXT NOT NULL,
    PRIMARY KEY (circle_id, user_id)
);
CREATE INDEX circle_members_by_user ON circle_members (guild_id, user_id);
