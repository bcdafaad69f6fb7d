-- Servers the bot has been in, and their settings. Nothing here is about a person.

CREATE TABLE guilds (
    guild_id    INTEGER PRIMARY KEY,
    joined_at   TEXT NOT NULL,
    removed_at  TEXT,                      -- set when the bot leaves; data is purged after a grace period
    timezone    TEXT NOT NULL DEFAULT 'UTC',
    region      TEXT,                      -- ISO country code for crisis resources
    mod_channel_id     INTEGER,
    coordinator_role_id INTEGER,
    retention_days     INTEGER NOT NULL DEFAULT 90
);
