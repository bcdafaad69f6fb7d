"""Several processes on one database (issue 16), below Discord: which process owns which server's
jobs and relays, the leader lock for jobs of no server, shard locks, notifications between
processes, cache invalidation, and the per-process share of the global rate limit.

The multi-process parts run on a real PostgreSQL (skipped with a clear line without one); each
"process" here is a Scheduler/Outbox with its own coordination connection, as a real process has.
The two-process end-to-end run through the sandbox is in tests/test_e2e_shards.py.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import FakeClock
from bot.concurrency import RateBudget
from bot.config import ConfigError, load_settings, parse_shards
from bot.crypto import Keyring
from bot.scheduler import Job, JobRepository, JobScope, Scheduler
from bot.services.outbox import OutboxService
from bot.shards import ShardPlan, shard_of
from bot.storage.coordination import CACHE_CHANNEL, LEADER_KEY, Coordination, LocalCoordination, PostgresCoordination
from bot.storage.database import Database
from bot.storage.postgres import PostgresDatabase
from bot.storage.support import SupportRepository
from tests.backends import postgres_schema
from tests.test_outbox import FakeTransport, conversation, relay

START = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)
KEY = b"k" * 32


def guild_on(shard: int, count: int = 2, n: int = 1) -> int:
    """A guild id that Discord's formula puts on ``shard``."""
    return ((1000 + n) * count + shard) << 22 | 12345


# -- arithmetic and settings -------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=2**63 - 1), st.integers(min_value=1, max_value=64))
def test_shard_of_is_discords_formula(guild_id: int, count: int) -> None:
    assert shard_of(guild_id, count) == (guild_id >> 22) % count
    plan = ShardPlan.of(count, [shard_of(guild_id, count)])
    assert plan.owns(guild_id)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=0, max_value=2**63 - 1), min_size=1, max_size=20, unique=True))
async def test_the_sql_filter_keeps_exactly_the_servers_python_says(db: Database, guild_ids: list[int]) -> None:
    """The condition each process adds to its queries agrees with ShardPlan.owns, on both backends
    (64-bit ids, shifts and modulo as each database computes them)."""
    await db.migrate()
    await db.execute("DELETE FROM scheduled_jobs")
    for n, guild_id in enumerate(guild_ids):
        await db.execute(
            "INSERT INTO scheduled_jobs (id, kind, run_at, created_at, guild_id) VALUES (?, 'k', 'x', 'x', ?)",
            (f"j{n}", guild_id),
        )
    for plan in (ShardPlan.of(3, [0, 2]), ShardPlan.of(2, [1]), ShardPlan.of(16, [5])):
        clause, params = plan.where("guild_id")
        rows = await db.fetchall(f"SELECT guild_id FROM scheduled_jobs WHERE {clause}", params)
        assert sorted(int(r["guild_id"]) for r in rows) == sorted(g for g in guild_ids if plan.owns(g))


def test_shard_settings_are_checked_with_a_clear_line() -> None:
    assert parse_shards("", "", postgres=False) == (None, None)
    assert parse_shards("4", "0-1, 3", postgres=True) == (4, (0, 1, 3))
    assert parse_shards("2", "", postgres=False) == (2, None)  # one process, every shard: SQLite is fine
    for count, ids, variable, words in [
        ("", "1", "SHARD_IDS", "needs SHARD_COUNT"),
        ("two", "", "SHARD_COUNT", "whole number"),
        ("2", "2", "SHARD_IDS", "0 to 1"),
        ("2", "a", "SHARD_IDS", "like 0,1"),
        ("2", "1", "SHARD_IDS", "PostgreSQL"),
    ]:
        with pytest.raises(ConfigError) as caught:
            parse_shards(count, ids, postgres=False)
        assert caught.value.variable == variable and words in caught.value.problem


def test_each_process_keeps_to_its_share_of_the_global_limit() -> None:
    key = "c2VjcmV0IGtleSBmb3IgdGVzdHMgb25seSwgMzIgYnl0ZXM="
    one = load_settings({"SECRET_KEY": key})
    assert one.process_rate_limit is None  # one process: discord.py handles the global 429s
    half = load_settings(
        {"SECRET_KEY": key, "SHARD_COUNT": "4", "SHARD_IDS": "2,3", "DATABASE_URL": "postgresql://p@db/pc"}
    )
    assert half.process_rate_limit == 25.0
    proxied = load_settings(
        {
            "SECRET_KEY": key,
            "SHARD_COUNT": "4",
            "SHARD_IDS": "2,3",
            "DATABASE_URL": "postgresql://p@db/pc",
            "GLOBAL_RATE_LIMIT": "0",
        }
    )
    assert proxied.process_rate_limit is None  # a shared proxy keeps the limit
    for bad in ("nan", "inf", "-1", "fast"):
        with pytest.raises(ConfigError) as caught:
            load_settings({"SECRET_KEY": key, "GLOBAL_RATE_LIMIT": bad})
        assert caught.value.variable == "GLOBAL_RATE_LIMIT"


async def test_the_rate_budget_spaces_requests_after_its_burst() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = RateBudget(10, burst=3, now=lambda: now[0], sleep=sleep)
    for _ in range(5):
        await budget.acquire()
    assert slept == pytest.approx([0.1, 0.1])  # three at once, then one every tenth of a second
    now[0] += 10  # a quiet while refills the burst, never more
    for _ in range(3):
        await budget.acquire()
    assert len(slept) == 2
    await budget.acquire()
    assert slept[-1] == pytest.approx(0.1)


async def test_interaction_answers_are_not_metered() -> None:
    from bot.client import keep_to_budget

    class Route:
        def __init__(self, path: str) -> None:
            self.path = path

    class Http:
        def __init__(self) -> None:
            self.seen: list[str] = []

        async def request(self, route: Route, **_: Any) -> None:
            self.seen.append(route.path)

    http = Http()
    budget = keep_to_budget(http, 1.0)
    assert budget is not None
    budget._tokens = 0  # spent: a metered request would wait
    budget._sleep = _refuse_to_sleep
    await http.request(Route("/interactions/{interaction_id}/{interaction_token}/callback"))
    await http.request(Route("/webhooks/{webhook_id}/{webhook_token}"))
    assert http.seen == [
        "/interactions/{interaction_id}/{interaction_token}/callback",
        "/webhooks/{webhook_id}/{webhook_token}",
    ]
    with pytest.raises(AssertionError, match="metered"):
        await http.request(Route("/channels/{channel_id}/messages"))
    assert keep_to_budget(Http(), None) is None


async def _refuse_to_sleep(_: float) -> None:
    raise AssertionError("metered")


# -- processes on one PostgreSQL ----------------------------------------------------------------


class Process:
    """The scheduling half of one bot process: its own pool, coordination connection and scheduler."""

    def __init__(self, url: str, plan: ShardPlan, clock: FakeClock) -> None:
        self.url, self.plan, self.clock = url, plan, clock
        self.db = PostgresDatabase(url, pool_size=2)
        self.coordination: Coordination = PostgresCoordination(url, plan)
        self.fired: list[str] = []
        self.notified = asyncio.Event()
        self.scheduler: Scheduler

    async def start(self) -> Process:
        await self.db.open()
        await self.db.migrate()
        coordination = self.coordination
        scope = JobScope(self.plan, leading=lambda: coordination.leading)
        self.scheduler = Scheduler(
            JobRepository(self.db, scope), self.clock, use_timers=False, coordination=coordination
        )

        async def fire(job: Job) -> None:
            self.fired.append(job.id)

        self.scheduler.register("remind", fire)
        coordination.listen("jobs", lambda _: self.notified.set())
        await coordination.start()
        await self.scheduler.start()
        return self

    async def stop(self, *, crash: bool = False) -> None:
        if crash:  # kill -9: the connections just go; nothing is finished or released politely
            assert isinstance(self.coordination, PostgresCoordination)
            self.coordination._conn.terminate()
            self.coordination._conn = None
            await self.db.close()
            return
        await self.scheduler.shutdown()
        await self.coordination.close()
        await self.db.close()


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with postgres_schema() as url:
        yield url


async def test_each_process_fires_only_its_own_servers_jobs_and_the_leader_the_rest(url: str) -> None:
    clock = FakeClock(START)
    a = await Process(url, ShardPlan.of(2, [0]), clock).start()
    b = await Process(url, ShardPlan.of(2, [1]), clock).start()
    try:
        assert a.coordination.leading and not b.coordination.leading  # the first to start leads
        due = START + timedelta(minutes=1)
        for n in range(3):
            await a.scheduler.schedule("remind", due, guild_id=guild_on(0, n=n), job_id=f"zero:{n}")
            await a.scheduler.schedule("remind", due, guild_id=guild_on(1, n=n), job_id=f"one:{n}")
        await b.scheduler.schedule("remind", due, guild_id=None, job_id="nobody's")
        await asyncio.wait_for(b.notified.wait(), 10)  # A told B about B's jobs
        clock.advance(timedelta(minutes=2))
        await asyncio.gather(a.scheduler.run_due(), b.scheduler.run_due(), a.scheduler.run_due())
        assert sorted(a.fired) == ["nobody's", "zero:0", "zero:1", "zero:2"]
        assert sorted(b.fired) == ["one:0", "one:1", "one:2"]
    finally:
        await a.stop()
        await b.stop()


async def test_a_job_scheduled_elsewhere_wakes_its_owner_at_once(url: str) -> None:
    """Without timers a notified owner fires a job that is already due as the notice arrives."""
    clock = FakeClock(START)
    a = await Process(url, ShardPlan.of(2, [0]), clock).start()
    b = await Process(url, ShardPlan.of(2, [1]), clock).start()
    try:
        fired = asyncio.Event()
        b.scheduler._handlers["remind"] = lambda job: _set(fired, b.fired, job)
        await a.scheduler.schedule("remind", START, guild_id=guild_on(1), job_id="now")
        await asyncio.wait_for(fired.wait(), 10)
        assert b.fired == ["now"] and a.fired == []
        await asyncio.gather(*b.scheduler._running)  # its bookkeeping after the handler
        assert (await a.scheduler.jobs.get("now")).status == "done"  # type: ignore[union-attr]
    finally:
        await a.stop()
        await b.stop()


async def lock_freed(url: str, coordination: Coordination, key: int, timeout: float = 15.0) -> None:
    """Wait until the server has ended a killed process's session and freed its lock: PostgreSQL
    itself blocks ``pg_advisory_lock`` until then (taken and given back at once)."""
    import asyncpg

    assert isinstance(coordination, PostgresCoordination)
    conn = await asyncpg.connect(url)
    try:
        await asyncio.wait_for(conn.execute("SELECT pg_advisory_lock($1, $2)", coordination._namespace, key), timeout)
        await conn.execute("SELECT pg_advisory_unlock($1, $2)", coordination._namespace, key)
    finally:
        await conn.close()


async def _set(event: asyncio.Event, fired: list[str], job: Job) -> None:
    fired.append(job.id)
    event.set()


async def test_when_the_leader_dies_another_process_takes_over_its_jobs(url: str) -> None:
    clock = FakeClock(START)
    a = await Process(url, ShardPlan.of(2, [0]), clock).start()
    b = await Process(url, ShardPlan.of(2, [1]), clock).start()
    try:
        await a.scheduler.schedule("remind", START, guild_id=None, job_id="daily")
        await a.scheduler.jobs.claim("daily")  # A was running it when it died
        await b.scheduler.schedule("remind", START + timedelta(minutes=5), guild_id=None, job_id="later")
        await a.stop(crash=True)
        await lock_freed(url, b.coordination, LEADER_KEY)  # PostgreSQL noticed the dead connection
        await b.scheduler.sweep()  # takes the lead, resumes the job A left running
        assert b.coordination.leading
        assert "daily" in b.fired
        clock.advance(timedelta(minutes=6))
        await b.scheduler.sweep()
        assert sorted(b.fired) == ["daily", "later"]
    finally:
        await b.stop()


async def test_a_second_process_for_the_same_shard_waits_until_the_first_is_gone(url: str) -> None:
    clock = FakeClock(START)
    first = await Process(url, ShardPlan.of(2, [1]), clock).start()
    second = Process(url, ShardPlan.of(2, [1]), clock)
    await second.db.open()
    starting = asyncio.create_task(second.coordination.start())
    try:
        done, _ = await asyncio.wait({starting}, timeout=0.5)
        assert not done  # still waiting for shard 1
        await first.stop(crash=True)  # kill -9: PostgreSQL frees its locks with its connection
        await asyncio.wait_for(starting, 15)
    finally:
        starting.cancel()
        await second.coordination.close()
        await second.db.close()


async def test_a_relay_queued_in_the_dm_process_is_sent_by_the_owner_only(url: str) -> None:
    """Discord delivers a member's DM to shard 0; the conversation's server is on shard 1."""
    clock = FakeClock(START)
    keyring = Keyring(KEY)
    processes = []
    for plan in (ShardPlan.of(2, [0]), ShardPlan.of(2, [1])):
        db = PostgresDatabase(url, pool_size=2)
        await db.open()
        await db.migrate()
        coordination = PostgresCoordination(url, plan)
        repo = SupportRepository(db, keyring.member_hash, clock)
        outbox = OutboxService(repo, keyring, clock, rng=random.Random(1), shards=plan, coordination=coordination)
        transport = FakeTransport()
        outbox.attach(transport)
        processes.append((db, coordination, repo, outbox, transport))
    (_, c0, repo0, dm_side, sent0), (_, c1, _, owner, sent1) = processes
    try:
        for c in (c0, c1):
            await c.start()
        owner.start()
        dm_side.start()
        conv = await conversation(repo0, keyring, clock)
        await repo0.db.execute("UPDATE support_conversations SET guild_id = ? WHERE id = ?", (guild_on(1), conv.id))
        moved = await repo0.get(conv.id)
        assert moved is not None
        conv = moved
        for n in range(5):
            await relay(dm_side, conv, "listener", f"line {n}")
        dm_side.wake()
        while len(sent1.texts("listener")) < 5:
            sent1.delivered.clear()
            await asyncio.wait_for(sent1.delivered.wait(), 10)
        assert sent1.texts("listener") == [f"line {n}" for n in range(5)]  # in order, once each
        assert (await dm_side.drain()).delivered == 0 and sent0.sent == []
    finally:
        for db, c, _, outbox, _ in processes:
            await outbox.stop()
            await c.close()
            await db.close()


async def test_a_deletion_in_one_process_empties_the_language_cache_in_every_process(url: str) -> None:
    from bot.app import build_services

    key = "c2VjcmV0IGtleSBmb3IgdGVzdHMgb25seSwgMzIgYnl0ZXM="
    built = []
    for ids in ("0", "1"):
        s = await build_services(
            load_settings({"SECRET_KEY": key, "DATABASE_URL": url, "SHARD_COUNT": "2", "SHARD_IDS": ids}),
            clock=FakeClock(START),
            use_timers=False,
        )
        await s.coordination.start()
        built.append(s)
    here, there = built
    try:
        guild = guild_on(1)
        await there.member_time.remember_language(guild, 42, "de")
        assert there.member_time._languages
        forgotten = asyncio.Event()
        there.coordination.listen(CACHE_CHANNEL, lambda _: forgotten.set())
        await here.privacy_service.delete(guild, 42)
        await asyncio.wait_for(forgotten.wait(), 10)
        assert there.member_time._languages == {}
        assert await there.member_time.language(guild, 42) is None
    finally:
        for s in built:
            await s.close()


async def test_one_process_needs_no_coordination(tmp_path: Any) -> None:
    coordination = LocalCoordination(ShardPlan())
    heard: list[str] = []
    coordination.listen("cache", heard.append)
    await coordination.start()
    assert await coordination.lead() and coordination.leading and not coordination.shared
    await coordination.notify("cache", "languages")
    assert heard == ["languages"]


def test_the_shipped_deployments_give_every_shard_to_exactly_one_process() -> None:
    """compose.yaml's bot processes and the systemd template agree with the settings' rules."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    compose = (root / "compose.yaml").read_text()
    counts = set(re.findall(r'SHARD_COUNT: "(\d+)"', compose))
    ids = re.findall(r'SHARD_IDS: "([\d,-]+)"', compose)
    assert len(counts) == 1 and len(ids) >= 2, "every bot process names the same SHARD_COUNT and its SHARD_IDS"
    count = int(counts.pop())
    owned: list[int] = []
    for raw in ids:
        _, mine = parse_shards(str(count), raw, postgres=True)
        assert mine is not None
        owned.extend(mine)
    assert sorted(owned) == list(range(count))
    assert "DATABASE_URL: postgresql://" in compose
    unit = (root / "deploy" / "peer-circles@.service").read_text()
    assert "Environment=SHARD_IDS=%i" in unit and "peer-circles run" in unit


async def test_a_process_without_the_server_speaks_its_locale_as_the_owner_saw_it(db: Database) -> None:
    """A DM about a server on another shard is answered by shard 0's process, which has no copy of
    that server: the owner stores Discord's locale for it (only when it changed, never making a
    row), and the server's language falls back to it."""
    from bot.services.member_time import MemberTimeService
    from bot.services.server_settings import ServerSettings
    from bot.storage.guilds import GuildSettingsRepository
    from bot.storage.member_settings import MemberSettingsRepository
    from bot.ui.language import server_speaker

    await db.migrate()
    guilds = GuildSettingsRepository(db)
    clock = FakeClock(START)
    await guilds.ensure(1, clock.now())
    await guilds.remember_locales({1: "es-ES", 2: "de"})
    assert (await guilds.get(1)).discord_locale == "es-ES"
    assert await db.fetchone("SELECT guild_id FROM guilds WHERE guild_id = 2") is None
    speak = await server_speaker(ServerSettings(guilds), 1, None)
    assert speak("Check in") != "Check in"  # Spanish, not the English source
    members = MemberTimeService(MemberSettingsRepository(db), guilds, clock)
    assert await members.language(1, 42) == "es-ES"
    await guilds.update(1, clock.now(), language="fr")
    assert await members.language(1, 42) == "fr"  # a chosen server language still comes first


async def test_a_bot_restarted_in_the_same_process_takes_its_shard_again(sandbox: Any, tmp_path: Any) -> None:
    """Closing the client gives up its shard lock: a new client on the same database (a restart
    within one process, as the end-to-end suites do) starts instead of waiting for ever."""
    from bot.sandbox.harness import BotHarness

    async with postgres_schema() as url:
        harness = BotHarness(sandbox, tmp_path / "unused.db", database_url=url)
        await harness.start()
        try:
            await harness.restart()
            reply = await sandbox.member("alice").slash("about")
            assert "peer support" in reply.text
        finally:
            await harness.stop()


async def test_a_bot_that_loses_its_shard_locks_stops(sandbox: Any, tmp_path: Any) -> None:
    """The coordination connection ends (PostgreSQL restarted, a network cut): another process
    may now take this one's shards, so this one stops rather than fire their jobs too (and the
    command line exits with a failure, so the supervisor starts it again)."""
    from bot.client import PeerCirclesBot
    from bot.sandbox.harness import BotHarness

    async with postgres_schema() as url:
        harness = BotHarness(sandbox, tmp_path / "unused.db", database_url=url)
        bot = await harness.start()
        assert isinstance(bot, PeerCirclesBot)
        try:
            coordination = bot.services.coordination
            assert isinstance(coordination, PostgresCoordination)
            pid = coordination._conn.get_server_pid()
            await bot.services.db.execute("SELECT pg_terminate_backend(?)", (pid,))
            assert harness._task is not None
            await asyncio.wait_for(asyncio.shield(harness._task), 15)  # the bot closed itself
            assert bot.lost_shards and bot.is_closed()
        finally:
            await harness.stop()


async def test_one_process_can_run_every_shard_on_sqlite(tmp_path: Any) -> None:
    """SHARD_COUNT without SHARD_IDS: discord.py's AutoShardedBot runs both shards in one process,
    on the default SQLite file; a server on each shard is served, and a member's check-in on the
    shard-1 server is stored."""
    from bot.client import ShardedPeerCirclesBot
    from bot.sandbox.actors import Sandbox
    from bot.sandbox.harness import BotHarness
    from tests.test_e2e_circles import create_circle

    sandbox = await Sandbox.create(shard_count=2, start=False)
    other = sandbox.server.add_guild("Second", shard=1)
    sandbox.server.add_channel(other, "general")
    await sandbox.server.start()
    second = Sandbox(sandbox.server, other)
    harness = BotHarness(sandbox, tmp_path / "bot.db", shard_count=2)
    try:
        bot = await harness.start()
        assert isinstance(bot, ShardedPeerCirclesBot) and bot.shard_count == 2
        await sandbox.server.wait_ready(timeout=20)  # discord.py identifies its shards one by one
        assert sandbox.server.identify_counts == [1, 1]
        for view in (sandbox, second):
            assert "peer support" in (await view.member("alice").slash("about")).text
        await create_circle(second.admin("ana"), "Grief")
        bea = second.member("bea", roles=["Circle: Grief"])
        opened = await bea.slash("checkin now")
        await bea.click(opened, "3 · Okay")
        stored = await bot.services.db.fetchall("SELECT guild_id, mood FROM checkins")
        assert [(int(r["guild_id"]), r["mood"]) for r in stored] == [(int(other.id), 3)]
        rows = await bot.services.db.fetchall("SELECT guild_id FROM circles")
        assert [int(r["guild_id"]) for r in rows] == [int(other.id)]
    finally:
        await harness.stop()
        await sandbox.stop()


async def test_a_shutdown_lets_a_job_the_sweep_is_running_finish(url: str) -> None:
    """A job the 30-second sweep fires (not a timer) is waited for at shutdown, so it ends 'done'
    instead of being cut off between its claim and its bookkeeping."""
    clock = FakeClock(START)
    a = await Process(url, ShardPlan.of(2, [0]), clock).start()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(job: Job) -> None:
        started.set()
        await release.wait()

    a.scheduler._handlers["remind"] = slow
    await a.scheduler.schedule("remind", START, guild_id=guild_on(0), job_id="slow")
    sweeping = asyncio.create_task(a.scheduler.sweep())
    await asyncio.wait_for(started.wait(), 10)
    stopping = asyncio.create_task(a.scheduler.shutdown())
    done, _ = await asyncio.wait({stopping}, timeout=0.2)
    assert not done, "the shutdown waits for the job"
    release.set()
    await asyncio.wait_for(asyncio.gather(sweeping, stopping), 10)
    job = await a.scheduler.jobs.get("slow")
    assert job is not None and job.status == "done"
    await a.coordination.close()
    await a.db.close()
