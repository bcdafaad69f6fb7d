"""Test helpers for listener rotas and one-on-one support (not a test module)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from bot.app import Services
from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.sandbox.actors import Outcome, Person, Sandbox
from bot.sandbox.models import Message
from bot.services.access import Actor
from bot.services.outbox import OutboxService
from bot.services.rota.service import RotaService
from bot.services.support.service import SupportService
from bot.storage.database import Database
from bot.storage.listeners import Listener, ListenerRepository
from bot.storage.support import Conversation, SupportRepository


def services(bot: PeerCirclesBot) -> Services:
    return bot.services


async def setup_server(sandbox: Sandbox, *, auto_approve: bool = True, relay: str | None = None) -> Person:
    """An admin sets up the moderation channel, a listeners' channel and role, and support settings."""
    ana = sandbox.admin("ana")
    await ana.slash("setup", moderation_channel=sandbox.channel("moderation"), timezone="Europe/London")
    channel = await sandbox.add_channel("listeners")
    role = await sandbox.add_role("Listeners")
    options: dict[str, Any] = {"listener_role": role, "listeners_channel": channel, "auto_approve": auto_approve}
    if relay:
        options["relay"] = relay
    shown = await ana.slash("rota settings", **options)
    assert "Listener and support settings" in shown.text, shown.text
    return ana


async def become_listener(sandbox: Sandbox, name: str, **kwargs: Any) -> Person:
    person = sandbox.member(name, **kwargs)
    card = await person.slash("listener join")
    assert "Listener guidelines" in card.text, card.text
    await (await person.click(card, "I agree")).settled()
    return person


async def on_call(person: Person, hours: float = 4) -> Outcome:
    return await (await person.slash("listener available", hours=hours)).settled()


async def ask(person: Person, topic: str = "", *, named: bool = False, where: str | None = None) -> Outcome:
    opened = await person.slash("support ask", where=where) if where else await person.slash("support ask")
    assert opened.kind == "modal", opened.text
    values: dict[str, Any] = {"support:topic": topic, "support:appear": ["named" if named else "anonymous"]}
    answered = await person.submit_modal(opened, **values)
    return await answered.settled()


async def offer_to(person: Person, after: int = 0) -> Message:
    return await person.wait_for_dm("Someone", after=after)


async def accept(person: Person, after: int = 0) -> Message:
    offer = await offer_to(person, after)
    await (await person.click(offer, "Accept")).settled()
    return offer


async def deliver_all(bot: PeerCirclesBot, clock: FakeClock | None = None, rounds: int = 60) -> None:
    """Drive the outbox until nothing is pending (moving a fake clock past each backoff)."""
    outbox: OutboxService = services(bot).outbox
    for _ in range(rounds):
        await outbox.drain()
        pending = await services(bot).db.fetchone("SELECT COUNT(*) AS n FROM support_outbox WHERE status = 'pending'")
        if pending is None or pending["n"] == 0:
            return
        held = await services(bot).db.fetchone(
            "SELECT COUNT(*) AS n FROM support_outbox o JOIN support_conversations c ON c.id = o.conversation_id "
            "WHERE o.status = 'pending' AND c.status IN ('waiting', 'queued') AND o.stream = 'listener'"
        )
        if held is not None and held["n"] == pending["n"]:
            return  # only messages waiting for a listener to accept
        if clock is not None:
            clock.advance(timedelta(minutes=6))
    raise AssertionError("the outbox did not empty")


async def dm(bot: PeerCirclesBot, person: Person, text: str, **options: Any) -> Message:
    """The person writes to the bot by DM; returns once the bot has handled it (stored or answered)."""
    waiter = asyncio.ensure_future(
        bot.wait_for("support_dm_handled", check=lambda _message, user: user == person.id, timeout=5)
    )
    sent = await person.send_dm(text, **options)
    await waiter
    return sent


def relayed_texts(person: Person) -> list[str]:
    """The relayed messages this person received, in order (their DMs from the bot)."""
    return [m.text for m in person.dms]


def typed(services_: Services) -> tuple[RotaService, SupportService, OutboxService]:
    return services_.rota, services_.support, services_.outbox


# -- a world for service tests: real database, fake Discord ---------------------------------------


class FakeSupportPort:
    """The support service's view of Discord, recorded."""

    def __init__(self) -> None:
        self.told: list[tuple[int, str, dict[str, Any]]] = []
        self.offers: list[tuple[int, Any]] = []
        self.closed_offers: list[tuple[int, str]] = []
        self.alerts: list[Any] = []
        self.alert_updates: list[tuple[int, str]] = []
        self.threads: list[tuple[str, int]] = []
        self.thread_adds: list[tuple[int, int]] = []
        self.dms_closed: set[int] = set()
        self.mod_channel = True
        self.tell_raises = False
        self._ids = 100

    def _next(self) -> int:
        self._ids += 1
        return self._ids

    async def tell(self, user_id: int, notice: Any) -> bool:
        if self.tell_raises:
            raise RuntimeError("a Discord server error")
        if user_id in self.dms_closed:
            return False
        self.told.append((user_id, notice.code, notice.params))
        return True

    async def send_offer(self, listener_user_id: int, card: Any) -> tuple[int, int] | None:
        if listener_user_id in self.dms_closed:
            return None
        self.offers.append((listener_user_id, card))
        return listener_user_id, self._next()

    async def close_offer(self, channel_id: int, message_id: int, outcome: str) -> None:
        self.closed_offers.append((channel_id, outcome))

    async def alert_coordinators(self, alert: Any) -> tuple[int, int] | None:
        if not self.mod_channel:
            return None
        self.alerts.append(alert)
        return 1, self._next()

    async def update_alert(self, guild_id: int, channel_id: int, message_id: int, outcome: str) -> None:
        self.alert_updates.append((message_id, outcome))

    async def open_thread(self, conversation: Any, channel_id: int, listener_user_id: int) -> int | None:
        self.threads.append((conversation.public_id, listener_user_id))
        return 5000 + len(self.threads)

    async def add_to_thread(self, thread_id: int, user_id: int) -> None:
        self.thread_adds.append((thread_id, user_id))

    def offered_to(self) -> list[int]:
        return [uid for uid, _ in self.offers]


class FakeRotaPort:
    def __init__(self) -> None:
        self.listener_notices: list[tuple[int, Any]] = []
        self.coordinator_notices: list[tuple[int, Any]] = []
        self.board_refreshes = 0
        self.roles: list[tuple[int, int, bool]] = []
        self.dms_closed: set[int] = set()

    async def tell_listener(self, user_id: int, notice: Any) -> int | None:
        if user_id in self.dms_closed:
            return None
        self.listener_notices.append((user_id, notice))
        return len(self.listener_notices)

    async def tell_coordinators(self, guild_id: int, notice: Any) -> int | None:
        self.coordinator_notices.append((guild_id, notice))
        return len(self.coordinator_notices)

    async def refresh_board(self, guild_id: int) -> None:
        self.board_refreshes += 1

    async def set_listener_role(self, guild_id: int, user_id: int, role_id: int, give: bool) -> bool:
        self.roles.append((user_id, role_id, give))
        return True

    def kinds(self, user_id: int | None = None) -> list[str]:
        found = self.listener_notices if user_id is not None else self.coordinator_notices
        return [n.kind for uid, n in found if user_id is None or uid == user_id]


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, str, str, dict[str, Any]]] = []  # (target, stream, kind, payload)

    async def deliver(self, target: Any, message: Any, nonce: str) -> Any:
        from bot.services.outbox import Delivered

        self.sent.append((target, message.stream, message.kind, message.payload))
        return Delivered(target.id, 10_000 + len(self.sent))

    def to(self, user_id: int) -> list[dict[str, Any]]:
        return [payload for target, _, _, payload in self.sent if target.id == user_id]

    def codes(self, user_id: int) -> list[str]:
        return [str(p.get("code") or "relay") for p in self.to(user_id)]

    def texts(self, user_id: int) -> list[str]:
        return [str(p["text"]) for p in self.to(user_id) if "text" in p]


class World:
    """Every support service on a real database, with fake ports and a FakeClock."""

    GUILD = 1000
    COORDINATORS = 55

    def __init__(self, db: Database, start: datetime) -> None:
        from bot.crypto import Keyring
        from bot.scheduler import JobRepository, Scheduler
        from bot.services.access import AccessService
        from bot.services.member_time import MemberTimeService
        from bot.storage.guilds import GuildSettingsRepository
        from bot.storage.member_settings import MemberSettingsRepository

        self.db = db
        self.clock = FakeClock(start)
        self.keyring = Keyring(b"w" * 32)
        self.guilds = GuildSettingsRepository(db, "UTC")
        self.access = AccessService(self.guilds)
        self.scheduler = Scheduler(JobRepository(db), self.clock, use_timers=False)
        self.member_time = MemberTimeService(MemberSettingsRepository(db), self.guilds, self.clock)
        self.listeners = ListenerRepository(db)
        self.repo = SupportRepository(db, self.keyring.member_hash, self.clock)
        # Wired as bot/app.py wires them.
        self.rota = RotaService(
            self.listeners, self.guilds, self.access, self.scheduler, self.clock, active_counts=self.repo.active_counts
        )

        async def relay_failed(*args: Any) -> None:
            await self.support.delivery_failed(*args)

        self.outbox = OutboxService(self.repo, self.keyring, self.clock, on_failed=relay_failed)
        self.support = SupportService(
            self.repo,
            self.listeners,
            self.rota,
            self.outbox,
            self.keyring,
            self.guilds,
            self.member_time,
            self.access,
            self.scheduler,
            self.clock,
        )
        for kind, handler in {**self.rota.handlers(), **self.support.handlers()}.items():
            self.scheduler.register(kind, handler)
        self.port = FakeSupportPort()
        self.rota_port = FakeRotaPort()
        self.transport = RecordingTransport()
        self.support.attach(self.port)
        self.rota.attach(self.rota_port)
        self.outbox.attach(self.transport)

    @property
    def coordinator(self) -> Actor:
        return Actor.of(1, False, [self.COORDINATORS])

    async def setup(self, **settings: Any) -> None:
        await self.guilds.update(
            self.GUILD,
            self.clock.now(),
            mod_channel_id=9,
            coordinator_role_id=self.COORDINATORS,
            timezone="Europe/London",
        )
        await self.rota.update_settings(self.GUILD, self.coordinator, auto_approve=True, **settings)

    async def listener(self, user_id: int, *, on_call: bool = False, **limits: Any) -> Listener | None:
        await self.listeners.save_agreement(self.GUILD, user_id, "active", self.clock.now())
        if limits:
            await self.rota.set_limits(self.GUILD, user_id, **limits)
        if on_call:
            await self.rota.set_available(self.GUILD, user_id, 4)
        return await self.listeners.listener(self.GUILD, user_id)

    async def run_due(self) -> list[str]:
        fired = await self.scheduler.run_due()
        await self.outbox.drain()
        return fired

    async def conversation(self) -> Conversation:
        row = await self.db.fetchone("SELECT public_id FROM support_conversations ORDER BY id DESC LIMIT 1")
        assert row is not None
        found = await self.repo.by_public_id(row["public_id"])
        assert found is not None
        return found
