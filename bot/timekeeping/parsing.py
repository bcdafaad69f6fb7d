"""Reading the times, days and dates people type in commands: one reader each, for every command.

Times (:func:`parse_time`): "19:00", "19.00", "7:05", "7pm", "7:30 pm", "7 p.m.", "19h", "19h30",
"19 Uhr", or a bare hour ("9", "19"). Days (:func:`parse_weekdays`): names or their first letters
("mon", "Tuesday", "thurs", "mo"), in English or any shipped language ("Mittwoch", "mié", "sáb",
"jeudi", "qua"), separated by commas, spaces, "and" (or the language's word for it), "/", "+" or
"&", and the groups "weekdays", "weekends", "every day" (and the words each catalogue gives for
them). Dates (:func:`parse_date`): 2026-03-17, at most two years ahead. Each refuses what it can't
read with an example of what it can, in the reader's language.

The words people may type in other languages come from Babel (weekday names) and the catalogues
(context ``typed days``), so a new catalogue brings its own; English always works.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date, time, timedelta

from babel import Locale

from bot.errors import InvalidInput
from bot.i18n import SOURCE, languages, msg, msgs, pN_, speaker, typing_language
from bot.timekeeping.words import EVERY_DAY, MONDAY_TO_FRIDAY, WEEKDAY_NAMES, WEEKEND

# How far ahead a date typed in a command may be. Nobody plans a session or a shift further out, and a
# date near the end of the calendar (9999-12-31) can't have a duration or a horizon added to it.
MAX_DAYS_AHEAD = 2 * 365 + 1
TIME_EXAMPLE = "Write it like 19:00, 7pm or 7:30 pm."
MAX_REMINDERS = 3
MAX_REMINDER_OFFSET = timedelta(days=7)

_TIME = re.compile(
    r"^(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2})|\s?(?:h|uhr)\s?(?P<h_minute>\d{2})?)?"
    r"(?:\s*(?P<meridiem>[ap])\.?\s?m\.?)?$",
    re.IGNORECASE,
)
_OFFSET_PART = re.compile(r"(\d+)\s*(d|h|m)", re.IGNORECASE)

# Translators: what a person may type for these days in a command, alternatives separated by "|",
# lowercase, no need to repeat the English (it always works). E.g. "todos los días|diario".
_EVERY_DAY_WORDS = pN_("typed days", "every day|everyday|daily|all")
# Translators: as above, for Monday to Friday. E.g. "entre semana|laborables".
_WEEKDAYS_WORDS = pN_("typed days", "weekdays|weekday")
# Translators: as above, for Saturday and Sunday. E.g. "fines de semana|fin de semana".
_WEEKEND_WORDS = pN_("typed days", "weekends|weekend")
# Translators: the word that joins two days in "mon and wed", alternatives separated by "|". E.g. "y".
_AND_WORDS = pN_("typed days", "and")
# Translators: what a person may type to ask for no reminders, alternatives separated by "|". E.g. "ninguno|no".
_NO_REMINDER_WORDS = pN_("typed reminders", "none|no|off")


def _plain(text: str) -> str:
    """Lowercase, without accents or a trailing full stop: "Mié." -> "mie"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip(" .")


def _typed(marked: tuple[str, str]) -> tuple[str, ...]:
    """Every alternative for ``marked`` in English and in each shipped language."""
    found: list[str] = []
    for language in (SOURCE, *sorted(set(languages()) - {SOURCE})):
        for word in speaker(language).p(*marked).split("|"):
            if _plain(word) and _plain(word) not in found:
                found.append(_plain(word))
    return tuple(found)


@functools.cache
def _day_words() -> tuple[dict[str, frozenset[int]], tuple[str, ...]]:
    """The groups ("weekdays", "fin de semana"...) and the joining words ("and", "y"...) people may type."""
    groups: dict[str, frozenset[int]] = {}
    for marked, days in ((_EVERY_DAY_WORDS, EVERY_DAY), (_WEEKDAYS_WORDS, MONDAY_TO_FRIDAY), (_WEEKEND_WORDS, WEEKEND)):
        for word in _typed(marked):
            groups.setdefault(word, days)
    return groups, _typed(_AND_WORDS)


@functools.cache
def _day_names() -> tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...]:
    """Per shipped language other than English, each weekday's full name and abbreviations, plain."""
    result = []
    for language in sorted(set(languages()) - {SOURCE}):
        days = Locale.parse(language).days
        named = []
        for index in range(7):
            full = {_plain(days[kind]["wide"][index]) for kind in ("format", "stand-alone")}
            short = {_plain(days[kind]["abbreviated"][index]) for kind in ("format", "stand-alone")}
            named.append((max(full, key=len), tuple(sorted(short | full))))
        result.append((language, tuple(named)))
    return tuple(result)


def _english_day(word: str) -> int | None:
    """An English weekday: known by its first two letters, and any third must match ("thurs", "weds")."""
    for index, name in enumerate(WEEKDAY_NAMES):
        plain = name.lower()
        if len(word) >= 2 and word[:2] == plain[:2] and plain.startswith(word[:3]):
            return index
    return None


def _day(word: str) -> int | tuple[int, ...] | None:
    """The weekday a typed word names; a tuple of days when languages disagree and the writer's
    language doesn't settle it ("do": Thursday in German, Sunday in Spanish)."""
    english = _english_day(word)
    if english is not None:
        return english
    if len(word) < 2:
        return None
    found: dict[str, set[int]] = {}
    for language, names in _day_names():
        for index, (full, short) in enumerate(names):
            if word in short or full.startswith(word) or any(word == s + "s" for s in (full, *short)):
                found.setdefault(language, set()).add(index)
    days = set().union(*found.values()) if found else set()
    if len(days) == 1:
        return days.pop()
    writer = typing_language()
    if writer in found and len(found[writer]) == 1:
        return next(iter(found[writer]))
    return tuple(sorted(days)) or None


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    spaced = sorted((p for p in phrases if " " in p), key=len, reverse=True)
    return re.compile("|".join(r"\b" + re.escape(p) + r"\b" for p in spaced)) if spaced else None


def parse_date(text: str, *, today: date) -> date:
    """A date typed in a command, like 2026-03-17, at most :data:`MAX_DAYS_AHEAD` days after ``today``."""
    cleaned = text.strip()
    try:
        day = date.fromisoformat(cleaned)
    except ValueError:
        raise InvalidInput(
            msg(
                "I couldn't read “{text}” as a date. Pick one from the list, or type it like 2026-03-17.",
                text=cleaned[:30],
            )
        ) from None
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput(msg("{date} is too far ahead. Pick a date within the next two years.", date=day.isoformat()))
    return day


def parse_time(text: str | None) -> time:
    """A local time of day, on a 24-hour or a 12-hour clock (see the module's docstring)."""
    raw = " ".join((text or "").split())
    if not raw:
        raise InvalidInput(msg("Add a time. {example}", example=msg(TIME_EXAMPLE)))
    match = _TIME.match(raw)
    if match is None:
        raise InvalidInput(
            msg("I couldn't read “{text}” as a time. {example}", text=raw[:20], example=msg(TIME_EXAMPLE))
        )
    hour = int(match["hour"])
    minute = int(match["minute"] or match["h_minute"] or 0)
    meridiem = (match["meridiem"] or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            raise InvalidInput(
                msg(
                    "“{text}” isn't a time of day: with am or pm, hours go from 1 to 12. {example}",
                    text=raw[:20],
                    example=msg(TIME_EXAMPLE),
                )
            )
        hour = hour % 12 + (12 if meridiem == "p" else 0)
    if hour > 23 or minute > 59:
        raise InvalidInput(
            msg(
                "“{text}” isn't a time of day: hours go from 00 to 23 and minutes from 00 to 59. {example}",
                text=raw[:20],
                example=msg(TIME_EXAMPLE),
            )
        )
    return time(hour, minute)


def parse_weekdays(text: str | None) -> frozenset[int]:
    """Days of the week (0 = Monday) from "mon, wed", "monday wednesday", "weekdays", "Mo und Mi"...

    Nothing typed (or only separators) is no days: each command then uses its own default.
    """
    groups, joins = _day_words()
    raw = " ".join(_plain(text or "").split())
    spaced = _phrase_pattern(tuple(groups))
    chosen: set[int] = set()
    if spaced is not None:
        for phrase in spaced.findall(raw):
            chosen |= groups[phrase]
        raw = spaced.sub(" ", raw)
    join = "|".join(r"\b" + re.escape(j) + r"\b" for j in joins if j)
    for word in re.split(r"[\s,;/+&]+" + (f"|{join}" if join else ""), raw):
        word = word.strip(" .")
        if not word:
            continue
        if word in groups:
            chosen |= groups[word]
            continue
        day = _day(word)
        if isinstance(day, tuple):
            raise InvalidInput(
                msg(
                    "“{word}” could be more than one day. Please write the day's full name, like “Thursday”.",
                    word=word[:20],
                )
            )
        if day is None:
            raise InvalidInput(
                msg(
                    "I don't know the day “{word}”. Name each day of the week, like “mon, wed” or “Tuesday”, "
                    "or write “weekdays”, “weekends” or “every day”.",
                    word=word[:20],
                )
            )
        chosen.add(day)
    return frozenset(chosen)


def parse_offsets(text: str) -> tuple[int, ...]:
    """Reminder offsets in minutes, largest first: "24h, 15m" → (1440, 15); "none" → ()."""
    cleaned = _plain(text)
    if cleaned in ("", "0", *_typed(_NO_REMINDER_WORDS)):
        return ()
    minutes: set[int] = set()
    for token in re.split(r"[,;]+|\band\b", cleaned):
        token = token.strip()
        if not token:
            continue
        parts = _OFFSET_PART.findall(token)
        if not parts or _OFFSET_PART.sub("", token).strip():
            raise InvalidInput(
                msg(
                    "I couldn't read the reminder “{text}”. Write times before the session like “24h, 15m” "
                    "(d = days, h = hours, m = minutes), or “none”.",
                    text=token[:20],
                )
            )
        total = sum(int(n) * {"d": 1440, "h": 60, "m": 1}[unit.lower()] for n, unit in parts)
        if not 1 <= total <= MAX_REMINDER_OFFSET.total_seconds() // 60:
            raise InvalidInput(msg("Each reminder must be between 1 minute and 7 days before the session."))
        minutes.add(total)
    if len(minutes) > MAX_REMINDERS:
        raise InvalidInput(
            msgs(
                "At most {n} reminder per session, please.", "At most {n} reminders per session, please.", MAX_REMINDERS
            )
        )
    return tuple(sorted(minutes, reverse=True))
