"""The Discord client: a ``commands.Bot`` that wires services into cogs in ``setup_hook``.

This is the one place things are wired on the Discord side: ``bot/app.py`` builds every service
(no Discord there); :meth:`PeerCirclesBot._add_cogs` gives each feature's cog exactly the services
it uses, connects the features' Discord ports to their services, registers every persistent
button's handlers (:mod:`bot.ui.routing`), and :meth:`PeerCirclesBot._start_jobs` starts the
scheduler and every feature's start-up work. No cog reads another cog or ``bot.services``.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Services, build_services
from bot.clock import Clock
from bot.concurrency import RateBudget
from bot.config import Settings
from bot.endpoints import configure_endpoints
from bot.errors import StorageError
from bot.i18n import catalogue_digest, language_of, set_typing_language
from bot.safety import warm_up as warm_up_crisis_screen
from bot.services.shares import POST_JOB as SHARE_POST_JOB
from bot.ui.command_i18n import CommandTranslator
from bot.ui.dispatch import CardState, ExpiredCards, system_now
from bot.ui.errors import handle_interaction_error
from bot.ui.language import server_speaker
from bot.ui.routing import Routes
from bot.ui.sending import MAX_RATELIMIT_TIMEOUT
from cogs import about, checkins, circles, help, listeners, privacy, resources, sessions, shares, support, timezone
from cogs import setup as server_setup
from cogs.checkins.views import CHECKINS
from cogs.listeners.views import LISTENERS
from cogs.sessions.views import SESSIONS
from cogs.shares.views import SHARES
from cogs.support.views import SUPPORT

log = logging.getLogger(__name__)
_FROZEN = False  # gc.freeze() done (see on_ready)

# Every feature package under cogs/, each with a setup() that the client calls in _add_cogs.
FEATURES = (
    "about",
    "help",
    "setup",
    "circles",
    "sessions",
    "privacy",
    "resources",
    "timezone",
    "shares",
    "checkins",
    "listeners",
    "support",
)


def bot_intents() -> discord.Intents:
    """Only non-privileged intents: no message content, no member list, no presences."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.dm_messages = True
    intents.guild_scheduled_events = True
    return intents


async def _finish_even_if_cancelled(work: Coroutine[Any, Any, None]) -> None:
    """Run local start-up work (the database, the cogs, the scheduler) to its end even when a stop
    cancels the start meanwhile, then pass the cancellation on: torn half-way, it would leave a
    database connection nobody closes (and a process that doesn't exit). It takes a second or so."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: the stop is what matters now
        raise


class PeerCirclesTree(app_commands.CommandTree["PeerCirclesBot"]):
    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        set_typing_language(language_of(interaction.locale.value))  # how this person writes days
        return True

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        await handle_interaction_error(interaction, error)


class PeerCirclesBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        use_timers: bool = True,
        start_scheduler: bool = True,
        sync_on_start: bool = True,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        configure_endpoints(settings.api_base_url, settings.gateway_url)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=bot_intents(),
            tree_cls=PeerCirclesTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
            # No message cache: nothing reads it, and with the DM intent it would hold the last
            # 1,000 direct messages (support conversations) in memory for no purpose.
            max_messages=None,
            guild_ready_timeout=guild_ready_timeout,
            # A 429 asking for more than this raises RateLimited instead of sleeping: a scheduled
            # send then waits for its retry on the scheduler's clock, within its window (bot.sends).
            max_ratelimit_timeout=MAX_RATELIMIT_TIMEOUT,
            **self._shard_options(settings),
        )
        self.settings = settings
        keep_to_budget(self.http, settings.process_rate_limit)
        self._clock = clock
        self._use_timers = use_timers
        self._start_scheduler = start_scheduler
        self._sync_on_start = sync_on_start
        self._services: Services | None = None
        self.routes = Routes()  # persistent buttons -> the cog that handles them (bot.ui.routing)
        self._lexicon_warmup: asyncio.Future[Any] | None = None
        self._synced_at_start = False
        self.last_sync: str | None = None
        self.lost_shards = False

    @staticmethod
    def _shard_options(settings: Settings) -> dict[str, Any]:
        return {}  # one process, no shards: discord.py's plain client (ShardedPeerCirclesBot below)

    def _get_state(self, **options: Any) -> Any:
        # Every press and form gets an answer, also on a card that is no longer live: see bot.ui.dispatch.
        self.expired_cards = ExpiredCards(now=self._now)
        return CardState(
            expired=self.expired_cards,
            dispatch=self.dispatch,
            handlers=self._handlers,
            hooks=self._hooks,
            http=self.http,
            **options,
        )

    def _now(self) -> datetime:
        services = getattr(self, "_services", None)
        return services.clock.now() if services is not None else system_now()

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("Services are built in setup_hook; the bot has not logged in yet")
        return self._services

    async def setup_hook(self) -> None:
        # login() calls this. When Discord can't be reached at start, login is tried again
        # (bot/connection.py), so each part runs once and what is done stays done.
        if self._services is None:
            await _finish_even_if_cancelled(self._open_services())
        if self._sync_on_start and not self._synced_at_start:
            await self.sync_commands()
            self._synced_at_start = True
        if self._start_scheduler and not self.services.scheduler.started:
            # After the command sync: when that fails for want of a network, no job fires while
            # the login waits to be tried again.
            await _finish_even_if_cancelled(self._start_jobs())
        if self._lexicon_warmup is None:
            # The crisis screen compiles its lexicon and loads its model on first use (about a
            # second): do it now on a worker thread, so the first person to share or ask for
            # support after a start doesn't wait for it, and nobody else's answer stalls behind it.
            self._lexicon_warmup = asyncio.get_running_loop().run_in_executor(None, warm_up_crisis_screen)
        log.info("setup complete cogs=%d", len(self.cogs))

    async def _open_services(self) -> None:
        self._services = await build_services(self.settings, clock=self._clock, use_timers=self._use_timers)
        settings = self._services.server_settings
        self.expired_cards.server_speaker = lambda guild_id: server_speaker(
            settings, guild_id, self.get_guild(guild_id)
        )
        # Command names, descriptions, options and choices in every shipped language (bot/locales).
        await self.tree.set_translator(CommandTranslator())
        await self._add_cogs(self._services)

    async def _add_cogs(self, s: Services) -> None:
        """Each feature's cog with exactly the services it uses; its Discord port and its buttons wired."""
        expired = self.expired_cards
        await about.setup(self, about=s.about)
        await help.setup(self, access=s.access, rota=s.rota, circles=s.circles)
        await server_setup.setup(self, setup_service=s.setup, crisis=s.crisis)
        await circles.setup(self, circles=s.circles, guild_settings=s.server_settings)
        await resources.setup(self, crisis=s.crisis, guild_settings=s.server_settings)
        await timezone.setup(self, member_time=s.member_time)
        await privacy.setup(self, privacy=s.privacy_service, maintenance=s.maintenance, expired=expired)
        session_cog = await sessions.setup(
            self,
            sessions=s.sessions,
            circles=s.circles,
            crisis=s.crisis,
            guild_settings=s.server_settings,
            member_time=s.member_time,
        )
        s.sessions.attach(session_cog.port)
        self.routes.provide(SESSIONS, session_cog)

        support_cog = await support.setup(
            self,
            support=s.support,
            outbox=s.outbox,
            crisis=s.crisis,
            guild_settings=s.server_settings,
            access=s.access,
            pending=s.pending_requests,
            member_time=s.member_time,
        )
        s.support.attach(support_cog.discord)
        s.outbox.attach(support_cog.discord)
        self.routes.provide(SUPPORT, support_cog)

        listener_cog = await listeners.setup(
            self,
            rota=s.rota,
            guild_settings=s.server_settings,
            access=s.access,
            support=s.support,
            pending=s.pending_requests,
            member_time=s.member_time,
        )
        s.rota.attach(listener_cog.port)
        self.routes.provide(LISTENERS, listener_cog)

        # A check-in or a share can offer a listener: the support feature's request form.
        share_cog = await shares.setup(
            self,
            shares=s.shares,
            crisis=s.crisis,
            guild_settings=s.server_settings,
            access=s.access,
            support=s.support,
            ask_listener=support_cog.open_ask,
            member_time=s.member_time,
        )
        s.scheduler.register(SHARE_POST_JOB, share_cog.post_due)  # the post itself is Discord's work
        self.routes.provide(SHARES, share_cog)

        checkin_cog = await checkins.setup(
            self,
            checkins=s.checkins,
            crisis=s.crisis,
            guild_settings=s.server_settings,
            support=s.support,
            ask_listener=support_cog.open_ask,
            expired=expired,
            member_time=s.member_time,
        )
        s.checkins.attach(checkin_cog.delivery)
        self.routes.provide(CHECKINS, checkin_cog)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Remember the language each person uses with the bot in a server, for DMs sent later."""
        if interaction.guild_id is None or self._services is None:
            return
        language = language_of(str(interaction.locale))
        try:
            await self._services.member_time.remember_language(interaction.guild_id, interaction.user.id, language)
        except StorageError:  # shutting down
            log.debug("language not remembered: the database is closed")

    async def _start_jobs(self) -> None:
        """The scheduler, each feature's pending jobs (idempotent: one may have been missed while the
        bot was down), and the support relay's outbox (which waits for the gateway to be ready)."""
        s = self.services
        # With PostgreSQL: hold this process's shards (waiting while another process still does)
        # before any of their jobs fire; losing that hold later stops the bot (its supervisor
        # restarts it), so two processes never fire the same server's jobs.
        s.coordination.on_lost = self._coordination_lost
        await s.coordination.start()
        await s.scheduler.start()
        await s.maintenance.ensure_scheduled()
        await s.checkins.ensure_scheduled()
        await s.rota.ensure_scheduled()
        await s.support.ensure_scheduled()
        s.outbox.start(ready=self.wait_until_ready)

    def _coordination_lost(self) -> None:
        log.error("stopping: without its shard locks this process could fire another process's jobs")
        self.lost_shards = True  # the process exits with a failure, so its supervisor restarts it
        task = asyncio.get_running_loop().create_task(self.close())
        self._stopping_task = task  # keep a reference until it is done (not discord.py's _closing_task)

    # -- command sync -------------------------------------------------------------------

    def _scope(self) -> discord.Object | None:
        return discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None

    def command_tree_hash(self) -> str:
        guild = self._scope()
        commands_ = (
            self.tree.get_commands()
            if guild is None
            else self.tree.get_commands(guild=guild) or self.tree.get_commands()
        )
        payload: list[Any] = sorted((c.to_dict(self.tree) for c in commands_), key=lambda c: str(c.get("name")))
        # The localisations are part of what is synced: new or changed translations sync again.
        payload.append({"catalogues": catalogue_digest()})
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    async def sync_commands(self, *, force: bool = False) -> bool:
        """Sync the command tree to Discord if it changed since the last sync (or ``force``).

        Returns whether a sync was sent. With ``DEV_GUILD_ID`` the commands go to that server only.
        """
        guild = self._scope()
        key = f"command_hash:{self.application_id}:{guild.id if guild else 'global'}"
        digest = self.command_tree_hash()
        if not force and await self.services.bot_state.get(key) == digest:
            log.info("command tree unchanged; not syncing")
            return False
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        await self.services.bot_state.set(key, digest)
        self.last_sync = key
        log.info("synced commands count=%d scope=%s", len(synced), "guild" if guild else "global")
        return True

    # -- lifecycle ----------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the scheduler (letting running jobs finish), disconnect, give up this process's
        shards (another process may take them at once), then close the database."""
        if self._services is not None:
            await self._services.scheduler.shutdown()
            await self._services.outbox.stop()
        await super().close()
        if self._services is not None:
            await self._services.coordination.close()
            await self._services.db.close()

    async def on_ready(self) -> None:
        log.info("connected guilds=%d", len(self.guilds))
        global _FROZEN
        if not _FROZEN:
            # What exists at the first ready (modules, caches, the guilds) lives as long as the
            # process: move it out of the collector's way so full collections stay short while
            # people wait. Once per process (a test run starts many bots in one).
            _FROZEN = True
            gc.collect()
            gc.freeze()


class ShardedPeerCirclesBot(PeerCirclesBot, commands.AutoShardedBot):
    """The same bot, running the shards in ``SHARD_IDS`` of ``SHARD_COUNT`` (discord.py's
    ``AutoShardedBot``). Several processes share one PostgreSQL; see :mod:`bot.shards`."""

    @staticmethod
    def _shard_options(settings: Settings) -> dict[str, Any]:
        plan = settings.shards
        return {"shard_count": plan.count, "shard_ids": list(plan.ids)}


def make_bot(settings: Settings, **options: Any) -> PeerCirclesBot:
    """The client for these settings: sharded when ``SHARD_COUNT`` is set."""
    cls = ShardedPeerCirclesBot if settings.shards.sharded else PeerCirclesBot
    return cls(settings, **options)


# Interaction responses and follow-ups are not bound by Discord's global rate limit.
_UNMETERED = ("/interactions/", "/webhooks/{webhook_id}/{webhook_token}")


def keep_to_budget(http: Any, rate: float | None) -> RateBudget | None:
    """Have every REST request except interaction responses wait for this process's share of the
    bot's global rate limit (``GLOBAL_RATE_LIMIT``). ``None``: no limit of ours."""
    if rate is None:
        return None
    budget = RateBudget(rate)
    request = http.request

    async def metered(route: Any, **kwargs: Any) -> Any:
        if not str(route.path).startswith(_UNMETERED):
            await budget.acquire()
        return await request(route, **kwargs)

    http.request = metered
    log.info("REST requests kept to %.3g per second (this process's share of the global limit)", rate)
    return budget
