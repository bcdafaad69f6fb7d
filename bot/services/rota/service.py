"""The one object the app, the cogs and the scheduler use for the rota: :class:`RotaService`.

It builds the parts on one :class:`~bot.services.rota.core.RotaDeps` and hands each call to the
part that owns it (the table in ``__init__``); what all parts share (a listener, the window, hours)
it has itself, from :class:`~bot.services.rota.core.RotaCore`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.clock import Clock
from bot.scheduler import Scheduler
from bot.services.access import AccessService
from bot.services.rota.board import Board
from bot.services.rota.core import RotaCore, RotaDeps
from bot.services.rota.jobs import Jobs
from bot.services.rota.listeners import Listeners
from bot.services.rota.port import RotaPort
from bot.services.rota.slots import Slots
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.listeners import ListenerRepository


class RotaService(RotaCore):
    def __init__(
        self,
        repo: ListenerRepository,
        guild_settings: GuildSettingsRepository,
        access: AccessService,
        scheduler: Scheduler,
        clock: Clock,
        *,
        active_counts: Callable[[int], Awaitable[dict[int, int]]] | None = None,
    ) -> None:
        deps = RotaDeps(repo, guild_settings, access, scheduler, clock, active_counts)
        super().__init__(deps)
        # The parts (private: "board" and "slots" are also the names of calls below).
        self._jobs = Jobs(deps)
        self._board = Board(deps)
        self._slots = Slots(deps, self._jobs)
        self._listeners = Listeners(deps, self._jobs, self._slots)

        # Listeners: joining, approval, leaving, availability and limits; support settings.
        self.update_settings = self._listeners.update_settings
        self.check_can_join = self._listeners.check_can_join
        self.join = self._listeners.join
        self.require_reviewer = self._listeners.require_reviewer
        self.review = self._listeners.review
        self.leave = self._listeners.leave
        self.set_available = self._listeners.set_available
        self.set_unavailable = self._listeners.set_unavailable
        self.toggle_break = self._listeners.toggle_break
        self.set_limits = self._listeners.set_limits
        self.start_cooldown = self._listeners.start_cooldown
        # Slots, and shifts taken, dropped and swapped.
        self.add_slot = self._slots.add_slot
        self.add_slots = self._slots.add_slots
        self.slots = self._slots.slots
        self.remove_slot = self._slots.remove_slot
        self.take = self._slots.take
        self.drop = self._slots.drop
        self.request_swap = self._slots.request_swap
        self.answer_swap = self._slots.answer_swap
        # What people see.
        self.on_shift = self._board.on_shift
        self.next_covered_shift = self._board.next_covered_shift
        self.board = self._board.board
        self.set_board = self._board.set_board
        self.remember_board = self._board.remember_board
        self.open_for = self._board.open_for
        self.mine_upcoming = self._board.mine_upcoming
        self.mine = self._board.mine
        self.report = self._board.report
        # Jobs.
        self.ensure_guild_jobs = self._jobs.ensure_guild_jobs
        self.ensure_scheduled = self._jobs.ensure_scheduled
        self.handlers = self._jobs.handlers

    def attach(self, port: RotaPort) -> None:
        self.deps.port = port
