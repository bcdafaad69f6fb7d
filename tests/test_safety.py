"""Tests for the crisis screen's lexicon (bot.safety.lexicon): corpus targets, hard negatives, context rules, robustness.

The combined screen (lexicon and model) is tested in tests/test_safety_screen.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.safety_benchmark import TARGET_PRECISION, TARGET_RECALL, evaluate, load_corpus
from bot.safety.lexicon import (
    DEFAULT_LEXICON_PATH,
    Assessment,
    Level,
    Lexicon,
    LexiconError,
    assess,
    default_lexicon,
    normalise,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = load_corpus(Path(__file__).resolve().parent / "data" / "safety_corpus.tsv")
URGENT = [ex.text for ex in CORPUS if ex.label == "urgent"]

HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- corpus


def test_corpus_shape() -> None:
    labels = [ex.label for ex in CORPUS]
    assert len(CORPUS) >= 220
    assert labels.count("urgent") >= 70
    assert labels.count("concern") >= 60
    assert labels.count("none") >= 90
    texts = [ex.text.casefold().strip() for ex in CORPUS]
    duplicates = {t for t in texts if texts.count(t) > 1}
    assert not duplicates


def test_corpus_meets_target() -> None:
    report = evaluate(CORPUS)
    summary = f"precision={report.precision:.3f} recall={report.recall:.3f} errors={report.errors}"
    assert report.recall >= TARGET_RECALL, summary
    assert report.precision >= TARGET_PRECISION, summary


def test_urgent_sentences_are_never_none() -> None:
    missed = [text for text in URGENT if assess(text).level is Level.NONE]
    assert missed == []


# --------------------------------------------------------------------------- levels and API


def test_level_ordering_follows_severity() -> None:
    assert [lvl.severity for lvl in Level] == [0, 1, 2]
    assert Level.NONE < Level.CONCERN < Level.URGENT
    assert Level.URGENT >= Level.CONCERN >= Level.NONE
    assert max(Level, key=lambda lvl: lvl.severity) is Level.URGENT
    assert sorted([Level.URGENT, Level.NONE, Level.CONCERN]) == [Level.NONE, Level.CONCERN, Level.URGENT]
    assert Level.URGENT > "concern"
    assert Level.from_severity(5) is Level.URGENT
    assert Level("urgent") == "urgent"


def test_assessment_shape() -> None:
    result = assess("I want to kill myself")
    assert isinstance(result, Assessment)
    assert result.level is Level.URGENT
    assert result.flagged
    assert result.reasons and result.reasons[0] == "intent.kill_self"
    with pytest.raises(AttributeError):
        result.level = Level.NONE  # type: ignore[misc]
    assert assess("") == Assessment(Level.NONE)
    assert assess("   \n\t ").level is Level.NONE


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("I want to kill myself", Level.URGENT),
        ("I don't want to be here anymore", Level.CONCERN),
        ("everyone would be better off without me", Level.CONCERN),
        ("I've written my goodbye letters", Level.URGENT),
        ("I have the pills ready", Level.URGENT),
        ("I cut myself again", Level.CONCERN),
        ("I want to hurt myself", Level.CONCERN),
        ("he's going to hurt me", Level.URGENT),
        ("I took a whole bottle of pills", Level.URGENT),
        ("I'm standing on the bridge", Level.URGENT),
    ],
)
def test_brief_examples(text: str, level: Level) -> None:
    assert assess(text).level is level


# --------------------------------------------------------------------------- hard negatives


@pytest.mark.parametrize(
    "text",
    [
        "this song kills me",
        "I'd die for a coffee",
        "killing it at work",
        "dead tired",
        "my phone died",
        "I could murder a pizza",
        "that cake is to die for",
        "killed the exam",
        "the boss killed me three times",
        "I'm dying to see the new film",
        "I'm going to die of embarrassment",
        "I'm ready to die on this hill",
        "I'd rather die than wear those shoes",
        "I cut myself shaving",
        "I burned myself on the oven",
        "I'm about to jump in the shower",
        "my mum is going to kill me when she sees my room",
        "I'm a hopeless romantic",
        "I overdosed on chocolate",
        "the pills are ready at the pharmacy",
    ],
)
def test_idioms_are_not_flagged(text: str) -> None:
    result = assess(text)
    assert result.level is Level.NONE, result


@pytest.mark.parametrize(
    "text",
    [
        "I'm not going to hurt myself",
        "I would never kill myself",
        "no longer suicidal",
        "I don't want to die",
        "I'm not thinking about suicide",
        "I have no plans to hurt myself",
        "I haven't self harmed in 200 days",
        "I don't feel suicidal anymore",
    ],
)
def test_negation_drops_the_match(text: str) -> None:
    assert assess(text).level is Level.NONE


def test_negation_window_needs_bridge_words() -> None:
    # "know why" is not a bridge, so the negator belongs to "know", not to "want to die".
    assert assess("I don't know why I want to die").level is Level.CONCERN
    # pseudo-negations never negate
    assert assess("not gonna lie I want to die").level is Level.CONCERN
    assert assess("I'm not sure I want to live anymore I want to die").flagged
    # negators inside the pattern itself are part of the meaning
    assert assess("I'm not safe at home").level is Level.URGENT
    assert assess("I'm not going to make it through tonight").level is Level.URGENT


def test_negation_with_limiter_is_capped_at_concern() -> None:
    result = assess("I'm not going to kill myself tonight")
    assert result.level is Level.CONCERN
    assert any(s.endswith(":limited") for s in result.suppressed)


@pytest.mark.parametrize(
    "text",
    [
        "the character in the film said 'I want to die'",
        "my therapist asked if I wanted to kill myself",
        "the lyrics go \u201cI want to end it all tonight\u201d",
        "she asked me if I'd ever thought about ending my life",
        '"I\'m going to kill myself" is such a common phrase at school',
        "I was asked whether I had thoughts of suicide",
    ],
)
def test_reported_speech_and_media_are_not_urgent(text: str) -> None:
    result = assess(text)
    assert result.level is Level.NONE, result


def test_first_person_disclosure_is_not_reported_speech() -> None:
    assert assess("I told my therapist I want to kill myself").level is Level.URGENT
    assert assess('I keep thinking "I just want to die"').level is Level.CONCERN
    assert assess("my brain keeps telling me to kill myself").level is Level.CONCERN


def test_reported_threats_and_third_parties_survive_reported_speech() -> None:
    assert assess("he said he'd kill me if I leave").level is Level.URGENT
    assert assess("my daughter told me she wants to kill herself").level is Level.CONCERN


def test_historical_and_resolved_statements() -> None:
    assert assess("I attempted suicide when I was 19, life is good now").level is Level.NONE
    assert assess("I used to self harm but I cut again last night").level is Level.CONCERN
    assert assess("the suicidal thoughts went away after I got help").level is Level.NONE
    assert assess("the suicidal thoughts haven't stopped").level is Level.CONCERN


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("i feel suicidel", Level.URGENT),
        ("sucide keeps crossing my mind", Level.CONCERN),
        ("i want to kil myself", Level.URGENT),
        ("kms", Level.CONCERN),
        ("i'm gonna kms tonight", Level.URGENT),
        ("i want to unalive myself", Level.URGENT),
        ("i wanna die", Level.CONCERN),
        ("i want to diiiie", Level.CONCERN),
        ("i want to k1ll mys3lf", Level.URGENT),
        ("I WANT TO KILL MYSELF", Level.URGENT),
        ("i want to kіll myself", Level.URGENT),  # Cyrillic i
        ("ｉ ｗａｎｔ ｔｏ ｄｉｅ", Level.CONCERN),  # fullwidth
        ("i want to k i l l myself", Level.URGENT),
        ("sewerslide is my only way out", Level.URGENT),
        ("i want to **die**", Level.CONCERN),
        ("Im suïcidal", Level.URGENT),
    ],
)
def test_misspellings_and_obfuscation(text: str, level: Level) -> None:
    assert assess(text).level is level


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I\u2019m NOT ok", "i am not ok"),
        ("diiiie", "die"),
        ("k1ll", "kill"),
        ("dont", "do not"),
        ("won't", "will not"),
        ("she's been", "she has been"),
        ("mum's", "mums"),
        ("said 'hi'", 'said "hi"'),
        ("self-harm", "self harm"),
        ("caf\u00e9", "cafe"),
        ("a  \t b\n\n c", "a b\nc"),
        ("13 11 14", "13 11 14"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_escalation_means_plus_ideation() -> None:
    assert assess("i want to die").level is Level.CONCERN
    result = assess("i want to die and i have my dads gun")
    assert result.level is Level.URGENT
    assert "escalation.ideation_with_means" in result.reasons


# --------------------------------------------------------------------------- lexicon loading


def test_default_lexicon_is_cached_and_valid() -> None:
    lex = default_lexicon()
    assert lex is default_lexicon()
    assert DEFAULT_LEXICON_PATH == ROOT / "data" / "safety_lexicon.json"
    raw = json.loads(DEFAULT_LEXICON_PATH.read_text(encoding="utf-8"))
    assert "_about" in raw
    for key in ("entries", "idioms", "negations", "reported_speech", "misspellings"):
        assert raw[key]
    ids = [e["id"] for e in raw["entries"]]
    assert len(ids) == len(set(ids))
    assert {e["level"] for e in raw["entries"]} <= {"none", "concern", "urgent"}
    assert {"suicidal_intent", "self_harm", "immediate_danger", "hopelessness"} <= lex.categories


def test_import_has_no_side_effects() -> None:
    code = (
        "import sys, bot.safety as s; "
        "assert s.default_lexicon.cache_info().currsize == 0; "
        "assert s.default_model.cache_info().currsize == 0; "
        "assert 'discord' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def _tiny(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "macros": {"PET": "(?:cat|dog)"},
        "entries": [{"id": "pets.hate", "level": "concern", "category": "pets", "patterns": ["hate my {PET}"]}],
        "negations": {"cues": ["not"], "bridge_words": ["do"], "max_gap": 2},
    }
    data.update(overrides)
    return data


def test_lexicon_override(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.json"
    path.write_text(json.dumps(_tiny()), encoding="utf-8")
    lex = Lexicon.load(path)
    assert assess("I hate my dog", lexicon=lex) == Assessment(Level.CONCERN, ("pets.hate",))
    assert assess("I do not hate my cat", lexicon=lex).level is Level.NONE
    assert assess("I want to kill myself", lexicon=lex).level is Level.NONE


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"entries": []}, "entries"),
        ({"entries": [{"id": "x", "level": "severe", "category": "c", "patterns": ["a"]}]}, "level"),
        ({"entries": [{"id": "x", "level": "concern", "category": "c", "patterns": ["(a"]}]}, "invalid regex"),
        ({"entries": [{"id": "x", "level": "concern", "category": "c", "patterns": ["{NOPE}"]}]}, "macro"),
        (
            {
                "entries": [
                    {"id": "x", "level": "concern", "category": "c", "patterns": ["a"]},
                    {"id": "x", "level": "urgent", "category": "c", "patterns": ["b"]},
                ]
            },
            "duplicate",
        ),
        ({"escalations": [{"id": "e", "level": "urgent", "all_of": [["nope"]]}]}, "unknown categories"),
        ({"misspellings": {"two words": "x"}}, "single lowercase token"),
    ],
)
def test_lexicon_validation(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        Lexicon.from_dict(_tiny(**overrides))


# --------------------------------------------------------------------------- properties


@HYPOTHESIS
@given(st.text(max_size=3000))
def test_never_raises_and_reasons_are_ids(text: str) -> None:
    result = assess(text)
    assert isinstance(result.level, Level)
    ids = default_lexicon().reason_ids
    assert set(result.reasons) <= ids
    assert all(s.split(":", 1)[0] in default_lexicon().reason_ids for s in result.suppressed)
    if len(text.strip()) > 3:
        assert all(text not in r for r in result.reasons + result.suppressed)


@HYPOTHESIS
@given(st.sampled_from(URGENT), st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_reasons_never_echo_user_text(sentence: str, noise: str) -> None:
    secret = "Zqxjvbwk" + noise
    result = assess(f"{secret} {sentence} {secret}")
    for item in result.reasons + result.suppressed:
        assert "zqxjvbwk" not in item.casefold()


def test_huge_and_hostile_input() -> None:
    huge = ("lorem ipsum dolor sit amet, " * 8000) + "I want to kill myself." + (" 💀🙂\u200b" * 5000)
    assert assess(huge).level is Level.URGENT
    assert assess("a" * 200_000).level is Level.NONE
    assert assess("'" * 10_001 + '"' * 10_001).level is Level.NONE
    assert assess("\x00\ud7ff\U0010ffff" * 1000).level is Level.NONE


NEUTRAL = [
    "hey everyone",
    "sorry for the long post",
    "I had toast for breakfast.",
    "the weather is grey today",
    "thanks for reading",
    "my cat is asleep on the keyboard",
]
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=0, max_size=60)


@HYPOTHESIS
@given(
    st.sampled_from(URGENT),
    st.lists(st.one_of(st.sampled_from(NEUTRAL), WORDS), max_size=3),
    st.lists(st.one_of(st.sampled_from(NEUTRAL), WORDS), max_size=3),
)
def test_neutral_padding_keeps_urgent_flagged(sentence: str, before: list[str], after: list[str]) -> None:
    base = assess(sentence)
    padded = assess("\n".join([*before, sentence, *after]))
    assert padded.flagged
    assert padded.level >= base.level
