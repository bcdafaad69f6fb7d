"""/share: post anonymously to a circle, reply, send support, report; moderators act on reports.

Thin: every rule lives in ``bot/services/shares.py``; every anonymous message leaves through
``bot/ui/anonymous.py``. Interactions are always answered ephemerally, so Discord shows nobody a
"used /share" line: the public post is a separate message from the bot.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput, NotFound
from bot.safety import Level
from bot.scheduler import Job
from bot.services.access import AccessService
from bot.services.crisis import CrisisResources
from bot.services.help import Audience
from bot.services.server_settings import ServerSettings
from bot.services.shares import Outcome, Prepared, ReplyPlan, ShareService
from bot.services.support.service import SupportService
from bot.storage.circles import Circle
from bot.storage.shares import Share
from bot.timekeeping.markup import message_link, stamp
from bot.ui.anonymous import AnonymousSender, layout, share_container
from bot.ui.people import actor_from, guild_of
from bot.ui.ports import AskListener
from bot.ui.safety import crisis_sections
from cogs.shares.views import (
    Controls,
    ModButton,
    ReviewButton,
    ShareButton,
    ShareModal,
    TextModal,
    button,
    disabled_public_buttons,
    public_share_view,
    row,
)

log = logging.getLogger(__name__)
MEMBER = {"audience": Audience.MEMBER}
TD = discord.ui.TextDisplay
NO_LISTENERS_NOTE = (
    "This server has no volunteer listeners yet, so one-to-one support isn't available here. "
    "The services above are there for you, any time."
)
LISTENER_OFFER = "You can also talk one-to-one with a volunteer listener, privately: they won't see who you are."


class SharesCog(commands.Cog, name="SharesCog"):
    share = app_commands.Group(name="share", description="Share anonymously with a circle.", guild_only=True)

    def __init__(
        self,
        bot: commands.Bot,
        service: ShareService,
        crisis: CrisisResources,
        settings: ServerSettings,
        access: AccessService,
        support: SupportService,
        ask_listener: AskListener,
    ) -> None:
        self.bot = bot
        self.service = service
        self.crisis = crisis
        self.settings = settings
        self.access = access
        self.support = support
        self.ask_listener = ask_listener
        self.sender = AnonymousSender(bot)
        self.remove_menu = app_commands.ContextMenu(name="Remove anonymous post", callback=self.remove_context)
        self.remove_menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ShareButton, ModButton, ReviewButton)
        self.bot.tree.add_command(self.remove_menu)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ShareButton, ModButton, ReviewButton)
        self.bot.tree.remove_command(self.remove_menu.name, type=self.remove_menu.type)

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    async def _show(interaction: discord.Interaction[Any], view: discord.ui.LayoutView) -> None:
        """Show a private card: edit the card the person is looking at, or send a new one."""
        if interaction.response.is_done():
            await interaction.edit_original_response(view=view)
        elif interaction.message is not None and interaction.message.flags.ephemeral:
            await interaction.response.edit_message(view=view)
        else:
            await interaction.response.send_message(view=view, ephemeral=True)

    async def _mod_channel(self, guild_id: int) -> int | None:
        return (await self.settings.get(guild_id)).mod_channel_id

    async def _listener_choice(self, guild_id: int) -> tuple[str, list[discord.ui.Button[Any]]]:
        """A line and (when this server has listeners) a button that opens a one-to-one request."""
        if not await self.support.has_listeners(guild_id):
            return NO_LISTENERS_NOTE, []

        async def talk(i: discord.Interaction[Any]) -> None:
            await self.ask_listener(i, guild_id, source="share")

        return LISTENER_OFFER, [button("Talk to a listener", talk, keeps_card=True)]

    def _roles(self, interaction: discord.Interaction[Any]) -> set[int]:
        return {r.id for r in getattr(interaction.user, "roles", [])}

    # -- /share post --------------------------------------------------------------------

    async def circle_names(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild is None:
            return []
        roles = self._roles(interaction)
        found = await self.service.circles_in(interaction.guild.id)
        needle = current.casefold()
        return [
            app_commands.Choice(name=c.name, value=c.name)
            for c in found
            if c.member_role_id in roles and c.anonymous_sharing and needle in c.name_key
        ][:25]

    @share.command(name="post", description="Share something with your circle, anonymously.", extras=MEMBER)
    @app_commands.describe(circle="Which circle (default: the one whose channel you're in)")
    @app_commands.autocomplete(circle=circle_names)
    async def post(self, interaction: discord.Interaction[Any], circle: str | None = None) -> None:
        guild = guild_of(interaction)
        target = await self.service.circle_to_post(
            guild.id,
            interaction.user.id,
            name=circle,
            channel_id=interaction.channel_id,
            role_ids=self._roles(interaction),
        )
        if target.premoderation and await self._mod_channel(guild.id) is None:
            raise InvalidInput(
                f"{target.name} reviews shares before they appear, but this server has no moderation channel yet. "
                "Please ask an admin to set one with /setup."
            )
        await interaction.response.send_modal(self._modal(target))

    def _modal(self, circle: Circle, text: str = "", warning: str = "", notify: bool = False) -> ShareModal:
        async def written(submitted: discord.Interaction[Any], new_text: str, new_warning: str) -> None:
            _, allow = await self.service.sharing_options(circle)
            prepared = self.service.prepare(new_text, new_warning, allow_invites=allow)
            if prepared.needs_care:
                await self._care(submitted, circle, prepared, notify)
            else:
                await self._preview(submitted, circle, prepared, notify)

        return ShareModal(circle.name, written, text=text, warning=warning)

    async def _care(
        self, interaction: discord.Interaction[Any], circle: Circle, prepared: Prepared, notify: bool
    ) -> None:
        """Crisis words: resources first, privately; the person decides what happens next."""
        owner = interaction.user.id
        sections = await crisis_sections(self.crisis, self.settings, circle.guild_id)

        async def post_anyway(i: discord.Interaction[Any]) -> None:
            await self._preview(i, circle, prepared, notify)

        async def cancel(i: discord.Interaction[Any]) -> None:
            await self._show(
                i,
                Controls(
                    owner,
                    TD("Okay, nothing was posted. Take care of yourself; /resources is always here."),
                    card="share:post",
                ),
            )

        note, talk = await self._listener_choice(circle.guild_id)
        view = Controls(
            owner,
            *[TD(s) for s in sections],
            TD(f"-# {note}"),
            TD("Would you still like to share this with your circle? You'll see a preview first."),
            row(
                button("Continue to preview", post_anyway, discord.ButtonStyle.primary),
                *talk,
                button("Don't post", cancel),
            ),
            card="share:post",
        )
        await self._show(interaction, view)

    async def _preview(
        self, interaction: discord.Interaction[Any], circle: Circle, prepared: Prepared, notify: bool
    ) -> None:
        owner = interaction.user.id
        pseudonym = await self.service.preview_name(circle, owner)
        delay, allow = await self.service.sharing_options(circle)
        when = (
            f" It will appear at a random moment up to {delay} seconds after you press Post, so nobody can match "
            "the moment you posted."
            if delay
            else ""
        )
        review = " A moderator will review it first (they won't see who wrote it)." if circle.premoderation else ""

        async def do_post(i: discord.Interaction[Any]) -> None:
            await i.response.defer()
            submitted = await self.service.submit(circle, owner, prepared, notify=notify)
            share = submitted.share
            if submitted.outcome is Outcome.POSTED:
                share = await self._publish(share)
                text = f"Posted in <#{circle.channel_id}> as **{share.pseudonym}**. [See it]({message_link(circle.guild_id, share.channel_id, share.message_id)})"
            elif submitted.outcome is Outcome.SCHEDULED and submitted.post_at is not None:
                text = f"It will appear in <#{circle.channel_id}> {stamp(submitted.post_at, 'R')} as **{share.pseudonym}**."
            else:
                await self._send_for_review(share, circle)
                text = "Sent to the moderators for a quick review. I'll tell you privately when it's decided."
            await self._show(
                i,
                Controls(
                    owner,
                    TD(text + "\n-# /share mine lists your shares; you can delete them there."),
                    card="share:post",
                ),
            )

        async def edit(i: discord.Interaction[Any]) -> None:
            await i.response.send_modal(self._modal(circle, prepared.text, prepared.content_warning or "", notify))

        async def cancel(i: discord.Interaction[Any]) -> None:
            await self._show(i, Controls(owner, TD("Cancelled: nothing was posted or kept."), card="share:post"))

        async def toggle(i: discord.Interaction[Any]) -> None:
            await self._preview(i, circle, prepared, not notify)

        notify_label = "Tell me about replies: on" if notify else "Tell me about replies: off"
        view = Controls(
            owner,
            TD(
                f"**Preview.** This is exactly how your share will look in <#{circle.channel_id}>. Nothing is posted until you press Post.{when}{review}"
            ),
            share_container(
                pseudonym, prepared.text, prepared.content_warning, disabled_public_buttons(), allow_invites=allow
            ),
            row(
                # Post runs once: a double click is told it's in hand, a later press that the card expired.
                button("Post", do_post, discord.ButtonStyle.success, action="post"),
                button("Edit", edit, keeps_card=True, action="edit"),  # the form may be closed unsent
                button("Cancel", cancel, action="cancel"),
                button(notify_label, toggle, action="notify"),
            ),
            TD("-# With replies on, I'll DM you when someone replies or sends support; never who."),
            card="share:post",
        )
        await self._show(interaction, view)

    async def _publish(self, share: Share) -> Share:
        circle = await self.service.circle_of(share)  # fresh: the preview may be half an hour old
        if circle.channel_id is None:
            raise InvalidInput(f"{circle.name} has no channel right now; a coordinator can run /circle repair.")
        _, allow = await self.service.sharing_options(circle)
        message_id, thread_id = await self.sender.post_share(
            circle.channel_id, share.pseudonym, public_share_view(share, allow_invites=allow)
        )
        share = await self.service.mark_posted(share, circle.channel_id, message_id, thread_id)
        log.info("share posted share=%s circle=%s", share.public_id, circle.id)
        if share.risk == Level.URGENT.value:
            await self._alert(share, circle)
        return share

    async def post_due(self, job: Job) -> None:
        """Scheduler handler: a delayed share's moment has come."""
        share = await self.service.find(str(job.payload.get("share")))
        if share is None or share.status != "scheduled":
            return
        await self._publish(share)

    async def _alert(self, share: Share, circle: Circle) -> None:
        channel_id = await self._mod_channel(share.guild_id)
        if channel_id is None:
            return
        view = layout(
            discord.ui.Container(
                TD(
                    f"💛 **An anonymous share in {circle.name} may be from someone in crisis.** Nobody, including me, "
                    "knows who wrote it. They have already been shown crisis resources. If you can, reply gently in its "
                    f"thread. [Go to the post]({message_link(share.guild_id, share.channel_id, share.message_id)})"
                ),
                row(ShareButton("reply", share.public_id)),
                accent_colour=discord.Colour.gold(),
            )
        )
        await self.sender.post(channel_id, view)
        log.info("urgent share alert sent share=%s", share.public_id)

    # -- pre-moderation -----------------------------------------------------------------

    async def _send_for_review(self, share: Share, circle: Circle) -> None:
        channel_id = await self._mod_channel(share.guild_id)
        if channel_id is None:
            raise InvalidInput("No moderation channel is set, so I can't send this for review.")
        _, allow = await self.service.sharing_options(circle)
        view = layout(
            TD(
                f"📝 **A new anonymous share in {circle.name} is waiting for review.** Nobody, including moderators, can see who wrote it."
            ),
            share_container(share.pseudonym, share.content or "", share.content_warning, [], allow_invites=allow),
            row(ReviewButton("approve", share.public_id), ReviewButton("reject", share.public_id)),
        )
        message = await self.sender.post(channel_id, view)
        await self.service.record_review_card(share, message.id)

    async def on_review_button(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None:
        share = await self.service.find(public_id)
        if share is None:
            raise NotFound("That share no longer exists.")
        circle = await self.service.require_moderator(share, actor_from(interaction))
        if action == "approve":
            await interaction.response.defer()
            author = await self.service.author_id(share)
            share = await self.service.decide_review(share, approve=True)
            share = await self._publish(share)
            if author is not None:
                await self.sender.tell_privately(
                    author,
                    f"Your anonymous share in **{circle.name}** was approved and is now posted: {message_link(share.guild_id, share.channel_id, share.message_id)}",
                )
            await self.service.forget_author_id_unless_notify(share)
            await interaction.edit_original_response(
                view=layout(
                    TD(
                        f"✅ <@{interaction.user.id}> approved an anonymous share in {circle.name}. [Go to it]({message_link(share.guild_id, share.channel_id, share.message_id)})"
                    )
                )
            )
            return

        async def rejected(submitted: discord.Interaction[Any], reason: str) -> None:
            decided = await self.service.decide_review(share, approve=False)
            author = await self.service.author_id(share)
            if author is not None:
                why = f"\nThe moderator's note: {reason.strip()}" if reason.strip() else ""
                await self.sender.tell_privately(
                    author,
                    f"Your anonymous share in **{circle.name}** wasn't approved, so it wasn't posted.{why}\n"
                    "You're welcome to write something else; /resources is there if you need support.",
                )
            await self.service.forget_author_id(decided)
            await submitted.response.edit_message(
                view=layout(TD(f"❌ <@{submitted.user.id}> didn't approve an anonymous share in {circle.name}."))
            )

        await interaction.response.send_modal(
            TextModal(
                "Not approving this share",
                "A note for the author (optional)",
                rejected,
                card="share:rejecting",
                required=False,
                max_length=500,
                description="Sent privately to the author. They won't learn who you are.",
            )
        )

    # -- public buttons -----------------------------------------------------------------

    async def on_share_button(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None:
        share = await self.service.get(public_id)
        if action == "support":
            await self._support(interaction, share)
        elif action == "reply":
            await interaction.response.send_modal(
                TextModal(
                    "Reply anonymously",
                    "Your reply",
                    lambda i, text: self._reply(i, share, text),
                    card="share:replying",
                    description="Posted in the thread under a pseudonym. Speak from your own experience.",
                )
            )
        else:
            await interaction.response.send_modal(
                TextModal(
                    "Report this share",
                    "What's wrong?",
                    lambda i, text: self._report(i, share, text),
                    card="share:reporting",
                    max_length=500,
                    description="Only moderators see this. They won't learn that you reported it.",
                )
            )

    async def _support(self, interaction: discord.Interaction[Any], share: Share) -> None:
        await interaction.response.defer(ephemeral=True, thinking=False)
        added, share = await self.service.support(share, interaction.user.id)
        if added and share.channel_id and share.message_id:
            circle = await self.service.circle_of(share)
            _, allow = await self.service.sharing_options(circle)
            await self.sender.edit(share.channel_id, share.message_id, public_share_view(share, allow_invites=allow))
            author = await self.service.author_id(share) if share.notify else None
            if author is not None and author != interaction.user.id:
                await self.sender.tell_privately(
                    author, f"Someone sent support to your anonymous share in **{circle.name}** 💛"
                )
        text = (
            "Your support was sent 💛 Nobody sees who sends it."
            if added
            else "You've already sent support to this share 💛"
        )
        await interaction.followup.send(text, ephemeral=True)

    async def _reply(self, interaction: discord.Interaction[Any], share: Share, text: str) -> None:
        plan = await self.service.plan_reply(share, interaction.user.id, text)
        if plan.assessment.level is not Level.NONE:
            owner = interaction.user.id
            sections = await crisis_sections(self.crisis, self.settings, share.guild_id)

            async def anyway(i: discord.Interaction[Any]) -> None:
                await self._post_reply(i, plan)

            async def cancel(i: discord.Interaction[Any]) -> None:
                await self._show(
                    i,
                    Controls(
                        owner, TD("Okay, your reply wasn't posted. Take care of yourself."), card="share:replying"
                    ),
                )

            note, talk = await self._listener_choice(share.guild_id)
            await self._show(
                interaction,
                Controls(
                    owner,
                    *[TD(s) for s in sections],
                    TD(f"-# {note}"),
                    row(
                        button("Post my reply", anyway, discord.ButtonStyle.primary),
                        *talk,
                        button("Don't post", cancel),
                    ),
                    card="share:replying",
                ),
            )
            return
        await self._post_reply(interaction, plan)

    async def _post_reply(self, interaction: discord.Interaction[Any], plan: ReplyPlan) -> None:
        if not interaction.response.is_done():
            await interaction.response.defer(ephemeral=True, thinking=True)
        share = plan.share
        circle = await self.service.circle_of(share)
        _, allow = await self.service.sharing_options(circle)
        assert share.thread_id is not None
        message_id = await self.sender.post_reply(
            share.thread_id, plan.pseudonym, plan.text, plan.is_author, allow_invites=allow
        )
        await self.service.record_reply(plan, message_id)
        if share.notify and not plan.is_author:
            author = await self.service.author_id(share)
            if author is not None:
                await self.sender.tell_privately(
                    author,
                    f"Someone replied to your anonymous share in **{circle.name}**: {message_link(share.guild_id, share.thread_id, message_id)}",
                )
        marker = " (marked as the author)" if plan.is_author else ""
        done = f"Your reply is in the thread as **{plan.pseudonym}**{marker}. [See it]({message_link(share.guild_id, share.thread_id, message_id)})"
        await self._show(interaction, Controls(interaction.user.id, TD(done), card="share:replying"))

    async def _report(self, interaction: discord.Interaction[Any], share: Share, reason: str) -> None:
        channel_id = await self._mod_channel(share.guild_id)
        if channel_id is None:
            raise InvalidInput(
                "This server has no moderation channel yet, so reports can't reach anyone. Please tell a facilitator or an admin."
            )
        report = await self.service.report(share, interaction.user.id, reason)
        circle = await self.service.circle_of(share)
        _, allow = await self.service.sharing_options(circle)
        view = layout(
            TD(
                f"🚩 **A report on an anonymous share in {circle.name}.** [Go to the post]({message_link(share.guild_id, share.channel_id, share.message_id)})\n**Reason given:** {report.reason}"
            ),
            share_container(share.pseudonym, share.content or "", share.content_warning, [], allow_invites=allow),
            row(
                *[ModButton(action, report.id) for action in ("remove", "mute1d", "mute7d", "mutepermanent", "dismiss")]
            ),
            TD(
                "-# Nobody, including moderators, can see who wrote this or who reported it. Muting is keyed to the poster, so it holds across pseudonyms."
            ),
        )
        message = await self.sender.post(channel_id, view)
        await self.service.record_report_card(report, message.id)
        await interaction.response.send_message(
            "Thank you for telling us. The moderators will look at it, and nobody will know you reported it.",
            ephemeral=True,
        )

    # -- moderation ---------------------------------------------------------------------

    async def on_mod_button(self, interaction: discord.Interaction[Any], action: str, report_id: int) -> None:
        report, share = await self.service.open_report(report_id)
        circle = await self.service.require_moderator(share, actor_from(interaction))
        # Closed before acting: of two moderators pressing at the same moment, one acts.
        status = {"remove": "removed", "dismiss": "dismissed"}.get(action, "muted")
        await self.service.close_report(report, status)
        who = f"<@{interaction.user.id}>"
        try:
            if action == "remove":
                await self._take_down(share)
                outcome = f"{who} removed the post."
            elif action.startswith("mute"):
                until = await self.service.mute_author(share, action.removeprefix("mute"))
                length = f"until {stamp(until, 'f')}" if until else "until a moderator lifts it"
                outcome = f"{who} muted the poster in {circle.name} {length}. They'll learn it privately when they next try to post."
            else:
                outcome = f"{who} dismissed the report."
        except Exception:
            await self.service.reopen_report(report)  # it didn't happen: the report stays open
            raise
        await interaction.response.edit_message(view=layout(TD(f"🚩 Report on a share in {circle.name}: {outcome}")))

    async def _take_down(self, share: Share) -> None:
        if share.channel_id and share.message_id:
            await self.sender.delete(share.channel_id, share.message_id)
        if share.thread_id:
            thread = self.bot.get_channel(share.thread_id)
            if isinstance(thread, discord.Thread):
                try:
                    await thread.delete()
                except discord.HTTPException:
                    log.info("could not delete a reply thread share=%s", share.public_id)
        await self.service.remove(share)

    async def remove_context(self, interaction: discord.Interaction[Any], message: discord.Message) -> None:
        """Message menu → Apps → Remove anonymous post (facilitators and coordinators)."""
        share = await self.service.by_message(message.id)
        if share is not None:
            await self.service.require_moderator(share, actor_from(interaction))
            await self._take_down(share)
            await interaction.response.send_message("Removed the anonymous post and its replies.", ephemeral=True)
            return
        found = await self.service.reply_share(message.id)
        if found is None:
            raise InvalidInput("That isn't an anonymous post or reply from me.")
        reply_id, parent = found
        await self.service.require_moderator(parent, actor_from(interaction))
        await message.delete()
        await self.service.remove_reply(reply_id)
        await interaction.response.send_message("Removed the anonymous reply.", ephemeral=True)

    # -- /share mine --------------------------------------------------------------------

    @share.command(name="mine", description="Your anonymous shares in this server; delete any of them.", extras=MEMBER)
    async def mine(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        await self._show(interaction, await self._mine_view(guild.id, interaction.user.id))

    async def _mine_view(self, guild_id: int, user_id: int) -> Controls:
        shares = await self.service.mine(guild_id, user_id)
        if not shares:
            return Controls(user_id, TD("You have no anonymous shares here right now."), card="share:mine")
        circles = {c.id: c.name for c in await self.service.circles_in(guild_id, include_archived=True)}
        items: list[discord.ui.Item[Any]] = [
            TD(
                "## Your anonymous shares\nOnly you can see this list. Deleting removes the post and its replies for everyone."
            )
        ]
        for share in shares:
            status = {"posted": "posted", "scheduled": "about to appear", "pending_review": "waiting for review"}[
                share.status
            ]
            snippet = (share.content or "").replace("\n", " ")[:90]
            where = (
                f"[{circles.get(share.circle_id, 'a circle')}]({message_link(guild_id, share.channel_id, share.message_id)})"
                if share.message_id
                else circles.get(share.circle_id, "a circle")
            )
            items.append(
                discord.ui.Section(
                    TD(
                        f"**{where}** · as {share.pseudonym} · {status} · 💛 {share.support_count} · 💬 {share.reply_count}\n> {snippet}"
                    ),
                    accessory=button("Delete", self._delete_handler(share, user_id), discord.ButtonStyle.danger),
                )
            )
        return Controls(user_id, *items, card="share:mine")

    def _delete_handler(self, share: Share, user_id: int) -> Any:
        async def ask(interaction: discord.Interaction[Any]) -> None:
            async def confirm(i: discord.Interaction[Any]) -> None:
                await i.response.defer()
                own = await self.service.own(share.public_id, user_id)
                await self._take_down(own)
                if own.review_message_id:
                    channel_id = await self._mod_channel(own.guild_id)
                    if channel_id:
                        await self.sender.delete(channel_id, own.review_message_id)
                await self.service.delete_own(own)
                view = await self._mine_view(own.guild_id, user_id)
                view.add_item(TD("-# Deleted. It's gone from the circle, and nothing links it to you any more."))
                await self._show(i, view)

            async def keep(i: discord.Interaction[Any]) -> None:
                await self._show(i, await self._mine_view(share.guild_id, user_id))

            await self._show(
                interaction,
                Controls(
                    user_id,
                    TD(
                        f"Delete your share posted as **{share.pseudonym}**? It disappears from the circle with its replies. This can't be undone."
                    ),
                    row(button("Delete it", confirm, discord.ButtonStyle.danger), button("Keep it", keep)),
                    card="share:mine",
                ),
            )

        return ask
