"""Logging that never carries personal data.

Our own code logs event kinds and opaque ids only. Some libraries log far more at DEBUG: aiosqlite
logs every SQL statement with its parameters (user ids, personal text), and discord.py logs raw
gateway events and request bodies (names, message text). Those loggers are held at INFO or above,
whatever LOG_LEVEL says.
"""

from __future__ import annotations

import logging
import sys

PERSONAL_LOGGERS = (
    "aiosqlite",
    "discord.http",
    "discord.gateway",
    "discord.webhook.async_",
    "discord.state",
    "discord.client",
)


def apply_log_policy(level: str | int) -> None:
    number = logging.getLevelName(level) if isinstance(level, str) else level
    for name in PERSONAL_LOGGERS:
        logging.getLogger(name).setLevel(max(number, logging.INFO))
    # discord.py warns that voice support is missing; this bot never uses voice.
    logging.getLogger("discord.client").setLevel(max(number, logging.ERROR))


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr)
    apply_log_policy(level)
