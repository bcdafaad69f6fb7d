"""Anonymous sharing end to end: nobody, including moderators, can learn who wrote a share."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

import pytest

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Outcome, Person, Sandbox
from bot.sandbox.models import DM, FLAG_EPHEMERAL, Message
from tests.i18n_fakes import as_seen_by

GRIEF_TEXT = "It's been a year since Mum died and today I couldn't get out of bed."


async def make_circle(sandbox: Sandbox, name: str = "Grief", **options: Any) -> Person:
    ana = sandbox.admin("ana")
    await ana.slash("setup", moderation_channel=sandbox.channel("moderation"))
    opened = await ana.slash("circle create", name=name, description="For anyone grieving", **options)
    await (await ana.submit_modal(opened)).settled()
    return ana


async def join(sandbox: Sandbox, who: str, circle: str = "Grief") -> Person:
    person = sandbox.member(who)
    await person.click(await person.slash("circle join", circle=circle), as_seen_by(person, "I agree, join"))
    return person


async def write(person: Person, text: str, warning: str = "", **options: Any) -> Outcome:
    opened = await person.slash("share post", **options)
    assert opened.kind == "modal", opened.text
    return await person.submit_modal(opened, **{"share:text": text, "share:warning": warning})


async def post(person: Person, text: str, warning: str = "", **options: Any) -> Outcome:
    preview = await write(person, text, warning, **options)
    posted = await person.click(preview, "Post")
    await posted.settled()
    return preview


def shares_in(sandbox: Sandbox, channel: str = "circle-grief") -> list[Message]:
    return [m for m in sandbox.channel(channel).messages if "shared anonymously" in m.text]


async def test_share_with_preview_then_post(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    preview = await write(alice, GRIEF_TEXT, where="circle-grief")
    assert preview.ephemeral
    assert "Preview" in preview.text and GRIEF_TEXT in preview.text
    assert preview.message.buttons == [
        "Reply anonymously",
        "Sending support",
        "Report",
        "Post",
        "Edit",
        "Cancel",
        "Tell me about replies: off",
    ]
    assert shares_in(sandbox) == [], "nothing is public before Post"
    assert await bot.services.db.fetchall("SELECT * FROM shares") == [], "nothing is stored before Post"

    await (await alice.click(preview, "Post")).settled()
    posted = await sandbox.channel("circle-grief").wait_for_message("shared anonymously")
    assert GRIEF_TEXT in posted.text
    assert posted.buttons == ["Reply anonymously", "Sending support", "Report"]
    assert posted.allowed_mentions == {"parse": []}
    assert not posted.flags & FLAG_EPHEMERAL and posted.interaction_id is None, "a plain bot message, no 'used /share'"
    assert "Posted in" in preview.message.text
    assert len(sandbox.channel("circle-grief").threads) == 1
    pseudonym = posted.text.split("**")[1]
    assert " · " in pseudonym and sandbox.channel("circle-grief").threads[0].name == f"Replies to {pseudonym}"
    row = await bot.services.db.fetchone("SELECT * FROM shares")
    assert row is not None and row["status"] == "posted" and row["author_user_enc"] is None


async def test_edit_and_cancel_before_posting(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    preview = await write(alice, "first draft")
    reopened = await alice.click(preview, "Edit")
    assert reopened.kind == "modal"
    edited = await alice.submit_modal(reopened, **{"share:text": "second draft", "share:warning": ""})
    assert edited.kind == "update" and "second draft" in preview.message.text
    await alice.click(preview, "Cancel")
    assert "nothing was posted" in preview.message.text
    assert shares_in(sandbox) == []


async def test_content_warning_hides_the_text_behind_a_spoiler(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    await post(alice, "The anniversary of the accident.", warning="car accident")
    posted = shares_in(sandbox)[0]
    assert "**Content warning:** car accident" in posted.text
    assert "||The anniversary of the accident.||" in posted.text


async def test_reply_support_and_author_marking(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    bob = await join(sandbox, "bob")
    carol = await join(sandbox, "carol")
    preview = await write(alice, GRIEF_TEXT)
    await alice.click(preview, "Tell me about replies: off")
    assert "Tell me about replies: on" in preview.message.buttons
    await (await alice.click(preview, "Post")).settled()
    posted = await sandbox.channel("circle-grief").wait_for_message("shared anonymously")

    form = await bob.click(posted, "Reply anonymously")
    done = await bob.submit_modal(form, **{"share:field": "I remember that first year. Be gentle with yourself."})
    await done.settled()
    thread = sandbox.channel("circle-grief").threads[0]
    reply = await thread.wait_for_message("Be gentle")
    assert "(author)" not in reply.text
    notice = await alice.wait_for_dm("Someone replied to your anonymous share")
    assert "bob" not in notice.text.lower()

    form = await alice.click(posted, "Reply anonymously")
    await (await alice.submit_modal(form, **{"share:field": "Thank you, that helps."})).settled()
    own = await thread.wait_for_message("that helps")
    assert "(author)" in own.text
    assert own.text.split("**")[1] == posted.text.split("**")[1], "the author keeps their pseudonym"

    for supporter in (bob, carol, bob):
        answered = await supporter.click(posted, "Sending support")
        await answered.settled()
    assert "Sending support · 2" in posted.buttons
    assert "already sent support" in bob.ephemeral_replies[-1].text
    await alice.wait_for_dm("Someone sent support")


async def test_report_reaches_moderators_without_the_reporter(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    bob = await join(sandbox, "bob")
    await post(alice, "Something I regret saying.")
    posted = shares_in(sandbox)[0]
    form = await bob.click(posted, "Report")
    thanks = await bob.submit_modal(form, **{"share:field": "This feels like it breaks rule 4"})
    assert "nobody will know you reported it" in thanks.text
    mod = await sandbox.channel("moderation").wait_for_message("A report on an anonymous share")
    assert "breaks rule 4" in mod.text and "Something I regret saying." in mod.text
    for leak in (bob.user.username, bob.user.display_name, str(bob.id), alice.user.username, str(alice.id)):
        assert leak not in mod.text
        assert leak not in json.dumps(mod.to_dict()["components"])
    dismissed = await ana.click(mod, "Dismiss")
    assert "dismissed the report" in mod.text and dismissed.kind == "update"
    again = await bob.submit_modal(await bob.click(posted, "Report"), **{"share:field": "again"})
    assert "already reported" in again.text


async def test_mute_survives_pseudonym_rotation(sandbox: Sandbox, harness: object) -> None:
    from datetime import UTC, datetime

    from bot.clock import FakeClock
    from bot.sandbox.harness import BotHarness

    assert isinstance(harness, BotHarness)
    clock = FakeClock(datetime.now(UTC))
    harness.clock = clock
    harness.use_timers = False
    await harness.start()
    ana = await make_circle(sandbox, rotation="daily")
    alice = await join(sandbox, "alice")
    bob = await join(sandbox, "bob")
    await post(alice, "A post someone will report.")
    first = shares_in(sandbox)[0]
    await bob.submit_modal(await bob.click(first, "Report"), **{"share:field": "not okay"})
    mod = await sandbox.channel("moderation").wait_for_message("A report")
    await ana.click(mod, "Mute poster 7 days")
    assert "muted the poster" in mod.text
    clock.advance(timedelta(days=2))  # a new day: a new pseudonym
    for where in ("general", "circle-grief"):  # by the member's only circle, and in the circle's channel
        refused = await alice.slash("share post", where=where)
        assert refused.kind == "message" and "can't post anonymously in Grief until" in refused.text
    clock.advance(timedelta(days=6))
    preview = await write(alice, "Back after a break.")
    await alice.click(preview, "Post")
    second = await sandbox.channel("circle-grief").wait_for_message("Back after a break")
    assert second.text.split("**")[1] != first.text.split("**")[1], "the pseudonym rotated"


async def test_premoderation_approve_and_reject(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = await make_circle(sandbox, premoderation=True)
    alice = await join(sandbox, "alice")
    preview = await write(alice, "Please be kind about this one.")
    assert "A moderator will review it first" in preview.text
    await (await alice.click(preview, "Post")).settled()
    assert "Sent to the moderators" in preview.message.text
    review = await sandbox.channel("moderation").wait_for_message("waiting for review")
    assert "Please be kind about this one." in review.text
    assert shares_in(sandbox) == []
    await ana.click(review, "Approve")
    await sandbox.channel("circle-grief").wait_for_message("Please be kind")
    await alice.wait_for_dm("was approved")

    preview = await write(alice, "A second one.")
    await alice.click(preview, "Post")
    review = await sandbox.channel("moderation").wait_for_message(
        "waiting for review", after=len(sandbox.channel("moderation").messages) - 1
    )
    form = await ana.click(review, "Reject")
    await ana.submit_modal(form, **{"share:field": "It names someone outside the circle."})
    dm = await alice.wait_for_dm("wasn't approved")
    assert "names someone outside the circle" in dm.text and "ana" not in dm.text.lower()
    assert "A second one." not in sandbox.channel("circle-grief").messages[-1].text
    row = await bot.services.db.fetchone("SELECT * FROM shares WHERE status = 'rejected'")
    assert row is not None and row["author_user_enc"] is None and row["content"] is None


async def test_two_moderators_deciding_a_review_at_once_decide_once(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    # Both presses read the share while it was waiting: both used to approve it, and it was posted twice.
    ana = await make_circle(sandbox, premoderation=True)
    await ana.slash("setup", coordinator_role=await sandbox.add_role("Coordinators"))
    cora = sandbox.member("cora", roles=["Coordinators"])
    alice = await join(sandbox, "alice")
    for text, buttons in (
        ("First, approved twice at once.", ("Approve", "Approve")),
        ("Second.", ("Approve", "Reject")),
    ):
        preview = await write(alice, text)
        await (await alice.click(preview, "Post")).settled()
        review = await sandbox.channel("moderation").wait_for_message(text)
        pressed = await asyncio.gather(
            *(who.click(review, label) for who, label in zip((ana, cora), buttons, strict=True))
        )
        answers = [(await o.settled()).text if o.kind == "deferred_update" else o.text for o in pressed]
        if pressed[1].kind == "modal":  # Reject opens a form for a note: it comes too late
            answers[1] = (await cora.submit_modal(pressed[1], **{"share:field": ""})).text
        await sandbox.channel("circle-grief").wait_for_message(text)
        assert sum("Someone already decided on this share" in a for a in answers) == 1, answers
    for text in ("First, approved twice at once.", "Second."):
        assert len([m for m in shares_in(sandbox) if text in m.text]) == 1, "posted once"
    assert len([m for m in alice.dms if "was approved" in m.text]) == 2, "told once per share"
    assert not [m for m in alice.dms if "wasn't approved" in m.text]
    rows = await bot.services.db.fetchall("SELECT status FROM shares ORDER BY id")
    assert [r["status"] for r in rows] == ["posted", "posted"]


async def test_two_moderators_acting_on_a_report_at_once_act_once(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    # Both presses found the report open: the poster was muted and the report recorded as dismissed.
    ana = await make_circle(sandbox)
    await ana.slash("setup", coordinator_role=await sandbox.add_role("Coordinators"))
    cora = sandbox.member("cora", roles=["Coordinators"])
    alice = await join(sandbox, "alice")
    bob = await join(sandbox, "bob")
    await post(alice, "Reported twice over.")
    await bob.submit_modal(await bob.click(shares_in(sandbox)[0], "Report"), **{"share:field": "not okay"})
    card = await sandbox.channel("moderation").wait_for_message("A report on an anonymous share")
    muted, dismissed = await asyncio.gather(ana.click(card, "Mute poster 7 days"), cora.click(card, "Dismiss"))
    [acted] = [o for o in (muted, dismissed) if o.kind == "update"]
    [told] = [o for o in (muted, dismissed) if o is not acted]
    assert told.ephemeral and "Someone already acted on this report" in told.text
    [report] = await bot.services.db.fetchall("SELECT status FROM share_reports")
    mutes = await bot.services.db.fetchall("SELECT * FROM share_mutes")
    if acted is muted:
        assert report["status"] == "muted" and len(mutes) == 1 and "muted the poster" in card.text
    else:
        assert report["status"] == "dismissed" and mutes == [] and "dismissed the report" in card.text

    # An action that can't be done leaves the report open: the post no longer links to anyone.
    carol = await join(sandbox, "carol")
    await post(carol, "Unlinked before the moderators look.")
    later = next(m for m in shares_in(sandbox) if "Unlinked" in m.text)
    await bob.submit_modal(await bob.click(later, "Report"), **{"share:field": "again"})
    card = await sandbox.channel("moderation").wait_for_message("Unlinked before", after=1)
    await bot.services.privacy.delete_user(sandbox.guild.id, carol.id)
    refused = await ana.click(card, "Mute poster 1 day")
    assert refused.ephemeral and "can no longer be linked to anyone" in refused.text
    assert (await cora.click(card, "Dismiss")).kind == "update" and "dismissed the report" in card.text


async def test_rate_limit_says_when_to_try_again(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    await make_circle(sandbox)
    await sandbox.admin("ana").slash("circle edit", circle="Grief", share_limit=2)
    alice = await join(sandbox, "alice")
    await post(alice, "one")
    await post(alice, "two")
    for where in ("general", "circle-grief"):
        refused = await alice.slash("share post", where=where)
        assert "this circle's limit" in refused.text and "<t:" in refused.text
    assert len(shares_in(sandbox)) == 2


async def test_mentions_are_inert_and_nobody_is_pinged(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    bob = sandbox.member("bob")
    role = sandbox.role("Circle: Grief")
    text = f"@everyone @here <@{bob.id}> <@!{bob.id}> <@&{role.id}> join discord.gg/abc123 now"
    await post(alice, text)
    posted = shares_in(sandbox)[0]
    assert "@\u200beveryone" in posted.text and "@\u200bhere" in posted.text
    assert f"<@{bob.id}>" not in posted.text and f"<@&{role.id}>" not in posted.text
    assert "discord.gg/abc123" not in posted.text and "[invite link removed]" in posted.text
    anonymous = [
        r
        for r in sandbox.server.requests
        if r.route.startswith("POST /channels/") and isinstance(r.json, dict) and "components" in r.json
    ]
    assert anonymous and all(r.json.get("allowed_mentions") == {"parse": []} for r in anonymous)


async def test_crisis_words_show_resources_before_anything_is_posted(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = await make_circle(sandbox)
    await ana.slash("setup", region="GB")
    alice = await join(sandbox, "alice")
    care = await write(alice, "I have the pills ready and I'm going to end it tonight.")
    assert care.ephemeral
    assert "Samaritans" in care.text and "116 123" in care.text
    assert care.message.buttons == ["Continue to preview", "Don't post"]
    assert shares_in(sandbox) == []
    assert not any("may be from someone in crisis" in m.text for m in sandbox.channel("moderation").messages)
    await alice.click(care, "Continue to preview")
    assert "Preview" in care.message.text
    await alice.click(care, "Post")
    await sandbox.channel("circle-grief").wait_for_message("pills")
    alert = await sandbox.channel("moderation").wait_for_message("may be from someone in crisis")
    assert alert.buttons == ["Reply anonymously"]
    assert "alice" not in alert.text.lower() and str(alice.id) not in json.dumps(alert.to_dict())


async def test_share_mine_and_delete(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    await post(alice, "mine to delete")
    bob = await join(sandbox, "bob")
    await post(bob, "bob's share")
    listing = await alice.slash("share mine")
    assert "mine to delete" in listing.text and "bob's share" not in listing.text
    await alice.click(listing, "Delete")
    await alice.click(listing, "Delete it")
    await sandbox.wait_for(lambda: "Deleted." in listing.message.text, "the deletion")
    assert [m.text for m in shares_in(sandbox)] == [m.text for m in shares_in(sandbox) if "bob's share" in m.text]
    assert "no anonymous shares" in (await alice.slash("share mine")).text


async def test_privacy_export_lists_posts_and_delete_unlinks_them(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    await post(alice, "exported words")
    exported = await bot.services.privacy.export_user(sandbox.guild.id, alice.id)
    assert [s["content"] for s in exported["shares"]] == ["exported words"]
    await bot.services.privacy.delete_user(sandbox.guild.id, alice.id)
    assert shares_in(sandbox), "the public post stays"
    row = await bot.services.db.fetchone("SELECT author_user_hash, author_user_enc FROM shares")
    assert row is not None and row["author_user_hash"] is None and row["author_user_enc"] is None
    assert (await bot.services.privacy.export_user(sandbox.guild.id, alice.id))["shares"] == []
    assert "no anonymous shares" in (await alice.slash("share mine")).text


async def test_nobody_can_learn_the_author_anywhere(
    sandbox: Sandbox, bot: PeerCirclesBot, caplog: pytest.LogCaptureFixture
) -> None:
    """The whole scenario, then a search of every public message, component, thread name,
    the moderators' view, every REST body not addressed to the author, and the log."""
    from bot.logsetup import apply_log_policy

    caplog.set_level(logging.DEBUG)
    apply_log_policy(logging.DEBUG)  # as `LOG_LEVEL=DEBUG` would in production
    ana = await make_circle(sandbox)
    alice = sandbox.member("alice", global_name="Alice Wonder")
    await alice.click(await alice.slash("circle join", circle="Grief"), "I agree, join")
    bob = await join(sandbox, "bob")
    preview = await write(alice, GRIEF_TEXT, warning="bereavement")
    await alice.click(preview, "Tell me about replies: off")
    await alice.click(preview, "Post")
    posted = await sandbox.channel("circle-grief").wait_for_message("shared anonymously")
    await (
        await alice.submit_modal(await alice.click(posted, "Reply anonymously"), **{"share:field": "me again"})
    ).settled()
    await (await bob.submit_modal(await bob.click(posted, "Reply anonymously"), **{"share:field": "hugs"})).settled()
    await (await bob.click(posted, "Sending support")).settled()
    await bob.submit_modal(await bob.click(posted, "Report"), **{"share:field": "checking the report path"})
    mod = await sandbox.channel("moderation").wait_for_message("A report")
    await ana.click(mod, "Dismiss")
    await alice.slash("share mine")

    secrets = {str(alice.id), alice.user.username, alice.user.display_name}
    public = sandbox.public_text()
    for secret in secrets:
        assert secret not in public, f"{secret!r} appears in a public message, component or thread name"
    for message in sandbox.all_messages():
        channel = sandbox.server.channels.get(message.channel_id)
        to_alice = message.ephemeral_to == alice.id or (
            channel is not None and channel.type == DM and channel.recipients[0].id == alice.id
        )
        if to_alice:
            continue
        dumped = json.dumps(message.to_dict())
        for secret in secrets:
            assert secret not in dumped, f"{secret!r} leaked into a message seen by others: {message.text[:80]}"
    for record in caplog.records:
        if record.name.startswith("bot.sandbox"):
            continue  # the fake Discord's own log, not the bot's
        for secret in secrets:
            assert secret not in record.getMessage(), (
                f"{secret!r} appears in the log ({record.name}): {record.getMessage()[:200]}"
            )


async def test_facilitators_remove_posts_and_replies_from_the_message_menu(
    sandbox: Sandbox, bot: PeerCirclesBot
) -> None:
    facilitators = await sandbox.add_role("Grief facilitators")
    await make_circle(sandbox, facilitator_role=facilitators)
    fran = sandbox.member("fran", roles=["Grief facilitators"])  # a facilitator, not a server admin
    alice = await join(sandbox, "alice")
    bob = await join(sandbox, "bob")
    await post(alice, "a post to remove later")
    posted = shares_in(sandbox)[0]
    await (
        await bob.submit_modal(await bob.click(posted, "Reply anonymously"), **{"share:field": "a reply to remove"})
    ).settled()
    thread = sandbox.channel("circle-grief").threads[0]
    reply = await thread.wait_for_message("a reply to remove")
    refused = await bob.context_menu("Remove anonymous post", reply)
    assert "moderate anonymous shares" in refused.text and not reply.deleted
    removed = await fran.context_menu("Remove anonymous post", reply)
    assert "Removed the anonymous reply" in removed.text and reply.deleted
    removed = await fran.context_menu("Remove anonymous post", posted)
    assert "Removed the anonymous post" in removed.text and posted.deleted
    row = await bot.services.db.fetchone("SELECT status, content FROM shares")
    assert row is not None and row["status"] == "removed" and row["content"] is None


async def test_a_posting_delay_hides_the_moment_of_posting(sandbox: Sandbox, harness: object) -> None:
    from datetime import UTC, datetime

    from bot.clock import FakeClock
    from bot.sandbox.harness import BotHarness

    assert isinstance(harness, BotHarness)
    clock = FakeClock(datetime.now(UTC))
    harness.clock, harness.use_timers = clock, False
    bot = await harness.start()
    assert isinstance(bot, PeerCirclesBot)
    ana = await make_circle(sandbox)
    await ana.slash("circle edit", circle="Grief", posting_delay=90)
    alice = await join(sandbox, "alice")
    preview = await write(alice, "delayed words")
    assert "up to 90 seconds after you press Post" in preview.text
    await (await alice.click(preview, "Post")).settled()
    assert "It will appear" in preview.message.text
    assert shares_in(sandbox) == []
    clock.advance(timedelta(seconds=5))
    assert await bot.services.scheduler.run_due() == []
    clock.advance(timedelta(seconds=90))
    assert len(await bot.services.scheduler.run_due()) == 1
    assert "delayed words" in shares_in(sandbox)[0].text


async def test_retention_drops_the_links_to_the_author(sandbox: Sandbox, harness: object) -> None:
    from datetime import UTC, datetime

    from bot.clock import FakeClock
    from bot.sandbox.harness import BotHarness

    assert isinstance(harness, BotHarness)
    clock = FakeClock(datetime.now(UTC))
    harness.clock, harness.use_timers = clock, False
    bot = await harness.start()
    assert isinstance(bot, PeerCirclesBot)
    await make_circle(sandbox, retention_days=30)
    alice = await join(sandbox, "alice")
    preview = await write(alice, "kept for a while")
    await alice.click(preview, "Tell me about replies: off")
    await (await alice.click(preview, "Post")).settled()
    row = await bot.services.db.fetchone("SELECT author_user_hash, author_user_enc FROM shares")
    assert row is not None and row["author_user_hash"] and row["author_user_enc"], (
        "linked while notifications are wanted"
    )
    clock.advance(timedelta(days=29))
    await bot.services.maintenance.run()
    row = await bot.services.db.fetchone("SELECT author_user_enc FROM shares")
    assert row is not None and row["author_user_enc"] is not None
    clock.advance(timedelta(days=2))
    await bot.services.maintenance.run()
    row = await bot.services.db.fetchone("SELECT author_user_hash, author_user_enc, content FROM shares")
    assert (
        row is not None
        and row["author_user_hash"] is None
        and row["author_user_enc"] is None
        and row["content"] is None
    )
    assert shares_in(sandbox), "the public post itself stays in the channel"


async def test_the_crisis_card_offers_a_listener_when_the_server_has_them(
    sandbox: Sandbox, bot: PeerCirclesBot
) -> None:
    from tests.support_harness import become_listener, on_call, setup_server

    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    await on_call(lena)
    await make_circle(sandbox)
    alice = await join(sandbox, "alice")
    care = await write(alice, "I have the pills ready and I'm going to end it tonight.")
    assert care.message.buttons == ["Continue to preview", "Talk to a listener", "Don't post"]
    form = await alice.click(care, "Talk to a listener")
    assert form.kind == "modal"
    values: dict[str, object] = {"support:topic": "", "support:appear": ["anonymous"]}
    await (await alice.submit_modal(form, **values)).settled()
    offer = await lena.wait_for_dm("Someone")
    for secret in (str(alice.id), alice.user.username, alice.user.display_name):
        assert secret not in offer.text
    assert shares_in(sandbox) == [], "asking for a listener posts nothing"


async def test_crisis_words_in_german_show_resources_before_anything_is_posted(
    sandbox: Sandbox, bot: PeerCirclesBot
) -> None:
    ana = await make_circle(sandbox)
    await ana.slash("setup", region="DE")
    alice = await join(sandbox, "alice")
    care = await write(alice, "hab die tabletten gesammelt und heute nacht ist schluss. danke für alles")
    assert care.ephemeral
    assert "TelefonSeelsorge" in care.text
    assert care.message.buttons == ["Continue to preview", "Don't post"]
    assert shares_in(sandbox) == []
    assert not any("may be from someone in crisis" in m.text for m in sandbox.channel("moderation").messages)


async def test_the_writer_reads_the_preview_and_the_circle_reads_the_share_in_its_language(
    sandbox: Sandbox, bot: PeerCirclesBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member whose Discord is in German writes in a server whose language is Spanish: the
    preview's words, the crisis card and every private answer are German; the share, its buttons,
    its thread, its pseudonym and the moderators' card are Spanish; a Brazilian member's private
    answers are Portuguese; the German writer's DMs are German."""
    from bot.services.pseudonyms import words
    from tests.i18n_fakes import marked, marked_catalogues

    def spanish(pseudonym: str) -> bool:
        noun, adjective = pseudonym.split(" · ")[0].split(" ")
        vocabulary = words("es")
        return noun in vocabulary.nouns and any(adjective in forms for forms in vocabulary.adjectives)

    await make_circle(sandbox)
    lena = sandbox.member("lena", locale="de")
    joao = sandbox.member("joao", locale="pt-BR")
    await join(sandbox, "lena")
    await join(sandbox, "joao")
    with marked_catalogues(monkeypatch):
        await sandbox.server.set_guild_locale(sandbox.guild, "es-ES")
        form = await lena.slash("share post")
        assert form.modal["title"] == marked("de", "Share with Grief")
        care = await lena.submit_modal(
            form, **{"share:text": "I have the pills ready and I'm going to end it tonight.", "share:warning": ""}
        )
        assert marked("de", "## Support, right now") in care.text, "the crisis card: the writer's"
        assert care.message.buttons == [marked("de", "Continue to preview"), marked("de", "Don't post")]
        await lena.click(care, marked("de", "Don't post"))
        assert marked("de", "Okay, nothing was posted.") in care.message.text

        preview = await write(lena, GRIEF_TEXT)
        shown = preview.message.text
        assert preview.ephemeral and marked("de", "**Preview.** This is exactly how your share will look") in shown
        assert marked("es", "**") in shown and "shared anonymously" in shown, "the share as the circle will see it"
        assert preview.message.buttons == [
            marked("es", "Reply anonymously"),
            marked("es", "Sending support"),
            marked("es", "Report"),
            marked("de", "Post"),
            marked("de", "Edit"),
            marked("de", "Cancel"),
            marked("de", "Tell me about replies: off"),
        ]
        await lena.click(preview, marked("de", "Tell me about replies: off"))
        await (await lena.click(preview, marked("de", "Post"))).settled()
        assert marked("de", "Posted in") in preview.message.text

        posted = await sandbox.channel("circle-grief").wait_for_message("shared anonymously")
        assert posted.text.startswith(marked("es", "**"))
        assert posted.buttons == [
            marked("es", "Reply anonymously"),
            marked("es", "Sending support"),
            marked("es", "Report"),
        ]
        pseudonym = posted.text.split("**")[1]
        assert spanish(pseudonym), f"{pseudonym!r} is made of the server's words"
        assert f"**{pseudonym}**" in shown, "the preview showed the name the share got"
        [thread] = sandbox.channel("circle-grief").threads
        assert thread.name == marked("es", f"Replies to {pseudonym}")

        form = await joao.click(posted, marked("es", "Reply anonymously"))
        assert form.modal["title"] == marked("pt_BR", "Reply anonymously"), "a form: the one who opened it"
        done = await joao.submit_modal(form, **{"share:field": "Sending you strength."})
        await done.settled()
        assert marked("pt_BR", "Your reply is in the thread as **") in done.text
        reply = await thread.wait_for_message("Sending you strength.")
        assert spanish(reply.text.split("**")[1]), "a reply's pseudonym is the server's words too"
        notice = await lena.wait_for_dm("Someone replied")
        assert notice.text.startswith(marked("de", "Someone replied to your anonymous share in **Grief**"))

        await (await joao.click(posted, marked("es", "Sending support"))).settled()
        assert marked("es", "Sending support · 1") in posted.buttons
        assert marked("pt_BR", "Your support was sent") in joao.ephemeral_replies[-1].text
        support = await lena.wait_for_dm("Someone sent support")
        assert support.text.startswith(marked("de", "Someone sent support"))

        thanks = await joao.submit_modal(
            await joao.click(posted, marked("es", "Report")), **{"share:field": "checking the report path"}
        )
        assert thanks.text.startswith(marked("pt_BR", "Thank you for telling us."))
        card = await sandbox.channel("moderation").wait_for_message("A report on an anonymous share")
        assert card.text.startswith(marked("es", "🚩 **A report on an anonymous share in Grief.**"))
        assert marked("es", "Dismiss") in card.buttons and f"**{pseudonym}**" in card.text
