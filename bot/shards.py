"""Which servers this process looks after, when the bot runs as several processes.

Discord splits a bot's servers into shards by ``shard_id = (guild_id >> 22) % shard_count``, and
delivers direct messages (and anything else that belongs to no server) on shard 0 only. A process
runs the shards in ``SHARD_IDS`` (every shard when not set) and owns exactly the servers on them:

* a server's scheduled jobs fire in the process that owns it (:mod:`bot.scheduler`);
* a support conversation's outbox is sent by the process that owns its server
  (:mod:`bot.services.outbox`), wherever the message that queued it arrived;
* jobs that belong to no server (the daily retention run) fire in whichever process holds the
  leader lock (:mod:`bot.storage.coordination`).

Nothing here imports Discord: this is arithmetic on ids, and the SQL that picks a process's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SNOWFLAKE_SHIFT = 22


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's formula: the shard that receives a server's events."""
    return (guild_id >> SNOWFLAKE_SHIFT) % shard_count


@dataclass(frozen=True, slots=True)
class ShardPlan:
    count: int = 1  # shards the whole bot runs (SHARD_COUNT)
    ids: tuple[int, ...] = (0,)  # the shards this process runs (SHARD_IDS)
    sharded: bool = False  # SHARD_COUNT was set: connect with discord.py's AutoShardedBot

    @classmethod
    def of(cls, count: int | None, ids: Sequence[int] | None) -> ShardPlan:
        if count is None:
            return cls()
        return cls(count, tuple(sorted(set(ids if ids is not None else range(count)))), True)

    @property
    def whole(self) -> bool:
        """This process runs every shard: nothing is shared with another process."""
        return len(self.ids) == self.count

    @property
    def share(self) -> float:
        """This process's part of the bot (for splitting a budget that is per bot)."""
        return len(self.ids) / self.count

    def owns(self, guild_id: int | None) -> bool:
        """Whether this process looks after the server (``None``: no server; see the leader lock)."""
        if guild_id is None:
            return self.whole
        return self.whole or shard_of(guild_id, self.count) in self.ids

    def where(self, column: str) -> tuple[str, list[int]]:
        """An SQL condition (portable: SQLite and PostgreSQL both have ``>>`` and ``%``) that keeps
        rows whose server ``column`` this process owns, and its parameters. Empty when it owns all."""
        if self.whole:
            return "", []
        marks = ", ".join("?" for _ in self.ids)
        return f"(({column} >> {SNOWFLAKE_SHIFT}) % ?) IN ({marks})", [self.count, *self.ids]

    def describe(self) -> str:
        if not self.sharded:
            return "one process, no shards"
        return f"shards {', '.join(map(str, self.ids))} of {self.count}"
