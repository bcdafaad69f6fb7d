"""What processes sharing one database tell each other, and which of them does what.

With SQLite there is one process, and :class:`LocalCoordination` says so: it owns every shard,
leads, and its notifications reach only itself. With PostgreSQL, :class:`PostgresCoordination`
keeps one connection of its own (outside the pool) for three things that belong to a session:

* **Shard locks.** At start the process takes a session advisory lock per shard it runs
  (``SHARD_IDS``). A second process configured with the same shard waits, with one calm log line,
  instead of firing the same jobs twice. A process that dies (``kill -9`` included) loses its
  connection, and PostgreSQL frees its locks at once: the restarted process takes them again.
* **The leader lock.** Jobs that belong to no server run in the one process holding it. The others
  try again every sweep (:meth:`lead`), so when the leader dies another takes over.
* **Notifications** (``LISTEN``/``NOTIFY``): a job scheduled, or a relayed message queued, by a
  process that doesn't own the server wakes the one that does at once; each process also sweeps
  on a timer, so a notification lost with a dropped connection only delays the work.

Lock keys and channel names are scoped to the database schema, so test runs in separate schemas
of one server never see each other. If the coordination connection drops, the locks are gone:
``on_lost`` is called, and the bot stops so its supervisor starts it again cleanly.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import zlib
from collections.abc import Callable
from typing import Any

from bot.errors import StorageError
from bot.shards import ShardPlan
from bot.storage.database import Database

log = logging.getLogger(__name__)

Listener = Callable[[str], None]
LEADER_KEY = -1  # the second half of the leader lock's key (shards use 0…count-1)
CLAIM_RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
ALIVE_TIMEOUT_SECONDS = 10.0

JOBS_CHANNEL = "jobs"  # payload: a scheduled job's id
OUTBOX_CHANNEL = "outbox"  # payload: "<conversation id>:<stream>"
CACHE_CHANNEL = "cache"  # payload: what to forget ("languages")


class Coordination(abc.ABC):
    def __init__(self, shards: ShardPlan) -> None:
        self.shards = shards
        self._listeners: dict[str, list[Listener]] = {}
        self.on_lost: Callable[[], None] | None = None

    @property
    def shared(self) -> bool:
        """Other processes may share the database (PostgreSQL)."""
        return False

    @abc.abstractmethod
    async def start(self) -> None:
        """Take this process's shard locks (waiting while another process holds one)."""

    @abc.abstractmethod
    async def lead(self) -> bool:
        """Whether this process runs the jobs that belong to no server (taking the lock if free)."""

    @property
    @abc.abstractmethod
    def leading(self) -> bool: ...

    @abc.abstractmethod
    async def notify(self, channel: str, payload: str) -> None:
        """Tell every process listening on ``channel`` (this one included)."""

    def listen(self, channel: str, callback: Listener) -> None:
        """Call ``callback(payload)`` on each notification on ``channel`` (on the event loop)."""
        self._listeners.setdefault(channel, []).append(callback)

    def _deliver(self, channel: str, payload: str) -> None:
        for callback in self._listeners.get(channel, ()):
            try:
                callback(payload)
            except Exception:  # a listener's bug must not stop the others
                log.exception("notification listener failed channel=%s", channel)

    async def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release the locks (PostgreSQL frees them anyway when the connection goes)."""


class LocalCoordination(Coordination):
    """One process (SQLite): it owns everything and leads."""

    async def start(self) -> None:
        return None

    async def lead(self) -> bool:
        return True

    @property
    def leading(self) -> bool:
        return True

    async def notify(self, channel: str, payload: str) -> None:
        self._deliver(channel, payload)


class PostgresCoordination(Coordination):
    def __init__(self, url: str, shards: ShardPlan) -> None:
        super().__init__(shards)
        self.url = url
        self._conn: Any = None
        self._namespace = 0
        self._prefix = ""
        self._leading = False
        self._closing = False
        self._lost = False
        self._lock = asyncio.Lock()  # one statement at a time on the coordination connection
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def shared(self) -> bool:
        return True

    @property
    def leading(self) -> bool:
        return self._leading

    def _channel(self, name: str) -> str:
        return f"{self._prefix}_{name}"

    async def _connect(self) -> None:
        import asyncpg

        try:
            self._conn = await asyncpg.connect(self.url)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StorageError(f"Could not open the coordination connection: {exc}") from exc
        schema = str(await self._conn.fetchval("SELECT current_database() || '.' || current_schema()"))
        # The first half of every lock key: this database and schema (int4, as the two-key form takes).
        self._namespace = zlib.crc32(schema.encode()) - 2**31
        self._prefix = f"peer_circles_{zlib.crc32(schema.encode()):08x}"
        self._conn.add_termination_listener(self._terminated)

    def _terminated(self, _conn: Any) -> None:
        if self._closing or self._lost:
            return
        self._lost = True
        self._leading = False
        log.error("the coordination connection to PostgreSQL was lost: this process's shard locks are gone")
        if self.on_lost is not None:
            self.on_lost()

    async def _try_lock(self, key: int) -> bool:
        async with self._lock:
            return bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", self._namespace, key))

    async def open(self) -> None:
        """Connect and listen, without taking any lock (tools and tests that only notify)."""
        if self._conn is None:
            await self._connect()
            conn: Any = self._conn
            for channel in self._listeners:
                await conn.add_listener(self._channel(channel), self._received)

    async def start(self) -> None:
        await self.open()
        for shard in self.shards.ids:
            tries = 0
            while not await self._try_lock(shard):
                if tries == 0:
                    log.warning("shard %d is held by another process (or one that just stopped); waiting for it", shard)
                # A stop cancels this wait (the start runs in the login, which a stop cancels).
                await asyncio.sleep(CLAIM_RETRY_SECONDS[min(tries, len(CLAIM_RETRY_SECONDS) - 1)])
                tries += 1
            if tries:
                log.info("shard %d is free now; this process runs it", shard)
        await self.lead()

    def listen(self, channel: str, callback: Listener) -> None:
        first = channel not in self._listeners
        super().listen(channel, callback)
        if first and self._conn is not None:
            task = asyncio.get_running_loop().create_task(self._add_listener(channel))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _add_listener(self, channel: str) -> None:
        """LISTEN on the coordination connection, one statement at a time with the others; a
        failure is logged (the sweeps still find the work, within 30 seconds)."""
        try:
            async with self._lock:
                await self._conn.add_listener(self._channel(channel), self._received)
        except Exception:
            log.exception("could not listen for notifications channel=%s", channel)

    def _received(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self._deliver(channel.removeprefix(self._prefix + "_"), payload)

    async def lead(self) -> bool:
        """Also, every sweep, a round trip on the coordination connection: a connection that died
        without closing (a failover, a NAT timeout) would otherwise keep this process believing it
        holds locks PostgreSQL has already given to another."""
        conn = self._conn
        if conn is None or conn.is_closed():
            return self._leading
        try:
            if self._leading:
                async with self._lock:
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), ALIVE_TIMEOUT_SECONDS)
            else:
                self._leading = await asyncio.wait_for(self._try_lock(LEADER_KEY), ALIVE_TIMEOUT_SECONDS)
                if self._leading:
                    log.info("this process runs the jobs that belong to no server")
        except Exception:
            log.error("the coordination connection to PostgreSQL does not answer")
            conn.terminate()
            self._terminated(conn)
        return self._leading

    async def notify(self, channel: str, payload: str) -> None:
        """Best effort: what it announces is already stored, and the owner's sweep finds it within
        30 seconds, so a failure here is logged, never the caller's error."""
        if self._conn is None or self._conn.is_closed():
            return
        try:
            async with self._lock:
                await self._conn.execute("SELECT pg_notify($1, $2)", self._channel(channel), payload)
        except Exception:
            log.warning("a notification was not sent channel=%s; the sweep will find the work", channel)

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        conn, self._conn = self._conn, None
        self._leading = False
        if conn is not None and not conn.is_closed():
            await conn.close()


def coordination_for(db: Database, shards: ShardPlan) -> Coordination:
    from bot.storage.postgres import PostgresDatabase

    if isinstance(db, PostgresDatabase):
        return PostgresCoordination(db.url, shards)
    return LocalCoordination(shards)
