"""Speed, memory and storage benchmarks: the real bot against a bare discord.py bot, in one run.

Usage::

    python -m bench.run [--quick] [--out bench/results/latest.md] [--only NAME ...]

Everything goes through the sandbox Discord (no OpenAPI validation while timing) with the real
discord.py client. The baseline is a bare ``discord.Client`` + ``CommandTree`` with one slash
command that answers a fixed ephemeral reply: the cost of Discord's protocol and discord.py.

Interaction latency is measured by the sandbox's own clock, as the issue defines it: from the moment
it has sent the INTERACTION_CREATE (``Interaction.sent``) to the moment the bot's callback request
arrived (the ``RecordedRequest.at`` of ``POST /interactions/{id}/{token}/callback``), so neither the
sandbox's work building the event nor its work handling the callback counts as the bot's.

Correctness checks (every interaction answered, none after Discord's 3-second limit, rows stored
exactly once) raise :class:`~bench.common.BenchError`; targets are reported as met or missed, never
asserted.

Each scenario is a module of its own (``latency``, ``load``, ``relay``, ``startup_scenario``,
``storage``), over what they share in ``bench/common.py``; this one parses the arguments, runs the
chosen scenarios and prints and writes the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import discord  # noqa: E402

from bench.common import HEADER, ROOT, BenchError, Row  # noqa: E402
from bench.latency import scenario_latency  # noqa: E402
from bench.load import scenario_load  # noqa: E402
from bench.relay import scenario_relay  # noqa: E402
from bench.startup_scenario import scenario_startup  # noqa: E402
from bench.storage import scenario_storage  # noqa: E402

DEFAULT_OUT = ROOT / "bench" / "results" / "latest.md"
SCENARIOS = ("latency", "storage", "startup", "relay", "load")  # load last: it leaves the biggest heap


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    return (
        f"{os.cpu_count()} CPU ({model or platform.processor() or 'unknown CPU'}){mem}, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, discord.py {discord.__version__}"
    )


def render(rows: list[Row], *, quick: bool, started: datetime, elapsed: float) -> str:
    lines = [
        f"Benchmarks ({'quick' if quick else 'full'} run, {started:%Y-%m-%d %H:%M} UTC, {elapsed:.0f} s)",
        "",
        f"Machine: {machine()}",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# -- running ------------------------------------------------------------------------------------

RUNNERS: dict[str, Callable[[bool, Path], Awaitable[list[Row]]]] = {
    "latency": scenario_latency,
    "load": scenario_load,
    "storage": scenario_storage,
    "startup": scenario_startup,
    "relay": scenario_relay,
}


def print_logs(workdir: Path) -> None:
    """The bot processes' own logs, when a scenario failed."""
    for log_file in sorted(workdir.glob("*.log")):
        tail = log_file.read_text(errors="replace")[-3000:]
        if tail.strip():
            print(f"[bench] {log_file.name} (last lines):\n{tail}", file=sys.stderr)


async def run(quick: bool, only: Sequence[str] | None = None, *, keep_going: bool = False) -> list[Row]:
    """Run the scenarios in turn. A failed correctness check raises, unless ``keep_going``: then it
    becomes a row saying so (and :func:`main` exits non-zero), and the other scenarios still run."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="peer-circles-bench-") as tmp:
        for name in only or SCENARIOS:
            gc.unfreeze()  # the load scenario freezes the harness's heap; let the last one's go
            gc.collect()
            t0 = time.perf_counter()
            try:
                found = await RUNNERS[name](quick, Path(tmp))
            except Exception as exc:
                print_logs(Path(tmp))
                if not keep_going:
                    raise
                measured = exc.rows if isinstance(exc, BenchError) else []
                found = [*measured, Row(name, "correctness check", "", 0.0, met=False, note=f"FAILED: {exc}"[:600])]
            print(f"[bench] {name}: {time.perf_counter() - t0:.1f}s", file=sys.stderr)
            for row in found:
                print("[bench] | " + " | ".join(row.cells()) + " |", file=sys.stderr)
            rows += found
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sample sizes, for CI smoke runs (~1.5 min)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"write the table here (default {DEFAULT_OUT})")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these scenarios")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("discord").setLevel(logging.ERROR)  # 429 retries are counted in the table instead
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    rows = asyncio.run(run(args.quick, args.only, keep_going=True))
    table = render(rows, quick=args.quick, started=started, elapsed=time.perf_counter() - t0)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")
    failed = [row for row in rows if row.measure == "correctness check"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
