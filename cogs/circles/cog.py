from __future__ import annotations

import contextlib
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.services.circles import CircleDraft, CircleService
from bot.services.help import Audience
from bot.services.server_settings import ServerSettings
from bot.storage.circles import Circle, Rotation
from bot.ui.audit import post_audit
from bot.ui.confirm import ConfirmView
from bot.ui.guild_ops import DiscordGuildOps
from bot.ui.people import actor_from, guild_of
from bot.ui.replies import reply, text_card
from cogs.circles.views import GroundRulesModal, JoinView, LeaveDataView, join_text

ROTATIONS = [
    app_commands.Choice(name="Weekly (a new pseudonym each week)", value=Rotation.WEEKLY.value),
    app_commands.Choice(name="Daily", value=Rotation.DAILY.value),
    app_commands.Choice(name="Every post", value=Rotation.PER_POST.value),
    app_commands.Choice(name="Fixed (same pseudonym in this circle)", value=Rotation.FIXED.value),
]
FACILITATE = {"audience": Audience.FACILITATOR}
MEMBER = {"audience": Audience.MEMBER}


def summary(circle: Circle) -> str:
    lines = [
        f"## {circle.name}" + (" (archived)" if not circle.active else ""),
        circle.description or "",
        f"- Channel: <#{circle.channel_id}>" if circle.channel_id else "- Channel: missing (run /circle repair)",
        f"- Member role: <@&{circle.member_role_id}>"
        if circle.member_role_id
        else "- Member role: missing (run /circle repair)",
        f"- Facilitators: <@&{circle.facilitator_role_id}>"
        if circle.facilitator_role_id
        else "- Facilitators: not set",
        f"- {'Private: only members see the channel' if circle.is_private else 'Open: everyone can see the channel'}",
        f"- Anonymous sharing: {'on, ' + circle.pseudonym_rotation.label if circle.anonymous_sharing else 'off'}",
        f"- Pre-moderation of shares: {'on' if circle.premoderation else 'off'}",
        f"- Shares per member per hour: {circle.share_rate_per_hour}"
        + (
            f"; posted after a random delay of up to {circle.share_delay_seconds} s"
            if circle.share_delay_seconds
            else ""
        ),
        f"- Data kept for {circle.retention_days} days",
    ]
    return "\n".join(line for line in lines if line)


class CirclesCog(commands.Cog):
    circle = app_commands.Group(name="circle", description="Peer support circles in this server.", guild_only=True)

    def __init__(self, service: CircleService, settings: ServerSettings) -> None:
        self.service = service
        self.settings = settings

    async def _audit(self, guild: discord.Guild, actor_id: int, lines: list[str]) -> None:
        settings = await self.settings.get(guild.id)
        await post_audit(guild, settings.mod_channel_id, actor_id, lines)

    # -- autocomplete -------------------------------------------------------------------

    async def _names(
        self, interaction: discord.Interaction[Any], current: str, archived: bool
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        found = await self.service.search(interaction.guild.id, current, include_archived=archived)
        return [app_commands.Choice(name=c.name + ("" if c.active else " (archived)"), value=c.name) for c in found]

    async def active_circles(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._names(interaction, current, archived=False)

    async def any_circles(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        return await self._names(interaction, current, archived=True)

    # -- coordinators -------------------------------------------------------------------

    @circle.command(
        name="create", description="Create a circle: a channel, a member role and ground rules.", extras=FACILITATE
    )
    @app_commands.describe(
        name="A short name, like Grief or New parents",
        description="One line on who the circle is for",
        channel="Use an existing channel instead of creating one",
        private="Only members can see the channel (recommended)",
        anonymous_sharing="Members may post anonymously",
        rotation="How often anonymous pseudonyms change",
        premoderation="Anonymous shares wait for a moderator's approval",
        retention_days="Days to keep the circle's data (default: the server's setting)",
        facilitator_role="The role of the circle's facilitators",
    )
    @app_commands.choices(rotation=ROTATIONS)
    async def create(
        self,
        interaction: discord.Interaction[Any],
        name: app_commands.Range[str, 2, 40],
        description: app_commands.Range[str, 0, 200] = "",
        channel: discord.TextChannel | None = None,
        private: bool = True,
        anonymous_sharing: bool = True,
        rotation: str = Rotation.WEEKLY.value,
        premoderation: bool = False,
        retention_days: app_commands.Range[int, 1, 3650] | None = None,
        facilitator_role: discord.Role | None = None,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        draft = await self.service.validate(
            guild.id,
            actor,
            CircleDraft(
                name=name,
                description=description,
                channel_id=channel.id if channel else None,
                is_private=private,
                anonymous_sharing=anonymous_sharing,
                pseudonym_rotation=Rotation(rotation),
                premoderation=premoderation,
                retention_days=retention_days,
                facilitator_role_id=facilitator_role.id if facilitator_role else None,
            ),
        )

        async def finish(submitted: discord.Interaction[Any], rules: str) -> None:
            await submitted.response.defer(ephemeral=True, thinking=True)
            ops = DiscordGuildOps(guild_of(submitted))
            change = await self.service.create(actor, CircleDraft(**{**_fields(draft), "ground_rules": rules}), ops)
            await reply(
                submitted,
                view=text_card(
                    f"Created **{change.circle.name}**. Members can join with /circle join.",
                    summary(change.circle),
                ),
            )
            await self._audit(guild, actor.user_id, change.audit)

        await interaction.response.send_modal(
            GroundRulesModal(f"Ground rules for {draft.name}", draft.ground_rules, finish, card="circle:create")
        )

    @circle.command(name="edit", description="Change a circle's settings or ground rules.", extras=FACILITATE)
    @app_commands.describe(
        circle="The circle to change",
        name="A new name",
        description="A new one-line description",
        private="Only members can see the channel",
        anonymous_sharing="Members may post anonymously",
        rotation="How often anonymous pseudonyms change",
        premoderation="Anonymous shares wait for a moderator's approval",
        retention_days="Days to keep the circle's data",
        facilitator_role="The role of the circle's facilitators",
        rules="Open a form to edit the ground rules",
        share_limit="Anonymous shares one member may post per hour (1 to 60)",
        posting_delay="Post shares after a random delay of up to this many seconds (0 to 900; 0 = at once)",
        allow_invites="Keep Discord invite links in anonymous shares (removed by default)",
    )
    @app_commands.choices(rotation=ROTATIONS)
    @app_commands.autocomplete(circle=any_circles)
    async def edit(
        self,
        interaction: discord.Interaction[Any],
        circle: str,
        name: app_commands.Range[str, 2, 40] | None = None,
        description: app_commands.Range[str, 0, 200] | None = None,
        private: bool | None = None,
        anonymous_sharing: bool | None = None,
        rotation: str | None = None,
        premoderation: bool | None = None,
        retention_days: app_commands.Range[int, 1, 3650] | None = None,
        facilitator_role: discord.Role | None = None,
        rules: bool = False,
        share_limit: app_commands.Range[int, 1, 60] | None = None,
        posting_delay: app_commands.Range[int, 0, 900] | None = None,
        allow_invites: bool | None = None,
    ) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found = await self.service.find(guild.id, circle)
        changes: dict[str, Any] = {
            "name": name,
            "description": description,
            "is_private": private,
            "anonymous_sharing": anonymous_sharing,
            "pseudonym_rotation": rotation,
            "premoderation": premoderation,
            "retention_days": retention_days,
            "facilitator_role_id": facilitator_role.id if facilitator_role else None,
            "share_rate_per_hour": share_limit,
            "share_delay_seconds": posting_delay,
            "allow_invites": allow_invites,
        }
        await self.service.access.require_coordinator(guild.id, actor)

        async def apply(target: discord.Interaction[Any], extra: dict[str, Any]) -> None:
            change = await self.service.edit(actor, found, DiscordGuildOps(guild), **changes, **extra)
            if change.audit:
                text = "Saved:\n" + "\n".join(f"- You {line}" for line in change.audit)
            else:
                text = "Nothing changed: add an option to /circle edit to change something."
            await reply(target, view=text_card(text, summary(change.circle)))
            await self._audit(guild, actor.user_id, change.audit)

        if rules:

            async def with_rules(submitted: discord.Interaction[Any], text: str) -> None:
                await apply(submitted, {"ground_rules": text})

            await interaction.response.send_modal(
                GroundRulesModal(f"Ground rules for {found.name}", found.ground_rules, with_rules, card="circle:edit")
            )
        else:
            await apply(interaction, {})

    @circle.command(name="archive", description="Close a circle to new activity; its history stays.", extras=FACILITATE)
    @app_commands.autocomplete(circle=active_circles)
    async def archive(self, interaction: discord.Interaction[Any], circle: str) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found = await self.service.find(guild.id, circle)
        await self.service.access.require_coordinator(guild.id, actor)

        async def confirmed(pressed: discord.Interaction[Any]) -> None:
            change = await self.service.archive(actor, found, DiscordGuildOps(guild))
            await pressed.response.edit_message(
                content=f"Archived **{found.name}**. Its channel is read-only and its schedules have stopped.",
                view=None,
            )
            await self._audit(guild, actor.user_id, change.audit)

        await reply(
            interaction,
            f"Archive **{found.name}**? Members keep read access to its history, nobody can post, and scheduled "
            "sessions and prompts stop.",
            view=ConfirmView(actor.user_id, confirmed, card="circle:archive", confirm_label="Archive", danger=False),
        )

    @circle.command(name="delete", description="Delete a circle and the bot's data for it.", extras=FACILITATE)
    @app_commands.autocomplete(circle=any_circles)
    async def delete(self, interaction: discord.Interaction[Any], circle: str) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found = await self.service.find(guild.id, circle)
        await self.service.access.require_coordinator(guild.id, actor)

        async def confirmed(pressed: discord.Interaction[Any]) -> None:
            change = await self.service.delete(actor, found, DiscordGuildOps(guild))
            channel = (
                f" The channel <#{found.channel_id}> was kept; delete it yourself if its history should go too."
                if found.channel_id
                else ""
            )
            await pressed.response.edit_message(content=f"Deleted **{found.name}** and its data.{channel}", view=None)
            await self._audit(guild, actor.user_id, change.audit)

        await reply(
            interaction,
            f"Delete **{found.name}**? This removes everything peer-circles keeps for it (settings, members' "
            "consent records, and later check-ins, shares and sessions) and its member role. This can't be undone. "
            "If you only want to close it, use /circle archive instead.",
            view=ConfirmView(actor.user_id, confirmed, card="circle:delete", confirm_label="Delete circle"),
        )

    @circle.command(name="repair", description="Re-create a circle's missing channel or role.", extras=FACILITATE)
    @app_commands.autocomplete(circle=any_circles)
    async def repair(self, interaction: discord.Interaction[Any], circle: str) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found = await self.service.find(guild.id, circle)
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.service.repair(actor, found, DiscordGuildOps(guild))
        done = "\n".join(f"- {line}" for line in report.fixed) or "- Everything was already in place."
        await reply(interaction, view=text_card(f"**Repaired {found.name}**\n{done}", summary(report.circle)))
        if report.fixed:
            await self._audit(guild, actor.user_id, [f"repaired the circle **{found.name}**"])

    # -- members ------------------------------------------------------------------------

    @circle.command(name="list", description="The circles in this server.", extras=MEMBER)
    async def list_circles(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        circles = await self.service.in_guild(guild.id)
        if not circles:
            await reply(interaction, "There are no circles here yet. A server admin or coordinator can create one.")
            return
        mine = {r.id for r in getattr(interaction.user, "roles", [])}
        lines = [
            f"- **{c.name}**{' (you are in it)' if c.member_role_id in mine else ''}: {c.description or 'no description'}"
            for c in circles
        ]
        await reply(interaction, view=text_card("## Circles\n" + "\n".join(lines), "-# Join one with /circle join."))

    @circle.command(
        name="info", description="About one circle: its channel, rules and privacy settings.", extras=MEMBER
    )
    @app_commands.autocomplete(circle=any_circles)
    async def info(self, interaction: discord.Interaction[Any], circle: str) -> None:
        found = await self.service.find(guild_of(interaction).id, circle)
        await reply(interaction, view=text_card(summary(found), f"**Ground rules**\n{found.ground_rules}"))

    @circle.command(name="join", description="Join a circle, after reading its ground rules.", extras=MEMBER)
    @app_commands.autocomplete(circle=active_circles)
    async def join(self, interaction: discord.Interaction[Any], circle: str) -> None:
        guild = guild_of(interaction)
        found = await self.service.find(guild.id, circle, active_only=True)
        self.service.check_joinable(found)
        user_id = interaction.user.id

        async def agreed(pressed: discord.Interaction[Any]) -> None:
            new = await self.service.join(found, user_id, DiscordGuildOps(guild))
            where = f" Head to <#{found.channel_id}> whenever you're ready." if found.channel_id else ""
            text = f"Welcome to **{found.name}**.{where}" if new else f"You're already in **{found.name}**.{where}"
            await pressed.response.edit_message(content=text, view=None)

        await reply(interaction, join_text(found), view=JoinView(user_id, agreed))

    @circle.command(name="leave", description="Leave a circle.", extras=MEMBER)
    @app_commands.autocomplete(circle=any_circles)
    async def leave(self, interaction: discord.Interaction[Any], circle: str) -> None:
        guild = guild_of(interaction)
        found = await self.service.find(guild.id, circle)
        user_id = interaction.user.id
        left = await self.service.leave(found, user_id, DiscordGuildOps(guild))
        if not left:
            await reply(interaction, f"You aren't in **{found.name}**, so there's nothing to leave.")
            return

        async def forget(pressed: discord.Interaction[Any]) -> None:
            counts = await self.service.forget_member(found, user_id)
            total = sum(counts.values())
            await pressed.response.edit_message(
                content=f"Done: I deleted {total} item{'s' if total != 1 else ''} about you in **{found.name}**.",
                view=None,
            )

        await reply(
            interaction,
            f"You've left **{found.name}**. Take care of yourself. You can come back any time.\n"
            "Would you like me to delete what I keep about you in this circle? (Anonymous posts stay, "
            "but nothing links them to you.)",
            view=LeaveDataView(user_id, forget),
        )

    # -- things changed by hand in Discord ---------------------------------------------

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        circle = await self.service.forget_channel(channel.id)
        if circle is not None:
            await self._notice(
                channel.guild,
                f"The channel of the **{circle.name}** circle was deleted. Run /circle repair to re-create it.",
            )

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        for circle in await self.service.forget_role(role.guild.id, role.id):
            await self._notice(
                role.guild, f"A role of the **{circle.name}** circle was deleted. Run /circle repair to re-create it."
            )

    async def _notice(self, guild: discord.Guild, text: str) -> None:
        settings = await self.settings.get(guild.id)
        channel = guild.get_channel(settings.mod_channel_id) if settings.mod_channel_id else None
        if isinstance(channel, discord.TextChannel):
            with contextlib.suppress(discord.HTTPException):
                await channel.send(f"⚠️ {text}", allowed_mentions=discord.AllowedMentions.none())


def _fields(draft: CircleDraft) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in draft.__slots__}
