"""The bot's application: what discord.py asks for at login (the application, where the gateway
is) and the application commands, global and per guild."""

from __future__ import annotations

import re
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


SESSION_STARTS_PER_DAY = 1000  # Discord's usual session_start_limit.total


@routes("GET", "/gateway/bot")
async def gateway_bot(state: SandboxState, req: Request) -> Any:
    """Where the gateway is and Discord's recommended shard count (the sandbox's ``shard_count``)."""
    used = state.gateway.identify_count  # every IDENTIFY starts a session; the sandbox's day never ends
    return {
        "url": state.gateway_url,
        "shards": state.shard_count,
        "session_start_limit": {
            "total": SESSION_STARTS_PER_DAY,
            "remaining": max(0, SESSION_STARTS_PER_DAY - used),
            "reset_after": 24 * 60 * 60 * 1000,
            "max_concurrency": 1,
        },
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


# Discord's locales (https://discord.com/developers/docs/reference#locales): a localisation
# dictionary may only use these keys.
LOCALES = frozenset(
    [
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    ]
)
# A chat-input command's, option's and subcommand's name: 1-32 letters, digits, - or _, lowercase
# where the script has case (Discord's rule; \w stands in for \p{L}\p{N}).
CHAT_NAME = re.compile(r"^[-_\w]{1,32}$")


def _invalid(where: str, why: str) -> DiscordHTTPError:
    return DiscordHTTPError(
        400, 50035, "Invalid Form Body", {where: {"_errors": [{"code": "BASE_TYPE_BAD", "message": why}]}}
    )


def _check_localizations(item: dict[str, Any], where: str, *, chat_name: bool) -> None:
    """Discord's rules for name_localizations / description_localizations, which the OpenAPI
    description can't express: locale keys from Discord's list, names shaped like names."""
    for key in ("name_localizations", "description_localizations"):
        for locale, text in (item.get(key) or {}).items():
            if locale not in LOCALES:
                raise _invalid(f"{where}.{key}.{locale}", f"{locale!r} is not a Discord locale")
            if not isinstance(text, str) or not text:
                raise _invalid(f"{where}.{key}.{locale}", "must be a non-empty string")
            if key == "name_localizations":
                if len(text) > 32:
                    raise _invalid(f"{where}.{key}.{locale}", "names are at most 32 characters")
                if chat_name and (not CHAT_NAME.match(text) or text != text.lower()):
                    raise _invalid(f"{where}.{key}.{locale}", f"{text!r} is not a valid command name")
            elif len(text) > 100:
                raise _invalid(f"{where}.{key}.{locale}", "descriptions are at most 100 characters")
    for index, option in enumerate(item.get("options") or []):
        _check_localizations(option, f"{where}.options.{index}", chat_name=True)
    for index, choice in enumerate(item.get("choices") or []):
        for locale, text in (choice.get("name_localizations") or {}).items():
            if locale not in LOCALES:
                raise _invalid(f"{where}.choices.{index}.name_localizations.{locale}", "not a Discord locale")
            if not isinstance(text, str) or not 1 <= len(text) <= 100:
                raise _invalid(f"{where}.choices.{index}.name_localizations.{locale}", "1 to 100 characters")


def _store_commands(state: SandboxState, scope: int | None, payload: Any) -> list[dict[str, Any]]:
    stored: dict[str, dict[str, Any]] = {}
    previous = state.commands.get(scope, {})
    for index, cmd in enumerate(payload or []):
        _check_localizations(cmd, str(index), chat_name=cmd.get("type", 1) == 1)
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
