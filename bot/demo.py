"""``peer-circles demo``: the real bot against a local sandbox Discord, in one process.

It plays a scripted scenario through every feature that exists and prints what each person
sees. No token, no Discord account, no network: a temporary database and loopback only.
Each feature adds a scene to :data:`SCENES`.

``--language de`` (or ``es``, ``fr``, ``pt_BR``) plays it with every person's Discord and the
server set to that language: the bot's words come from its catalogues, and what the people type
comes from :data:`LINES`. The narration (who does what) stays English.
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

from bot.i18n import SOURCE, Speaker, languages, speaker
from bot.sandbox.actors import ChannelView, Outcome, Person, Sandbox
from bot.sandbox.harness import BotHarness
from bot.sandbox.models import Message
from bot.sandbox.server import SandboxError
from bot.services.about import PURPOSE

SPEC_PATH = Path(__file__).resolve().parent.parent / "tests" / "discord_api_spec" / "openapi.json"

# The Discord locale a person's client is set to, for each language the demo can play in.
DISCORD_LOCALE = {"en": "en-GB", "de": "de", "es": "es-ES", "fr": "fr", "pt_BR": "pt-BR"}

# What the people in the scenario type, in each language (none of it is crisis language: the
# crisis screen reads everything a member writes, and the demo shows the ordinary path).
LINES: dict[str, dict[str, str]] = {
    "en": {
        "circle": "Grief",
        "about": "For anyone living with loss",
        "share": "A year today since she died. I keep picking up the phone to call her.",
        "reply": "I still do that too. You're not alone.",
        "report": "Just checking how reports look",
        "note": "A long walk with my sister.",
        "session": "Weekly check-in",
        "session_about": "A gentle hour to check in with each other.",
        "shift": "Evening",
        "topic": "a rough week",
        "ask": "I can't switch off after work.",
        "answer": "That sounds exhausting. What do your evenings look like?",
    },
    "de": {
        "circle": "Trauer",
        "about": "Für alle, die mit einem Verlust leben",
        "share": "Heute vor einem Jahr ist sie gegangen. Ich greife immer noch zum Telefon, um sie anzurufen.",
        "reply": "Das mache ich auch noch. Du bist nicht allein.",
        "report": "Ich schaue nur, wie eine Meldung aussieht",
        "note": "Ein langer Spaziergang mit meiner Schwester.",
        "session": "Wöchentliches Treffen",
        "session_about": "Eine ruhige Stunde, um voneinander zu hören.",
        "shift": "Abend",
        "topic": "eine anstrengende Woche",
        "ask": "Ich kann nach der Arbeit nicht abschalten.",
        "answer": "Das klingt anstrengend. Wie sehen deine Abende aus?",
    },
    "es": {
        "circle": "Duelo",
        "about": "Para quien vive con una pérdida",
        "share": "Hoy hace un año que se fue. Sigo cogiendo el teléfono para llamarla.",
        "reply": "Yo también lo sigo haciendo. No estás sola.",
        "report": "Solo quiero ver cómo se ve un reporte",
        "note": "Un paseo largo con mi hermana.",
        "session": "Encuentro semanal",
        "session_about": "Una hora tranquila para saber cómo estamos.",
        "shift": "Tarde",
        "topic": "una semana difícil",
        "ask": "No consigo desconectar después del trabajo.",
        "answer": "Suena agotador. ¿Cómo son tus tardes?",
    },
    "fr": {
        "circle": "Deuil",
        "about": "Pour toutes les personnes qui vivent une perte",
        "share": "Cela fait un an aujourd'hui qu'elle est partie. Je prends encore le téléphone pour l'appeler.",
        "reply": "Je le fais encore aussi. Tu n'es pas seule.",
        "report": "Je regarde juste à quoi ressemble un signalement",
        "note": "Une longue marche avec ma sœur.",
        "session": "Séance de la semaine",
        "session_about": "Une heure tranquille pour prendre des nouvelles les uns des autres.",
        "shift": "Soirée",
        "topic": "une semaine difficile",
        "ask": "Je n'arrive pas à décrocher après le travail.",
        "answer": "Ça a l'air épuisant. À quoi ressemblent tes soirées ?",
    },
    "pt_BR": {
        "circle": "Luto",
        "about": "Para quem vive com uma perda",
        "share": "Hoje faz um ano que ela se foi. Ainda pego o telefone para ligar para ela.",
        "reply": "Eu também ainda faço isso. Você não está sozinha.",
        "report": "Só vendo como fica uma denúncia",
        "note": "Uma longa caminhada com a minha irmã.",
        "session": "Encontro semanal",
        "session_about": "Uma hora tranquila para saber como cada um está.",
        "shift": "Noite",
        "topic": "uma semana difícil",
        "ask": "Não consigo relaxar depois do trabalho.",
        "answer": "Parece exaustivo. Como são as suas noites?",
    },
}


@dataclass
class Stage:
    sandbox: Sandbox
    harness: BotHarness
    out: Callable[[str], None]
    language: str = SOURCE

    @property
    def t(self) -> Speaker:
        """The bot's words in the demo's language (to find a button by the label a person sees)."""
        return speaker(self.language)

    def line(self, key: str) -> str:
        """What a person types, in the demo's language."""
        return LINES.get(self.language, LINES[SOURCE])[key]

    def member(self, name: str, global_name: str | None = None) -> Person:
        return self.sandbox.member(name, global_name=global_name, locale=DISCORD_LOCALE.get(self.language, "en-GB"))

    def admin(self, name: str) -> Person:
        self.sandbox.admin(name)
        return self.member(name)

    @property
    def circle_channel(self) -> ChannelView:
        """The circle's private channel, whatever the language made of its name."""
        slug = self.line("circle").lower()
        found = [c for c in self.sandbox.guild.channels.values() if (c.name or "").endswith(slug)]
        self.check(len(found) == 1, "the circle has one channel")
        return ChannelView(self.sandbox, found[0])

    async def next_message(self, channel: ChannelView, before: int) -> Message:
        """The first message posted in ``channel`` after the ``before`` it had."""
        return await channel.wait_for_message(after=before)

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
    t = stage.t
    alice = stage.member("alice", global_name="Alice")
    stage.says(alice, "runs /about")
    about = await alice.slash("about")
    stage.shows("Alice", about)
    stage.check(about.ephemeral and t(PURPOSE) in about.text, "/about answers privately, in Alice's language")
    stage.says(alice, "runs /help")
    help_ = await alice.slash("help")
    stage.shows("Alice", help_)
    stage.check(t("For server admins") not in help_.text, "members don't see admin commands")
    ana = stage.admin("ana")
    stage.says(ana, "(a server admin) runs /help")
    stage.shows("Ana", await ana.slash("help"))
    stage.check(stage.sandbox.channel("general").messages == [], "nothing was posted publicly")
    stage.out("\n  Everyone else in #general sees: nothing. Replies to commands are private.")


async def scene_circles(stage: Stage) -> None:
    sandbox, t = stage.sandbox, stage.t
    name = stage.line("circle")
    ana = stage.admin("ana")
    moderation = sandbox.channel("moderation")
    stage.says(ana, "sets the server up: /setup timezone:Europe/London moderation_channel:#moderation")
    shown = await ana.slash("setup", timezone="Europe/London", moderation_channel=moderation)
    stage.shows("Ana", shown)
    stage.says(ana, f"runs /circle create name:{name}, and keeps the suggested ground rules in the form")
    before = len(moderation.messages)
    opened = await ana.slash("circle create", name=name, description=stage.line("about"))
    created = await ana.submit_modal(opened)
    await created.settled()
    stage.shows("Ana", created)
    channel = stage.circle_channel
    stage.shows("#moderation", await stage.next_message(moderation, before))
    alice = stage.member("alice")
    stage.says(alice, f"runs /circle join circle:{name}")
    offer = await alice.slash("circle join", circle=name)
    stage.shows("Alice", offer.message)
    agree = t("I agree, join")
    stage.says(alice, f"presses “{agree}”")
    joined = await alice.click(offer, agree)
    stage.shows("Alice", joined.message)
    stage.check(any(name in role.name for role in alice.roles), "Alice has the circle's role")
    stage.check(channel.messages == [], "nobody was told Alice joined")
    stage.out("\n  Everyone else sees: nothing. Joining a circle is private.")


async def scene_sharing(stage: Stage) -> None:
    sandbox, t = stage.sandbox, stage.t
    circle = stage.circle_channel
    moderation = sandbox.channel("moderation")
    alice = stage.member("alice")
    bob = stage.member("bob", global_name="Bob")
    stage.says(bob, f"joins {stage.line('circle')} too")
    await bob.click(await bob.slash("circle join", circle=stage.line("circle")), t("I agree, join"))
    stage.says(alice, "runs /share post and writes in the form")
    opened = await alice.slash("share post", where=circle.name)
    text: dict[str, Any] = {"share:text": stage.line("share"), "share:warning": ""}
    preview = await alice.submit_modal(opened, **text)
    stage.shows("Alice", preview.message)
    post = t.p("button", "Post")
    stage.says(alice, f"presses {post}")
    before = len(circle.messages)
    await (await alice.click(preview, post)).settled()
    posted = await stage.next_message(circle, before)
    stage.shows(f"#{circle.name} (everyone in the circle)", posted)
    stage.check(stage.line("share") in posted.text, "the share is posted as written")
    reply_label = t("Reply anonymously")
    stage.says(bob, f"presses “{reply_label}” and writes")
    form = await bob.click(posted, reply_label)
    reply: dict[str, Any] = {"share:field": stage.line("reply")}
    await (await bob.submit_modal(form, **reply)).settled()
    thread = circle.threads[0]
    stage.shows(f"#{thread.name} (the reply thread)", await thread.wait_for_message(stage.line("reply")))
    support = t("Sending support")
    stage.says(bob, f"presses “{support}”")
    await (await bob.click(posted, support)).settled()
    report = t.p("button", "Report")
    stage.says(bob, f"presses {report} (to show the path) and gives a reason")
    reason: dict[str, Any] = {"share:field": stage.line("report")}
    before = len(moderation.messages)
    await bob.submit_modal(await bob.click(posted, report), **reason)
    stage.shows("#moderation (moderators)", await stage.next_message(moderation, before))
    public = sandbox.public_text()
    stage.check(
        all(secret not in public for secret in (str(alice.id), alice.user.username, alice.user.display_name)),
        "nothing public names Alice",
    )
    stage.out("\n  Nobody, including moderators, can see that Alice wrote the share or that Bob reported it.")


async def scene_checkins(stage: Stage) -> None:
    sandbox, t = stage.sandbox, stage.t
    circle = stage.circle_channel
    alice = stage.member("alice")
    if not any(stage.line("circle") in role.name for role in alice.roles):
        await alice.click(await alice.slash("circle join", circle=stage.line("circle")), t("I agree, join"))
    posted_before = len(circle.messages)
    stage.says(alice, f"runs /checkin now in #{circle.name}")
    card = await alice.slash("checkin now", where=circle.name)
    stage.shows("Alice", card.message)
    good = f"4 · {t('Good')}"
    stage.says(alice, f"taps “{good}”: that's the whole check-in")
    await alice.click(card, good)
    stage.shows("Alice", card.message)
    details = t("Add a note or tags")
    stage.says(alice, f"presses “{details}”, writes a private note and picks the tag “family”")
    form = await alice.click(card.message, details)
    fields: dict[str, Any] = {"checkin:note": stage.line("note"), "checkin:tags": ["family"]}
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
    stage.check(len(circle.messages) == posted_before, "nothing was posted in the circle")
    stage.check(stage.line("note") not in sandbox.public_text(), "the note stays private")
    stage.out("\n  Everyone else sees: nothing. Check-ins are private unless Alice shares her mood with the pulse.")


async def scene_sessions(stage: Stage) -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from bot.client import PeerCirclesBot

    sandbox, t = stage.sandbox, stage.t
    bot = stage.harness.bot
    assert isinstance(bot, PeerCirclesBot)
    services = bot.services
    ana = stage.admin("ana")
    alice = stage.member("alice")
    circle = stage.circle_channel
    title = stage.line("session")
    day = (datetime.now(ZoneInfo("Europe/London")) + timedelta(days=2)).date()
    stage.says(
        ana,
        f"runs /session schedule circle:{stage.line('circle')} title:{title} first_date:{day} start_time:19:00"
        " recurrence:weekly",
    )
    before = len(circle.messages)
    outcome = await ana.slash(
        "session schedule",
        circle=stage.line("circle"),
        title=title,
        first_date=day.isoformat(),
        start_time="19:00",
        recurrence="weekly",
        description=stage.line("session_about"),
    )
    await outcome.settled()
    stage.shows("Ana", outcome)
    event = next(iter(sandbox.guild.events.values()), None)
    stage.check(event is not None, "the session is in Discord's Events list")
    assert event is not None
    stage.out(
        f"\n  Discord's Events list shows: “{event.name}” at {event.scheduled_start_time} (UTC), at {event.location}"
    )
    announcement = await stage.next_message(circle, before)
    stage.check(title in announcement.text, "the session is announced in the circle")
    stage.shows(f"#{circle.name}", announcement)
    going = t.p("button", "Going")
    stage.says(alice, f"presses “{going}”")
    stage.shows("Alice", await (await alice.click(announcement, going)).settled())

    async def fast_forward(suffix: str) -> None:
        """Run a scheduled job now instead of waiting for its time (what the scheduler does then)."""
        for job in await services.scheduler.jobs.pending():
            if job.id.startswith("circle:") and job.id.endswith(suffix) and await services.scheduler.jobs.claim(job.id):
                await services.sessions.job_handlers()[job.kind](job)
                await services.scheduler.jobs.finish(job.id, "done", datetime.now(UTC))
                return
        stage.check(False, f"a pending {suffix} job")

    stage.out("\n  (The demo fast-forwards to 24 hours before the session.)")
    dms = len(alice.dms)
    await fast_forward(":remind:1440")
    reminder = await alice.wait_for_dm(title, after=dms)
    stage.shows("Alice, by DM", reminder)
    stage.out("\n  (And to the start time.)")
    before = len(circle.messages)
    await fast_forward(":start")
    opening = await stage.next_message(circle, before)
    stage.shows(f"#{circle.name}", opening)
    stage.check(
        t(
            "**What is shared here stays in the circle.** Please don't repeat anyone's story outside it, or screenshot it."
        )
        in opening.text,
        "the opening reminds of confidentiality",
    )
    stage.check(sandbox.channel("general").messages == [], "nothing was posted in #general")


async def scene_support(stage: Stage) -> None:
    sandbox, t = stage.sandbox, stage.t
    ana = stage.admin("ana")
    listeners = await sandbox.add_channel("listeners")
    role = await sandbox.add_role("Listeners")
    stage.says(
        ana, "sets up listening: /rota settings listener_role:@Listeners listeners_channel:#listeners auto_approve:True"
    )
    shown = await ana.slash("rota settings", listener_role=role, listeners_channel=listeners, auto_approve=True)
    stage.shows("Ana", shown)
    stage.says(ana, "adds a weekly shift (/rota add day:Tuesday start:19:00 hours:2 needed:2) and posts the board")
    stage.shows(
        "Ana",
        await (
            await ana.slash("rota add", day=1, start="19:00", hours=2, needed=2, label=stage.line("shift"))
        ).settled(),
    )
    before = len(listeners.messages)
    await (await ana.slash("rota board")).settled()
    board = await stage.next_message(listeners, before)
    lena = stage.member("lena", global_name="Lena")
    agree = t.p("button", "I agree")
    stage.says(lena, f"runs /listener join, reads the guidelines and presses “{agree}”")
    card = await lena.slash("listener join")
    stage.shows("Lena", card.message)
    await (await lena.click(card, agree)).settled()
    stage.check(lena.has_role("Listeners"), "Lena has the listener role")
    take = t("Take a shift")
    stage.says(lena, f"presses “{take}” on the rota board and picks the first Tuesday evening")
    picker = await lena.click(board, take)
    options = [o for c in picker.message.all_components if c.get("type") == 3 for o in c["options"]]
    await (await lena.select(picker, t("Choose a shift"), [options[0]["value"]])).settled()
    await sandbox.wait_for(lambda: "1/2" in board.text, "the board to update in place")
    stage.shows("#listeners (the rota board, edited in place)", board)
    stage.says(lena, "goes on call right now as well: /listener available hours:2")
    await (await lena.slash("listener available", hours=2)).settled()

    maya = stage.member("maya", global_name="Maya")
    stage.says(maya, f"runs /support ask, writes “{stage.line('topic')}” and stays anonymous")
    opened = await maya.slash("support ask")
    fields: dict[str, Any] = {"support:topic": stage.line("topic"), "support:appear": ["anonymous"]}
    lena_dms, maya_dms = len(lena.dms), len(maya.dms)
    stage.shows("Maya", await (await maya.submit_modal(opened, **fields)).settled())
    offer = await lena.wait_for_dm(stage.line("topic"), after=lena_dms)
    stage.shows("Lena (a DM from the bot)", offer)
    accept = t("Accept")
    stage.says(lena, f"presses {accept}")
    await (await lena.click(offer, accept)).settled()
    stage.shows("Lena", offer)
    stage.shows("Maya (a DM from the bot)", await maya.wait_for_dm(after=maya_dms))
    stage.says(maya, f"writes to the bot: “{stage.line('ask')}”")
    await maya.send_dm(stage.line("ask"))
    stage.shows("Lena (a DM from the bot)", await lena.wait_for_dm(stage.line("ask")))
    stage.says(lena, "writes back to the bot")
    await lena.send_dm(stage.line("answer"))
    stage.shows("Maya (a DM from the bot)", await maya.wait_for_dm(stage.line("answer")))
    stage.says(maya, "runs /support end, then taps 5 on the feedback card")
    maya_dms, lena_dms = len(maya.dms), len(lena.dms)
    await (await maya.slash("support end", where="dm")).settled()
    feedback = await stage.sandbox.wait_for(
        lambda: next((m for m in maya.dms[maya_dms:] if m.buttons), None), "the feedback card"
    )
    await maya.click(feedback, "5")
    stage.shows("Maya", feedback)
    stage.shows("Lena (a DM from the bot)", await lena.wait_for_dm(after=lena_dms))
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


async def run_demo(*, verbose: bool = False, out: Callable[[str], None] = print, language: str = SOURCE) -> int:
    if language not in languages():
        print(f"The demo can play in {', '.join(sorted(languages()))}, not {language!r}.", file=sys.stderr)
        return 2
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
    if language != SOURCE:
        await sandbox.server.set_guild_locale(sandbox.guild, DISCORD_LOCALE[language])
    with tempfile.TemporaryDirectory(prefix="peer-circles-demo-") as tmp:
        harness = BotHarness(sandbox, Path(tmp) / "demo.db")
        try:
            await harness.start()
            out(f"The bot connected and synced {len(sandbox.commands)} commands: /" + ", /".join(sandbox.commands))
            stage = Stage(sandbox, harness, out, language)
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
