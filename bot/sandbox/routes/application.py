"""The bot's application: what discord.py asks for at login (the application, where the gateway
is) and the application commands, global and per guild."""

from __future__ import annotations

from typing import Any

from bot.sandbox.errors import DiscordHTTPError
from bot.sandbox.routing import Request, Routes
from bot.sandbox.state import SandboxState

routes = Routes()


@routes("GET", "/oauth2/applications/@me")
async def app_info(state: SandboxState, req: Request) -> Any:
    return {
        "id": str(state.application_id),
        "name": "peer-circles (sandbox)",
        "icon": None,
        "description": "A peer support bot running against the local sandbox.",
        "rpc_origins": [],
        "bot_public": False,
        "bot_require_code_grant": False,
        "bot": state.bot_user.to_dict(),
        "owner": next(iter(state.users.values())).to_dict(),
        "team": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": len(state.guilds),
    }


@routes("GET", "/gateway")
async def gateway(state: SandboxState, req: Request) -> Any:
    return {"url": state.gateway_url}


@routes("GET", "/gateway/bot")
async def gateway_bot(state: SandboxState, req: Request) -> Any:
    return {
        "url": state.gateway_url,
        "shards": 1,
        "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
    }


# -- application commands -------------------------------------------------------------


@routes("GET", "/applications/{application_id}/commands")
async def list_global(state: SandboxState, req: Request) -> Any:
    return list(state.commands[None].values())


@routes("PUT", "/applications/{application_id}/commands")
async def sync_global(state: SandboxState, req: Request) -> Any:
    return _store_commands(state, None, req.json)


@routes("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
async def list_guild(state: SandboxState, req: Request) -> Any:
    return list(state.commands.get(int(req.params["guild_id"]), {}).values())


@routes("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
async def sync_guild(state: SandboxState, req: Request) -> Any:
    state.guild(req.params["guild_id"])
    return _store_commands(state, int(req.params["guild_id"]), req.json)


def _store_commands(state: SandboxState, scope: int | None, payload: Any) -> list[dict[str, Any]]:
    stored: dict[str, dict[str, Any]] = {}
    previous = state.commands.get(scope, {})
    for cmd in payload or []:
        key = f"{cmd.get('type', 1)}:{cmd['name']}"
        if key in stored:
            raise DiscordHTTPError(400, 50035, f"Duplicate command name {cmd['name']}")
        old = previous.get(key)
        full = dict(cmd)
        full.setdefault("type", 1)
        full.setdefault("description", "")  # Discord answers "" for context menu commands
        full.update(
            {
                "id": old["id"] if old else str(state.ids.next()),
                "application_id": str(state.application_id),
                "version": str(state.ids.next()),
            }
        )
        if scope is not None:
            full["guild_id"] = str(scope)
        stored[key] = full
    state.commands[scope] = stored
    state.command_syncs.append((scope, len(stored)))
    return list(stored.values())
