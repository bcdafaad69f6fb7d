"""Smoke test for the benchmark harness (bench/run.py): the quick run of the cheapest scenarios
works end to end and produces the expected table rows. Numbers are not judged here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench.run import BenchError, Row, Stat, percentile, render, run


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
    assert any(m.startswith("5 storage | database size per 1,000,000 check-ins") for m in measures)
    for row in rows:
        if row.scenario == "1 latency":
            assert isinstance(row.bot, Stat) and isinstance(row.baseline, Stat)
            assert max(row.bot.samples) < 3.0 and row.met is not None
    table = render(rows, quick=True, started=datetime.now(UTC), elapsed=1.0)
    assert table.count("\n| ") == len(rows) + 1  # header + one line per row
    assert "peer-circles median" in table and "Machine:" in table
