"""What the benchmark scenarios share: the error a correctness check raises, the statistics and the
table's row, the bot under test in its own process, and the sandbox's record of when each
interaction was answered.

One module per scenario uses these (``latency``, ``load``, ``relay``, ``startup_scenario``,
``storage``); ``bench/run.py`` runs the scenarios and prints the table. Nothing here imports a
scenario.
"""

from __future__ import annotations

import asyncio
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.database import BotDatabase
from bench.serve import BotProcess
from bot.sandbox.actors import Sandbox

ROOT = Path(__file__).resolve().parent.parent

LOAD_RATE_LIMIT = (100_000, 1.0)  # latency scenarios: no artificial REST limits in the way
CALLBACK_PATH = re.compile(r"^/interactions/(\d+)/[^/]+/callback$")
# How the bot labels a support message it relays (the relay and load scenarios read them back).
LABEL = re.compile(r"^\*\*(Member|Listener) · [A-Z0-9]{4}\*\*\n", re.S)


class BenchError(AssertionError):
    """A benchmark's correctness check failed (not a missed target: a wrong result). ``rows``: what
    the scenario did measure before or beside the failure (other configurations), still reported."""

    def __init__(self, message: str, *, rows: list[Row] | None = None) -> None:
        super().__init__(message)
        self.rows = list(rows or [])


# -- statistics and the table's rows ----------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        raise BenchError("no samples")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Stat:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)

    @property
    def n(self) -> int:
        return len(self.samples)


@dataclass
class Row:
    scenario: str
    measure: str
    unit: str
    bot: Stat | float | None  # None: not measured (the note says why)
    baseline: Stat | float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    def cells(self) -> list[str]:
        def fmt(value: float) -> str:
            if self.unit == "ms":
                return f"{value * 1000:.2f}"
            if abs(value) >= 100:
                return f"{value:,.0f}"
            return f"{value:.3g}"

        def pair(stat: Stat | float | None) -> tuple[str, str]:
            if stat is None:
                return "", ""
            if isinstance(stat, Stat):
                return fmt(stat.median), fmt(stat.p99)
            return fmt(stat), ""

        bot_med, bot_p99 = pair(self.bot)
        base_med, base_p99 = pair(self.baseline)
        ratio_med = ratio_p99 = ""
        if isinstance(self.bot, Stat) and isinstance(self.baseline, Stat):
            ratio_med = f"{self.bot.median / self.baseline.median:.2f}x"
            ratio_p99 = f"{self.bot.p99 / self.baseline.p99:.2f}x"
        elif isinstance(self.bot, float) and isinstance(self.baseline, float) and self.baseline:
            ratio_med = f"{self.bot / self.baseline:.2f}x"
        n = str(self.bot.n) if isinstance(self.bot, Stat) else ""
        met = "" if self.met is None else ("met" if self.met else "**missed**")
        return [
            self.scenario,
            self.measure,
            self.unit,
            n,
            bot_med,
            bot_p99,
            base_med,
            base_p99,
            ratio_med,
            ratio_p99,
            self.target,
            met,
            self.note,
        ]


HEADER = [
    "Scenario",
    "Measure",
    "Unit",
    "n",
    "peer-circles median",
    "p99",
    "baseline median",
    "baseline p99",
    "ratio median",
    "ratio p99",
    "Target",
    "Result",
    "Note",
]


# -- the bots under test -------------------------------------------------------------------------


async def start_bot(
    kind: str,
    sandbox: Sandbox,
    workdir: Path,
    name: str,
    database: BotDatabase | None = None,
    settings: dict[str, str] | None = None,
) -> BotProcess:
    """The bot (or the baseline) in its own process against this sandbox, ready. Its data goes to
    ``database`` (default: a SQLite file named after it in ``workdir``); ``settings`` are more
    settings by their environment names (``SHARD_COUNT``, ``SHARD_IDS``)."""
    database = database or BotDatabase.sqlite(workdir / f"{name}.db")
    return await BotProcess(kind, sandbox, database, workdir / f"{name}.log", settings).start()


# -- measuring interactions ---------------------------------------------------------------------


def callback_times(sandbox: Sandbox) -> dict[int, float]:
    """interaction id -> when the sandbox had handled the bot's (first successful) callback."""
    found: dict[int, float] = {}
    for request in sandbox.server.requests:
        if request.method != "POST" or request.status >= 400:
            continue
        match = CALLBACK_PATH.match(request.path)
        if match:
            found.setdefault(int(match.group(1)), request.at)
    return found


THINK_S = 0.25


async def think() -> None:
    """A person reading or typing before their next step. Real people take seconds; without any
    pause the harness (in its own process) can answer a form before discord.py has even stored
    it (send_modal stores the modal only after Discord accepted the callback), which no person
    could do."""
    await asyncio.sleep(THINK_S)
