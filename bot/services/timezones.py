"""Time zone names for autocomplete and validation."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.errors import InvalidInput
from bot.i18n import msg

POPULAR = (
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Auckland",
)


@lru_cache(maxsize=1)
def all_timezones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def search_timezones(query: str, limit: int = 25) -> list[str]:
    """Zones matching ``query`` (case-insensitive; spaces match underscores), popular first."""
    needle = query.strip().lower().replace(" ", "_")
    if not needle:
        return list(POPULAR[:limit])
    starts = [z for z in all_timezones() if z.lower().split("/")[-1].startswith(needle) or z.lower().startswith(needle)]
    contains = [z for z in all_timezones() if needle in z.lower() and z not in starts]
    return (starts + contains)[:limit]


def validate_timezone(name: str) -> str:
    cleaned = name.strip()
    try:
        ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        suggestions = search_timezones(cleaned, 3)
        if suggestions:
            raise InvalidInput(
                msg(
                    "I don't know the time zone “{zone}”. Pick one from the list, like Europe/London. "
                    "Did you mean {suggestions}?",
                    zone=cleaned[:60],
                    suggestions=", ".join(suggestions),
                )
            ) from None
        raise InvalidInput(
            msg("I don't know the time zone “{zone}”. Pick one from the list, like Europe/London.", zone=cleaned[:60])
        ) from None
    return cleaned
