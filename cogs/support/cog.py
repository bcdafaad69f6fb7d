"""/support: ask for a listener and talk through the bot; the DM relay; offers, feedback, handoff, blocks.

Thin: the rules live in ``bot/services/support/`` and the outbox; how things look lives in
``relay.py``. Every reply to a person is private (ephemeral, or their own DM).

Why ``/support ask`` and ``/support end`` rather than a runnable ``/support``: Discord doesn't let a
command with subcommands be run itself, and a separate ``/support-end`` would break the
``/listener …``, ``/rota …`` naming. Both subcommands work in the server and in DMs with the bot.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.concurrency import KeyedLock
from bot.errors import Conflict, InvalidInput, NotFound, PeerCirclesError
from bot.i18n import N_, SOURCE, Speaker, msg, speaker
from bot.services.access import AccessService
from bot.services.crisis import CrisisResources
from bot.services.help import Audience
from bot.services.member_time import MemberTimeService
from bot.services.outbox import OutboxService
from bot.services.pending_requests import PendingRequestSweep
from bot.services.server_settings import ServerSettings
from bot.services.support.models import Accepted, RequestOutcome, Route
from bot.services.support.service import SupportService
from bot.storage.support import Conversation
from bot.timekeeping.markup import stamp
from bot.timekeeping.words import local_phrase
from bot.ui.controls import Controls, button, row
from bot.ui.language import member_speaker, reader, server_speaker
from bot.ui.people import actor_from
from bot.ui.replies import reply
from cogs.support.relay import (
    LISTENER_COLOUR,
    MEMBER_COLOUR,
    NO_MENTIONS,
    DiscordSupport,
    SupportRenderer,
    card,
    listener_label,
    listener_of,
    member_of,
)
from cogs.support.views import DYNAMIC_ITEMS, ActionButton, AskModal, TextModal

log = logging.getLogger(__name__)
TD = discord.ui.TextDisplay
MEMBER = {"audience": Audience.MEMBER}
HELPFUL_REPLY_EVERY = 30.0
NO_CONVERSATION = N_(
    "You're not in a conversation with a listener right now, so this message wasn't passed on to anyone, "
    "and it wasn't kept.\n"
    "- To talk one-to-one with a volunteer listener, use **/support ask** (it works here too).\n"
    "- If you're struggling right now, **/resources** lists crisis lines you can reach any time."
)
ATTACHMENTS_NOT_RELAYED = N_(
    "-# Files, images and stickers aren't passed on: they can carry details about who you are. "
    "Only your words are relayed."
)
ATTACHMENTS_NOTHING_SENT = N_(
    "-# Files, images and stickers aren't passed on: they can carry details about who you are. "
    "Only your words are relayed. Nothing was sent."
)
GUIDELINE_LINE = N_(
    "-# Listen, don't diagnose. No personal contact details. If they may be in danger, I'll show you the steps; "
    "tell a coordinator. With more than one conversation open, reply to one of a member's messages so I know where it goes."
)

SUPPORT_CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=False)
SUPPORT_INSTALLS = app_commands.AppInstallationType(guild=True, user=False)


class SupportCog(commands.Cog, name="SupportCog"):
    support = app_commands.Group(
        name="support",
        description="Talk one-to-one with a volunteer listener, through the bot.",
        allowed_contexts=SUPPORT_CONTEXTS,
        allowed_installs=SUPPORT_INSTALLS,
        extras=MEMBER,
    )

    def __init__(
        self,
        bot: commands.Bot,
        service: SupportService,
        outbox: OutboxService,
        crisis: CrisisResources,
        settings: ServerSettings,
        access: AccessService,
        pending: PendingRequestSweep,
        member_time: MemberTimeService,
    ) -> None:
        self.bot = bot
        self.service = service
        self.outbox = outbox
        self.pending = pending
        self.crisis = crisis
        self.settings = settings
        self.access = access
        self.member_time = member_time
        self.renderer = SupportRenderer(bot, crisis, settings)
        self.discord = DiscordSupport(bot, self.renderer, settings, member_time, service.offer_at)
        self._last_helpful: dict[int, float] = {}
        # A person's direct messages are handled one at a time, in the order they arrived:
        # discord.py runs each on_message as its own task, and a burst must not be reordered.
        self._dm_order: KeyedLock[int] = KeyedLock()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Requests members made from check-ins before this server had listeners: route them now."""
        await self.pending.sweep_all()

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    async def _show(interaction: discord.Interaction[Any], view: discord.ui.LayoutView) -> None:
        """Show a private card: edit the private card being pressed, or answer with a new one."""
        if interaction.response.is_done():
            await interaction.followup.send(view=view, ephemeral=True)
        elif interaction.message is not None and interaction.message.flags.ephemeral:
            await interaction.response.edit_message(view=view)
        else:
            await interaction.response.send_message(view=view, ephemeral=True)

    async def _member_guilds(self, user_id: int) -> list[discord.Guild]:
        """Servers with listeners that this person is in (checked by REST: no members intent). From a
        DM this runs in shard 0's process, which has no copy of servers on other shards: those are
        fetched."""
        found = []
        for guild_id in await self.service.guilds_offering_support():
            try:
                await self.bot.http.get_member(guild_id, user_id)
                guild = self.bot.get_guild(guild_id) or await self.bot.fetch_guild(guild_id)
            except discord.HTTPException:
                continue
            found.append(guild)
        return found

    async def _guild_for(self, interaction: discord.Interaction[Any], server: str | None) -> int:
        if interaction.guild_id is not None:
            return interaction.guild_id
        guilds = await self._member_guilds(interaction.user.id)
        if server:
            chosen = [g for g in guilds if str(g.id) == server or g.name.casefold() == server.casefold()]
            if not chosen:
                raise InvalidInput(msg("Please pick the server from the list Discord offers."))
            return chosen[0].id
        if not guilds:
            raise InvalidInput(
                msg(
                    "I couldn't find a server you're in that has volunteer listeners. /resources lists services "
                    "you can reach any time."
                )
            )
        if len(guilds) > 1:
            raise InvalidInput(msg("You're in more than one server with listeners: add the server option to choose."))
        return guilds[0].id

    async def _remember(self, interaction: discord.Interaction[Any], guild_id: int) -> None:
        """In DMs too, the language a person uses for this server's support is the one their later
        DMs (relay labels, notices) are written in. (In a server, the client remembers it already.)"""
        if interaction.guild_id is None:
            await self.member_time.remember_language(guild_id, interaction.user.id, reader(interaction).language)

    async def _writer(self, user_id: int, routes: list[Route]) -> Speaker:
        """Whoever writes to the bot by DM reads its answer in the language they last used with it:
        in the server of their conversation, else in the server with listeners they're in."""
        if routes:
            guild_id = routes[0].conversation.guild_id
        else:
            candidates = await self.service.guilds_offering_support()
            if len(candidates) > 1:
                candidates = [g.id for g in await self._member_guilds(user_id)]
            if not candidates:
                return speaker(SOURCE)
            guild_id = candidates[0]
        return await member_speaker(self.member_time, guild_id, user_id, self.bot.get_guild(guild_id))

    async def server_names(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is not None:
            return []
        needle = current.casefold()
        return [
            app_commands.Choice(name=g.name[:100], value=str(g.id))
            for g in await self._member_guilds(interaction.user.id)
            if needle in g.name.casefold()
        ][:25]

    # -- /support ask -------------------------------------------------------------------

    @support.command(name="ask", description="Ask to talk one-to-one with a volunteer listener, privately.")
    @app_commands.describe(server="Which server's listeners (only needed in DMs, if you're in several)")
    @app_commands.autocomplete(server=server_names)
    async def ask(self, interaction: discord.Interaction[Any], server: str | None = None) -> None:
        guild_id = await self._guild_for(interaction, server)
        await self.open_ask(interaction, guild_id, source="command" if interaction.guild_id is not None else "dm")

    async def open_ask(self, interaction: discord.Interaction[Any], guild_id: int, *, source: str) -> None:
        """Open the request form (topic, how to appear) and route it. Other features call this from a
        button, e.g. the crisis card of a share (``source="share"``) or a check-in (``"checkin"``)."""
        await self.service.check_can_request(guild_id, interaction.user.id)

        async def done(submitted: discord.Interaction[Any], topic: str, named: bool) -> None:
            await submitted.response.defer(ephemeral=True, thinking=True)
            await self._remember(submitted, guild_id)
            name = submitted.user.display_name if named else None
            if self.service.topic_is_urgent(topic):
                # Help first, before anyone else is told: the coordinators' alert says the member
                # has already been shown these.
                t = reader(submitted)
                crisis = await self.renderer.resources(guild_id, t, gentle=True)
                await submitted.followup.send(view=card(*crisis, accent=MEMBER_COLOUR), ephemeral=True)
            outcome = await self.service.open_request(guild_id, submitted.user.id, topic, source, named_as=name)
            await self._answer_request(submitted, guild_id, outcome, topic, name, source)

        await interaction.response.send_modal(AskModal(done, t=reader(interaction)))

    async def _answer_request(
        self,
        interaction: discord.Interaction[Any],
        guild_id: int,
        outcome: RequestOutcome,
        topic: str,
        name: str | None,
        source: str,
    ) -> None:
        owner = interaction.user.id
        t = reader(interaction)
        if outcome.status != "nobody":
            await interaction.followup.send(
                view=card(
                    t(
                        "**Your request is in.** I've sent you a direct message: the conversation happens there, "
                        "through me. The listener sees only your label, never your account.\n-# You can withdraw it "
                        "there, or with /support end."
                    ),
                    accent=MEMBER_COLOUR,
                ),
                ephemeral=True,
            )
            return
        resources = await self.renderer.resources(guild_id, t)
        when = outcome.next_shift
        if when is not None:
            intro = t(
                "**No listener is on shift right now, I'm sorry.** The next shift starts {start} (that's {local}). "
                "I can queue your request for it, or you can leave a message for the listener.",
                start=stamp(when, "F"),
                local=local_phrase(when, outcome.zone, t),
            )
        else:
            intro = t(
                "**No listener is on shift right now, I'm sorry.** No shift is planned yet. You can leave a message, "
                "and I'll ask the coordinators to pick it up."
            )

        async def queue(i: discord.Interaction[Any]) -> None:
            await i.response.defer(ephemeral=True, thinking=True)
            await self.service.queue_request(guild_id, owner, topic, source, named_as=name)
            await i.followup.send(
                view=card(t("Queued. I've sent you a direct message with the details; you can withdraw it there.")),
                ephemeral=True,
            )

        async def leave_message(i: discord.Interaction[Any]) -> None:
            async def written(s: discord.Interaction[Any], text: str) -> None:
                await s.response.defer(ephemeral=True, thinking=True)
                await self.service.queue_request(guild_id, owner, topic, source, named_as=name, message=text)
                await s.followup.send(
                    view=card(
                        t(
                            "Your message is waiting for the listener, encrypted until it's delivered, and deleted "
                            "once it is. I'll tell you by DM when someone picks it up."
                        )
                    ),
                    ephemeral=True,
                )

            await i.response.send_modal(
                TextModal(
                    t("Leave a message for a listener"),
                    t("Your message"),
                    written,
                    card="support:ask",
                    description=t("Only the listener who picks it up reads it. They won't see your account."),
                )
            )

        async def not_now(i: discord.Interaction[Any]) -> None:
            await self._show(
                i,
                Controls(
                    owner,
                    TD(t("Okay. Nothing was kept. /support ask is here whenever you need it.")),
                    card="support:ask",
                ),
            )

        buttons = []
        if when is not None:
            buttons.append(button(t("Queue for the next shift"), queue, discord.ButtonStyle.primary))
        # Leave a message opens a form, which may be closed unsent: the card stays usable.
        buttons += [button(t("Leave a message"), leave_message, keeps_card=True), button(t("Not now"), not_now)]
        view = Controls(owner, *[TD(s) for s in [intro, *resources[1:]]], row(*buttons), card="support:ask")
        await interaction.followup.send(view=view, ephemeral=True)

    # -- /support end -------------------------------------------------------------------

    @support.command(name="end", description="Finish your support conversation or withdraw your request.")
    async def end_command(self, interaction: discord.Interaction[Any]) -> None:
        t = reader(interaction)
        routes: list[Route]
        thread = interaction.channel if isinstance(interaction.channel, discord.Thread) else None
        in_thread = await self.service.by_thread(thread.id) if thread is not None else None
        if in_thread is not None and in_thread.is_open:
            side = self.service.side_of(in_thread, interaction.user.id)
            if side is None:
                raise InvalidInput(msg("Only the listener of this conversation can end it."))
            routes = [Route(in_thread, side)]
        else:
            routes = await self.service.open_for(interaction.user.id, interaction.guild_id)
        if not routes:
            raise NotFound(msg("You don't have a support conversation or request open."))
        if len(routes) == 1:
            await self._end(interaction, routes[0].conversation)
            return
        owner = interaction.user.id

        def chooser(conversation: Conversation, label: str) -> discord.ui.Button[Any]:
            async def chosen(i: discord.Interaction[Any]) -> None:
                await self._end(i, conversation)

            return button(t("End: {label}", label=label)[:80], chosen)

        buttons = [
            chooser(r.conversation, member_of(r.conversation, t) if r.side == "listener" else t("my request"))
            for r in routes
        ]
        await self._show(
            interaction,
            Controls(
                owner, TD(t("Which conversation would you like to end?")), row(*buttons[:5]), card="support:ending"
            ),
        )

    async def _end(self, interaction: discord.Interaction[Any], conversation: Conversation) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        ended = await self.service.end(conversation.public_id, interaction.user.id)
        t = reader(interaction)
        if ended.was_waiting:
            text = t("Your request was withdrawn. Nobody learned who you are. You can ask again any time.")
        elif ended.side == "member":
            text = t(
                "You ended the conversation. Thank you for talking. I've sent you a one-tap feedback question "
                "(optional)."
            )
        else:
            text = t("You ended the conversation. Thank you for listening.")
        await interaction.followup.send(view=card(text), ephemeral=True)

    # -- the DM relay -------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is not None or message.author.bot or not isinstance(message.channel, discord.DMChannel):
            return
        async with self._dm_order.hold(message.author.id):
            await self._handle_dm(message)

    async def _handle_dm(self, message: discord.Message) -> None:
        author = message.author.id
        routes: list[Route] = []
        try:
            reference = message.reference.message_id if message.reference is not None else None
            routes = await self.service.route_dm(author, reference)
            attachments = len(message.attachments) + len(message.stickers)
            if not routes:
                await self._nothing_open(message)
            elif len(routes) > 1:
                await self._choose(message, routes, attachments)
            else:
                await self._relay(message.channel, routes[0], message.content, attachments, author, just_read=True)
        except PeerCirclesError as exc:
            t = await self._writer_or_english(author, routes)
            await self._say(message.channel, t.render(exc.message))
        except Exception:
            log.exception("support relay failed for a direct message")
            t = await self._writer_or_english(author, routes)
            await self._say(
                message.channel,
                t("Sorry, something went wrong on my side and your message wasn't passed on. Please send it again."),
            )
        finally:
            # Observable for tests and tooling: this DM has been handled (stored, or answered).
            self.bot.dispatch("support_dm_handled", message.id, message.author.id)

    async def _writer_or_english(self, user_id: int, routes: list[Route]) -> Speaker:
        """For an answer after something went wrong: the writer's language if it can be read now."""
        try:
            return await self._writer(user_id, routes)
        except Exception:
            log.warning("support could not read a writer's language")
            return speaker(SOURCE)

    async def _say(self, channel: discord.abc.Messageable, text: str, *extra: str) -> None:
        try:
            await channel.send(view=card(text, *extra), allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.info("support could not answer a direct message")

    async def _nothing_open(self, message: discord.Message) -> None:
        now = time.monotonic()
        if now - self._last_helpful.get(message.author.id, -HELPFUL_REPLY_EVERY) < HELPFUL_REPLY_EVERY:
            return  # answered a moment ago: don't reply to every line of a burst
        self._last_helpful[message.author.id] = now
        t = await self._writer(message.author.id, [])
        await self._say(message.channel, t(NO_CONVERSATION))

    async def _relay(
        self,
        channel: discord.abc.Messageable,
        route: Route,
        text: str,
        attachments: int,
        writer: int,
        *,
        just_read: bool = False,
    ) -> None:
        """Pass a DM on. The writer's language is looked up only when there is something to tell them."""
        conversation = route.conversation
        if route.side == "listener" and conversation.relay_mode == "thread" and conversation.thread_id:
            t = await self._writer(writer, [route])
            await self._say(
                channel,
                t(
                    "Your conversation with {member} is in the private thread <#{thread_id}>: use the “Reply to the "
                    "member” button there. This message wasn't passed on.",
                    member=member_of(conversation, t),
                    thread_id=conversation.thread_id,
                ),
            )
            return
        result = await self.service.relay(conversation, route.side, text, attachments, just_read=just_read)
        if not (result.first_held or attachments):
            return
        t = await self._writer(writer, [route])
        notes: list[str] = []
        if result.first_held:
            notes.append(
                t(
                    "No listener has joined yet. I'll pass your message on as soon as one does (it's kept encrypted "
                    "until then)."
                )
            )
        if attachments:
            notes.append(t(ATTACHMENTS_NOT_RELAYED) if result.pieces else t(ATTACHMENTS_NOTHING_SENT))
        await self._say(channel, "\n".join(notes))

    async def _choose(self, message: discord.Message, routes: list[Route], attachments: int) -> None:
        """Several conversations open: ask where this goes. The text stays in memory only."""
        text = message.content
        owner = message.author.id
        t = await self._writer(owner, routes)

        def sender(route: Route) -> discord.ui.Button[Any]:
            conversation = route.conversation
            label = member_of(conversation, t) if route.side == "listener" else listener_of(conversation, t)

            async def send(i: discord.Interaction[Any]) -> None:
                await i.response.edit_message(
                    view=Controls(owner, TD(t("Sent to {label}.", label=label)), card="support:send-to")
                )
                await self._relay(message.channel, route, text, attachments, owner)

            return button(t("Send to {label}", label=label)[:80], send, discord.ButtonStyle.primary)

        view = Controls(
            owner,
            TD(
                t(
                    "You have more than one conversation open. Where should this message go? (Next time, reply to one "
                    "of their messages and I'll know.) Your words wait in memory only, not stored, for 15 minutes; "
                    "after that, please send them again."
                )
            ),
            row(*[sender(r) for r in routes[:5]]),
            card="support:send-to",
            timeout=900,
        )
        await message.channel.send(view=view, allowed_mentions=NO_MENTIONS)

    # -- offers -------------------------------------------------------------------------

    def _intro(self, accepted: Accepted, t: Speaker) -> discord.ui.LayoutView:
        """The card a listener (or coordinator) gets on taking a conversation, in their language."""
        conversation = accepted.conversation
        pid = conversation.public_id
        member = member_of(conversation, t)
        topic = t("They wrote: “{topic}”", topic=accepted.topic) if accepted.topic else t("They didn't give a topic.")
        first = (
            t(
                "**You've taken over the conversation with {member}** from {listener}.",
                member=member,
                listener=listener_label(t, accepted.previous_tag),
            )
            if accepted.handoff
            else t("**You're now talking with {member}.**", member=member)
        )
        if conversation.relay_mode == "thread" and conversation.thread_id:
            return card(
                f"{first} {topic}\n"
                + t("The conversation is in the private thread <#{thread_id}>.", thread_id=conversation.thread_id),
                t(GUIDELINE_LINE),
                accent=LISTENER_COLOUR,
            )
        return card(
            f"{first} {topic}\n"
            + t(
                "Write here and I'll pass your messages on as **{label}**. They can't see your account, and you "
                "can't see theirs.",
                label=listener_of(conversation, t),
            ),
            t(GUIDELINE_LINE),
            accent=LISTENER_COLOUR,
            buttons=[
                ActionButton("handoff", pid, t=t),
                ActionButton("end", pid, t=t),
                ActionButton("block", pid, t=t),
            ],
        )

    async def on_offer(self, interaction: discord.Interaction[Any], action: str, offer_public_id: str) -> None:
        await interaction.response.defer()
        t = reader(interaction)
        if action == "pass":
            try:
                await self.service.pass_offer(offer_public_id, interaction.user.id)
            except Conflict as exc:
                await interaction.followup.send(t.render(exc.message), ephemeral=True)
                return
            await interaction.edit_original_response(
                view=card(t("You passed on this one. Thank you for looking after yourself."))
            )
            return
        try:
            accepted = await self.service.accept_offer(offer_public_id, interaction.user.id)
        except Conflict as exc:
            await interaction.edit_original_response(view=card(t.render(exc.message)))
            return
        await self._remember(interaction, accepted.conversation.guild_id)
        await interaction.edit_original_response(view=self._intro(accepted, t))

    # -- persistent buttons -------------------------------------------------------------

    async def on_action(self, interaction: discord.Interaction[Any], action: str, public_id: str) -> None:
        user_id = interaction.user.id
        t = reader(interaction)
        if action in ("end", "cancel"):
            await self._end(interaction, await self.service.get(public_id))
        elif action == "claim":
            await self._claim(interaction, public_id)
        elif action == "handoff":
            await self._handoff(interaction, public_id)
        elif action == "block":
            await self._block(interaction, public_id)
        elif action == "reveal":
            await self._reveal(interaction, public_id)
        elif action == "say":
            conversation = await self.service.get(public_id)
            if conversation.listener_user_id != user_id:
                raise InvalidInput(msg("Only the listener of this conversation can reply to the member."))
            member = member_of(conversation, t)

            async def written(s: discord.Interaction[Any], text: str) -> None:
                await self.service.relay(conversation, "listener", text)
                await reply(
                    s, t("Sent to {member} as {listener}.", member=member, listener=listener_of(conversation, t))
                )

            await interaction.response.send_modal(
                TextModal(
                    t("Reply to {member}", member=member),
                    t("Your reply"),
                    written,
                    card="support:replying",
                    max_length=4000,
                )
            )
        elif action == "comment":

            async def commented(s: discord.Interaction[Any], text: str) -> None:
                await s.response.defer(ephemeral=True, thinking=True)
                await self.service.comment(public_id, user_id, text)
                await s.followup.send(
                    t("Thank you. Your comment went to the coordinators, without your name."), ephemeral=True
                )

            await interaction.response.send_modal(
                TextModal(
                    t("A comment for the coordinators"),
                    t("Your comment"),
                    commented,
                    card="support:commenting",
                    max_length=1000,
                    description=t("They won't see who wrote it. The listener won't see it."),
                )
            )
        elif action == "heavy":
            until, debrief = await self.service.mark_heavy(public_id, user_id)
            text = t("Noted. Thank you for telling me; look after yourself.")
            if until is not None:
                text += " " + t("You won't get new requests until {until}.", until=stamp(until, "t"))
            buttons: list[discord.ui.Item[Any]] | None = [ActionButton("debrief", public_id, t=t)] if debrief else None
            await self._show(interaction, card(text, accent=LISTENER_COLOUR, buttons=buttons))
        elif action == "debrief":
            await interaction.response.defer(ephemeral=True, thinking=True)
            posted = await self.service.request_debrief(public_id, user_id)
            await interaction.followup.send(
                t("I've asked the coordinators to reach out to you.")
                if posted
                else t(
                    "I couldn't reach the coordinators (no moderation channel is set). Please contact one directly."
                ),
                ephemeral=True,
            )

    async def _claim(self, interaction: discord.Interaction[Any], public_id: str) -> None:
        if interaction.guild is None:
            raise InvalidInput(msg("Use the Accept button in the server."))
        await interaction.response.defer(ephemeral=True, thinking=True)
        t = reader(interaction)
        actor = actor_from(interaction)
        accepted = await self.service.coordinator_accept(public_id, actor)
        try:
            channel = interaction.user.dm_channel or await interaction.user.create_dm()
            await channel.send(view=self._intro(accepted, t), allowed_mentions=NO_MENTIONS)
            where = t("I've sent you a direct message: the conversation happens there.")
        except discord.HTTPException:
            where = t("I couldn't DM you, so please open your DMs with me to talk with them.")
        if accepted.conversation.relay_mode == "thread" and accepted.conversation.thread_id:
            where = t(
                "The conversation is in the private thread <#{thread_id}>.", thread_id=accepted.conversation.thread_id
            )
        await interaction.followup.send(
            t(
                "You've taken it: you're talking with {member}. {where}",
                member=member_of(accepted.conversation, t),
                where=where,
            ),
            ephemeral=True,
        )

    async def _handoff(self, interaction: discord.Interaction[Any], public_id: str) -> None:
        conversation = await self.service.get(public_id)
        if conversation.listener_user_id != interaction.user.id:
            raise InvalidInput(msg("Only the listener of this conversation can hand it over."))
        t = reader(interaction)

        async def written(s: discord.Interaction[Any], note: str) -> None:
            await s.response.defer(ephemeral=True, thinking=True)
            count = await self.service.start_handoff(public_id, s.user.id, note)
            await s.followup.send(
                t.n(
                    "I've asked {n} listener on shift to take over. Keep going until one does; I'll tell you, and the "
                    "member, when it happens.",
                    "I've asked {n} listeners on shift to take over. Keep going until one does; I'll tell you, and "
                    "the member, when it happens.",
                    count,
                ),
                ephemeral=True,
            )

        await interaction.response.send_modal(
            TextModal(
                t("Hand over this conversation"),
                t("A note for your colleague (optional)"),
                written,
                card="support:handing-off",
                required=False,
                max_length=500,
                description=t("What would help them pick it up? Don't include anything that identifies the member."),
            )
        )

    async def _block(self, interaction: discord.Interaction[Any], public_id: str) -> None:
        conversation = await self.service.get(public_id)
        if conversation.listener_user_id != interaction.user.id or conversation.status != "active":
            raise InvalidInput(msg("Only the listener of an open conversation can end and block."))
        owner = interaction.user.id
        t = reader(interaction)

        async def confirm(i: discord.Interaction[Any]) -> None:
            await i.response.defer(ephemeral=True, thinking=True)
            until = await self.service.block(public_id, owner)
            await i.followup.send(
                t(
                    "Ended. They can't request support here until {until}. You won't learn who they are, and they "
                    "won't learn who you are. The coordinators were told and can lift it. Look after yourself.",
                    until=stamp(until, "D"),
                ),
                ephemeral=True,
            )

        async def keep(i: discord.Interaction[Any]) -> None:
            await self._show(
                i, Controls(owner, TD(t("Okay, the conversation continues.")), card="support:confirm-block")
            )

        await self._show(
            interaction,
            Controls(
                owner,
                TD(
                    t(
                        "**End and block {member}?** This ends the conversation and stops them from asking for "
                        "one-to-one support here for 30 days. Use it for abuse, not for hard conversations. Neither "
                        "of you learns who the other is; the coordinators are told and can lift it.",
                        member=member_of(conversation, t),
                    )
                ),
                row(
                    button(t("End and block"), confirm, discord.ButtonStyle.danger),
                    button(t("Keep talking"), keep),
                ),
                card="support:confirm-block",
            ),
        )

    async def _reveal(self, interaction: discord.Interaction[Any], public_id: str) -> None:
        owner = interaction.user.id
        t = reader(interaction)

        async def confirm(i: discord.Interaction[Any]) -> None:
            await self.service.reveal(public_id, owner, i.user.display_name)
            await self._show(
                i,
                Controls(owner, TD(t("Shared. The listener can now see your account.")), card="support:confirm-reveal"),
            )

        async def keep(i: discord.Interaction[Any]) -> None:
            await self._show(i, Controls(owner, TD(t("Okay, you stay anonymous.")), card="support:confirm-reveal"))

        await self._show(
            interaction,
            Controls(
                owner,
                TD(
                    t(
                        "**Share your account with the listener?** They'll see your Discord account and name. This "
                        "can't be undone for this conversation. You don't have to: they can support you just as well "
                        "without it."
                    )
                ),
                row(
                    button(t("Share it"), confirm, discord.ButtonStyle.primary),
                    button(t("Stay anonymous"), keep),
                ),
                card="support:confirm-reveal",
            ),
        )

    async def on_feedback(self, interaction: discord.Interaction[Any], public_id: str, score: int) -> None:
        added = await self.service.feedback(public_id, interaction.user.id, score)
        if not added:
            raise Conflict(msg("You already gave feedback on this conversation. Thank you."))
        t = reader(interaction)
        await interaction.response.edit_message(
            view=card(
                t(
                    "Thank you: you gave **{score}/5**. If you'd like, add a comment for the coordinators (they won't "
                    "see who wrote it).",
                    score=score,
                ),
                accent=MEMBER_COLOUR,
                buttons=[ActionButton("comment", public_id, t=t)],
            )
        )

    async def on_unblock(self, interaction: discord.Interaction[Any], block_id: int) -> None:
        if interaction.guild is None:
            raise InvalidInput(msg("Use this in the server."))
        await self.service.lift_block(block_id, actor_from(interaction))
        # The alert stays in the moderation channel: in the server's language.
        t = await server_speaker(self.settings, interaction.guild.id, interaction.guild)
        await interaction.response.edit_message(
            view=card(
                t(
                    "✅ <@{user_id}> lifted a support block. The member can ask for support again.",
                    user_id=interaction.user.id,
                )
            )
        )
