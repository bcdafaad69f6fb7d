-- Core tables: schema bookkeeping, bot state, per-server settings, scheduled jobs.

CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

-- Small key/value facts about the bot itself (e.g. the hash of the last synced command tree).
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every scheduled thing lives here; APScheduler jobs are rebuilt from these rows at start.
CREATE TABLE scheduled_jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    run_at        TEXT NOT NULL,          -- UTC, ISO 8601
    grace_seconds INTEGER NOT NULL DEFAULT 600,
    payload       TEXT NOT NULL DEFAULT '{}',
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'done', 'missed', 'failed', 'cancelled', 'interrupted')),
    created_at    TEXT NOT NULL,
    finished_at   TEXT,
    note          TEXT
);
CREATE INDEX scheduled_jobs_pending ON scheduled_jobs (status, run_at);
