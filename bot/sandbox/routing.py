"""The REST routes' table: each route a method and a path template as Discord documents it
(``/channels/{channel_id}/messages``), handled by a function of the state and the request. When
two templates match a path, the one with more literal text wins."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.models import Attachment
from bot.sandbox.state import SandboxState


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[Attachment]
    headers: dict[str, str]


# A route's handler: what it returns is the JSON answer (None: 204 No Content); a
# DiscordHTTPError it raises is Discord's error answer.
Handler = Callable[[SandboxState, Request], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler


class Routes:
    """A table of routes; ``@routes("GET", "/channels/{channel_id}")`` adds one."""

    def __init__(self, *tables: Routes) -> None:
        self.routes: list[Route] = [route for table in tables for route in table.routes]

    def __call__(self, method: str, template: str) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self.routes.append(Route(method, template, _route_regex(template), handler))
            return handler

        return decorator

    def match(self, method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None:
        best: tuple[int, str, Handler, dict[str, str]] | None = None
        for route in self.routes:
            if route.method != method:
                continue
            found = route.regex.match(path)
            if found:
                literal = len(re.sub(r"\{\w+\}", "", route.template))
                if best is None or literal > best[0]:
                    best = (literal, route.template, route.handler, found.groupdict())
        return (best[1], best[2], best[3]) if best else None


def _route_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
    return re.compile(f"^{pattern}$")
