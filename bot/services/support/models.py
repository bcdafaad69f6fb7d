"""What one-to-one support talks in: its limits and job kinds, how tags, contexts and long text
are made, what the port renders (notices, offer cards, alerts) and the results a command gets back.
Nothing here reads the database or reaches Discord."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.safety import Assessment, Level
from bot.storage.support import Conversation

TAG_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TOPIC_LIMIT = 200
NAME_LIMIT = 40
RELAY_CHUNK = 3500
RELAY_LIMIT = 8000
NOTE_LIMIT = 500
COMMENT_LIMIT = 1000
BLOCK_FOR = timedelta(days=30)
URGENT_ALERT_EVERY = timedelta(minutes=30)
SOURCES = ("command", "dm", "checkin", "share", "other")

ESCALATE_JOB = "support.escalate"
IDLE_JOB = "support.idle"
IDLE_GRACE = timedelta(hours=6)  # an idle check may run this late (after a restart) and still close
TOUCH_EVERY = timedelta(minutes=1)  # how often relaying refreshes last_activity_at
HANDOFF_JOB = "support.handoff"
QUEUED_JOB = "support.queued"
JOB_KINDS = (ESCALATE_JOB, IDLE_JOB, HANDOFF_JOB, QUEUED_JOB)


def new_tag(length: int = 4) -> str:
    return "".join(secrets.choice(TAG_ALPHABET) for _ in range(length))


def member_context(conversation_public_id: str) -> str:
    return f"support:{conversation_public_id}:member"


def topic_context(conversation_public_id: str) -> str:
    return f"support:{conversation_public_id}:topic"


def chunks(text: str, size: int = RELAY_CHUNK) -> list[str]:
    """Split long text at line or word breaks into pieces of at most ``size`` characters."""
    pieces: list[str] = []
    rest = text
    while len(rest) > size:
        cut = rest.rfind("\n", 0, size)
        if cut < size // 2:
            cut = rest.rfind(" ", 0, size)
        if cut < size // 2:
            cut = size
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


# -- what the port renders ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """A message to one side, rendered by the support cog in its reader's language when it is sent.

    ``code`` says which message; ``params`` are its data (a JSON object when the notice waits in the
    outbox): numbers, tags, times, and the ``guild_id`` whose language the reader last used. Any
    words among them are English source text marked with ``N_`` for the renderer to translate.
    ``params`` never hold a member's id."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OfferCard:
    offer_public_id: str
    conversation_public_id: str
    guild_id: int
    kind: str  # request | handoff
    stage: int
    member_tag: str
    member_name: str | None
    topic: str | None
    urgent: bool
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """For the coordinators (the moderation channel). Identity-free unless the member chose a name."""

    kind: str  # request | urgent | blocked | comment | debrief | message_left
    guild_id: int
    params: dict[str, Any] = field(default_factory=dict)


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestOutcome:
    status: str  # offered | escalated | nobody
    conversation: Conversation | None
    offered: int = 0
    next_shift: datetime | None = None
    zone: str = "UTC"
    assessment: Assessment = field(default_factory=lambda: Assessment(Level.NONE))


@dataclass(frozen=True, slots=True)
class Accepted:
    conversation: Conversation
    topic: str | None
    handoff: bool
    previous_tag: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    conversation: Conversation
    side: str  # member | listener


@dataclass(frozen=True, slots=True)
class RelayResult:
    held: bool
    first_held: bool
    urgent: bool
    pieces: int
    attachments_skipped: int
    empty: bool = False


@dataclass(frozen=True, slots=True)
class Ended:
    conversation: Conversation
    side: str
    was_waiting: bool
