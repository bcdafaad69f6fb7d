"""Cards, persistent buttons and forms for check-ins.

Every button here is a :class:`discord.ui.DynamicItem`: its custom_id carries the state it needs
(a circle, check-in, request or reminder id: never a user id or name), so it keeps working after a
restart, in ephemeral replies, in circle channels and in DMs. Each one checks on the server side
that the person pressing it owns what it refers to. Cards are Components V2 and never ping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

import discord

from bot.services.checkins.models import (
    MAX_TAGS,
    MOODS,
    NOTE_LIMIT,
    PULSE_MIN_PEOPLE,
    CheckinState,
    mood,
)
from bot.storage.checkins import Checkin
from bot.storage.circles import Circle
from bot.ui.errors import ErrorHandlingModal
from bot.ui.routing import Route, routed

CALM = discord.Colour.from_rgb(88, 140, 126)

PRIVATE_LINE = "It's private: only you see it, unless you choose to share your mood with the circle's pulse."
SHARING_EXPLAINED = (
    "-# Sharing adds this mood (and its tags, never your note) to the circle's anonymous pulse, which "
    f"facilitators see only as totals, and only once at least {PULSE_MIN_PEOPLE} people share. "
    "/checkin history shows your own chart; /checkin edit and /checkin delete change your latest check-in."
)
PENDING_TEXT = (
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


# -- persistent buttons -----------------------------------------------------------------------


class MoodButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"checkin:mood:(?P<circle>\d+):(?P<mood>[1-5])"
):
    # A tap is keyed by its message (one check-in per card), so a double tap may run twice: both
    # presses just show the check-in (see bot.ui.dispatch).
    idempotent: ClassVar[bool] = True

    def __init__(self, circle_id: int, value: int) -> None:
        choice = mood(value)
        super().__init__(
            discord.ui.Button(
                label=choice.label,
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
    def __init__(self, circle_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Check in", emoji="🌱", style=discord.ButtonStyle.primary, custom_id=f"checkin:prompt:{circle_id}"
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
    "details": ("Add a note or tags", discord.ButtonStyle.secondary),
    "redetails": ("Change note or tags", discord.ButtonStyle.secondary),
    "share": ("Share mood with circle pulse", discord.ButtonStyle.secondary),
    "unshare": ("Stop sharing", discord.ButtonStyle.secondary),
    "listener": ("Ask a listener to reach out", discord.ButtonStyle.primary),
}


class CheckinAction(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"checkin:do:(?P<action>details|redetails|share|unshare|listener):(?P<checkin>\d+)",
):
    def __init__(self, action: str, checkin_id: int) -> None:
        label, style = ACTION_LABELS[action]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"checkin:do:{action}:{checkin_id}"))
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
    def __init__(self, request_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Cancel my listener request",
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
    "open": ("Check in", discord.ButtonStyle.primary, "🌱"),
    "snooze": ("Snooze 1 hour", discord.ButtonStyle.secondary, None),
    "stop": ("Stop reminders", discord.ButtonStyle.secondary, None),
}


class ReminderAction(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"checkin:reminder:(?P<action>open|snooze|stop):(?P<reminder>\d+)",
):
    def __init__(self, action: str, reminder_id: int) -> None:
        label, style, emoji = REMINDER_LABELS[action]
        super().__init__(
            discord.ui.Button(
                label=label, style=style, emoji=emoji, custom_id=f"checkin:reminder:{action}:{reminder_id}"
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
    view = discord.ui.LayoutView(timeout=None)
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


MOOD_HEADING = "## How are you right now?"
_mood_cards: dict[tuple[int, str], discord.ui.LayoutView] = {}
MOOD_CARD_CACHE = 1024


def mood_card(circle: Circle, *, heading: str = MOOD_HEADING, notice: str | None = None) -> discord.ui.LayoutView:
    """The five mood buttons for a circle. The plain card is built once per circle id and name and
    reused: it is stopped (never kept or changed by discord.py, only serialised), so sharing it is
    safe, and /checkin now answers without building ~30 component objects each time."""
    plain = heading == MOOD_HEADING and not notice
    key = (circle.id, circle.name)
    if plain and (cached := _mood_cards.get(key)) is not None:
        return cached
    view = card(
        *([notice] if notice else []),
        f"{heading}\nOne tap is enough. {PRIVATE_LINE}",
        f"-# Checking in to **{circle.name}**. Struggling right now? /resources shows who you can talk to today.",
        buttons=[MoodButton(circle.id, m.value) for m in MOODS],
    )
    if plain and view.is_finished():
        if len(_mood_cards) >= MOOD_CARD_CACHE:
            _mood_cards.clear()
        _mood_cards[key] = view
    return view


def local_time(checkin: Checkin) -> str:
    moment = checkin.created_at.astimezone(ZoneInfo(checkin.timezone))
    return f"{moment.hour:02d}:{moment.minute:02d}"


def checkin_summary(checkin: Checkin) -> str:
    chosen = mood(checkin.mood)
    return f"{chosen.emoji} **{chosen.label}**"


def checkin_card(
    state: CheckinState, *, heading: str | None = None, top: list[str] | None = None, notice: str | None = None
) -> discord.ui.LayoutView:
    checkin = state.checkin
    first = heading or (
        f"✅ **Checked in:** {checkin_summary(checkin)} at {local_time(checkin)} (your time), in {state.circle.name}. "
        "Only you can see it."
    )
    details = []
    if checkin.note:
        details.append("- Note: saved, only you can see it")
    if checkin.tags:
        details.append(f"- Tags: {', '.join(checkin.tags)}")
    details.append(
        "- Shared with the circle's pulse: your mood and tags, never your note"
        if checkin.share_pulse
        else "- Private: not shared with the circle's pulse"
    )
    sections = [*(top or []), *([notice] if notice else []), first + "\n" + "\n".join(details)]
    buttons: list[discord.ui.Item[Any]] = [
        CheckinAction("redetails" if checkin.note or checkin.tags else "details", checkin.id),
        CheckinAction("unshare" if checkin.share_pulse else "share", checkin.id),
    ]
    if state.pending_request is not None:
        sections.append(PENDING_TEXT)
        buttons.append(CancelRequestButton(state.pending_request.id))
    else:
        if state.offer_listener:
            sections.insert(
                0,
                "💛 **You've checked in low for a few days in a row.** You asked me to offer this when that "
                "happens: would you like a listener from this server to reach out to you? Only if you want; "
                "nobody is told unless you press the button.",
            )
        elif not top:
            sections.append("Anything to add? All of it is optional.")
        buttons.append(CheckinAction("listener", checkin.id))
    sections.append(SHARING_EXPLAINED)
    return card(*sections, buttons=buttons)


def note_flagged_top(crisis: list[str]) -> list[str]:
    """Crisis resources first, then what happened and what the member can choose."""
    return [
        *crisis,
        "Your note is saved privately: nobody else can see it, and nobody has been told. "
        "If you'd like, a listener from this server can reach out to you: press **Ask a listener to reach out**.",
    ]


def reminder_dm(circle: Circle, server: str, reminder_id: int) -> discord.ui.LayoutView:
    return card(
        f"## Time for your check-in\nHow are you doing? One tap is enough, and it stays private unless you "
        f"choose to share your mood with the circle's pulse.\n-# {circle.name} circle · {server}",
        buttons=[
            ReminderAction("open", reminder_id),
            ReminderAction("snooze", reminder_id),
            ReminderAction("stop", reminder_id),
        ],
    )


def prompt_post(circle: Circle) -> discord.ui.LayoutView:
    return card(
        "## 🌱 Check-in time\nHow is everyone doing? Take five seconds to note how you are. It's private: "
        "only you see it, unless you choose to share your mood (never a note) with the circle's "
        "anonymous pulse.",
        buttons=[PromptButton(circle.id)],
    )


# -- forms --------------------------------------------------------------------------------------

OnDetails = Callable[[discord.Interaction[Any], str, list[str]], Awaitable[None]]
OnEdit = Callable[[discord.Interaction[Any], int, str, list[str], bool], Awaitable[None]]


def _note_input(current: str | None) -> discord.ui.TextInput[Any]:
    return discord.ui.TextInput(
        custom_id="checkin:note",
        style=discord.TextStyle.paragraph,
        default=current or None,
        max_length=NOTE_LIMIT,
        required=False,
        placeholder="Whatever you'd like to remember about today",
    )


def _tag_select(tags: tuple[str, ...], chosen: tuple[str, ...]) -> discord.ui.Select[Any]:
    return discord.ui.Select(
        custom_id="checkin:tags",
        placeholder=f"Up to {MAX_TAGS} tags",
        min_values=0,
        max_values=min(MAX_TAGS, len(tags)),
        required=False,
        options=[discord.SelectOption(label=t, value=t, default=t in chosen) for t in tags],
    )


class DetailsModal(ErrorHandlingModal):
    """A private note and up to three tags for a check-in."""

    def __init__(self, checkin: Checkin, tags: tuple[str, ...], on_submit: OnDetails) -> None:
        super().__init__(card="checkin:details", title="Add to your check-in", timeout=900)
        self._on_submit = on_submit
        self.note = _note_input(checkin.note)
        self.tags = _tag_select(tags, checkin.tags)
        self.add_item(
            discord.ui.Label(
                text="A private note",
                description="Only you can see it. It's never shared, not even with the pulse.",
                component=self.note,
            )
        )
        self.add_item(discord.ui.Label(text="Tags", description=f"Pick up to {MAX_TAGS}.", component=self.tags))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._on_submit(interaction, self.note.value, list(self.tags.values))


class EditModal(ErrorHandlingModal):
    """Change the latest check-in: mood, note, tags and whether it is shared with the pulse."""

    def __init__(self, checkin: Checkin, tags: tuple[str, ...], on_submit: OnEdit) -> None:
        super().__init__(card="checkin:edit", title="Change your check-in", timeout=900)
        self._on_submit = on_submit
        self.mood = discord.ui.Select[Any](
            custom_id="checkin:mood",
            options=[
                discord.SelectOption(label=m.label, value=str(m.value), emoji=m.emoji, default=m.value == checkin.mood)
                for m in MOODS
            ],
        )
        self.note = _note_input(checkin.note)
        self.tags = _tag_select(tags, checkin.tags)
        self.share = discord.ui.Checkbox[Any](custom_id="checkin:share", default=checkin.share_pulse)
        self.add_item(discord.ui.Label(text="Mood", component=self.mood))
        self.add_item(discord.ui.Label(text="A private note", description="Only you can see it.", component=self.note))
        self.add_item(discord.ui.Label(text="Tags", description=f"Pick up to {MAX_TAGS}.", component=self.tags))
        self.add_item(
            discord.ui.Label(
                text="Share my mood with the circle's pulse",
                description="Anonymous totals only, never your note.",
                component=self.share,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._on_submit(
            interaction, int(self.mood.values[0]), self.note.value, list(self.tags.values), self.share.value
        )


def when_text(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.strftime('%a')} {local.day} {local.strftime('%b')}, {local.hour:02d}:{local.minute:02d}"
