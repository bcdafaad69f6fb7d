"""The persistent relay outbox: every message of a support conversation is stored (encrypted)
before it is sent, and marked delivered, with Discord's message id, once Discord accepted it.

Guarantees
    * **In order.** Each conversation has two streams (to the member; to the listener, in their
      DM or the private thread), numbered by ``seq``. A stream's next message is never sent before
      the previous one was delivered (or failed for good), so a retry can't reorder anything.
    * **Never lost.** A row is written before any send is tried. At start, and whenever woken,
      :meth:`OutboxService.drain` sends every due row, oldest first in each stream: a restart
      resumes exactly where the last process stopped, before anything newer.
    * **Never twice.** A row is marked delivered in the same step the bot learns Discord accepted
      it. The one window left (the process dies after Discord accepted but before the mark) is
      closed by Discord's ``enforce_nonce``: every row has its own nonce, and a resend with the
      same nonce within a few minutes returns the message already created instead of a new one.
      A row a scheduled job queues (an escalation notice, the notices when an idle conversation
      closes) takes its nonce from the job occurrence (:func:`bot.sends.job_nonce`), so the job
      running again after a retry or a restart finds its row instead of queuing a second one.
    * **Retried with backoff** on 429 (when discord.py gives up), 5xx and network errors:
      exponential, with jitter, capped (:class:`Backoff`). Permanent failures (the member closed
      their DMs, the thread is gone) mark the row failed and tell the other side once.
    * **Confidential.** The text is AES-GCM ciphertext bound to the conversation and row, and is
      dropped (set to NULL) as soon as the row is delivered, failed or dropped. Logs carry row ids,
      stream names and error kinds only.

Time comes from the injected clock, so tests drive retries with a FakeClock and ``drain()``
instead of sleeping. The worker task (:meth:`run`) only waits for :meth:`wake` or the next due time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock
from bot.concurrency import KeyedLock
from bot.crypto import DecryptionError, Keyring
from bot.sends import job_nonce
from bot.shards import ShardPlan
from bot.storage.coordination import OUTBOX_CHANNEL, Coordination, LocalCoordination
from bot.storage.support import Conversation, OutboxRow, SupportRepository

log = logging.getLogger(__name__)

SHARED_RESCAN_SECONDS = 30.0


class DeliveryError(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class TransientDeliveryError(DeliveryError):
    """Try again later (429 that discord.py gave up on, 5xx, a network error)."""


class PermanentDeliveryError(DeliveryError):
    """It will never work (DMs closed, unknown channel): give up on this row."""


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # "user" (a DM) or "channel" (the private thread)
    id: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to render and send. ``payload`` is the decrypted JSON of the row."""

    conversation: Conversation
    stream: str
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivered:
    channel_id: int
    message_id: int


class Transport(Protocol):
    async def deliver(self, target: Target, message: Outgoing, nonce: str) -> Delivered: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 1.0
    cap: float = 300.0
    factor: float = 2.0

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Full-jitter exponential backoff: between half and all of min(cap, base·factor^attempts)."""
        ceiling = min(self.cap, self.base * self.factor ** max(0, attempts))
        roll = (rng or random).uniform(0.5, 1.0)
        return timedelta(seconds=ceiling * roll)


FailureHook = Callable[[Conversation, OutboxRow, str], Awaitable[None]]


@dataclass(slots=True)
class DrainReport:
    delivered: int = 0
    failed: int = 0
    retrying: int = 0
    held: int = 0
    next_due: datetime | None = None
    errors: list[str] = field(default_factory=list)

    def merge(self, other: DrainReport) -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.retrying += other.retrying
        self.held += other.held
        self.errors.extend(other.errors)
        if other.next_due is not None and (self.next_due is None or other.next_due < self.next_due):
            self.next_due = other.next_due


def row_context(conversation: Conversation, nonce: str) -> str:
    return f"outbox:{conversation.public_id}:{nonce}"


def outbox_key(conversation: Conversation, stream: str, kind: str, payload: dict[str, Any]) -> str:
    """What a row is, within one scheduled job occurrence (the key of its occurrence nonce): a
    notice by its code, relayed text by a digest of it."""
    what = (
        str(payload.get("code"))
        if kind == "notice"
        else hashlib.sha256(str(payload.get("text")).encode()).hexdigest()[:16]
    )
    return f"outbox:{conversation.public_id}:{stream}:{kind}:{what}"


class OutboxService:
    def __init__(
        self,
        repo: SupportRepository,
        keyring: Keyring,
        clock: Clock,
        *,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        on_failed: FailureHook | None = None,
        shards: ShardPlan | None = None,
        coordination: Coordination | None = None,
    ) -> None:
        self.repo = repo
        # Several processes: this one sends the streams of the conversations whose server it owns;
        # a row it queues for another process's conversation wakes that process (LISTEN/NOTIFY).
        self.shards = shards or ShardPlan()
        self.coordination = coordination or LocalCoordination(self.shards)
        self.keyring = keyring
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()
        self.transport: Transport | None = None
        # What to do when a message can't be delivered for good (the support service, at wiring).
        self.on_failed = on_failed
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._rescan = True
        self._nonce_prefix = secrets.token_hex(6)
        self._nonce_count = 0
        self._dirty: set[tuple[int, str]] = set()
        self._again: set[tuple[int, str]] = set()
        self._workers: dict[tuple[int, str], asyncio.Task[None]] = {}
        self._next_due: datetime | None = None
        self._streams: KeyedLock[tuple[int, str]] = KeyedLock()
        self._listening = False

    def _next_nonce(self) -> str:
        """Unique per row (20 characters; Discord allows 25): a random prefix per process and a
        counter. One os.urandom call per relayed line showed up in the relay profile."""
        self._nonce_count += 1
        return f"{self._nonce_prefix}{self._nonce_count:08x}"

    def attach(self, transport: Transport) -> None:
        self.transport = transport

    # -- writing ------------------------------------------------------------------------

    async def enqueue(self, conversation: Conversation, stream: str, kind: str, payload: dict[str, Any]) -> OutboxRow:
        """Store one message for a stream, encrypted, next in order. Call :meth:`wake` after."""
        if stream not in ("member", "listener") or kind not in ("relay", "notice"):
            raise ValueError(f"unknown stream or kind: {stream}/{kind}")
        nonce = job_nonce(outbox_key(conversation, stream, kind, payload))
        if nonce is not None:  # queued by a scheduled job: once per occurrence
            queued = await self.repo.outbox_row_by_nonce(nonce)
            if queued is not None:
                return queued
        nonce = nonce or self._next_nonce()
        blob = self.keyring.encrypt_text(json.dumps(payload, default=str), row_context(conversation, nonce))
        row = await self.repo.enqueue(conversation.id, stream, kind, blob, self.clock.now(), nonce=nonce)
        if self.shards.owns(conversation.guild_id):
            self._dirty.add((conversation.id, stream))
        else:  # e.g. a member's DM, which Discord delivers on shard 0, for a server on another shard
            await self.coordination.notify(OUTBOX_CHANNEL, f"{conversation.id}:{stream}")
        log.info(
            "outbox queued conversation=%s stream=%s seq=%s kind=%s", conversation.public_id, stream, row.seq, kind
        )
        return row

    def wake(self, *, rescan: bool = True) -> None:
        """Have the worker send what is due. ``rescan=False``: only the streams just enqueued to
        (the relay's hot path); the default also looks at every stream with pending rows (after
        something else changed, e.g. a listener accepted and held rows can now go)."""
        if rescan:
            self._rescan = True
        self._wake.set()

    # -- sending ------------------------------------------------------------------------

    def _target(self, conversation: Conversation, stream: str) -> Target | None:
        """Who a stream reaches right now (None: not yet, e.g. no listener has accepted)."""
        if stream == "member":
            if conversation.member_user_enc is None:
                return None
            try:
                member = self.keyring.decrypt_id(
                    conversation.member_user_enc, f"support:{conversation.public_id}:member"
                )
            except DecryptionError:
                log.warning("outbox could not decrypt a recipient conversation=%s", conversation.public_id)
                return None
            return Target("user", member)
        if conversation.relay_mode == "thread" and conversation.thread_id is not None:
            return Target("channel", conversation.thread_id)
        if conversation.listener_user_id is None or conversation.status in ("waiting", "queued"):
            return None
        return Target("user", conversation.listener_user_id)

    async def drain(self) -> DrainReport:
        """Send every due row, in order per stream. Returns when nothing more is due now."""
        async with self._lock:
            report = DrainReport()
            if self.transport is None:
                return report  # nothing can be sent yet; the rows wait
            keys = await self.repo.pending_streams(self.shards)
            results = await asyncio.gather(*(self._drain_key(key) for key in keys))
            for stream_report in results:
                report.merge(stream_report)
            return report

    async def _drain_key(self, key: tuple[int, str]) -> DrainReport:
        """Send one stream's due rows in order. One sender per stream at a time (a lock per stream),
        so the worker's per-stream tasks and a full :meth:`drain` never send a row twice."""
        if self.transport is None:
            return DrainReport()
        async with self._streams.hold(key):
            rows = await self.repo.pending_rows_for(*key)
            report = await self._drain_stream(key, rows) if rows else DrainReport()
        await self.repo.forget_member_if_done(key[0])
        return report

    async def _drain_stream(self, key: tuple[int, str], rows: list[OutboxRow]) -> DrainReport:
        report = DrainReport()
        conversation_id, stream = key
        for row in rows:
            now = self.clock.now()
            if row.next_attempt_at > now:
                report.next_due = row.next_attempt_at
                return report
            conversation = await self.repo.get(conversation_id)
            if conversation is None or not self.shards.owns(conversation.guild_id):
                return report  # gone, or another process's to send
            target = self._target(conversation, stream)
            if target is None:
                report.held += 1
                return report
            outcome = await self._send(conversation, row, target)
            if outcome == "delivered":
                report.delivered += 1
            elif outcome == "failed":
                report.failed += 1
            else:
                report.retrying += 1
                report.errors.append(outcome)
                fresh = await self.repo.get_outbox_row(row.id)
                report.next_due = fresh.next_attempt_at if fresh else None
                return report  # keep the order: nothing after this row goes first
        return report

    async def _send(self, conversation: Conversation, row: OutboxRow, target: Target) -> str:
        if self.transport is None or row.ciphertext is None:
            await self.repo.mark_failed(row.id, "no-ciphertext")
            return "failed"
        try:
            payload = json.loads(self.keyring.decrypt_text(row.ciphertext, row_context(conversation, row.nonce)))
        except (DecryptionError, ValueError):
            log.error("outbox row unreadable row=%s", row.id)
            await self.repo.mark_failed(row.id, "unreadable")
            return "failed"
        message = Outgoing(conversation, row.stream, row.kind, payload)
        try:
            delivered = await self.transport.deliver(target, message, row.nonce)
        except PermanentDeliveryError as exc:
            await self.repo.mark_failed(row.id, exc.kind)
            log.warning("outbox delivery failed row=%s stream=%s error=%s", row.id, row.stream, exc.kind)
            if self.on_failed is not None:
                await self.on_failed(conversation, row, exc.kind)
            return "failed"
        except TransientDeliveryError as exc:
            return await self._later(row, exc.kind)
        except Exception as exc:  # anything unexpected: keep the row, try again later
            log.exception("outbox delivery raised row=%s", row.id)
            return await self._later(row, type(exc).__name__)
        await self.repo.mark_delivered(row.id, delivered.channel_id, delivered.message_id, self.clock.now())
        log.info("outbox delivered row=%s stream=%s seq=%s", row.id, row.stream, row.seq)
        return "delivered"

    async def _later(self, row: OutboxRow, kind: str) -> str:
        when = self.clock.now() + self.backoff.delay(row.attempts, self.rng)
        await self.repo.retry_later(row.id, when, kind)
        log.info("outbox will retry row=%s attempts=%s error=%s", row.id, row.attempts + 1, kind)
        return kind

    # -- the worker ---------------------------------------------------------------------

    async def run(self, ready: Callable[[], Awaitable[Any]] | None = None) -> None:
        """Deliver forever. Each stream with work gets its own task, so one conversation waiting
        out Discord's per-channel limit (or a retry) never holds up another; the loop itself only
        waits for :meth:`wake` or the next retry time, then hands streams to their tasks."""
        if ready is not None:
            await ready()
        self._rescan = True
        while True:
            if self._rescan:
                self._rescan = False
                try:
                    self._dirty.update(await self.repo.pending_streams(self.shards))
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database closing at shutdown, or a bug: don't spin
                    log.exception("outbox scan failed")
                    self._due(self.clock.now() + timedelta(seconds=5))
            dirty, self._dirty = self._dirty, set()
            for key in dirty:
                self._spawn(key)
            timeout: float | None = None
            if self._next_due is not None:
                timeout = max(0.05, (self._next_due - self.clock.now()).total_seconds())
            if self.coordination.shared:
                # A row another process queued for this one and whose notification was lost waits
                # at most this long (the next scan finds it).
                timeout = min(timeout or SHARED_RESCAN_SECONDS, SHARED_RESCAN_SECONDS)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                self._next_due = None
                self._rescan = True  # a retry is due: look at every stream again
            self._wake.clear()

    def _spawn(self, key: tuple[int, str]) -> None:
        if key in self._workers:
            self._again.add(key)  # its task is running: it looks once more before it ends
            return
        self._workers[key] = asyncio.create_task(self._stream_worker(key), name="support outbox stream")

    async def _stream_worker(self, key: tuple[int, str]) -> None:
        try:
            while True:
                self._again.discard(key)
                report = await self._drain_key(key)
                if report.next_due is not None:
                    self._due(report.next_due)
                if key not in self._again:
                    break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox stream failed")
            self._due(self.clock.now() + timedelta(seconds=5))
        finally:
            # No await between the last check of _again and this: a wake that came in while the
            # task ran either set _again (seen above) or finds no task and starts a new one.
            self._workers.pop(key, None)

    def _due(self, when: datetime) -> None:
        if self._next_due is None or when < self._next_due:
            self._next_due = when
            self._wake.set()

    def _notified(self, payload: str) -> None:
        """Another process queued a row in one of this process's streams."""
        conversation_id, _, stream = payload.partition(":")
        if conversation_id.isdigit() and stream in ("member", "listener"):
            self._dirty.add((int(conversation_id), stream))
            self.wake(rescan=False)

    def start(self, ready: Callable[[], Awaitable[Any]] | None = None) -> None:
        if self.coordination.shared and not self._listening:
            self._listening = True
            self.coordination.listen(OUTBOX_CHANNEL, self._notified)
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._lock = asyncio.Lock()
            self._task = asyncio.create_task(self.run(ready), name="support outbox")

    async def stop(self) -> None:
        task, self._task = self._task, None
        tasks = [t for t in (task, *self._workers.values()) if t is not None]
        self._workers.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
