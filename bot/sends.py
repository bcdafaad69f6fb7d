"""Exactly-once messages from scheduled jobs.

A scheduled job (a check-in reminder, a session opening, a listener offer...) may run more than
once for the same occurrence: after a passing failure the scheduler tries it again within its
window, and after a restart it re-runs a job that was cut off half-way (see :mod:`bot.scheduler`).
What keeps each message to one copy:

* **A nonce per message, derived from the occurrence.** :func:`occurrence_nonce` hashes the job
  id, its scheduled time and a key naming what is sent to whom (``"reminder"``,
  ``"offer:<id>"``...), so every run of the same occurrence sends the same nonce, and it is sent
  with ``enforce_nonce``: Discord returns the message it already created instead of a second one,
  for a few minutes.
* **A record per message** (``scheduled_sends``), written *before* each try. A message Discord
  accepted is never sent again by a later run (that also holds after Discord's dedupe window).
  A try whose answer never came (a 500, a dropped connection, a timeout, or the process stopping
  mid-send) marks the message *unsure*: it is tried again only while Discord would still dedupe it
  (:data:`NONCE_WINDOW` after the first unsure try); after that it is recorded as ``maybe_sent``
  and not sent again, since nobody can tell whether it arrived.

The job a coroutine runs in is a context variable set by the scheduler (:func:`current_run`), so
ports call :meth:`SendLedger.send` through ``bot.ui.sending.scheduled_send`` without the services
passing job details around; outside a job, sends happen as before (no nonce, no record).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock, from_iso_or_none, to_iso
from bot.storage.database import Database

log = logging.getLogger(__name__)

# Discord dedupes an enforced nonce "in the past few minutes" and doesn't say how many: two is the
# longest this bot relies on. After that a resend could be a second copy.
NONCE_WINDOW = timedelta(minutes=2)
NONCE_LENGTH = 25  # Discord's limit for a string nonce
NONCE_PREFIX = "j"  # the relay outbox's nonces are hex: these can never equal one of them
KEEP_RECORDS = timedelta(days=7)


def occurrence_nonce(job_id: str, run_at: datetime, key: str) -> str:
    """The nonce of one message of one job occurrence: the same on every run of that occurrence,
    different for another message, another job or the same job at another time. 25 characters."""
    digest = hashlib.sha256("\x1f".join((job_id, to_iso(run_at), key)).encode()).digest()
    text = base64.b32encode(digest).decode("ascii").lower()
    return NONCE_PREFIX + text[: NONCE_LENGTH - len(NONCE_PREFIX)]


class RetryLater(Exception):
    """Raised in a job handler: a passing failure (Discord answered 429 or 5xx, the connection
    dropped or timed out). The scheduler runs the job again later within its window, with
    backoff, and no earlier than ``not_before`` (a 429's ``retry_after``); past the window it is
    recorded as missed with ``reason``."""

    def __init__(self, reason: str, *, not_before: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_before = not_before

    @classmethod
    def combine(cls, errors: Iterable[RetryLater]) -> RetryLater:
        """One for several sends that failed in one run (e.g. reminders to several people): the
        next try comes when the first of them may go."""
        found = list(errors)
        if not found:
            raise ValueError("nothing to combine")
        reasons = sorted({e.reason for e in found})
        waits = [e.not_before for e in found if e.not_before is not None]
        not_before = min(waits) if len(waits) == len(found) else None
        return cls(", ".join(reasons), not_before=not_before)


class TransientSendError(Exception):
    """What a send attempt raises for a passing failure, so the ledger can record it.

    ``unsure``: Discord may have created the message anyway (a 500 or 504, a dropped connection,
    a timeout). A 429, a 502 or 503, or a connection that was never made is sure: nothing was
    created, so the message can be tried again for as long as the job's window lasts.
    """

    def __init__(self, kind: str, *, unsure: bool, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.unsure = unsure
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one scheduled message."""

    status: str  # "sent" (now), "sent_before" (an earlier run), "maybe_sent" (unknown, not resent)
    channel_id: int | None = None
    message_id: int | None = None
    nonce: str | None = None

    @property
    def known(self) -> bool:
        """Discord accepted it (now or earlier); False for maybe_sent."""
        return self.status != "maybe_sent"


SendAttempt = Callable[[str], Awaitable[tuple[int, int]]]
"""Send with this nonce (and ``enforce_nonce``); return (channel id, message id). Raise
:class:`TransientSendError` for a passing failure; anything else is a refusal (e.g. DMs closed)."""


@dataclass(frozen=True, slots=True)
class SendRecord:
    nonce: str
    status: str
    attempts: int
    unsure_since: datetime | None
    last_error: str | None
    channel_id: int | None
    message_id: int | None


@dataclass(frozen=True, slots=True)
class JobRun:
    """The job occurrence the current coroutine runs for (set by the scheduler)."""

    job_id: str
    run_at: datetime
    attempt: int  # 0 on the first run; more after a retry or a restart
    ledger: SendLedger

    @property
    def rerun(self) -> bool:
        """This occurrence ran before and may have done part of its work."""
        return self.attempt > 0

    def nonce(self, key: str) -> str:
        return occurrence_nonce(self.job_id, self.run_at, key)


_current: ContextVar[JobRun | None] = ContextVar("peer_circles_job_run", default=None)


def current_run() -> JobRun | None:
    """The scheduled job occurrence this code runs in, or None (an interaction, a DM...)."""
    return _current.get()


def is_rerun() -> bool:
    run = _current.get()
    return run is not None and run.rerun


def job_nonce(key: str) -> str | None:
    """The occurrence nonce for ``key`` when running in a job, else None."""
    run = _current.get()
    return run.nonce(key) if run is not None else None


class SendLedger:
    """The ``scheduled_sends`` table and the exactly-once rule built on it."""

    def __init__(self, db: Database, clock: Clock, *, window: timedelta = NONCE_WINDOW) -> None:
        self.db = db
        self.clock = clock
        self.window = window

    def enter(self, job_id: str, run_at: datetime, attempt: int) -> Token[JobRun | None]:
        """Make this the current job occurrence (returns a token for :meth:`leave`)."""
        return _current.set(JobRun(job_id, run_at, attempt, self))

    @staticmethod
    def leave(token: Token[JobRun | None]) -> None:
        _current.reset(token)

    async def get(self, nonce: str) -> SendRecord | None:
        row = await self.db.fetchone("SELECT * FROM scheduled_sends WHERE nonce = ?", (nonce,))
        if row is None:
            return None
        return SendRecord(
            nonce=row["nonce"],
            status=row["status"],
            attempts=int(row["attempts"]),
            unsure_since=from_iso_or_none(row["unsure_since"]),
            last_error=row["last_error"],
            channel_id=row["channel_id"],
            message_id=row["message_id"],
        )

    async def send(self, run: JobRun, key: str, attempt: SendAttempt) -> Delivery:
        """Send one message of ``run`` at most once (see the module docstring).

        Raises :class:`RetryLater` for a passing failure, after recording it; re-raises anything
        else the attempt raised (Discord refused it), after recording that nothing was created.
        """
        nonce = run.nonce(key)
        record = await self.get(nonce)
        now = self.clock.now()
        if record is not None and record.status == "sent":
            return Delivery("sent_before", record.channel_id, record.message_id, nonce)
        if record is not None and record.status == "maybe_sent":
            return Delivery("maybe_sent", nonce=nonce)
        unsure_since = record.unsure_since if record is not None else None
        if unsure_since is not None and now - unsure_since > self.window:
            await self._set(nonce, "maybe_sent", now)
            log.warning(
                "scheduled send maybe sent job=%s nonce=%s: an earlier try may have reached Discord and its "
                "dedupe window has passed, so it is not sent again",
                run.job_id,
                nonce,
            )
            return Delivery("maybe_sent", nonce=nonce)
        # Before the try: if the process stops while it is in flight, the next run knows Discord
        # may have the message, and since when.
        await self.db.execute(
            "INSERT INTO scheduled_sends (nonce, job_id, run_at, status, attempts, unsure_since, first_try_at, "
            "updated_at) VALUES (?, ?, ?, 'sending', 1, ?, ?, ?) ON CONFLICT (nonce) DO UPDATE SET "
            "status = 'sending', attempts = scheduled_sends.attempts + 1, "
            "unsure_since = COALESCE(scheduled_sends.unsure_since, excluded.unsure_since), "
            "updated_at = excluded.updated_at",
            (nonce, run.job_id, to_iso(run.run_at), to_iso(now), to_iso(now), to_iso(now)),
        )
        try:
            channel_id, message_id = await attempt(nonce)
        except TransientSendError as exc:
            still_unsure = unsure_since if not exc.unsure else (unsure_since or now)
            await self._after_failure(nonce, "sending", still_unsure, exc.kind)
            log.info("scheduled send will be tried again job=%s nonce=%s error=%s", run.job_id, nonce, exc.kind)
            not_before = now + timedelta(seconds=exc.retry_after) if exc.retry_after else None
            raise RetryLater(exc.kind, not_before=not_before) from exc
        except Exception as exc:
            # Refused (e.g. DMs closed, unknown channel): nothing was created by this try.
            await self._after_failure(nonce, "failed", unsure_since, type(exc).__name__)
            raise
        await self.db.execute(
            "UPDATE scheduled_sends SET status = 'sent', channel_id = ?, message_id = ?, last_error = NULL, "
            "updated_at = ? WHERE nonce = ?",
            (channel_id, message_id, to_iso(self.clock.now()), nonce),
        )
        return Delivery("sent", channel_id, message_id, nonce)

    async def _set(self, nonce: str, status: str, now: datetime) -> None:
        await self.db.execute(
            "UPDATE scheduled_sends SET status = ?, updated_at = ? WHERE nonce = ?", (status, to_iso(now), nonce)
        )

    async def _after_failure(self, nonce: str, status: str, unsure_since: datetime | None, error: str) -> None:
        await self.db.execute(
            "UPDATE scheduled_sends SET status = ?, unsure_since = ?, last_error = ?, updated_at = ? WHERE nonce = ?",
            (status, to_iso(unsure_since) if unsure_since else None, error[:100], to_iso(self.clock.now()), nonce),
        )

    async def resend_by(self, job_id: str, run_at: datetime) -> datetime | None:
        """The last moment a message of this occurrence that may already be at Discord can still
        be sent again safely (the earliest unsure try plus the window); None if there is none."""
        row = await self.db.fetchone(
            "SELECT MIN(unsure_since) AS since FROM scheduled_sends "
            "WHERE job_id = ? AND run_at = ? AND status = 'sending' AND unsure_since IS NOT NULL",
            (job_id, to_iso(run_at)),
        )
        since = from_iso_or_none(row["since"]) if row is not None else None
        return since + self.window if since is not None else None

    async def settle(self, job_id: str, run_at: datetime) -> int:
        """The occurrence won't run again: record every message that may have reached Discord as
        ``maybe_sent``. Returns how many."""
        return await self.db.execute(
            "UPDATE scheduled_sends SET status = 'maybe_sent', updated_at = ? "
            "WHERE job_id = ? AND run_at = ? AND status = 'sending' AND unsure_since IS NOT NULL",
            (to_iso(self.clock.now()), job_id, to_iso(run_at)),
        )

    async def counts(self, job_id: str, run_at: datetime) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT status, COUNT(*) AS n FROM scheduled_sends WHERE job_id = ? AND run_at = ? GROUP BY status",
            (job_id, to_iso(run_at)),
        )
        return {str(r["status"]): int(r["n"]) for r in rows}

    async def records(self, job_id: str) -> list[SendRecord]:
        """Every message recorded for a job id (any occurrence), oldest first (for tests and checks)."""
        rows = await self.db.fetchall(
            "SELECT nonce FROM scheduled_sends WHERE job_id = ? ORDER BY first_try_at, nonce", (job_id,)
        )
        found = [await self.get(str(r["nonce"])) for r in rows]
        return [r for r in found if r is not None]

    async def forget_places(self, job_id: str, run_at: datetime) -> None:
        """The occurrence is over (it will never run again): drop where its messages went. A DM
        channel's id points to one person, and only a re-run needed it (to edit or report a
        message sent before); what was sent, and when, stays until the week is up."""
        await self.db.execute(
            "UPDATE scheduled_sends SET channel_id = NULL, message_id = NULL "
            "WHERE job_id = ? AND run_at = ? AND channel_id IS NOT NULL",
            (job_id, to_iso(run_at)),
        )

    async def purge(self, before: datetime) -> int:
        """Forget records not touched since ``before`` (their jobs are long settled)."""
        return await self.db.execute("DELETE FROM scheduled_sends WHERE updated_at < ?", (to_iso(before),))
