-- Several processes (issue 16): Discord's locale for each server, as the process that owns the
-- server last saw it. A process answering a DM (Discord delivers every DM on shard 0) for a
-- server on another shard has no copy of that server, yet speaks its language when no
-- /setup language was chosen. Not about a person.
ALTER TABLE guilds ADD COLUMN discord_locale TEXT;
