"""The crisis screen: does this private text mean its writer should be shown crisis help, now?

``assess(text)`` returns an :class:`Assessment` with a ``level`` (``none``, ``concern`` or
``urgent``) and ``reasons``: ids that explain it and never contain the writer's words. It runs
wherever a person writes private text (check-in notes, share drafts, replies, support messages
and topics); the result goes to the writer, privately, first.

Two halves, each covering what the other misses:

* :mod:`bot.safety.lexicon`: transparent English rules with idiom, negation, past-tense,
  reported-speech and media handling. Its reasons are entry ids such as ``intent.kill_self``.
* :mod:`bot.safety.model`: a linear model over character and word n-grams, trained on
  thousands of texts in English, Spanish, French, German and Portuguese (slang, typos,
  indirect wording and hard negatives). Its reasons are ``model.flag`` and ``model.urgent``.

How they combine (thresholds were chosen on the development set, never the held-out sets):

* the level is the higher of the two halves' levels;
* the model's ``urgent`` head only raises a text the screen already flags;
* when the lexicon found crisis words but its own rules ruled every one of them out (an idiom,
  a negation, a story from years ago, a film), the model needs more confidence to overrule it;
* when the model is nearly sure a text the lexicon flagged is not a crisis (someone asking how
  to help a friend, a recovery story whose date the rules missed), the lexicon's flag is dropped;
* a message of one to three words ("no", "sorry", "tonight?") needs more confidence from the
  model: alone, such words say little (the lexicon still catches "kms").

Everything loads from files in the repository; nothing is fetched. :func:`warm_up` loads both
halves (call it on a worker thread at start); until then the first :func:`assess` loads them.
This package must not import discord.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.safety.lexicon import (
    DEFAULT_LEXICON_PATH,
    Assessment,
    Entry,
    Escalation,
    Level,
    Lexicon,
    LexiconError,
    default_lexicon,
    normalise,
)
from bot.safety.lexicon import assess as assess_lexicon
from bot.safety.model import DEFAULT_MODEL_PATH, LinearScreen, ModelError, Scores, default_model

__all__ = [
    "DEFAULT_LEXICON_PATH",
    "DEFAULT_MODEL_PATH",
    "MODEL_FLAG",
    "MODEL_URGENT",
    "Assessment",
    "Entry",
    "Escalation",
    "Level",
    "Lexicon",
    "LexiconError",
    "LinearScreen",
    "ModelError",
    "Policy",
    "Scores",
    "assess",
    "assess_lexicon",
    "combine",
    "default_lexicon",
    "default_model",
    "normalise",
    "warm_up",
]

log = logging.getLogger(__name__)

MODEL_FLAG = "model.flag"
MODEL_URGENT = "model.urgent"
VETOED = "model_veto"


@dataclass(frozen=True, slots=True)
class Policy:
    """The thresholds that turn the model's probabilities into a level."""

    flag: float
    urgent: float
    # Extra confidence the model needs to overrule the lexicon's own "ruled out" decision.
    overrule: float
    # Below this flag probability, the model vetoes a flag the lexicon raised (0: never).
    veto: float = 0.0
    # Messages of at most ``short_words`` words ("no", "sorry", "tonight?") need ``short`` to be
    # flagged by the model: alone, such words carry little evidence either way.
    short: float = 0.0
    short_words: int = 3

    @classmethod
    def of(cls, model: LinearScreen) -> Policy:
        limits = model.thresholds
        return cls(
            flag=limits["flag"],
            urgent=limits["urgent"],
            overrule=limits.get("overrule", limits["flag"]),
            veto=limits.get("veto", 0.0),
            short=limits.get("short", 0.0),
            short_words=int(limits.get("short_words", 3)),
        )

    def flag_needed(self, scores: Scores, *, ruled_out: bool) -> float:
        """The flag probability the model needs, for this message, to raise it on its own."""
        needed = max(self.flag, self.overrule) if ruled_out else self.flag
        if scores.words <= self.short_words:
            needed = max(needed, self.short)
        return needed


def combine(lexical: Assessment, scores: Scores, policy: Policy) -> Assessment:
    """One level from the lexicon's result and the model's scores (see the module docstring)."""
    if lexical.level is not Level.NONE and scores.flag < policy.veto:
        return Assessment(Level.NONE, (), lexical.suppressed + tuple(f"{r}:{VETOED}" for r in lexical.reasons))
    ruled_out = lexical.level is Level.NONE and bool(lexical.suppressed)
    model_level = Level.NONE
    if scores.flag >= policy.flag_needed(scores, ruled_out=ruled_out):
        model_level = Level.URGENT if scores.urgent >= policy.urgent else Level.CONCERN
    elif lexical.level is not Level.NONE and scores.urgent >= policy.urgent:
        model_level = Level.URGENT
    if model_level <= lexical.level:
        return lexical
    extra = (MODEL_URGENT,) if model_level is Level.URGENT else (MODEL_FLAG,)
    return Assessment(model_level, extra + lexical.reasons, lexical.suppressed)


_model_failure: list[str] = []


def _shipped_model() -> LinearScreen | None:
    """The shipped model, or ``None`` (logged once) when its file can't be read."""
    if _model_failure:
        return None
    try:
        return default_model()
    except ModelError as exc:
        _model_failure.append(str(exc))
        log.error("crisis screen: %s; screening with the lexicon alone until the file is restored", exc)
        return None


def assess(text: str, lexicon: Lexicon | None = None, *, model: LinearScreen | None = None) -> Assessment:
    """Screen one message with the lexicon and the model together.

    If the shipped model file is missing or damaged, the lexicon still screens (an error is
    logged once, and ``peer-circles check`` reports it): a broken file never breaks a private flow.
    """
    lexical = assess_lexicon(text, lexicon)
    if not text or not text.strip():
        return lexical
    screen = model if model is not None else _shipped_model()
    if screen is None:
        return lexical
    return combine(lexical, screen.scores(text), Policy.of(screen))


def warm_up() -> None:
    """Load and compile both halves (blocking: run it on a worker thread)."""
    default_lexicon()
    _shipped_model()
