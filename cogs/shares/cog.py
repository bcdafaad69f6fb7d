"""/share: post anonymously to a circle, reply, send support, report; moderators act on reports.

Thin: every rule lives in ``bot/services/shares.py``; every anonymous message leaves through
``bot/ui/anonymous.py``. Interactions are always answered ephemerally, so Discord shows nobody a
"used /share" line: the public post is a separate message from the bot.

Who reads which language: forms, previews, errors, the crisis card and every private answer are in
the language of the person who pressed (``reader``); the share itself, its buttons, its reply
thread and its pseudonym, and the moderators' alert, review and report cards are in the server's
(``server_speaker``), so nothing public says anything about the writer; a DM sent later (a reply
or support arrived, a review decision) is in the language its reader last used with the bot
(``member_speaker``).
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput, NotFound
from bot.i18n import N_, Speaker, msg
from bot.safety import Level
from bot.scheduler import Job
from bot.services.access import AccessService
from bot.services.crisis import CrisisResources
from bot.services.help import Audience
from bot.services.member_time import MemberTimeService
from bot.services.server_settings import ServerSettings
from bot.services.shares import Outcome, Prepared, ReplyPlan, ShareService
from bot.services.support.service import SupportService
from bot.storage.circles import Circle
from bot.storage.shares import Share
from bot.timekeeping.markup import message_link, stamp
from bot.ui.anonymous import AnonymousSender, layout, share_container
from bot.ui.language import member_speaker, reader, server_speaker
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
NO_LISTENERS_NOTE = N_(
    "This server has no volunteer listeners yet, so one-to-one support isn't available here. "
    "The services above are there for you, any time."
)
LISTENER_OFFER = N_("You can also talk one-to-one with a volunteer listener, privately: they won't see who you are.")
SHARE_STATUS = {"posted": N_("posted"), "scheduled": N_("about to appear"), "pending_review": N_("waiting for review")}


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
        member_time: MemberTimeService,
    ) -> None:
        self.bot = bot
        self.service = service
        self.crisis = crisis
        self.settings = settings
        self.access = access
        self.support = support
        self.ask_listener = ask_listener
        self.member_time = member_time
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

    async def _server(self, guild_id: int) -> Speaker:
        """Words for the circle and its moderators: the server's language."""
        return await server_speaker(self.settings, guild_id, self.bot.get_guild(guild_id))

    async def _dm(self, guild_id: int, user_id: int) -> Speaker:
        """Words for a DM sent later: the language the person last used with the bot here."""
        return await member_speaker(self.member_time, guild_id, user_id, self.bot.get_guild(guild_id))

    async def _listener_choice(self, guild_id: int, t: Speaker) -> tuple[str, list[discord.ui.Button[Any]]]:
        """A line and (when this server has listeners) a button that opens a one-to-one request."""
        if not await self.support.has_listeners(guild_id):
            return t(NO_LISTENERS_NOTE), []

        async def talk(i: discord.Interaction[Any]) -> None:
            await self.ask_listener(i, guild_id, source="share")

        return t(LISTENER_OFFER), [button(t("Talk to a listener"), talk, keeps_card=True)]

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
                msg(
                    "{circle} reviews shares before they appear, but this server has no moderation channel yet. "
                    "Please ask an admin to set one with /setup.",
                    circle=target.name,
                )
            )
        await interaction.response.send_modal(self._modal(target, reader(interaction)))

    def _modal(self, circle: Circle, t: Speaker, text: str = "", warning: str = "", notify: bool = False) -> ShareModal:
        async def written(submitted: discord.Interaction[Any], new_text: str, new_warning: str) -> None:
            _, allow = await self.service.sharing_options(circle)
            prepared = self.service.prepare(new_text, new_warning, allow_invites=allow)
            if prepared.needs_care:
                await self._care(submitted, circle, prepared, notify)
            else:
                await self._preview(submitted, circle, prepared, notify)

        return ShareModal(circle.name, written, t=t, text=text, warning=warning)

    async def _care(
        self, interaction: discord.Interaction[Any], circle: Circle, prepared: Prepared, notify: bool
    ) -> None:
        """Crisis words: resources first, privately; the person decides what happens next."""
        owner = interaction.user.id
        t = reader(interaction)
        sections = await crisis_sections(self.crisis, self.settings, circle.guild_id, t=t)

        async def post_anyway(i: discord.Interaction[Any]) -> None:
            await self._preview(i, circle, prepared, notify)

        async def cancel(i: discord.Interaction[Any]) -> None:
            t = reader(i)
            await self._show(
                i,
                Controls(
                    owner,
                    TD(t("Okay, nothing was posted. Take care of yourself; /resources is always here.")),
                    card="share:post",
                ),
            )

        note, talk = await self._listener_choice(circle.guild_id, t)
        view = Controls(
            owner,
            *[TD(s) for s in sections],
            TD(f"-# {note}"),
            TD(t("Would you still like to share this with your circle? You'll see a preview first.")),
            row(
                button(t("Continue to preview"), post_anyway, discord.ButtonStyle.primary),
                *talk,
                button(t("Don't post"), cancel),
            ),
            card="share:post",
        )
        await self._show(interaction, view)

    async def _preview(
        self, interaction: discord.Interaction[Any], circle: Circle, prepared: Prepared, notify: bool
    ) -> None:
        owner = interaction.user.id
        t = reader(interaction)  # the frame and its buttons: the writer's language
        circle_t = await self._server(circle.guild_id)  # the share as the circle will see it, and its pseudonym
        pseudonym = await self.service.preview_name(circle, owner, language=circle_t.language)
        delay, allow = await self.service.sharing_options(circle)
        channel = f"<#{circle.channel_id}>"
        about = [
            # Translators: "Post" is the button below the preview.
            t(
                "**Preview.** This is exactly how your share will look in {channel}. "
                "Nothing is posted until you press Post.",
                channel=channel,
            )
        ]
        if delay:
            about.append(
                t.n(
                    "It will appear at a random moment up to {n} second after you press Post, so nobody can match "
                    "the moment you posted.",
                    "It will appear at a random moment up to {n} seconds after you press Post, so nobody can match "
                    "the moment you posted.",
                    delay,
                )
            )
        if circle.premoderation:
            about.append(t("A moderator will review it first (they won't see who wrote it)."))

        async def do_post(i: discord.Interaction[Any]) -> None:
            await i.response.defer()
            t = reader(i)
            language = (await self._server(circle.guild_id)).language
            submitted = await self.service.submit(circle, owner, prepared, notify=notify, language=language)
            share = submitted.share
            if submitted.outcome is Outcome.POSTED:
                share = await self._publish(share)
                text = t(
                    "Posted in {channel} as **{pseudonym}**. [See it]({link})",
                    channel=channel,
                    pseudonym=share.pseudonym,
                    link=message_link(circle.guild_id, share.channel_id, share.message_id),
                )
            elif submitted.outcome is Outcome.SCHEDULED and submitted.post_at is not None:
                text = t(
                    "It will appear in {channel} {when} as **{pseudonym}**.",
                    channel=channel,
                    when=stamp(submitted.post_at, "R"),
                    pseudonym=share.pseudonym,
                )
            else:
                await self._send_for_review(share, circle)
                text = t("Sent to the moderators for a quick review. I'll tell you privately when it's decided.")
            await self._show(
                i,
                Controls(
                    owner,
                    TD(text + "\n" + t("-# /share mine lists your shares; you can delete them there.")),
                    card="share:post",
                ),
            )

        async def edit(i: discord.Interaction[Any]) -> None:
            await i.response.send_modal(
                self._modal(circle, reader(i), prepared.text, prepared.content_warning or "", notify)
            )

        async def cancel(i: discord.Interaction[Any]) -> None:
            t = reader(i)
            await self._show(i, Controls(owner, TD(t("Cancelled: nothing was posted or kept.")), card="share:post"))

        async def toggle(i: discord.Interaction[Any]) -> None:
            await self._preview(i, circle, prepared, not notify)

        notify_label = t("Tell me about replies: on") if notify else t("Tell me about replies: off")
        view = Controls(
            owner,
            TD(" ".join(about)),
            share_container(
                pseudonym,
                prepared.text,
                prepared.content_warning,
                disabled_public_buttons(circle_t),
                t=circle_t,
                allow_invites=allow,
            ),
            row(
                # Post runs once: a double click is told it's in hand, a later press that the card expired.
                button(t.p("button", "Post"), do_post, discord.ButtonStyle.success, action="post"),
                button(t.p("button", "Edit"), edit, keeps_card=True, action="edit"),  # the form may be closed unsent
                button(t.p("button", "Cancel"), cancel, action="cancel"),
                button(notify_label, toggle, action="notify"),
            ),
            TD(t("-# With replies on, I'll DM you when someone replies or sends support; never who.")),
            card="share:post",
        )
        await self._show(interaction, view)

    async def _publish(self, share: Share) -> Share:
        circle = await self.service.circle_of(share)  # fresh: the preview may be half an hour old
        if circle.channel_id is None:
            raise InvalidInput(
                msg("{circle} has no channel right now; a coordinator can run /circle repair.", circle=circle.name)
            )
        _, allow = await self.service.sharing_options(circle)
        t = await self._server(share.guild_id)
        message_id, thread_id = await self.sender.post_share(
            circle.channel_id, share.pseudonym, public_share_view(share, t=t, allow_invites=allow), t=t
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
        t = await self._server(share.guild_id)
        view = layout(
            discord.ui.Container(
                TD(
                    t(
                        "💛 **An anonymous share in {circle} may be from someone in crisis.** Nobody, including me, "
                        "knows who wrote it. They have already been shown crisis resources. If you can, reply gently "
                        "in its thread. [Go to the post]({link})",
                        circle=circle.name,
                        link=message_link(share.guild_id, share.channel_id, share.message_id),
                    )
                ),
                row(ShareButton("reply", share.public_id, t=t)),
                accent_colour=discord.Colour.gold(),
            )
        )
        await self.sender.post(channel_id, view)
        log.info("urgent share alert sent share=%s", share.public_id)

    # -- pre-moderation -----------------------------------------------------------------

    async def _send_for_review(self, share: Share, circle: Circle) -> None:
        channel_id = await self._mod_channel(share.guild_id)
        if channel_id is None:
            raise InvalidInput(msg("No moderation channel is set, so I can't send this for review."))
        _, allow = await self.service.sharing_options(circle)
        t = await self._server(share.guild_id)
        view = layout(
            TD(
                t(
                    "📝 **A new anonymous share in {circle} is waiting for review.** "
                    "Nobody, including moderators, can see who wrote it.",
                    circle=circle.name,
                )
            ),
            share_container(share.pseudonym, share.content or "", share.content_warning, [], t=t, allow_invites=allow),
            row(ReviewButton("approve", share.public_id, t=t), ReviewButton("reject", share.public_id, t=t)),
        )
        message = await self.sender.post(channel_id, view)
        await self.service.record_review_card(share, message.id)

    async def on_review_button(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None:
        share = await self.service.find(public_id)
        if share is None:
            raise NotFound(msg("That share no longer exists."))
        circle = await self.service.require_moderator(share, actor_from(interaction))
        if action == "approve":
            await interaction.response.defer()
            author = await self.service.author_id(share)
            share = await self.service.decide_review(share, approve=True)
            share = await self._publish(share)
            link = message_link(share.guild_id, share.channel_id, share.message_id)
            if author is not None:
                t = await self._dm(share.guild_id, author)
                await self.sender.tell_privately(
                    author,
                    t(
                        "Your anonymous share in **{circle}** was approved and is now posted: {link}",
                        circle=circle.name,
                        link=link,
                    ),
                )
            await self.service.forget_author_id_unless_notify(share)
            t = await self._server(share.guild_id)  # the review card is the moderators' record
            moderator = f"<@{interaction.user.id}>"
            await interaction.edit_original_response(
                view=layout(
                    TD(
                        t(
                            "✅ {moderator} approved an anonymous share in {circle}. [Go to it]({link})",
                            moderator=moderator,
                            circle=circle.name,
                            link=link,
                        )
                    )
                )
            )
            return

        async def rejected(submitted: discord.Interaction[Any], reason: str) -> None:
            await self.service.decide_review(share, approve=False)
            author = await self.service.author_id(share)
            if author is not None:
                t = await self._dm(share.guild_id, author)
                lines = [
                    t("Your anonymous share in **{circle}** wasn't approved, so it wasn't posted.", circle=circle.name)
                ]
                if reason.strip():
                    lines.append(t("The moderator's note: {note}", note=reason.strip()))
                lines.append(t("You're welcome to write something else; /resources is there if you need support."))
                await self.sender.tell_privately(author, "\n".join(lines))
            t = await self._server(share.guild_id)
            moderator = f"<@{submitted.user.id}>"
            await submitted.response.edit_message(
                view=layout(
                    TD(
                        t(
                            "❌ {moderator} didn't approve an anonymous share in {circle}.",
                            moderator=moderator,
                            circle=circle.name,
                        )
                    )
                )
            )

        t = reader(interaction)  # the form is the moderator's own
        await interaction.response.send_modal(
            TextModal(
                t("Not approving this share"),
                t("A note for the author (optional)"),
                rejected,
                card="share:rejecting",
                required=False,
                max_length=500,
                description=t("Sent privately to the author. They won't learn who you are."),
            )
        )

    # -- public buttons -----------------------------------------------------------------

    async def on_share_button(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None:
        share = await self.service.get(public_id)
        t = reader(interaction)
        if action == "support":
            await self._support(interaction, share)
        elif action == "reply":
            await interaction.response.send_modal(
                TextModal(
                    t("Reply anonymously"),
                    t("Your reply"),
                    lambda i, text: self._reply(i, share, text),
                    card="share:replying",
                    description=t("Posted in the thread under a pseudonym. Speak from your own experience."),
                )
            )
        else:
            await interaction.response.send_modal(
                TextModal(
                    t("Report this share"),
                    t("What's wrong?"),
                    lambda i, text: self._report(i, share, text),
                    card="share:reporting",
                    max_length=500,
                    description=t("Only moderators see this. They won't learn that you reported it."),
                )
            )

    async def _support(self, interaction: discord.Interaction[Any], share: Share) -> None:
        await interaction.response.defer(ephemeral=True, thinking=False)
        added, share = await self.service.support(share, interaction.user.id)
        if added and share.channel_id and share.message_id:
            circle = await self.service.circle_of(share)
            _, allow = await self.service.sharing_options(circle)
            view = public_share_view(share, t=await self._server(share.guild_id), allow_invites=allow)
            await self.sender.edit(share.channel_id, share.message_id, view)
            author = await self.service.author_id(share) if share.notify else None
            if author is not None and author != interaction.user.id:
                t = await self._dm(share.guild_id, author)
                await self.sender.tell_privately(
                    author, t("Someone sent support to your anonymous share in **{circle}** 💛", circle=circle.name)
                )
        t = reader(interaction)
        text = (
            t("Your support was sent 💛 Nobody sees who sends it.")
            if added
            else t("You've already sent support to this share 💛")
        )
        await interaction.followup.send(text, ephemeral=True)

    async def _reply(self, interaction: discord.Interaction[Any], share: Share, text: str) -> None:
        language = (await self._server(share.guild_id)).language  # a new pseudonym is in the circle's words
        plan = await self.service.plan_reply(share, interaction.user.id, text, language=language)
        if plan.assessment.level is not Level.NONE:
            owner = interaction.user.id
            t = reader(interaction)
            sections = await crisis_sections(self.crisis, self.settings, share.guild_id, t=t)

            async def anyway(i: discord.Interaction[Any]) -> None:
                await self._post_reply(i, plan)

            async def cancel(i: discord.Interaction[Any]) -> None:
                t = reader(i)
                await self._show(
                    i,
                    Controls(
                        owner,
                        TD(t("Okay, your reply wasn't posted. Take care of yourself.")),
                        card="share:replying",
                    ),
                )

            note, talk = await self._listener_choice(share.guild_id, t)
            await self._show(
                interaction,
                Controls(
                    owner,
                    *[TD(s) for s in sections],
                    TD(f"-# {note}"),
                    row(
                        button(t("Post my reply"), anyway, discord.ButtonStyle.primary),
                        *talk,
                        button(t("Don't post"), cancel),
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
            share.thread_id,
            plan.pseudonym,
            plan.text,
            plan.is_author,
            t=await self._server(share.guild_id),
            allow_invites=allow,
        )
        await self.service.record_reply(plan, message_id)
        link = message_link(share.guild_id, share.thread_id, message_id)
        if share.notify and not plan.is_author:
            author = await self.service.author_id(share)
            if author is not None:
                t = await self._dm(share.guild_id, author)
                await self.sender.tell_privately(
                    author,
                    t("Someone replied to your anonymous share in **{circle}**: {link}", circle=circle.name, link=link),
                )
        t = reader(interaction)
        if plan.is_author:
            done = t(
                "Your reply is in the thread as **{pseudonym}** (marked as the author). [See it]({link})",
                pseudonym=plan.pseudonym,
                link=link,
            )
        else:
            done = t(
                "Your reply is in the thread as **{pseudonym}**. [See it]({link})", pseudonym=plan.pseudonym, link=link
            )
        await self._show(interaction, Controls(interaction.user.id, TD(done), card="share:replying"))

    async def _report(self, interaction: discord.Interaction[Any], share: Share, reason: str) -> None:
        channel_id = await self._mod_channel(share.guild_id)
        if channel_id is None:
            raise InvalidInput(
                msg(
                    "This server has no moderation channel yet, so reports can't reach anyone. "
                    "Please tell a facilitator or an admin."
                )
            )
        report = await self.service.report(share, interaction.user.id, reason)
        circle = await self.service.circle_of(share)
        _, allow = await self.service.sharing_options(circle)
        t = await self._server(share.guild_id)
        actions = ("remove", "mute1d", "mute7d", "mutepermanent", "dismiss")
        view = layout(
            TD(
                t(
                    "🚩 **A report on an anonymous share in {circle}.** [Go to the post]({link})\n"
                    "**Reason given:** {reason}",
                    circle=circle.name,
                    link=message_link(share.guild_id, share.channel_id, share.message_id),
                    reason=report.reason,
                )
            ),
            share_container(share.pseudonym, share.content or "", share.content_warning, [], t=t, allow_invites=allow),
            row(*[ModButton(action, report.id, t=t) for action in actions]),
            TD(
                t(
                    "-# Nobody, including moderators, can see who wrote this or who reported it. "
                    "Muting is keyed to the poster, so it holds across pseudonyms."
                )
            ),
        )
        message = await self.sender.post(channel_id, view)
        await self.service.record_report_card(report, message.id)
        t = reader(interaction)
        await interaction.response.send_message(
            t("Thank you for telling us. The moderators will look at it, and nobody will know you reported it."),
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
        t = await self._server(share.guild_id)  # the report card is the moderators' record
        try:
            if action == "remove":
                await self._take_down(share)
                outcome = t("{moderator} removed the post.", moderator=who)
            elif action.startswith("mute"):
                until = await self.service.mute_author(share, action.removeprefix("mute"))
                if until:
                    outcome = t(
                        "{moderator} muted the poster in {circle} until {when}. "
                        "They'll learn it privately when they next try to post.",
                        moderator=who,
                        circle=circle.name,
                        when=stamp(until, "f"),
                    )
                else:
                    outcome = t(
                        "{moderator} muted the poster in {circle} until a moderator lifts it. "
                        "They'll learn it privately when they next try to post.",
                        moderator=who,
                        circle=circle.name,
                    )
            else:
                outcome = t("{moderator} dismissed the report.", moderator=who)
        except Exception:
            await self.service.reopen_report(report)  # it didn't happen: the report stays open
            raise
        await interaction.response.edit_message(
            view=layout(TD(t("🚩 Report on a share in {circle}: {outcome}", circle=circle.name, outcome=outcome)))
        )

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
            t = reader(interaction)
            await interaction.response.send_message(t("Removed the anonymous post and its replies."), ephemeral=True)
            return
        found = await self.service.reply_share(message.id)
        if found is None:
            raise InvalidInput(msg("That isn't an anonymous post or reply from me."))
        reply_id, parent = found
        await self.service.require_moderator(parent, actor_from(interaction))
        await message.delete()
        await self.service.remove_reply(reply_id)
        t = reader(interaction)
        await interaction.response.send_message(t("Removed the anonymous reply."), ephemeral=True)

    # -- /share mine --------------------------------------------------------------------

    @share.command(name="mine", description="Your anonymous shares in this server; delete any of them.", extras=MEMBER)
    async def mine(self, interaction: discord.Interaction[Any]) -> None:
        guild = guild_of(interaction)
        await self._show(interaction, await self._mine_view(guild.id, interaction.user.id, reader(interaction)))

    async def _mine_view(self, guild_id: int, user_id: int, t: Speaker) -> Controls:
        shares = await self.service.mine(guild_id, user_id)
        if not shares:
            return Controls(user_id, TD(t("You have no anonymous shares here right now.")), card="share:mine")
        circles = {c.id: c.name for c in await self.service.circles_in(guild_id, include_archived=True)}
        items: list[discord.ui.Item[Any]] = [
            TD(
                t(
                    "## Your anonymous shares\n"
                    "Only you can see this list. Deleting removes the post and its replies for everyone."
                )
            )
        ]
        for share in shares:
            snippet = (share.content or "").replace("\n", " ")[:90]
            name = circles.get(share.circle_id) or t("a circle")
            where = (
                f"[{name}]({message_link(guild_id, share.channel_id, share.message_id)})" if share.message_id else name
            )
            items.append(
                discord.ui.Section(
                    TD(
                        t(
                            "**{circle}** · as {pseudonym} · {status} · 💛 {support} · 💬 {replies}\n> {snippet}",
                            circle=where,
                            pseudonym=share.pseudonym,
                            status=t(SHARE_STATUS[share.status]),
                            support=t.number(share.support_count),
                            replies=t.number(share.reply_count),
                            snippet=snippet,
                        )
                    ),
                    accessory=button(
                        t.p("button", "Delete"), self._delete_handler(share, user_id), discord.ButtonStyle.danger
                    ),
                )
            )
        return Controls(user_id, *items, card="share:mine")

    def _delete_handler(self, share: Share, user_id: int) -> Any:
        async def ask(interaction: discord.Interaction[Any]) -> None:
            async def confirm(i: discord.Interaction[Any]) -> None:
                await i.response.defer()
                t = reader(i)
                own = await self.service.own(share.public_id, user_id)
                await self._take_down(own)
                if own.review_message_id:
                    channel_id = await self._mod_channel(own.guild_id)
                    if channel_id:
                        await self.sender.delete(channel_id, own.review_message_id)
                await self.service.delete_own(own)
                view = await self._mine_view(own.guild_id, user_id, t)
                view.add_item(TD(t("-# Deleted. It's gone from the circle, and nothing links it to you any more.")))
                await self._show(i, view)

            async def keep(i: discord.Interaction[Any]) -> None:
                await self._show(i, await self._mine_view(share.guild_id, user_id, reader(i)))

            t = reader(interaction)
            await self._show(
                interaction,
                Controls(
                    user_id,
                    TD(
                        t(
                            "Delete your share posted as **{pseudonym}**? It disappears from the circle with its "
                            "replies. This can't be undone.",
                            pseudonym=share.pseudonym,
                        )
                    ),
                    row(
                        button(t("Delete it"), confirm, discord.ButtonStyle.danger),
                        button(t("Keep it"), keep),
                    ),
                    card="share:mine",
                ),
            )

        return ask
