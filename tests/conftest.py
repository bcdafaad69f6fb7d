"""Shared fixtures: a sandbox Discord, the real bot connected to it, temporary databases."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Sandbox
from bot.sandbox.harness import BotHarness
from bot.storage.database import Database

# Timing deadlines make property tests flaky on a loaded 2-core CI machine; speed is measured in
# benchmarks, never in tests.
settings.register_profile("peer-circles", deadline=None)
settings.load_profile("peer-circles")

SPEC_PATH = Path(__file__).parent / "discord_api_spec" / "openapi.json"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "test.db")
    await database.open()
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    box = await Sandbox.create(spec_path=SPEC_PATH)
    yield box
    await box.stop()
    assert box.invalid_requests == [], "The bot sent requests Discord's API description rejects"


@pytest.fixture
async def harness(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[BotHarness]:
    runner = BotHarness(sandbox, tmp_path / "bot.db")
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
