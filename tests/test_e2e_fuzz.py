"""A fuzz run: press every button the bot shows, as everyone who can see it, and fill every form with
hostile values. The issue's done-when: "The fuzz scenario answers every interaction."

A realistic server is set up through the bot's own commands: an admin runs /setup, creates circles,
a rota with listeners and sessions; members join, check in, share, report, ask for support. Then a
crawler walks every message and private card any simulated person can see (channels, threads, DMs,
their ephemeral replies) and, bounded by a visited set (message, control, person) and a budget:

- presses every button and chooses every select option as each person who can see it: the least
  privileged and the two most privileged at once first (a member on an admin's card, a non-author on
  someone else's share, two admins racing), then everyone else;
- presses each private control twice at once (a double click), and submits each kind of form twice
  at once;
- presses old versions of cards after they were redrawn (``stale``), and, last, other people's
  private controls forged onto a card of their own (a press Discord shouldn't send, answered anyway);
- submits every form that opens with hostile values, re-opening it until it has had each one: empty,
  whitespace only, the field's full length, zalgo, right-to-left and zero-width characters, markdown,
  @everyone / role / user mentions, SQL-ish and format-string payloads, emoji only, a nonsense time;
- runs commands with hostile options (dates at the end of the calendar, numbers too large for SQLite
  in place of a choice, nonsense times and zones) and every autocomplete with hostile text;
- writes hostile direct messages into support conversations.

Then it checks, from the sandbox's own records: every interaction got exactly one answer within
Discord's 3 seconds (none is the sandbox's "This interaction failed"), every "thinking…" answer was
filled in, every control was pressed at least once, the bot logged no error or traceback, no message
allowed a mention to ping anyone, anonymous text carries no live mention, every card's text fits
Discord's limit, nothing was done twice (a share posted, an offer accepted), and (the fixture) no
request broke Discord's API description. A summary line is printed.

Time runs on a FakeClock with the scheduler's timers off; the crawl's choices are deterministic.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.sandbox.actors import Outcome, Person, Sandbox
from bot.sandbox.models import DM, FLAG_EPHEMERAL, Message, P, component_text, walk_components
from bot.sandbox.server import SandboxError
from bot.services.sanitize import has_live_mention
from bot.ui.cards import card_of
from tests.support_harness import dm

LONDON = ZoneInfo("Europe/London")
SEED = 20261205
BUDGET = 1500  # interactions after setup: commands, autocompletes, presses, forms and forged presses
FORGED = 40  # of which forged presses of other people's private controls
PRESSABLE = {2, 3}  # buttons and string selects (the bot shows no user, role or channel selects)
MAIN_FIRST = {3: 0, 1: 1, 2: 2, 4: 3}  # button styles: success, primary, secondary, danger
NONCE = re.compile(r":[0-9a-f]{8}$")  # a private card's per-card nonce (bot.ui.cards.new_nonce)
HUGE = "9" * 30  # in place of an id from a list: too large for SQLite
FAR = "9999-12-31"  # a date at the end of the calendar

# Hostile values. {victim}, {role} and {channel} are filled in with real ids of the sandbox server.
HOSTILE: dict[str, str] = {
    "empty": "",
    "blank": "   \n\t \u3000 ",
    "long": ("A wall of text that goes on and on. " * 120)[:4000],
    "zalgo": "Z\u0334\u0327\u031b\u0349\u0344a\u0338\u0321\u035a\u0301l\u0336\u0322\u031bg\u0337\u0331o\u0335\u0327\u035d",
    "rtl": "\u202eevil reversed\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u200f\u200e \u2067x\u2069",
    "zero-width": "\u200b\u200c\u200d\ufeff@\u200beveryone \u2060<\u200b@{victim}>",
    "markdown": "# Heading\n**bold** __u__ ~~s~~ ||spoiler|| `code` ```py\nprint(1)\n```\n> quote "
    "[click me](https://evil.example/phish) <https://x.example> -# small",
    "mentions": "@everyone @here <@{victim}> <@!{victim}> <@&{role}> <#{channel}> please read",
    "sql": "'; DROP TABLE shares; -- \" OR 1=1 -- ",
    "format": "{0} {name} {{}} %s %d %(x)s {0!r:>{1}} ${HOME} \\N{BULLET}",
    "emoji": "🫂🫂💛🌱🕯️",
    "time": "25:99 o'clock, yesterday-ish",
}
HOSTILE_NAME = "@everyone \u202e<@&1>\u202c ||Bob||"  # a display name (at most 32 characters)
PING_TEXT = re.compile(r"@(everyone|here)\b|<@[!&]?\d+>")


@dataclass
class Control:
    """One button, or one option of a select, on one version of a message."""

    message: Message
    comp: dict[str, Any]
    value: str | None = None
    stale: bool = False  # only on an older version of the message

    @property
    def custom_id(self) -> str:
        return str(self.comp["custom_id"])

    @property
    def key(self) -> tuple[int, str, str, bool]:
        """The same control on a redrawn card is the same control: its card's random nonce is left out
        (a toggle redraws its card with a new nonce on every press)."""
        return (self.message.id, NONCE.sub("", self.custom_id), self.value or "", self.stale)


@dataclass
class Record:
    kinds: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    forms: Counter[str] = field(default_factory=Counter)
    payloads: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return sum(self.kinds.values())


class Crawler:
    def __init__(self, sandbox: Sandbox, people: list[Person], *, budget: int = BUDGET) -> None:
        self.sandbox = sandbox
        self.people = people  # least privileged first
        self.budget = budget
        self.rng = random.Random(SEED)
        self.record = Record()
        self.visited: set[tuple[int, str, str, bool, int]] = set()
        self.pressed: Counter[tuple[int, str, str, bool]] = Counter()
        self.form_turn: Counter[str] = Counter()
        self.ordinals: dict[int, int] = {}
        self.kinds_seen: Counter[str] = Counter()
        self.private: list[tuple[Person, Control]] = []
        self._audiences: dict[int, tuple[Any, list[Person]]] = {}
        self._controls: dict[int, tuple[tuple[int, bool], list[Control]]] = {}
        victim = next(p for p in people if p.user.username == "fran")
        replace = {
            "{victim}": str(victim.id),
            "{role}": str(sandbox.role("Circle: Grief").id),
            "{channel}": str(sandbox.channel("circle-grief").id),
        }
        self.values = {name: text for name, text in HOSTILE.items()}
        for name, text in self.values.items():
            for old, new in replace.items():
                text = text.replace(old, new)
            self.values[name] = text

    # -- what each person sees -----------------------------------------------------------

    def audience(self, message: Message) -> list[Person]:
        """Who can see the message (cached per message while roles and channels stay as they are; the
        sandbox refuses a press on a message the person can't see anyway)."""
        guild = self.sandbox.guild
        world = (tuple(tuple(m.roles) for m in guild.members.values()), len(guild.channels), message.deleted)
        cached = self._audiences.get(message.id)
        if cached is None or cached[0] != world:
            cached = self._audiences[message.id] = (world, self._audience(message))
        return cached[1]

    def _audience(self, message: Message) -> list[Person]:
        server = self.sandbox.server
        channel = server.channels.get(message.channel_id)
        if channel is None or message.deleted:
            return []
        if message.ephemeral_to is not None:
            return [p for p in self.people if p.id == message.ephemeral_to]
        if channel.type == DM:
            return [p for p in self.people if channel.recipients and channel.recipients[0].id == p.id]
        return [p for p in self.people if self.sandbox.guild.permissions_in(p.id, channel) & P["VIEW_CHANNEL"]]

    def controls(self, message: Message) -> list[Control]:
        version = (len(message.history), message.deleted)
        cached = self._controls.get(message.id)
        if cached is None or cached[0] != version:
            cached = self._controls[message.id] = (version, self._controls_of(message))
        return cached[1]

    def _controls_of(self, message: Message) -> list[Control]:
        """The message's controls in the order they are first pressed: on one card in three of each
        kind the main action first (success, then primary style), on the others the card's own order
        started at a different control each time (so Cancel or Edit come first on some). Then the
        controls only older versions of the message show."""
        current: list[Control] = []
        for comp in walk_components(message.components):
            if comp.get("type") not in PRESSABLE or not comp.get("custom_id") or comp.get("disabled"):
                continue
            if comp["type"] == 3:
                current.extend(Control(message, comp, value=str(o["value"])) for o in comp.get("options", []))
            else:
                current.append(Control(message, comp))
        if current:
            ordinal = self._ordinal(message, current[0].custom_id)
            if ordinal % 3 == 0:
                current.sort(key=lambda c: MAIN_FIRST.get(int(c.comp.get("style") or 2), 9))
            else:
                turn = ordinal % len(current)
                current = current[turn:] + current[:turn]
        shown = {c.custom_id for c in current}
        for old in reversed(message.history):
            for comp in walk_components(old.get("components") or []):
                cid = comp.get("custom_id")
                if comp.get("type") == 2 and cid and not comp.get("disabled") and cid not in shown:
                    shown.add(str(cid))
                    current.append(Control(message, comp, stale=True))
        return current

    def _ordinal(self, message: Message, custom_id: str) -> int:
        if message.id not in self.ordinals:
            kind = card_of(custom_id) or custom_id
            self.ordinals[message.id] = self.kinds_seen[kind]
            self.kinds_seen[kind] += 1
        return self.ordinals[message.id]

    def candidates(self) -> list[tuple[tuple[int, bool, int, int, int], Person, Control]]:
        """Every (control, person) not pressed yet: each control's first press before anyone's second
        (and the controls a card shows before those of its older versions); the least privileged
        first, then the most privileged, then everyone else."""
        order = {p.id: i for i, p in enumerate(self.people)}
        found = []
        for message in list(self.sandbox.server.messages.values()):
            if message.author.id != self.sandbox.server.bot_user.id or message.deleted:
                continue
            audience = self.audience(message)
            if not audience:
                continue
            for position, control in enumerate(self.controls(message)):
                times = self.pressed[control.key]
                if control.stale and times:
                    continue  # one press of an old version of a control is enough
                for person in audience:
                    if (*control.key, person.id) not in self.visited:
                        rank = -order[person.id] if times == 1 else order[person.id]
                        found.append(((times, control.stale, rank, message.id, position), person, control))
        found.sort(key=lambda c: c[0])
        return found

    # -- pressing ------------------------------------------------------------------------

    async def crawl(self, budget: int) -> None:
        while self.record.sent < budget:
            candidates = self.candidates()
            if not candidates:
                return
            _, person, control = candidates[0]
            first = self.pressed[control.key] == 0
            self._mark(person, control)
            if control.message.ephemeral_to is not None or self._is_dm(control.message):
                self.private.append((person, control))
            if first and not control.stale and control.comp["type"] == 2:
                await self._at_once(person, control)
            else:
                await self._once(person, control)

    def unpressed(self) -> list[str]:
        return sorted({f"{c.custom_id} on {c.message.text[:40]!r}" for (t, *_), _, c in self.candidates() if t == 0})

    def _mark(self, person: Person, control: Control) -> None:
        self.visited.add((*control.key, person.id))
        self.pressed[control.key] += 1

    def _is_dm(self, message: Message) -> bool:
        channel = self.sandbox.server.channels.get(message.channel_id)
        return channel is not None and channel.type == DM

    def _press(self, person: Person, control: Control) -> Callable[[], Awaitable[Outcome]]:
        if control.comp["type"] == 2:
            return lambda: person.click(control.message, control.custom_id, stale=control.stale)
        return lambda: person.select(control.message, control.custom_id, [str(control.value)])

    async def _once(self, person: Person, control: Control) -> None:
        kind = "stale" if control.stale else "button" if control.comp["type"] == 2 else "select"
        press = self._press(person, control)
        outcome = await self.guard(kind, press())
        if outcome is not None:
            await self._open_again(person, press, await self.follow(person, outcome))

    async def _at_once(self, person: Person, control: Control) -> None:
        """A control's first press is two or three at once: on a public card the least privileged and
        the two most privileged people who can see it, on a private one the owner's double click."""
        others = [p for p in reversed(self.audience(control.message)) if p is not person][:2]
        if others:
            for other in others:
                self._mark(other, control)
            who = [person, *others]
            outcomes = await asyncio.gather(
                *(self.guard("together", p.click(control.message, control.custom_id)) for p in who)
            )
            for presser, outcome in zip(who, outcomes, strict=True):
                if outcome is not None:
                    await self._open_again(presser, self._press(presser, control), await self.follow(presser, outcome))
            return
        pair = await self.guard("double", person.double_click(control.message, control.custom_id), count=2)
        forms = [await self.follow(person, outcome) for outcome in pair or ()]
        await self._open_again(person, self._press(person, control), next((f for f in forms if f), None))

    async def _open_again(self, person: Person, again: Callable[[], Awaitable[Outcome]], form: str | None) -> None:
        """Open the same form again until it has had every hostile value (or stops opening)."""
        while form is not None and self.form_turn[form] < len(self.values) and self.record.sent < self.budget:
            outcome = await self.guard("reopen", again())
            if outcome is None:
                return
            form = await self.follow(person, outcome)
            if outcome.kind != "modal":
                return

    async def guard(self, kind: str, pressing: Awaitable[Any], *, count: int = 1) -> Any:
        """One press (or a pair). One the person's screen can't show any more (the message was
        deleted, the control is gone) is skipped; an unanswered or late one is a failure."""
        self.record.kinds[kind] += count
        try:
            return await pressing
        except SandboxError as error:
            text = str(error)
            gone = ("deleted", "no longer exists", "can't see", "No button", "No select", "is disabled")
            if any(word in text for word in gone):
                self.record.kinds[kind] -= count
                return None
            if "Timed out" in text or "3-second" in text:
                self.record.failures.append(f"{kind}: {text}")
                return None
            raise

    async def follow(self, person: Person, outcome: Outcome) -> str | None:
        """A form that opened is submitted with hostile values (its kind is returned); a "thinking…"
        answer must be filled in."""
        if outcome.kind == "modal":
            return await self.submit(person, outcome)
        if outcome.kind == "deferred":
            try:
                await outcome.settled()
            except SandboxError as error:
                self.record.failures.append(f"{outcome.interaction.name!r} was never filled in: {error}")
        return None

    # -- forms ---------------------------------------------------------------------------

    async def submit(self, person: Person, opened: Outcome) -> str:
        """Fill in the form with the next hostile value for its kind; the first of each kind is sent
        twice at once."""
        modal = opened.modal
        form = NONCE.sub("", str(modal.get("custom_id", "")))
        name = list(self.values)[self.form_turn[form] % len(self.values)]
        first = self.form_turn[form] == 0
        self.form_turn[form] += 1
        self.record.forms[form] += 1
        self.record.payloads[name] += 1
        values: dict[str, Any] = {}
        for comp in walk_components(modal.get("components", [])):
            cid = comp.get("custom_id")
            if not cid:
                continue
            if comp["type"] == 4:
                values[cid] = self.fit(self.values[name], comp)
            elif comp["type"] == 3:
                options = [o["value"] for o in comp.get("options", [])]
                low = int(comp.get("min_values", 1))
                high = min(int(comp.get("max_values", 1)), len(options))
                values[cid] = self.rng.sample(options, self.rng.randint(max(low, 0), high)) if options else []
            elif comp["type"] == 23:
                values[cid] = self.rng.random() < 0.5
        copies = 2 if first else 1
        outcomes = await asyncio.gather(
            *(self.guard("form", person.submit_modal(opened, **values)) for _ in range(copies))
        )
        for outcome in outcomes:
            if outcome is not None:
                await self.follow(person, outcome)
        return form

    @staticmethod
    def fit(text: str, comp: dict[str, Any]) -> str:
        """The hostile value as Discord's client lets it through: within the field's lengths, and not
        empty when the field is required."""
        if comp.get("required", True) and not text:
            text = " "
        text = text[: int(comp.get("max_length", 4000))]
        low = int(comp.get("min_length", 0))
        return (text * low)[:low] if text and len(text) < low else text

    # -- commands ------------------------------------------------------------------------

    async def slash(self, person: Person, command: str, *, force: bool = False, **options: Any) -> Outcome | None:
        def run() -> Awaitable[Outcome]:
            return person.slash(command, force=force, **options)

        outcome: Outcome | None = await self.guard("command", run())
        if outcome is not None:
            await self._open_again(person, run, await self.follow(person, outcome))
        return outcome

    async def autocomplete(self, person: Person, command: str, option: str, value: str) -> None:
        await self.guard("autocomplete", person.autocomplete(command, option, value[:100]))

    # -- presses Discord shouldn't send --------------------------------------------------

    async def forge(self, limit: int) -> None:
        """Someone else presses a private control: its custom_id, on a card of their own."""
        done: set[str] = set()
        for owner, control in self.private:
            if len(done) >= limit or control.comp["type"] != 2 or control.custom_id in done:
                continue
            intruder = next(p for p in self.people if p is not owner)
            done.add(control.custom_id)
            forged = self.sandbox.card_from_before(intruder, control.custom_id)
            outcome = await self.guard("forged", intruder.click(forged, control.custom_id))
            if outcome is not None:
                await self.follow(intruder, outcome)


# -- the server ---------------------------------------------------------------------------------


@dataclass
class Cast:
    ana: Person  # a server admin
    cora: Person  # a coordinator (the coordinator role)
    fran: Person  # the Grief circle's facilitator
    lena: Person  # a listener, on call and on a shift, talking with Maya and Bob
    omar: Person  # applied to be a listener; waiting for approval
    alice: Person
    bob: Person  # asked for support by name: a hostile display name
    carol: Person
    dave: Person  # in the server, in no circle
    maya: Person

    @property
    def everyone(self) -> list[Person]:
        """Least privileged first."""
        return [
            self.dave,
            self.maya,
            self.carol,
            self.bob,
            self.alice,
            self.omar,
            self.lena,
            self.fran,
            self.cora,
            self.ana,
        ]


@pytest.fixture
def clock() -> FakeClock:
    # Near real time: Discord (and the sandbox) refuse events that start in the past.
    return FakeClock(datetime.now(UTC).replace(second=0, microsecond=0))


@pytest.fixture
async def fbot(timed_bot: PeerCirclesBot) -> PeerCirclesBot:
    return timed_bot


def hhmm(moment: datetime) -> str:
    local = moment.astimezone(LONDON)
    return f"{local.hour:02d}:{local.minute:02d}"


async def settled(outcome: Outcome) -> Outcome:
    return await outcome.settled() if outcome.kind in ("deferred", "deferred_update") else outcome


async def join(person: Person, circle: str) -> None:
    await person.click(await person.slash("circle join", circle=circle), "I agree, join")


async def share(person: Person, text: str, circle: str, *, notify: bool = False) -> None:
    opened = await person.slash("share post", circle=circle)
    preview = await person.submit_modal(opened, **{"share:text": text, "share:warning": ""})
    if notify:
        await person.click(preview, "Tell me about replies: off")
    await settled(await person.click(preview, "Post"))


async def ask(person: Person, topic: str, *, named: bool = False) -> None:
    values = {"support:topic": topic, "support:appear": ["named" if named else "anonymous"]}
    await settled(await person.submit_modal(await person.slash("support ask"), **values))


async def build_server(sandbox: Sandbox, bot: PeerCirclesBot, clock: FakeClock) -> Cast:
    """An ordinary small community, set up through the bot's own commands."""
    ana = sandbox.admin("ana")
    coordinators = await sandbox.add_role("Coordinators")
    facilitators = await sandbox.add_role("Facilitators")
    listeners = await sandbox.add_role("Listeners")
    listeners_channel = await sandbox.add_channel("listeners")
    cast = Cast(
        ana=ana,
        cora=sandbox.member("cora", roles=["Coordinators"]),
        fran=sandbox.member("fran", roles=["Facilitators"]),
        lena=sandbox.member("lena"),
        omar=sandbox.member("omar"),
        alice=sandbox.member("alice"),
        bob=sandbox.member("bob", global_name=HOSTILE_NAME),
        carol=sandbox.member("carol"),
        dave=sandbox.member("dave"),
        maya=sandbox.member("maya"),
    )
    await ana.slash(
        "setup",
        timezone="Europe/London",
        region="GB",
        moderation_channel=sandbox.channel("moderation"),
        coordinator_role=coordinators,
    )
    await ana.slash("rota settings", listener_role=listeners, listeners_channel=listeners_channel, auto_approve=False)
    for name, options in (
        ("Grief", {"facilitator_role": facilitators}),
        ("Recovery", {"premoderation": True}),
        ("Scratch", {}),
    ):
        opened = await ana.slash("circle create", name=name, description=f"For {name.lower()}", **options)
        await settled(await ana.submit_modal(opened))
    for person in (cast.alice, cast.bob, cast.carol, cast.maya):
        await join(person, "Grief")
    for person in (cast.alice, cast.bob):
        await join(person, "Recovery")

    # Listeners: Lena is approved, on a shift and on call; Omar's application waits in #moderation.
    for person in (cast.lena, cast.omar):
        await settled(await person.click(await person.slash("listener join"), "I agree"))
    review = next(m for m in sandbox.channel("moderation").messages if f"<@{cast.lena.id}>" in m.text)
    await settled(await ana.click(review, "Approve"))
    now = clock.now().astimezone(LONDON)
    await settled(await ana.slash("rota add", start=f"{now.hour:02d}:00", hours=4, day=now.weekday(), needed=2))
    await settled(await ana.slash("rota board"))
    shift = (await cast.lena.autocomplete("rota take", "shift", ""))[0]["value"]
    await settled(await cast.lena.slash("rota take", shift=shift))
    await settled(await cast.lena.slash("listener available", hours=4))
    await settled(await cast.lena.slash("listener limits", max_conversations=3))

    # Sessions: a weekly one announced, and one that opens in twenty minutes.
    soon = clock.now() + timedelta(minutes=20)
    for title, first, at, recurrence in (
        ("Weekly check-in", now.date() + timedelta(days=2), "19:00", "weekly"),
        ("Tonight's circle", soon.astimezone(LONDON).date(), hhmm(soon), "once"),
    ):
        await settled(
            await cast.fran.slash(
                "session schedule",
                circle="Grief",
                title=title,
                first_date=first.isoformat(),
                start_time=at,
                recurrence=recurrence,
            )
        )

    # Check-ins, and a reminder and a prompt due in ten minutes.
    in_ten = clock.now() + timedelta(minutes=10)
    await cast.alice.click(await cast.alice.slash("checkin now", circle="Grief"), "2 · Low")
    await cast.alice.slash("checkin reminders", time=hhmm(in_ten), circle="Grief")
    await cast.fran.slash("checkin prompt", circle="Grief", schedule="daily", time=hhmm(in_ten))

    # Shares: one plain, one asking for reply notices, a report on the first, one waiting for review.
    await share(cast.alice, "Some days are heavier than others.", "Grief")
    await share(cast.bob, "Thank you all for last week.", "Grief", notify=True)
    posted = [m for m in sandbox.channel("circle-grief").messages if "shared anonymously" in m.text]
    reported = await cast.carol.click(posted[0], "Report")
    await cast.carol.submit_modal(reported, **{"share:field": "Please take a look"})
    await share(cast.alice, "Waiting for a moderator.", "Recovery")

    # Support: Lena talks with Maya and Bob (by his name); she ends and blocks Carol's conversation;
    # Dave asks too. Two conversations open: a message she writes asks her where it goes.
    for person, named in ((cast.maya, False), (cast.bob, True), (cast.carol, False)):
        before = len(cast.lena.dms)
        await ask(person, "a hard week", named=named)
        offer = await cast.lena.wait_for_dm("Someone", after=before)
        await settled(await cast.lena.click(offer, "Accept"))
        await person.wait_for_dm("has joined")
    await dm(bot, cast.maya, "hi, thanks for being here")
    await dm(bot, cast.lena, "I'm here, take your time")
    intro = [m for m in cast.lena.dms if "You're now talking with" in m.text and "End and block" in m.buttons][-1]
    await settled(await cast.lena.click(await cast.lena.click(intro, "End and block"), "End and block"))
    await sandbox.channel("moderation").wait_for_message("blocked the member")
    await ask(cast.dave, "")
    await bot.services.outbox.drain()

    # Time passes: the reminder, the prompt and the session's opening arrive; a go-round starts.
    clock.advance(timedelta(minutes=16))
    await bot.services.scheduler.run_due()
    clock.advance(timedelta(minutes=5))
    await bot.services.scheduler.run_due()
    circle = sandbox.channel("circle-grief")
    opening = await circle.wait_for_message("is starting")
    for person in (cast.alice, cast.bob):
        await person.click(opening, "I'm here")
    await settled(await cast.fran.click(opening, "Go-round"))
    await circle.wait_for_message("## Go-round")
    await cast.alice.wait_for_dm("Time for your check-in")
    return cast


async def hostile_commands(crawler: Crawler, cast: Cast, clock: FakeClock) -> None:
    """Commands with hostile option values (forms that open are filled in by the crawler)."""
    v = crawler.values
    slash = crawler.slash
    today = clock.now().astimezone(LONDON).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    weekly = (await cast.fran.autocomplete("session edit", "session", "weekly"))[0]["value"]
    # Free text where the bot expects a time, a date, a zone, a country, a day or a name.
    await slash(cast.ana, "setup", timezone=v["format"][:100])
    await slash(cast.ana, "setup", region=v["sql"][:100])
    await slash(cast.dave, "setup", force=True, retention_days=7)  # a member, through an override
    await slash(cast.bob, "timezone set", zone=v["rtl"])
    await slash(cast.bob, "resources", country=v["sql"])
    await slash(cast.alice, "checkin reminders", time=v["time"][:10])
    await slash(cast.alice, "checkin reminders", time="٠٨:٣٠")
    await slash(cast.alice, "checkin reminders", time="08:30", days=v["format"][:60])
    await slash(cast.fran, "checkin prompt", circle="Grief", schedule="weekly", time="24:00")
    tags = ", ".join(v[n][:40] for n in ("mentions", "format", "emoji", "zalgo"))
    await slash(cast.fran, "checkin tags", circle="Grief", tags=tags)
    await slash(cast.ana, "rota add", start=v["time"], hours=1, day=0)
    await slash(cast.ana, "rota add", start="7pm", hours=1, date=v["sql"])
    await slash(cast.ana, "rota add", start="23:30", hours=12, date=FAR)
    await slash(cast.cora, "rota add", start="7pm", hours=1, day=today.weekday(), label=v["mentions"][:60])
    await slash(cast.lena, "rota take", shift=f"1:{FAR}")
    await slash(cast.lena, "rota take", shift=f"{HUGE}:{tomorrow}")
    await slash(cast.ana, "rota remove", shift=HUGE)
    await slash(cast.ana, "rota remove", shift="²")
    await slash(cast.fran, "session schedule", circle="Grief", title="x", first_date=v["format"], start_time=v["time"])
    await slash(cast.fran, "session schedule", circle="Grief", title="x", first_date=FAR, start_time="19:00")
    await slash(
        cast.fran,
        "session schedule",
        circle="Grief",
        title=v["mentions"][:100],
        first_date=tomorrow,
        start_time="18:00",
        description=v["markdown"],
        reminders=v["sql"],
    )
    await slash(
        cast.fran,
        "session schedule",
        circle="Grief",
        title=v["zalgo"],
        first_date=tomorrow,
        start_time="٠٦:٣٠pm",
        description=v["mentions"],
        recurrence="weekly",
        weekdays=v["emoji"],
    )
    await slash(
        cast.fran, "session schedule", circle="Grief", title=v["mentions"][:100], first_date=tomorrow, start_time="7pm"
    )
    await slash(
        cast.carol, "session schedule", circle="Grief", title="mine now", first_date=tomorrow, start_time="20:00"
    )
    await slash(cast.fran, "session edit", session=weekly, new_date=FAR)
    await slash(cast.fran, "session edit", session=weekly, new_time=v["time"])
    for command in ("session info", "session skip", "session cancel"):
        await slash(cast.fran, command, session=HUGE)
    await slash(cast.dave, "circle join", circle=v["sql"][:100])
    await slash(cast.dave, "circle info", circle=v["zero-width"])
    await slash(cast.ana, "circle create", name=v["zalgo"][:40], description=v["mentions"][:200])
    await slash(cast.ana, "circle create", name="  ", description=v["blank"])
    await slash(cast.cora, "circle create", name="Ünïcødé (new) & co.", description=v["rtl"])
    await slash(cast.ana, "circle edit", circle="Grief", description=v["mentions"][:200], rules=True)
    await slash(cast.bob, "circle edit", circle="Grief", name="Mine", force=True)
    await slash(cast.dave, "share post", circle=v["format"])
    await slash(cast.dave, "checkin now")
    await slash(cast.maya, "checkin edit")
    await slash(cast.alice, "checkin edit")
    await slash(cast.alice, "share post", circle="Grief")
    await slash(cast.omar, "support ask")


async def hostile_autocompletes(crawler: Crawler, cast: Cast) -> None:
    """Every autocomplete the bot offers, typed into with hostile text by a member and an admin."""
    commands = [c for scope in crawler.sandbox.server.commands.values() for c in scope.values()]

    def options(entries: list[dict[str, Any]] | None, path: list[str]) -> Iterator[tuple[str, str]]:
        for entry in entries or []:
            if entry["type"] in (1, 2):
                yield from options(entry.get("options"), [*path, entry["name"]])
            elif entry.get("autocomplete"):
                yield " ".join(path), entry["name"]

    found = sorted({o for c in commands for o in options(c.get("options"), [c["name"]])})
    values = [*crawler.values.values(), FAR, HUGE]
    for index, (command, option) in enumerate(found):
        person = cast.ana if index % 2 else cast.carol
        await crawler.autocomplete(person, command, option, values[index % len(values)])


async def hostile_dms(bot: PeerCirclesBot, cast: Cast, crawler: Crawler) -> None:
    """Both sides of a support conversation write hostile messages; the relay passes them on."""
    for name in ("mentions", "markdown", "zero-width", "format", "long"):
        await dm(bot, cast.maya, crawler.values[name][:2000])
        await dm(bot, cast.lena, crawler.values[name][:2000])
    await bot.services.outbox.drain()


async def later(crawler: Crawler, cast: Cast, bot: PeerCirclesBot, clock: FakeClock) -> None:
    """Later: support moves to private threads and Alice asks; time passes (the session closes itself,
    offers time out); then people tidy up: /privacy, leaving a circle, archiving and deleting one,
    stepping down, ending support, cancelling a series."""
    await crawler.slash(cast.ana, "rota settings", relay="thread")
    await crawler.slash(cast.alice, "support ask")
    await crawler.crawl(crawler.budget - FORGED - 60)
    clock.advance(timedelta(minutes=95))
    await bot.services.scheduler.run_due()
    await bot.services.outbox.drain()
    for person in cast.everyone:
        await crawler.slash(person, "privacy")
    await crawler.slash(cast.alice, "share mine")
    await crawler.slash(cast.alice, "checkin delete")
    await crawler.slash(cast.carol, "circle leave", circle="Grief")
    await crawler.slash(cast.ana, "circle archive", circle="Scratch")
    await crawler.slash(cast.ana, "circle delete", circle="Scratch")
    await crawler.slash(cast.lena, "listener leave")
    for person in (cast.maya, cast.lena, cast.bob):
        await crawler.slash(person, "support end")
    for choice in (await cast.fran.autocomplete("session cancel", "session", "weekly"))[:1]:
        await crawler.slash(cast.fran, "session cancel", session=choice["value"])


# -- the checks ---------------------------------------------------------------------------------

MESSAGE_ROUTES = (
    "POST /channels/{channel_id}/messages",
    "PATCH /channels/{channel_id}/messages/{message_id}",
    "POST /interactions/{interaction_id}/{interaction_token}/callback",
    "POST /webhooks/{application_id}/{interaction_token}",
    "PATCH /webhooks/{application_id}/{interaction_token}/messages/{message_id}",
)
TEXT_TOTAL = 4000  # Discord: all the text displays of a Components V2 message together


def message_body(body: Any) -> dict[str, Any]:
    """The message in a request body (an interaction callback wraps it in ``data``)."""
    if not isinstance(body, dict):
        return {}
    inner = body.get("data") if "type" in body else body
    return inner if isinstance(inner, dict) else {}


def message_text(data: dict[str, Any]) -> str:
    parts = [str(data.get("content") or "")]
    parts += [str(c.get("content", "")) for c in walk_components(data.get("components") or []) if c.get("type") == 10]
    for embed in data.get("embeds") or []:
        parts += [str(embed.get(key, "")) for key in ("title", "description")]
    return "\n".join(parts)


def would_ping(body: Any) -> list[str]:
    """The mentions in a (non-ephemeral) message that Discord would notify, given its allowed_mentions
    (none given: Discord's default pings everything)."""
    data = message_body(body)
    if int(data.get("flags") or 0) & FLAG_EPHEMERAL:
        return []
    allowed = data.get("allowed_mentions")
    parse = set(allowed.get("parse", [])) if isinstance(allowed, dict) else {"everyone", "users", "roles"}
    users = set(allowed.get("users", [])) if isinstance(allowed, dict) else set()
    roles = set(allowed.get("roles", [])) if isinstance(allowed, dict) else set()
    pings = []
    for found in PING_TEXT.finditer(message_text(data)):
        text = found.group(0)
        if text.startswith("@"):
            pinged = "everyone" in parse
        elif text.startswith("<@&"):
            pinged = "roles" in parse or text[3:-1] in roles
        else:
            pinged = "users" in parse or text.strip("<@!>") in users
        if pinged:
            pings.append(text)
    return pings


def text_length(body: Any) -> int:
    """The length of a message's text displays together: Discord refuses more than 4000, a rule its
    API description can't express, so the sandbox's validator doesn't check it."""
    components = message_body(body).get("components") or []
    return sum(len(str(c.get("content", ""))) for c in walk_components(components) if c.get("type") == 10)


def answer_times(sandbox: Sandbox) -> dict[int, float]:
    """Seconds from Discord's sending each interaction to the bot's answer arriving."""
    created = {str(i.id): i for i in sandbox.server.interactions.values()}
    took: dict[int, float] = {}
    for request in sandbox.server.requests:
        if request.route.endswith("/callback") and request.status < 400:
            interaction = created.get(request.path.split("/")[2])
            if interaction is not None:
                took[interaction.id] = request.at - interaction.created
    return took


def anonymous_messages(sandbox: Sandbox) -> Iterator[Message]:
    for message in sandbox.all_messages():
        if message.author.id != sandbox.server.bot_user.id or message.ephemeral_to:
            continue
        channel = sandbox.server.channels.get(message.channel_id)
        reply = channel is not None and channel.is_thread and (channel.name or "").startswith("Replies to")
        if reply or "shared anonymously" in message.text or "A report on an anonymous share" in message.text:
            yield message


DECISIONS = re.compile(
    r"approved an anonymous share|didn't approve an anonymous share|Report on a share in .*: <@"
    r"|approved <@\d+> as a listener|didn't approve <@\d+> as a listener|lifted a support block"
)


def done_twice(sandbox: Sandbox) -> list[str]:
    """Work two presses at once could do twice: a share posted twice, a go-round posted twice, a card
    decided twice (a report, a review, an application, a block), a member told twice that a listener
    joined."""
    twice = []
    posts: Counter[str] = Counter()
    for message in sandbox.all_messages():  # deleted ones too: a second post removed later still was one
        if message.author.id != sandbox.server.bot_user.id or message.ephemeral_to:
            continue
        first = message.history[0] if message.history else message.to_dict()
        ids = [str(c.get("custom_id", "")) for c in walk_components(first.get("components") or [])]
        shared = "shared anonymously" in message.text
        posts.update(i for i in ids if i.startswith("session:pass:") or (shared and i.startswith("share:reply:")))
        versions = [*message.history, message.to_dict()]
        decided = [v for v in versions if DECISIONS.search("\n".join(component_text(v.get("components") or [])))]
        if len(decided) > 1:
            twice.append(f"a card decided {len(decided)} times: {message.text[:80]}")
    twice += [f"{custom_id} posted {n} times" for custom_id, n in posts.items() if n > 1]
    for person in sandbox.people:
        joined = Counter(m.text for m in person.dms if "has joined" in m.text)
        twice += [f"{person.user.username} told twice: {text[:60]}" for text, n in joined.items() if n > 1]
    return twice


# -- the test -----------------------------------------------------------------------------------


async def test_the_fuzz_scenario_answers_every_interaction(
    sandbox: Sandbox,
    fbot: PeerCirclesBot,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    cast = await build_server(sandbox, fbot, clock)
    setup = len(sandbox.server.interactions)
    crawler = Crawler(sandbox, cast.everyone)

    await hostile_commands(crawler, cast, clock)
    await hostile_autocompletes(crawler, cast)
    await hostile_dms(fbot, cast, crawler)
    await crawler.crawl(crawler.budget // 2)
    await later(crawler, cast, fbot, clock)
    await crawler.crawl(crawler.budget - FORGED)
    unpressed = crawler.unpressed()
    await crawler.forge(FORGED)
    await fbot.services.outbox.drain()

    interactions = list(sandbox.server.interactions.values())
    took = answer_times(sandbox)
    slowest = max(took, key=lambda i: took[i])
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(crawler.record.kinds.items()))
    with capsys.disabled():
        print(
            f"\nfuzz: {len(interactions) - setup} interactions after {setup} in setup ({kinds}); "
            f"{sum(crawler.record.forms.values())} forms of {len(crawler.record.forms)} kinds; "
            f"{len({k[:4] for k in crawler.visited})} controls pressed by {len(crawler.visited)} control-person pairs; "
            f"slowest answer {took[slowest] * 1000:.0f} ms ({card_of(sandbox.server.interactions[slowest].name) or sandbox.server.interactions[slowest].name}); "
            f"{time.monotonic() - started:.1f} s"
        )

    # Every interaction got exactly one answer, within Discord's 3 seconds (the sandbox's records).
    assert crawler.record.failures == [], "\n".join(crawler.record.failures)
    who = {i.id: f"{i.name!r} by {i.user.username}" for i in interactions}
    unanswered = [who[i.id] for i in interactions if i.response_type is None]
    assert unanswered == [], f"never answered (Discord: 'This interaction failed'): {unanswered}"
    assert [who[i.id] for i in interactions if i.late] == [], "answered after Discord's 3 seconds"
    assert [i for i, seconds in took.items() if seconds >= 3.0] == []
    refused = [
        f"{r.route} {r.status}" for r in sandbox.server.requests if r.route.endswith("/callback") and r.status >= 400
    ]
    assert refused == [], f"answers Discord refused (a second answer, or too late): {refused}"
    thinking = [
        who[i.id]
        for i in interactions
        if i.response_type == 5
        and not i.followups
        and not (i.response_message and (i.response_message.content or i.response_message.components))
    ]
    assert thinking == [], f"left 'thinking…' for ever: {thinking}"
    assert unpressed == [], f"controls the crawl never pressed (raise BUDGET?): {unpressed}"
    assert set(crawler.record.payloads) == set(HOSTILE), "every hostile value went into a form"

    # The bot logged no error and no traceback.
    errors = [
        f"{r.name}: {r.getMessage()[:200]}"
        for r in caplog.records
        if (r.levelno >= logging.ERROR or r.exc_info) and not r.name.startswith("bot.sandbox")
    ]
    assert errors == [], "\n".join(errors)

    # Nobody was pinged, whatever was typed; anonymous text carries no live mention at all.
    sent = [r for r in sandbox.server.requests if r.route in MESSAGE_ROUTES]
    pinging = [f"{r.route}: {would_ping(r.json)}" for r in sent if would_ping(r.json)]
    assert pinging == [], pinging
    live = [m.text[:120] for m in anonymous_messages(sandbox) if has_live_mention(m.text)]
    assert live == [], live
    # Every card fits Discord's limit on its text, however long what was typed.
    oversized = [f"{r.route}: {text_length(r.json)} characters" for r in sent if text_length(r.json) > TEXT_TOTAL]
    assert oversized == [], oversized
    assert done_twice(sandbox) == []
