"""Every press and every form the bot receives gets an answer, whatever the state of its card.

discord.py routes a component interaction in ``ConnectionState.parse_interaction_create``: it calls
``ViewStore.dispatch_view`` (synchronously: DynamicItem templates first, then the live view keyed
by message id and custom_id), or ``dispatch_modal`` for a form, and each claim is started as a task
through ``ViewStore.add_task``. Whatever no live view, form or DynamicItem claims is dropped
silently, and Discord shows the person "This interaction failed".

:class:`CardStore` replaces the ViewStore and decides in that same synchronous step, before any
task runs, so a press is claimed by exactly one party and never answered twice:

- a live view or form claims it as before, unless the bot's clock says its timeout has passed
  (then it is stopped, as discord.py's own timer would) or the card was redrawn and no longer shows
  the control that was pressed (a tap on a card Discord hadn't redrawn yet);
- a DynamicItem claims it as before, one press per person and control at a time (a double click is
  told "I'm already on it", unless the item class says ``idempotent = True``); if it ends without
  answering (its control is no longer on the message), the same fallback answers;
- anything else goes to :class:`ExpiredCards`, which answers privately with the calm line for the
  custom_id's card ("This card has expired. Run /privacy to open it again."), or, for the few
  presses registered as safe to do anyway (an export, an idempotent check-in tap), does the job.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
from discord.state import ConnectionState
from discord.ui.view import BaseView, LayoutView, View, ViewStore

from bot.i18n import Msg, Speaker
from bot.ui.cards import ALREADY, CARDS, card_of, expired_message, say_privately
from bot.ui.errors import handle_interaction_error
from bot.ui.language import reader

log = logging.getLogger(__name__)

AnywayHandler = Callable[[discord.Interaction[Any], re.Match[str]], Awaitable[None]]
REMEMBERED = 1024  # expired presses remembered, so doing a job anyway happens once per control


class ExpiredCards:
    """Answers presses and forms that no live card claims (see the module docstring)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        # The server's language, for the labels of buttons on its public posts (set at wiring).
        self.server_speaker: Callable[[int], Awaitable[Speaker]] | None = None
        self._anyway: list[tuple[re.Pattern[str], AnywayHandler]] = []
        self._handled: OrderedDict[tuple[int | None, str], bool] = OrderedDict()  # -> finished

    def do_anyway(self, template: str | re.Pattern[str], handler: AnywayHandler) -> None:
        """For a custom_id matching ``template`` (fully), run ``handler`` instead of only saying the
        card expired. Only for work that is safe whatever the card's state: the person's own data,
        an idempotent action. It runs once per control (a second press is told it's done)."""
        self._anyway.append((re.compile(template), handler))

    async def answer(self, interaction: discord.Interaction[Any]) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        form = interaction.type is discord.InteractionType.modal_submit
        log.info("expired %s pressed card=%s", "form" if form else "card", card_of(custom_id) or "unknown")
        if not form:
            for pattern, handler in self._anyway:
                match = pattern.fullmatch(custom_id)
                if match is not None:
                    await self._do_anyway(interaction, custom_id, match, handler)
                    return
        await say_privately(interaction, await self._expired(interaction, custom_id, form=form))

    async def _expired(self, interaction: discord.Interaction[Any], custom_id: str, *, form: bool = False) -> Msg:
        name = card_of(custom_id)
        labels = reader(interaction)  # a DM's buttons read as the presser does
        if name is not None and CARDS[name].buttons and interaction.guild_id and self.server_speaker is not None:
            labels = await self.server_speaker(interaction.guild_id)  # a post everyone sees: the server's
        return expired_message(custom_id, form=form, labels=labels)

    async def _do_anyway(
        self, interaction: discord.Interaction[Any], custom_id: str, match: re.Match[str], handler: AnywayHandler
    ) -> None:
        key = (interaction.message.id if interaction.message else None, custom_id)
        finished = self._handled.get(key)
        if finished is not None:
            await say_privately(interaction, await self._expired(interaction, custom_id) if finished else ALREADY)
            return
        self._handled[key] = False
        while len(self._handled) > REMEMBERED:
            self._handled.popitem(last=False)
        try:
            await handler(interaction, match)
        except Exception as error:
            self._handled.pop(key, None)  # it didn't happen: a later press may try again
            await handle_interaction_error(interaction, error)
            return
        self._handled[key] = True


def _shown_custom_ids(message: discord.Message | None) -> set[str] | None:
    """The custom_ids on the message as Discord has it now (sent with the interaction), parsed the
    way discord.py parses it for DynamicItems; ``None`` when there's no message to judge by."""
    if message is None:
        return None
    view_cls = LayoutView if message.flags.components_v2 else View
    try:
        shown = view_cls.from_message(message, timeout=None)
    except Exception:  # a component this discord.py doesn't know: don't judge by it
        return None
    return {cid for item in shown.walk_children() if isinstance(cid := getattr(item, "custom_id", None), str)}


def _own_custom_ids(view: BaseView) -> set[str]:
    return {cid for item in view.walk_children() if isinstance(cid := getattr(item, "custom_id", None), str)}


class CardStore(ViewStore):
    """discord.py's ViewStore, deciding for every interaction who answers it (see the module docstring)."""

    def __init__(self, state: ConnectionState[Any], expired: ExpiredCards) -> None:
        super().__init__(state)
        self.expired = expired
        # The bot's clock decides timeouts, so tests can move time on instead of waiting.
        self._deadlines: weakref.WeakKeyDictionary[BaseView, datetime] = weakref.WeakKeyDictionary()
        self._claimed = False
        self._pressing: set[tuple[int | None, str, int]] = set()  # persistent presses being handled

    # -- what is live --------------------------------------------------------------------

    def add_view(self, view: BaseView, message_id: int | None = None) -> None:
        if view.timeout:
            self._deadlines[view] = self.expired.now() + timedelta(seconds=view.timeout)
        if message_id is not None and not view.__discord_ui_modal__:
            # A new card on a message supersedes the one it replaces there.
            for item in list(self._views.get(message_id, {}).values()):
                old = item.view
                if old is not None and old is not view and not old.is_finished() and not old.is_persistent():
                    old.stop()
        super().add_view(view, message_id)

    def _timed_out(self, view: BaseView) -> bool:
        deadline = self._deadlines.get(view)
        return deadline is not None and self.expired.now() >= deadline

    def _touch(self, view: BaseView) -> None:
        if view.timeout:  # like discord.py, every press a view handles restarts its timeout
            self._deadlines[view] = self.expired.now() + timedelta(seconds=view.timeout)

    def _live_view(self, component_type: int, custom_id: str, interaction: discord.Interaction[Any]) -> BaseView | None:
        """The view discord.py would dispatch this press to (the same lookup)."""
        key = (component_type, custom_id)
        item = None
        if interaction.message is not None:
            item = self._views.get(interaction.message.id, {}).get(key)
        if item is None:
            item = self._views.get(None, {}).get(key)
        view = item.view if item is not None else None
        return view if view is not None and not view.is_finished() else None

    # -- dispatch (synchronous, in parse_interaction_create) ---------------------------

    def add_task(self, task: asyncio.Task[None]) -> None:
        self._claimed = True
        super().add_task(task)

    def _fallback(self, interaction: discord.Interaction[Any]) -> None:
        task = asyncio.create_task(self.expired.answer(interaction), name=f"peer-circles-expired-{interaction.id}")
        super().add_task(task)

    def dispatch_view(self, component_type: int, custom_id: str, interaction: discord.Interaction[Any]) -> None:
        if not any(pattern.fullmatch(custom_id) for pattern in self._dynamic_items):
            view = self._live_view(component_type, custom_id, interaction)
            if view is not None:
                shown = _shown_custom_ids(interaction.message)
                if self._timed_out(view):
                    view.stop()
                elif shown is not None and custom_id not in shown:
                    if not shown & _own_custom_ids(view):
                        view.stop()  # the whole card was replaced on the message
                    self._fallback(interaction)
                    return
                else:
                    self._touch(view)
        self._claimed = False
        super().dispatch_view(component_type, custom_id, interaction)
        if not self._claimed:
            self._fallback(interaction)

    async def schedule_dynamic_item_call(
        self,
        component_type: int,
        factory: type[discord.ui.DynamicItem[discord.ui.Item[Any]]],
        interaction: discord.Interaction[Any],
        custom_id: str,
        match: re.Match[str],
    ) -> None:
        key = (interaction.message.id if interaction.message else None, custom_id, interaction.user.id)
        single = not getattr(factory, "idempotent", False)
        if single and key in self._pressing:  # a double click: the first press is being handled
            await say_privately(interaction, ALREADY)
            return
        if single:
            self._pressing.add(key)
        try:
            await super().schedule_dynamic_item_call(component_type, factory, interaction, custom_id, match)
        finally:
            self._pressing.discard(key)
        # discord.py drops the press silently when the control is no longer on the message (the card
        # was redrawn) or the item couldn't be built: answer it.
        if not interaction.response.is_done():
            await self.expired.answer(interaction)

    def dispatch_modal(
        self,
        custom_id: str,
        interaction: discord.Interaction[Any],
        components: list[Any],
        resolved: Any,
    ) -> None:
        form = self._modals.get(custom_id)
        if form is None or form.is_finished():
            self._fallback(interaction)
            return
        if self._timed_out(form):
            form.stop()
            self._fallback(interaction)
            return
        self._touch(form)
        super().dispatch_modal(custom_id, interaction, components, resolved)


class CardState(ConnectionState[Any]):
    """The client's connection state, with :class:`CardStore` as its view store."""

    def __init__(self, *, expired: ExpiredCards, **options: Any) -> None:
        self.expired_cards = expired  # before super().__init__, which calls clear()
        super().__init__(**options)

    def clear(self, *, views: bool = True) -> None:
        super().clear(views=views)
        if views:
            self._view_store = CardStore(self, self.expired_cards)


def system_now() -> datetime:
    return datetime.now(UTC)
