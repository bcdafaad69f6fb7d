"""Where discord.py connects: Discord itself, or a Discord-compatible server such as the sandbox."""

from __future__ import annotations

import discord.http
import yarl
from discord.gateway import DiscordWebSocket

from bot.config import DEFAULT_API_BASE_URL

DEFAULT_GATEWAY = "wss://gateway.discord.gg/"


def configure_endpoints(api_base_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py's REST routes and gateway at the given URLs (or Discord's defaults).

    discord.py keeps these as class attributes, so this applies to every client in the process.
    """
    discord.http.Route.BASE = api_base_url or DEFAULT_API_BASE_URL
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url or DEFAULT_GATEWAY)
