"""Scenario 1: interaction latency. ``/checkin now``, a mood button, ``/share post`` (the form),
share Post and ``/support ask``, at 1 and at 100 people at once, against the bare bot's ``/ping``.

Each latency is the sandbox's own clock from INTERACTION_CREATE sent to the callback received (see
``bench/run.py``). Any answer missing or later than Discord's 3 seconds, or a share or check-in
stored twice or lost, raises :class:`~bench.common.BenchError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import LOAD_RATE_LIMIT, BenchError, Row, Stat, callback_times, start_bot, think
from bot.sandbox.actors import Outcome, Person, Sandbox
from bot.sandbox.state import INTERACTION_TIMEOUT_S, Interaction


def latencies(sandbox: Sandbox, outcomes: Sequence[Outcome]) -> list[float]:
    """Latency of each interaction; raises unless every one was answered within Discord's limit."""
    times = callback_times(sandbox)
    result: list[float] = []
    for outcome in outcomes:
        interaction: Interaction = outcome.interaction
        if interaction.late:
            raise BenchError(f"{interaction.name!r} was answered after Discord's 3-second limit")
        at = times.get(interaction.id)
        if at is None or not interaction.responded.is_set():
            raise BenchError(f"{interaction.name!r} (interaction {interaction.id}) was never answered")
        latency = at - (interaction.sent or interaction.created)
        if latency > INTERACTION_TIMEOUT_S:
            raise BenchError(f"{interaction.name!r} took {latency:.3f}s, over Discord's 3-second limit")
        result.append(latency)
    return result


async def measure(
    sandbox: Sandbox,
    people: list[Person],
    action: Callable[[Person], Awaitable[Outcome]],
    *,
    concurrency: int,
    samples: int,
    offset: int = 0,
) -> list[float]:
    """Run ``action`` ``samples`` times, ``concurrency`` at once, people in turn from ``offset``."""
    collected: list[float] = []
    turn = offset
    while len(collected) < samples:
        wave = min(concurrency, samples - len(collected))
        who = [people[(turn + i) % len(people)] for i in range(wave)]
        turn += wave
        outcomes = await asyncio.gather(*(action(p) for p in who))
        collected += latencies(sandbox, outcomes)
    return collected


@dataclass
class LatencyConfig:
    solo_samples: int
    crowd: int
    crowd_waves: int


CIRCLE = "Grief"
CIRCLE_CHANNEL = "circle-grief"
MEMBER_ROLE = f"Circle: {CIRCLE}"


async def baseline_latency(cfg: LatencyConfig, workdir: Path) -> dict[int, Stat]:
    sandbox = await Sandbox.create(spec_path=None, default_rate_limit=LOAD_RATE_LIMIT)
    bot = None
    try:
        bot = await start_bot("baseline", sandbox, workdir, "latency-baseline")
        people = [sandbox.member(f"base{i}") for i in range(cfg.crowd)]

        async def ping(person: Person) -> Outcome:
            return await person.slash("ping")

        await measure(sandbox, people, ping, concurrency=1, samples=5)  # warm-up
        solo = await measure(sandbox, people, ping, concurrency=1, samples=cfg.solo_samples)
        crowd = await measure(sandbox, people, ping, concurrency=cfg.crowd, samples=cfg.crowd * cfg.crowd_waves)
        for person in people[:3]:
            if not any("pong" in m.text for m in person.ephemeral_replies):
                raise BenchError("the baseline bot's reply was not stored by the sandbox")
        return {1: Stat(solo), cfg.crowd: Stat(crowd)}
    finally:
        if bot is not None:
            await bot.stop()
        await sandbox.stop()


async def _prepare_circle(sandbox: Sandbox) -> None:
    ana = sandbox.admin("ana")
    await ana.slash("setup", moderation_channel=sandbox.channel("moderation"))
    opened = await ana.slash("circle create", name=CIRCLE, description="For anyone grieving")
    await (await ana.submit_modal(opened)).settled()
    if not sandbox.has_channel(CIRCLE_CHANNEL):
        raise BenchError("the benchmark circle was not created")
    edited = await ana.slash("circle edit", circle=CIRCLE, share_limit=60)
    await edited.settled()


async def bot_latency(cfg: LatencyConfig, workdir: Path) -> dict[str, dict[int, Stat]]:
    sandbox = await Sandbox.create(spec_path=None, default_rate_limit=LOAD_RATE_LIMIT)
    bot = None
    try:
        bot = await start_bot("bot", sandbox, workdir, "latency")
        await _prepare_circle(sandbox)
        people = [sandbox.member(f"m{i}", roles=[MEMBER_ROLE]) for i in range(cfg.crowd)]
        state: dict[int, Outcome] = {}  # person -> the last /checkin now answer (for the mood click)
        previews: dict[int, Outcome] = {}

        async def checkin(person: Person) -> Outcome:
            outcome = await person.slash("checkin now", where=CIRCLE_CHANNEL)
            state[person.id] = outcome
            return outcome

        async def mood(person: Person) -> Outcome:
            return await person.click(state[person.id], "4 · Good")

        async def share_open(person: Person) -> Outcome:
            outcome = await person.slash("share post", where=CIRCLE_CHANNEL)
            if outcome.kind != "modal":
                raise BenchError(f"/share post did not open the form: {outcome.text[:200]!r}")
            values: dict[str, Any] = {"share:text": f"Benchmark share from {person.user.username}", "share:warning": ""}
            await think()
            preview = await person.submit_modal(outcome, **values)
            previews[person.id] = preview
            return outcome

        async def share_post(person: Person) -> Outcome:
            outcome = await person.click(previews.pop(person.id), "Post")
            await outcome.settled("the share to be posted", timeout=10)
            return outcome

        async def support(person: Person) -> Outcome:
            return await person.slash("support ask", where=CIRCLE_CHANNEL)

        actions: list[tuple[str, Callable[[Person], Awaitable[Outcome]]]] = [
            ("/checkin one-tap", checkin),
            ("mood button", mood),
            ("/share modal open", share_open),
            ("share Post", share_post),
            ("/support", support),
        ]
        for _, action in actions:  # warm-up: every code path once
            await measure(sandbox, people, action, concurrency=1, samples=1)
        turn = 1
        results: dict[str, dict[int, Stat]] = {name: {} for name, _ in actions}
        # Alternate the actions so a noisy moment hits them all alike; mood follows its check-in.
        for concurrency, total in ((1, cfg.solo_samples), (cfg.crowd, cfg.crowd * cfg.crowd_waves)):
            samples: dict[str, list[float]] = {name: [] for name, _ in actions}
            done = 0
            while done < total:
                wave = min(concurrency, total - done)
                for name, action in actions:
                    samples[name] += await measure(sandbox, people, action, concurrency=wave, samples=wave, offset=turn)
                done += wave
                turn += wave
            for name in samples:
                results[name][concurrency] = Stat(samples[name])
        # Exactly-once: one posted share per Post click, one check-in row per mood tap.
        posted = [m for m in sandbox.channel(CIRCLE_CHANNEL).messages if "shared anonymously" in m.text]
        stored = await bot.database.count("SELECT COUNT(*) FROM shares WHERE status = 'posted'")
        expected_posts = cfg.solo_samples + cfg.crowd * cfg.crowd_waves + 1
        if len(posted) != expected_posts or stored != expected_posts:
            raise BenchError(
                f"expected {expected_posts} posted shares, saw {len(posted)} in the channel, {stored} stored"
            )
        checkins = await bot.database.count("SELECT COUNT(*) FROM checkins")
        if checkins != expected_posts:
            raise BenchError(f"expected {expected_posts} stored check-ins, found {checkins}")
        return results
    except BaseException:
        if bot is not None:
            await bot.dump_tasks()
        raise
    finally:
        if bot is not None:
            await bot.stop()
        await sandbox.stop()


async def scenario_latency(quick: bool, workdir: Path) -> list[Row]:
    cfg = LatencyConfig(solo_samples=20, crowd=100, crowd_waves=1) if quick else LatencyConfig(100, 100, 3)
    base = await baseline_latency(cfg, workdir)
    mine = await bot_latency(cfg, workdir)
    rows: list[Row] = []
    for concurrency in (1, cfg.crowd):
        for name, by_level in mine.items():
            stat = by_level[concurrency]
            floor = base[concurrency]
            met = stat.median <= 1.3 * floor.median and stat.p99 <= 2.0 * floor.p99
            rows.append(
                Row(
                    "1 latency",
                    f"{name} @ {concurrency} concurrent",
                    "ms",
                    stat,
                    floor,
                    "median ≤1.3x, p99 ≤2x; none >3 s",
                    met,
                    f"max {max(stat.samples) * 1000:.0f} ms" if concurrency > 1 else "",
                )
            )
    return rows
