"""What sessions look like in Discord: announcements, reminders, the opening, the go-round, the
closing feedback, and the persistent buttons on them.

Each card takes ``t``, its reader's :class:`~bot.i18n.Speaker`: the server's language for what is
posted for the circle, the member's for a reminder, the presser's for a private card.

Persistent buttons are :class:`discord.ui.DynamicItem` subclasses whose custom_ids carry only an
occurrence id and an action (never a person), so they keep working after a restart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

import discord

from bot.i18n import N_, Speaker
from bot.services.sessions.models import BOT_NOTES, GoRoundView, ReminderView, SessionView, channel_link
from bot.timekeeping.markup import message_link, stamp
from bot.timekeeping.words import offset_label
from bot.ui.errors import ErrorHandlingLayoutView, ErrorHandlingModal, ErrorHandlingView
from bot.ui.language import reader
from bot.ui.limits import FittedLayoutView
from bot.ui.replies import NO_PINGS
from bot.ui.routing import Route, routed
from bot.ui.style import SESSION

SESSION_COLOUR = SESSION
WHERE = {"voice": N_("voice channel"), "stage": N_("stage"), "text": N_("text channel")}

OPENING_WORDS = N_(
    "Welcome, everyone. Take a breath and settle in; there's no rush. Share as much or as little as you like, "
    "and listening is always enough."
)
CONFIDENTIAL = N_(
    "**What is shared here stays in the circle.** Please don't repeat anyone's story outside it, or screenshot it."
)
RESOURCES_LINE = N_("If you're struggling right now, /resources shows crisis lines, privately, any time.")
CLOSING_WORDS = N_(
    "Thank you all for being here and for listening to each other. What was shared stays in the circle. "
    "Be gentle with yourselves until we meet again, and if things get heavy before then, /resources shows "
    "who you can reach at any hour."
)
FEEDBACK_ASK = N_(
    "**How helpful was this session for you?** Tap a number (1 = not really, 5 = very). It's anonymous: "
    "nobody, not even the facilitators, can see who answered what."
)
FOR_FACILITATORS = N_("-# For facilitators")
GROUND_RULES = N_("**Ground rules**\n{rules}")


def when_line(view: SessionView, t: Speaker) -> str:
    minutes = int((view.ends_at - view.starts_at).total_seconds() // 60)
    return t.n(
        "**When:** {when} ({relative}) · {n} minute",
        "**When:** {when} ({relative}) · {n} minutes",
        minutes,
        when=stamp(view.starts_at),
        relative=stamp(view.starts_at, "R"),
    )


def where_line(view: SessionView, t: Speaker) -> str:
    kind = WHERE.get(view.channel_kind)
    return t(
        "**Where:** {channel} ({kind})",
        channel=channel_link(view.channel_id),
        kind=t(kind) if kind else t("channel"),
    )


def places_line(view: SessionView, t: Speaker) -> str:
    if view.capacity is None:
        return t("**Going:** {going}", going=view.going)
    if view.waiting:
        return t(
            "**Going:** {going} of {capacity} places · {waiting} on the waitlist",
            going=view.going,
            capacity=view.capacity,
            waiting=view.waiting,
        )
    if view.full:
        return t(
            "**Going:** {going} of {capacity} places · full: Going puts you on the waitlist",
            going=view.going,
            capacity=view.capacity,
        )
    return t("**Going:** {going} of {capacity} places", going=view.going, capacity=view.capacity)


def event_url(view: SessionView) -> str | None:
    return f"https://discord.com/events/{view.guild_id}/{view.event_id}" if view.event_id else None


class SessionHandlers(Protocol):
    """What the buttons and forms call (implemented by the sessions cog, wired in setup_hook)."""

    async def on_session_button(
        self, interaction: discord.Interaction[Any], action: str, occurrence_id: int
    ) -> None: ...

    async def on_feedback(self, interaction: discord.Interaction[Any], occurrence_id: int, score: int) -> None: ...

    async def on_step_out(self, interaction: discord.Interaction[Any], occurrence_id: int) -> None: ...

    async def on_comment(self, interaction: discord.Interaction[Any], feedback_id: int, text: str) -> None: ...


SESSIONS: Route[SessionHandlers] = Route("sessions")


class SessionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"session:(?P<action>rsvp|unrsvp|here|goround|close|pass|tstart|tpause|tnext):(?P<occurrence>\d+)",
):
    """Going / Not going, I'm here, and the facilitator and go-round controls."""

    def __init__(
        self,
        action: str,
        occurrence_id: int,
        label: str,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=f"session:{action}:{occurrence_id}"),
        )
        self.action = action
        self.occurrence_id = occurrence_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SessionButton:
        return cls(match["action"], int(match["occurrence"]), getattr(item, "label", None) or "")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, SESSIONS, lambda h: h.on_session_button(interaction, self.action, self.occurrence_id))


class FeedbackButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"session:fb:(?P<occurrence>\d+):(?P<score>[1-5])",
):
    def __init__(self, occurrence_id: int, score: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=str(score), style=discord.ButtonStyle.secondary, custom_id=f"session:fb:{occurrence_id}:{score}"
            )
        )
        self.occurrence_id = occurrence_id
        self.score = score

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> FeedbackButton:
        return cls(int(match["occurrence"]), int(match["score"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, SESSIONS, lambda h: h.on_feedback(interaction, self.occurrence_id, self.score))


# -- cards --------------------------------------------------------------------------------


Part = str | list[discord.ui.Item[Any]]


def _card(parts: list[Part], accent: discord.Colour | None = SESSION_COLOUR) -> discord.ui.LayoutView:
    """One Components V2 container: text blocks (separated) and rows of buttons, in order."""
    view = FittedLayoutView(timeout=None)
    container: discord.ui.Container[discord.ui.LayoutView] = discord.ui.Container(accent_colour=accent)
    previous_text = False
    for part in parts:
        if isinstance(part, str):
            if previous_text:
                container.add_item(discord.ui.Separator())
            container.add_item(discord.ui.TextDisplay(part))
            previous_text = True
        elif part:
            container.add_item(discord.ui.ActionRow(*part))
            previous_text = False
    view.add_item(container)
    return view


def announcement_card(view: SessionView, t: Speaker) -> discord.ui.LayoutView:
    """The announcement in the circle's channel (``t``: the server's language)."""
    head = f"## 🗓️ {view.title}\n**{view.circle_name}** · {view.recurrence(t)}"
    details = [when_line(view, t), where_line(view, t)]
    if view.description:
        details.append(view.description)
    row: list[discord.ui.Item[Any]] = []
    if view.status == "scheduled":
        details.append(places_line(view, t))
        footer = t(
            "-# Press **Going** and I'll remind you by DM before it starts; the event also appears in "
            "Discord's Events list, where **Interested** counts too. Nobody is shown who's going."
        )
        row = [
            SessionButton("rsvp", view.occurrence_id, t.p("button", "Going"), discord.ButtonStyle.success),
            SessionButton("unrsvp", view.occurrence_id, t.p("button", "Not going")),
        ]
        url = event_url(view)
        if url:
            row.append(discord.ui.Button(label=t("Open in Events"), style=discord.ButtonStyle.link, url=url))
    elif view.status == "open":
        channel = view.post_channel_id or view.channel_id
        footer = t("**Happening now.** You're welcome to join in {channel}.", channel=channel_link(channel))
    elif view.status in ("skipped", "cancelled"):
        if view.status == "skipped":
            footer = t("**This session won't take place: it was skipped.**")
            if view.note:
                footer += "\n" + (t(view.note) if view.note in BOT_NOTES else view.note)
        else:
            footer = t("**This session won't take place: it was cancelled.**")
    else:
        footer = t("**This session has ended.** Thank you to everyone who came.")
    return _card([head, "\n".join(details), footer, row])


def reminder_card(reminder: ReminderView, t: Speaker) -> discord.ui.LayoutView:
    """A reminder by DM (``t``: the language the member last used with the bot)."""
    view = reminder.session
    soon = offset_label(reminder.offset_minutes, t) if reminder.offset_minutes else t("soon")
    own_time = t("**Your time:** {time}", time=reminder.local_text(t))
    if not reminder.zone_is_own:
        own_time = t(
            "**Your time:** {time} (the server's time zone; set your own with /timezone set)",
            time=reminder.local_text(t),
        )
    head = "\n".join(
        [
            t("## Reminder: {title} starts in {soon}", title=view.title, soon=soon),
            f"**{view.circle_name}** · {stamp(view.starts_at)} ({stamp(view.starts_at, 'R')})",
            own_time,
            where_line(view, t),
        ]
    )
    why = (
        t("-# You're getting this because you pressed Going. Can't make it? Press Not going on the announcement.")
        if reminder.going
        else t(
            "-# You asked for reminders for every {circle} session. Turn them off with /session remind.",
            circle=view.circle_name,
        )
    )
    if not reminder.going and view.full:
        why = t("-# It's full right now: press Going on the announcement to join the waitlist.") + "\n" + why
    link = discord.ui.Button[Any](
        label=t("Open the channel"),
        style=discord.ButtonStyle.link,
        url=message_link(view.guild_id, view.post_channel_id or view.channel_id),
    )
    return _card([head, t(GROUND_RULES, rules=reminder.ground_rules), why, [link]])


def opening_card(view: SessionView, ground_rules: str, t: Speaker, *, closed: bool = False) -> discord.ui.LayoutView:
    """The opening post as the session starts (``t``: the server's language)."""
    head = t("## {title} is starting", title=view.title) + "\n" + t(OPENING_WORDS)
    if view.channel_kind != "text":
        head += "\n" + t("We meet in {channel}.", channel=channel_link(view.channel_id))
    parts: list[Part] = [head, t(GROUND_RULES, rules=ground_rules), t(CONFIDENTIAL) + "\n" + t(RESOURCES_LINE)]
    if closed:
        parts.append(t("**This session has closed.** Thank you for being here."))
        return _card(parts)
    parts += [
        t(
            "-# Press **I'm here** to be part of the go-round. Only people who press it are ever named, and you can "
            "pass at any time."
        ),
        [SessionButton("here", view.occurrence_id, t.p("button", "I'm here"), discord.ButtonStyle.success)],
        t(FOR_FACILITATORS),
        [
            SessionButton("goround", view.occurrence_id, t.p("button", "Go-round"), discord.ButtonStyle.primary),
            SessionButton("close", view.occurrence_id, t.p("button", "Close session"), discord.ButtonStyle.secondary),
        ],
    ]
    return _card(parts)


def _remaining(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    return f"{seconds // 60}:{seconds % 60:02d}"


def goround_text(goround: GoRoundView, t: Speaker) -> str:
    heading = t("## Go-round")
    if not goround.speakers:
        return heading + "\n" + t("Everyone passed this time, and that's okay.")
    lines = [heading, t("A random speaking order from those who pressed **I'm here**:")]
    for index, user_id in enumerate(goround.speakers):
        line = f"{index + 1}. <@{user_id}>"
        if goround.current == index and not goround.closed:
            if goround.timer_state == "running" and goround.timer_ends_at is not None:
                line = t(
                    "{speaker} · **speaking now** · time gently up {relative}",
                    speaker=line,
                    relative=stamp(goround.timer_ends_at, "R"),
                )
            elif goround.timer_state == "paused":
                line = t(
                    "{speaker} · **speaking now** · timer paused with {remaining} left",
                    speaker=line,
                    remaining=_remaining(goround.remaining),
                )
            elif goround.timer_state == "done":
                line = t("{speaker} · **speaking now** · time's gently up: finish your thought, no rush", speaker=line)
            else:
                line = t.n(
                    "{speaker} · **up now** · {n} minute when you're ready",
                    "{speaker} · **up now** · {n} minutes when you're ready",
                    goround.speaker_minutes,
                    speaker=line,
                )
        elif goround.current is not None and index < goround.current:
            line = t("{speaker} · thank you", speaker=line)
        lines.append(line)
    if goround.closed:
        lines.append("\n" + t("The session has closed."))
    elif goround.current is None:
        lines.append("\n" + t("Everyone has had their turn. Thank you."))
    else:
        lines.append(
            "\n" + t("-# Anyone can press **Pass**, now or when their turn comes; you won't be named after that.")
        )
    return "\n".join(lines)


def goround_card(view: SessionView, goround: GoRoundView, t: Speaker) -> discord.ui.LayoutView:
    """The go-round post (``t``: the server's language)."""
    parts: list[Part] = [goround_text(goround, t)]
    if not goround.closed and goround.current is not None:
        occurrence = view.occurrence_id
        running = goround.timer_state == "running"
        timer = ("tpause", t.p("button", "Pause timer")) if running else ("tstart", t.p("button", "Start timer"))
        parts += [
            [SessionButton("pass", occurrence, t.p("button", "Pass"))],
            t(FOR_FACILITATORS),
            [
                SessionButton(timer[0], occurrence, timer[1]),
                SessionButton("tnext", occurrence, t.p("button", "Next speaker")),
            ],
        ]
    return _card(parts)


def closing_card(view: SessionView, t: Speaker) -> discord.ui.LayoutView:
    """The closing words and the anonymous feedback (``t``: the server's language)."""
    buttons: list[discord.ui.Item[Any]] = [FeedbackButton(view.occurrence_id, score) for score in range(1, 6)]
    return _card([t("## Thank you for being here") + "\n" + t(CLOSING_WORDS), t(FEEDBACK_ASK), buttons])


# -- short-lived private views ---------------------------------------------------------------


class StepOutView(ErrorHandlingView):
    def __init__(self, occurrence_id: int, owner_id: int, t: Speaker) -> None:
        super().__init__(card="session:step-out", timeout=3600)
        self.occurrence_id = occurrence_id
        self.owner_id = owner_id
        self.step_out.label = t.p("button", "Step out of the go-round")

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="Step out of the go-round", style=discord.ButtonStyle.secondary)
    async def step_out(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await routed(interaction, SESSIONS, lambda h: h.on_step_out(interaction, self.occurrence_id))


class CloseConfirm(ErrorHandlingView):
    def __init__(
        self, owner_id: int, on_confirm: Callable[[discord.Interaction[Any]], Awaitable[None]], t: Speaker
    ) -> None:
        super().__init__(card="session:close-confirm", timeout=600)
        self.owner_id = owner_id
        self.on_confirm = on_confirm
        self.confirm.label = t.p("button", "Close session")
        self.later.label = t.p("button", "Not yet")

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="Close session", style=discord.ButtonStyle.primary)
    async def confirm(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await self.on_confirm(interaction)

    @discord.ui.button(label="Not yet", style=discord.ButtonStyle.secondary)
    async def later(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        t = reader(interaction)
        await interaction.response.edit_message(content=t("Okay, the session stays open."), view=None)


class CommentOffer(ErrorHandlingView):
    def __init__(self, feedback_id: int, t: Speaker) -> None:
        super().__init__(card="session:comment", timeout=1800)
        self.feedback_id = feedback_id
        self.comment.label = t.p("button", "Add a private comment")

    @discord.ui.button(label="Add a private comment", style=discord.ButtonStyle.secondary)
    async def comment(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        await interaction.response.send_modal(CommentModal(self.feedback_id, reader(interaction)))


class CommentModal(ErrorHandlingModal):
    def __init__(self, feedback_id: int, t: Speaker) -> None:
        super().__init__(card="session:comment", title=t("A private comment"), timeout=1800)
        self.feedback_id = feedback_id
        self.text: discord.ui.TextInput[CommentModal] = discord.ui.TextInput(
            custom_id="session:comment:text", style=discord.TextStyle.paragraph, max_length=1000, required=True
        )
        self.add_item(
            discord.ui.Label(
                text=t("Anything the facilitators should know?"),
                description=t(
                    "Saved without your name. Facilitators see comments only once five or more people answered."
                ),
                component=self.text,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, SESSIONS, lambda h: h.on_comment(interaction, self.feedback_id, self.text.value))


class Notice(ErrorHandlingLayoutView):
    """A plain private notice card (used for DMs), its text already in the reader's language."""

    def __init__(self, text: str) -> None:
        super().__init__(timeout=None)
        container: discord.ui.Container[Notice] = discord.ui.Container(accent_colour=SESSION_COLOUR)
        container.add_item(discord.ui.TextDisplay(text))
        self.add_item(container)


__all__ = [
    "NO_PINGS",
    "FeedbackButton",
    "SessionButton",
    "announcement_card",
    "closing_card",
    "goround_card",
    "opening_card",
    "reminder_card",
]
