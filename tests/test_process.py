"""The real ``peer-circles`` process: runs against the sandbox and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

from bot.clock import FakeClock, SystemClock, to_iso
from bot.sandbox.actors import Sandbox
from bot.sandbox.harness import TEST_SECRET_KEY, BotHarness
from bot.sends import occurrence_nonce
from tests.test_e2e_circles import create_circle


async def test_sigterm_stops_the_bot_gracefully(sandbox: Sandbox, tmp_path: Path) -> None:
    db_path = tmp_path / "proc.db"
    env = bot_env(sandbox, db_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await sandbox.wait_for(lambda: sandbox.server.ready.is_set(), "the bot process to connect", timeout=20)
        reply = await sandbox.member("alice").slash("about")
        assert "peer support" in reply.text
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert "stopping: closing the scheduler, the connection and the database" in log
    # Closing the last connection checkpoints WAL into the main file: nothing half-written.
    assert not Path(f"{db_path}-wal").exists() or Path(f"{db_path}-wal").stat().st_size == 0
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] >= 1
    assert "alice" not in log and str(sandbox.member("alice").id) not in log


def bot_env(sandbox: Sandbox, db_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DISCORD_TOKEN": sandbox.server.bot_token,
        "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE_PATH": str(db_path),
        "DISCORD_API_BASE_URL": sandbox.server.api_url,
        "DISCORD_GATEWAY_URL": sandbox.server.gateway_url,
        "LOG_LEVEL": "INFO",
    }


async def test_a_process_killed_mid_send_runs_the_job_again_and_the_reminder_arrives_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The real process, killed (SIGKILL) after Discord created a reminder DM but before the answer
    came back; the next process finds the job cut off, runs it again with the same nonce, and
    Discord returns the DM it already has."""
    db_path = tmp_path / "proc.db"
    seeding = BotHarness(sandbox, db_path, clock=FakeClock(SystemClock().now()), use_timers=False)
    await seeding.start()
    await create_circle(sandbox.admin("ana"), "Grief")
    alice = sandbox.member("alice", roles=["Circle: Grief"])
    await (await alice.slash("checkin reminders", time="08:00")).settled()
    await seeding.stop()
    due = SystemClock().now().replace(microsecond=0) - timedelta(seconds=1)  # its time has come
    job_id = f"checkin:reminder:1:{due.strftime('%Y%m%dT%H%M%SZ')}"  # as the service names it
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE scheduled_jobs SET id = ?, run_at = ? WHERE kind = 'checkin.reminder'", (job_id, to_iso(due))
        )
    nonce = occurrence_nonce(job_id, due, "reminder")
    route = "POST /channels/{channel_id}/messages"

    def creates() -> list[int]:
        return [r.status for r in sandbox.server.requests if r.route == route and (r.json or {}).get("nonce") == nonce]

    held = sandbox.server.inject("hold", route=route)

    async def start_process() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=bot_env(sandbox, db_path),
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )

    first = await start_process()
    try:
        await asyncio.wait_for(held.reached.wait(), timeout=20)  # Discord has created the DM
        first.kill()  # and the process dies before it hears back
        await first.communicate()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    held.release()
    assert len([m for m in alice.dms if "Time for your check-in" in m.text]) == 1
    sandbox.server.ready.clear()
    second = await start_process()
    try:
        await sandbox.wait_for(lambda: sandbox.server.ready.is_set(), "the second process to connect", timeout=20)
        second.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(second.communicate(), timeout=20)
    finally:
        if second.returncode is None:
            second.kill()
            await second.wait()
    assert second.returncode == 0
    assert "resumed=1" in stderr.decode(), "the scheduler found the job cut off and ran it again"
    assert len(creates()) == 2, "sent again with the same nonce"
    assert len([m for m in alice.dms if "Time for your check-in" in m.text]) == 1, "and Discord kept one"
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT status FROM scheduled_jobs WHERE id = ?", (job_id,)).fetchone() == ("done",)
        assert conn.execute("SELECT status FROM scheduled_sends WHERE nonce = ?", (nonce,)).fetchone() == ("sent",)
