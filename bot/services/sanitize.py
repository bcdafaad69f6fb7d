"""Sanitising text that leaves through the anonymous send path.

Mentions are neutralised so they render as plain text (a zero-width space after ``@``/``<``) —
``allowed_mentions`` is also empty, so nobody is pinged even if something slipped through.
Invite links are removed (or kept, per circle). Length and blank lines are limited.
"""

from __future__ import annotations

import re
import unicodedata

ZWSP = "\u200b"
MAX_LINES = 40
INVITE = re.compile(
    r"(?:https?://)?(?:www\.)?(?:discord(?:app)?\.com/invite|discord\.gg|dsc\.gg|discord\.me|discord\.io)/[\w-]+",
    re.IGNORECASE,
)
MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")
EVERYONE = re.compile(r"@(everyone|here)", re.IGNORECASE)
CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]")


def sanitize(text: str, *, limit: int, allow_invites: bool = False) -> str:
    """Text safe to post anonymously: no live mentions, no invites (unless allowed), bounded."""
    cleaned = unicodedata.normalize("NFC", text)
    cleaned = CONTROL.sub("", cleaned).replace("\r\n", "\n").replace("\r", "\n")
    if not allow_invites:
        cleaned = INVITE.sub("[invite link removed]", cleaned)
    cleaned = MENTION.sub(lambda m: f"<{ZWSP}{m.group(1)}{m.group(2)}>", cleaned)
    cleaned = EVERYONE.sub(lambda m: f"@{ZWSP}{m.group(1)}", cleaned)
    lines = cleaned.split("\n")
    if len(lines) > MAX_LINES:
        lines = [*lines[: MAX_LINES - 1], " ".join(lines[MAX_LINES - 1 :])]
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


def has_live_mention(text: str) -> bool:
    return bool(MENTION.search(text) or re.search(r"(?<!\u200b)@(everyone|here)\b", text, re.IGNORECASE))
