"""Erased means erased: once the product deletes something, no byte of the database's files holds it.

A probe found the text of two removed anonymous shares still readable in the SQLite ``-wal`` file
while the bot ran, and SQLite leaves deleted content in free space in the main file until it is
reused. Here distinctive markers go in through the product (a share, a reply, a check-in note, a
support topic...), are deleted through the same service code the cogs call (driven through the
sandbox like the people using the bot), and the database file and its ``-wal`` and ``-shm`` files
are read raw from disk while the bot still has the database open (the probe's situation), and
again after it closed it.

Check-in notes and support topics are stored encrypted (AES-GCM under keys derived from
SECRET_KEY), so their plain text never reaches the disk; for them the tests also look for the exact
ciphertext that was stored, which someone holding the key could still read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.client import PeerCirclesBot
from bot.clock import FakeClock
from bot.sandbox.actors import Person, Sandbox
from bot.sandbox.harness import BotHarness
from tests.support_harness import accept, ask, become_listener, on_call, setup_server
from tests.test_e2e_shares import join, make_circle, shares_in, write

START = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)  # a Monday, noon in London (GMT)
# Real shares run to a few hundred characters. The length matters: when a row shrinks, SQLite
# without secure_delete leaves the start of the old row (here, the start of the text) in free space.
STORY = (
    " I planted tomatoes and beans in the garden this spring, and the neighbours helped me build a new fence "
    "along the path by the shed. Most mornings now I go out with a cup of tea and see what has come up overnight."
)


@pytest.fixture
def bot_database_url() -> None:
    """These read SQLite's own files (the database, -wal, -shm): they run on SQLite even with
    E2E_ON_POSTGRES. On PostgreSQL a deleted row's bytes stay until VACUUM (README, Deployment)."""
    return None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def on_disk(path: Path) -> dict[str, bytes]:
    """The database file and its -wal and -shm files, read raw (whichever exist)."""
    return {p.name: p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()}


def found_in(path: Path, secret: bytes) -> list[str]:
    return [name for name, data in on_disk(path).items() if secret in data]


def assert_on_disk(path: Path, secrets: Mapping[str, bytes]) -> None:
    """Before deleting: the scan really sees what was stored (so not finding it later means something)."""
    for label, secret in secrets.items():
        assert found_in(path, secret), f"{label} should be on disk before it is deleted"


def assert_gone(path: Path, secrets: Mapping[str, bytes], when: str) -> None:
    left = {label: found_in(path, secret) for label, secret in secrets.items()}
    readable = [f"{label} (in {', '.join(where)})" for label, where in left.items() if where]
    assert not readable, f"still readable {when}: {'; '.join(readable)}"


async def stored(bot: PeerCirclesBot, sql: str) -> bytes:
    row = await bot.services.db.fetchone(sql)
    assert row is not None and row[0], sql
    return bytes(row[0])


async def share(person: Person, text: str) -> None:
    """Write, preview and Post, as the share cog's own flow goes (through the crisis screen's card if it shows)."""
    preview = await write(person, text)
    if "Continue to preview" in preview.message.buttons:
        await person.click(preview, "Continue to preview")
    await (await person.click(preview, "Post")).settled()


async def check_in_with_note(person: Person, note: str) -> None:
    opened = await person.slash("checkin now", where="circle-grief")
    card = await person.click(opened, "2 · Low")
    form = await person.click(card.message, "Add a note or tags")
    await (await person.submit_modal(form, **{"checkin:note": note})).settled()


async def test_removed_shares_replies_deleted_check_ins_and_ended_support_leave_no_trace(
    sandbox: Sandbox, timed_bot: PeerCirclesBot, timed: BotHarness
) -> None:
    path = timed.database_path
    removed, own, replied = b"Marker-share-removed-7QK2", b"Marker-share-deleted-M4XP", b"Marker-reply-removed-Z8RW"
    noted, topic = b"Marker-note-deleted-J3VD", b"Marker-topic-ended-P9LC"

    facilitators = await sandbox.add_role("Grief facilitators")
    await make_circle(sandbox, facilitator_role=facilitators)
    fran = sandbox.member("fran", roles=["Grief facilitators"])  # moderates the circle's anonymous posts
    alice = await join(sandbox, "alice")
    bob = await join(sandbox, "bob")

    # Two shares, and a reply to the first. (The first row is not the last one written to its
    # page, so without secure_delete its freed bytes would stay behind in the page's free space.)
    await share(alice, removed.decode() + STORY)
    await share(alice, own.decode() + STORY)
    posted = shares_in(sandbox)[0]
    form = await bob.click(posted, "Reply anonymously")
    await (await bob.submit_modal(form, **{"share:field": replied.decode() + " thinking of you"})).settled()
    reply = await sandbox.channel("circle-grief").threads[0].wait_for_message(replied.decode())
    assert_on_disk(path, {"the first share's marker": removed, "the second share's marker": own})
    # A reply's text is never stored (only its pseudonym and message id): it can't be found even now.
    assert_gone(path, {"the reply's marker": replied}, "ever")

    # A moderator removes the reply and the first share from the message menu.
    assert "Removed the anonymous reply" in (await fran.context_menu("Remove anonymous post", reply)).text
    assert "Removed the anonymous post" in (await fran.context_menu("Remove anonymous post", posted)).text
    assert_gone(path, {"the removed share's marker": removed}, "right after its removal")

    # The author deletes the second share from /share mine.
    listing = await alice.slash("share mine")
    await alice.click(listing, "Delete")
    await alice.click(listing, "Delete it")
    await sandbox.wait_for(lambda: "Deleted." in listing.message.text, "the deletion")
    assert_gone(path, {"the deleted share's marker": own}, "right after its deletion")

    # A check-in with a note, deleted with /checkin delete.
    await check_in_with_note(alice, noted.decode() + " slept badly again")
    note_enc = await stored(timed_bot, "SELECT note_enc FROM checkins")
    assert noted not in note_enc, "notes are encrypted at rest"
    assert_on_disk(path, {"the note's ciphertext": note_enc})
    asked = await alice.slash("checkin delete")
    gone = await alice.click(asked, "Delete check-in")
    assert "gone for good" in gone.message.text
    assert_gone(path, {"the deleted note's ciphertext": note_enc}, "right after its deletion")

    # A support conversation with a topic, ended by the member: the topic is dropped at the end.
    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    await on_call(lena)
    maya = sandbox.member("maya")
    await ask(maya, topic.decode() + " moving house")
    await accept(lena)
    await maya.wait_for_dm("has joined")
    topic_enc = await stored(timed_bot, "SELECT topic_enc FROM support_conversations")
    assert topic not in topic_enc, "topics are encrypted at rest"
    assert_on_disk(path, {"the topic's ciphertext": topic_enc})
    await (await maya.slash("support end", where="dm")).settled()
    row = await timed_bot.services.db.fetchone("SELECT status, topic_enc FROM support_conversations")
    assert row is not None and row["status"] == "closed" and row["topic_enc"] is None
    assert_gone(path, {"the topic's ciphertext": topic_enc}, "right after the conversation ended")

    secrets = {
        "the removed share's marker": removed,
        "the removed reply's marker": replied,
        "the deleted share's marker": own,
        "the deleted check-in note's marker": noted,
        "the deleted check-in note's ciphertext": note_enc,
        "the ended conversation topic's marker": topic,
        "the ended conversation topic's ciphertext": topic_enc,
    }
    assert_gone(path, secrets, "while the bot runs")
    await timed.stop()
    assert_gone(path, secrets, "after the bot closed the database")


async def test_privacy_delete_leaving_with_delete_and_the_retention_purge_leave_no_trace(
    sandbox: Sandbox, timed_bot: PeerCirclesBot, timed: BotHarness, clock: FakeClock
) -> None:
    path = timed.database_path
    unposted, noted = b"Marker-privacy-unposted-B6TN", b"Marker-privacy-note-H2QS"
    left_behind, expired = b"Marker-leave-unposted-R5GY", b"Marker-retention-expired-W7FM"

    ana = await make_circle(sandbox, retention_days=30)
    await ana.slash("circle edit", circle="Grief", posting_delay=600)  # shares wait, unpublished
    alice = await join(sandbox, "alice")
    bob = await join(sandbox, "bob")
    carol = await join(sandbox, "carol")

    # /privacy delete: an unpublished share is deleted outright, and so is a check-in with its note.
    await share(alice, unposted.decode() + STORY)
    await check_in_with_note(alice, noted.decode() + " for me only")
    note_enc = await stored(timed_bot, "SELECT note_enc FROM checkins")
    assert_on_disk(path, {"the unposted share's marker": unposted, "the note's ciphertext": note_enc})
    privacy = await alice.slash("privacy")
    await alice.click(privacy, "Delete my data")
    await alice.click(privacy, "Delete everything")
    await sandbox.wait_for(lambda: "erased" in privacy.message.text, "the deletion summary")
    assert_gone(path, {"the unposted share's marker": unposted, "the note's ciphertext": note_enc}, "right after")

    # Leaving a circle and choosing to delete my data there: an unpublished share goes.
    await share(bob, left_behind.decode() + STORY)
    assert_on_disk(path, {"the leaver's unposted share's marker": left_behind})
    left = await bob.slash("circle leave", circle="Grief")
    forgot = await bob.click(left, "Delete my data in this circle")
    assert "I deleted" in forgot.message.text
    assert_gone(path, {"the leaver's unposted share's marker": left_behind}, "right after")

    # The retention purge: a posted share's text is dropped once the circle's 30 days have passed.
    await ana.slash("circle edit", circle="Grief", posting_delay=0)
    await share(carol, expired.decode() + STORY)
    assert_on_disk(path, {"the old share's marker": expired})
    clock.advance(timedelta(days=31))
    await timed_bot.services.maintenance.run()  # what the daily job runs
    row = await timed_bot.services.db.fetchone("SELECT content FROM shares WHERE status = 'posted'")
    assert row is not None and row["content"] is None
    assert_gone(path, {"the old share's marker": expired}, "right after the purge")

    secrets = {
        "the marker of the share erased by /privacy": unposted,
        "the note erased by /privacy (marker)": noted,
        "the note erased by /privacy (ciphertext)": note_enc,
        "the marker of the share erased on leaving": left_behind,
        "the marker of the share past its retention": expired,
    }
    assert_gone(path, secrets, "while the bot runs")
    await timed.stop()
    assert_gone(path, secrets, "after the bot closed the database")
