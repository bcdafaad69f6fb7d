"""Smoke test for the benchmark harness (bench/run.py): the quick run of the cheapest scenarios
works end to end and produces the expected table rows; the bot's database (a SQLite file or a
PostgreSQL schema) is read back on either backend, and without PostgreSQL its rows say they were
skipped. Numbers are not judged here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.common import BenchError, Row, Stat, percentile
from bench.run import render, run


def test_percentile_and_ratio_cells() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([0.0, 10.0], 99) == 9.9
    row = Row("1 latency", "x", "ms", Stat([0.002, 0.004]), Stat([0.001, 0.002]), "t", True)
    cells = row.cells()
    assert cells[8] == "2.00x" and cells[11] == "met"
    try:
        percentile([], 50)
    except BenchError:
        pass
    else:
        raise AssertionError("an empty sample must raise")


async def test_quick_run_prints_the_expected_rows(tmp_path: Path) -> None:
    rows = await run(quick=True, only=["storage", "latency"])
    measures = [f"{r.scenario} | {r.measure}" for r in rows]
    for action in ("/checkin one-tap", "mood button", "/share modal open", "share Post", "/support"):
        for level in (1, 100):
            assert f"1 latency | {action} @ {level} concurrent" in measures
    assert any(m.startswith("5 storage | check-in write") for m in measures)
    for secure in ("check-in write, secure_delete on vs off", "check-in delete, secure_delete on vs off"):
        assert any(m.startswith(f"5 storage | {secure}") for m in measures)
    assert any(m.startswith("5 storage | check-in erasure: delete + WAL checkpoint") for m in measures)
    assert any(m.startswith("5 storage | database size per 1,000,000 check-ins") for m in measures)
    for row in rows:
        if row.scenario == "1 latency":
            assert isinstance(row.bot, Stat) and isinstance(row.baseline, Stat)
            assert max(row.bot.samples) < 3.0 and row.met is not None
    table = render(rows, quick=True, started=datetime.now(UTC), elapsed=1.0)
    assert table.count("\n| ") == len(rows) + 1  # header + one line per row
    assert "peer-circles median" in table and "Machine:" in table


def test_the_relay_allowance_follows_the_sandboxs_fixed_windows() -> None:
    from bench.relay import allowed_finish

    # Eight messages ready at once, 5 per 5 s: five now, three when the window closes.
    assert allowed_finish([0.0] * 8, 5, 5.0, None) == 5.0
    # A window left open by earlier messages (2 left until t=3): two now, five at 3, the last at 8.
    assert allowed_finish([0.0] * 8, 5, 5.0, (2, 3.0)) == 8.0
    # Messages that trickle in slower than the limit go when they are ready.
    assert allowed_finish([0.0, 2.0, 9.0], 5, 5.0, None) == 9.0


async def test_the_load_ramp_checks_every_step_and_stops_at_the_first_miss() -> None:
    from bench.load import LoadConfig, Runner, StepResult, ramp
    from bot.sandbox.actors import Sandbox

    checked: list[float] = []
    offered: list[float] = []

    async def fake_step(runner: Runner, rate: float, duration: float, rng: object) -> StepResult:
        offered.append(rate)
        result = StepResult(rate, duration, events=int(rate * duration))
        if rate > 30:
            result.misses.append("ping: answered after Discord's 3-second limit")
        return result

    async def check() -> None:
        checked.append(offered[-1])

    import bench.load as load

    real = load.run_step
    load.run_step = fake_step
    try:
        cfg = LoadConfig(
            members=1, circles=1, conversations=0, probe_s=1, confirm_s=0, start_rate=10, factor=2, max_steps=5
        )
        # Built but never listening: ramp reads it only for the latencies of a step's outcomes.
        sandbox = await Sandbox.create(start=False)
        result = await ramp(Runner(None, []), sandbox, cfg, check, seed=0, log=lambda _: None)
    finally:
        load.run_step = real
    assert offered == [10, 20, 40]
    assert checked == [10, 20], "exactly-once checks run after every passing step, not after the failing one"
    assert result.best is not None and result.best.rate == 20
    assert "3-second" in result.stopped_by


# -- where the bot keeps its data, and the load scenario's configurations -------------------------


async def test_a_bot_database_counts_rows_in_a_sqlite_file(tmp_path: Path) -> None:
    import sqlite3

    from bench.database import BotDatabase

    database = BotDatabase.sqlite(tmp_path / "bot.db")
    with sqlite3.connect(database.path or "") as conn:
        conn.execute("CREATE TABLE checkins (mood INTEGER)")
        conn.executemany("INSERT INTO checkins VALUES (?)", [(1,), (4,), (4,)])
    assert database.target == str(tmp_path / "bot.db") and database.backend == "SQLite"
    assert await database.count("SELECT COUNT(*) FROM checkins WHERE mood = ?", (4,)) == 2
    await database.drop()  # nothing to drop: the file goes with the run's folder


async def test_a_bot_database_on_postgresql_is_a_schema_of_its_own() -> None:
    from bench.database import BotDatabase, postgres_url

    if postgres_url() is None:
        pytest.skip("no PostgreSQL (set TEST_DATABASE_URL)")
    import asyncpg

    database = await BotDatabase.postgres("smoke")
    try:
        assert database.url is not None and database.target == database.url
        conn = await asyncpg.connect(database.url)
        try:
            await conn.execute("CREATE TABLE checkins (mood INTEGER)")
            await conn.execute("INSERT INTO checkins VALUES (1), (4), (4)")
        finally:
            await conn.close()
        assert await database.count("SELECT COUNT(*) FROM checkins WHERE mood = ?", (4,)) == 2
    finally:
        await database.drop()


async def test_postgresql_load_rows_say_they_were_skipped_without_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.database import NO_POSTGRES
    from bench.load import CONFIGURATIONS, QUICK, RampResult, load_row, run_configuration

    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    assert [c.label for c in CONFIGURATIONS] == [
        "SQLite, 1 process",
        "PostgreSQL, 1 process",
        "PostgreSQL, 2 processes (2 shards)",
    ]
    base = RampResult([], None, "")
    for configuration in CONFIGURATIONS[1:]:
        run = await run_configuration(configuration, QUICK, Path("."), lambda _: None)
        row = load_row(QUICK, base, run)
        assert row.note == NO_POSTGRES == "skipped: no PostgreSQL (set TEST_DATABASE_URL)"
        assert row.cells()[1].startswith(configuration.label) and row.cells()[4] == "" and row.met is None


async def test_the_load_world_is_spread_over_servers_on_both_shards() -> None:
    from bench.load import QUICK, _servers

    for shards in (1, 2):
        guilds = await _servers(QUICK, shards)
        try:
            server = guilds[0].server
            assert len(guilds) == QUICK.guilds == 4 and server.shard_count == shards
            assert [server.shard_of(g.guild) for g in guilds] == [g % shards for g in range(4)]
            assert all(g.has_channel("general") and g.has_channel("moderation") for g in guilds)
        finally:
            await guilds[0].stop()
