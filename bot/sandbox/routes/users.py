"""Users and DMs: ``/users/@me``, ``/users/{user_id}``, and opening a DM channel."""

from __future__ import annotations

from typing import Any

from bot.sandbox.errors import unknown
from bot.sandbox.routing import Request, Routes
from bot.sandbox.state import SandboxState

routes = Routes()


@routes("GET", "/users/@me")
async def me(state: SandboxState, req: Request) -> Any:
    return state.bot_user.to_dict() | {"verified": True, "mfa_enabled": False}


@routes("GET", "/users/{user_id}")
async def get_user(state: SandboxState, req: Request) -> Any:
    user = state.users.get(int(req.params["user_id"]))
    if user is None:
        raise unknown("User", 10013)
    return user.to_dict()


@routes("POST", "/users/@me/channels")
async def open_dm(state: SandboxState, req: Request) -> Any:
    user = state.users.get(int((req.json or {}).get("recipient_id", 0)))
    if user is None:
        raise unknown("User", 10013)
    return state.dm_channel(user).to_dict()
