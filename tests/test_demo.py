"""`peer-circles demo` plays its scenario and exits 0."""

from __future__ import annotations

from bot.demo import run_demo


async def test_demo_runs_every_scene() -> None:
    lines: list[str] = []
    assert await run_demo(out=lines.append) == 0
    text = "\n".join(lines)
    assert "Alice runs /about" in text
    assert "Demo finished" in text
