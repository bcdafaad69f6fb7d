"""The real ``peer-circles`` process: runs against the sandbox and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from bot.sandbox.actors import Sandbox
from bot.sandbox.harness import TEST_SECRET_KEY


async def test_sigterm_stops_the_bot_gracefully(sandbox: Sandbox, tmp_path: Path) -> None:
    db_path = tmp_path / "proc.db"
    env = {
        **os.environ,
        "DISCORD_TOKEN": sandbox.server.bot_token,
        "SECRET_KEY": TEST_SECRET_KEY,
        "DATABASE_PATH": str(db_path),
        "DISCORD_API_BASE_URL": sandbox.server.api_url,
        "DISCORD_GATEWAY_URL": sandbox.server.gateway_url,
        "LOG_LEVEL": "INFO",
    }
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
