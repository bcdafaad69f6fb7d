"""Benchmark the crisis screen: accuracy per data set and language, speed, memory and load time.

    python bench/safety_benchmark.py [--errors N] [--no-budgets] [--only SET] [--out FILE]

Accuracy is measured on three labelled sets (format: tests/data/SAFETY_LABELS.md):

* ``dev``: tests/data/safety_dev.tsv, used to choose the model's thresholds (a tuned figure);
* ``held-out``: tests/data/safety_heldout.tsv, written before tuning by someone who never saw
  the lexicon, the model or its training data, and frozen: never tuned on;
* ``fresh``: tests/data/safety_fresh.tsv, written at the end by a second independent writer,
  to tell whether the held-out set leaked into tuning.

Two more sets hold only everyday messages of a peer-support server (check-ins, grief and
recovery circles, very short chat replies, supportive replies to others): ``everyday-dev``
(used with dev to choose thresholds) and ``everyday`` (never tuned on). For them the table shows
the share of messages flagged at all and graded urgent: a false alarm interrupts someone who
only wanted to say how their week went.

Each row shows the combined screen (lexicon and model) beside the lexicon alone, the baseline
measured in the same run. "flagged" means concern or urgent; precision and recall are over
flagged; "urgent as urgent" is the share of urgent texts graded urgent.

Budgets (measured here, never in timed unit tests): one message assessed in p99 <= 5 ms on one
core, <= 60 MiB resident memory added by the model, and a load time (the bot loads on a worker
thread at start).

Prints Markdown. Exits 1 when the goal misses on the held-out or fresh set, or a budget misses
(the everyday false-alarm bar is reported, not enforced).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # allow `python bench/safety_benchmark.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench.safety_data import LABELS, LANGS, Labelled, load  # noqa: E402

if TYPE_CHECKING:
    from bot.safety import Assessment

DATA = ROOT / "tests" / "data"
SETS: dict[str, Path] = {
    "dev": DATA / "safety_dev.tsv",
    "held-out": DATA / "safety_heldout.tsv",
    "fresh": DATA / "safety_fresh.tsv",
}
# Everyday messages only (no crisis texts): how often the screen interrupts someone for nothing.
EVERYDAY_SETS: dict[str, Path] = {
    "everyday-dev": DATA / "safety_everyday_dev.tsv",
    "everyday": DATA / "safety_everyday.tsv",
}
# A product bar of ours, not the goal: it is reported as met or missed but doesn't set the
# exit status.
EVERYDAY_ALARM_LIMIT = 0.05
JUDGED = ("held-out", "fresh")  # the goal is judged on these, never on dev

GOAL_RECALL = 0.90
GOAL_PRECISION = 0.85
GOAL_URGENT = 0.80
GOAL_LANG_RECALL = 0.80
BUDGET_P99_MS = 5.0
BUDGET_MODEL_MIB = 60.0
# Hostile input: every repetition in the lexicon is bounded and every context rule checks only the
# nearest cue, so each takes well under a second; quadratic behaviour would take minutes.
BUDGET_ADVERSARIAL_MS = 3000.0
ADVERSARIAL = {
    "repeat": "really " * 20_000,
    "alternate": "so really " * 10_000,
    "long-adverbs": "i am " + "so " * 20_000 + "hopeless",
    "cues+matches": "she said i want to kill myself " * 2_000,
    "pseudo": "not sure i want to die " * 3_000,
    "quotes": '"i want to die" ' * 3_000,
    "historical": "years ago i wanted to kill myself " * 2_000,
}

# The lexicon's own corpus (English, used to tune the lexicon) and its targets: a regression
# check for the lexicon half, not a measure of the screen.
LEXICON_CORPUS = DATA / "safety_corpus.tsv"
TARGET_RECALL = 0.95
TARGET_PRECISION = 0.85


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    missed: list[Labelled] = field(default_factory=list)
    false_alarms: list[Labelled] = field(default_factory=list)

    def add(self, row: Labelled, predicted: str) -> None:
        self.confusion[(row.label, predicted)] += 1
        if row.label != "none" and predicted == "none":
            self.missed.append(row)
        elif row.label == "none" and predicted != "none":
            self.false_alarms.append(row)

    def _sum(self, gold: Callable[[str], bool], pred: Callable[[str], bool]) -> int:
        return sum(n for (g, p), n in self.confusion.items() if gold(g) and pred(p))

    @property
    def total(self) -> int:
        return sum(self.confusion.values())

    @property
    def positives(self) -> int:
        return self._sum(lambda g: g != "none", lambda p: True)

    @property
    def tp(self) -> int:
        return self._sum(lambda g: g != "none", lambda p: p != "none")

    @property
    def fp(self) -> int:
        return self._sum(lambda g: g == "none", lambda p: p != "none")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else 1.0

    @property
    def urgent_total(self) -> int:
        return self._sum(lambda g: g == "urgent", lambda p: True)

    @property
    def urgent_as_urgent(self) -> float:
        return self.confusion[("urgent", "urgent")] / self.urgent_total if self.urgent_total else 1.0

    @property
    def urgent_as_none(self) -> int:
        return self.confusion[("urgent", "none")]


def score(rows: Sequence[Labelled], assess_fn: Callable[[str], Assessment]) -> Score:
    result = Score()
    for row in rows:
        result.add(row, assess_fn(row.text).level.value)
    return result


def meets_goal(overall: Score, per_lang: dict[str, Score]) -> bool:
    return (
        overall.recall >= GOAL_RECALL
        and overall.precision >= GOAL_PRECISION
        and overall.urgent_as_urgent >= GOAL_URGENT
        and all(s.recall >= GOAL_LANG_RECALL for s in per_lang.values() if s.positives)
    )


# --------------------------------------------------------------------------- the lexicon's own corpus


@dataclass(frozen=True, slots=True)
class Example:
    label: str
    text: str
    line: int


def load_corpus(path: Path = LEXICON_CORPUS) -> list[Example]:
    """Read the lexicon corpus's ``label<TAB>text`` rows (header, blanks and ``#`` lines skipped)."""
    examples: list[Example] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#") or line.startswith("label\t"):
                continue
            label, sep, text = line.partition("\t")
            if not sep or label not in LABELS or not text.strip() or "\t" in text:
                raise ValueError(f"{path}:{lineno}: expected '<none|concern|urgent>\\t<text>'")
            examples.append(Example(label, text, lineno))
    return examples


@dataclass
class Report:
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[tuple[Example, str]] = field(default_factory=list)

    @property
    def tp(self) -> int:
        return sum(n for (g, p), n in self.confusion.items() if g != "none" and p != "none")

    @property
    def fp(self) -> int:
        return sum(n for (g, p), n in self.confusion.items() if g == "none" and p != "none")

    @property
    def fn(self) -> int:
        return sum(n for (g, p), n in self.confusion.items() if g != "none" and p == "none")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def evaluate(examples: Sequence[Example], assess_fn: Callable[[str], Assessment] | None = None) -> Report:
    """Score ``examples`` with ``assess_fn`` (default: the lexicon alone)."""
    if assess_fn is None:
        from bot.safety import assess_lexicon

        assess_fn = assess_lexicon
    report = Report()
    for ex in examples:
        predicted = assess_fn(ex.text).level.value
        report.confusion[(ex.label, predicted)] += 1
        if predicted != ex.label:
            report.errors.append((ex, predicted))
    return report


# --------------------------------------------------------------------------- budgets


_MEMORY_PROBE = r"""
import gc, resource, sys, time
sys.path.insert(0, sys.argv[1])
def rss():
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
import bot.safety as s
s.default_lexicon()
s.assess_lexicon('warm up')
gc.collect()
before = rss()
started = time.perf_counter()
s.default_model()
loaded = time.perf_counter() - started
s.assess('warm up the model too, with a few words')
gc.collect()
print(rss() - before, loaded)
"""


def model_memory_and_load() -> tuple[float, float]:
    """MiB of resident memory the model adds to a process that has the lexicon, and its load seconds."""
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(ROOT)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    added, seconds = out.stdout.split()
    return float(added), float(seconds)


def latencies_ms(texts: Sequence[str], assess_fn: Callable[[str], object], repeat: int) -> list[float]:
    samples: list[float] = []
    for _ in range(repeat):
        for text in texts:
            started = time.perf_counter_ns()
            assess_fn(text)
            samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples


def p99(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


# --------------------------------------------------------------------------- report


def _row(name: str, combined: Score, lexicon: Score) -> str:
    return (
        f"| {name} | {combined.total} | {combined.positives} | {combined.precision:.3f} ({lexicon.precision:.3f}) "
        f"| {combined.recall:.3f} ({lexicon.recall:.3f}) | {combined.urgent_as_urgent:.3f} ({lexicon.urgent_as_urgent:.3f}) "
        f"| {combined.urgent_as_none} |"
    )


def accuracy_section(name: str, rows: Sequence[Labelled], *, errors: int) -> tuple[list[str], bool]:
    from bot.safety import assess, assess_lexicon

    lines = [
        f"### {name} ({len(rows)} texts)",
        "",
        "Combined screen, with the lexicon alone in brackets.",
        "",
        "| language | texts | crisis texts | precision | recall | urgent as urgent | urgent as none |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    overall = score(rows, assess)
    overall_lex = score(rows, assess_lexicon)
    per_lang: dict[str, Score] = {}
    for lang in LANGS:
        sub = [r for r in rows if r.lang == lang]
        if sub:
            per_lang[lang] = score(sub, assess)
            lines.append(_row(lang, per_lang[lang], score(sub, assess_lexicon)))
    lines.append(_row("**all**", overall, overall_lex))
    ok = meets_goal(overall, per_lang)
    lines += [
        "",
        f"Goal (recall >= {GOAL_RECALL}, precision >= {GOAL_PRECISION}, urgent as urgent >= {GOAL_URGENT}, "
        f"recall >= {GOAL_LANG_RECALL} in each language): **{'met' if ok else 'missed'}**.",
        "",
        "| kind | texts | screen wrong |",
        "|---|---:|---:|",
    ]
    kinds = Counter(r.kind for r in rows)
    wrong = Counter(r.kind for r in (*overall.missed, *overall.false_alarms))
    for kind, n in sorted(kinds.items(), key=lambda kv: (-wrong[kv[0]] / kv[1], kv[0])):
        lines.append(f"| {kind} | {n} | {wrong[kind]} ({wrong[kind] / n:.0%}) |")
    if errors:
        lines += ["", f"Missed (first {errors}):", ""]
        lines += [f"- {r.label} {r.lang} {r.kind}: {r.text}" for r in overall.missed[:errors]]
        lines += ["", f"False alarms (first {errors}):", ""]
        lines += [f"- {r.lang} {r.kind}: {r.text}" for r in overall.false_alarms[:errors]]
    return [*lines, ""], ok


def everyday_section(name: str, rows: Sequence[Labelled]) -> tuple[list[str], bool]:
    from bot.safety import assess, assess_lexicon

    lines = [
        f"### {name} ({len(rows)} everyday messages, no crisis texts)",
        "",
        "Share of messages flagged (concern or urgent) and graded urgent; the lexicon alone in brackets.",
        "",
        "| language | messages | flagged | urgent |",
        "|---|---:|---:|---:|",
    ]

    def shares(sub: Sequence[Labelled], fn: Callable[[str], Assessment]) -> tuple[float, float]:
        levels = [fn(r.text).level.value for r in sub]
        return sum(lv != "none" for lv in levels) / len(levels), sum(lv == "urgent" for lv in levels) / len(levels)

    for lang in (*LANGS, None):
        sub = [r for r in rows if lang is None or r.lang == lang]
        if not sub:
            continue
        flagged, urgent = shares(sub, assess)
        lex_flagged, lex_urgent = shares(sub, assess_lexicon)
        label = "**all**" if lang is None else lang
        lines.append(f"| {label} | {len(sub)} | {flagged:.1%} ({lex_flagged:.1%}) | {urgent:.1%} ({lex_urgent:.1%}) |")
    overall, _ = shares(rows, assess)
    ok = overall <= EVERYDAY_ALARM_LIMIT
    lines += ["", f"At most {EVERYDAY_ALARM_LIMIT:.0%} flagged: **{'met' if ok else 'missed'}**.", ""]
    return lines, ok


def budget_section() -> tuple[list[str], bool]:
    from bot.safety import assess, assess_lexicon, warm_up

    with_affinity = hasattr(os, "sched_setaffinity")
    if with_affinity:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    warm_up()
    texts = [r.text for path in (*SETS.values(), *EVERYDAY_SETS.values()) if path.exists() for r in load(path)]
    combined = latencies_ms(texts, assess, repeat=3)
    lexicon = latencies_ms(texts, assess_lexicon, repeat=3)
    added, load_s = model_memory_and_load()
    # Discord allows 2,000 characters in a message (4,000 with Nitro; forms take up to 4,000).
    # Long messages are made of real texts run together, as a long post would be.
    long_texts = {}
    for size in (2000, 4000):
        joined, k = "", 0
        while len(joined) < size:
            joined += texts[k % len(texts)] + " "
            k += 7
        long_texts[size] = joined[:size]
    long_ms = {size: statistics.median(latencies_ms([t], assess, repeat=20)) for size, t in long_texts.items()}
    hostile = {name: max(latencies_ms([text], assess, repeat=1)) for name, text in ADVERSARIAL.items()}
    worst = max(hostile, key=lambda name: hostile[name])
    ok = p99(combined) <= BUDGET_P99_MS and added <= BUDGET_MODEL_MIB and hostile[worst] <= BUDGET_ADVERSARIAL_MS
    lines = [
        "### Budgets" + (" (one core)" if with_affinity else ""),
        "",
        "| measure | screen | lexicon alone | budget |",
        "|---|---:|---:|---:|",
        f"| assess one message, median (ms) | {statistics.median(combined):.3f} | {statistics.median(lexicon):.3f} | |",
        f"| assess one message, p99 (ms) | {p99(combined):.3f} | {p99(lexicon):.3f} | <= {BUDGET_P99_MS} |",
        f"| a 2,000-character message, median (ms) | {long_ms[2000]:.3f} | | |",
        f"| a 4,000-character message, median (ms) | {long_ms[4000]:.3f} | | |",
        f"| slowest hostile input ({worst}, of {len(hostile)}) (ms) | {hostile[worst]:.1f} | | "
        f"<= {BUDGET_ADVERSARIAL_MS:.0f} |",
        f"| resident memory added by the model (MiB) | {added:.1f} | | <= {BUDGET_MODEL_MIB:.0f} |",
        f"| model load (ms, on a worker thread at start) | {load_s * 1000:.0f} | | |",
        "",
        f"{len(texts)} texts x 3 passes. Budgets: **{'met' if ok else 'missed'}**.",
        "",
    ]
    return lines, ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--errors", type=int, default=0, help="list this many misses and false alarms (dev set only)")
    parser.add_argument("--no-budgets", action="store_true", help="skip the speed and memory measurements")
    parser.add_argument(
        "--only", choices=sorted({*SETS, *EVERYDAY_SETS}), action="append", help="measure only these sets"
    )
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    report: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        report.append(text)

    from bot.safety import default_model

    model = default_model()
    emit("## Crisis screen benchmark")
    emit()
    emit(
        f"Model {model.sha256[:16]}, trained on {model.meta.get('training_texts', '?')} texts; thresholds {dict(model.thresholds)}."
    )
    emit()
    ok = True
    for name, path in SETS.items():
        if args.only and name not in args.only:
            continue
        if not path.exists():
            emit(f"### {name}: {path.relative_to(ROOT)} is not there yet\n")
            if name in JUDGED:
                ok = False
            continue
        # Texts are listed for the dev set only: reading the held-out set's misses would be tuning on it.
        lines, met = accuracy_section(name, load(path), errors=args.errors if name == "dev" else 0)
        emit("\n".join(lines))
        if name in JUDGED:
            ok = ok and met
    for name, path in EVERYDAY_SETS.items():
        if args.only and name not in args.only:
            continue
        if path.exists():
            lines, _ = everyday_section(name, load(path))
            emit("\n".join(lines))
    if not args.no_budgets:
        lines, met = budget_section()
        emit("\n".join(lines))
        ok = ok and met
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(report) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
