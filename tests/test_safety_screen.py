"""The combined crisis screen (bot.safety): the model file, the policy, the goal on held-out text.

The lexicon's own rules are tested in tests/test_safety.py.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.safety
from bench import safety_benchmark as bench
from bench.safety_data import LANGS, load
from bot.safety import (
    DEFAULT_MODEL_PATH,
    MODEL_FLAG,
    MODEL_URGENT,
    Assessment,
    Level,
    LinearScreen,
    ModelError,
    Policy,
    Scores,
    assess,
    combine,
    default_model,
)
from bot.safety.model import Featurizer, model_normalise, write_model
from bot.sandbox.harness import BotHarness

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POLICY = Policy(flag=0.5, urgent=0.6, overrule=0.8)


# --------------------------------------------------------------------------- the shipped model


def test_shipped_model_matches_its_training_data() -> None:
    """The model records digests of what it was trained and tuned on; editing the data without
    retraining (python training/safety/train.py) fails here, and CI retrains and compares bytes."""
    model = default_model()
    files = sorted((ROOT / "training" / "safety" / "data").glob("*.tsv"))
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.relative_to(ROOT).as_posix().encode() + b"\0" + p.read_bytes())
    assert model.meta["training_sha256"] == digest.hexdigest()
    dev = hashlib.sha256()
    dev_path = DATA / "safety_dev.tsv"
    dev.update(dev_path.relative_to(ROOT).as_posix().encode() + b"\0" + dev_path.read_bytes())
    assert model.meta["dev_sha256"] == dev.hexdigest()
    everyday_dev = hashlib.sha256()
    everyday_path = DATA / "safety_everyday_dev.tsv"
    everyday_dev.update(everyday_path.relative_to(ROOT).as_posix().encode() + b"\0" + everyday_path.read_bytes())
    assert model.meta["everyday_dev_sha256"] == everyday_dev.hexdigest()
    assert model.meta["training_texts"] >= 10_000
    assert model.sha256 == hashlib.sha256(DEFAULT_MODEL_PATH.read_bytes()).hexdigest()


def test_training_data_is_large_varied_and_balanced() -> None:
    rows = [r for p in sorted((ROOT / "training" / "safety" / "data").glob("*.tsv")) for r in load(p)]
    for lang in LANGS:
        mine = [r for r in rows if r.lang == lang]
        positives = sum(r.positive for r in mine)
        hard_negatives = sum(r.kind in bench_hard_negative_kinds() for r in mine)
        assert len(mine) >= 2000, lang
        assert hard_negatives >= 0.8 * positives, lang


def bench_hard_negative_kinds() -> set[str]:
    return {"hyperbole", "gaming_fiction", "past_recovery", "helping_friend", "negated", "grief_illness"}


def test_evaluation_sets_are_separate_from_training() -> None:
    """No evaluation text appears in the training data. Greetings of a few words ("morning all")
    are written the same way by different people, so only texts of six words or more count, and
    every crisis text, however short (a short one learned by heart would flatter recall)."""
    fold = lambda t: " ".join(t.casefold().split())  # noqa: E731
    training = {fold(r.text) for p in (ROOT / "training" / "safety" / "data").glob("*.tsv") for r in load(p)}
    for name in (
        "safety_dev.tsv",
        "safety_heldout.tsv",
        "safety_fresh.tsv",
        "safety_everyday.tsv",
        "safety_everyday_dev.tsv",
    ):
        rows = load(DATA / name)
        overlap = [r for r in rows if (len(r.text.split()) >= 6 or r.positive) and fold(r.text) in training]
        assert overlap == [], (name, len(overlap))


def test_model_loads_with_no_network() -> None:
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('network is off in this test')\n"
        "socket.socket = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "import bot.safety as s\n"
        "s.warm_up()\n"
        "print(s.assess('i took all of them like an hour ago').level.value)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in {"concern", "urgent"}


# --------------------------------------------------------------------------- the goal on held-out text


@pytest.mark.parametrize("name", ["held-out", "fresh"])
def test_goal_holds_on_text_nobody_tuned_on(name: str) -> None:
    path = bench.SETS[name]
    if not path.exists():
        pytest.skip(f"{path.name} is not there")
    rows = load(path)
    overall = bench.score(rows, assess)
    per_lang = {lang: bench.score([r for r in rows if r.lang == lang], assess) for lang in LANGS}
    summary = (
        f"precision={overall.precision:.3f} recall={overall.recall:.3f} urgent={overall.urgent_as_urgent:.3f} "
        + " ".join(f"{lang}={s.recall:.2f}" for lang, s in per_lang.items())
    )
    assert bench.meets_goal(overall, per_lang), summary


HELDOUT_SHA256 = "5f32d957b22400dc30a8b9b3687b83cbc0b64590fbf98296424e21b3b23032c6"


def test_heldout_set_is_frozen_and_shaped_as_asked() -> None:
    path = DATA / "safety_heldout.tsv"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == HELDOUT_SHA256, "the held-out set is frozen: never edit it"
    rows = load(path)
    assert len(rows) >= 800
    assert {r.lang for r in rows} == set(LANGS)
    share = sum(r.positive for r in rows) / len(rows)
    assert 0.25 <= share <= 0.42
    assert sum(r.kind in bench_hard_negative_kinds() for r in rows) >= len(rows) / 4


# --------------------------------------------------------------------------- the policy


def test_policy_takes_the_higher_level() -> None:
    lexical_urgent = Assessment(Level.URGENT, ("intent.kill_self",))
    assert combine(lexical_urgent, Scores(0.0, 0.0), POLICY) == lexical_urgent
    raised = combine(Assessment(Level.NONE), Scores(0.7, 0.1), POLICY)
    assert raised == Assessment(Level.CONCERN, (MODEL_FLAG,))
    urgent = combine(Assessment(Level.NONE), Scores(0.7, 0.9), POLICY)
    assert urgent == Assessment(Level.URGENT, (MODEL_URGENT,))
    assert combine(Assessment(Level.NONE), Scores(0.4, 0.99), POLICY).level is Level.NONE


def test_model_urgent_raises_what_the_lexicon_flags() -> None:
    concern = Assessment(Level.CONCERN, ("passive.wish_dead",))
    result = combine(concern, Scores(0.2, 0.9), POLICY)
    assert result.level is Level.URGENT
    assert result.reasons == (MODEL_URGENT, "passive.wish_dead")


def test_model_needs_more_to_overrule_the_lexicons_own_rules() -> None:
    ruled_out = Assessment(Level.NONE, (), ("intent.kill_self:negated",))
    assert combine(ruled_out, Scores(0.7, 0.1), POLICY).level is Level.NONE
    assert combine(ruled_out, Scores(0.85, 0.1), POLICY).level is Level.CONCERN


def test_shipped_thresholds_are_sane() -> None:
    policy = Policy.of(default_model())
    assert 0.0 < policy.flag < 1.0 and 0.0 < policy.urgent < 1.0
    assert policy.overrule >= policy.flag


# --------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "had a good day, went for a walk with my sister",
        "this commute is killing me",
        "i keep dying to the same boss lol",
    ],
)
def test_everyday_text_is_not_flagged(text: str) -> None:
    assert assess(text).level is Level.NONE


def test_broken_model_file_falls_back_to_the_lexicon(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    def broken() -> LinearScreen:
        raise ModelError("the safety model file is truncated")

    monkeypatch.setattr(bot.safety, "default_model", broken)
    monkeypatch.setattr(bot.safety, "_model_failure", [])
    secret = "i want to kill myself tonight zebra-7731"
    with caplog.at_level(logging.ERROR, logger="bot.safety"):
        first = assess(secret)
        second = assess("another message")
    assert first.level is Level.URGENT  # the lexicon still screens
    assert second.level is Level.NONE
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "zebra" not in caplog.text and "kill" not in caplog.text


@HYPOTHESIS
@given(st.text(max_size=400))
def test_reasons_never_contain_the_text(text: str) -> None:
    result = assess(text)
    ids = bot.safety.default_lexicon().reason_ids | {MODEL_FLAG, MODEL_URGENT}
    assert set(result.reasons) <= ids


@HYPOTHESIS
@given(st.text(max_size=300))
def test_normalisation_is_stable(text: str) -> None:
    once = model_normalise(text)
    assert model_normalise(once) == once


def test_accents_case_and_leetspeak_do_not_change_the_features() -> None:
    f = default_model().featurizer
    assert f.features("Não aguento MAIS") == f.features("nao aguento mais")
    assert f.features("quiero m0rir") == f.features("quiero morir")
    assert f.features("sooooo tired") == f.features("so tired")


def test_hostile_input_is_screened_safely() -> None:
    huge = ("ordinary news about the garden and the bus. " * 4000) + "i took all my pills an hour ago"
    assert assess(huge).level is not Level.NONE  # one risky clause is not averaged away
    for text in ("a" * 200_000, "\x00\ud7ff\U0010ffff" * 1000, "<@123> " * 3000):
        assert assess(text).level is Level.NONE
    assess("💀" * 5000)  # graded concern by the model today (noted as a false alarm to look at)


# --------------------------------------------------------------------------- the file format


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    featurizer = Featurizer(bits=8, char_min=3, char_max=4)
    weights = [((i * 37) % 19 - 9) / 10 for i in range(featurizer.size)]
    idf = [0.0 if i % 5 == 0 else 1.0 + (i % 7) / 3 for i in range(featurizer.size)]

    def write(name: str) -> bytes:
        return write_model(
            tmp_path / name,
            featurizer=featurizer,
            heads={"flag": (weights, -0.5), "urgent": (list(reversed(weights)), -1.5)},
            idf=idf,
            thresholds={"flag": 0.4, "urgent": 0.7},
            window=10,
            stride=5,
            meta={"training_texts": 3},
        )

    raw = write("m.bin")
    assert write("m2.bin") == raw  # the same inputs write the same bytes
    model = LinearScreen.load(tmp_path / "m.bin")
    assert model.featurizer == featurizer
    assert model.biases == {"flag": -0.5, "urgent": -1.5}
    assert model.thresholds == {"flag": 0.4, "urgent": 0.7}
    assert all((model.idf[i] == 0) == (d == 0) for i, d in enumerate(idf))
    assert all(abs(model.idf[i] * model.idf_scale - d) <= 1e-3 for i, d in enumerate(idf))
    peak = max(abs(w * d) for w, d in zip(weights, idf, strict=True))
    for i, (w, d) in enumerate(zip(weights, idf, strict=True)):
        assert abs(model.weights["flag"][i] * model.scales["flag"] - w * d) <= peak / 20000
    # Scoring a text gives what the formula says: bias + sum(weight x idf) / sqrt(sum(idf^2)).
    text = "hello there"
    ids = featurizer.features(text)
    kept = [i for i in ids if idf[i]]
    expected = -0.5 + sum(weights[i] * idf[i] for i in kept) / sum(idf[i] ** 2 for i in kept) ** 0.5
    assert abs(model.logits(text)[0] - expected) < 1e-3
    for broken in (raw[:-1], raw + b"x", b"not a model", raw[:12]):
        with pytest.raises(ModelError):
            LinearScreen.from_bytes(broken)
    with pytest.raises(ModelError):
        LinearScreen.load(tmp_path / "missing.bin")


# --------------------------------------------------------------------------- at start


async def test_the_bot_loads_the_screen_on_a_worker_thread_at_start(
    monkeypatch: pytest.MonkeyPatch, harness: BotHarness
) -> None:
    import threading

    import bot.client

    loaded_on: list[int] = []

    def warm_up() -> None:
        loaded_on.append(threading.get_ident())
        bot.safety.warm_up()

    monkeypatch.setattr(bot.client, "warm_up_crisis_screen", warm_up)
    started = await harness.start()
    assert isinstance(started, bot.client.PeerCirclesBot)
    assert started._lexicon_warmup is not None
    await started._lexicon_warmup
    assert loaded_on and loaded_on[0] != threading.get_ident(), "loaded off the event loop's thread"
    assert bot.safety.default_model.cache_info().currsize == 1


def test_everyday_false_alarms_do_not_grow() -> None:
    """Our own bar is at most 5% of everyday messages flagged; the screen misses it (6.7%, see the
    README). This guards against it getting worse; the figure is read, never tuned on."""
    rows = load(DATA / "safety_everyday.tsv")
    flagged = sum(assess(r.text).flagged for r in rows) / len(rows)
    urgent = sum(assess(r.text).level is Level.URGENT for r in rows) / len(rows)
    assert flagged <= 0.08 and urgent <= 0.02, (flagged, urgent)
