"""Typed settings, read from the environment and an optional ``.env`` file.

Nothing happens at import time: call :func:`load_settings`. Every problem is reported as a
:class:`ConfigError` naming the variable and what a good value looks like, so start-up can stop
with one clear line.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot.shards import ShardPlan

DEFAULT_DATABASE_PATH = Path("data/peer_circles.db")
DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
MIN_SECRET_BYTES = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A configuration value is missing or malformed."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Settings:
    discord_token: str | None
    secret_key: bytes
    database_path: Path
    log_level: str
    default_timezone: str
    dev_guild_id: int | None
    api_base_url: str | None
    gateway_url: str | None
    database_url: str | None = None  # postgresql://…; None: the SQLite file at database_path
    shard_count: int | None = None  # SHARD_COUNT: run as a sharded bot (None: one process, no shards)
    shard_ids: tuple[int, ...] | None = None  # SHARD_IDS: this process's shards (None: all of them)
    # GLOBAL_RATE_LIMIT: requests per second Discord allows the whole bot. A process that runs only
    # some of the shards keeps to its share; 0 leaves it to a shared proxy (DISCORD_API_BASE_URL).
    global_rate_limit: float = 50.0

    @property
    def shards(self) -> ShardPlan:
        return ShardPlan.of(self.shard_count, self.shard_ids)

    @property
    def process_rate_limit(self) -> float | None:
        """Requests per second this process keeps to (None: no limit of ours). One process that runs
        every shard leaves it to discord.py, which waits out Discord's global 429s itself."""
        if self.shards.whole or self.global_rate_limit <= 0:
            return None
        return self.global_rate_limit * self.shards.share

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.default_timezone)

    @property
    def log_level_number(self) -> int:
        return logging.getLevelName(self.log_level)

    def describe(self) -> list[tuple[str, str]]:
        """What was found, safe to print: secrets are never shown."""
        return [
            ("DISCORD_TOKEN", "set" if self.discord_token else "not set"),
            ("SECRET_KEY", f"set ({len(self.secret_key)} bytes)"),
            *(
                [("DATABASE_URL", without_password(self.database_url))]
                if self.database_url
                else [("DATABASE_PATH", str(self.database_path))]
            ),
            ("LOG_LEVEL", self.log_level),
            ("DEFAULT_TIMEZONE", self.default_timezone),
            ("DEV_GUILD_ID", str(self.dev_guild_id) if self.dev_guild_id else "not set (global commands)"),
            ("DISCORD_API_BASE_URL", self.api_base_url or f"{DEFAULT_API_BASE_URL} (default)"),
            ("DISCORD_GATEWAY_URL", self.gateway_url or "Discord's gateway (default)"),
            ("SHARD_COUNT / SHARD_IDS", self.shards.describe()),
            *(
                [("GLOBAL_RATE_LIMIT", f"{limit:g} requests/s for this process")]
                if (limit := self.process_rate_limit) is not None
                else []
            ),
        ]


def parse_database_url(url: str) -> tuple[str | None, Path | None]:
    """``DATABASE_URL``: ``sqlite:///data/peer_circles.db`` (a relative path; four slashes for an
    absolute one) or ``postgresql://user:password@host:5432/name``. Returns the PostgreSQL URL or
    the SQLite path."""
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme == "sqlite":
        path = rest.removeprefix("/")
        if not path:
            raise ConfigError("DATABASE_URL", "give the file after sqlite:///, like sqlite:///data/peer_circles.db")
        return None, Path(path).expanduser()
    if scheme in ("postgresql", "postgres"):
        parsed = urlparse(url)
        if not parsed.hostname and "host=" not in (parsed.query or ""):
            raise ConfigError(
                "DATABASE_URL", "name the server, like postgresql://peer:secret@localhost:5432/peer_circles"
            )
        return "postgresql://" + rest, None
    raise ConfigError(
        "DATABASE_URL",
        "use sqlite:///data/peer_circles.db or postgresql://user:password@host:5432/database",
    )


def without_password(url: str) -> str:
    """A database URL safe to print or log: its password as ***, in the address or as a
    ``?password=`` parameter."""
    parsed = urlparse(url)
    if parsed.password is not None:
        url = url.replace(f":{parsed.password}@", ":***@", 1)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url)


def generate_secret_key() -> str:
    """A fresh SECRET_KEY value: 32 random bytes, base64."""
    return base64.b64encode(os.urandom(MIN_SECRET_BYTES)).decode("ascii")


def parse_secret_key(raw: str | None) -> bytes:
    hint = "should be 32 or more random bytes in base64; run `peer-circles init` to create one"
    if not raw:
        raise ConfigError("SECRET_KEY", f"is missing; it {hint}")
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("SECRET_KEY", f"is not valid base64; it {hint}") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ConfigError("SECRET_KEY", f"is only {len(key)} bytes; it {hint}")
    return key


def parse_timezone(raw: str, variable: str = "DEFAULT_TIMEZONE") -> str:
    name = raw.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            variable, f"'{name}' is not a known IANA time zone; use a name like Europe/London or UTC"
        ) from None
    return name


def _parse_url(raw: str | None, variable: str, schemes: tuple[str, ...]) -> str | None:
    if not raw:
        return None
    parsed = urlparse(raw.strip())
    if parsed.scheme not in schemes or not parsed.netloc:
        example = f"{schemes[0]}://127.0.0.1:8080"
        raise ConfigError(variable, f"'{raw}' is not a {'/'.join(schemes)} URL; use something like {example}")
    return raw.strip().rstrip("/")


def _parse_snowflake(raw: str | None, variable: str) -> int | None:
    if not raw:
        return None
    if not raw.strip().isdigit():
        raise ConfigError(variable, f"'{raw}' is not a server id; it should be digits only (or left empty)")
    return int(raw.strip())


def parse_shards(
    raw_count: str | None, raw_ids: str | None, *, postgres: bool
) -> tuple[int | None, tuple[int, ...] | None]:
    """``SHARD_COUNT`` (shards for the whole bot) and ``SHARD_IDS`` (this process's, like ``0,1`` or
    ``2-3``). Several processes share one PostgreSQL database; SQLite has one process."""
    count_text = (raw_count or "").strip()
    ids_text = (raw_ids or "").strip()
    if not count_text:
        if ids_text:
            raise ConfigError("SHARD_IDS", "needs SHARD_COUNT too: the number of shards the whole bot runs")
        return None, None
    if not count_text.isdigit() or int(count_text) < 1:
        raise ConfigError("SHARD_COUNT", f"'{count_text}' is not a number of shards; use a whole number like 2")
    count = int(count_text)
    if not ids_text:
        return count, None
    ids: set[int] = set()
    for part in ids_text.replace(" ", "").split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ConfigError("SHARD_IDS", f"'{ids_text}' should be shard numbers like 0,1 or a range like 0-3")
        ids.update(range(int(low), int(high if dash else low) + 1))
    if not ids or max(ids) >= count:
        raise ConfigError(
            "SHARD_IDS", f"shards are numbered 0 to {count - 1} when SHARD_COUNT is {count}; '{ids_text}' is outside"
        )
    if len(ids) < count and not postgres:
        raise ConfigError(
            "SHARD_IDS",
            "several processes need a shared PostgreSQL database (DATABASE_URL=postgresql://…); "
            "with SQLite, run one process with every shard (leave SHARD_IDS empty)",
        )
    return count, tuple(sorted(ids))


def _parse_rate(raw: str | None) -> float:
    text = (raw or "").strip()
    if not text:
        return 50.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ConfigError("GLOBAL_RATE_LIMIT", f"'{text}' is not a number of requests per second; use 50, or 0")
    return value


def read_environment(env_file: Path | None = Path(".env"), environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Merge ``.env`` (if present) under the process environment; the environment wins."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def load_settings(values: Mapping[str, str] | None = None) -> Settings:
    """Validate settings. ``values`` defaults to :func:`read_environment`."""
    env = read_environment() if values is None else values
    level = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"'{level}' is not a log level; use one of {', '.join(LOG_LEVELS)}")
    database_path = Path(env.get("DATABASE_PATH") or DEFAULT_DATABASE_PATH).expanduser()
    database_url = None
    if url := (env.get("DATABASE_URL") or "").strip():
        database_url, sqlite_path = parse_database_url(url)
        database_path = sqlite_path or database_path
    shard_count, shard_ids = parse_shards(
        env.get("SHARD_COUNT"), env.get("SHARD_IDS"), postgres=database_url is not None
    )
    if database_path.exists() and database_path.is_dir():
        raise ConfigError("DATABASE_PATH", f"'{database_path}' is a folder; give a file path like data/peer_circles.db")
    return Settings(
        discord_token=(env.get("DISCORD_TOKEN") or "").strip() or None,
        secret_key=parse_secret_key(env.get("SECRET_KEY")),
        database_path=database_path,
        database_url=database_url,
        log_level=level,
        default_timezone=parse_timezone(env.get("DEFAULT_TIMEZONE") or "UTC"),
        dev_guild_id=_parse_snowflake(env.get("DEV_GUILD_ID"), "DEV_GUILD_ID"),
        api_base_url=_parse_url(env.get("DISCORD_API_BASE_URL"), "DISCORD_API_BASE_URL", ("https", "http")),
        gateway_url=_parse_url(env.get("DISCORD_GATEWAY_URL"), "DISCORD_GATEWAY_URL", ("wss", "ws")),
        shard_count=shard_count,
        shard_ids=shard_ids,
        global_rate_limit=_parse_rate(env.get("GLOBAL_RATE_LIMIT")),
    )
