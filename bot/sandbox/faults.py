"""Fault injection on REST routes: a 429, a 5xx (before or after the request takes effect), a
lost answer (``drop``), or an answer held in flight (``hold``). See :meth:`SandboxServer.inject`."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

FAULT_KINDS = ("429", "5xx", "drop", "hold")


@dataclass
class Fault:
    """An injected failure (see :meth:`SandboxServer.inject`).

    ``"drop"``: the request takes effect, then the connection closes without an answer (a lost
    answer). ``"hold"``: the request takes effect and its answer waits until :meth:`release`
    (``reached`` is set meanwhile), as when the bot stops while the answer is on its way.
    """

    kind: str  # "429", "5xx", "drop" or "hold"
    route: str | None
    remaining: int
    status: int = 500
    retry_after: float = 0.05
    probability: float = 1.0
    hits: int = 0
    after_success: bool = False  # 5xx only: the request takes effect, then the response is an error
    reached: asyncio.Event = field(default_factory=asyncio.Event)  # "hold": a request is being held
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def takes_effect(self) -> bool:
        """The request is carried out before the fault shows."""
        return self.after_success or self.kind in ("drop", "hold")

    def release(self) -> None:
        """Let held answers go (to nobody, if the bot stopped meanwhile)."""
        self._released.set()

    async def held(self) -> None:
        """Wait until :meth:`release`."""
        await self._released.wait()


def take_fault(faults: list[Fault], route: str) -> Fault | None:
    """The first fault still due for ``route`` (by its probability), counted as used."""
    for fault in faults:
        if fault.remaining > 0 and (fault.route is None or fault.route == route):
            if fault.probability < 1.0 and secrets.randbelow(10_000) >= fault.probability * 10_000:
                continue
            fault.remaining -= 1
            fault.hits += 1
            return fault
    return None
