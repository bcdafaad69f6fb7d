"""Cards, persistent buttons and forms for check-ins.

Every button here is a :class:`discord.ui.DynamicItem`: its custom_id carries the state it needs
(a circle, check-in, request or reminder id: never a user id or name), so it keeps working after a
restart, in ephemeral replies, in circle channels and in DMs. Each one checks on the server side
that the person pressing it owns what it refers to. Cards are Components V2 and never ping.

Every card, button and form is written by a :class:`~bot.i18n.Speaker` ``t`` the caller chooses
(see ``bot/ui/language.py``): the reader's for private cards, the server's for the circle's prompt,
the member's for a reminder DM. English when not given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

import discord
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from bot.i18n import N_, SOURCE, Speaker, speaker
from bot.services.checkins.models import (
    DEFAULT_TAGS,
    MAX_TAGS,
    MOODS,
    NOTE_LIMIT,
    PULSE_MIN_PEOPLE,
    CheckinState,
    Mood,
    mood,
)
from bot.storage.checkins import Checkin
from bot.storage.circles import Circle
from bot.timekeeping.words import clock_time
from bot.ui.errors import ErrorHandlingModal
from bot.ui.limits import FittedLayoutView
from bot.ui.routing import Route, routed
from bot.ui.style import CALM

PENDING_TEXT = N_(
    "**Your request for a listener is noted, and pending.** Nobody has been told yet: it waits until the "
    "server's listener rota is set up to pick it up, and then a listener will reach out to you privately. "
    "If you'd like to talk to someone now, /resources lists support lines that are there for you today."
)


class CheckinHandlers(Protocol):
    """What the persistent buttons call (implemented by the check-ins cog, wired in setup_hook)."""

    async def open_checkin(self, interaction: discord.Interaction[Any], circle_id: int) -> None: ...

    async def mood_tapped(self, interaction: discord.Interaction[Any], circle_id: int, value: int) -> None: ...

    async def checkin_action(self, interaction: discord.Interaction[Any], action: str, checkin_id: int) -> None: ...

    async def cancel_request(self, interaction: discord.Interaction[Any], request_id: int) -> None: ...

    async def reminder_action(self, interaction: discord.Interaction[Any], action: str, reminder_id: int) -> None: ...


CHECKINS: Route[CheckinHandlers] = Route("checkins")


# -- words -------------------------------------------------------------------------------------

ENGLISH = speaker(SOURCE)


def mood_label(choice: Mood, t: Speaker) -> str:
    """A mood as its button reads: "4 · Good"."""
    return f"{choice.value} · {t(choice.word)}"


def tag_label(tag: str, t: Speaker) -> str:
    """A default tag in the reader's language; a circle's own tag as the facilitator typed it."""
    return t(tag) if tag in DEFAULT_TAGS else tag


def tag_list(tags: tuple[str, ...] | list[str], t: Speaker) -> str:
    return ", ".join(tag_label(tag, t) for tag in tags)


def percent(share: int, t: Speaker) -> str:
    """A whole percentage as the reader's language writes it: "20%", "20 %"."""
    return str(babel_numbers.format_percent(share / 100, locale=t.locale))


ENGLISH_WEEKDAY_DAY_MONTH = "EEE d MMM"  # as the bot has always written English: "Sun 29 Mar"


def when_text(moment: datetime, zone: str, t: Speaker = ENGLISH) -> str:
    """A day and time in ``zone`` (named next to it): "Sun 29 Mar, 09:30", "So., 29. März, 09:30"."""
    local = moment.astimezone(ZoneInfo(zone))
    at = clock_time(local, t)
    if t.language == SOURCE:
        return f"{t.date(local, ENGLISH_WEEKDAY_DAY_MONTH)}, {at}"
    day = str(babel_dates.format_skeleton("MMMEd", local, locale=t.locale))
    # The language's own way to join a date and a time (CLDR: "{1}, {0}", "{1} {0}"...).
    return str(t.locale.datetime_formats["short"]).replace("{1}", day).replace("{0}", at)


# -- persistent buttons -----------------------------------------------------------------------


class MoodButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"checkin:mood:(?P<circle>\d+):(?P<mood>[1-5])"
):
    # A tap is keyed by its message (one check-in per card), so a double tap may run twice: both
    # presses just show the check-in (see bot.ui.dispatch).
    idempotent: ClassVar[bool] = True

    def __init__(self, circle_id: int, value: int, t: Speaker = ENGLISH) -> None:
        choice = mood(value)
        super().__init__(
            discord.ui.Button(
                label=mood_label(choice, t),
                emoji=choice.emoji,
                style=discord.ButtonStyle.secondary,
                custom_id=f"checkin:mood:{circle_id}:{value}",
            )
        )
        self.circle_id = circle_id
        self.value = value

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any
    ) -> MoodButton:
        return cls(int(match["circle"]), int(match["mood"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, CHECKINS, lambda h: h.mood_tapped(interaction, self.circle_id, self.value))


class PromptButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"checkin:prompt:(?P<circle>\d+)"):
    def __init__(self, circle_id: int, t: Speaker = ENGLISH) -> None:
        super().__init__(
            discord.ui.Button(
                label=t("Check in"),
                emoji="🌱",
                style=discord.ButtonStyle.primary,
                custom_id=f"checkin:prompt:{circle_id}",
            )
        )
        self.circle_id = circle_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any
    ) -> PromptButton:
        return cls(int(match["circle"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, CHECKINS, lambda h: h.open_checkin(interaction, self.circle_id))


ACTION_LABELS = {
    "details": (N_("Add a note or tags"), discord.ButtonStyle.secondary),
    "redetails": (N_("Change note or tags"), discord.ButtonStyle.secondary),
    "share": (N_("Share mood with circle pulse"), discord.ButtonStyle.secondary),
    "unshare": (N_("Stop sharing"), discord.ButtonStyle.secondary),
    "listener": (N_("Ask a listener to reach out"), discord.ButtonStyle.primary),
}


class CheckinAction(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"checkin:do:(?P<action>details|redetails|share|unshare|listener):(?P<checkin>\d+)",
):
    def __init__(self, action: str, checkin_id: int, t: Speaker = ENGLISH) -> None:
        label, style = ACTION_LABELS[action]
        super().__init__(discord.ui.Button(label=t(label), style=style, custom_id=f"checkin:do:{action}:{checkin_id}"))
        self.action = action
        self.checkin_id = checkin_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any
    ) -> CheckinAction:
        return cls(match["action"], int(match["checkin"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, CHECKINS, lambda h: h.checkin_action(interaction, self.action, self.checkin_id))


class CancelRequestButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"checkin:request:cancel:(?P<request>\d+)"
):
    def __init__(self, request_id: int, t: Speaker = ENGLISH) -> None:
        super().__init__(
            discord.ui.Button(
                label=t("Cancel my listener request"),
                style=discord.ButtonStyle.secondary,
                custom_id=f"checkin:request:cancel:{request_id}",
            )
        )
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any
    ) -> CancelRequestButton:
        return cls(int(match["request"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, CHECKINS, lambda h: h.cancel_request(interaction, self.request_id))


REMINDER_LABELS = {
    "open": (N_("Check in"), discord.ButtonStyle.primary, "🌱"),
    "snooze": (N_("Snooze 1 hour"), discord.ButtonStyle.secondary, None),
    "stop": (N_("Stop reminders"), discord.ButtonStyle.secondary, None),
}


class ReminderAction(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"checkin:reminder:(?P<action>open|snooze|stop):(?P<reminder>\d+)",
):
    def __init__(self, action: str, reminder_id: int, t: Speaker = ENGLISH) -> None:
        label, style, emoji = REMINDER_LABELS[action]
        super().__init__(
            discord.ui.Button(
                label=t(label), style=style, emoji=emoji, custom_id=f"checkin:reminder:{action}:{reminder_id}"
            )
        )
        self.action = action
        self.reminder_id = reminder_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any
    ) -> ReminderAction:
        return cls(match["action"], int(match["reminder"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await routed(interaction, CHECKINS, lambda h: h.reminder_action(interaction, self.action, self.reminder_id))


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    MoodButton,
    PromptButton,
    CheckinAction,
    CancelRequestButton,
    ReminderAction,
)


# -- cards --------------------------------------------------------------------------------------


def card(
    *sections: str, buttons: list[discord.ui.Item[Any]] | None = None, accent: discord.Colour | None = CALM
) -> discord.ui.LayoutView:
    """A Components V2 card: text sections with separators, then a row of buttons. Never times out
    (every button on it is persistent)."""
    view = FittedLayoutView(timeout=None)
    container: discord.ui.Container[discord.ui.LayoutView] = discord.ui.Container(accent_colour=accent)
    for index, section in enumerate(s for s in sections if s):
        if index:
            container.add_item(discord.ui.Separator())
        container.add_item(discord.ui.TextDisplay(section))
    if buttons:
        for start in range(0, len(buttons), 5):
            container.add_item(discord.ui.ActionRow(*buttons[start : start + 5]))
    view.add_item(container)
    if all(isinstance(b, discord.ui.DynamicItem) for b in buttons or ()):
        # Every button is a DynamicItem, dispatched by its custom_id: nothing listens to this
        # object, so discord.py must not keep it (see bot.ui.replies.needs_listening).
        view.stop()
    return view


MOOD_HEADING = N_("## How are you right now?")
_mood_cards: dict[tuple[int, str, Speaker], discord.ui.LayoutView] = {}
MOOD_CARD_CACHE = 1024


def mood_card(
    circle: Circle, *, heading: str | None = None, notice: str | None = None, t: Speaker = ENGLISH
) -> discord.ui.LayoutView:
    """The five mood buttons for a circle, in ``t``'s language (``heading`` and ``notice`` come
    written in it). The plain card is built once per circle id, name and language and reused: it is
    stopped (never kept or changed by discord.py, only serialised), so sharing it is safe, and
    /checkin now answers without building ~30 component objects each time."""
    plain = heading is None and not notice
    key = (circle.id, circle.name, t)  # the Speaker itself: a language's catalogue reloaded is a new one
    if plain and (cached := _mood_cards.get(key)) is not None:
        return cached
    view = card(
        *([notice] if notice else []),
        (heading or t(MOOD_HEADING))
        + "\n"
        + t(
            "One tap is enough. It's private: only you see it, unless you choose to share your mood with the "
            "circle's pulse."
        ),
        t(
            "-# Checking in to **{circle}**. Struggling right now? /resources shows who you can talk to today.",
            circle=circle.name,
        ),
        buttons=[MoodButton(circle.id, m.value, t) for m in MOODS],
    )
    if plain and view.is_finished():
        if len(_mood_cards) >= MOOD_CARD_CACHE:
            _mood_cards.clear()
        _mood_cards[key] = view
    return view


def local_time(checkin: Checkin, t: Speaker = ENGLISH) -> str:
    """When the check-in was made, in the zone it was made in: "08:30"."""
    return clock_time(checkin.created_at.astimezone(ZoneInfo(checkin.timezone)), t)


def checkin_summary(checkin: Checkin, t: Speaker = ENGLISH) -> str:
    chosen = mood(checkin.mood)
    return f"{chosen.emoji} **{mood_label(chosen, t)}**"


def checkin_card(
    state: CheckinState,
    *,
    heading: str | None = None,
    top: list[str] | None = None,
    notice: str | None = None,
    t: Speaker = ENGLISH,
) -> discord.ui.LayoutView:
    """The owner's private card for a check-in (``heading``, ``top`` and ``notice`` come written in
    ``t``'s language)."""
    checkin = state.checkin
    first = heading or t(
        "✅ **Checked in:** {mood} at {time} (your time), in {circle}. Only you can see it.",
        mood=checkin_summary(checkin, t),
        time=local_time(checkin, t),
        circle=state.circle.name,
    )
    details = []
    if checkin.note:
        details.append(t("- Note: saved, only you can see it"))
    if checkin.tags:
        details.append(t("- Tags: {tags}", tags=tag_list(checkin.tags, t)))
    details.append(
        t("- Shared with the circle's pulse: your mood and tags, never your note")
        if checkin.share_pulse
        else t("- Private: not shared with the circle's pulse")
    )
    sections = [*(top or []), *([notice] if notice else []), first + "\n" + "\n".join(details)]
    buttons: list[discord.ui.Item[Any]] = [
        CheckinAction("redetails" if checkin.note or checkin.tags else "details", checkin.id, t),
        CheckinAction("unshare" if checkin.share_pulse else "share", checkin.id, t),
    ]
    if state.pending_request is not None:
        sections.append(t(PENDING_TEXT))
        buttons.append(CancelRequestButton(state.pending_request.id, t))
    else:
        if state.offer_listener:
            sections.insert(
                0,
                t(
                    "💛 **You've checked in low for a few days in a row.** You asked me to offer this when that "
                    "happens: would you like a listener from this server to reach out to you? Only if you want; "
                    "nobody is told unless you press the button."
                ),
            )
        elif not top:
            sections.append(t("Anything to add? All of it is optional."))
        buttons.append(CheckinAction("listener", checkin.id, t))
    sections.append(
        t.n(
            "-# Sharing adds this mood (and its tags, never your note) to the circle's anonymous pulse, which "
            "facilitators see only as totals, and only once at least {n} person shares. "
            "/checkin history shows your own chart; /checkin edit and /checkin delete change your latest check-in.",
            "-# Sharing adds this mood (and its tags, never your note) to the circle's anonymous pulse, which "
            "facilitators see only as totals, and only once at least {n} people share. "
            "/checkin history shows your own chart; /checkin edit and /checkin delete change your latest check-in.",
            PULSE_MIN_PEOPLE,
        )
    )
    return card(*sections, buttons=buttons)


def note_flagged_top(crisis: list[str], t: Speaker = ENGLISH) -> list[str]:
    """Crisis resources first, then what happened and what the member can choose."""
    return [
        *crisis,
        t(
            "Your note is saved privately: nobody else can see it, and nobody has been told. "
            "If you'd like, a listener from this server can reach out to you: press **Ask a listener to reach out**."
        ),
    ]


def reminder_dm(circle: Circle, server: str, reminder_id: int, t: Speaker = ENGLISH) -> discord.ui.LayoutView:
    """The reminder, by DM, in the member's language (the one they last used with the bot)."""
    return card(
        t(
            "## Time for your check-in\nHow are you doing? One tap is enough, and it stays private unless you "
            "choose to share your mood with the circle's pulse.\n-# {circle} circle · {server}",
            circle=circle.name,
            server=server,
        ),
        buttons=[
            ReminderAction("open", reminder_id, t),
            ReminderAction("snooze", reminder_id, t),
            ReminderAction("stop", reminder_id, t),
        ],
    )


def prompt_post(circle: Circle, t: Speaker = ENGLISH) -> discord.ui.LayoutView:
    """The circle's check-in prompt, posted in its channel: in the server's language."""
    return card(
        t(
            "## 🌱 Check-in time\nHow is everyone doing? Take five seconds to note how you are. It's private: "
            "only you see it, unless you choose to share your mood (never a note) with the circle's "
            "anonymous pulse."
        ),
        buttons=[PromptButton(circle.id, t)],
    )


# -- forms --------------------------------------------------------------------------------------

OnDetails = Callable[[discord.Interaction[Any], str, list[str]], Awaitable[None]]
OnEdit = Callable[[discord.Interaction[Any], int, str, list[str], bool], Awaitable[None]]


def _note_input(current: str | None, t: Speaker) -> discord.ui.TextInput[Any]:
    return discord.ui.TextInput(
        custom_id="checkin:note",
        style=discord.TextStyle.paragraph,
        default=current or None,
        max_length=NOTE_LIMIT,
        required=False,
        placeholder=t("Whatever you'd like to remember about today"),
    )


def _tag_select(tags: tuple[str, ...], chosen: tuple[str, ...], t: Speaker) -> discord.ui.Select[Any]:
    return discord.ui.Select(
        custom_id="checkin:tags",
        placeholder=t.n("Up to {n} tag", "Up to {n} tags", MAX_TAGS),
        min_values=0,
        max_values=min(MAX_TAGS, len(tags)),
        required=False,
        options=[discord.SelectOption(label=tag_label(tag, t), value=tag, default=tag in chosen) for tag in tags],
    )


class DetailsModal(ErrorHandlingModal):
    """A private note and up to three tags for a check-in."""

    def __init__(self, checkin: Checkin, tags: tuple[str, ...], on_submit: OnDetails, t: Speaker = ENGLISH) -> None:
        super().__init__(card="checkin:details", title=t("Add to your check-in"), timeout=900)
        self._on_submit = on_submit
        self.note = _note_input(checkin.note, t)
        self.tags = _tag_select(tags, checkin.tags, t)
        self.add_item(
            discord.ui.Label(
                text=t("A private note"),
                description=t("Only you can see it. It's never shared, not even with the pulse."),
                component=self.note,
            )
        )
        self.add_item(
            discord.ui.Label(text=t("Tags"), description=t("Pick up to {n}.", n=MAX_TAGS), component=self.tags)
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._on_submit(interaction, self.note.value, list(self.tags.values))


class EditModal(ErrorHandlingModal):
    """Change the latest check-in: mood, note, tags and whether it is shared with the pulse."""

    def __init__(self, checkin: Checkin, tags: tuple[str, ...], on_submit: OnEdit, t: Speaker = ENGLISH) -> None:
        super().__init__(card="checkin:edit", title=t("Change your check-in"), timeout=900)
        self._on_submit = on_submit
        self.mood = discord.ui.Select[Any](
            custom_id="checkin:mood",
            options=[
                discord.SelectOption(
                    label=mood_label(m, t), value=str(m.value), emoji=m.emoji, default=m.value == checkin.mood
                )
                for m in MOODS
            ],
        )
        self.note = _note_input(checkin.note, t)
        self.tags = _tag_select(tags, checkin.tags, t)
        self.share = discord.ui.Checkbox[Any](custom_id="checkin:share", default=checkin.share_pulse)
        self.add_item(discord.ui.Label(text=t("Mood"), component=self.mood))
        self.add_item(
            discord.ui.Label(text=t("A private note"), description=t("Only you can see it."), component=self.note)
        )
        self.add_item(
            discord.ui.Label(text=t("Tags"), description=t("Pick up to {n}.", n=MAX_TAGS), component=self.tags)
        )
        self.add_item(
            discord.ui.Label(
                text=t("Share my mood with the circle's pulse"),
                description=t("Anonymous totals only, never your note."),
                component=self.share,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._on_submit(
            interaction, int(self.mood.values[0]), self.note.value, list(self.tags.values), self.share.value
        )
