"""``peer-circles demo``: the real bot against a local sandbox Discord, in one process.

It plays a scripted scenario through every feature that exists and prints what each person
sees. No token, no Discord account, no network: a temporary database and loopback only.
Each feature adds a scene to :data:`SCENES`.
"""

from __future__ import annotations

import re
import sys
import tempfile
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.sandbox.actors import Outcome, Person, Sandbox
from bot.sandbox.harness import BotHarness
from bot.sandbox.models import Message
from bot.sandbox.server import SandboxError

SPEC_PATH = Path(__file__).resolve().parent.parent / "tests" / "discord_api_spec" / "openapi.json"


@dataclass
class Stage:
    sandbox: Sandbox
    harness: BotHarness
    out: Callable[[str], None]

    def says(self, person: Person, action: str) -> None:
        self.out(f"\n▶ {person.user.display_name} {action}")

    def shows(self, who: str, message: Message | Outcome | str) -> None:
        if isinstance(message, Outcome):
            text = message.text
            who = f"{who} (only they see this)" if message.ephemeral else who
        elif isinstance(message, Message):
            text = message.text
            if message.buttons:
                text += "\n[" + "] [".join(message.buttons) + "]"
        else:
            text = message
        self.out(f"  {who} sees:")
        self.out(textwrap.indent(self.render(text).strip() or "(nothing)", "  │ "))

    def render(self, text: str) -> str:
        """Show mentions the way Discord would: names, not ids."""
        server = self.sandbox.server
        guild = self.sandbox.guild

        def channel(match: re.Match[str]) -> str:
            found = server.channels.get(int(match.group(1)))
            return f"#{found.name}" if found else "#deleted-channel"

        def user(match: re.Match[str]) -> str:
            found = server.users.get(int(match.group(1)))
            return f"@{found.display_name}" if found else "@unknown"

        def role(match: re.Match[str]) -> str:
            found = guild.roles.get(int(match.group(1)))
            return f"@{found.name}" if found else "@deleted-role"

        def stamp(match: re.Match[str]) -> str:
            moment = datetime.fromtimestamp(int(match.group(1)), UTC)
            return moment.strftime("%a %d %b %H:%M UTC")

        text = re.sub(r"<t:(\d+)(?::\w)?>", stamp, text)
        text = re.sub(r"<#(\d+)>", channel, text)
        text = re.sub(r"<@&(\d+)>", role, text)
        return re.sub(r"<@!?(\d+)>", user, text)

    def check(self, condition: bool, what: str) -> None:
        if not condition:
            raise SandboxError(f"demo check failed: {what}")


Scene = Callable[[Stage], Awaitable[None]]


async def scene_welcome(stage: Stage) -> None:
    alice = stage.sandbox.member("alice", global_name="Alice")
    stage.says(alice, "runs /about")
    about = await alice.slash("about")
    stage.shows("Alice", about)
    stage.check(about.ephemeral and "peer support" in about.text, "/about answers privately")
    stage.says(alice, "runs /help")
    help_ = await alice.slash("help")
    stage.shows("Alice", help_)
    stage.check("For server admins" not in help_.text, "members don't see admin commands")
    ana = stage.sandbox.admin("ana")
    stage.says(ana, "(a server admin) runs /help")
    stage.shows("Ana", await ana.slash("help"))
    stage.check(stage.sandbox.channel("general").messages == [], "nothing was posted publicly")
    stage.out("\n  Everyone else in #general sees: nothing. Replies to commands are private.")


async def scene_circles(stage: Stage) -> None:
    sandbox = stage.sandbox
    ana = sandbox.admin("ana")
    stage.says(ana, "sets the server up: /setup timezone:Europe/London moderation_channel:#moderation")
    shown = await ana.slash("setup", timezone="Europe/London", moderation_channel=sandbox.channel("moderation"))
    stage.shows("Ana", shown)
    stage.says(ana, "runs /circle create name:Grief, and keeps the suggested ground rules in the form")
    opened = await ana.slash("circle create", name="Grief", description="For anyone living with loss")
    created = await ana.submit_modal(opened)
    await created.settled()
    stage.shows("Ana", created)
    stage.check(sandbox.has_channel("circle-grief"), "the circle's private channel exists")
    stage.shows("#moderation", await sandbox.channel("moderation").wait_for_message("created the circle"))
    alice = sandbox.member("alice")
    stage.says(alice, "runs /circle join circle:Grief")
    offer = await alice.slash("circle join", circle="Grief")
    stage.shows("Alice", offer.message)
    stage.says(alice, "presses “I agree, join”")
    joined = await alice.click(offer, "I agree, join")
    stage.shows("Alice", joined.message)
    stage.check(alice.has_role("Circle: Grief"), "Alice has the circle's role")
    stage.check(sandbox.channel("circle-grief").messages == [], "nobody was told Alice joined")
    stage.out("\n  Everyone else sees: nothing. Joining a circle is private.")


async def scene_sharing(stage: Stage) -> None:
    sandbox = stage.sandbox
    alice = sandbox.member("alice")
    bob = sandbox.member("bob", global_name="Bob")
    stage.says(bob, "joins Grief too")
    await bob.click(await bob.slash("circle join", circle="Grief"), "I agree, join")
    stage.says(alice, "runs /share post and writes in the form")
    opened = await alice.slash("share post", where="circle-grief")
    text: dict[str, Any] = {
        "share:text": "A year today since she died. I keep picking up the phone to call her.",
        "share:warning": "",
    }
    preview = await alice.submit_modal(opened, **text)
    stage.shows("Alice", preview.message)
    stage.says(alice, "presses Post")
    await (await alice.click(preview, "Post")).settled()
    posted = await sandbox.channel("circle-grief").wait_for_message("shared anonymously")
    stage.shows("#circle-grief (everyone in the circle)", posted)
    stage.says(bob, "presses “Reply anonymously” and writes")
    form = await bob.click(posted, "Reply anonymously")
    reply: dict[str, Any] = {"share:field": "I still do that too. You're not alone."}
    await (await bob.submit_modal(form, **reply)).settled()
    thread = sandbox.channel("circle-grief").threads[0]
    stage.shows(f"#{thread.name} (the reply thread)", await thread.wait_for_message("not alone"))
    stage.says(bob, "presses “Sending support”")
    await (await bob.click(posted, "Sending support")).settled()
    stage.says(bob, "presses Report (to show the path) and gives a reason")
    reason: dict[str, Any] = {"share:field": "Just checking how reports look"}
    await bob.submit_modal(await bob.click(posted, "Report"), **reason)
    stage.shows("#moderation (moderators)", await sandbox.channel("moderation").wait_for_message("A report"))
    public = sandbox.public_text()
    stage.check(
        all(secret not in public for secret in (str(alice.id), alice.user.username, alice.user.display_name)),
        "nothing public names Alice",
    )
    stage.out("\n  Nobody, including moderators, can see that Alice wrote the share or that Bob reported it.")


async def scene_checkins(stage: Stage) -> None:
    sandbox = stage.sandbox
    alice = sandbox.member("alice")
    if not alice.has_role("Circle: Grief"):
        await alice.click(await alice.slash("circle join", circle="Grief"), "I agree, join")
    posted_before = len(sandbox.channel("circle-grief").messages)
    stage.says(alice, "runs /checkin now in #circle-grief")
    card = await alice.slash("checkin now", where="circle-grief")
    stage.shows("Alice", card.message)
    stage.says(alice, "taps “4 · Good”: that's the whole check-in")
    await alice.click(card, "4 · Good")
    stage.shows("Alice", card.message)
    stage.says(alice, "presses “Add a note or tags”, writes a private note and picks the tag “family”")
    form = await alice.click(card.message, "Add a note or tags")
    fields: dict[str, Any] = {"checkin:note": "A long walk with my sister.", "checkin:tags": ["family"]}
    await alice.submit_modal(form, **fields)
    stage.shows("Alice", card.message)
    stage.says(alice, "runs /checkin history")
    history = await (await alice.slash("checkin history")).settled()
    stage.shows("Alice", history)
    chart = history.messages[0].attachments[0]
    stage.check(chart.data[:8] == b"\x89PNG\r\n\x1a\n", "the history chart is a PNG")
    stage.out(
        f"  │ [a chart: {chart.filename}, {len(chart.data) // 1024} KB, with the description above as its alt text]"
    )
    stage.check(len(sandbox.channel("circle-grief").messages) == posted_before, "nothing was posted in the circle")
    stage.check("A long walk" not in sandbox.public_text(), "the note stays private")
    stage.out("\n  Everyone else sees: nothing. Check-ins are private unless Alice shares her mood with the pulse.")


async def scene_sessions(stage: Stage) -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from bot.client import PeerCirclesBot

    sandbox = stage.sandbox
    bot = stage.harness.bot
    assert isinstance(bot, PeerCirclesBot)
    services = bot.services
    ana = sandbox.admin("ana")
    alice = sandbox.member("alice")
    day = (datetime.now(ZoneInfo("Europe/London")) + timedelta(days=2)).date()
    stage.says(
        ana,
        f"runs /session schedule circle:Grief title:Weekly check-in first_date:{day} start_time:19:00 recurrence:weekly",
    )
    outcome = await ana.slash(
        "session schedule",
        circle="Grief",
        title="Weekly check-in",
        first_date=day.isoformat(),
        start_time="19:00",
        recurrence="weekly",
        description="A gentle hour to check in with each other.",
    )
    await outcome.settled()
    stage.shows("Ana", outcome)
    event = next(iter(sandbox.guild.events.values()), None)
    stage.check(event is not None, "the session is in Discord's Events list")
    assert event is not None
    stage.out(
        f"\n  Discord's Events list shows: “{event.name}” at {event.scheduled_start_time} (UTC), at {event.location}"
    )
    circle = sandbox.channel("circle-grief")
    announcement = await circle.wait_for_message("Weekly check-in")
    stage.shows("#circle-grief", announcement)
    stage.says(alice, "presses “Going”")
    stage.shows("Alice", await (await alice.click(announcement, "Going")).settled())

    async def fast_forward(suffix: str) -> None:
        """Run a scheduled job now instead of waiting for its time (what the scheduler does then)."""
        for job in await services.scheduler.jobs.pending():
            if job.id.startswith("circle:") and job.id.endswith(suffix) and await services.scheduler.jobs.claim(job.id):
                await services.sessions.job_handlers()[job.kind](job)
                await services.scheduler.jobs.finish(job.id, "done", datetime.now(UTC))
                return
        stage.check(False, f"a pending {suffix} job")

    stage.out("\n  (The demo fast-forwards to 24 hours before the session.)")
    await fast_forward(":remind:1440")
    stage.shows("Alice, by DM", await alice.wait_for_dm("starts in 24 hours"))
    stage.out("\n  (And to the start time.)")
    await fast_forward(":start")
    opening = await circle.wait_for_message("is starting")
    stage.shows("#circle-grief", opening)
    stage.check("What is shared here stays in the circle" in opening.text, "the opening reminds of confidentiality")
    stage.check(sandbox.channel("general").messages == [], "nothing was posted in #general")


async def scene_support(stage: Stage) -> None:
    sandbox = stage.sandbox
    ana = sandbox.admin("ana")
    listeners = await sandbox.add_channel("listeners")
    role = await sandbox.add_role("Listeners")
    stage.says(
        ana, "sets up listening: /rota settings listener_role:@Listeners listeners_channel:#listeners auto_approve:True"
    )
    shown = await ana.slash("rota settings", listener_role=role, listeners_channel=listeners, auto_approve=True)
    stage.shows("Ana", shown)
    stage.says(ana, "adds a weekly shift (/rota add day:Tuesday start:19:00 hours:2 needed:2) and posts the board")
    stage.shows(
        "Ana", await (await ana.slash("rota add", day=1, start="19:00", hours=2, needed=2, label="Evening")).settled()
    )
    await (await ana.slash("rota board")).settled()
    lena = sandbox.member("lena", global_name="Lena")
    stage.says(lena, "runs /listener join, reads the guidelines and presses “I agree”")
    card = await lena.slash("listener join")
    stage.shows("Lena", card.message)
    await (await lena.click(card, "I agree")).settled()
    stage.check(lena.has_role("Listeners"), "Lena has the listener role")
    stage.says(lena, "presses “Take a shift” on the rota board and picks the first Tuesday evening")
    board = next(m for m in listeners.messages if "Listener rota" in m.text)
    picker = await lena.click(board, "Take a shift")
    options = [o for c in picker.message.all_components if c.get("type") == 3 for o in c["options"]]
    await (await lena.select(picker, "Choose a shift", [options[0]["value"]])).settled()
    await sandbox.wait_for(lambda: "1/2" in board.text, "the board to update in place")
    stage.shows("#listeners (the rota board, edited in place)", board)
    stage.says(lena, "goes on call right now as well: /listener available hours:2")
    await (await lena.slash("listener available", hours=2)).settled()

    maya = sandbox.member("maya", global_name="Maya")
    stage.says(maya, "runs /support ask, writes “a rough week” and stays anonymous")
    opened = await maya.slash("support ask")
    fields: dict[str, Any] = {"support:topic": "a rough week", "support:appear": ["anonymous"]}
    stage.shows("Maya", await (await maya.submit_modal(opened, **fields)).settled())
    offer = await lena.wait_for_dm("Someone would like to talk")
    stage.shows("Lena (a DM from the bot)", offer)
    stage.says(lena, "presses Accept")
    await (await lena.click(offer, "Accept")).settled()
    stage.shows("Lena", offer)
    stage.shows("Maya (a DM from the bot)", await maya.wait_for_dm("has joined"))
    stage.says(maya, "writes to the bot: “I can't switch off after work.”")
    await maya.send_dm("I can't switch off after work.")
    stage.shows("Lena (a DM from the bot)", await lena.wait_for_dm("switch off"))
    stage.says(lena, "writes back to the bot")
    await lena.send_dm("That sounds exhausting. What do your evenings look like?")
    stage.shows("Maya (a DM from the bot)", await maya.wait_for_dm("evenings look like"))
    stage.says(maya, "runs /support end, then taps 5 on the feedback card")
    await (await maya.slash("support end", where="dm")).settled()
    feedback = await maya.wait_for_dm("Was this helpful?")
    await maya.click(feedback, "5")
    stage.shows("Maya", feedback)
    stage.shows("Lena (a DM from the bot)", await lena.wait_for_dm("ended the conversation"))
    for who, other in ((lena, maya), (maya, lena)):
        seen = " ".join(m.text for m in who.dms)
        stage.check(
            all(s not in seen for s in (str(other.id), other.user.username, other.user.display_name)),
            f"{who.user.display_name} never saw {other.user.display_name}'s account",
        )
    stage.check(sandbox.channel("general").messages == [], "nothing was posted publicly")
    stage.out(
        "\n  Lena only ever saw “Member · …”, Maya only “Listener · …”. The words were relayed, not kept: each waited"
        " encrypted in the outbox until Discord accepted it."
    )


SCENES: list[Scene] = [scene_welcome, scene_circles, scene_sharing, scene_checkins, scene_sessions, scene_support]


async def run_demo(*, verbose: bool = False, out: Callable[[str], None] = print) -> int:
    spec = SPEC_PATH if SPEC_PATH.is_file() else None
    if spec is not None:
        try:
            import jsonschema  # noqa: F401
        except ImportError:
            spec = None
    out("peer-circles demo: the real bot, talking to a local sandbox Discord (nothing leaves this machine).")
    if spec is None:
        out("(Discord API validation is off: install the dev extras to switch it on.)")
    sandbox = await Sandbox.create(spec_path=spec, guild_name="Demo Community")
    with tempfile.TemporaryDirectory(prefix="peer-circles-demo-") as tmp:
        harness = BotHarness(sandbox, Path(tmp) / "demo.db")
        try:
            await harness.start()
            out(f"The bot connected and synced {len(sandbox.commands)} commands: /" + ", /".join(sandbox.commands))
            stage = Stage(sandbox, harness, out)
            for scene in SCENES:
                await scene(stage)
        except SandboxError as exc:
            print(f"\nThe demo stopped: {exc}", file=sys.stderr)
            return 1
        finally:
            await harness.stop()
            await sandbox.stop()
    if sandbox.invalid_requests:
        print("\nThe bot sent requests Discord would reject:", file=sys.stderr)
        for problem in sandbox.invalid_requests:
            print(f"  {problem}", file=sys.stderr)
        return 1
    out("\nDemo finished: every step behaved as expected.")
    return 0
