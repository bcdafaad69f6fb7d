"""The transparent, rule-based half of the crisis screen: the lexicon.

(:mod:`bot.safety` combines it with the learned model in :mod:`bot.safety.model`; callers use
:func:`bot.safety.assess`.)

``assess(text)`` here returns an :class:`Assessment` whose ``level`` is ``none``,
``concern`` or ``urgent``. Its ``reasons`` are ids of the lexicon entries that
fired. Reasons are ids from ``data/safety_lexicon.json`` and never contain the
member's words.

This is a transparent, rule-based triage aid. It has no network access and this module must
not import discord. Its reasons explain a result, and its idiom, negation and past-tense rules
are what the learned model is checked against. It
will miss things that people write and it will sometimes flag hyperbole, so
treat a result as "a person should look at this", never as a judgement.

Levels
------
* ``urgent``: intent ("I'm going to kill myself"), plan or preparation
  (goodbye letters, a chosen method or date), means at hand ("I have the pills
  ready"), an attempt in progress ("I took a whole bottle"), standing on a
  bridge or tracks, or immediate danger from another person ("he's going to
  hurt me").
* ``concern``: ideation without a plan, passive wishes ("I wish I was dead"),
  hopelessness, perceived burden ("everyone would be better off without me"),
  recent self-harm or self-harm urges, and worry about someone else.
* ``none``: everything else.

Pipeline
--------
1. Normalise (:meth:`Lexicon.normalise`): NFKC, casefold, homoglyph folding,
   accent stripping. Leetspeak digits between letters are mapped (``k1ll``).
   Contractions are expanded (``don't``/``dont`` -> ``do not``). Other single
   quotes and typographic quotes become ``"``. Runs of three or more identical
   letters shrink to one (``diiiie`` -> ``die``). Double letters are kept,
   because English needs them, and patterns write ``kil+``. Then the
   misspelling and shorthand word maps are applied (``sucide``, ``kms``,
   ``wanna``, ``rn``), and every other symbol except sentence punctuation,
   quotes and newlines becomes a space. Finally, repeated adjacent words
   collapse to one ("really really really" -> "really").
2. Match every lexicon entry. Each entry's patterns are joined into one
   alternation and compiled once when the lexicon loads, with word boundaries.
3. Filter each match. The first rule that applies decides:

   * **Idiom**: the match overlaps a hard-negative idiom span ("die of
     embarrassment", "dying to see", "cut myself shaving", "ready to die on
     this hill"). It is dropped.
   * **Historical**: a historical cue ("used to", "years ago", "when I was
     15") sits in the same sentence. The match is dropped unless a recency
     word (again, now, lately, today, still, back...) or a contrast word
     (but, although...) comes between them or sits inside the match. Recovery
     milestones ("12 months clean from self harm today") work the same way,
     but only relapse words (relapsed, slipped, again, back) break them, so
     "today" does not.
   * **Media**: a media or training cue (film, song, lyrics, game, this
     level, news, training...) comes earlier in the same sentence with no
     break in scope (see the quoting rule), or later in the same clause. The
     match is dropped.
   * **Reported speech / quoting rule**: the match is dropped if a
     reported-speech cue ("she said", "asked if", "I was asked", "told me")
     comes before it in the same sentence. Scope ends at a sentence break
     (``. ! ?`` or a newline), at a contrast word (but, although, however...),
     or at a first-person restart such as ``, and I ...``; a comma directly
     after the cue does not end it. First-person reporting ("I told my mum I
     want to die") is a disclosure and is not a cue. Nor is the member's own
     mind ("my brain keeps telling me..."). A match inside quotation marks is
     dropped only when a reported-speech or media cue appears anywhere in the
     same sentence outside the quote ("the lyrics go '...'", "'...' is such a
     common phrase"). Quotes with no cue, such as a member quoting their own
     thoughts, are read normally. Entries flagged ``survives_reported_speech``
     (threats from another person, worry about a friend) ignore
     reported-speech cues, because there the reported words are the point.
     Media cues still apply to them.
   * **Resolved**: a resolution follows within three words in the same
     clause ("the suicidal thoughts went away / have stopped"). The match is
     dropped, unless the resolution is itself negated ("haven't stopped").
   * **Negation window**: the match is negated if the nearest negation cue
     before it (not, never, no longer, no plans to, stopped...) is in the same
     clause and the words between the cue and the match are all "bridge"
     words (auxiliaries, pronouns and hedges such as *am, going, to, want,
     really, think, feel*), with at most ``max_gap`` of them (4 by default).
     "I would never kill myself", "I'm not going to hurt myself" and "no
     longer suicidal" are negated. "I don't know why I want to die" and "I
     can't take it anymore I want to die" are not, because *know why* and
     *take it* are not bridge words. Pseudo-negations ("not sure", "why not",
     "can not stop", "not gonna lie") are removed before the check. Clause
     breaks are ``, ; : . ! ?``, quotes, newlines and the conjunctions but,
     and, because, although, though, however, whereas. A negated match is
     dropped, unless a limiter (yet, tonight, today, for now, right now...)
     follows it in the same clause ("I won't do it tonight"). Then it is
     kept, capped at ``concern``.

4. Escalate: some combinations raise the level. A wish to die plus means at
   hand, or plus "I mean it", becomes urgent. So do farewell wording plus
   hopelessness or readiness, and means plus "going to take them all".
   Entries with level ``none`` are signals that only matter here (see
   ``escalations`` in the lexicon).
5. The level is the highest level among the surviving matches and
   escalations.

Performance: patterns are compiled once per lexicon. Every repetition in the
lexicon is bounded, and each context rule looks only at the nearest cue on
each side of a match, within ``_SCOPE_CHARS`` characters. Assessment is
therefore roughly linear even on adversarial input: a few thousand sentences
a second, and about 0.3 s for 100 kB of hostile text.

Known limitations: the lexicon reads English only (the model reads five languages). It has no model of
discourse across messages. Sarcasm and hyperbole that are not listed as
idioms ("kms" after losing your keys) are flagged. A member who confirms a
question inside reported speech ("she asked if I wanted to die and I said
yes") is missed. Phrasings absent from the lexicon are missed too: on
unseen sentences written as held-out checks, recall before tuning was around
0.7 to 0.85.
"""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEFAULT_LEXICON_PATH",
    "Assessment",
    "Entry",
    "Escalation",
    "Level",
    "Lexicon",
    "LexiconError",
    "assess",
    "default_lexicon",
    "normalise",
]

DEFAULT_LEXICON_PATH: Final[Path] = Path(__file__).resolve().parent.parent.parent / "data" / "safety_lexicon.json"

_LEVEL_ORDER: Final[tuple[str, ...]] = ("none", "concern", "urgent")


class Level(StrEnum):
    """Severity of an assessment. Comparisons follow severity, not spelling."""

    NONE = "none"
    CONCERN = "concern"
    URGENT = "urgent"

    @property
    def severity(self) -> int:
        """0 for none, 1 for concern, 2 for urgent."""
        return _LEVEL_ORDER.index(self.value)

    @classmethod
    def from_severity(cls, severity: int) -> Level:
        return cls(_LEVEL_ORDER[max(0, min(severity, len(_LEVEL_ORDER) - 1))])

    def _other_severity(self, other: object) -> int | None:
        if isinstance(other, Level):
            return other.severity
        if isinstance(other, str) and other in _LEVEL_ORDER:
            return _LEVEL_ORDER.index(other)
        return None

    def __lt__(self, other: object) -> bool:
        sev = self._other_severity(other)
        return NotImplemented if sev is None else self.severity < sev

    def __le__(self, other: object) -> bool:
        sev = self._other_severity(other)
        return NotImplemented if sev is None else self.severity <= sev

    def __gt__(self, other: object) -> bool:
        sev = self._other_severity(other)
        return NotImplemented if sev is None else self.severity > sev

    def __ge__(self, other: object) -> bool:
        sev = self._other_severity(other)
        return NotImplemented if sev is None else self.severity >= sev


@dataclass(frozen=True, slots=True)
class Assessment:
    """Result of :func:`assess`.

    ``reasons`` holds ids of the entries and escalations that produced
    ``level``, most severe first. ``suppressed`` holds ``"<entry id>:<rule>"``
    for matches dropped or capped by the idiom, historical, media, reported,
    quoted, resolved, negated or limited rules. It is useful when tuning the lexicon.
    Neither ever contains the input text.
    """

    level: Level
    reasons: tuple[str, ...] = ()
    suppressed: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return self.level is not Level.NONE


class LexiconError(ValueError):
    """The lexicon file is malformed."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    level: Level
    category: str
    regex: re.Pattern[str]
    survives_reported_speech: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Escalation:
    id: str
    level: Level
    all_of: tuple[frozenset[str], ...]


# --------------------------------------------------------------------------- normalisation tables

_APOSTROPHES: Final = "\u2019\u2018\u201b\u02bc\u02b9\u0060\u00b4\u2032\uff07"
_DOUBLE_QUOTES: Final = "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u301d\u301e\uff02"
_INVISIBLE: Final = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
# Cyrillic and Greek letters that are routinely used to disguise Latin ones.
_CONFUSABLES: Final = {
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "ѕ": "s",
    "ԁ": "d",
    "ο": "o",
    "α": "a",
    "ε": "e",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
}
_TRANSLATE: Final = str.maketrans(
    {
        **dict.fromkeys(_APOSTROPHES, "'"),
        **dict.fromkeys(_DOUBLE_QUOTES, '"'),
        **dict.fromkeys(_INVISIBLE, None),
        **_CONFUSABLES,
    }
)

_CONTRACTIONS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\bain't\b"), "is not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\b(he|she|it|that|there|who|everyone|someone|somebody|nobody)'s been\b"), r"\1 has been"),
    (
        re.compile(
            r"\b(he|she|it|that|there|what|who|where|everyone|everybody|nobody|someone|somebody|life"
            r"|everything|nothing|tonight|today|tomorrow|this|here|how|why|when)'s\b"
        ),
        r"\1 is",
    ),
)
_INWORD_APOSTROPHE: Final = re.compile(r"(?<=[a-z0-9])'(?=[a-z])")
_SEPARATORS: Final = re.compile(r"[-_*~|`/\\+=#<>^]+")
_LETTER_RUNS: Final = re.compile(r"([a-z])\1{2,}")
_SPACED_LETTERS: Final = re.compile(r"(?<![a-z0-9])(?:[a-z][ .]){3,}[a-z](?![a-z0-9])")
_TOKENS: Final = re.compile(r"[a-z0-9]+")
_DISALLOWED: Final = re.compile(r'[^a-z0-9\n.,!?;:" ]+')
_SPACES: Final = re.compile(r"[^\S\n]+")
_NEWLINES: Final = re.compile(r" *\n[\s]*")

# --------------------------------------------------------------------------- scope tables

_CLAUSE_BREAK: Final = re.compile(r'[.!?;:,\n"]|\b(?:but|and|because|although|though|however|whereas|except|cause)\b')
_SENTENCE_BREAK: Final = re.compile(r"[.!?\n]")
_CONTRAST: Final = re.compile(r"\b(?:but|although|though|however|whereas|except)\b")
_RESTART: Final = re.compile(
    r"(?:[,;:]|\b(?:and|so|because|then)\b)\s*"
    r"(?:(?:and|but|so|then|now|honestly|to be honest|like|just|also|really|yet|still|anyway|tbh)\s+){0,4}"
    r"(?:i|me|my)\b"
)
_SCOPE_LEAD: Final = re.compile(r'^[\s,:"]+')
_NEGATED_TAIL: Final = re.compile(r"\b(?:not|never)\b(?:\s+\w+)?\s*$")
_SCOPE_CHARS: Final = 300  # reported/media/historical cues further away than this never apply
_NEGATION_CHARS: Final = 80  # room for max_gap bridge words
_REPEATED_WORDS: Final = re.compile(r"(?<![a-z0-9])([a-z]+)(?: \1(?![a-z0-9]))+")

_WORD_BOUNDARY_TEMPLATE: Final = "(?<![a-z0-9])(?:{})(?![a-z0-9])"
_MACRO: Final = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
_ID: Final = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)*$")

Span = tuple[int, int]


def _expand(pattern: str, macros: Mapping[str, str], where: str) -> str:
    for _ in range(10):
        if "{" not in pattern:
            return pattern

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in macros:
                raise LexiconError(f"{where}: unknown macro {{{name}}}")
            return macros[name]

        expanded = _MACRO.sub(repl, pattern)
        if expanded == pattern:
            return pattern
        pattern = expanded
    raise LexiconError(f"{where}: macros nest too deeply")


def _compile(patterns: Sequence[str], macros: Mapping[str, str], where: str) -> re.Pattern[str]:
    parts: list[str] = []
    for i, raw in enumerate(patterns):
        expanded = _expand(raw, macros, f"{where}[{i}]")
        try:
            re.compile(expanded)
        except re.error as exc:
            raise LexiconError(f"{where}[{i}]: invalid regex: {exc}") from exc
        parts.append(f"(?:{expanded})")
    return re.compile(_WORD_BOUNDARY_TEMPLATE.format("|".join(parts)))


def _str(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise LexiconError(f"{where}: expected a non-empty string")
    return value


def _str_list(value: object, where: str, *, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list) or (not value and not allow_empty):
        raise LexiconError(f"{where}: expected a {'' if allow_empty else 'non-empty '}list of strings")
    return [_str(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _str_map(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LexiconError(f"{where}: expected an object")
    out: dict[str, str] = {}
    for k, v in value.items():
        key = _str(k, where)
        if not isinstance(v, str):
            raise LexiconError(f"{where}.{key}: expected a string")
        out[key] = v
    return out


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise LexiconError(f"{key}: expected an object")
    return value


def _level(value: object, where: str) -> Level:
    if not isinstance(value, str) or value not in _LEVEL_ORDER:
        raise LexiconError(f"{where}: level must be one of {', '.join(_LEVEL_ORDER)}")
    return Level(value)


@dataclass(frozen=True, eq=False)
class Lexicon:
    """A compiled lexicon. Build it with :meth:`load` or :meth:`from_dict`."""

    version: str
    entries: tuple[Entry, ...]
    escalations: tuple[Escalation, ...]
    idioms: tuple[tuple[str, re.Pattern[str]], ...]
    negation: re.Pattern[str] | None
    pseudo_negation: re.Pattern[str] | None
    bridge_words: frozenset[str]
    max_gap: int
    limiters: re.Pattern[str] | None
    reported: re.Pattern[str] | None
    reported_exceptions: re.Pattern[str] | None
    media: re.Pattern[str] | None
    historical: re.Pattern[str] | None
    recency: re.Pattern[str] | None
    milestones: re.Pattern[str] | None
    milestone_breaks: re.Pattern[str] | None
    resolved: re.Pattern[str] | None
    word_map: Mapping[str, str] = field(repr=False)
    leet: Mapping[str, str] = field(repr=False)
    _leet_inner: re.Pattern[str] | None = field(repr=False, default=None)
    _leet_lead: re.Pattern[str] | None = field(repr=False, default=None)

    # ------------------------------------------------------------------ construction

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Lexicon:
        """Read and compile a lexicon JSON file."""
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict):
            raise LexiconError("lexicon root must be an object")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lexicon:
        """Validate and compile a lexicon from parsed JSON."""
        macros = _str_map(data.get("macros"), "macros")

        def optional(patterns: list[str], where: str) -> re.Pattern[str] | None:
            return _compile(patterns, macros, where) if patterns else None

        raw_entries = data.get("entries")
        if not isinstance(raw_entries, list) or not raw_entries:
            raise LexiconError("entries: expected a non-empty list")
        entries: list[Entry] = []
        seen: set[str] = set()
        for i, raw in enumerate(raw_entries):
            where = f"entries[{i}]"
            if not isinstance(raw, dict):
                raise LexiconError(f"{where}: expected an object")
            entry_id = _str(raw.get("id"), f"{where}.id")
            if not _ID.match(entry_id):
                raise LexiconError(f"{where}.id: {entry_id!r} must be lowercase dotted words")
            if entry_id in seen:
                raise LexiconError(f"{where}.id: duplicate id {entry_id!r}")
            seen.add(entry_id)
            survives = raw.get("survives_reported_speech", False)
            if not isinstance(survives, bool):
                raise LexiconError(f"{where}.survives_reported_speech: expected a boolean")
            description = raw.get("description", "")
            entries.append(
                Entry(
                    id=entry_id,
                    level=_level(raw.get("level"), f"{where}.level"),
                    category=_str(raw.get("category"), f"{where}.category"),
                    regex=_compile(_str_list(raw.get("patterns"), f"{where}.patterns"), macros, entry_id),
                    survives_reported_speech=survives,
                    description=description if isinstance(description, str) else "",
                )
            )
        categories = {e.category for e in entries}

        escalations: list[Escalation] = []
        raw_escalations = data.get("escalations", [])
        if not isinstance(raw_escalations, list):
            raise LexiconError("escalations: expected a list")
        for i, raw in enumerate(raw_escalations):
            where = f"escalations[{i}]"
            if not isinstance(raw, dict):
                raise LexiconError(f"{where}: expected an object")
            esc_id = _str(raw.get("id"), f"{where}.id")
            if esc_id in seen or not _ID.match(esc_id):
                raise LexiconError(f"{where}.id: {esc_id!r} is invalid or duplicated")
            seen.add(esc_id)
            groups = raw.get("all_of")
            if not isinstance(groups, list) or not groups:
                raise LexiconError(f"{where}.all_of: expected a non-empty list of category lists")
            all_of: list[frozenset[str]] = []
            for j, group in enumerate(groups):
                cats = frozenset(_str_list(group, f"{where}.all_of[{j}]"))
                unknown = cats - categories
                if unknown:
                    raise LexiconError(f"{where}.all_of[{j}]: unknown categories {sorted(unknown)}")
                all_of.append(cats)
            escalations.append(Escalation(esc_id, _level(raw.get("level"), f"{where}.level"), tuple(all_of)))

        idioms: list[tuple[str, re.Pattern[str]]] = []
        raw_idioms = data.get("idioms", [])
        if not isinstance(raw_idioms, list):
            raise LexiconError("idioms: expected a list")
        for i, raw in enumerate(raw_idioms):
            if not isinstance(raw, dict):
                raise LexiconError(f"idioms[{i}]: expected an object")
            idiom_id = _str(raw.get("id"), f"idioms[{i}].id")
            idioms.append((idiom_id, _compile(_str_list(raw.get("patterns"), f"idioms[{i}]"), macros, idiom_id)))

        negations = _section(data, "negations")
        max_gap = negations.get("max_gap", 4)
        if not isinstance(max_gap, int) or isinstance(max_gap, bool) or not 0 <= max_gap <= 10:
            raise LexiconError("negations.max_gap: expected an integer between 0 and 10")
        reported = _section(data, "reported_speech")
        historical = _section(data, "historical")

        word_map = {**_str_map(data.get("misspellings"), "misspellings")}
        word_map.update(_str_map(data.get("shorthand"), "shorthand"))
        for key in word_map:
            if not _TOKENS.fullmatch(key):
                raise LexiconError(f"misspellings/shorthand: key {key!r} must be a single lowercase token")
        leet = _str_map(data.get("leet"), "leet")
        for key, value in leet.items():
            if len(key) != 1 or len(value) != 1:
                raise LexiconError(f"leet: {key!r} -> {value!r} must map one character to one character")
        leet_chars = "".join(re.escape(c) for c in leet)

        def cues(section: Mapping[str, Any], key: str, where: str) -> re.Pattern[str] | None:
            return optional(_str_list(section.get(key, []), where, allow_empty=True), where)

        return cls(
            version=str(data.get("version", "")),
            entries=tuple(entries),
            escalations=tuple(escalations),
            idioms=tuple(idioms),
            negation=cues(negations, "cues", "negations.cues"),
            pseudo_negation=cues(negations, "pseudo", "negations.pseudo"),
            bridge_words=frozenset(_str_list(negations.get("bridge_words", []), "bridge", allow_empty=True)),
            max_gap=max_gap,
            limiters=cues(negations, "limiters", "negations.limiters"),
            reported=cues(reported, "cues", "reported_speech.cues"),
            reported_exceptions=cues(reported, "exceptions", "reported_speech.exceptions"),
            media=cues(_section(data, "media"), "cues", "media.cues"),
            historical=cues(historical, "cues", "historical.cues"),
            recency=cues(historical, "recency", "historical.recency"),
            milestones=cues(historical, "milestones", "historical.milestones"),
            milestone_breaks=cues(historical, "milestone_breaks", "historical.milestone_breaks"),
            resolved=cues(negations, "resolved", "negations.resolved"),
            word_map=word_map,
            leet=leet,
            _leet_inner=re.compile(f"(?<=[a-z])[{leet_chars}]+(?=[a-z])") if leet_chars else None,
            _leet_lead=re.compile(r"(?<![a-z0-9])[@$](?=[a-z]{2,})") if {"@", "$"} & set(leet) else None,
        )

    # ------------------------------------------------------------------ introspection

    @property
    def reason_ids(self) -> frozenset[str]:
        """Every id that can appear in :attr:`Assessment.reasons`."""
        return frozenset(e.id for e in self.entries) | frozenset(e.id for e in self.escalations)

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(e.category for e in self.entries)

    # ------------------------------------------------------------------ normalisation

    def normalise(self, text: str) -> str:
        """Return the normalised form that lexicon patterns are matched against."""
        t = unicodedata.normalize("NFKC", text).translate(_TRANSLATE).casefold().translate(_TRANSLATE)
        t = "".join(c for c in unicodedata.normalize("NFD", t) if not unicodedata.combining(c))
        if self._leet_inner is not None:
            t = self._leet_inner.sub(lambda m: "".join(self.leet.get(c, c) for c in m.group()), t)
        if self._leet_lead is not None:
            t = self._leet_lead.sub(lambda m: self.leet.get(m.group(), m.group()), t)
        if "'" in t:
            for pattern, replacement in _CONTRACTIONS:
                t = pattern.sub(replacement, t)
            t = _INWORD_APOSTROPHE.sub("", t).replace("'", '"')
        t = _SEPARATORS.sub(" ", t)
        t = _LETTER_RUNS.sub(r"\1", t)
        t = _SPACED_LETTERS.sub(lambda m: m.group().replace(" ", "").replace(".", ""), t)
        word_map = self.word_map
        t = _TOKENS.sub(lambda m: word_map.get(m.group(), m.group()), t)
        t = _DISALLOWED.sub(" ", t)
        t = _SPACES.sub(" ", t)
        t = _NEWLINES.sub("\n", t)
        t = _REPEATED_WORDS.sub(r"\1", t)
        return t.strip()


# --------------------------------------------------------------------------- analysis


class _Intervals:
    """Sorted, non-overlapping spans with O(log n) overlap and neighbour queries."""

    __slots__ = ("ends", "spans", "starts")

    def __init__(self, spans: Iterable[Span], *, merge: bool = False) -> None:
        ordered = sorted(spans)
        if merge:
            merged: list[Span] = []
            for a, b in ordered:
                if merged and a <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], b))
                else:
                    merged.append((a, b))
            ordered = merged
        self.spans = ordered
        self.starts = [a for a, _ in ordered]
        self.ends = [b for _, b in ordered]

    def __bool__(self) -> bool:
        return bool(self.spans)

    def overlapping(self, s: int, e: int) -> Span | None:
        """A span overlapping [s, e), if any. Spans must not overlap each other."""
        i = bisect_right(self.ends, s)  # first span that ends after s
        if i < len(self.spans) and self.starts[i] < e:
            return self.spans[i]
        return None

    def before(self, s: int) -> Span | None:
        """The span that ends last at or before s."""
        i = bisect_right(self.ends, s) - 1
        return self.spans[i] if i >= 0 else None

    def after(self, e: int) -> Span | None:
        """The span that starts first at or after e."""
        i = bisect_left(self.starts, e)
        return self.spans[i] if i < len(self.spans) else None


def _spans(regex: re.Pattern[str] | None, text: str, exclude: _Intervals | None = None) -> _Intervals:
    """Non-overlapping matches of ``regex``, minus any that touch an ``exclude`` span."""
    if regex is None:
        return _Intervals(())
    spans = (m.span() for m in regex.finditer(text))
    if exclude:
        spans = (sp for sp in spans if exclude.overlapping(*sp) is None)
    return _Intervals(spans)


class _Context:
    """Cue spans for one normalised message, built only when something matched.

    Every rule looks only at the nearest cue on each side of a match. For a
    cue further away, the text between it and the match contains the text
    between the nearer cue and the match, so any break that rules out the
    nearer cue rules it out too. Scopes are also capped at
    ``_SCOPE_CHARS``. Together this keeps assessment close to linear on
    adversarial input.
    """

    def __init__(self, text: str, lex: Lexicon) -> None:
        self.text = text
        self.lex = lex
        self.idioms = _Intervals(
            (span for _, rx in lex.idioms for span in (m.span() for m in rx.finditer(text))), merge=True
        )
        self.negations = _spans(lex.negation, text, _spans(lex.pseudo_negation, text))
        self.reported = _spans(lex.reported, text, _spans(lex.reported_exceptions, text))
        self.media = _spans(lex.media, text)
        self.historical = _spans(lex.historical, text)
        self.milestones = _spans(lex.milestones, text)
        marks = [i for i, c in enumerate(text) if c == '"']
        self.quotes = _Intervals((marks[i], marks[i + 1] + 1) for i in range(0, len(marks) - 1, 2))
        self.sentence_breaks = [m.start() for m in _SENTENCE_BREAK.finditer(text)]

    # -- helpers ---------------------------------------------------------

    def _sentence(self, start: int, end: int) -> Span:
        breaks = self.sentence_breaks
        i = bisect_right(breaks, start - 1) - 1
        lo = breaks[i] + 1 if i >= 0 else 0
        j = bisect_right(breaks, end - 1)
        hi = breaks[j] if j < len(breaks) else len(self.text)
        return lo, hi

    def _in_scope_before(self, cue_end: int, start: int) -> bool:
        """Is a cue that ends at cue_end still in scope at position start?"""
        if start - cue_end > _SCOPE_CHARS:
            return False
        between = _SCOPE_LEAD.sub("", self.text[cue_end:start])
        return not (_SENTENCE_BREAK.search(between) or _CONTRAST.search(between) or _RESTART.search(between))

    def _same_clause_after(self, end: int, cue_start: int) -> bool:
        return cue_start - end <= _SCOPE_CHARS and not _CLAUSE_BREAK.search(self.text[end:cue_start])

    # -- rules -----------------------------------------------------------

    def _past(self, cues: _Intervals, breaks: re.Pattern[str] | None, s: int, e: int) -> bool:
        if not cues or (breaks is not None and breaks.search(self.text, s, e)):
            return False
        if cues.overlapping(s, e) is not None:
            return True
        for cue in (cues.before(s), cues.after(e)):
            if cue is None:
                continue
            lo, hi = (cue[1], s) if cue[1] <= s else (e, cue[0])
            if hi - lo > _SCOPE_CHARS:
                continue
            between = self.text[lo:hi]
            if _SENTENCE_BREAK.search(between) or _CONTRAST.search(between):
                continue
            if breaks is not None and breaks.search(between):
                continue
            return True
        return False

    def _historical(self, s: int, e: int) -> bool:
        return self._past(self.historical, self.lex.recency, s, e) or self._past(
            self.milestones, self.lex.milestone_breaks, s, e
        )

    def _cue_applies(self, cues: _Intervals, s: int, e: int, *, after_in_clause: bool) -> bool:
        if not cues:
            return False
        before = cues.before(s)
        if before is not None and self._in_scope_before(before[1], s):
            return True
        if after_in_clause:
            after = cues.after(e)
            if after is not None and self._same_clause_after(e, after[0]):
                return True
        return False

    def _quoted(self, s: int, e: int, *, use_reported: bool) -> bool:
        quote = self.quotes.overlapping(s, e)
        if quote is None or not (quote[0] <= s and e <= quote[1]):
            return False
        qs, qe = quote
        lo, hi = self._sentence(qs, qe)
        for cues in (self.media, self.reported) if use_reported else (self.media,):
            before, after = cues.before(qs), cues.after(qe)
            if (before is not None and before[0] >= lo) or (after is not None and after[1] <= hi):
                return True
        return False

    def _negated(self, s: int) -> bool:
        cue = self.negations.before(s)
        if cue is None or s - cue[1] > _NEGATION_CHARS:
            return False
        between = self.text[cue[1] : s]
        if _CLAUSE_BREAK.search(between):
            return False
        words = between.split()
        return len(words) <= self.lex.max_gap and all(w in self.lex.bridge_words for w in words)

    def _clause_after(self, e: int, width: int = 60) -> str:
        after = self.text[e : e + width]
        brk = _CLAUSE_BREAK.search(after)
        return after if brk is None else after[: brk.start()]

    def _resolved(self, e: int) -> bool:
        """Is the match followed by a resolution ("the thoughts went away")?"""
        resolved = self.lex.resolved
        if resolved is None:
            return False
        after = self._clause_after(e)
        m = resolved.search(after)
        if m is None or len(after[: m.start()].split()) > 3:
            return False
        return _NEGATED_TAIL.search(after[: m.start()]) is None

    def _limited(self, e: int) -> bool:
        limiters = self.lex.limiters
        if limiters is None:
            return False
        return limiters.search(self._clause_after(e)) is not None

    def judge(self, entry: Entry, s: int, e: int) -> tuple[Level, str | None]:
        """Return the effective level of one match and the rule that changed it, if any."""
        if self.idioms.overlapping(s, e) is not None:
            return Level.NONE, "idiom"
        if self._historical(s, e):
            return Level.NONE, "historical"
        if self._cue_applies(self.media, s, e, after_in_clause=True):
            return Level.NONE, "media"
        use_reported = not entry.survives_reported_speech
        if use_reported and self._cue_applies(self.reported, s, e, after_in_clause=False):
            return Level.NONE, "reported"
        if self._quoted(s, e, use_reported=use_reported):
            return Level.NONE, "quoted"
        if self._resolved(e):
            return Level.NONE, "resolved"
        if self._negated(s):
            if self._limited(e):
                return min(entry.level, Level.CONCERN), "limited"
            return Level.NONE, "negated"
        return entry.level, None


@functools.lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The lexicon at :data:`DEFAULT_LEXICON_PATH`, loaded on first use and cached."""
    return Lexicon.load(DEFAULT_LEXICON_PATH)


def normalise(text: str, lexicon: Lexicon | None = None) -> str:
    """Normalise ``text`` the way :func:`assess` does (handy for writing patterns)."""
    return (lexicon or default_lexicon()).normalise(text)


def assess(text: str, lexicon: Lexicon | None = None) -> Assessment:
    """Screen one message for crisis language. See the module docstring for the rules."""
    lex = lexicon if lexicon is not None else default_lexicon()
    norm = lex.normalise(text)
    if not norm:
        return Assessment(Level.NONE)

    found: list[tuple[Entry, int, int]] = []
    for entry in lex.entries:
        found.extend((entry, m.start(), m.end()) for m in entry.regex.finditer(norm))
    if not found:
        return Assessment(Level.NONE)

    ctx = _Context(norm, lex)
    best: dict[str, Level] = {}
    categories: set[str] = set()
    suppressed: set[str] = set()
    for entry, s, e in found:
        level, rule = ctx.judge(entry, s, e)
        if rule is not None:
            suppressed.add(f"{entry.id}:{rule}")
        if rule is None or rule == "limited":
            categories.add(entry.category)
            if level > best.get(entry.id, Level.NONE):
                best[entry.id] = level

    for esc in lex.escalations:
        if all(group & categories for group in esc.all_of) and esc.level > best.get(esc.id, Level.NONE):
            best[esc.id] = esc.level

    flagged = {rid: lvl for rid, lvl in best.items() if lvl is not Level.NONE}
    if not flagged:
        return Assessment(Level.NONE, (), tuple(sorted(suppressed)))
    reasons = tuple(sorted(flagged, key=lambda rid: (-flagged[rid].severity, rid)))
    top = max(flagged.values(), key=lambda lvl: lvl.severity)
    return Assessment(top, reasons, tuple(sorted(suppressed)))
