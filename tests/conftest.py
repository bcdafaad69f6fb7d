"""Shared fixtures: a sandbox Discord, the real bot connected to it, temporary databases."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings

from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.sandbox.actors import Sandbox
from bot.sandbox.harness import BotHarness
from bot.sandbox.models import walk_components
from bot.storage.database import Database
from bot.ui.cards import card_of
from tests.backends import NO_POSTGRES, TEST_DATABASE_URL, Place, fresh_database, postgres_schema

# Timing deadlines make property tests flaky on a loaded 2-core CI machine; speed is measured in
# benchmarks, never in tests.
settings.register_profile("peer-circles", deadline=None)
settings.load_profile("peer-circles")

SPEC_PATH = Path(__file__).parent / "discord_api_spec" / "openapi.json"


def pytest_report_header() -> str:
    return f"PostgreSQL: {TEST_DATABASE_URL.rsplit('@', 1)[-1]}" if TEST_DATABASE_URL else NO_POSTGRES


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def place(backend: str, tmp_path: Path) -> AsyncIterator[Place]:
    """A database location on the backend that a test can open, close and open again."""
    where = Place(backend, tmp_path)
    yield where
    await where.cleanup()


@pytest.fixture
async def db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    async with fresh_database(backend, tmp_path) as database:
        await database.migrate()
        yield database


PRESSABLE = {2, 3, 5, 6, 7, 8}  # buttons and selects: what sends an interaction


def emitted_custom_ids(box: Sandbox) -> Iterator[str]:
    """Every custom_id a person could press or submit: on the bot's messages (every version) and forms."""
    for message in box.all_messages():
        if message.author.id != box.server.bot_user.id:
            continue
        for components in [message.components, *(old.get("components") or [] for old in message.history)]:
            for comp in walk_components(components):
                if comp.get("type") in PRESSABLE and comp.get("custom_id"):
                    yield str(comp["custom_id"])
    for interaction in box.server.interactions.values():
        if interaction.modal and interaction.modal.get("custom_id"):
            yield str(interaction.modal["custom_id"])


@pytest.fixture
async def sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    box = await Sandbox.create(spec_path=SPEC_PATH)
    yield box
    await box.stop()
    assert box.invalid_requests == [], "The bot sent requests Discord's API description rejects"
    if not getattr(request.module, "FOREIGN_CARDS", False):
        # A press on a card that is no longer live is answered with the command that opens it again,
        # found from the custom_id's card name: every card the bot shows needs one (bot.ui.cards).
        unnamed = sorted({cid for cid in emitted_custom_ids(box) if card_of(cid) is None})
        assert unnamed == [], f"custom_ids without a registered card name (add them to bot.ui.cards.CARDS): {unnamed}"


@pytest.fixture
def clock() -> FakeClock:
    """The bot's clock for the ``timed`` fixtures. A module overrides it to start on its own date."""
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
async def bot_database_url() -> AsyncIterator[str | None]:
    """Where the end-to-end bot keeps its data: a SQLite file, or with E2E_ON_POSTGRES=1 (and
    TEST_DATABASE_URL) a PostgreSQL schema of its own, to run every flow on that backend."""
    if not (TEST_DATABASE_URL and os.environ.get("E2E_ON_POSTGRES")):
        yield None
        return
    async with postgres_schema() as url:
        yield url


@pytest.fixture
async def timed(
    sandbox: Sandbox, tmp_path: Path, clock: FakeClock, bot_database_url: str | None
) -> AsyncIterator[BotHarness]:
    """The bot on the test clock and without real timers: scheduled jobs run when a test moves the
    clock on. Built exactly as production builds it (``bot.client``'s setup_hook)."""
    runner = BotHarness(sandbox, tmp_path / "bot.db", clock=clock, use_timers=False, database_url=bot_database_url)
    yield runner
    await runner.stop()


@pytest.fixture
async def timed_bot(timed: BotHarness) -> PeerCirclesBot:
    started = await timed.start()
    assert isinstance(started, PeerCirclesBot)
    return started


@pytest.fixture
async def harness(sandbox: Sandbox, tmp_path: Path, bot_database_url: str | None) -> AsyncIterator[BotHarness]:
    runner = BotHarness(sandbox, tmp_path / "bot.db", database_url=bot_database_url)
    yield runner
    await runner.stop()


@pytest.fixture
async def bot(harness: BotHarness) -> PeerCirclesBot:
    started = await harness.start()
    assert isinstance(started, PeerCirclesBot)
    return started


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog
