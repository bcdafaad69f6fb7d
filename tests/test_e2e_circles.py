"""End to end: server setup and circles, through the sandbox with the real bot."""

from __future__ import annotations

from typing import Any

import pytest

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Person, Sandbox
from bot.sandbox.models import P
from bot.sandbox.server import SandboxError

VIEW = P["VIEW_CHANNEL"]
SEND = P["SEND_MESSAGES"]


async def create_circle(admin: Person, name: str = "Grief", rules: str | None = None, **options: Any) -> str:
    opened = await admin.slash("circle create", name=name, description="For anyone grieving", **options)
    assert opened.kind == "modal"
    fields = {"circle:rules": rules} if rules is not None else {}
    done = await admin.submit_modal(opened, **fields)
    await done.settled()
    return done.text


async def circle_row(bot: PeerCirclesBot, name: str) -> dict[str, object]:
    row = await bot.services.db.fetchone("SELECT * FROM circles WHERE name = ?", (name,))
    assert row is not None
    return dict(row)


async def test_setup_shows_and_changes_settings_with_an_audit_line(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = sandbox.admin("ana")
    shown = await ana.slash("setup")
    assert shown.ephemeral
    assert "Time zone: UTC" in shown.text
    mod = sandbox.channel("moderation")
    zones = await ana.autocomplete("setup", "timezone", "lond")
    assert "Europe/London" in [c["value"] for c in zones]
    changed = await ana.slash("setup", timezone="Europe/London", moderation_channel=mod)
    assert "You changed the time zone from UTC to Europe/London" in changed.text
    settings = await bot.services.guild_settings.get(sandbox.guild.id)
    assert settings.timezone == "Europe/London" and settings.mod_channel_id == mod.id
    audit = await mod.wait_for_message("changed the time zone")
    assert f"<@{ana.id}>" in audit.text
    assert audit.allowed_mentions == {"parse": []} or audit.allowed_mentions == {"parse": [], "replied_user": False}


async def test_setup_refuses_bad_input_and_stores_nothing(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = sandbox.admin("ana")
    bad = await ana.slash("setup", timezone="Mars/Base", retention_days=30)
    assert "I don't know the time zone" in bad.text
    assert (await bot.services.guild_settings.get(sandbox.guild.id)).retention_days == 90


async def test_a_member_cannot_use_admin_commands(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    with pytest.raises(SandboxError, match="can't see /setup"):
        await alice.slash("setup")
    # Even if an admin's override in Integrations exposes /setup, the bot refuses.
    refused = await alice.slash("setup", timezone="Europe/London", force=True)
    assert "Only server admins" in refused.text
    refused = await alice.slash("circle create", name="Grief")
    assert "Only server admins (Manage Server) and the coordinator role can manage circles" in refused.text
    assert await bot.services.circles.in_guild(sandbox.guild.id) == []


async def test_create_a_private_circle_then_join_and_leave(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = sandbox.admin("ana")
    await ana.slash("setup", moderation_channel=sandbox.channel("moderation"))
    text = await create_circle(ana, "Grief")
    assert "Created **Grief**" in text
    channel = sandbox.channel("circle-grief")
    role = sandbox.role("Circle: Grief")
    everyone = sandbox.guild.everyone
    ow = channel.channel.overwrites
    assert ow[everyone.id].deny & VIEW
    assert ow[role.id].allow & VIEW and ow[role.id].allow & SEND
    assert ow[sandbox.server.bot_user.id].allow & SEND
    row = await circle_row(bot, "Grief")
    assert row["channel_id"] == channel.id and row["member_role_id"] == role.id and row["channel_managed"] == 1
    rules = row["ground_rules"]
    assert isinstance(rules, str) and "Confidentiality" not in rules and "What is shared here stays here" in rules
    await sandbox.channel("moderation").wait_for_message("created the circle **Grief**")

    alice = sandbox.member("alice")
    assert not sandbox.guild.permissions_in(alice.id, channel.channel) & VIEW
    offer = await alice.slash("circle join", circle="Grief")
    assert offer.ephemeral
    assert "What is shared here stays here" in offer.text
    assert "what this means for your data" in offer.text.lower()
    assert offer.message.buttons == ["I agree, join", "Not now"]
    assert not alice.has_role("Circle: Grief"), "nothing happens before consent"
    joined = await alice.click(offer, "I agree, join")
    assert "Welcome to **Grief**" in joined.message.text
    assert alice.has_role("Circle: Grief")
    assert sandbox.guild.permissions_in(alice.id, channel.channel) & VIEW
    consent = await bot.services.db.fetchone("SELECT * FROM circle_members WHERE user_id = ?", (alice.id,))
    assert consent is not None
    # Nobody is told that Alice joined.
    assert channel.messages == [] and sandbox.channel("general").messages == []
    assert all(str(alice.id) not in m.text for m in sandbox.channel("moderation").messages)

    again = await alice.slash("circle join", circle="grief")
    again = await alice.click(again, "I agree, join")
    assert "already in **Grief**" in again.message.text

    left = await alice.slash("circle leave", circle="Grief")
    assert "You've left **Grief**" in left.text
    assert not alice.has_role("Circle: Grief")
    assert await bot.services.db.fetchone("SELECT * FROM circle_members WHERE user_id = ?", (alice.id,)) is None
    forgot = await alice.click(left, "Delete my data in this circle")
    assert "I deleted" in forgot.message.text


async def test_circle_in_an_existing_channel_and_list_info(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = sandbox.admin("ana")
    existing = await sandbox.add_channel("parents-chat")
    await create_circle(ana, "New parents", channel=existing, private=False, rotation="daily")
    row = await circle_row(bot, "New parents")
    assert row["channel_id"] == existing.id and row["channel_managed"] == 0 and row["pseudonym_rotation"] == "daily"
    assert not sandbox.has_channel("circle-new-parents")
    listing = await sandbox.member("bob").slash("circle list")
    assert "**New parents**" in listing.text
    info = await sandbox.member("bob").slash("circle info", circle="new parents")
    assert "a new pseudonym each day" in info.text
    choices = await sandbox.member("bob").autocomplete("circle join", "circle", "par")
    assert [c["value"] for c in choices] == ["New parents"]


async def test_names_are_unique_and_validated(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = sandbox.admin("ana")
    await create_circle(ana, "Grief")
    dup = await ana.slash("circle create", name="GRIEF")
    assert dup.kind == "message" and "already a circle called Grief" in dup.text
    bad = await ana.slash("circle create", name="<@&123> ping")
    assert "can use letters, numbers" in bad.text
    assert len(await bot.services.circles.in_guild(sandbox.guild.id)) == 1


async def test_missing_manage_roles_is_explained_and_nothing_is_left(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    sandbox.set_bot_permissions(sandbox.bot_role.permissions & ~P["MANAGE_ROLES"])
    ana = sandbox.admin("ana")
    opened = await ana.slash("circle create", name="Grief")
    done = await ana.submit_modal(opened)
    await done.settled()
    assert "I'm missing the **Manage Roles** permission" in done.text
    assert not sandbox.has_role("Circle: Grief")
    assert not sandbox.has_channel("circle-grief")
    assert await bot.services.db.fetchall("SELECT * FROM circles") == []


async def test_a_failure_midway_removes_what_was_created(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    """Manage Channels missing: the role made first is deleted again; no orphan rows or roles."""
    sandbox.set_bot_permissions(sandbox.bot_role.permissions & ~P["MANAGE_CHANNELS"])
    ana = sandbox.admin("ana")
    opened = await ana.slash("circle create", name="Grief")
    done = await ana.submit_modal(opened)
    await done.settled()
    assert "Manage Channels" in done.text
    assert not sandbox.has_role("Circle: Grief")
    assert await bot.services.db.fetchall("SELECT * FROM circles") == []


async def test_edit_archive_and_delete(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = sandbox.admin("ana")
    await create_circle(ana, "Grief")
    edited = await ana.slash("circle edit", circle="Grief", description="Loss of any kind", premoderation=True)
    assert "Saved" in edited.text
    opened = await ana.slash("circle edit", circle="Grief", rules=True)
    await ana.submit_modal(opened, **{"circle:rules": "1. Be kind."})
    row = await circle_row(bot, "Grief")
    assert (
        row["description"] == "Loss of any kind" and row["premoderation"] == 1 and row["ground_rules"] == "1. Be kind."
    )

    ask = await ana.slash("circle archive", circle="Grief")
    cancelled = await ana.click(ask, "Cancel")
    assert "nothing was changed" in cancelled.message.text
    ask = await ana.slash("circle archive", circle="Grief")
    await ana.click(ask, "Archive")
    assert (await circle_row(bot, "Grief"))["status"] == "archived"
    channel = sandbox.channel("circle-grief").channel
    role = sandbox.role("Circle: Grief")
    assert channel.overwrites[role.id].allow & VIEW and not channel.overwrites[role.id].allow & SEND
    closed = await sandbox.member("alice").slash("circle join", circle="Grief")
    assert "archived" in closed.text

    ask = await ana.slash("circle delete", circle="Grief")
    gone = await ana.click(ask, "Delete circle")
    assert "Deleted **Grief**" in gone.message.text
    assert not sandbox.has_role("Circle: Grief")
    assert sandbox.has_channel("circle-grief"), "history is kept"
    assert await bot.services.db.fetchall("SELECT * FROM circles") == []


async def test_repair_after_channel_and_role_deleted_by_hand(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = sandbox.admin("ana")
    await ana.slash("setup", moderation_channel=sandbox.channel("moderation"))
    await create_circle(ana, "Grief")
    await sandbox.server.remove_channel(sandbox.channel("circle-grief").channel)
    await sandbox.server.remove_role(sandbox.guild, sandbox.role("Circle: Grief"))
    await sandbox.channel("moderation").wait_for_message("channel of the **Grief** circle was deleted")
    await sandbox.channel("moderation").wait_for_message("role of the **Grief** circle was deleted")
    refused = await sandbox.member("alice").slash("circle join", circle="Grief")
    assert "needs a quick repair" in refused.text
    repaired = await ana.slash("circle repair", circle="Grief")
    await repaired.settled()
    assert "re-created the channel" in repaired.text and "re-created the member role" in repaired.text
    assert sandbox.has_channel("circle-grief") and sandbox.has_role("Circle: Grief")
    offer = await sandbox.member("alice").slash("circle join", circle="Grief")
    await sandbox.member("alice").click(offer, "I agree, join")
    assert sandbox.member("alice").has_role("Circle: Grief")


async def test_coordinator_role_may_manage_circles(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = sandbox.admin("ana")
    coordinators = await sandbox.add_role("Coordinators")
    await ana.slash("setup", coordinator_role=coordinators)
    cora = sandbox.member("cora", roles=["Coordinators"])
    text = await create_circle(cora, "Sobriety")
    assert "Created **Sobriety**" in text
    help_text = (await cora.slash("help")).text
    assert "For facilitators and coordinators" in help_text and "/circle create" in help_text
    member_help = (await sandbox.member("alice").slash("help")).text
    assert "/circle join" in member_help and "/circle create" not in member_help


async def test_privacy_export_and_delete_include_circle_membership(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    import json

    ana = sandbox.admin("ana")
    await create_circle(ana, "Grief")
    alice = sandbox.member("alice")
    await alice.click(await alice.slash("circle join", circle="Grief"), "I agree, join")
    card = await alice.slash("privacy")
    assert "Which circles you joined" in card.text
    await (await alice.click(card, "Export my data")).settled()
    document = json.loads((await alice.wait_for_dm("JSON file")).attachments[0].data)
    assert [row["circle"] for row in document["data"]["circle_members"]] == ["Grief"]
    await alice.click(card, "Delete my data")
    await alice.click(card, "Delete everything")
    await sandbox.wait_for(lambda: "erased" in card.message.text, "the deletion summary")
    assert await bot.services.db.fetchall("SELECT * FROM circle_members WHERE user_id = ?", (alice.id,)) == []
