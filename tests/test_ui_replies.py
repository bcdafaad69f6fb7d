"""Private cards that need no listening view are not kept by discord.py (no 15-minute timer per
card), and their buttons keep working: they are DynamicItems, dispatched by custom_id."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import discord

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Sandbox
from bot.storage.circles import Circle, Rotation
from bot.ui.controls import Controls, button
from bot.ui.replies import needs_listening, text_card
from cogs.checkins.views import MoodButton, card, mood_card
from tests.test_e2e_checkins import grief, member


async def _nothing(interaction: discord.Interaction[Any]) -> None:
    return None


async def test_only_views_with_their_own_callbacks_need_listening() -> None:
    assert not needs_listening(text_card("Just words"))
    assert not needs_listening(card("Persistent buttons only", buttons=[MoodButton(1, 3)]))
    assert needs_listening(
        Controls(
            1, discord.ui.TextDisplay("A preview"), discord.ui.ActionRow(button("Post", _nothing)), card="share:post"
        )
    )


async def test_the_plain_mood_card_is_built_once_per_circle_name_and_never_kept() -> None:
    grief = Circle(
        1, 10, "Grief", "grief", "", 5, True, 6, None, "", False, True, Rotation.DAILY, False, 90, "active", "", None
    )
    first = mood_card(grief)
    assert first.is_finished(), "stopped: discord.py neither keeps nor changes it, so it can be shared"
    assert mood_card(grief) is first
    renamed = mood_card(replace(grief, name="Loss"))
    assert renamed is not first and "**Loss**" in str(renamed.to_components())
    noticed = mood_card(grief, notice="Your reminders are paused.")
    assert noticed is not first and "paused" in str(noticed.to_components())
    assert "paused" not in str(mood_card(grief).to_components())


def check_in_views_with_timers() -> list[Any]:
    """Views discord.py keeps a timeout task for, that hold check-in buttons."""
    found = []
    for task in asyncio.all_tasks():
        coro: Any = task.get_coro()
        if "__timeout_task_impl" not in getattr(coro, "__qualname__", ""):
            continue
        view = coro.cr_frame.f_locals.get("self") if coro.cr_frame else None
        ids = [str(getattr(item, "custom_id", "")) for item in view.walk_children()] if view else []
        if any(i.startswith("checkin:") for i in ids):
            found.append(view)
    return found


async def test_check_in_cards_are_not_kept_and_still_work(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    await grief(sandbox)
    maya = member(sandbox, "maya")
    store: Any = bot._connection._view_store
    opened = await maya.slash("checkin now", where="circle-grief")
    assert "How are you right now?" in opened.text
    assert check_in_views_with_timers() == [], "no 15-minute timer for a card whose buttons are persistent"
    assert opened.message.id not in store._views and opened.message.id not in store._synced_message_views
    tapped = await maya.click(opened, "4 · Good")
    assert tapped.kind == "update" and "Checked in" in opened.message.text
    shared = await maya.click(opened, "Share mood with circle pulse")
    assert shared.kind == "update" and "Shared with the circle's pulse" in opened.message.text
    assert check_in_views_with_timers() == []
