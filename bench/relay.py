"""Scenario 3: the support relay under Discord's DM rate limits. Many support conversations, each
person typing as fast as the gateway takes their messages, with Discord's DM limit (5 messages per
5 s per channel): every message must arrive exactly once and in order. Reported as the time the
limit allows (per DM channel, from when each message existed) over the time it took.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import LABEL, BenchError, Row, start_bot
from bench.serve import BotProcess
from bot.sandbox.actors import Person, Sandbox

DM_ROUTE = "POST /channels/{channel_id}/messages"
DM_LIMIT = (5, 5.0)  # Discord: 5 messages per 5 s per channel


@dataclass
class RelayConfig:
    conversations: int
    messages: int  # each way


async def _relay_setup(sandbox: Sandbox, bot: BotProcess, cfg: RelayConfig) -> list[tuple[Person, Person]]:
    ana = sandbox.admin("ana")
    await ana.slash("setup", moderation_channel=sandbox.channel("moderation"), timezone="Europe/London")
    channel = await sandbox.add_channel("listeners")
    role = await sandbox.add_role("Listeners")
    shown = await ana.slash("rota settings", listener_role=role, listeners_channel=channel, auto_approve=True)
    if "Listener and support settings" not in shown.text:
        raise BenchError(f"rota settings failed: {shown.text[:200]!r}")
    pairs: list[tuple[Person, Person]] = []
    for i in range(cfg.conversations):
        # One listener comes on call, then one member asks: each request is offered to exactly
        # one free listener (everyone earlier is at their one-conversation limit).
        listener = sandbox.member(f"listener{i}")
        card = await listener.slash("listener join")
        await (await listener.click(card, "I agree")).settled()
        await (await listener.slash("listener available", hours=4)).settled()
        member = sandbox.member(f"member{i}")
        opened = await member.slash("support ask")
        if opened.kind != "modal":
            raise BenchError(f"/support ask did not open the form: {opened.text[:200]!r}")
        values: dict[str, Any] = {"support:topic": "", "support:appear": ["anonymous"]}
        await (await member.submit_modal(opened, **values)).settled()
        offer = await listener.wait_for_dm("Someone")
        await (await listener.click(offer, "Accept")).settled()
        await member.wait_for_dm("has joined")
        pairs.append((member, listener))
    active = await bot.database.count("SELECT COUNT(*) FROM support_conversations WHERE status = 'active'")
    if active != cfg.conversations:
        raise BenchError(f"expected {cfg.conversations} active conversations, found {active}")
    return pairs


def relayed_bodies(sandbox: Sandbox, person: Person) -> list[tuple[str, int]]:
    """(text, message id) of each relayed message this person received, in order."""
    channel = sandbox.server.dm_channel(person.user)
    bot_id = sandbox.server.bot_user.id
    found = []
    for message in sandbox.server.channel_messages(channel.id):
        if message.author.id != bot_id:
            continue
        label = LABEL.match(message.text)
        if label:
            found.append((message.text[label.end() :], message.id))
    return found


def allowed_finish(available: list[float], limit: int, window: float, bucket: tuple[int, float] | None) -> float:
    """The earliest time the last of these messages can go to one channel under a fixed-window
    limit (as the sandbox counts it: a window opens at the first request after the last one
    closed). ``available``: when each message existed (in order); ``bucket``: (remaining,
    reset_at) of the channel's window open when the run began, if any."""
    remaining, reset_at = bucket if bucket is not None else (0, float("-inf"))
    last = float("-inf")
    for ready in available:
        at = max(ready, last)
        if at >= reset_at:
            remaining, reset_at = limit, at + window
        elif remaining <= 0:
            at = reset_at
            remaining, reset_at = limit, at + window
        remaining -= 1
        last = at
    return last


async def scenario_relay(quick: bool, workdir: Path) -> list[Row]:
    cfg = RelayConfig(conversations=10, messages=8) if quick else RelayConfig(200, 20)
    sandbox = await Sandbox.create(spec_path=None)  # the default REST limits, not raised
    server = sandbox.server
    server.set_rate_limit(DM_ROUTE, *DM_LIMIT)  # from the start: a bucket keeps its limit until it resets
    bot = None
    try:
        bot = await start_bot("bot", sandbox, workdir, "relay")
        pairs = await _relay_setup(sandbox, bot, cfg)
        first_request = len(server.requests)
        # Who receives what, with when each message existed (the sender's DM reached the gateway).
        expected: dict[int, list[str]] = {p.id: [] for pair in pairs for p in pair}
        available: dict[int, list[float]] = {p.id: [] for pair in pairs for p in pair}

        async def say(sender: Person, receiver: Person, text: str) -> None:
            await sender.send_dm(text)
            expected[receiver.id].append(text)
            available[receiver.id].append(time.monotonic())

        async def talk(member: Person, listener: Person, index: int) -> None:
            # Both people type their messages as fast as the gateway takes them (no waiting for
            # the bot): the relay must keep each person's order and use the DM limit fully.
            for k in range(cfg.messages):
                await say(member, listener, f"member {index} message {k}")
                await say(listener, member, f"listener {index} message {k}")

        started = time.monotonic()
        # Each channel's limit window still open from the setup messages, as the sandbox has it.
        open_windows: dict[int, tuple[int, float]] = {}
        for pid in expected:
            person = sandbox.person(pid)
            assert person is not None
            key = f"{DM_ROUTE}:{server.dm_channel(person.user).id}"
            found = server._buckets.get(key)
            if found is not None:
                open_windows[pid] = (found.remaining, found.reset_at)
        await asyncio.gather(*(talk(m, lst, i) for i, (m, lst) in enumerate(pairs)))
        typed = time.monotonic() - started
        total = sum(len(v) for v in expected.values())

        people = {pid: sandbox.person(pid) for pid in expected}

        def delivered() -> bool:
            return sum(len(relayed_bodies(sandbox, p)) for p in people.values() if p is not None) >= total

        try:
            await sandbox.wait_for(delivered, "every relayed message", timeout=300)
        except Exception as exc:
            raise BenchError(f"relay: not every message arrived within 300 s: {exc}") from exc
        last_sent = max(r.at for r in server.requests[first_request:] if r.route == DM_ROUTE and r.status < 300)
        elapsed = last_sent - started
        for pid, want in expected.items():
            person = people[pid]
            assert person is not None
            got = [text for text, _ in relayed_bodies(sandbox, person)]
            if got != want:
                raise BenchError(
                    f"relay: person {pid} received {len(got)} messages, not exactly the {len(want)} sent, in order"
                )
        limit, window = DM_LIMIT
        ideal = max(allowed_finish(available[pid], limit, window, open_windows.get(pid)) for pid in expected) - started
        fraction = ideal / elapsed if elapsed > 0 else 1.0
        throttled = sum(1 for r in server.requests[first_request:] if r.route == DM_ROUTE and r.status == 429)
        others: dict[str, int] = {}
        for request in server.requests[first_request:]:
            if request.status == 429 and request.route != DM_ROUTE:
                others[request.route] = others.get(request.route, 0) + 1
        other_429 = ", ".join(f"{route}: {n}" for route, n in sorted(others.items(), key=lambda kv: -kv[1])[:3])
        return [
            Row(
                "3 relay",
                f"{cfg.conversations} conversations × {cfg.messages} messages each way: allowed / actual time",
                "fraction",
                fraction,
                target="≥ 0.9",
                met=fraction >= 0.9,
                note=(
                    f"{total:,} relayed exactly once in order in {elapsed:.1f} s; the DM limit (5 per 5 s per "
                    f"channel) allows {ideal:.1f} s from when each message was typed (typing took {typed:.1f} s); "
                    f"429s: DM sends {throttled}" + (f", {other_429}" if other_429 else "")
                ),
            ),
            Row("3 relay", "relayed messages per second", "msg/s", total / elapsed),
        ]
    finally:
        if bot is not None:
            await bot.stop()
        await sandbox.stop()
