"""The relay outbox on a real database with a fake transport: encrypted before sending, in order per
stream, retried with backoff (FakeClock, no sleeping), never twice, resumed after a restart. Also the
encrypted-text primitives it rests on."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.clock import FakeClock
from bot.crypto import DecryptionError, Keyring
from bot.sends import SendLedger, occurrence_nonce
from bot.services.outbox import (
    Backoff,
    Delivered,
    OutboxService,
    Outgoing,
    PermanentDeliveryError,
    Target,
    TransientDeliveryError,
    outbox_key,
    row_context,
)
from bot.services.support.models import member_context
from bot.storage.database import Database, SqliteDatabase
from bot.storage.support import Conversation, OutboxRow, SupportRepository

KEY = b"k" * 32
START = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)
MEMBER, LISTENER = 4242, 7777


class FakeTransport:
    """Discord, as far as the outbox can tell: ids, enforce_nonce, and scripted failures."""

    def __init__(self) -> None:
        self.sent: list[tuple[Target, str, str]] = []  # (target, stream, text) per created message
        self.by_nonce: dict[str, int] = {}
        self.fail: list[Exception | None] = []  # consumed one per call (None: succeed)
        self.lose_response: set[str] = set()  # texts whose first success comes back as a 5xx
        self.calls = 0
        self.delivered = asyncio.Event()

    async def deliver(self, target: Target, message: Outgoing, nonce: str) -> Delivered:
        self.calls += 1
        planned = self.fail.pop(0) if self.fail else None
        if planned is not None:
            raise planned
        text = str(message.payload.get("text") or message.payload.get("code"))
        if nonce not in self.by_nonce:  # enforce_nonce: a resend returns the message already made
            self.by_nonce[nonce] = 1000 + len(self.by_nonce)
            self.sent.append((target, message.stream, text))
            if text in self.lose_response:
                self.lose_response.discard(text)
                raise TransientDeliveryError("http-503")
        self.delivered.set()
        return Delivered(target.id, self.by_nonce[nonce])

    def texts(self, stream: str) -> list[str]:
        return [text for _, s, text in self.sent if s == stream]


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(KEY)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def repo(db: Database, keyring: Keyring, clock: FakeClock) -> SupportRepository:
    return SupportRepository(db, keyring.member_hash, clock)


def make_outbox(repo: SupportRepository, keyring: Keyring, clock: FakeClock, transport: FakeTransport) -> OutboxService:
    outbox = OutboxService(repo, keyring, clock, rng=random.Random(7))
    outbox.attach(transport)
    return outbox


async def conversation(
    repo: SupportRepository, keyring: Keyring, clock: FakeClock, *, status: str = "active"
) -> Conversation:
    public_id = "0123456789abcdef"
    return await repo.insert(
        {
            "public_id": public_id,
            "guild_id": 1,
            "member_user_hash": keyring.member_hash(1, MEMBER),
            "member_user_enc": keyring.encrypt_id(MEMBER, member_context(public_id)),
            "member_tag": "K7Q2",
            "listener_user_id": LISTENER if status == "active" else None,
            "listener_tag": "7Q2X" if status == "active" else None,
            "status": status,
            "created_at": clock.now(),
            "last_activity_at": clock.now(),
        }
    )


async def relay(outbox: OutboxService, conv: Conversation, stream: str, text: str) -> OutboxRow:
    return await outbox.enqueue(conv, stream, "relay", {"label": "x", "text": text})


# -- encrypted text ---------------------------------------------------------------------------


@given(st.text(max_size=300), st.text(max_size=40))
def test_encrypted_text_round_trips_with_fresh_nonces(text: str, context: str) -> None:
    ring = Keyring(KEY)
    a, b = ring.encrypt_text(text, context), ring.encrypt_text(text, context)
    assert a != b
    assert ring.decrypt_text(a, context) == text == ring.decrypt_text(b, context)


def test_encrypted_text_is_bound_to_key_context_and_purpose() -> None:
    ring = Keyring(KEY)
    blob = ring.encrypt_text("meet me at 3", "outbox:abc:1")
    assert b"meet me" not in blob
    with pytest.raises(DecryptionError):
        Keyring(b"o" * 32).decrypt_text(blob, "outbox:abc:1")
    with pytest.raises(DecryptionError):
        ring.decrypt_text(blob, "outbox:abc:2")
    with pytest.raises(DecryptionError):
        ring.decrypt_text(blob[:-1] + bytes([blob[-1] ^ 1]), "outbox:abc:1")
    with pytest.raises(DecryptionError):
        ring.decrypt_id(blob, "outbox:abc:1")  # a text key is not an id key
    with pytest.raises(DecryptionError):
        ring.decrypt_text(ring.encrypt_id(42, "ctx"), "ctx")


# -- the outbox -------------------------------------------------------------------------------


async def test_rows_are_encrypted_before_sending_and_forgotten_after(
    repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    transport = FakeTransport()
    outbox = make_outbox(repo, keyring, clock, transport)
    conv = await conversation(repo, keyring, clock)
    row = await relay(outbox, conv, "listener", "I haven't slept in days")
    assert row.ciphertext is not None and b"slept" not in row.ciphertext
    assert "slept" in keyring.decrypt_text(row.ciphertext, row_context(conv, row.nonce))
    report = await outbox.drain()
    assert report.delivered == 1 and transport.texts("listener") == ["I haven't slept in days"]
    (stored,) = await repo.outbox_rows(conv.id)
    assert stored.status == "delivered" and stored.ciphertext is None and stored.discord_message_id == 1000
    assert transport.sent[0][0] == Target("user", LISTENER)


async def test_a_transient_failure_backs_off_without_reordering(
    repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    transport = FakeTransport()
    outbox = make_outbox(repo, keyring, clock, transport)
    conv = await conversation(repo, keyring, clock)
    for text in ("one", "two", "three"):
        await relay(outbox, conv, "member", text)
    transport.fail = [TransientDeliveryError("http-503")]
    report = await outbox.drain()
    assert report.delivered == 0 and report.retrying == 1 and transport.sent == []
    assert report.next_due is not None and timedelta(seconds=0.5) <= report.next_due - clock.now() <= timedelta(
        seconds=1
    )
    again = await outbox.drain()
    assert again.delivered == 0 and transport.calls == 1, "not due yet: nothing is tried"
    clock.advance(timedelta(seconds=1))
    await outbox.drain()
    assert transport.texts("member") == ["one", "two", "three"]
    rows = await repo.outbox_rows(conv.id)
    assert [r.attempts for r in rows] == [2, 1, 1] and rows[0].last_error == "http-503"


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    backoff = Backoff(base=1, cap=300)
    rng = random.Random(3)
    for attempts in range(12):
        delay = backoff.delay(attempts, rng).total_seconds()
        ceiling = min(300, 2**attempts)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.delay(50, rng) <= timedelta(seconds=300)


async def test_a_permanent_failure_is_given_up_told_and_does_not_block(
    repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    transport = FakeTransport()
    outbox = make_outbox(repo, keyring, clock, transport)
    told: list[tuple[str, str]] = []

    async def hook(conv: Conversation, row: OutboxRow, kind: str) -> None:
        told.append((row.stream, kind))

    outbox.on_failed = hook
    conv = await conversation(repo, keyring, clock)
    await relay(outbox, conv, "member", "lost")
    await relay(outbox, conv, "member", "next")
    transport.fail = [PermanentDeliveryError("http-403-50007")]
    await outbox.drain()
    rows = await repo.outbox_rows(conv.id)
    assert [(r.status, r.ciphertext) for r in rows] == [("failed", None), ("delivered", None)]
    assert told == [("member", "http-403-50007")] and transport.texts("member") == ["next"]


async def test_a_lost_response_is_not_delivered_twice(
    repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    transport = FakeTransport()
    transport.lose_response = {"only once"}
    outbox = make_outbox(repo, keyring, clock, transport)
    conv = await conversation(repo, keyring, clock)
    await relay(outbox, conv, "listener", "only once")
    await relay(outbox, conv, "listener", "after")
    await outbox.drain()
    assert transport.texts("listener") == ["only once"], "created, but the outbox heard a 503"
    clock.advance(timedelta(minutes=1))
    await outbox.drain()
    assert transport.texts("listener") == ["only once", "after"], "the retry reused the nonce"
    rows = await repo.outbox_rows(conv.id)
    assert [r.discord_message_id for r in rows] == [1000, 1001]


async def test_a_restart_resumes_pending_rows_before_new_ones(
    db: Database, repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    transport = FakeTransport()
    first = make_outbox(repo, keyring, clock, transport)
    conv = await conversation(repo, keyring, clock)
    await relay(first, conv, "listener", "a")
    await relay(first, conv, "listener", "b")
    transport.fail = [TransientDeliveryError("network")]
    await first.drain()
    assert transport.sent == []
    # A new process: new repository and outbox on the same database.
    again = make_outbox(SupportRepository(db, keyring.member_hash, clock), keyring, clock, transport)
    await relay(again, conv, "listener", "c")
    clock.advance(timedelta(minutes=10))
    await again.drain()
    assert transport.texts("listener") == ["a", "b", "c"]


async def test_streams_are_independent_and_a_waiting_request_holds_its_messages(
    repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    transport = FakeTransport()
    outbox = make_outbox(repo, keyring, clock, transport)
    conv = await conversation(repo, keyring, clock, status="waiting")
    await relay(outbox, conv, "listener", "before anyone joined")
    await outbox.enqueue(conv, "member", "notice", {"code": "escalated_all", "params": {}})
    report = await outbox.drain()
    assert report.held == 1 and transport.texts("member") == ["escalated_all"] and transport.texts("listener") == []
    assert await repo.accept(conv.id, LISTENER, "7Q2X", None, clock.now(), 1)
    await outbox.drain()
    assert transport.texts("listener") == ["before anyone joined"]


async def test_a_closed_conversation_forgets_the_member_once_everything_is_delivered(
    repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    transport = FakeTransport()
    outbox = make_outbox(repo, keyring, clock, transport)
    conv = await conversation(repo, keyring, clock)
    await outbox.enqueue(conv, "member", "notice", {"code": "feedback", "params": {}})
    await repo.close(conv.id, "listener", clock.now())
    still = await repo.get(conv.id)
    assert still is not None and still.member_user_enc is not None, "still needed to deliver the notice"
    await outbox.drain()
    done = await repo.get(conv.id)
    assert done is not None and done.member_user_enc is None and transport.texts("member") == ["feedback"]


async def test_the_worker_delivers_when_woken(repo: SupportRepository, keyring: Keyring, clock: FakeClock) -> None:
    transport = FakeTransport()
    outbox = make_outbox(repo, keyring, clock, transport)
    outbox.start()
    try:
        conv = await conversation(repo, keyring, clock)
        await relay(outbox, conv, "listener", "wake up")
        outbox.wake()
        await asyncio.wait_for(transport.delivered.wait(), 5)
        assert transport.texts("listener") == ["wake up"]
    finally:
        await outbox.stop()


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from(["member", "listener"]), min_size=1, max_size=12),
    st.lists(st.sampled_from(["ok", "ok", "transient", "lost"]), max_size=40),
    st.integers(min_value=0, max_value=11),
)
def test_any_pattern_of_faults_and_a_restart_delivers_exactly_once_in_order(
    streams: list[str], faults: list[str], restart_after: int
) -> None:
    async def scenario() -> None:
        db = SqliteDatabase(Path(":memory:"))
        await db.open()
        await db.migrate()
        try:
            keyring, clock = Keyring(KEY), FakeClock(START)
            transport = FakeTransport()
            transport.fail = [TransientDeliveryError("http-503") if f == "transient" else None for f in faults]
            outbox = make_outbox(SupportRepository(db, keyring.member_hash, clock), keyring, clock, transport)
            conv = await conversation(outbox.repo, keyring, clock)
            expected: dict[str, list[str]] = {"member": [], "listener": []}
            for index, stream in enumerate(streams):
                text = f"{stream}-{index}"
                expected[stream].append(text)
                if faults and faults[index % len(faults)] == "lost":
                    transport.lose_response.add(text)
                await relay(outbox, conv, stream, text)
                if index == restart_after:
                    outbox = make_outbox(SupportRepository(db, keyring.member_hash, clock), keyring, clock, transport)
                await outbox.drain()
            for _ in range(len(faults) + len(streams) + 2):
                clock.advance(timedelta(minutes=10))
                await outbox.drain()
            assert transport.texts("member") == expected["member"]
            assert transport.texts("listener") == expected["listener"]
        finally:
            await db.close()

    asyncio.run(scenario())


class GatedTransport(FakeTransport):
    """Deliveries to one stream wait at a gate (as discord.py waits out a channel's rate limit)."""

    def __init__(self, gated_stream: str) -> None:
        super().__init__()
        self.gated_stream = gated_stream
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()
        self.other = asyncio.Event()

    async def deliver(self, target: Target, message: Outgoing, nonce: str) -> Delivered:
        if message.stream == self.gated_stream:
            self.waiting.set()
            await self.gate.wait()
        else:
            self.other.set()
        return await super().deliver(target, message, nonce)


async def test_a_stream_waiting_out_a_limit_does_not_hold_up_another(
    repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    transport = GatedTransport("listener")
    outbox = make_outbox(repo, keyring, clock, transport)
    outbox.start()
    try:
        conv = await conversation(repo, keyring, clock)
        await relay(outbox, conv, "listener", "first, held at the gate")
        outbox.wake(rescan=False)
        await asyncio.wait_for(transport.waiting.wait(), 5)
        await relay(outbox, conv, "listener", "second, behind the first")
        await relay(outbox, conv, "member", "the other way")
        outbox.wake(rescan=False)
        await asyncio.wait_for(transport.other.wait(), 5)  # delivered while the listener stream waits
        assert transport.texts("member") == ["the other way"] and transport.texts("listener") == []
        transport.gate.set()
        await asyncio.wait_for(_until(transport, lambda: len(transport.texts("listener")) == 2), 5)
        assert transport.texts("listener") == ["first, held at the gate", "second, behind the first"]
        pending = await repo.pending_rows()
        assert pending == []
    finally:
        await outbox.stop()


async def test_a_full_drain_and_the_worker_never_send_a_row_twice(
    repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    transport = FakeTransport()
    outbox = make_outbox(repo, keyring, clock, transport)
    conv = await conversation(repo, keyring, clock)
    for k in range(20):
        await relay(outbox, conv, "listener" if k % 2 else "member", f"m{k}")
    outbox.start()
    try:
        outbox.wake()
        await asyncio.gather(outbox.drain(), outbox.drain())
        await asyncio.wait_for(_until(transport, lambda: len(transport.sent) == 20), 5)
        assert transport.calls == 20
        assert transport.texts("member") == [f"m{k}" for k in range(0, 20, 2)]
        assert transport.texts("listener") == [f"m{k}" for k in range(1, 20, 2)]
    finally:
        await outbox.stop()


async def _until(transport: FakeTransport, predicate: Any) -> None:
    """Wait, delivery by delivery, until predicate() holds."""
    while True:
        transport.delivered.clear()
        if predicate():
            return
        await transport.delivered.wait()


def test_nonces_are_unique_across_rows_and_processes_and_fit_discords_limit(
    repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    first = make_outbox(repo, keyring, clock, FakeTransport())
    second = make_outbox(repo, keyring, clock, FakeTransport())  # another process after a restart
    nonces = [first._next_nonce() for _ in range(1000)] + [second._next_nonce() for _ in range(1000)]
    assert len(set(nonces)) == len(nonces)
    assert all(len(n) <= 25 for n in nonces), "Discord refuses a nonce longer than 25 characters"


async def test_a_row_a_scheduled_job_queues_takes_the_occurrence_nonce_and_is_queued_once(
    db: Database, repo: SupportRepository, keyring: Keyring, clock: FakeClock
) -> None:
    transport = FakeTransport()
    outbox = make_outbox(repo, keyring, clock, transport)
    conv = await conversation(repo, keyring, clock)
    ledger = SendLedger(db, clock)
    token = ledger.enter("support:0123456789abcdef:idle", START, 1)  # the job, running again
    try:
        first = await outbox.enqueue(conv, "member", "notice", {"code": "idle_closed"})
        again = await outbox.enqueue(conv, "member", "notice", {"code": "idle_closed"})
        other = await outbox.enqueue(conv, "member", "notice", {"code": "feedback"})
    finally:
        ledger.leave(token)
    assert again.id == first.id and other.id != first.id, "the same notice of the same job: one row"
    key = outbox_key(conv, "member", "notice", {"code": "idle_closed"})
    assert first.nonce == occurrence_nonce("support:0123456789abcdef:idle", START, key)
    plain = await relay(outbox, conv, "member", "outside any job")
    assert len(plain.nonce) == 20 and int(plain.nonce, 16) >= 0, "the relay's own nonces, as before"
    await outbox.drain()
    assert transport.texts("member") == ["idle_closed", "feedback", "outside any job"]
    assert transport.calls == 3
