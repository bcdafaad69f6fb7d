-- Listener rotas and one-on-one support.
--
-- Listeners are volunteers acting in a role: their ids are stored in the clear in the listener
-- tables (they are personal data and take part in /privacy). Members who ask for support are
-- never stored in the clear: a keyed hash (blocks, one open request at a time) and, while the
-- bot needs to reach them, their id encrypted with AES-GCM bound to the conversation.
-- Relayed message text is never stored, except encrypted in the outbox while a delivery is
-- pending; a delivered row drops its ciphertext.

-- Per-server support settings. Nothing here is about a person.
CREATE TABLE support_settings (
    guild_id               INTEGER PRIMARY KEY,
    listener_role_id       INTEGER,
    listeners_channel_id   INTEGER,                 -- the rota board, and private threads in thread mode
    auto_approve           INTEGER NOT NULL DEFAULT 0 CHECK (auto_approve IN (0, 1)),
    relay_mode             TEXT NOT NULL DEFAULT 'dm' CHECK (relay_mode IN ('dm', 'thread')),
    offer_timeout_seconds  INTEGER NOT NULL DEFAULT 300 CHECK (offer_timeout_seconds BETWEEN 60 AND 3600),
    idle_close_minutes     INTEGER NOT NULL DEFAULT 60 CHECK (idle_close_minutes BETWEEN 5 AND 1440),
    reminder_minutes       INTEGER NOT NULL DEFAULT 30 CHECK (reminder_minutes BETWEEN 0 AND 1440),
    cooldown_minutes       INTEGER NOT NULL DEFAULT 30 CHECK (cooldown_minutes BETWEEN 0 AND 1440),
    board_channel_id       INTEGER,
    board_message_id       INTEGER,
    updated_at             TEXT NOT NULL
);

-- A listener in a server: their agreement to the guidelines, approval, and wellbeing limits.
CREATE TABLE listeners (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id          TEXT NOT NULL UNIQUE,          -- random; the only listener id in custom_ids
    guild_id           INTEGER NOT NULL,
    user_id            INTEGER NOT NULL,
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'declined')),
    agreed_at          TEXT NOT NULL,
    approved_at        TEXT,
    review_message_id  INTEGER,                       -- the approval card in the moderation channel
    available_until    TEXT,                          -- ad-hoc on call until then (UTC)
    break_until        TEXT,                          -- no new requests until then
    cooldown_until     TEXT,                          -- after a heavy conversation
    max_concurrent     INTEGER NOT NULL DEFAULT 1 CHECK (max_concurrent BETWEEN 1 AND 5),
    max_weekly_hours   INTEGER CHECK (max_weekly_hours IS NULL OR max_weekly_hours BETWEEN 1 AND 80),
    reminder_minutes   INTEGER CHECK (reminder_minutes IS NULL OR reminder_minutes BETWEEN 0 AND 1440),
    debrief_opt_in     INTEGER NOT NULL DEFAULT 1 CHECK (debrief_opt_in IN (0, 1)),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (guild_id, user_id)
);

-- Time a listener spent on call outside the rota (for hours per week and /rota report).
CREATE TABLE listener_oncall (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    ended_at   TEXT NOT NULL                          -- planned end; moved earlier by /listener unavailable
);
CREATE INDEX listener_oncall_by_user ON listener_oncall (guild_id, user_id, started_at);

-- Shifts: weekly (a weekday) or one-off (a local date), at a local wall-clock time in a zone.
CREATE TABLE rota_slots (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id         INTEGER NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('weekly', 'once')),
    weekday          INTEGER CHECK (weekday IS NULL OR weekday BETWEEN 0 AND 6),
    local_date       TEXT,                            -- once: YYYY-MM-DD
    start_time       TEXT NOT NULL,                   -- HH:MM local
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes BETWEEN 30 AND 720),
    needed           INTEGER NOT NULL DEFAULT 1 CHECK (needed BETWEEN 1 AND 20),
    timezone         TEXT NOT NULL,
    label            TEXT,
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'removed')),
    created_at       TEXT NOT NULL,
    CHECK ((kind = 'weekly' AND weekday IS NOT NULL) OR (kind = 'once' AND local_date IS NOT NULL))
);
CREATE INDEX rota_slots_by_guild ON rota_slots (guild_id, status);

-- A listener on one occurrence of a slot (its original local date). Start and end are the UTC
-- instants of that occurrence, worked out from the local wall-clock time when it was taken.
CREATE TABLE rota_assignments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    slot_id       INTEGER NOT NULL REFERENCES rota_slots (id) ON DELETE CASCADE,
    guild_id      INTEGER NOT NULL,
    occurrence    TEXT NOT NULL,                      -- the occurrence's local date, YYYY-MM-DD
    user_id       INTEGER NOT NULL,
    starts_at     TEXT NOT NULL,
    ends_at       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (slot_id, occurrence, user_id)
);
CREATE INDEX rota_assignments_by_time ON rota_assignments (guild_id, starts_at);
CREATE INDEX rota_assignments_by_user ON rota_assignments (guild_id, user_id, starts_at);

-- A shift handed over (or exchanged) between two listeners, waiting for the other to accept.
CREATE TABLE rota_swaps (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id        TEXT NOT NULL UNIQUE,
    guild_id         INTEGER NOT NULL,
    from_user_id     INTEGER NOT NULL,
    to_user_id       INTEGER NOT NULL,
    slot_id          INTEGER NOT NULL REFERENCES rota_slots (id) ON DELETE CASCADE,
    occurrence       TEXT NOT NULL,
    their_slot_id    INTEGER REFERENCES rota_slots (id) ON DELETE CASCADE,   -- an exchange: theirs comes back
    their_occurrence TEXT,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),
    created_at       TEXT NOT NULL
);
CREATE INDEX rota_swaps_by_user ON rota_swaps (guild_id, to_user_id, status);

-- A request for one-on-one support, and the conversation it becomes.
CREATE TABLE support_conversations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id         TEXT NOT NULL UNIQUE,           -- random; the only id in custom_ids and job ids
    guild_id          INTEGER NOT NULL,
    circle_id         INTEGER REFERENCES circles (id) ON DELETE SET NULL,
    source            TEXT NOT NULL DEFAULT 'command' CHECK (source IN ('command', 'dm', 'checkin', 'share', 'other')),
    member_user_hash  BLOB,                           -- keyed hash: one open request, blocks. NULL once unlinked
    member_user_enc   BLOB,                           -- encrypted id, only while the bot needs to reach the member
    member_tag        TEXT NOT NULL,                  -- "Member · K7Q2"
    member_name       TEXT,                           -- only if the member chose to be named
    topic_enc         BLOB,                           -- encrypted topic, dropped when the conversation ends
    listener_user_id  INTEGER,                        -- who accepted (the current listener after a handoff)
    listener_tag      TEXT,                           -- "Listener · 7Q2X"
    status            TEXT NOT NULL DEFAULT 'waiting'
                      CHECK (status IN ('waiting', 'queued', 'active', 'closed', 'cancelled')),
    stage             INTEGER NOT NULL DEFAULT 0,     -- 0 on shift, 1 every listener, 2 coordinators, 3 long wait
    relay_mode        TEXT NOT NULL DEFAULT 'dm' CHECK (relay_mode IN ('dm', 'thread')),
    thread_id         INTEGER,
    alert_channel_id  INTEGER,                        -- the coordinators' alert (Accept button), edited when taken
    alert_message_id  INTEGER,
    handoff_open      INTEGER NOT NULL DEFAULT 0,
    handoffs          INTEGER NOT NULL DEFAULT 0,
    heavy             INTEGER NOT NULL DEFAULT 0,
    urgent_alerted_at TEXT,
    held_notice       INTEGER NOT NULL DEFAULT 0,     -- the member was told their early messages wait
    closed_by         TEXT CHECK (closed_by IS NULL OR closed_by IN ('member', 'listener', 'idle', 'block', 'coordinator', 'privacy')),
    queued_for        TEXT,                           -- queued: the next shift's start (UTC)
    created_at        TEXT NOT NULL,
    accepted_at       TEXT,
    last_activity_at  TEXT NOT NULL,
    closed_at         TEXT
);
CREATE INDEX support_conversations_by_member ON support_conversations (guild_id, member_user_hash, status);
CREATE INDEX support_conversations_by_listener ON support_conversations (listener_user_id, status);
CREATE INDEX support_conversations_by_thread ON support_conversations (thread_id);

-- Offers of a request to listeners (Accept / Pass by DM), and handoff offers.
CREATE TABLE support_offers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id        TEXT NOT NULL UNIQUE,
    conversation_id  INTEGER NOT NULL REFERENCES support_conversations (id) ON DELETE CASCADE,
    guild_id         INTEGER NOT NULL,
    listener_user_id INTEGER NOT NULL,
    kind             TEXT NOT NULL DEFAULT 'request' CHECK (kind IN ('request', 'handoff')),
    stage            INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL DEFAULT 'offered'
                     CHECK (status IN ('offered', 'accepted', 'passed', 'withdrawn', 'undelivered')),
    channel_id       INTEGER,
    message_id       INTEGER,
    created_at       TEXT NOT NULL
);
CREATE INDEX support_offers_by_conversation ON support_offers (conversation_id, status);
CREATE INDEX support_offers_by_listener ON support_offers (guild_id, listener_user_id);

-- The relay outbox: every message in a conversation is stored (encrypted) before it is sent,
-- and marked delivered with Discord's message id once Discord accepted it. Two ordered streams
-- per conversation: to the member, and to the listener (their DM or the private thread).
CREATE TABLE support_outbox (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id    INTEGER NOT NULL REFERENCES support_conversations (id) ON DELETE CASCADE,
    stream             TEXT NOT NULL CHECK (stream IN ('member', 'listener')),
    seq                INTEGER NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('relay', 'notice')),
    ciphertext         BLOB,                          -- AES-GCM; NULL once delivered or dropped
    nonce              TEXT NOT NULL UNIQUE,          -- Discord's enforce_nonce: a resend returns the same message
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'dropped')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    TEXT NOT NULL,
    last_error         TEXT,                          -- an error kind (e.g. 'http-503'), never text
    channel_id         INTEGER,
    discord_message_id INTEGER,
    created_at         TEXT NOT NULL,
    delivered_at       TEXT,
    UNIQUE (conversation_id, stream, seq)
);
CREATE INDEX support_outbox_pending ON support_outbox (status, next_attempt_at);
CREATE INDEX support_outbox_by_message ON support_outbox (discord_message_id);

-- A member a listener ended and blocked, keyed so it holds across anonymous requests.
CREATE TABLE support_blocks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id         INTEGER NOT NULL,
    member_user_hash BLOB NOT NULL,
    until            TEXT NOT NULL,
    conversation_id  TEXT,                            -- the conversation's public id (for coordinators)
    lifted_at        TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX support_blocks_by_member ON support_blocks (guild_id, member_user_hash);

-- One-tap feedback after a conversation: a score only (a comment goes to the coordinators'
-- channel and is not stored here).
CREATE TABLE support_feedback (
    conversation_id INTEGER PRIMARY KEY REFERENCES support_conversations (id) ON DELETE CASCADE,
    guild_id        INTEGER NOT NULL,
    score           INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    commented       INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);
