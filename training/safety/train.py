"""Train the crisis screen's model and write ``data/safety_model.bin``.

    python training/safety/train.py            # train, pick thresholds on the dev set, write the model
    python training/safety/train.py --check    # train again and fail unless the bytes equal the shipped file

Inputs, all in the repository:

* ``training/safety/data/*.tsv``: the training texts (format: ``tests/data/SAFETY_LABELS.md``);
* ``tests/data/safety_dev.tsv`` and ``tests/data/safety_everyday_dev.tsv``: the development
  sets, used only to choose the decision thresholds (never trained on). The frozen held-out set
  (``tests/data/safety_heldout.tsv``), the fresh set and the everyday evaluation set are never
  read here.

The output depends only on these files and the pinned scikit-learn version (see
``pyproject.toml``): liblinear is deterministic, rows are read in a fixed order, and the
weights are quantised to int16 with a scale written into the file.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy.sparse import csr_matrix  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from bench.safety_data import Labelled, load, load_many  # noqa: E402
from bot.safety.model import DEFAULT_MODEL_PATH, Featurizer, LinearScreen, write_model  # noqa: E402

DATA_DIR = ROOT / "training" / "safety" / "data"
DEV_PATH = ROOT / "tests" / "data" / "safety_dev.tsv"
EVERYDAY_DEV_PATH = ROOT / "tests" / "data" / "safety_everyday_dev.tsv"

FEATURIZER = Featurizer(bits=21, char_min=3, char_max=6)
WINDOW, STRIDE = 32, 8
MIN_DF = 2  # a feature seen in only one training text is noise, not signal
PAD = 3000.0  # a short message counts as if padded with neutral words (see LinearScreen.pad)
C_FLAG, C_URGENT = 30.0, 30.0
# Thresholds are chosen on the dev set: the lowest flag threshold whose dev precision is at
# least this, and the urgent threshold that maximises urgent recall at this urgent precision.
TARGET_FLAG_PRECISION = 0.88
TARGET_URGENT_PRECISION = 0.75
# Of everyday messages (tests/data/safety_everyday_dev.tsv), at most this share may be flagged
# at all, and at most the second share graded urgent.
EVERYDAY_ALARMS = 0.05
EVERYDAY_URGENT = 0.0125
SHORT_WORDS = 3


def training_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.tsv"))


def data_digest(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.relative_to(ROOT).as_posix().encode())
        h.update(b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def deduplicate(rows: Sequence[Labelled]) -> list[Labelled]:
    """Keep the first copy of each text (case and spacing folded); a conflicting label keeps the higher one."""
    order: dict[str, Labelled] = {}
    severity = {"none": 0, "concern": 1, "urgent": 2}
    for row in rows:
        key = " ".join(row.text.casefold().split())
        kept = order.get(key)
        if kept is None or severity[row.label] > severity[kept.label]:
            order[key] = row
    return list(order.values())


def count_rows(texts: Sequence[str], featurizer: Featurizer) -> list[dict[int, int]]:
    rows: list[dict[int, int]] = []
    for text in texts:
        counts: dict[int, int] = {}
        for i in featurizer.features(text):
            counts[i] = counts.get(i, 0) + 1
        rows.append(counts)
    return rows


def inverse_document_frequency(rows: Sequence[dict[int, int]], size: int) -> list[float]:
    """Smoothed IDF per slot (as scikit-learn computes it), 0 for slots in fewer than MIN_DF texts.

    Quantised exactly as the model file stores it, so training sees the values the bot will use.
    Plain Python arithmetic (not NumPy's), so the result doesn't depend on the NumPy version.
    """
    df = [0] * size
    for counts in rows:
        for i in counts:
            df[i] += 1
    n = len(rows)
    idf = [math.log((1 + n) / (1 + d)) + 1.0 if d >= MIN_DF else 0.0 for d in df]
    scale = float(f"{(max(idf) or 1.0) / 65535.0:.9e}")
    return [min(65535, max(0, round(v / scale))) * scale for v in idf]


def matrix(rows: Sequence[dict[int, int]], idf: Sequence[float], size: int, pad: float) -> csr_matrix:
    """One row per text: count x idf per feature, divided by sqrt(sum of count x idf^2 + pad), as the bot scores."""
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for counts in rows:
        kept = [(i, c, idf[i]) for i, c in sorted(counts.items()) if idf[i] > 0]
        norm = (sum(c * d * d for _, c, d in kept) + pad) ** 0.5 or 1.0
        for i, c, d in kept:
            indices.append(i)
            values.append(c * d / norm)
        indptr.append(len(indices))
    return csr_matrix(
        (np.asarray(values, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
        shape=(len(rows), size),
    )


def fit(x: csr_matrix, y: np.ndarray, c: float) -> tuple[list[float], float]:
    clf = LogisticRegression(solver="liblinear", C=c, class_weight="balanced", max_iter=1000, tol=1e-6, random_state=0)
    clf.fit(x, y)
    weights: list[float] = clf.coef_[0].astype(np.float64).tolist()
    return weights, float(clf.intercept_[0])


def train_heads(rows: Sequence[Labelled]) -> tuple[dict[str, tuple[list[float], float]], list[float]]:
    counts = count_rows([r.text for r in rows], FEATURIZER)
    idf = inverse_document_frequency(counts, FEATURIZER.size)
    x = matrix(counts, idf, FEATURIZER.size, PAD)
    y_flag = np.asarray([r.label != "none" for r in rows], dtype=np.int64)
    y_urgent = np.asarray([r.label == "urgent" for r in rows], dtype=np.int64)
    return {"flag": fit(x, y_flag, C_FLAG), "urgent": fit(x, y_urgent, C_URGENT)}, idf


def _grid(lo: float, hi: float, step: float) -> list[float]:
    n = round((hi - lo) / step)
    return [round(lo + k * step, 6) for k in range(n + 1)]


def choose_thresholds(
    screen: LinearScreen,
    rows: Sequence[Labelled],
    everyday: Sequence[Labelled] = (),
    *,
    flag_precision: float,
    urgent_precision: float,
    everyday_alarms: float = 1.0,
    everyday_urgent: float = 1.0,
) -> dict[str, float]:
    """Pick the policy's thresholds on the development sets, for the combined screen.

    ``rows`` is the dev set (a third crisis texts, many hard negatives); ``everyday`` holds only
    ordinary messages. Flag, overrule, veto and short: the highest dev recall whose dev
    precision is at least ``flag_precision`` and whose share of everyday messages flagged is at
    most ``everyday_alarms`` (ties go to the smaller veto and the higher, more careful
    thresholds). Urgent: the highest urgent-as-urgent recall whose urgent precision is at least
    ``urgent_precision`` and whose share of everyday messages graded urgent is at most
    ``everyday_urgent``. The search is vectorised; the chosen policy is then checked against
    :func:`bot.safety.combine`.
    """
    from bot.safety import Level, Policy, assess_lexicon, combine

    texts = [r.text for r in (*rows, *everyday)]
    lexical = [assess_lexicon(t) for t in texts]
    scores = [screen.scores(t) for t in texts]
    lex = np.asarray([a.level.severity for a in lexical])
    ruled_out = np.asarray([a.level is Level.NONE and bool(a.suppressed) for a in lexical])
    f = np.asarray([sc.flag for sc in scores])
    u = np.asarray([sc.urgent for sc in scores])
    is_short = np.asarray([sc.words <= SHORT_WORDS for sc in scores])
    n_dev = len(rows)
    gold = np.asarray([r.label != "none" for r in rows])
    gold_urgent = np.asarray([r.label == "urgent" for r in rows])

    def outcome(
        flag: float, overrule: float, veto: float, short: float, urgent: float
    ) -> tuple[np.ndarray, np.ndarray]:
        vetoed = (lex > 0) & (f < veto)
        needed = np.where(ruled_out, max(flag, overrule), flag)
        needed = np.where(is_short, np.maximum(needed, short), needed)
        model_flag = f >= needed
        flagged = ~vetoed & ((lex > 0) | model_flag)
        is_urgent = ~vetoed & ((lex == 2) | (((lex > 0) | model_flag) & (u >= urgent)))
        return flagged, is_urgent

    def everyday_share(mask: np.ndarray) -> float:
        return float(mask[n_dev:].mean()) if len(mask) > n_dev else 0.0

    best: tuple[float, ...] | None = None  # recall, -veto, flag, overrule, short, veto
    for veto in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3):
        for flag in _grid(0.05, 0.95, 0.025):
            for overrule in [o for o in _grid(0.05, 0.975, 0.025) if o >= flag]:
                for short in [x for x in _grid(0.0, 0.975, 0.075) if x == 0.0 or x > flag]:
                    flagged, _ = outcome(flag, overrule, veto, short, 2.0)
                    dev_flagged = flagged[:n_dev]
                    tp = int((dev_flagged & gold).sum())
                    fp = int((dev_flagged & ~gold).sum())
                    precision = tp / (tp + fp) if tp + fp else 1.0
                    recall = tp / int(gold.sum()) if gold.any() else 1.0
                    if precision < flag_precision or everyday_share(flagged) > everyday_alarms:
                        continue
                    # Ties go to the smaller veto, then the higher (more careful) thresholds.
                    key = (recall, -veto, flag, overrule, short, veto)
                    if best is None or key > best:
                        best = key
    flag, overrule, short, veto = (best[2], best[3], best[4], best[5]) if best else (0.5, 0.5, 0.0, 0.0)

    best_u: tuple[float, float] | None = None  # urgent recall, threshold
    for urgent in _grid(0.05, 0.95, 0.025):
        _, is_urgent = outcome(flag, overrule, veto, short, urgent)
        dev_urgent = is_urgent[:n_dev]
        said = int(dev_urgent.sum())
        hit = int((dev_urgent & gold_urgent).sum())
        precision = hit / said if said else 1.0
        recall = hit / int(gold_urgent.sum()) if gold_urgent.any() else 1.0
        allowed = precision >= urgent_precision and everyday_share(is_urgent) <= everyday_urgent
        if allowed and (best_u is None or recall > best_u[0]):
            best_u = (recall, urgent)
    urgent = best_u[1] if best_u else 0.5

    chosen = {"flag": flag, "overrule": overrule, "urgent": urgent, "veto": veto, "short": short}
    policy = Policy(flag=flag, urgent=urgent, overrule=overrule, veto=veto, short=short, short_words=SHORT_WORDS)
    flagged, is_urgent = outcome(flag, overrule, veto, short, urgent)
    for i, (a, sc) in enumerate(zip(lexical, scores, strict=True)):
        level = combine(a, sc, policy).level
        assert (level is not Level.NONE) == flagged[i] and (level is Level.URGENT) == is_urgent[i]
    return {**chosen, "short_words": float(SHORT_WORDS)}


def build(out: Path) -> bytes:
    files = training_files()
    if not files:
        raise SystemExit(f"no training data in {DATA_DIR}")
    rows = deduplicate(load_many(files))
    heads, idf = train_heads(rows)
    meta = {
        "training_texts": len(rows),
        "training_sha256": data_digest(files),
        "dev_sha256": data_digest([DEV_PATH]) if DEV_PATH.exists() else None,
        "everyday_dev_sha256": data_digest([EVERYDAY_DEV_PATH]) if EVERYDAY_DEV_PATH.exists() else None,
        "C": {"flag": C_FLAG, "urgent": C_URGENT},
        "min_df": MIN_DF,
    }
    provisional = write_model(
        out,
        featurizer=FEATURIZER,
        heads=heads,
        idf=idf,
        thresholds={"flag": 0.5, "urgent": 0.5},
        window=WINDOW,
        stride=STRIDE,
        meta=meta,
        pad=PAD,
    )
    thresholds = {"flag": 0.5, "urgent": 0.5}
    if DEV_PATH.exists():
        screen = LinearScreen.from_bytes(provisional)
        everyday = load(EVERYDAY_DEV_PATH) if EVERYDAY_DEV_PATH.exists() else []
        thresholds = choose_thresholds(
            screen,
            load(DEV_PATH),
            everyday,
            flag_precision=TARGET_FLAG_PRECISION,
            urgent_precision=TARGET_URGENT_PRECISION,
            everyday_alarms=EVERYDAY_ALARMS,
            everyday_urgent=EVERYDAY_URGENT,
        )
    return write_model(
        out,
        featurizer=FEATURIZER,
        heads=heads,
        idf=idf,
        thresholds=thresholds,
        window=WINDOW,
        stride=STRIDE,
        meta=meta,
        pad=PAD,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--check", action="store_true", help="train to a temporary file and compare with --out")
    args = parser.parse_args(argv)
    if args.check:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            fresh = build(Path(tmp) / "model.bin")
        shipped = args.out.read_bytes() if args.out.exists() else b""
        same = fresh == shipped
        print(
            f"retrained {hashlib.sha256(fresh).hexdigest()[:16]}, shipped {hashlib.sha256(shipped).hexdigest()[:16]}: "
            + ("identical" if same else "DIFFERENT (run training/safety/train.py and commit the model)")
        )
        return 0 if same else 1
    raw = build(args.out)
    model = LinearScreen.from_bytes(raw)
    print(
        f"wrote {args.out} ({len(raw) / 2**20:.1f} MiB, sha256 {model.sha256[:16]}), thresholds {dict(model.thresholds)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
