"""How a persistent button finds the code that handles it: one way, for every feature.

A feature's ``views.py`` declares the handlers its buttons and forms call as a Protocol, and a
:class:`Route` named after it::

    class ShareHandlers(Protocol):
        async def on_share_button(self, interaction: Interaction, action: str, public_id: str) -> None: ...

    SHARES: Route[ShareHandlers] = Route("shares")

Its cog implements the Protocol; ``bot/client.py``'s ``setup_hook`` (the one place where things
are wired) registers the cog under the route: ``client.routes.provide(SHARES, cog)``. A button's
callback is then one line, and every error goes through the one guarded path
(:func:`bot.ui.errors.handle_interaction_error`: a calm reply with a reference code)::

    await routed(interaction, SHARES, lambda h: h.on_share_button(interaction, self.action, self.public_id))

So no ``views.py`` imports its ``cog.py``, and nothing looks a cog up by a hand-typed name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar, cast

import discord

from bot.ui.errors import handle_interaction_error

__all__ = ["Route", "Routes", "routed"]

H = TypeVar("H")


class Route(Generic[H]):
    """A typed key for one feature's handlers (``Route[ShareHandlers]("shares")``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Route({self.name!r})"


class Routes:
    """The handlers each route leads to, filled in once in ``setup_hook``."""

    def __init__(self) -> None:
        self._handlers: dict[Route[Any], object] = {}

    def provide(self, route: Route[H], handlers: H) -> None:
        if route in self._handlers:
            raise RuntimeError(f"{route} is wired twice")
        self._handlers[route] = handlers

    def of(self, route: Route[H]) -> H:
        try:
            return cast(H, self._handlers[route])
        except KeyError:
            raise LookupError(f"nothing handles {route}: provide it in setup_hook") from None

    def __contains__(self, route: Route[Any]) -> bool:
        return route in self._handlers


class HasRoutes(Protocol):
    routes: Routes


async def routed(
    interaction: discord.Interaction[Any], route: Route[H], call: Callable[[H], Awaitable[object]]
) -> None:
    """Run ``call`` with the handlers ``route`` leads to; any error is answered through the one path."""
    try:
        handlers = cast(HasRoutes, interaction.client).routes.of(route)
        await call(handlers)
    except Exception as error:
        await handle_interaction_error(interaction, error)
