"""Train the crisis screen's model and write ``data/safety_model.bin``.

    python training/safety/train.py            # train, pick thresholds on the dev set, write the model
    python training/safety/train.py --check    # train again and fail unless the bytes equal the shipped file

Inputs, all in the repository:

* ``training/safety/data/*.tsv``: the training texts (format: ``tests/data/SAFETY_LABELS.md``);
* ``tests/data/safety_dev.tsv``: the development set, used only to choose the two decision
  thresholds. The frozen held-out set (``tests/data/safety_heldout.tsv``) and the fresh set are
  never read here.

The output depends only on these files and the pinned scikit-learn version (see
``pyproject.toml``): liblinear is deterministic, rows are read in a fixed order, and the
weights are quantised to int16 with a scale written into the file.
"""

from __future__ import annotations

import argparse
import hashlib
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

FEATURIZER = Featurizer(bits=20, char_min=2, char_max=5, bigrams=True)
WINDOW, STRIDE = 24, 8
C_FLAG, C_URGENT = 4.0, 4.0
# Thresholds are chosen on the dev set: the lowest flag threshold whose dev precision is at
# least this, and the urgent threshold that maximises urgent recall at this urgent precision.
TARGET_FLAG_PRECISION = 0.90
TARGET_URGENT_PRECISION = 0.75


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


def matrix(texts: Sequence[str], featurizer: Featurizer) -> csr_matrix:
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for text in texts:
        counts: dict[int, int] = {}
        for i in featurizer.features(text):
            counts[i] = counts.get(i, 0) + 1
        total = sum(counts.values()) or 1
        norm = total**0.5
        for i in sorted(counts):
            indices.append(i)
            values.append(counts[i] / norm)
        indptr.append(len(indices))
    return csr_matrix(
        (np.asarray(values, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
        shape=(len(texts), featurizer.size),
    )


def fit(x: csr_matrix, y: np.ndarray, c: float) -> tuple[list[float], float]:
    clf = LogisticRegression(solver="liblinear", C=c, class_weight="balanced", max_iter=1000, tol=1e-6)
    clf.fit(x, y)
    weights: list[float] = clf.coef_[0].astype(np.float64).tolist()
    return weights, float(clf.intercept_[0])


def train_heads(rows: Sequence[Labelled]) -> dict[str, tuple[list[float], float]]:
    x = matrix([r.text for r in rows], FEATURIZER)
    y_flag = np.asarray([r.label != "none" for r in rows], dtype=np.int64)
    y_urgent = np.asarray([r.label == "urgent" for r in rows], dtype=np.int64)
    return {"flag": fit(x, y_flag, C_FLAG), "urgent": fit(x, y_urgent, C_URGENT)}


def _grid(lo: float, hi: float, step: float) -> list[float]:
    n = round((hi - lo) / step)
    return [round(lo + k * step, 6) for k in range(n + 1)]


def choose_thresholds(
    screen: LinearScreen, rows: Sequence[Labelled], *, flag_precision: float, urgent_precision: float
) -> dict[str, float]:
    """Pick the policy's thresholds on ``rows`` (the dev set) for the combined screen.

    flag and overrule: the highest recall whose precision is at least ``flag_precision``
    (ties go to the higher, more careful thresholds); urgent: the highest urgent-as-urgent
    recall whose urgent precision is at least ``urgent_precision``.
    """
    from bot.safety import Level, Policy, assess_lexicon, combine

    scored = [(r.label, assess_lexicon(r.text), screen.scores(r.text)) for r in rows]

    def flagged_counts(policy: Policy) -> tuple[int, int, int]:
        tp = fp = fn = 0
        for label, lexical, scores in scored:
            flagged = combine(lexical, scores, policy).level is not Level.NONE
            if label != "none":
                tp += flagged
                fn += not flagged
            else:
                fp += flagged
        return tp, fp, fn

    best: tuple[float, float, float, float] | None = None  # recall, flag, overrule, precision
    for flag in _grid(0.05, 0.95, 0.025):
        for overrule in [o for o in _grid(0.05, 0.975, 0.025) if o >= flag]:
            tp, fp, fn = flagged_counts(Policy(flag=flag, urgent=2.0, overrule=overrule))
            precision = tp / (tp + fp) if tp + fp else 1.0
            recall = tp / (tp + fn) if tp + fn else 1.0
            if precision >= flag_precision and (best is None or recall > best[0]):
                best = (recall, flag, overrule, precision)
    flag, overrule = (best[1], best[2]) if best else (0.5, 0.5)

    best_u: tuple[float, float] | None = None  # urgent recall, threshold
    for urgent in _grid(0.05, 0.95, 0.025):
        policy = Policy(flag=flag, urgent=urgent, overrule=overrule)
        hit = said = gold = 0
        for label, lexical, scores in scored:
            is_urgent = combine(lexical, scores, policy).level is Level.URGENT
            said += is_urgent
            gold += label == "urgent"
            hit += is_urgent and label == "urgent"
        precision = hit / said if said else 1.0
        recall = hit / gold if gold else 1.0
        if precision >= urgent_precision and (best_u is None or recall > best_u[0]):
            best_u = (recall, urgent)
    urgent = best_u[1] if best_u else 0.5
    return {"flag": flag, "overrule": overrule, "urgent": urgent}


def build(out: Path) -> bytes:
    files = training_files()
    if not files:
        raise SystemExit(f"no training data in {DATA_DIR}")
    rows = deduplicate(load_many(files))
    heads = train_heads(rows)
    meta = {
        "training_texts": len(rows),
        "training_sha256": data_digest(files),
        "dev_sha256": data_digest([DEV_PATH]) if DEV_PATH.exists() else None,
        "C": {"flag": C_FLAG, "urgent": C_URGENT},
    }
    provisional = write_model(
        out,
        featurizer=FEATURIZER,
        heads=heads,
        thresholds={"flag": 0.5, "urgent": 0.5},
        window=WINDOW,
        stride=STRIDE,
        meta=meta,
    )
    thresholds = {"flag": 0.5, "urgent": 0.5}
    if DEV_PATH.exists():
        screen = LinearScreen.from_bytes(provisional)
        thresholds = choose_thresholds(
            screen, load(DEV_PATH), flag_precision=TARGET_FLAG_PRECISION, urgent_precision=TARGET_URGENT_PRECISION
        )
    return write_model(
        out, featurizer=FEATURIZER, heads=heads, thresholds=thresholds, window=WINDOW, stride=STRIDE, meta=meta
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
