"""The ``peer-circles`` command (also ``python -m bot``).

peer-circles [run]        run the bot (the default)
peer-circles init         write .env from config.example.env with a fresh SECRET_KEY
peer-circles check        validate configuration and database, print what was found
peer-circles sync         sync slash commands now (globally, or to DEV_GUILD_ID)
peer-circles db backup P  copy the live database to P (safe while the bot runs)
peer-circles demo         play a scripted scenario against a local sandbox; no token needed
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.config import (
    ConfigError,
    Settings,
    generate_secret_key,
    load_settings,
    parse_database_url,
    read_environment,
    without_password,
)
from bot.errors import StorageError
from bot.logsetup import configure_logging

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2

NO_TOKEN_MESSAGE = """\
peer-circles needs a Discord bot token to run, and DISCORD_TOKEN is not set.

To get one:
  1. Open https://discord.com/developers/applications and choose New Application.
  2. Under Bot, choose Reset Token and copy the token.
  3. Put it in your .env file as DISCORD_TOKEN=... (run `peer-circles init` to create .env).
The README explains how to invite the bot to your server with the right permissions.

Just want to see what it does? `peer-circles demo` runs the bot against a local sandbox,
no token or Discord account needed."""

TOKEN_REFUSED_MESSAGE = "Discord refused the token in DISCORD_TOKEN. Copy a fresh one from the Bot page."


def _settings_or_exit() -> Settings | int:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"Configuration problem: {exc}", file=sys.stderr)
        return EXIT_CONFIG


# -- run --------------------------------------------------------------------------------


async def run_until_stopped(settings: Settings) -> int:
    from bot.client import make_bot
    from bot.connection import DiscordConnection

    assert settings.discord_token
    bot = make_bot(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers here
            loop.add_signal_handler(sig, stop.set)
    async with bot:
        # Log in and connect, waiting and trying again while Discord can't be reached (the network
        # may not be up yet); once connected, discord.py's own reconnect loop takes over.
        connection = DiscordConnection(bot, settings.discord_token, stop)
        runner = asyncio.create_task(connection.run())
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            logging.getLogger("bot").info("stopping: closing the scheduler, the connection and the database")
            if not connection.connected:
                # It sees the stop too and ends its wait, or the try in flight, at once.
                await asyncio.wait({runner})
        await bot.close()
        stopper.cancel()
        if runner in done and runner.exception() is not None:
            raise runner.exception()  # type: ignore[misc]
    if bot.lost_shards:
        print(
            "Lost the PostgreSQL connection that holds this process's shards; stopped so that it can be "
            "started again cleanly (systemd and compose do that by themselves).",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    # The token is the first thing a new operator is missing: say how to get one before anything else.
    if not (read_environment().get("DISCORD_TOKEN") or "").strip():
        print(NO_TOKEN_MESSAGE, file=sys.stderr)
        return EXIT_CONFIG
    settings = _settings_or_exit()
    if isinstance(settings, int):
        return settings
    assert settings.discord_token
    configure_logging(settings.log_level)
    import discord

    from bot.connection import StartFailure

    try:
        return asyncio.run(run_until_stopped(settings))
    except discord.LoginFailure:
        print(TOKEN_REFUSED_MESSAGE, file=sys.stderr)
        return EXIT_CONFIG
    except discord.ConnectionClosed as exc:
        # discord.py reconnects by itself after a drop, except for closes that trying again can't
        # fix: 4004 (the token was reset while running) and 4010-4013 (shards, version, intents).
        if exc.code == 4004:
            print(TOKEN_REFUSED_MESSAGE, file=sys.stderr)
            return EXIT_CONFIG
        print(f"Discord closed the gateway connection with code {exc.code}, which can't be resumed.", file=sys.stderr)
        return EXIT_FAILURE
    except StartFailure as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILURE
    except discord.PrivilegedIntentsRequired:
        print("Discord refused a privileged intent; peer-circles should not ask for one. Please report this.")
        return EXIT_FAILURE
    except StorageError as exc:
        print(f"Database problem: {exc}", file=sys.stderr)
        return EXIT_FAILURE


# -- init -------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    target = Path(args.env_file)
    example = Path(args.example)
    if not example.is_file():
        print(f"Can't find {example}; run this from the peer-circles folder.", file=sys.stderr)
        return EXIT_FAILURE
    if target.exists():
        text = target.read_text("utf-8")
        match = re.search(r"^SECRET_KEY=(.*)$", text, flags=re.MULTILINE)
        if match and match.group(1).strip():
            print(f"{target} already exists and has a SECRET_KEY; left it as it is.")
            return EXIT_OK
        key_line = f"SECRET_KEY={generate_secret_key()}"
        text = re.sub(r"^SECRET_KEY=.*$", key_line, text, flags=re.MULTILINE) if match else text + f"\n{key_line}\n"
        target.write_text(text, "utf-8")
        print(f"Added a fresh SECRET_KEY to {target}.")
        return EXIT_OK
    text = example.read_text("utf-8")
    text = re.sub(r"^SECRET_KEY=.*$", f"SECRET_KEY={generate_secret_key()}", text, flags=re.MULTILINE)
    target.write_text(text, "utf-8")
    target.chmod(0o600)
    print(f"Wrote {target} with a fresh SECRET_KEY. Add your DISCORD_TOKEN there, then run `peer-circles`.")
    return EXIT_OK


# -- check ------------------------------------------------------------------------------


async def _check_database(settings: Settings) -> tuple[str, int, int, list[str]]:
    """Which database, its schema version, the version this code knows, and its tables."""
    from bot.storage.backends import database_for
    from bot.storage.database import load_migrations

    known = len(load_migrations())
    db = database_for(settings.database_url, settings.database_path)
    if db.backend == "sqlite" and not settings.database_path.exists():
        return db.describe(), 0, known, []
    async with db:
        version = await db.schema_version()
        tables = sorted(await db.tables())
    return db.describe(), version, known, tables


def cmd_check(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    if isinstance(settings, int):
        return settings
    print("Configuration is valid:")
    for name, value in settings.describe():
        print(f"  {name:22} {value}")
    try:
        where, version, known, tables = asyncio.run(_check_database(settings))
    except StorageError as exc:
        print(f"Database problem: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:
        print(f"Database problem: could not read the database: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"Database: {where}")
    if version == 0 and not tables:
        print(f"  empty; its tables will be created at first start (schema version {known}).")
    elif version < known:
        print(f"  schema version {version}; {known - version} migration(s) will run at next start.")
    elif version > known:
        print(f"Database problem: schema version {version} is newer than this code ({known}).", file=sys.stderr)
        return EXIT_FAILURE
    else:
        print(f"  schema version {version} (up to date), {len(tables)} tables.")
    status = _check_crisis_screen()
    if not settings.discord_token:
        print("Note: DISCORD_TOKEN is not set; `peer-circles run` needs it (`peer-circles demo` does not).")
    return status


def _check_crisis_screen() -> int:
    from bot.safety import DEFAULT_MODEL_PATH, LexiconError, LinearScreen, ModelError, default_lexicon

    try:
        lexicon = default_lexicon()
        model = LinearScreen.load(DEFAULT_MODEL_PATH)
    except (LexiconError, ModelError, OSError) as exc:
        print(f"Crisis screen problem: {exc}. Reinstall or restore the data/ folder.", file=sys.stderr)
        return EXIT_FAILURE
    print(
        f"Crisis screen: lexicon {lexicon.version or '(unversioned)'} with {len(lexicon.entries)} entries; "
        f"model {model.sha256[:12]} trained on {model.meta.get('training_texts', '?')} texts."
    )
    return EXIT_OK


# -- sync -------------------------------------------------------------------------------


async def _sync(settings: Settings) -> int:
    from bot.client import PeerCirclesBot

    assert settings.discord_token
    bot = PeerCirclesBot(settings, start_scheduler=False, sync_on_start=False)
    async with bot:
        await bot.login(settings.discord_token)
        await bot.sync_commands(force=True)
        scope = f"server {settings.dev_guild_id}" if settings.dev_guild_id else "all servers (global)"
        print(f"Synced {len(bot.tree.get_commands())} commands to {scope}.")
        if not settings.dev_guild_id:
            print("Global commands can take a few minutes to appear in Discord.")
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    if isinstance(settings, int):
        return settings
    if not settings.discord_token:
        print(NO_TOKEN_MESSAGE, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level)
    return asyncio.run(_sync(settings))


# -- db backup --------------------------------------------------------------------------


async def _backup(source: Path, destination: Path) -> None:
    from bot.storage.database import SqliteDatabase

    async with SqliteDatabase(source) as db:
        await db.backup(destination)


def cmd_db_backup(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    if isinstance(settings, int):
        return settings
    destination = Path(args.path)
    if settings.database_url:
        print(
            "The database is PostgreSQL: back it up with pg_dump (see the README's Deployment section).",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    if not settings.database_path.exists():
        print(f"There is no database at {settings.database_path} yet; nothing to back up.", file=sys.stderr)
        return EXIT_FAILURE
    if destination.exists() and not args.force:
        print(f"{destination} already exists; choose another path or pass --force.", file=sys.stderr)
        return EXIT_FAILURE
    if destination.exists():
        destination.unlink()
    asyncio.run(_backup(settings.database_path, destination))
    print(f"Backed up {settings.database_path} to {destination}.")
    return EXIT_OK


# -- db copy ----------------------------------------------------------------------------


async def _copy(source: Path, url: str) -> int:
    from bot.storage.copy import copy_sqlite_to_postgres
    from bot.storage.postgres import PostgresDatabase

    async with PostgresDatabase(url) as target:
        copied = await copy_sqlite_to_postgres(source, target)
    total = sum(t.rows for t in copied)
    for table in copied:
        print(f"  {table.name:<32} {table.rows:>8} rows")
    print(f"Copied {total} rows in {len(copied)} tables from {source} to {without_password(url)}; every count checked.")
    print("Next: set DATABASE_URL to that address in .env and start the bot (keep the SQLite file as a backup).")
    return EXIT_OK


def cmd_db_copy(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    if isinstance(settings, int):
        return settings
    source = Path(args.source) if args.source else settings.database_path
    if not source.exists():
        print(f"There is no SQLite database at {source} to copy.", file=sys.stderr)
        return EXIT_FAILURE
    try:
        url, _ = parse_database_url(args.to)
    except ConfigError as exc:
        print(f"--to: {exc.problem}", file=sys.stderr)
        return EXIT_CONFIG
    if not url:
        print(
            "--to takes a PostgreSQL address, like postgresql://peer:secret@localhost:5432/peer_circles",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    configure_logging("WARNING")
    try:
        return asyncio.run(_copy(source, url))
    except StorageError as exc:
        print(f"Nothing was copied: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # e.g. a PostgreSQL error: its details can quote the rows (ids, hashes)
        print(
            f"Nothing was copied: the database refused it ({type(exc).__name__}). "
            "Run with a fresh, empty database; the details are not shown because they can quote rows.",
            file=sys.stderr,
        )
        return EXIT_FAILURE


# -- resources ----------------------------------------------------------------------------


def cmd_resources_check(args: argparse.Namespace) -> int:
    """List crisis-directory entries not verified in the last six months (exit 1 if any)."""
    import datetime as dt

    from bot.resources import REVERIFY_AFTER_DAYS, CrisisDirectory, ResourceDataError

    try:
        directory = CrisisDirectory.load(args.file)
        today = dt.date.fromisoformat(args.as_of) if args.as_of else dt.date.today()
    except (OSError, ValueError, ResourceDataError) as exc:
        print(f"Could not read the crisis directory: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    stale = directory.stale(today)
    total = len(directory.services())
    if not stale:
        print(f"All {total} crisis lines were verified in the last six months (as of {today.isoformat()}).")
        return EXIT_OK
    print(
        f"{len(stale)} of {total} crisis lines were last verified more than six months ago (as of {today.isoformat()})."
    )
    print("Check each against the service's own website (or findahelpline.com), then update its 'verified' date:")
    for code, service in stale:
        when = service.verified.isoformat() if service.verified else "never"
        numbers = " · ".join(v for v in (service.phone, service.text, service.web) if v)
        print(f"  {code:<13} {when:<10}  {service.name}: {numbers}")
    print(f"(Entries are due every {REVERIFY_AFTER_DAYS} days.)")
    return EXIT_FAILURE


# -- demo -------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    configure_logging("WARNING" if not args.verbose else "INFO")
    return asyncio.run(run_demo(verbose=args.verbose, language=args.language))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peer-circles", description="A Discord bot for peer support circles.")
    parser.add_argument("--version", action="version", version=f"peer-circles {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)").set_defaults(func=cmd_run)
    init = sub.add_parser("init", help="write .env from config.example.env with a fresh SECRET_KEY")
    init.add_argument("--env-file", default=".env")
    init.add_argument("--example", default="config.example.env")
    init.set_defaults(func=cmd_init)
    sub.add_parser("check", help="validate configuration and database").set_defaults(func=cmd_check)
    sub.add_parser("sync", help="sync slash commands now").set_defaults(func=cmd_sync)
    db = sub.add_parser("db", help="database tools")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    backup = db_sub.add_parser("backup", help="copy the live database to PATH (safe while the bot runs)")
    backup.add_argument("path")
    backup.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    backup.set_defaults(func=cmd_db_backup)
    copy = db_sub.add_parser("copy", help="copy the SQLite database into an empty PostgreSQL database")
    copy.add_argument("--to", required=True, metavar="URL", help="postgresql://user:password@host:5432/database")
    copy.add_argument("--from", dest="source", metavar="PATH", help="the SQLite file (default: DATABASE_PATH)")
    copy.set_defaults(func=cmd_db_copy)
    resources = sub.add_parser("resources", help="crisis directory tools")
    resources_sub = resources.add_subparsers(dest="resources_command", required=True)
    res_check = resources_sub.add_parser("check", help="list crisis lines not verified in the last six months")
    res_check.add_argument("--as-of", help="judge ages as of this date (YYYY-MM-DD) instead of today")
    res_check.add_argument("--file", help="a crisis directory JSON file other than the bundled one")
    res_check.set_defaults(func=cmd_resources_check)
    demo = sub.add_parser("demo", help="play a scripted scenario against a local sandbox (no token needed)")
    demo.add_argument("--verbose", action="store_true", help="show the bot's log too")
    demo.add_argument(
        "--language",
        default="en",
        help="play it in this language: en, de, es, fr or pt_BR (everyone's Discord and the server)",
    )
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not getattr(args, "func", None):
        args.func = cmd_run
    return int(args.func(args))
