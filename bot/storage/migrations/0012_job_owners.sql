-- Several processes (issue 16): a scheduled job fires in the process that owns its server's shard.
--
-- guild_id is the server a job belongs to (NULL: none, like the daily retention run, which the
-- process holding the leader lock fires). Jobs stored before this migration have no server: they
-- fire in the leader, which reaches Discord by REST like any other process.
ALTER TABLE scheduled_jobs ADD COLUMN guild_id INTEGER;
