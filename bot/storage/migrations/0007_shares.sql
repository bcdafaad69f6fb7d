-- Anonymous sharing. No column here holds who wrote something in the clear:
-- *_user_hash are keyed hashes (HMAC under a key derived from SECRET_KEY, per server),
-- *_user_enc are AES-GCM encrypted ids, kept only while a feature needs them.

ALTER TABLE circles ADD COLUMN share_rate_per_hour INTEGER NOT NULL DEFAULT 5;
ALTER TABLE circles ADD COLUMN share_delay_seconds INTEGER NOT NULL DEFAULT 0;  -- 0: post at once; else a random delay up to this
ALTER TABLE circles ADD COLUMN allow_invites INTEGER NOT NULL DEFAULT 0;

CREATE TABLE shares (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id        TEXT NOT NULL UNIQUE,        -- random; the only id in custom_ids
    guild_id         INTEGER NOT NULL,
    circle_id        INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    author_user_hash BLOB,                        -- NULL once unlinked (privacy delete)
    author_user_enc  BLOB,                        -- only while needed: reply notifications or a pending review
    notify           INTEGER NOT NULL DEFAULT 0,
    epoch            TEXT NOT NULL,
    pseudonym        TEXT NOT NULL,
    content          TEXT,                        -- the text as posted (public); NULL after retention
    content_warning  TEXT,
    risk             TEXT NOT NULL DEFAULT 'none' CHECK (risk IN ('none', 'concern', 'urgent')),
    status           TEXT NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'pending_review', 'scheduled', 'posted', 'rejected', 'removed', 'deleted')),
    channel_id       INTEGER,
    message_id       INTEGER,
    thread_id        INTEGER,
    support_count    INTEGER NOT NULL DEFAULT 0,
    reply_count      INTEGER NOT NULL DEFAULT 0,
    review_message_id INTEGER,
    created_at       TEXT NOT NULL,
    post_at          TEXT,
    posted_at        TEXT
);
CREATE INDEX shares_by_author ON shares (guild_id, author_user_hash);
CREATE INDEX shares_by_message ON shares (message_id);

CREATE TABLE share_replies (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    share_id         INTEGER NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    guild_id         INTEGER NOT NULL,
    author_user_hash BLOB,
    pseudonym        TEXT NOT NULL,
    is_author        INTEGER NOT NULL DEFAULT 0,
    message_id       INTEGER,
    created_at       TEXT NOT NULL
);
CREATE INDEX share_replies_by_message ON share_replies (message_id);

-- Who already sent support (so each person counts once); the count is what people see.
CREATE TABLE share_supports (
    share_id            INTEGER NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    guild_id            INTEGER NOT NULL,
    supporter_user_hash BLOB NOT NULL,
    created_at          TEXT NOT NULL,
    PRIMARY KEY (share_id, supporter_user_hash)
);

-- Pseudonym assignments per circle and epoch: stable names, and collisions detected and resolved.
CREATE TABLE pseudonyms (
    circle_id        INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    guild_id         INTEGER NOT NULL,
    epoch            TEXT NOT NULL,
    member_user_hash BLOB NOT NULL,
    pseudonym        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (circle_id, epoch, member_user_hash),
    UNIQUE (circle_id, epoch, pseudonym)
);

-- Reports never record who reported; the keyed hash only stops one person reporting a post twice.
CREATE TABLE share_reports (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    share_id           INTEGER NOT NULL REFERENCES shares (id) ON DELETE CASCADE,
    guild_id           INTEGER NOT NULL,
    reporter_user_hash BLOB NOT NULL,
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'removed', 'muted', 'dismissed')),
    mod_message_id     INTEGER,
    created_at         TEXT NOT NULL,
    UNIQUE (share_id, reporter_user_hash)
);

-- Mutes are keyed on the member hash, so pseudonym rotation doesn't undo them.
CREATE TABLE share_mutes (
    guild_id         INTEGER NOT NULL,
    circle_id        INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    member_user_hash BLOB NOT NULL,
    until            TEXT,                        -- NULL: until lifted
    created_at       TEXT NOT NULL,
    PRIMARY KEY (circle_id, member_user_hash)
);
