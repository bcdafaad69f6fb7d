"""The support feature's way out to Discord: the outbox transport, the port the service uses,
and how every notice looks.

Nothing rendered here for a member ever contains a listener's id or name, and nothing for a
listener contains the member's (unless the member chose to share it): only labels. Every send
uses ``allowed_mentions=none``; relayed text is sanitised (mentions neutralised, invites removed).

Who reads which language: each side of a conversation reads its DMs (and the listener its private
thread) in the language they last used with the bot in the conversation's server; offers in the
listener's; alerts in the moderation channel in the server's. Queued notices wait in the outbox as
a code and data, and are written in their reader's language when they are sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.i18n import N_, SOURCE, Speaker, speaker
from bot.services.crisis import CrisisResources
from bot.services.member_time import MemberTimeService
from bot.services.outbox import Delivered, Outgoing, PermanentDeliveryError, Target, TransientDeliveryError
from bot.services.sanitize import sanitize
from bot.services.server_settings import ServerSettings
from bot.services.support.models import Alert, Notice, OfferCard
from bot.storage.support import Conversation, Offer
from bot.timekeeping.markup import stamp
from bot.timekeeping.words import local_phrase
from bot.ui.controls import row
from bot.ui.language import member_speaker, server_speaker
from bot.ui.limits import FittedLayoutView
from bot.ui.safety import crisis_sections
from bot.ui.sending import retry_if_transient, scheduled_send
from bot.ui.style import CALM, NO_PINGS, SOFT_BLUE, URGENT
from cogs.support.views import ActionButton, FeedbackButton, OfferButton, UnblockButton

log = logging.getLogger(__name__)

NO_MENTIONS = NO_PINGS
TD = discord.ui.TextDisplay
MEMBER_COLOUR = CALM
LISTENER_COLOUR = SOFT_BLUE
URGENT_COLOUR = URGENT
TEXT_BUDGET = 3900

URGENT_STEPS = N_(
    "🚨 **This message may mean {label} is in immediate danger.** You don't have to handle this alone.\n"
    "1. Stay with them and keep replying. Ask them directly and calmly whether they are safe right now.\n"
    "2. Share the crisis lines below: copy the ones for their country into your reply.\n"
    "3. If they are in immediate danger, encourage them to call the emergency number now.\n"
    "4. The coordinators have been alerted (without the member's identity); they can help you.\n"
    "5. Don't promise to keep secrets you can't keep, and tell them before you step away.\n"
    "-# They have been shown the crisis resources too."
)


def member_label(t: Speaker, tag: str | None, name: str | None = None) -> str:
    """How the member appears: the name they chose to give, else "Member · K7Q2" in the reader's words."""
    if name:
        return name
    return t("Member · {tag}", tag=tag) if tag else t("the member")


def listener_label(t: Speaker, tag: str | None) -> str:
    """How a listener appears: "Listener · 7Q2X" in the reader's words."""
    return t("Listener · {tag}", tag=tag) if tag else t("a listener")


def member_of(conversation: Conversation, t: Speaker) -> str:
    return member_label(t, conversation.member_tag, conversation.member_name)


def listener_of(conversation: Conversation, t: Speaker) -> str:
    return listener_label(t, conversation.listener_tag)


def layout(*items: discord.ui.Item[Any]) -> discord.ui.LayoutView:
    view = FittedLayoutView(timeout=None)
    for item in items:
        view.add_item(item)
    return view


def card(
    *sections: str, accent: discord.Colour | None = None, buttons: list[discord.ui.Item[Any]] | None = None
) -> discord.ui.LayoutView:
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=accent)
    used = 0
    for index, section in enumerate(s for s in sections if s):
        text = section[: max(0, TEXT_BUDGET - used)]
        if not text:
            break
        used += len(text)
        if index:
            container.add_item(discord.ui.Separator())
        container.add_item(TD(text))
    if buttons:
        container.add_item(row(*buttons))
    return layout(container)


def relay_card(
    label: str, text: str, *, accent: discord.Colour, buttons: list[discord.ui.Item[Any]] | None = None
) -> discord.ui.LayoutView:
    body = f"**{sanitize(label, limit=60)}**\n{sanitize(text, limit=3800)}"
    return card(body, accent=accent, buttons=buttons)


class SupportRenderer:
    """How each notice, offer and alert looks, in the language of the ``t`` it is given. Crisis
    resources follow the server's country."""

    def __init__(self, bot: commands.Bot, crisis: CrisisResources, settings: ServerSettings) -> None:
        self.bot = bot
        self.crisis = crisis
        self.settings = settings

    def _server(self, guild_id: int, t: Speaker) -> str:
        guild = self.bot.get_guild(guild_id)
        return guild.name if guild is not None else t("the server")

    async def resources(self, guild_id: int | None, t: Speaker, *, gentle: bool = False) -> list[str]:
        return await crisis_sections(self.crisis, self.settings, guild_id, gentle=gentle, t=t)

    async def short_resources(self, guild_id: int | None, t: Speaker) -> str:
        sections = await self.resources(guild_id, t)
        lines = [s for s in sections[1:-1]]
        return t("-# If you need help right now, these are there any time:") + "\n" + "\n".join(lines)[:1500]

    # -- to the member and the listener -------------------------------------------------

    async def notice(
        self, conversation: Conversation | None, code: str, params: dict[str, Any], t: Speaker
    ) -> discord.ui.LayoutView:
        pid = str(params.get("conversation") or (conversation.public_id if conversation else ""))
        guild_id = conversation.guild_id if conversation is not None else params.get("guild_id")
        if conversation is not None:
            member = member_of(conversation, t)
        else:
            member = member_label(t, params.get("member_tag"), params.get("member_name"))
        # The listener at the time of the notice (a handoff may have changed it since).
        listener = listener_label(
            t, params.get("listener_tag") or (conversation.listener_tag if conversation is not None else None)
        )
        if code == "request_received":
            text = (
                t(
                    "**Your request for a listener is in.** The listeners on shift are all with someone right now, so "
                    "I've asked every listener who's around. I'll tell you here as soon as one of them joins. You can "
                    "write here meanwhile: I'll pass it on when they do.\n-# Nobody will see your account, only your "
                    "label. You can withdraw the request at any time."
                )
                if params.get("busy")
                else t(
                    "**Your request for a listener is in.** I've asked the listeners on shift. I'll tell you here as "
                    "soon as one of them joins. You can write here meanwhile: I'll pass it on when they do.\n-# Nobody "
                    "will see your account, only your label. You can withdraw the request at any time."
                )
            )
            return card(
                text,
                await self.short_resources(guild_id, t),
                accent=MEMBER_COLOUR,
                buttons=[ActionButton("cancel", pid, t=t)],
            )
        if code == "queued":
            when = params.get("next_shift")
            if when is not None:
                zone = params.get("zone")
                local = local_phrase(when, str(zone), t) if zone else params.get("local")
                text = t(
                    "**Your request is queued for the next listener shift**, which starts {start} (that's {local}). "
                    "I'll pass it on then and tell you here when a listener joins.",
                    start=stamp(when, "F"),
                    local=local,
                )
            else:
                text = t(
                    "**Your request is waiting.** No listener shift is planned right now, so I've told the "
                    "coordinators; whoever can will pick it up, and I'll tell you here."
                )
            if params.get("message"):
                text += " " + t("Your message will be the first thing they read.")
            return card(
                text,
                await self.short_resources(guild_id, t),
                accent=MEMBER_COLOUR,
                buttons=[ActionButton("cancel", pid, t=t)],
            )
        if code == "escalated_all":
            return card(
                t(
                    "Nobody on shift has been able to answer yet, so I've asked every listener who's around. "
                    "Thank you for waiting."
                ),
                accent=MEMBER_COLOUR,
                buttons=[ActionButton("cancel", pid, t=t)],
            )
        if code == "escalated_coordinators":
            return card(
                t(
                    "Still nobody free, I'm sorry. I've asked the server's coordinators too. I'll tell you here the "
                    "moment someone joins."
                ),
                await self.short_resources(guild_id, t),
                accent=MEMBER_COLOUR,
                buttons=[ActionButton("cancel", pid, t=t)],
            )
        if code == "long_wait":
            return card(
                t(
                    "It's taking longer than usual to find someone, I'm sorry. You can keep waiting (I'll tell you the "
                    "moment someone joins) or withdraw the request. If things feel urgent, please reach out to one of "
                    "these now:"
                ),
                *(await self.resources(guild_id, t))[1:],
                accent=MEMBER_COLOUR,
                buttons=[ActionButton("cancel", pid, t=t)],
            )
        if code == "queue_started":
            return card(
                t("A listener shift has started: I've passed your request on. I'll tell you when someone joins."),
                accent=MEMBER_COLOUR,
            )
        if code == "accepted":
            return card(
                t(
                    "**{listener} has joined.** Write here and I'll pass your messages on; their replies appear here. "
                    "They see you as **{member}** and can't see your account, and you can't see theirs.\n"
                    "-# To finish, use /support end or the button. If you'd like them to know who you are, you can "
                    "share it.",
                    listener=listener,
                    member=member,
                ),
                accent=MEMBER_COLOUR,
                buttons=[ActionButton("reveal", pid, t=t), ActionButton("end", pid, t=t)],
            )
        if code == "handed_off":
            return card(
                t(
                    "Your conversation has been passed to another listener, **{listener}**, so you can keep talking. "
                    "They can't see your earlier messages, so you may want to say a little again.",
                    listener=listener,
                ),
                accent=MEMBER_COLOUR,
            )
        if code == "ended_by_listener":
            return card(
                t("{listener} ended the conversation. Thank you for talking.", listener=listener), accent=MEMBER_COLOUR
            )
        if code == "ended_by_member":
            return card(t("You ended the conversation. Thank you for talking."), accent=MEMBER_COLOUR)
        if code == "idle_closed":
            return card(
                t.n(
                    "This conversation was closed after {n} minute without messages. You can ask for a listener "
                    "again any time with /support ask.",
                    "This conversation was closed after {n} minutes without messages. You can ask for a listener "
                    "again any time with /support ask.",
                    int(params.get("minutes") or 0),
                ),
                accent=MEMBER_COLOUR,
            )
        if code == "feedback":
            return card(
                t(
                    "**Was this helpful?** One tap, from 1 (not really) to 5 (very). It's optional, and the listener "
                    "won't see who gave it."
                ),
                accent=MEMBER_COLOUR,
                buttons=[FeedbackButton(pid, score) for score in range(1, 6)],
            )
        if code == "withdrawn":
            return card(
                t("Your request was withdrawn. Nobody learned who you are. You can ask again any time."),
                accent=MEMBER_COLOUR,
            )
        if code == "blocked":
            return card(
                t(
                    "The listener has ended this conversation. You can't request one-to-one support in this server "
                    "for a while. If you need help, these services are there any time:"
                ),
                *(await self.resources(guild_id, t))[1:],
                accent=MEMBER_COLOUR,
            )
        if code == "resources":
            return card(*(await self.resources(guild_id, t, gentle=True)), accent=MEMBER_COLOUR)
        if code == "undeliverable":
            who = params.get("who")
            return card(
                t(
                    "Your last message couldn't be delivered to {who} (they may have closed their direct messages). "
                    "It wasn't stored.",
                    who=t(str(who)) if who else t("the other person"),
                )
            )
        if code == "urgent_banner":
            return card(t(URGENT_STEPS, label=member), *(await self.resources(guild_id, t))[1:], accent=URGENT_COLOUR)
        if code == "after_end":
            return card(
                self._after_end(str(params.get("how")), member, int(params.get("minutes") or 0), t),
                accent=LISTENER_COLOUR,
                buttons=[ActionButton("heavy", pid, t=t)],
            )
        if code == "revealed":
            return card(
                t(
                    "**{label} chose to share who they are:** <@{user_id}> ({name}). Please keep it confidential.",
                    label=member,
                    user_id=params.get("user_id"),
                    name=params.get("name"),
                ),
                accent=LISTENER_COLOUR,
            )
        if code == "handoff_done":
            return card(
                t(
                    "{listener} took over the conversation. Thank you for handing it over with care.",
                    listener=listener,
                ),
                accent=LISTENER_COLOUR,
            )
        if code == "handoff_none":
            return card(
                t(
                    "Nobody was free to take over the conversation with {label}, so it stays with you. You can end it "
                    "kindly, or ask a coordinator for help.",
                    label=member,
                ),
                accent=LISTENER_COLOUR,
            )
        log.warning("unknown support notice code=%s", code)
        return card(t("(an update about your support conversation)"))

    @staticmethod
    def _after_end(how: str, member: str, minutes: int, t: Speaker) -> str:
        """What the listener reads once the conversation ended."""
        if how == "ended_by_member":
            first = t("{label} ended the conversation.", label=member)
        elif how == "idle_closed":
            first = t.n(
                "The conversation with {label} was closed after {n} minute without messages.",
                "The conversation with {label} was closed after {n} minutes without messages.",
                minutes,
                label=member,
            )
        elif how == "blocked":
            first = t(
                "You ended the conversation with {label} and blocked them from new requests for 30 days. The "
                "coordinators were told (without knowing who it is).",
                label=member,
            )
        else:
            first = t("You ended the conversation with {label}.", label=member)
        return t(
            "{first} Thank you for listening.\n-# If it was a heavy one, say so: you'll get a short break from new "
            "requests, and can ask a coordinator for a debrief. Nothing about the member is kept.",
            first=first,
        )

    async def relay(self, message: Outgoing, t: Speaker) -> discord.ui.LayoutView:
        payload = message.payload
        conversation = message.conversation
        if message.kind == "notice":
            return await self.notice(conversation, str(payload.get("code")), dict(payload.get("params") or {}), t)
        to_listener = message.stream == "listener"
        buttons: list[discord.ui.Item[Any]] | None = None
        if to_listener and conversation.relay_mode == "thread":
            buttons = [ActionButton("say", conversation.public_id, t=t)]
        if payload.get("from") == "member":
            label = member_of(conversation, t)
        else:  # the listener who wrote it (rows queued before tags were kept: the listener now)
            label = listener_label(t, payload.get("tag") or conversation.listener_tag)
        return relay_card(
            label,
            str(payload.get("text", "")),
            accent=MEMBER_COLOUR if to_listener else LISTENER_COLOUR,
            buttons=buttons,
        )

    def offer(self, offer: OfferCard, t: Speaker) -> discord.ui.LayoutView:
        member = member_label(t, offer.member_tag, offer.member_name)
        topic = (
            t("They wrote: “{topic}”", topic=sanitize(offer.topic, limit=200))
            if offer.topic
            else t("They didn't give a topic.")
        )
        if offer.kind == "handoff":
            head = t("🤝 **A colleague asks you to take over a conversation with {member}.**", member=member)
            note = "\n" + t("Their note: “{note}”", note=sanitize(offer.note, limit=500)) if offer.note else ""
            body = f"{head}\n{topic}{note}"
        else:
            head = (
                t("💬 **Someone would like to talk.**")
                if offer.stage == 0
                else t("💬 **Someone has been waiting to talk, and nobody on shift is free.** Could you take it?")
            )
            body = head + "\n" + t("They'll appear as **{member}**. {topic}", member=member, topic=topic)
        if offer.urgent:
            body += "\n" + t("⚠️ Their words suggest they may be in crisis. The coordinators know.")
        body += "\n" + t(
            "-# In {server}. Accept only if you have the time and energy now; passing is fine.",
            server=self._server(offer.guild_id, t),
        )
        return card(
            body,
            accent=LISTENER_COLOUR,
            buttons=[
                OfferButton("accept", offer.offer_public_id, t=t),
                OfferButton("pass", offer.offer_public_id, t=t),
            ],
        )

    @staticmethod
    def closed_offer(outcome: str, t: Speaker) -> discord.ui.LayoutView:
        if outcome == "taken":
            text = t("This request was taken by another listener. Thank you for being there.")
        elif outcome == "cancelled":
            text = t("The member withdrew this request. Thank you for being there.")
        elif outcome == "expired":
            text = t("This handover is no longer needed. Thank you.")
        else:
            text = t("This request is no longer open.")
        return card(text)

    def alert(self, alert: Alert, t: Speaker) -> discord.ui.LayoutView:
        """For the coordinators, in the server's language: never who the member is, unless they chose a name."""
        p = alert.params
        # (Values are worked out before each t(...): Babel skips a message whose arguments call a
        # function with a literal, such as stamp(when, "R").)
        name = sanitize(str(p.get("named") or ""), limit=40)
        named = "\n" + t("They chose to be named: **{name}**.", name=name) if name else ""
        pid = str(p.get("conversation", ""))
        if alert.kind in ("request", "message_left"):
            waiting = p.get("waiting_since")
            since = stamp(waiting, "R") if waiting else ""
            first = (
                t("📨 **A member left a message for a listener, and no shift is planned.**")
                if alert.kind == "message_left"
                else t(
                    "🔔 **A member has been waiting for a listener** since {since}, and nobody on shift could take it.",
                    since=since,
                )
            )
            return card(
                first
                + " "
                + t("Anyone who can talk with them now can take it.")
                + named
                + "\n"
                + t("-# Nobody, including me, shows who they are unless they chose to be named."),
                accent=discord.Colour.gold(),
                buttons=[ActionButton("claim", pid, t=t)],
            )
        if alert.kind == "urgent":
            who = (
                t(
                    "Their listener, <@{user_id}> ({listener}), has been shown the escalation steps.",
                    user_id=p["listener_user_id"],
                    listener=listener_label(t, p.get("listener_tag")),
                )
                if p.get("listener_user_id")
                else t("They are still waiting for a listener.")
            )
            return card(
                t(
                    "🚨 **A member asking for support may be in immediate danger.** {who} The member has been shown "
                    "crisis resources.",
                    who=who,
                )
                + named
                + "\n"
                + t("-# Nobody, including me, shows who the member is unless they chose to be named."),
                accent=URGENT_COLOUR,
                buttons=[ActionButton("claim", pid, t=t)] if not p.get("listener_user_id") else None,
            )
        if alert.kind == "blocked":
            return card(
                t(
                    "⛔ <@{user_id}> ended a support conversation and blocked the member ({label}) from new requests "
                    "until {until}. Nobody knows who the member is; the block is keyed so it holds across anonymous "
                    "requests.",
                    user_id=p["listener_user_id"],
                    label=member_label(t, p.get("member_tag"), p.get("member_name")),
                    until=stamp(p["until"], "f"),
                ),
                accent=discord.Colour.dark_grey(),
                buttons=[UnblockButton(int(p["block"]), t=t)],
            )
        if alert.kind == "comment":
            score = f"{p['score']}/5" if p.get("score") else t("no score")
            who = (
                f"<@{p['listener_user_id']}> ({listener_label(t, p.get('listener_tag'))})"
                if p.get("listener_user_id")
                else t("a listener")
            )
            return card(
                t("💬 **Feedback after a support conversation with {who}**: {score}.", who=who, score=score)
                + f"\n> {sanitize(str(p.get('text')), limit=1000)}\n"
                + t("-# From the member, anonymously.")
            )
        if alert.kind == "debrief":
            return card(
                t(
                    "🤝 <@{user_id}> had a heavy support conversation and would welcome a debrief. "
                    "Please reach out to them when you can.",
                    user_id=p["listener_user_id"],
                ),
                accent=LISTENER_COLOUR,
            )
        return card(t("(a support update)"))

    @staticmethod
    def closed_alert(outcome: str, t: Speaker) -> discord.ui.LayoutView:
        if outcome == "taken":
            text = t("✅ Someone took this support request.")
        elif outcome == "cancelled":
            text = t("The member withdrew this support request.")
        else:
            text = t("This support request is settled.")
        return card(text)


def _delivery_error(exc: BaseException) -> Exception:
    if isinstance(exc, discord.Forbidden | discord.NotFound):
        return PermanentDeliveryError(f"http-{exc.status}-{exc.code}")
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429 or exc.status >= 500:
            return TransientDeliveryError(f"http-{exc.status}")
        return PermanentDeliveryError(f"http-{exc.status}-{exc.code}")
    return TransientDeliveryError(type(exc).__name__)


OfferLookup = Callable[[int, int], Awaitable[Offer | None]]


class DiscordSupport:
    """The outbox transport and the support service's port, over the bot's connection.

    Each message is written when it is sent, in its reader's language: a person's DMs (and a
    listener's private thread) in the language they last used with the bot in the conversation's
    server, the moderation channel in the server's."""

    def __init__(
        self,
        bot: commands.Bot,
        renderer: SupportRenderer,
        settings: ServerSettings,
        member_time: MemberTimeService,
        offer_at: OfferLookup,
    ) -> None:
        self.bot = bot
        self.renderer = renderer
        self.settings = settings
        self.member_time = member_time
        self.offer_at = offer_at
        # DM channel ids by person, in memory only: opening a DM (and looking the user up) for every
        # relayed message would spend Discord's global request budget instead of the DM limit.
        self._dm_channels: dict[int, int] = {}

    async def _dm(self, user_id: int) -> discord.PartialMessageable:
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            data = await self.bot.http.start_private_message(user_id)
            channel_id = int(data["id"])
            self._dm_channels[user_id] = channel_id
        return self.bot.get_partial_messageable(channel_id, type=discord.ChannelType.private)

    async def _channel(self, channel_id: int) -> Any:
        return self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)

    async def person(self, guild_id: int | None, user_id: int | None) -> Speaker:
        """Who reads a DM sent now: the language they last used with the bot in this server."""
        if guild_id is None:
            return speaker(SOURCE)
        guild = self.bot.get_guild(guild_id)
        if user_id is None:
            return await server_speaker(self.settings, guild_id, guild)
        return await member_speaker(self.member_time, guild_id, user_id, guild)

    async def server(self, guild_id: int) -> Speaker:
        """Who reads the moderation channel: the server's language."""
        return await server_speaker(self.settings, guild_id, self.bot.get_guild(guild_id))

    # -- transport ----------------------------------------------------------------------

    async def deliver(self, target: Target, message: Outgoing, nonce: str) -> Delivered:
        try:
            channel = await self._dm(target.id) if target.kind == "user" else await self._channel(target.id)
            # A DM's reader is its recipient; the private thread's, the listener of the conversation.
            reader = target.id if target.kind == "user" else message.conversation.listener_user_id
            t = await self.person(message.conversation.guild_id, reader)
            view = await self.renderer.relay(message, t)
            sent = await channel.send(view=view, nonce=nonce, allowed_mentions=NO_MENTIONS)
        except (TimeoutError, discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError) as exc:
            raise _delivery_error(exc) from None
        return Delivered(sent.channel.id, sent.id)

    # -- port ---------------------------------------------------------------------------

    async def tell(self, user_id: int, notice: Notice) -> bool:
        """A direct DM. False when the person can't be reached (DMs closed, gone); a Discord server
        error is raised, so the caller doesn't mistake a hiccup for closed DMs. From a scheduled
        job (a handoff nobody took): once per occurrence, retried on a passing failure."""
        guild_id = notice.params.get("guild_id")
        t = await self.person(int(guild_id) if guild_id is not None else None, user_id)
        view = await self.renderer.notice(None, notice.code, notice.params, t)
        try:
            with retry_if_transient():
                channel = await self._dm(user_id)
            await scheduled_send(
                f"tell:{user_id}:{notice.code}",
                lambda nonce: channel.send(view=view, allowed_mentions=NO_MENTIONS, nonce=nonce),
            )
        except (discord.Forbidden, discord.NotFound):
            log.info("support notice not delivered code=%s", notice.code)
            return False
        return True

    async def send_offer(self, listener_user_id: int, offer: OfferCard) -> tuple[int, int] | None:
        """A listener offer by DM. From a scheduled job (escalation, a queued request's shift
        starting): once per offer, and a passing failure raises RetryLater instead of counting as
        undelivered."""
        view = self.renderer.offer(offer, await self.person(offer.guild_id, listener_user_id))
        try:
            with retry_if_transient():
                channel = await self._dm(listener_user_id)
            sent = await scheduled_send(
                f"offer:{offer.offer_public_id}",
                lambda nonce: channel.send(view=view, allowed_mentions=NO_MENTIONS, nonce=nonce),
            )
        except discord.HTTPException:
            log.info("support offer not delivered offer=%s", offer.offer_public_id)
            return None
        if sent.channel_id is None or sent.message_id is None:
            return None  # it may have gone through; nobody can say where (recorded as maybe sent)
        return sent.channel_id, sent.message_id

    async def _edit(self, channel_id: int, message_id: int, view: discord.ui.LayoutView) -> None:
        try:
            channel = await self._channel(channel_id)
            await channel.get_partial_message(message_id).edit(view=view, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.info("support message not edited message=%s", message_id)

    async def close_offer(self, channel_id: int, message_id: int, outcome: str) -> None:
        offer = await self.offer_at(channel_id, message_id)
        t = await self.person(offer.guild_id, offer.listener_user_id) if offer is not None else speaker(SOURCE)
        await self._edit(channel_id, message_id, self.renderer.closed_offer(outcome, t))

    async def alert_coordinators(self, alert: Alert) -> tuple[int, int] | None:
        channel_id = (await self.settings.get(alert.guild_id)).mod_channel_id
        if channel_id is None:
            return None
        view = self.renderer.alert(alert, await self.server(alert.guild_id))
        try:
            with retry_if_transient():
                channel = await self._channel(channel_id)
            sent = await scheduled_send(
                f"alert:{alert.kind}:{alert.params.get('conversation', '')}",
                lambda nonce: channel.send(view=view, allowed_mentions=NO_MENTIONS, nonce=nonce),
            )
        except discord.HTTPException:
            log.warning("support alert not posted guild=%s kind=%s", alert.guild_id, alert.kind)
            return None
        if sent.channel_id is None or sent.message_id is None:
            return None
        return sent.channel_id, sent.message_id

    async def update_alert(self, guild_id: int, channel_id: int, message_id: int, outcome: str) -> None:
        # By the server's id, not its cached channel: a press in a DM is handled by shard 0's
        # process, which has no copy of a server on another shard.
        t = await self.server(guild_id)
        await self._edit(channel_id, message_id, self.renderer.closed_alert(outcome, t))

    async def open_thread(self, conversation: Conversation, channel_id: int, listener_user_id: int) -> int | None:
        try:
            parent = await self._channel(channel_id)
            if not isinstance(parent, discord.TextChannel):
                return None
            t = await self.person(conversation.guild_id, listener_user_id)
            member = member_of(conversation, t)
            thread = await parent.create_thread(
                name=t("Support · {member}", member=member)[:100],
                type=discord.ChannelType.private_thread,
                invitable=False,
                auto_archive_duration=1440,
            )
            await thread.add_user(discord.Object(listener_user_id))
            await thread.send(
                view=card(
                    t(
                        "**A private space for supporting {member}.** Their messages appear here; reply to them with "
                        "the button (what colleagues write here is not passed on, so you can ask for help: mention a "
                        "colleague to add them). They can't see your account, and you can't see theirs.",
                        member=member,
                    ),
                    accent=LISTENER_COLOUR,
                    buttons=[
                        ActionButton("say", conversation.public_id, t=t),
                        ActionButton("handoff", conversation.public_id, t=t),
                        ActionButton("end", conversation.public_id, t=t),
                        ActionButton("block", conversation.public_id, t=t),
                    ],
                ),
                allowed_mentions=NO_MENTIONS,
            )
        except discord.HTTPException:
            log.warning("support thread could not be opened conversation=%s", conversation.public_id)
            return None
        return thread.id

    async def add_to_thread(self, thread_id: int, user_id: int) -> None:
        try:
            thread = await self._channel(thread_id)
            if isinstance(thread, discord.Thread):
                await thread.add_user(discord.Object(user_id))
        except discord.HTTPException:
            log.warning("could not add a listener to a support thread thread=%s", thread_id)
