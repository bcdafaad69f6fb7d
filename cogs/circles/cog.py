from __future__ import annotations

import contextlib
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import Msg, Speaker, msg
from bot.services.circles import CircleDraft, CircleService
from bot.services.help import Audience
from bot.services.server_settings import ServerSettings
from bot.storage.circles import Circle, Rotation
from bot.ui.audit import post_server_audit
from bot.ui.confirm import ConfirmView
from bot.ui.guild_ops import DiscordGuildOps
from bot.ui.language import reader, server_speaker
from bot.ui.people import actor_from, guild_of
from bot.ui.replies import reply, text_card
from bot.ui.style import NO_PINGS
from cogs.circles.views import GroundRulesModal, JoinView, LeaveDataView, ground_rules, join_text, rotation_label

ROTATIONS = [
    app_commands.Choice(name="Weekly (a new pseudonym each week)", value=Rotation.WEEKLY.value),
    app_commands.Choice(name="Daily", value=Rotation.DAILY.value),
    app_commands.Choice(name="Every post", value=Rotation.PER_POST.value),
    app_commands.Choice(name="Fixed (same pseudonym in this circle)", value=Rotation.FIXED.value),
]
FACILITATE = {"audience": Audience.FACILITATOR}
MEMBER = {"audience": Audience.MEMBER}


def summary(circle: Circle, t: Speaker) -> str:
    channel, role, facilitators = (
        f"<#{circle.channel_id}>",
        f"<@&{circle.member_role_id}>",
        f"<@&{circle.facilitator_role_id}>",
    )
    lines = [
        f"## {circle.name}" if circle.active else t("## {name} (archived)", name=circle.name),
        circle.description or "",
        t("- Channel: {channel}", channel=channel)
        if circle.channel_id
        else t("- Channel: missing (run /circle repair)"),
        t("- Member role: {role}", role=role)
        if circle.member_role_id
        else t("- Member role: missing (run /circle repair)"),
        t("- Facilitators: {role}", role=facilitators) if circle.facilitator_role_id else t("- Facilitators: not set"),
        t("- Private: only members see the channel")
        if circle.is_private
        else t("- Open: everyone can see the channel"),
        t("- Anonymous sharing: on, {rotation}", rotation=rotation_label(circle.pseudonym_rotation, t))
        if circle.anonymous_sharing
        else t("- Anonymous sharing: off"),
        t("- Pre-moderation of shares: on") if circle.premoderation else t("- Pre-moderation of shares: off"),
        t(
            "- Shares per member per hour: {rate}; posted after a random delay of up to {seconds} s",
            rate=circle.share_rate_per_hour,
            seconds=circle.share_delay_seconds,
        )
        if circle.share_delay_seconds
        else t("- Shares per member per hour: {rate}", rate=circle.share_rate_per_hour),
        t.n("- Data kept for {n} day", "- Data kept for {n} days", circle.retention_days),
    ]
    return "\n".join(line for line in lines if line)


def bullets(t: Speaker, lines: list[Msg] | tuple[Msg, ...]) -> str:
    return "\n".join(f"- {t.render(line)}" for line in lines)


class CirclesCog(commands.Cog):
    circle = app_commands.Group(name="circle", description="Peer support circles in this server.", guild_only=True)

    def __init__(self, service: CircleService, settings: ServerSettings) -> None:
        self.service = service
        self.settings = settings

    async def _audit(self, guild: discord.Guild, actor_id: int, lines: list[Msg]) -> None:
        """Audit lines are posted for the server: in the server's language."""
        await post_server_audit(self.settings, guild, actor_id, lines)

    # -- autocomplete -------------------------------------------------------------------

    async def _names(
        self, interaction: discord.Interaction[Any], current: str, archived: bool
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        t = reader(interaction)
        found = await self.service.search(interaction.guild.id, current, include_archived=archived)
        return [
            app_commands.Choice(name=c.name if c.active else t("{name} (archived)", name=c.name)[:100], value=c.name)
            for c in found
        ]

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
        t = reader(interaction)
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
            t = reader(submitted)
            ops = DiscordGuildOps(guild_of(submitted))
            names = await server_speaker(self.settings, guild.id, guild)  # the role and channel are the server's
            change = await self.service.create(
                actor, CircleDraft(**{**_fields(draft), "ground_rules": rules}), ops, t=names
            )
            await reply(
                submitted,
                view=text_card(
                    t("Created **{name}**. Members can join with /circle join.", name=change.circle.name),
                    summary(change.circle, t),
                ),
            )
            await self._audit(guild, actor.user_id, change.audit)

        await interaction.response.send_modal(
            GroundRulesModal(
                t("Ground rules for {name}", name=draft.name), draft.ground_rules, finish, card="circle:create", t=t
            )
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
        t = reader(interaction)

        async def apply(target: discord.Interaction[Any], extra: dict[str, Any]) -> None:
            t = reader(target)
            change = await self.service.edit(actor, found, DiscordGuildOps(guild), **changes, **extra)
            if change.yours:
                text = t("Saved:") + "\n" + bullets(t, change.yours)
            else:
                text = t("Nothing changed: add an option to /circle edit to change something.")
            await reply(target, view=text_card(text, summary(change.circle, t)))
            await self._audit(guild, actor.user_id, change.audit)

        if rules:

            async def with_rules(submitted: discord.Interaction[Any], text: str) -> None:
                await apply(submitted, {"ground_rules": text})

            await interaction.response.send_modal(
                GroundRulesModal(
                    t("Ground rules for {name}", name=found.name),
                    found.ground_rules,
                    with_rules,
                    card="circle:edit",
                    t=t,
                )
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
        t = reader(interaction)

        async def confirmed(pressed: discord.Interaction[Any]) -> None:
            change = await self.service.archive(actor, found, DiscordGuildOps(guild))
            await pressed.response.edit_message(
                content=t(
                    "Archived **{name}**. Its channel is read-only and its schedules have stopped.", name=found.name
                ),
                view=None,
            )
            await self._audit(guild, actor.user_id, change.audit)

        await reply(
            interaction,
            t(
                "Archive **{name}**? Members keep read access to its history, nobody can post, and scheduled "
                "sessions and prompts stop.",
                name=found.name,
            ),
            view=ConfirmView(
                actor.user_id,
                confirmed,
                card="circle:archive",
                confirm_label=t.p("button", "Archive"),
                danger=False,
                t=t,
            ),
        )

    @circle.command(name="delete", description="Delete a circle and the bot's data for it.", extras=FACILITATE)
    @app_commands.autocomplete(circle=any_circles)
    async def delete(self, interaction: discord.Interaction[Any], circle: str) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found = await self.service.find(guild.id, circle)
        await self.service.access.require_coordinator(guild.id, actor)
        t = reader(interaction)

        async def confirmed(pressed: discord.Interaction[Any]) -> None:
            t = reader(pressed)
            change = await self.service.delete(actor, found, DiscordGuildOps(guild))
            if found.channel_id:
                kept = f"<#{found.channel_id}>"
                text = t(
                    "Deleted **{name}** and its data. The channel {channel} was kept; delete it yourself if its "
                    "history should go too.",
                    name=found.name,
                    channel=kept,
                )
            else:
                text = t("Deleted **{name}** and its data.", name=found.name)
            await pressed.response.edit_message(content=text, view=None)
            await self._audit(guild, actor.user_id, change.audit)

        await reply(
            interaction,
            t(
                "Delete **{name}**? This removes everything peer-circles keeps for it (settings, members' "
                "consent records, and later check-ins, shares and sessions) and its member role. This can't be "
                "undone. If you only want to close it, use /circle archive instead.",
                name=found.name,
            ),
            view=ConfirmView(actor.user_id, confirmed, card="circle:delete", confirm_label=t("Delete circle"), t=t),
        )

    @circle.command(name="repair", description="Re-create a circle's missing channel or role.", extras=FACILITATE)
    @app_commands.autocomplete(circle=any_circles)
    async def repair(self, interaction: discord.Interaction[Any], circle: str) -> None:
        guild = guild_of(interaction)
        actor = actor_from(interaction)
        found = await self.service.find(guild.id, circle)
        await interaction.response.defer(ephemeral=True, thinking=True)
        t = reader(interaction)
        names = await server_speaker(self.settings, guild.id, guild)  # a re-created role or channel is the server's
        report = await self.service.repair(actor, found, DiscordGuildOps(guild), t=names)
        done = bullets(t, report.fixed) or t("- Everything was already in place.")
        await reply(
            interaction,
            view=text_card(t("**Repaired {name}**", name=found.name) + "\n" + done, summary(report.circle, t)),
        )
        if report.fixed:
            await self._audit(guild, actor.user_id, [msg("repaired the circle **{name}**", name=found.name)])

    # -- members ------------------------------------------------------------------------

    @circle.command(name="list", description="The circles in this server.", extras=MEMBER)
    async def list_circles(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        t = reader(interaction)
        circles = await self.service.in_guild(guild.id)
        if not circles:
            await reply(interaction, t("There are no circles here yet. A server admin or coordinator can create one."))
            return
        mine = {r.id for r in getattr(interaction.user, "roles", [])}
        lines = [
            t(
                "- **{name}** (you are in it): {description}",
                name=c.name,
                description=c.description or t("no description"),
            )
            if c.member_role_id in mine
            else t("- **{name}**: {description}", name=c.name, description=c.description or t("no description"))
            for c in circles
        ]
        await reply(
            interaction,
            view=text_card(t("## Circles") + "\n" + "\n".join(lines), t("-# Join one with /circle join.")),
        )

    @circle.command(
        name="info", description="About one circle: its channel, rules and privacy settings.", extras=MEMBER
    )
    @app_commands.autocomplete(circle=any_circles)
    async def info(self, interaction: discord.Interaction[Any], circle: str) -> None:
        found = await self.service.find(guild_of(interaction).id, circle)
        t = reader(interaction)
        await reply(
            interaction,
            view=text_card(summary(found, t), t("**Ground rules**\n{rules}", rules=ground_rules(found, t))),
        )

    @circle.command(name="join", description="Join a circle, after reading its ground rules.", extras=MEMBER)
    @app_commands.autocomplete(circle=active_circles)
    async def join(self, interaction: discord.Interaction[Any], circle: str) -> None:
        guild = guild_of(interaction)
        found = await self.service.find(guild.id, circle, active_only=True)
        self.service.check_joinable(found)
        user_id = interaction.user.id
        t = reader(interaction)

        async def agreed(pressed: discord.Interaction[Any]) -> None:
            new = await self.service.join(found, user_id, DiscordGuildOps(guild))
            await pressed.response.edit_message(content=joined_text(reader(pressed), found, new), view=None)

        role = guild.get_role(found.member_role_id) if found.member_role_id else None
        await reply(
            interaction,
            join_text(found, t, role.name if role else None),
            view=JoinView(user_id, agreed, t),
        )

    @circle.command(name="leave", description="Leave a circle.", extras=MEMBER)
    @app_commands.autocomplete(circle=any_circles)
    async def leave(self, interaction: discord.Interaction[Any], circle: str) -> None:
        guild = guild_of(interaction)
        t = reader(interaction)
        found = await self.service.find(guild.id, circle)
        user_id = interaction.user.id
        left = await self.service.leave(found, user_id, DiscordGuildOps(guild))
        if not left:
            await reply(interaction, t("You aren't in **{name}**, so there's nothing to leave.", name=found.name))
            return

        async def forget(pressed: discord.Interaction[Any]) -> None:
            counts = await self.service.forget_member(found, user_id)
            total = sum(counts.values())
            await pressed.response.edit_message(
                content=reader(pressed).n(
                    "Done: I deleted {n} item about you in **{name}**.",
                    "Done: I deleted {n} items about you in **{name}**.",
                    total,
                    name=found.name,
                ),
                view=None,
            )

        await reply(
            interaction,
            t(
                "You've left **{name}**. Take care of yourself. You can come back any time.\n"
                "Would you like me to delete what I keep about you in this circle? (Anonymous posts stay, "
                "but nothing links them to you.)",
                name=found.name,
            ),
            view=LeaveDataView(user_id, forget, t),
        )

    # -- things changed by hand in Discord ---------------------------------------------

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        circle = await self.service.forget_channel(channel.id)
        if circle is not None:
            await self._notice(
                channel.guild,
                msg(
                    "⚠️ The channel of the **{name}** circle was deleted. Run /circle repair to re-create it.",
                    name=circle.name,
                ),
            )

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        for circle in await self.service.forget_role(role.guild.id, role.id):
            await self._notice(
                role.guild,
                msg(
                    "⚠️ A role of the **{name}** circle was deleted. Run /circle repair to re-create it.",
                    name=circle.name,
                ),
            )

    async def _notice(self, guild: discord.Guild, text: Msg) -> None:
        """A moderation alert: posted for the server, in the server's language."""
        settings = await self.settings.get(guild.id)
        channel = guild.get_channel(settings.mod_channel_id) if settings.mod_channel_id else None
        if isinstance(channel, discord.TextChannel):
            t = await server_speaker(self.settings, guild.id, guild)
            with contextlib.suppress(discord.HTTPException):
                await channel.send(t.render(text), allowed_mentions=NO_PINGS)


def joined_text(t: Speaker, circle: Circle, new: bool) -> str:
    channel = f"<#{circle.channel_id}>"
    if circle.channel_id and new:
        return t("Welcome to **{name}**. Head to {channel} whenever you're ready.", name=circle.name, channel=channel)
    if circle.channel_id:
        return t(
            "You're already in **{name}**. Head to {channel} whenever you're ready.", name=circle.name, channel=channel
        )
    return (
        t("Welcome to **{name}**.", name=circle.name) if new else t("You're already in **{name}**.", name=circle.name)
    )


def _fields(draft: CircleDraft) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in draft.__slots__}
