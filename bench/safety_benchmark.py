"""Benchmark bot.safety against the labelled corpus.

Usage::

    python bench/safety_benchmark.py [--corpus PATH] [--repeat N] [--errors N]

Prints Markdown tables to stdout: flagged-vs-not precision and recall,
per-level precision and recall, a confusion matrix, throughput and the
misclassified sentences. Exits 1 when the target is missed. The target is
flagged recall >= 0.95, flagged precision >= 0.85, and no urgent sentence
assessed as ``none``.
"""

from __future__ import annotations

import argparse
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

if TYPE_CHECKING:
    from bot.safety import Assessment

DEFAULT_CORPUS = ROOT / "tests" / "data" / "safety_corpus.tsv"
LEVELS: tuple[str, ...] = ("none", "concern", "urgent")
TARGET_RECALL = 0.95
TARGET_PRECISION = 0.85


@dataclass(frozen=True, slots=True)
class Example:
    label: str
    text: str
    line: int


def load_corpus(path: Path = DEFAULT_CORPUS) -> list[Example]:
    """Read ``label<TAB>text`` rows. Skips the header, blank lines and ``#`` comments."""
    examples: list[Example] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#") or line.startswith("label\t"):
                continue
            label, sep, text = line.partition("\t")
            if not sep or label not in LEVELS or not text.strip() or "\t" in text:
                raise ValueError(f"{path}:{lineno}: expected '<none|concern|urgent>\\t<text>'")
            examples.append(Example(label, text, lineno))
    return examples


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


@dataclass
class Report:
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[tuple[Example, str]] = field(default_factory=list)
    seconds: float = 0.0
    assessed: int = 0
    load_seconds: float = 0.0

    # flagged = concern or urgent
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
    def tn(self) -> int:
        return self.confusion[("none", "none")]

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def urgent_as_none(self) -> int:
        return self.confusion[("urgent", "none")]

    @property
    def total(self) -> int:
        return sum(self.confusion.values())

    @property
    def exact_accuracy(self) -> float:
        return _ratio(sum(self.confusion[(lvl, lvl)] for lvl in LEVELS), self.total)

    def level_precision(self, level: str) -> float:
        return _ratio(self.confusion[(level, level)], sum(self.confusion[(g, level)] for g in LEVELS))

    def level_recall(self, level: str) -> float:
        return _ratio(self.confusion[(level, level)], sum(self.confusion[(level, p)] for p in LEVELS))

    @property
    def throughput(self) -> float:
        return self.assessed / self.seconds if self.seconds else float("inf")

    @property
    def passed(self) -> bool:
        return self.recall >= TARGET_RECALL and self.precision >= TARGET_PRECISION and not self.urgent_as_none


def evaluate(
    examples: Sequence[Example],
    assess_fn: Callable[[str], Assessment] | None = None,
    *,
    repeat: int = 1,
) -> Report:
    """Score ``examples`` and time ``repeat`` full passes over them."""
    from bot.safety import assess, default_lexicon

    report = Report()
    if assess_fn is None:
        started = time.perf_counter()
        default_lexicon()
        report.load_seconds = time.perf_counter() - started
        assess_fn = assess
    for ex in examples:
        predicted = assess_fn(ex.text).level.value
        report.confusion[(ex.label, predicted)] += 1
        if predicted != ex.label:
            report.errors.append((ex, predicted))
    started = time.perf_counter()
    for _ in range(max(1, repeat)):
        for ex in examples:
            assess_fn(ex.text)
    report.seconds = time.perf_counter() - started
    report.assessed = len(examples) * max(1, repeat)
    return report


def render_markdown(report: Report, *, max_errors: int = 50) -> str:
    ok = "yes" if report.passed else "**NO**"
    lines = [
        "## bot.safety benchmark",
        "",
        "| metric | value | target |",
        "|---|---:|---:|",
        f"| sentences | {report.total} | |",
        f"| flagged precision (concern+urgent) | {report.precision:.3f} | >= {TARGET_PRECISION:.2f} |",
        f"| flagged recall (concern+urgent) | {report.recall:.3f} | >= {TARGET_RECALL:.2f} |",
        f"| urgent assessed as none | {report.urgent_as_none} | 0 |",
        f"| exact level accuracy | {report.exact_accuracy:.3f} | |",
        f"| throughput (sentences/s) | {report.throughput:,.0f} | |",
        f"| lexicon load + compile (ms) | {report.load_seconds * 1000:.1f} | |",
        f"| target met | {ok} | |",
        "",
        "| level | precision | recall | support |",
        "|---|---:|---:|---:|",
    ]
    for level in LEVELS:
        support = sum(report.confusion[(level, p)] for p in LEVELS)
        lines.append(
            f"| {level} | {report.level_precision(level):.3f} | {report.level_recall(level):.3f} | {support} |"
        )
    lines += ["", "Confusion matrix (rows = gold label, columns = assessed level):", ""]
    lines.append("| gold \\ assessed | " + " | ".join(LEVELS) + " |")
    lines.append("|---|" + "---:|" * len(LEVELS))
    for gold in LEVELS:
        lines.append(f"| {gold} | " + " | ".join(str(report.confusion[(gold, p)]) for p in LEVELS) + " |")
    if report.errors:
        lines += ["", f"Misclassified ({len(report.errors)}):", ""]
        for ex, predicted in report.errors[:max_errors]:
            lines.append(f"- line {ex.line}: {ex.label} -> {predicted}: {ex.text}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="label<TAB>text file")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the corpus (default 5)")
    parser.add_argument("--errors", type=int, default=50, help="misclassified sentences to list (default 50)")
    args = parser.parse_args(argv)
    report = evaluate(load_corpus(args.corpus), repeat=args.repeat)
    print(render_markdown(report, max_errors=args.errors))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
