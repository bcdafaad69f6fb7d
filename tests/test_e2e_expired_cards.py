"""Every press answered: a card that is no longer live (superseded, timed out, shown before a
restart) gets a calm private line naming the command that opens it again, and a double click does
the work once. Through the sandbox with the real bot; time moves on a FakeClock, never by waiting.

Each test asserts what the person sees, what others see, and what is stored or sent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.i18n import speaker
from bot.sandbox.actors import Outcome, Person, Sandbox
from bot.sandbox.harness import BotHarness
from bot.sandbox.models import Message
from bot.ui.cards import ALREADY, CARDS, card_of, expired_message
from tests.test_e2e_checkins import check_in, grief, member, rows
from tests.test_e2e_privacy import JournalSource
from tests.test_e2e_shares import join, make_circle, shares_in, write

START = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
CALM = re.compile(r"^This (card|form) has expired[.,] ")
PRIVACY_EXPIRED = "This card has expired. Run /privacy to open it again."
SHARE_EXPIRED = "This card has expired. Run /share post to write it again."
CHECKIN_DELETE_EXPIRED = "This card has expired. Run /checkin delete to open it again."
ALREADY_SENT = "I've already sent you a copy from this card. Run /privacy again if you'd like another."


class CountingJournal(JournalSource):
    """The privacy test's journal, counting deletion passes."""

    def __init__(self) -> None:
        super().__init__()
        self.deletions = 0

    async def delete_user(self, guild_id: int, user_id: int) -> int:
        self.deletions += 1
        return await super().delete_user(guild_id, user_id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def ebot(timed_bot: PeerCirclesBot) -> PeerCirclesBot:
    return timed_bot


async def restart(timed: BotHarness) -> PeerCirclesBot:
    """Stop the bot as a deploy or crash would, and start it again on the same database."""
    started = await timed.restart()
    assert isinstance(started, PeerCirclesBot)
    return started


def journal_on(bot: PeerCirclesBot, sandbox: Sandbox, person: Person, lines: list[str]) -> CountingJournal:
    journal = CountingJournal()
    journal.lines[(sandbox.guild.id, person.id)] = list(lines)
    bot.services.privacy.register(journal)
    return journal


def answered_once(sandbox: Sandbox) -> None:
    """Every interaction was answered within Discord's 3 seconds, and none was answered twice."""
    for interaction in sandbox.server.interactions.values():
        assert interaction.response_type is not None, f"{interaction.name!r} was never answered"
        assert not interaction.late, f"{interaction.name!r} was answered too late"
    twice = [r for r in sandbox.server.requests if r.route.endswith("/callback") and r.status >= 400]
    assert twice == [], "an interaction was answered twice (already acknowledged)"


def calm(outcome: Outcome, line: str) -> None:
    """The person was told, privately and in one line, that the card expired and how to reopen it."""
    assert outcome.kind == "message" and outcome.ephemeral
    assert outcome.text == line
    assert CALM.match(outcome.text)


def custom_id(message: Message, label: str) -> str:
    return next(str(c["custom_id"]) for c in message.all_components if c.get("label") == label)


def export_dms(person: Person) -> list[Message]:
    return [m for m in person.dms if m.attachments]


def nothing_public(sandbox: Sandbox, person: Person) -> None:
    assert sandbox.channel("general").messages == []
    assert str(person.id) not in sandbox.public_text()


# -- /privacy --------------------------------------------------------------------------------


async def test_privacy_buttons_pressed_on_a_card_already_redrawn(sandbox: Sandbox, ebot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    journal = journal_on(ebot, sandbox, alice, ["a hard week"])
    card = await alice.slash("privacy")

    # "Export my data" pressed after "Delete my data" on the same card: the card was replaced by
    # the confirmation. Exporting only ever gives her her own data, privately: it's done anyway.
    await alice.click(card, "Delete my data")
    assert card.message.buttons == ["Delete everything", "Keep my data"]
    late_export = await (await alice.click(card, "Export my data", stale=True)).settled()
    assert late_export.ephemeral
    assert "sent your data to you in a direct message" in late_export.text
    assert "That card had expired" in late_export.text and "/privacy" in late_export.text
    await alice.wait_for_dm("JSON file")
    again = await alice.click(card, "Export my data", stale=True)
    calm(again, "This card has expired. Run /privacy to open it again.")
    assert len(export_dms(alice)) == 1, "one export, however often the old button is pressed"
    assert card.message.buttons == ["Delete everything", "Keep my data"], "the confirmation is untouched"

    # "Delete everything" after "Keep my data": nothing is deleted, and she's told calmly.
    await alice.click(card, "Keep my data")
    assert "Nothing was deleted" in card.message.text
    late_delete = await alice.click(card, "Delete everything", stale=True)
    calm(late_delete, "This card has expired. Run /privacy to open it again.")
    assert journal.deletions == 0 and journal.lines[(sandbox.guild.id, alice.id)] == ["a hard week"]
    assert card.message.buttons == ["Export my data", "Delete my data"], "her live card still works"

    answered_once(sandbox)
    nothing_public(sandbox, alice)


async def test_privacy_double_clicks_export_once_and_delete_once(sandbox: Sandbox, ebot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    journal = journal_on(ebot, sandbox, alice, ["one", "two"])
    card = await alice.slash("privacy")

    first, second = await alice.double_click(card, "Export my data")
    await alice.wait_for_dm("JSON file")
    answers = [(await o.settled()).text if o.kind == "deferred" else o.text for o in (first, second)]
    assert sum("sent your data to you in a direct message" in a for a in answers) == 1
    assert sum(a in (ALREADY, ALREADY_SENT) for a in answers) == 1, answers
    third = await alice.click(card, "Export my data")
    assert third.text == ALREADY_SENT
    assert len(export_dms(alice)) == 1, "one export DM"

    await alice.click(card, "Delete my data")
    first, second = await alice.double_click(card, "Delete everything")
    await sandbox.wait_for(lambda: "erased" in card.message.text, "the deletion summary")
    # Two journal lines, and the language she uses with the bot (remembered for DMs sent later).
    assert "I erased 3 records about you" in card.message.text
    assert journal.deletions == 1, "one deletion pass"
    kinds = sorted(o.kind for o in (first, second))
    assert kinds == ["deferred_update", "message"], kinds
    other = first if first.kind == "message" else second
    assert other.ephemeral and other.text in (ALREADY, PRIVACY_EXPIRED)
    answered_once(sandbox)
    nothing_public(sandbox, alice)


async def test_privacy_card_after_its_timeout(sandbox: Sandbox, ebot: PeerCirclesBot, clock: FakeClock) -> None:
    alice = sandbox.member("alice")
    journal = journal_on(ebot, sandbox, alice, ["kept"])
    card = await alice.slash("privacy")
    clock.advance(timedelta(minutes=11))  # the card lives 10 minutes from its last press
    late = await alice.click(card, "Delete my data")
    calm(late, PRIVACY_EXPIRED)
    assert card.message.buttons == ["Export my data", "Delete my data"], "nothing changed on the card"
    exported = await (await alice.click(card, "Export my data")).settled()
    assert "sent your data to you in a direct message" in exported.text and "had expired" in exported.text
    await alice.wait_for_dm("JSON file")
    assert len(export_dms(alice)) == 1
    assert journal.deletions == 0

    # A card pressed within its time stays live: each press restarts the clock.
    fresh = await alice.slash("privacy")
    clock.advance(timedelta(minutes=9))
    await alice.click(fresh, "Delete my data")
    clock.advance(timedelta(minutes=9))
    kept = await alice.click(fresh, "Keep my data")
    assert kept.kind == "update" and "Nothing was deleted" in fresh.message.text
    answered_once(sandbox)
    nothing_public(sandbox, alice)


async def test_privacy_card_after_a_restart(sandbox: Sandbox, timed: BotHarness, ebot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    card = await alice.slash("privacy")
    await alice.click(card, "Delete my data")
    bot = await restart(timed)
    journal = journal_on(bot, sandbox, alice, ["from before"])
    late = await alice.click(card, "Delete everything")
    calm(late, PRIVACY_EXPIRED)
    assert journal.deletions == 0 and journal.lines[(sandbox.guild.id, alice.id)] == ["from before"]
    card = await alice.slash("privacy")
    bot = await restart(timed)
    journal_on(bot, sandbox, alice, ["from before"])
    exported = await (await alice.click(card, "Export my data")).settled()
    assert "sent your data to you in a direct message" in exported.text
    dm = await alice.wait_for_dm("JSON file")
    assert b"from before" in dm.attachments[0].data
    calm(await alice.click(card, "Delete my data"), PRIVACY_EXPIRED)
    answered_once(sandbox)
    nothing_public(sandbox, alice)


# -- a share preview -------------------------------------------------------------------------


async def test_post_pressed_twice_at_once_posts_once(sandbox: Sandbox, ebot: PeerCirclesBot) -> None:
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    bob = await join(sandbox, "bob")
    preview = await write(alice, "Grateful for this group.")
    bob_saw = len(bob.ephemeral_replies)
    first, second = await alice.double_click(preview, "Post")
    posted = await sandbox.channel("circle-grief").wait_for_message("Grateful for this group.")
    await sandbox.wait_for(lambda: "Posted in" in preview.message.text, "the preview to say it's posted")
    assert len(shares_in(sandbox)) == 1, "one post"
    assert len(await ebot.services.db.fetchall("SELECT * FROM shares")) == 1, "one share stored"
    kinds = sorted(o.kind for o in (first, second))
    assert kinds == ["deferred_update", "message"], kinds
    other = first if first.kind == "message" else second
    assert other.ephemeral and other.text in (ALREADY, SHARE_EXPIRED)
    assert str(alice.id) not in sandbox.public_text() and "alice" not in posted.text.casefold()
    assert len(bob.ephemeral_replies) == bob_saw and bob.dms == [], "others see the one post, nothing else"
    answered_once(sandbox)


async def test_post_on_a_preview_replaced_by_an_edit_posts_nothing_old(sandbox: Sandbox, ebot: PeerCirclesBot) -> None:
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    preview = await write(alice, "first draft")
    old_post = custom_id(preview.message, "Post")
    form = await alice.click(preview, "Edit")
    await alice.submit_modal(form, **{"share:text": "second draft", "share:warning": ""})
    assert "second draft" in preview.message.text
    late = await alice.click(preview, old_post, stale=True)  # the first draft's Post, not yet redrawn
    calm(late, SHARE_EXPIRED)
    assert shares_in(sandbox) == [] and await ebot.services.db.fetchall("SELECT * FROM shares") == []
    await (await alice.click(preview, "Post")).settled()
    posted = await sandbox.channel("circle-grief").wait_for_message("second draft")
    assert "first draft" not in posted.text and len(shares_in(sandbox)) == 1
    calm(await alice.click(preview, old_post, stale=True), SHARE_EXPIRED)
    calm(await alice.click(preview, "Post", stale=True), SHARE_EXPIRED)  # after it was posted
    assert len(shares_in(sandbox)) == 1
    answered_once(sandbox)


async def test_a_preview_after_its_timeout_and_after_a_restart(
    sandbox: Sandbox, timed: BotHarness, ebot: PeerCirclesBot, clock: FakeClock
) -> None:
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    preview = await write(alice, "The garden is blooming again.")
    clock.advance(timedelta(minutes=31))  # previews live 30 minutes
    calm(await alice.click(preview, "Post"), SHARE_EXPIRED)
    calm(await alice.click(preview, "Cancel"), SHARE_EXPIRED)

    preview = await write(alice, "The garden is blooming again.")
    opened = await alice.slash("share post")  # a second form, left open across the restart
    bot = await restart(timed)
    calm(await alice.click(preview, "Post"), SHARE_EXPIRED)
    sent = await alice.submit_modal(opened, **{"share:text": "Written before the restart.", "share:warning": ""})
    calm(sent, "This form has expired, so I didn't keep what you wrote. Run /share post to write it again.")
    assert shares_in(sandbox) == [] and await bot.services.db.fetchall("SELECT * FROM shares") == []
    assert "Written before the restart." not in "\n".join(m.text for m in sandbox.all_messages())
    answered_once(sandbox)


async def test_a_persistent_button_pressed_twice_at_once_acts_once(sandbox: Sandbox, ebot: PeerCirclesBot) -> None:
    ana = await make_circle(sandbox, premoderation=True)
    alice = await join(sandbox, "alice")
    preview = await write(alice, "A walk in the park helped today.")
    await (await alice.click(preview, "Post")).settled()
    review = await sandbox.channel("moderation").wait_for_message("waiting for review")
    first, second = await ana.double_click(review, "Approve")
    await sandbox.channel("circle-grief").wait_for_message("A walk in the park helped today.")
    await sandbox.wait_for(lambda: "approved an anonymous share" in review.text, "the review card to say so")
    assert len(shares_in(sandbox)) == 1, "one post"
    kinds = sorted(o.kind for o in (first, second))
    assert kinds == ["deferred_update", "message"], kinds
    other = first if first.kind == "message" else second
    assert other.ephemeral and other.text == ALREADY
    await alice.wait_for_dm("was approved")
    assert len([m for m in alice.dms if "was approved" in m.text]) == 1, "the author is told once"
    # Pressed again on the card before it was redrawn: the button is no longer there.
    late = await ana.click(review, "Approve", stale=True)
    calm(late, "This card has expired. Someone may already have decided on this share.")
    assert len(shares_in(sandbox)) == 1
    answered_once(sandbox)


# -- a confirmation card ---------------------------------------------------------------------


async def test_a_confirmation_pressed_twice_after_its_timeout_and_after_a_restart(
    sandbox: Sandbox, timed: BotHarness, ebot: PeerCirclesBot, clock: FakeClock
) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    await check_in(alice, "3 · Okay")
    await check_in(alice, "4 · Good")
    asked = await alice.slash("checkin delete")
    first, second = await alice.double_click(asked, "Delete check-in")
    assert [r["mood"] for r in await rows(ebot, "SELECT mood FROM checkins")] == [3], "only the latest, once"
    done = first if first.kind == "update" else second
    other = second if done is first else first
    assert "gone for good" in asked.message.text and done.kind == "update"
    assert other.ephemeral and other.text in (ALREADY, CHECKIN_DELETE_EXPIRED)

    asked = await alice.slash("checkin delete")
    clock.advance(timedelta(minutes=11))  # confirmations live 10 minutes
    calm(await alice.click(asked, "Delete check-in"), CHECKIN_DELETE_EXPIRED)
    asked = await alice.slash("checkin delete")
    bot = await restart(timed)
    calm(await alice.click(asked, "Delete check-in"), CHECKIN_DELETE_EXPIRED)
    calm(await alice.click(asked, "Keep it"), CHECKIN_DELETE_EXPIRED)
    assert [r["mood"] for r in await rows(bot, "SELECT mood FROM checkins")] == [3], "nothing more deleted"
    answered_once(sandbox)
    nothing_public(sandbox, alice)


# -- a check-in card -------------------------------------------------------------------------


async def test_a_check_in_card_tapped_again_after_it_was_redrawn_timed_out_or_restarted(
    sandbox: Sandbox, timed: BotHarness, ebot: PeerCirclesBot, clock: FakeClock
) -> None:
    await grief(sandbox)
    alice = member(sandbox, "alice")
    opened = await alice.slash("checkin now", where="circle-grief")
    first, second = await alice.double_click(opened, "4 · Good")
    assert first.kind == second.kind == "update"
    # A tap on the mood card after it became the check-in card: the same check-in, shown again.
    again = await alice.click(opened, "2 · Low", stale=True)
    assert again.kind == "update" and "Checked in:" in opened.message.text and "4 · Good" in opened.message.text
    assert [r["mood"] for r in await rows(ebot, "SELECT mood FROM checkins")] == [4], "one check-in"

    # The note form, sent after it timed out or after a restart: nothing is kept, she's told how to retry.
    form = await alice.click(opened, "Add a note or tags")
    clock.advance(timedelta(minutes=16))  # forms live 15 minutes
    late = await alice.submit_modal(form, **{"checkin:note": "a private line"})
    calm(
        late,
        "This form has expired, so I didn't keep what you wrote. Run /checkin edit to change your latest check-in.",
    )
    form = await alice.click(opened, "Add a note or tags")
    bot = await restart(timed)
    late = await alice.submit_modal(form, **{"checkin:note": "a private line"})
    assert CALM.match(late.text) and "/checkin edit" in late.text
    assert (await rows(bot, "SELECT note_enc FROM checkins"))[0]["note_enc"] is None, "no note stored"

    # The check-in card's own buttons are persistent: they still work after the restart.
    shared = await alice.click(opened, "Share mood with circle pulse")
    assert shared.kind == "update" and "Shared with the circle's pulse" in opened.message.text
    tapped = await alice.click(await alice.slash("checkin now", where="circle-grief"), "5 · Very good")
    assert tapped.kind == "update"
    assert sorted(r["mood"] for r in await rows(bot, "SELECT mood FROM checkins")) == [4, 5]
    answered_once(sandbox)
    assert sandbox.channel("circle-grief").messages == [] and "a private line" not in sandbox.public_text()


# -- every card the bot can show -------------------------------------------------------------


def template_cards(template: str) -> set[str]:
    """The custom_id beginnings a DynamicItem template can produce: its literal head, plus each
    alternative of a leading ``(?P<name>a|b|c)`` group."""
    head = re.match(r"[a-z:-]*", template)
    assert head is not None
    literal = head.group(0)
    group = re.match(r"\(\?P<\w+>([a-z|]+)\)", template[len(literal) :])
    if group is None:
        return {literal.rstrip(":")}
    return {literal + choice for choice in group.group(1).split("|")}


async def test_every_card_name_expires_calmly(sandbox: Sandbox, ebot: PeerCirclesBot) -> None:
    """Walk every persistent and private card name: a press (and, for private cards, a form) that
    nothing live claims gets the calm line with the right command. A new card can't forget: the
    bot's views refuse an unregistered name, and conftest checks every custom_id any test saw."""
    alice = sandbox.member("alice")
    names = sorted(CARDS)
    old = sandbox.card_from_before(alice, *[f"{name}:gone:0badc0de" for name in names])
    for name in names:
        pressed = await alice.click(old, f"{name}:gone:0badc0de")
        calm(pressed, str(expired_message(f"{name}:gone:0badc0de")))  # buttons it names, in English here
    in_dm = sandbox.card_from_before(alice, "support:send-to:0:0badc0de", where="dm")
    calm(
        await alice.click(in_dm, "support:send-to:0:0badc0de"), "This card has expired. Please send your message again."
    )
    for name in (n for n in names if not CARDS[n].persistent):
        sent = await alice.submit_form(f"{name}:0badc0de")
        calm(sent, str(expired_message(f"{name}:0badc0de", form=True)))
    answered_once(sandbox)
    assert sandbox.channel("general").messages == []

    # Persistent cards: exactly the names the running bot's DynamicItems produce.
    store: Any = ebot._connection._view_store
    expansions = set().union(*(template_cards(p.pattern) for p in store._dynamic_items))
    assert all(card_of(f"{e}:1") is not None for e in expansions), "a persistent button without a card name"
    assert {card_of(f"{e}:1") for e in expansions} == {n for n in names if CARDS[n].persistent}
    # Private cards: each name is used by the code (no stale entries).
    source = "\n".join(p.read_text("utf-8") for p in (Path(__file__).resolve().parent.parent / "cogs").rglob("*.py"))
    for name in (n for n in names if not CARDS[n].persistent):
        assert f'"{name}"' in source, f"{name} is registered but no card uses it"


def test_an_unknown_card_name_still_gets_a_calm_line() -> None:
    assert card_of("retired:card:1") is None
    assert str(expired_message("retired:card:1")) == "This card has expired. Please run the command again."
    assert str(expired_message("privacy:export:0badc0de")) == PRIVACY_EXPIRED


def test_a_button_on_a_public_post_is_named_as_the_post_shows_it() -> None:
    """The line is in the presser's language; the button it names is on a post everyone sees, so
    its label is the server's (a German server's share shows „Anonym antworten“)."""
    english_reader = speaker("en")
    german_server = speaker("de")
    line = english_reader.render(expired_message("share:replying:ab12", form=True, labels=german_server))
    label = german_server("Reply anonymously")
    assert label != "Reply anonymously" and f"Press **{label}** on the share" in line
    assert "Press **Reply anonymously**" in str(expired_message("share:replying:ab12", form=True))
    assert (
        card_of("share:reply:0123456789abcdef") == "share:reply" and card_of("share:replying:ab12") == "share:replying"
    )
