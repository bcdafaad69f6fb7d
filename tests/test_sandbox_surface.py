"""The sandbox's surface, driven through the real discord.py client: components, modals,
autocomplete, DMs, threads, roles, channels and scheduled events behave as Discord's would."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.http import Route

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Sandbox
from bot.sandbox.server import SandboxError

FOREIGN_CARDS = True  # the cards here are the test's own, not the bot's (see conftest.sandbox)


class Form(discord.ui.Modal, title="Tell us"):
    note: discord.ui.Label[Any] = discord.ui.Label(
        text="Note", component=discord.ui.TextInput(custom_id="note", style=discord.TextStyle.paragraph, max_length=50)
    )
    mood: discord.ui.Label[Any] = discord.ui.Label(
        text="Mood",
        component=discord.ui.Select(
            custom_id="mood",
            options=[discord.SelectOption(label="Low", value="1"), discord.SelectOption(label="OK", value="3")],
        ),
    )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        assert isinstance(self.note.component, discord.ui.TextInput)
        assert isinstance(self.mood.component, discord.ui.Select)
        await interaction.response.send_message(
            f"note={self.note.component.value} mood={self.mood.component.values}", ephemeral=True
        )


class Upload(discord.ui.Modal, title="Share a photo"):
    photo: discord.ui.Label[Any] = discord.ui.Label(
        text="Photo", component=discord.ui.FileUpload(custom_id="photo", max_values=2)
    )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        assert isinstance(self.photo.component, discord.ui.FileUpload)
        files = [(a.filename, a.size) for a in self.photo.component.values]
        await interaction.response.send_message(f"files={files}", ephemeral=True)


class Buttons(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Open form", custom_id="test:form")
    async def open_form(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await interaction.response.send_modal(Form())

    @discord.ui.button(label="Count", custom_id="test:count")
    async def count(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        button.label = "Counted"
        button.disabled = True
        await interaction.response.edit_message(view=self)

    @discord.ui.select(
        custom_id="test:pick", placeholder="Pick", options=[discord.SelectOption(label=x, value=x) for x in "abc"]
    )
    async def pick(self, interaction: discord.Interaction[Any], select: discord.ui.Select[Any]) -> None:
        await interaction.response.send_message(f"picked {select.values}", ephemeral=True)


FRUITS = ["apple", "apricot", "banana"]


@pytest.fixture
async def surface(bot: PeerCirclesBot) -> PeerCirclesBot:
    @app_commands.command(name="panel", description="shows buttons")
    async def panel(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message("Panel", view=Buttons(), ephemeral=True)

    @app_commands.command(name="upload", description="opens a form with a file upload")
    async def upload(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_modal(Upload())

    @app_commands.command(name="fruit", description="autocomplete")
    async def fruit(interaction: discord.Interaction[Any], name: str) -> None:
        await interaction.response.send_message(f"fruit {name}", ephemeral=True)

    @fruit.autocomplete("name")
    async def fruit_auto(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f, value=f) for f in FRUITS if f.startswith(current)]

    @app_commands.command(name="slowpoke", description="defers")
    async def slowpoke(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("done thinking", ephemeral=True)

    commands: list[app_commands.Command[Any, ..., None]] = [panel, upload, fruit, slowpoke]
    for command in commands:
        bot.tree.add_command(command)
    await bot.sync_commands(force=True)
    return bot


async def test_buttons_selects_and_modals(sandbox: Sandbox, surface: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    panel = await alice.slash("panel")
    assert panel.message.buttons == ["Open form", "Count"]
    form = await alice.click(panel, "Open form")
    assert form.kind == "modal" and form.modal["title"] == "Tell us"
    done = await alice.submit_modal(form, Note="hello there", mood=["1"])
    assert done.text == "note=hello there mood=['1']"
    counted = await alice.click(panel, "Count")
    assert counted.kind == "update"
    assert panel.message.buttons == ["Open form", "Counted"]
    with pytest.raises(SandboxError, match="disabled"):
        await alice.click(panel, "Counted")
    picked = await alice.select(panel, "Pick", ["b"])
    assert picked.text == "picked ['b']"
    with pytest.raises(SandboxError, match="at most"):
        await alice.submit_modal(form, note="x" * 51)
    bob = sandbox.member("bob")
    with pytest.raises(SandboxError, match="someone else's ephemeral"):
        await bob.click(panel, "Open form")


async def test_file_upload_fields_take_their_files_like_any_other_field(
    sandbox: Sandbox, surface: PeerCirclesBot
) -> None:
    alice = sandbox.member("alice")
    form = await alice.slash("upload")
    assert form.kind == "modal" and form.modal["title"] == "Share a photo"
    done = await alice.submit_modal(form, Photo=[("me.jpg", b"\xff\xd8 not really"), ("you.png", b"png")])
    assert done.text == "files=[('me.jpg', 13), ('you.png', 3)]"
    with pytest.raises(SandboxError, match="no field"):
        await alice.submit_modal(form, files=[("me.jpg", b"")])


async def test_autocomplete_and_deferred_replies(sandbox: Sandbox, surface: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    choices = await alice.autocomplete("fruit", "name", "ap")
    assert [c["value"] for c in choices] == ["apple", "apricot"]
    reply = await alice.slash("fruit", name="banana")
    assert reply.text == "fruit banana"
    with pytest.raises(SandboxError, match="has no option"):
        await alice.slash("fruit", colour="red")
    deferred = await alice.slash("slowpoke")
    assert deferred.kind == "deferred"
    await deferred.settled()
    assert "done thinking" in deferred.text


async def test_dms_both_ways_and_closed_dms(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    received: list[str] = []
    arrived = asyncio.Event()

    async def on_message(message: discord.Message) -> None:
        if message.author.id == alice.id:
            received.append(message.content)
            arrived.set()

    bot.add_listener(on_message)
    await alice.send_dm("hello bot")
    await asyncio.wait_for(arrived.wait(), 5)
    assert received == ["hello bot"]
    # The support feature answers a DM outside a conversation; let that land before counting.
    await alice.wait_for_dm("You're not in a conversation with a listener right now")
    before = len(alice.dms)
    user = await bot.fetch_user(alice.id)
    await user.send("hello Alice")
    assert [m.content for m in alice.dms[before:]] == ["hello Alice"]
    alice.dms_open = False
    with pytest.raises(discord.Forbidden) as info:
        await user.send("again")
    assert info.value.code == 50007


async def test_threads_roles_channels_and_permissions(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    guild = bot.get_guild(sandbox.guild.id)
    assert guild is not None
    general = guild.get_channel(sandbox.channel("general").id)
    assert isinstance(general, discord.TextChannel)
    post = await general.send("A post")
    thread = await post.create_thread(name="Replies")
    await thread.send("first reply")
    assert [m.content for m in sandbox.channel("general").threads[0].messages] == ["first reply"]

    role = await guild.create_role(name="Circle: Grief")
    private = await guild.create_text_channel(
        "circle-grief",
        overwrites={
            guild.default_role: discord.PermissionOverwrite(view_channel=False),
            role: discord.PermissionOverwrite(view_channel=True),
            guild.me: discord.PermissionOverwrite(view_channel=True, send_messages=True),
        },
    )
    alice = sandbox.member("alice")
    member = await guild.fetch_member(alice.id)
    channel = sandbox.channel("circle-grief").channel
    assert not sandbox.guild.permissions_in(alice.id, channel) & (1 << 10)
    await member.add_roles(role)
    assert alice.has_role("Circle: Grief")
    assert sandbox.guild.permissions_in(alice.id, channel) & (1 << 10)
    await member.remove_roles(role)
    assert not alice.has_role("Circle: Grief")
    await private.send("members only")
    assert [m.content for m in sandbox.channel("circle-grief").messages] == ["members only"]

    # A role above the bot's own cannot be assigned: Discord's role hierarchy.
    high = sandbox.server.add_role(sandbox.guild, "Moderators")
    high.position = sandbox.bot_role.position + 5
    with pytest.raises(discord.Forbidden):
        await member.add_roles(discord.Object(high.id))


async def test_scheduled_events_and_hand_edits(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    guild = bot.get_guild(sandbox.guild.id)
    assert guild is not None
    seen: list[str] = []
    deleted = asyncio.Event()

    async def on_scheduled_event_delete(event: discord.ScheduledEvent) -> None:
        seen.append(f"deleted {event.name}")
        deleted.set()

    bot.add_listener(on_scheduled_event_delete)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    event = await guild.create_scheduled_event(
        name="Grief circle",
        start_time=start,
        end_time=start + dt.timedelta(hours=1),
        entity_type=discord.EntityType.external,
        location="#circle-grief",
        privacy_level=discord.PrivacyLevel.guild_only,
    )
    stored = sandbox.guild.events[event.id]
    assert stored.name == "Grief circle" and stored.location == "#circle-grief"
    alice = sandbox.member("alice")
    await alice.mark_interested(stored)
    users = [u.id async for u in event.users()]
    assert users == [alice.id]
    await sandbox.server.remove_event(stored)  # an admin deletes it by hand in Discord
    await asyncio.wait_for(deleted.wait(), 5)
    assert seen == ["deleted Grief circle"]


async def test_admin_only_commands_are_hidden_unless_overridden(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    @app_commands.command(name="secretsetup", description="admins")
    @app_commands.default_permissions(manage_guild=True)
    async def secretsetup(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_message("ok", ephemeral=True)

    bot.tree.add_command(secretsetup)
    await bot.sync_commands(force=True)
    with pytest.raises(SandboxError, match="can't see /secretsetup"):
        await sandbox.member("alice").slash("secretsetup")
    assert (await sandbox.admin("ana").slash("secretsetup")).text == "ok"


async def test_enforce_nonce_dedupes_the_same_authors_nonce_for_a_few_minutes(
    sandbox: Sandbox, bot: PeerCirclesBot
) -> None:
    server = sandbox.server
    now = [1000.0]
    server.nonce_clock = lambda: now[0]
    general = bot.get_partial_messageable(sandbox.channel("general").id)
    first = await general.send("once", nonce="n-1")
    assert first.nonce == "n-1", "Discord echoes the nonce"
    again = await general.send("once", nonce="n-1")
    user = await bot.fetch_user(sandbox.member("alice").id)
    elsewhere = await user.send("once", nonce="n-1")  # the same author's nonce, in another channel
    assert again.id == first.id == elsewhere.id
    assert [m.content for m in sandbox.channel("general").messages] == ["once"] and sandbox.member("alice").dms == []
    plain = await bot.http.send_message(general.id, params=discord.http.handle_message_parameters(content="x"))
    assert "nonce" not in plain
    raw = {"content": "not enforced", "nonce": "n-1"}
    await bot.http.request(Route("POST", "/channels/{channel_id}/messages", channel_id=general.id), json=raw)
    assert len(sandbox.channel("general").messages) == 3, "without enforce_nonce a nonce doesn't dedupe"

    now[0] += server.nonce_window + 1  # Discord has forgotten it
    later = await general.send("once", nonce="n-1")
    assert later.id != first.id
    await later.delete()
    with pytest.raises(discord.NotFound) as info:  # created, then deleted: not created again
        await general.send("once", nonce="n-1")
    assert info.value.code == 10008

    with pytest.raises(discord.HTTPException) as refused:  # Discord's limit for a string nonce
        await general.send("too long", nonce="x" * 26)
    assert refused.value.status == 400 and "nonce" in server.invalid_requests[0]
    server.invalid_requests.clear()  # seen; don't fail the fixture


async def test_a_lost_answer_and_a_held_answer_after_discord_created_the_message(
    sandbox: Sandbox, bot: PeerCirclesBot
) -> None:
    route = "POST /channels/{channel_id}/messages"
    general = bot.get_partial_messageable(sandbox.channel("general").id)
    sandbox.server.inject("drop", route=route)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await general.send("lost", nonce="n-lost")
    assert [m.content for m in sandbox.channel("general").messages] == ["lost"], "it was created all the same"
    resent = await general.send("lost", nonce="n-lost")
    assert resent.id == sandbox.channel("general").messages[0].id, "the resend returns it"

    held = sandbox.server.inject("hold", route=route)
    sending = asyncio.create_task(general.send("held", nonce="n-held"))
    await asyncio.wait_for(held.reached.wait(), 5)
    assert sandbox.channel("general").messages[-1].content == "held" and not sending.done()
    held.release()
    assert (await sending).content == "held"
    assert len(sandbox.channel("general").messages) == 2
