"""Read and check the crisis screen's labelled data sets (format: tests/data/SAFETY_LABELS.md).

    python -m bench.safety_data FILE [FILE ...]

prints, per file, how many texts there are by language and label, and exits 1 on the first
malformed line (saying which) or on a text that appears twice.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

LABELS: tuple[str, ...] = ("none", "concern", "urgent")
LANGS: tuple[str, ...] = ("en", "es", "fr", "de", "pt")
POSITIVE_KINDS: frozenset[str] = frozenset(
    {
        "explicit_ideation",
        "passive_ideation",
        "slang_shorthand",
        "indirect_intent",
        "means",
        "attempt",
        "refusing_help",
        "self_harm",
        "self_harm_relapse",
        "abuse_disclosure",
        "danger_from_other",
        "burden_hopelessness",
        "substance_indifference",
        "buried_clause",
    }
)
NEGATIVE_KINDS: frozenset[str] = frozenset(
    {
        "hyperbole",
        "gaming_fiction",
        "past_recovery",
        "helping_friend",
        "negated",
        "grief_illness",
        "venting",
        "recovery_progress",
        "ordinary",
    }
)
HEADER = "label\tlang\tkind\ttext"


class DataError(ValueError):
    """A data file does not follow the format."""


@dataclass(frozen=True, slots=True)
class Labelled:
    label: str
    lang: str
    kind: str
    text: str
    source: str
    line: int

    @property
    def positive(self) -> bool:
        return self.label != "none"


def parse_line(raw: str, where: str) -> tuple[str, str, str, str] | None:
    line = raw.rstrip("\n").rstrip("\r")
    if not line.strip() or line.startswith("#") or line == HEADER:
        return None
    parts = line.split("\t")
    if len(parts) != 4:
        raise DataError(f"{where}: expected 4 tab-separated columns (label, lang, kind, text), found {len(parts)}")
    label, lang, kind, text = (p.strip() for p in parts)
    if label not in LABELS:
        raise DataError(f"{where}: label {label!r} is not one of {', '.join(LABELS)}")
    if lang not in LANGS:
        raise DataError(f"{where}: lang {lang!r} is not one of {', '.join(LANGS)}")
    kinds = NEGATIVE_KINDS if label == "none" else POSITIVE_KINDS
    if kind not in kinds:
        raise DataError(f"{where}: kind {kind!r} does not fit label {label!r}; use one of {', '.join(sorted(kinds))}")
    if not text:
        raise DataError(f"{where}: empty text")
    return label, lang, kind, text


def load(path: Path | str) -> list[Labelled]:
    path = Path(path)
    rows: list[Labelled] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            parsed = parse_line(raw, f"{path}:{lineno}")
            if parsed is not None:
                rows.append(Labelled(*parsed, source=path.name, line=lineno))
    return rows


def load_many(paths: Iterable[Path | str]) -> list[Labelled]:
    rows: list[Labelled] = []
    for p in paths:
        rows.extend(load(p))
    return rows


def duplicates(rows: Sequence[Labelled]) -> list[str]:
    seen = Counter(" ".join(r.text.casefold().split()) for r in rows)
    return sorted(t for t, n in seen.items() if n > 1)


def summary(rows: Sequence[Labelled]) -> str:
    counts = Counter((r.lang, r.label) for r in rows)
    lines = [f"{len(rows)} texts", "lang  none concern urgent  positive-share"]
    for lang in LANGS:
        n = [counts[(lang, label)] for label in LABELS]
        total = sum(n)
        share = (n[1] + n[2]) / total if total else 0.0
        lines.append(f"{lang:<5} {n[0]:>4} {n[1]:>7} {n[2]:>6}  {share:.2f}")
    kinds = Counter(r.kind for r in rows)
    lines.append("kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(argv if argv is not None else sys.argv[1:])
    if not paths:
        print(__doc__)
        return 2
    status = 0
    for p in paths:
        try:
            rows = load(p)
        except DataError as exc:
            print(exc)
            return 1
        print(f"== {p}")
        print(summary(rows))
        dup = duplicates(rows)
        if dup:
            status = 1
            print(f"{len(dup)} duplicate texts, for example: {dup[0][:80]!r}")
    return status


if __name__ == "__main__":
    sys.exit(main())
