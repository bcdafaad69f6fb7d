"""/privacy end to end: the private card, export by DM (or here when DMs are closed), delete with
a confirmation, and recording when the bot is removed from a server."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest

from bot.client import PeerCirclesBot
from bot.privacy import ExportRows
from bot.sandbox.actors import Person, Sandbox
from bot.sandbox.models import DM
from bot.sandbox.server import SandboxError
from bot.services.maintenance import MaintenanceService


class JournalSource:
    """A test-only personal-data source holding a few journal lines per person."""

    name = "e2e-journal"
    tables: tuple[str, ...] = ("e2e_journal",)
    summary = "Your journal lines: kept 30 days."

    def __init__(self) -> None:
        self.lines: dict[tuple[int, int], list[str]] = {}

    async def export_user(self, guild_id: int, user_id: int) -> ExportRows:
        return {"e2e_journal": [{"line": line} for line in self.lines.get((guild_id, user_id), [])]}

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        return len(self.lines.pop((guild_id, user_id), []))

    async def delete_user_in_circle(self, guild_id: int, circle_id: int, user_id: int) -> int:
        return 0

    async def purge_expired(self, now: datetime) -> int:
        return 0

    async def delete_guild(self, guild_id: int) -> int:
        return 0


@pytest.fixture
async def privacy_bot(bot: PeerCirclesBot) -> PeerCirclesBot:
    assert bot.get_cog("PrivacyCog") is not None
    return bot


@pytest.fixture
def journal(privacy_bot: PeerCirclesBot) -> JournalSource:
    source = JournalSource()
    privacy_bot.services.privacy.register(source)
    return source


def assert_nothing_public(sandbox: Sandbox) -> None:
    assert sandbox.channel("general").messages == []
    assert sandbox.channel("moderation").messages == []
    assert "exported_at" not in sandbox.public_text()


def assert_exports_stay_private(sandbox: Sandbox, person: Person) -> None:
    """Every file the bot sent went to this person's DMs or an ephemeral reply only they see."""
    for message in sandbox.all_messages():
        if not message.attachments:
            continue
        channel = sandbox.server.channels[message.channel_id]
        in_their_dm = channel.type == DM and channel.recipients[0].id == person.id
        assert in_their_dm or message.ephemeral_to == person.id


async def test_privacy_shows_a_private_card_with_export_and_delete(
    sandbox: Sandbox, privacy_bot: PeerCirclesBot, journal: JournalSource
) -> None:
    alice = sandbox.member("alice")
    card = await alice.slash("privacy")
    assert card.ephemeral
    text = card.text
    assert "Your data in this server" in text
    assert journal.summary in text
    assert "deleted 30 days later" in text
    assert "Only you can see" in text and "can't be traced to you" in text
    assert "never who wrote anonymous content" in text
    assert "operator who runs the bot holds the database" in text
    assert card.message.buttons == ["Export my data", "Delete my data"]
    assert all(str(alice.id) not in c.get("custom_id", "") for c in card.message.all_components)
    with pytest.raises(SandboxError, match="someone else's ephemeral"):
        await sandbox.member("bob").click(card, "Export my data")
    assert_nothing_public(sandbox)


async def test_export_arrives_by_dm_as_a_json_file(
    sandbox: Sandbox, privacy_bot: PeerCirclesBot, journal: JournalSource
) -> None:
    alice = sandbox.member("alice")
    journal.lines[(sandbox.guild.id, alice.id)] = ["a hard week", "a good walk"]
    journal.lines[(sandbox.guild.id, sandbox.member("bob").id)] = ["bob's line"]
    card = await alice.slash("privacy")
    exported = await (await alice.click(card, "Export my data")).settled()
    assert "sent your data to you in a direct message" in exported.text
    assert all(m.ephemeral for m in exported.messages)

    dm = await alice.wait_for_dm("JSON file")
    assert len(dm.attachments) == 1
    attachment = dm.attachments[0]
    assert attachment.filename.startswith("peer-circles-export-") and attachment.filename.endswith(".json")
    document = json.loads(attachment.data)
    assert set(document) == {"exported_at", "server_id", "about", "data"}
    assert document["server_id"] == str(sandbox.guild.id)
    assert document["data"]["e2e_journal"] == [{"line": "a hard week"}, {"line": "a good walk"}]
    assert "bob's line" not in attachment.data.decode()
    assert dm.allowed_mentions is not None and dm.allowed_mentions.get("parse") == []
    assert_exports_stay_private(sandbox, alice)
    assert_nothing_public(sandbox)


async def test_export_comes_here_when_dms_are_closed(
    sandbox: Sandbox, privacy_bot: PeerCirclesBot, journal: JournalSource
) -> None:
    alice = sandbox.member("alice")
    alice.dms_open = False
    journal.lines[(sandbox.guild.id, alice.id)] = ["only for me"]
    card = await alice.slash("privacy")
    exported = await (await alice.click(card, "Export my data")).settled()
    assert alice.dms == []
    assert "couldn't send you a direct message" in exported.text
    with_file = [m for m in exported.messages if m.attachments]
    assert len(with_file) == 1 and with_file[0].ephemeral_to == alice.id
    document = json.loads(with_file[0].attachments[0].data)
    assert document["data"]["e2e_journal"] == [{"line": "only for me"}]
    assert_exports_stay_private(sandbox, alice)
    assert_nothing_public(sandbox)


async def test_delete_asks_first_and_keep_changes_nothing(
    sandbox: Sandbox, privacy_bot: PeerCirclesBot, journal: JournalSource
) -> None:
    alice = sandbox.member("alice")
    bob = sandbox.member("bob")
    journal.lines[(sandbox.guild.id, alice.id)] = ["one", "two"]
    journal.lines[(sandbox.guild.id, bob.id)] = ["bob's"]
    card = await alice.slash("privacy")

    asked = await alice.click(card, "Delete my data")
    assert asked.kind == "update", "the same private message, edited in place"
    assert "This erases everything peer-circles keeps about you in this server" in card.message.text
    assert "can no longer be linked to anyone" in card.message.text
    assert "This can't be undone" in card.message.text
    assert card.message.buttons == ["Delete everything", "Keep my data"]

    kept = await alice.click(card, "Keep my data")
    assert kept.kind == "update"
    assert "Nothing was deleted" in card.message.text
    assert card.message.buttons == ["Export my data", "Delete my data"]
    assert journal.lines[(sandbox.guild.id, alice.id)] == ["one", "two"]

    await alice.click(card, "Delete my data")
    confirmed = await alice.click(card, "Delete everything")
    assert confirmed.kind == "deferred_update"
    await sandbox.wait_for(lambda: "erased" in card.message.text, "the deletion summary")
    # Two journal lines, and the language she uses with the bot (remembered for DMs sent later).
    assert "I erased 3 records about you in this server" in card.message.text
    assert card.message.buttons == []
    assert (sandbox.guild.id, alice.id) not in journal.lines
    assert journal.lines[(sandbox.guild.id, bob.id)] == ["bob's"], "only the person who asked"
    assert len(alice.ephemeral_replies) == 1, "everything happened on the one private card"
    assert_nothing_public(sandbox)


async def test_privacy_is_not_offered_in_direct_messages(sandbox: Sandbox, privacy_bot: PeerCirclesBot) -> None:
    with pytest.raises(SandboxError, match="not available in direct messages"):
        await sandbox.member("alice").slash("privacy", where="dm")


async def test_removing_the_bot_records_when_so_the_server_is_purged_later(
    sandbox: Sandbox, privacy_bot: PeerCirclesBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    maintenance: MaintenanceService = privacy_bot.services.maintenance
    recorded = asyncio.Event()
    original = maintenance.guild_removed

    async def observed(guild_id: int) -> None:
        await original(guild_id)
        recorded.set()

    monkeypatch.setattr(maintenance, "guild_removed", observed)
    await sandbox.server.remove_bot_from(sandbox.guild)
    await asyncio.wait_for(recorded.wait(), 5)
    assert await maintenance.guilds.removed_at(sandbox.guild.id) is not None
    now = privacy_bot.services.clock.now()
    assert await maintenance.guilds.due_for_purge(now) == []
    assert await maintenance.guilds.due_for_purge(now + timedelta(days=31)) == [sandbox.guild.id]
