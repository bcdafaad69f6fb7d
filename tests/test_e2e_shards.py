"""Two real bot processes (``python -m bot run``) sharing one PostgreSQL, against a sandbox that
serves two gateway shards as Discord does: a server on each shard, DMs on shard 0 only.

What each person sees, what the other process does (nothing twice), and what is stored, through
a ``kill -9`` of the shard-1 process just after Discord created a relayed message and a check-in
reminder it was sending, before it heard back:

- a check-in reminder and a session reminder per shard, each sent once by the owning process;
- a support conversation in the shard-1 server: the offer, the accept (a DM button, so handled by
  the shard-0 process), and messages both ways (DMs, so received by the shard-0 process and sent by
  the shard-1 process), every one delivered exactly once and in order across the kill;
- the reminder's buttons pressed in a DM (shard 0's process): the check-in stored, and a snooze
  scheduled there and fired by the shard-1 process;
- neither process takes the other's server for one the bot was removed from.

Job times are brought forward in the database, and the owner told, as another process does when it
reschedules a job (``due_soon``): the processes run on the real clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SystemClock, to_iso
from bot.sandbox.actors import Person, Sandbox
from bot.sandbox.harness import TEST_SECRET_KEY
from bot.shards import ShardPlan, shard_of
from bot.storage.coordination import JOBS_CHANNEL, PostgresCoordination
from bot.storage.postgres import PostgresDatabase
from tests.backends import postgres_schema
from tests.support_harness import ask, become_listener, on_call, setup_server
from tests.test_e2e_circles import create_circle
from tests.test_e2e_sessions import schedule

RELAY_ROUTE = "POST /channels/{channel_id}/messages"


class Processes:
    """The bot processes of one deployment: SHARD_COUNT=2, one process per shard."""

    def __init__(self, sandbox: Sandbox, url: str, workdir: Path) -> None:
        self.sandbox, self.url, self.workdir = sandbox, url, workdir
        self.running: dict[int, asyncio.subprocess.Process] = {}
        self.logs: dict[int, list[bytes]] = {0: [], 1: []}

    def env(self, shard: int) -> dict[str, str]:
        server = self.sandbox.server
        return {
            **os.environ,
            "DISCORD_TOKEN": server.bot_token,
            "SECRET_KEY": TEST_SECRET_KEY,
            "DATABASE_URL": self.url,
            "SHARD_COUNT": "2",
            "SHARD_IDS": str(shard),
            "DISCORD_API_BASE_URL": server.api_url,
            "DISCORD_GATEWAY_URL": server.gateway_url,
            "LOG_LEVEL": "INFO",
        }

    async def start(self, shard: int) -> None:
        self.sandbox.server.shard_ready[shard].clear()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=self.env(shard),
            cwd=self.workdir,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self.running[shard] = proc
        asyncio.get_running_loop().create_task(self._collect(shard, proc))
        await self.sandbox.server.wait_ready(shard, timeout=40)

    async def _collect(self, shard: int, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            self.logs[shard].append(line)

    def kill(self, shard: int) -> None:
        self.running[shard].kill()  # SIGKILL: no clean-up at all

    async def wait_dead(self, shard: int) -> None:
        await asyncio.wait_for(self.running[shard].wait(), 20)

    async def stop_all(self) -> None:
        for proc in self.running.values():
            if proc.returncode is None:
                proc.terminate()
        for proc in self.running.values():
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()

    def log(self, shard: int) -> str:
        return b"".join(self.logs[shard]).decode(errors="replace")


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, Sandbox, Processes, PostgresDatabase]]:
    async with postgres_schema() as url:
        sandbox = await Sandbox.create(shard_count=2, start=False)
        server = sandbox.server
        other = server.add_guild("Shard One Community", shard=1)
        server.add_channel(other, "general")
        server.add_channel(other, "moderation")
        await server.start()
        one = Sandbox(server, other)
        assert shard_of(int(sandbox.guild.id), 2) == 0 and shard_of(int(other.id), 2) == 1
        db = PostgresDatabase(url, pool_size=2)
        processes = Processes(sandbox, url, tmp_path)
        try:
            await processes.start(0)  # migrates the schema first
            await db.open()
            await processes.start(1)
            yield sandbox, one, processes, db
        finally:
            await processes.stop_all()
            await db.close()
            await sandbox.stop()


async def due_soon(
    db: PostgresDatabase,
    url: str,
    pattern: str,
    *,
    guild: Sandbox | None = None,
    seconds: float = 1.0,
    first: bool = False,
) -> list[str]:
    """Bring the pending jobs whose id matches ``pattern`` (of one server, if given) forward to a
    moment from now, and tell their owner (as a process that reschedules another's job does)."""
    when = SystemClock().now().replace(microsecond=0) + timedelta(seconds=seconds)
    sql = "SELECT id FROM scheduled_jobs WHERE status = 'pending' AND id LIKE ?"
    params: list[Any] = [pattern]
    if guild is not None:
        sql += " AND guild_id = ?"
        params.append(int(guild.guild.id))
    rows = await db.fetchall(sql + " ORDER BY run_at", params)
    ids = [str(r["id"]) for r in rows][: 1 if first else None]
    notifier = PostgresCoordination(url, ShardPlan())
    await notifier.open()
    try:
        for n, job_id in enumerate(ids):
            moved = job_id
            if job_id.startswith("checkin:reminder:"):
                # Its id carries its time (the next one gets the next time's id): keep it so.
                moved = job_id.rsplit(":", 1)[0] + ":" + when.strftime("%Y%m%dT%H%M%SZ")
            await db.execute("UPDATE scheduled_jobs SET id = ?, run_at = ? WHERE id = ?", (moved, to_iso(when), job_id))
            await notifier.notify(JOBS_CHANNEL, moved)
            ids[n] = moved
    finally:
        await notifier.close()
    return ids


async def jobs_settled(db: PostgresDatabase, timeout: float = 20.0) -> None:
    """Wait until no job is mid-run in either process (a DM can arrive before the job that sent it
    has done its bookkeeping): a condition on the shared database, checked until it holds."""
    for _ in range(int(timeout / 0.05)):
        if not await db.fetchall("SELECT id FROM scheduled_jobs WHERE status = 'running'"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a job was still running after 20 s")


def dm_texts(person: Person, containing: str) -> list[str]:
    return [m.text for m in person.dms if containing in m.text]


async def wait_for_dm_count(sandbox: Sandbox, person: Person, containing: str, count: int) -> None:
    await sandbox.wait_for(
        lambda: len(dm_texts(person, containing)) >= count, f"{count} DM(s) with {containing!r}", timeout=40
    )


async def test_two_processes_share_the_servers_and_a_kill_loses_nothing(
    deployment: tuple[Sandbox, Sandbox, Processes, PostgresDatabase],
) -> None:
    zero, one, processes, db = deployment
    url = processes.url

    # -- each server set up through whichever process owns it --------------------------------
    members: dict[str, Person] = {}
    for view, name in ((zero, "zoe"), (one, "omar")):
        ana = view.admin("ana")
        await ana.slash("setup", timezone="Europe/London", moderation_channel=view.channel("moderation"))
        await create_circle(ana, "Grief")
        person = view.member(name, roles=["Circle: Grief"])
        await (await person.slash("checkin reminders", time="08:00")).settled()
        day = (SystemClock().now() + timedelta(days=3)).date()
        await schedule(ana, circle="Grief", title="Evening circle", first_date=day.isoformat(), start_time="18:30")
        announcement = await view.channel("circle-grief").wait_for_message("Evening circle")
        await (await person.click(announcement, "Going")).settled()
        members[name] = person
    jobs = await db.fetchall("SELECT id, guild_id FROM scheduled_jobs WHERE status = 'pending'")
    assert {int(r["guild_id"]) for r in jobs if r["guild_id"] is not None} == {int(zero.guild.id), int(one.guild.id)}

    # -- reminders on both shards: each sent once, by the process that owns its server -----------
    session_reminders = {view.guild.id: await due_soon(db, url, "%remind:%", guild=view) for view in (zero, one)}
    assert all(session_reminders.values())
    assert await due_soon(db, url, "checkin:reminder:%", guild=zero)
    for view, person in zip((zero, one), members.values(), strict=True):
        await wait_for_dm_count(zero, person, "starts in", len(session_reminders[view.guild.id]))
    await wait_for_dm_count(zero, members["zoe"], "Time for your check-in", 1)

    # -- a support conversation in the shard-1 server ------------------------------------------------
    await setup_server(one)
    lena = await become_listener(one, "lena")
    await on_call(lena)
    maya = one.member("maya")
    await ask(maya, "a hard week")
    offer = await lena.wait_for_dm("Someone")
    await (await lena.click(offer, "Accept")).settled()  # a DM button: shard 0's process handles it
    await maya.wait_for_dm("has joined")

    said = [f"maya says {n}" for n in range(6)]
    await maya.send_dm(said[0])
    await lena.wait_for_dm(said[0])
    await lena.send_dm("lena answers 0")
    await maya.wait_for_dm("lena answers 0")

    # The shard-1 process dies just after Discord created a relayed message, before it heard back.
    # The shard-1 process dies just after Discord created two of its messages, before it heard
    # back: a relayed line, and Omar's check-in reminder (its job is cut off mid-run).
    held = one.server.inject("hold", route=RELAY_ROUTE, times=2)
    await maya.send_dm(said[1])
    await asyncio.wait_for(held.reached.wait(), 20)
    assert await due_soon(db, url, "checkin:reminder:%", guild=one)
    await one.wait_for(lambda: held.hits >= 2, "the reminder DM to be created and held", timeout=20)
    processes.kill(1)
    await processes.wait_dead(1)
    held.release()
    cut_off = await db.fetchall("SELECT id FROM scheduled_jobs WHERE status = 'running'")
    assert [str(r["id"]).startswith("checkin:reminder:") for r in cut_off] == [True]
    # Meanwhile: more messages, received by shard 0's process and queued for shard 1's.
    for text in said[2:]:
        await maya.send_dm(text)
    await processes.start(1)  # re-runs the cut-off reminder (same nonce) and drains the outbox

    await wait_for_dm_count(one, lena, "maya says", len(said))
    await wait_for_dm_count(one, members["omar"], "Time for your check-in", 1)
    await lena.send_dm("lena answers 1")
    await maya.wait_for_dm("lena answers 1")

    # Omar's reminder came from the shard-1 process; its buttons are pressed in a DM, so the
    # shard-0 process answers them: the check-in is stored, and a snooze schedules a job that the
    # shard-1 process fires.
    omar = members["omar"]
    reminder = await omar.wait_for_dm("Time for your check-in")
    opened = await omar.click(reminder, "Check in")
    assert opened.kind == "update" and "How are you right now?" in reminder.text
    await omar.click(reminder, "3 · Okay")
    assert "Checked in:" in reminder.text
    stored = await db.fetchall("SELECT guild_id, mood FROM checkins")
    assert [(int(r["guild_id"]), r["mood"]) for r in stored] == [(int(one.guild.id), 3)]
    seen = len(omar.dms)
    assert await due_soon(db, url, "checkin:reminder:%", guild=one)  # the next day's, now
    second = await omar.wait_for_dm("Time for your check-in", after=seen)
    await omar.click(second, "Snooze 1 hour")
    await jobs_settled(db)
    snoozes = await db.fetchall(
        "SELECT run_at FROM scheduled_jobs WHERE status = 'pending' AND id LIKE 'checkin:reminder:%' AND guild_id = ?",
        (int(one.guild.id),),
    )
    in_an_hour = SystemClock().now() + timedelta(minutes=55)
    # (The next day's may be pending too: the job that sent the reminder schedules it as it ends.)
    assert True in [datetime.fromisoformat(r["run_at"]) > in_an_hour for r in snoozes]
    seen = len(omar.dms)
    assert await due_soon(db, url, "checkin:reminder:%", guild=one, first=True)  # the snooze, now
    await omar.wait_for_dm("Time for your check-in", after=seen)
    await jobs_settled(db)

    # -- exactly once, in order; nothing done by the wrong process --------------------------------
    relayed = [text.split("\n")[-1] for text in dm_texts(lena, "maya says")]
    assert [t for t in relayed if t.startswith("maya says")] == said
    assert len(dm_texts(maya, "lena answers")) == 2
    for view, person in zip((zero, one), members.values(), strict=True):
        assert len(dm_texts(person, "starts in")) == len(session_reminders[view.guild.id])
    assert len(dm_texts(members["zoe"], "Time for your check-in")) == 1
    # Three reminders, each once (the first became the check-in it recorded; the second says snoozed).
    assert len([m for m in omar.dms if "Time for your check-in" in m.text + json.dumps(m.history)]) == 3
    rows = await db.fetchall("SELECT status FROM support_outbox")
    assert rows and all(r["status"] == "delivered" for r in rows)
    duplicated = await db.fetchall(
        "SELECT id, status, note FROM scheduled_jobs WHERE status NOT IN ('pending', 'done', 'cancelled')"
    )
    assert duplicated == [], [dict(r) for r in duplicated]
    for shard in (0, 1):
        log = processes.log(shard)
        assert "Traceback" not in log, log[-3000:]
        for secret in ("maya says", "a hard week", str(maya.id)):
            assert secret not in log
        # Each process sees only its own shard's server: neither takes the other's for removed.
        assert "bot removed from a server" not in log, log

    # Last: /support ask from a DM (shard 0's process) finds the member's server on shard 1.
    noor = one.member("noor")
    asked = await ask(noor, "can't sleep", where="dm")
    assert "couldn't find a server" not in asked.text and "Your request is in" in asked.text, asked.text
