"""Smoke test for the benchmark harness (bench/run.py): the quick run of the cheapest scenarios
works end to end and produces the expected table rows. Numbers are not judged here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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
