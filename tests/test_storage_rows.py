"""Storage rows: one from_row for every dataclass, and whitelisted columns for every write built
from column names a caller passes (bot.storage.rows)."""

from __future__ import annotations

import json
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import to_iso, utc
from bot.crypto import Keyring
from bot.storage import checkins, circles, guilds, listeners, sessions, shares, support
from bot.storage.checkins import (
    Checkin,
    CheckinRepository,
    CheckinSettings,
    NoteCipher,
    Prompt,
    PulseEntry,
    Reminder,
    SupportRequest,
)
from bot.storage.circles import Circle, CircleRepository
from bot.storage.database import Database, Row
from bot.storage.guilds import GuildSettings, GuildSettingsRepository
from bot.storage.listeners import Assignment, Listener, ListenerRepository, OnCall, Slot, SupportSettings, Swap
from bot.storage.rows import Column, Computed, UnknownColumn, flag, from_row, insert_clause, optional, set_clause
from bot.storage.sessions import Presence, Rsvp, Series, SessionRepository, StoredOccurrence
from bot.storage.shares import Report, Share, ShareRepository
from bot.storage.support import Block, Conversation, Offer, OutboxRow, SupportRepository
from bot.timekeeping.recurrence import Change

NOW = utc(2026, 3, 16, 12)
SECRET = b"s" * 32
ring = Keyring(SECRET)
notes = NoteCipher(SECRET)

# -- the helper on its own --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Thing:
    id: int
    done: bool
    when: datetime | None
    label: str
    secret: str | None


async def test_from_row_reads_fields_by_name_converting_only_what_it_is_told(db: Database) -> None:
    row = await db.fetchone(
        "SELECT 7 AS id, 1 AS done, NULL AS when_, '2026-03-16T12:00:00.000000+00:00' AS at, 'x' AS label, "
        "'kept' AS secret_text, 'ignored' AS extra"
    )
    assert row is not None
    thing = from_row(
        Thing,
        row,
        done=flag,
        when=Column("at", optional(datetime.fromisoformat)),
        label=Computed(lambda r: f"{r['label']}#{r['id']}"),
        secret=Column("secret_text"),
    )
    assert thing == Thing(7, True, NOW, "x#7", "kept")
    assert type(thing.done) is bool


async def test_from_row_refuses_a_converter_for_a_field_that_does_not_exist(db: Database) -> None:
    row = await db.fetchone("SELECT 1 AS id")
    assert row is not None
    with pytest.raises(TypeError, match="no field"):
        from_row(Thing, row, dne=flag)


def test_optional_keeps_null_and_converts_everything_else() -> None:
    assert optional(int)(None) is None
    assert optional(int)("0") == 0
    assert optional(bool)(0) is False


def test_clauses_keep_the_callers_order_and_refuse_what_is_not_whitelisted() -> None:
    assert set_clause("t", ("a", "b"), {"b": 1, "a": 2}) == "b = ?, a = ?"
    assert insert_clause("t", ("a", "b"), {"b": 1, "a": 2}) == "(b, a) VALUES (?, ?)"
    assert set_clause("t", ("a",), {}) == ""
    with pytest.raises(UnknownColumn, match=r"in t: \['c', 'id'\]") as refused:
        set_clause("t", ("a", "b"), {"a": 1, "id": 2, "c": 3})
    assert isinstance(refused.value, ValueError)  # what the repositories raised before
    assert refused.value.names == ("c", "id")
    with pytest.raises(UnknownColumn):
        insert_clause("t", ("a",), {"a = 1; DROP TABLE t; --": 1})


# -- every dataclass round-trips through its own table -------------------------------------------
#
# An instance with any values its types allow is written to its real table (the inverse of the
# mapping: a bool as 0/1, a time as ISO text, tags as JSON, a note sealed with the row's id) and read
# back with its repository's from_row. CHECK and foreign-key constraints are switched off for this
# (values need only be of the right type); NOT NULL columns the dataclass doesn't carry get a filler.

SQLITE_INT = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    if get_origin(hint) in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        assert len(options) == 1, hint
        return st.none() | strategy_for(options[0])
    if get_origin(hint) is tuple:
        return st.lists(st.text(max_size=10), max_size=4).map(tuple)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(list(hint))
    simple: dict[Any, st.SearchStrategy[Any]] = {
        bool: st.booleans(),
        int: SQLITE_INT,
        str: st.text(max_size=20),
        bytes: st.binary(max_size=40),
        datetime: st.datetimes(timezones=st.just(UTC)),
        date: st.dates(),
    }
    return simple[hint]


def instances(cls: type[Any]) -> st.SearchStrategy[Any]:
    hints = get_type_hints(cls)
    return st.builds(cls, **{f.name: strategy_for(hints[f.name]) for f in fields(cls)})


def column_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, Enum):
        return value.value
    return value


@dataclass(frozen=True)
class Case:
    cls: type[Any]
    table: str
    read: Callable[[Row], Any]
    columns: Callable[[Any], dict[str, Any]] | None = None  # where the generic inverse isn't enough


def generic_columns(instance: Any) -> dict[str, Any]:
    return {f.name: column_value(getattr(instance, f.name)) for f in fields(instance)}


def checkin_columns(checkin: Checkin) -> dict[str, Any]:
    columns = generic_columns(checkin)
    note = columns.pop("note")
    columns["note_enc"] = notes.seal(checkin.id, note) if note is not None else None
    return columns


def pulse_columns(entry: PulseEntry) -> dict[str, Any]:
    columns = generic_columns(entry)
    columns["user_id"] = columns.pop("person")
    return columns


CASES = [
    Case(Circle, "circles", Circle.from_row),
    Case(GuildSettings, "guilds", GuildSettings.from_row),
    Case(Share, "shares", Share.from_row),
    Case(Report, "share_reports", Report.from_row),
    Case(Checkin, "checkins", lambda row: Checkin.from_row(row, notes), checkin_columns),
    Case(PulseEntry, "checkins", PulseEntry.from_row, pulse_columns),
    Case(Reminder, "checkin_reminders", Reminder.from_row),
    Case(SupportRequest, "checkin_support_requests", SupportRequest.from_row),
    Case(Prompt, "checkin_prompts", Prompt.from_row),
    Case(CheckinSettings, "checkin_settings", CheckinSettings.from_row),
    Case(Series, "session_series", Series.from_row),
    Case(StoredOccurrence, "session_occurrences", StoredOccurrence.from_row),
    Case(Rsvp, "session_rsvps", Rsvp.from_row),
    Case(Presence, "session_presence", Presence.from_row),
    Case(SupportSettings, "support_settings", SupportSettings.from_row),
    Case(Listener, "listeners", Listener.from_row),
    Case(Slot, "rota_slots", Slot.from_row),
    Case(Assignment, "rota_assignments", Assignment.from_row),
    Case(Swap, "rota_swaps", Swap.from_row),
    Case(OnCall, "listener_oncall", OnCall.from_row),
    Case(Conversation, "support_conversations", Conversation.from_row),
    Case(Offer, "support_offers", Offer.from_row),
    Case(OutboxRow, "support_outbox", OutboxRow.from_row),
    Case(Block, "support_blocks", Block.from_row),
]


def test_every_dataclass_in_storage_has_a_round_trip_case() -> None:
    modules = (checkins, circles, guilds, listeners, sessions, shares, support)
    mapped = {
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == module.__name__ and hasattr(value, "from_row")
    }
    assert mapped == {case.cls for case in CASES}


@pytest.fixture
def backend() -> str:
    """These round trips switch SQLite's checks off (PRAGMA ignore_check_constraints) to store any
    value a dataclass can hold; PostgreSQL can't, so they run on SQLite. The repositories' reads on
    PostgreSQL are covered by the service suites, which run on both."""
    return "sqlite"


async def filler_columns(db: Database, table: str, given: dict[str, Any]) -> dict[str, Any]:
    """A value for each NOT NULL column without a default that the instance doesn't set."""
    filler = {"INTEGER": 0, "TEXT": "", "BLOB": b""}
    info = await db.fetchall(f"PRAGMA table_info({table})")
    return {
        r["name"]: filler[r["type"]]
        for r in info
        if r["notnull"] and r["dflt_value"] is None and r["name"] not in given
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.cls.__name__)
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_from_row_round_trips_every_dataclass(db: Database, case: Case, data: st.DataObject) -> None:
    instance = data.draw(instances(case.cls))
    columns = (case.columns or generic_columns)(instance)
    columns |= await filler_columns(db, case.table, columns)
    await db.execute("PRAGMA foreign_keys = OFF")
    await db.execute("PRAGMA ignore_check_constraints = ON")
    try:
        await db.execute(
            f"INSERT INTO {case.table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            tuple(columns.values()),
        )
        row = await db.fetchone(f"SELECT * FROM {case.table}")
        assert row is not None
        read = case.read(row)
        assert read == instance
        # 1 == True and "weekly" == Rotation.WEEKLY: equal is not enough for a converted column.
        assert {f.name: type(getattr(read, f.name)) for f in fields(read)} == {
            f.name: type(getattr(instance, f.name)) for f in fields(instance)
        }
    finally:
        await db.execute(f"DELETE FROM {case.table}")


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    original=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    skip=st.booleans(),
    new_date=st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    new_time=st.none() | st.times().map(lambda t: time(t.hour, t.minute)),
    new_minutes=st.none() | st.integers(min_value=1, max_value=24 * 60),
)
async def test_an_exception_to_a_series_round_trips(
    db: Database, original: date, skip: bool, new_date: date | None, new_time: time | None, new_minutes: int | None
) -> None:
    await db.execute("PRAGMA foreign_keys = OFF")
    repo = SessionRepository(db, SECRET)
    duration = timedelta(minutes=new_minutes) if new_minutes else None
    change = Change(original, skip, new_date, new_time, duration)
    try:
        await repo.put_change(1, change)
        assert await repo.changes(1) == {original: change}
    finally:
        await db.execute("DELETE FROM session_exceptions")


# -- a write never takes a column its caller named unless the table's whitelist has it -----------


@dataclass
class Repos:
    shares: ShareRepository
    circles: CircleRepository
    guilds: GuildSettingsRepository
    sessions: SessionRepository
    listeners: ListenerRepository
    support: SupportRepository
    checkins: CheckinRepository


@pytest.fixture
def repos(db: Database) -> Repos:
    return Repos(
        ShareRepository(db, ring.member_hash),
        CircleRepository(db),
        GuildSettingsRepository(db),
        SessionRepository(db, SECRET),
        ListenerRepository(db),
        SupportRepository(db, ring.member_hash),
        CheckinRepository(db, notes),
    )


Write = Callable[[Repos], Awaitable[object]]
INJECTION = "status = 'posted', content"  # a column "name" that would rewrite the statement

REFUSED: dict[str, Write] = {
    "shares.insert: an id": lambda r: r.shares.insert({"id": 1, "guild_id": 1, "epoch": "e", "pseudonym": "p"}),
    "shares.insert: a counter": lambda r: r.shares.insert({"guild_id": 1, "support_count": 99}),
    "shares.update: the circle": lambda r: r.shares.update(1, circle_id=2),
    "shares.update: no such column": lambda r: r.shares.update(1, bogus=1),
    "shares.update: SQL as a name": lambda r: r.shares.update(1, **{INJECTION: "x"}),
    "shares.update_if: the pseudonym": lambda r: r.shares.update_if(1, "pending_review", pseudonym="p"),
    "shares.set_report: the reporter": lambda r: r.shares.set_report(1, reporter_user_hash=b"x"),
    "circles.insert: an id": lambda r: r.circles.insert({"id": 9, "guild_id": 1, "name": "x"}),
    "circles.update: the server": lambda r: r.circles.update(1, guild_id=2),
    "guilds.update: when it joined": lambda r: r.guilds.update(1, NOW, joined_at=to_iso(NOW)),
    "sessions.insert_series: an id": lambda r: r.sessions.insert_series({"id": 3, "guild_id": 1}),
    "sessions.update_series: the circle": lambda r: r.sessions.update_series(1, circle_id=2),
    "sessions.update_occurrence: the series": lambda r: r.sessions.update_occurrence(1, series_id=2),
    "sessions.set_status_if: the creation time": lambda r: r.sessions.set_status_if(
        1, ("scheduled",), "open", created_at=NOW
    ),
    "listeners.update_settings: its own time": lambda r: r.listeners.update_settings(1, NOW, updated_at="x"),
    "listeners.update_listener: the person": lambda r: r.listeners.update_listener(1, NOW, user_id=2),
    "listeners.add_slot: an id": lambda r: r.listeners.add_slot({"id": 1, "guild_id": 1}, NOW),
    "listeners.add_swap: no such column": lambda r: r.listeners.add_swap({"guild_id": 1, "bogus": 1}, NOW),
    "support.insert: an id": lambda r: r.support.insert({"id": 1, "guild_id": 1}),
    "support.update: the member's hash": lambda r: r.support.update(1, member_user_hash=b"x"),
    "checkins.update_checkin: the sealed note": lambda r: r.checkins.update_checkin(1, NOW, note_enc=b"x"),
}


@pytest.mark.parametrize("write", REFUSED.values(), ids=REFUSED.keys())
async def test_a_write_naming_a_column_outside_its_whitelist_is_refused_before_any_sql(
    db: Database, repos: Repos, write: Write
) -> None:
    before = await db.fetchone("SELECT total_changes() AS n")
    with pytest.raises(UnknownColumn):
        await write(repos)
    after = await db.fetchone("SELECT total_changes() AS n")
    assert before is not None and after is not None
    assert after["n"] == before["n"]


WHITELISTS = {
    "shares": (shares.SHARE_INSERTABLE, shares.SHARE_EDITABLE),
    "share_reports": (shares.REPORT_EDITABLE,),
    "circles": (circles.INSERTABLE, circles.EDITABLE),
    "guilds": (guilds.EDITABLE,),
    "session_series": (sessions.SERIES_INSERTABLE, sessions.SERIES_EDITABLE),
    "session_occurrences": (sessions.OCCURRENCE_EDITABLE,),
    "support_settings": (listeners.SETTINGS_EDITABLE,),
    "listeners": (listeners.LISTENER_EDITABLE,),
    "rota_slots": (listeners.SLOT_INSERTABLE,),
    "rota_swaps": (listeners.SWAP_INSERTABLE,),
    "support_conversations": (support.CONVERSATION_INSERTABLE, support.CONVERSATION_EDITABLE),
    "checkins": (checkins.CHECKIN_EDITABLE_COLUMNS,),
}


@pytest.mark.parametrize("table", WHITELISTS)
async def test_every_whitelisted_column_is_a_column_of_its_table(db: Database, table: str) -> None:
    columns = set((await db.tables())[table])
    for allowed in WHITELISTS[table]:
        assert set(allowed) <= columns, set(allowed) - columns
        assert "id" not in allowed


async def test_the_columns_callers_write_today_are_whitelisted(repos: Repos, db: Database) -> None:
    await repos.guilds.ensure(1, NOW)
    circle = await repos.circles.insert(
        {"guild_id": 1, "name": "Grief", "name_key": "grief", "ground_rules": "", "created_at": to_iso(NOW)}
    )
    share = await repos.shares.insert(
        {"guild_id": 1, "circle_id": circle.id, "epoch": "e", "pseudonym": "P", "status": "pending_review",
         "created_at": to_iso(NOW)}
    )  # fmt: skip
    posted = await repos.shares.update(
        share.id, status="posted", channel_id=5, message_id=6, thread_id=None, posted_at=to_iso(NOW),
        author_user_enc=None, review_message_id=7,
    )  # fmt: skip
    assert (posted.status, posted.channel_id, posted.message_id, posted.review_message_id) == ("posted", 5, 6, 7)
    gone = await repos.shares.update_if(share.id, "posted", status="deleted", content=None, author_user_hash=None)
    assert gone is not None and gone.status == "deleted"
    assert await repos.shares.update(share.id) == gone  # nothing to change: the share as it is
