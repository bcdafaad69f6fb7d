"""The check-in itself, and what hangs off it.

- One tap records a mood (1 very low ... 5 very good) with the time and the member's time zone.
  The tap's message is the idempotency key, so a double click stores one check-in.
- Optional extras on the same check-in: a private note (screened with :func:`bot.safety.assess`),
  up to three tags from the circle's list, sharing the mood (never the note) with the circle's
  anonymous pulse, and asking a listener to reach out (a pending request until the listener rota
  routes it).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.i18n import Msg, msg, msgs
from bot.safety import Assessment, Level, assess
from bot.services.access import Actor
from bot.services.checkins.core import CheckinCore, CheckinDeps
from bot.services.checkins.models import (
    DEFAULT_TAGS,
    LISTENER_AFTER_RANGE,
    MAX_TAGS,
    NOTE_LIMIT,
    CheckinState,
    DetailsResult,
    ListenerResult,
    mood,
    parse_tag_list,
)
from bot.services.checkins.schedules import Schedules
from bot.storage.checkins import Checkin, CheckinSettings, SupportRequest, TapContext
from bot.storage.circles import Circle

log = logging.getLogger(__name__)


class Recording(CheckinCore):
    def __init__(self, deps: CheckinDeps, schedules: Schedules) -> None:
        super().__init__(deps)
        self.schedules = schedules

    # -- recording ------------------------------------------------------------------------------

    async def circle_to_open(
        self, guild_id: int, actor: Actor, *, name: str | None = None, channel_id: int | None = None
    ) -> tuple[Circle, Msg | None]:
        """:meth:`resolve_circle` and :meth:`pop_notice` together. In a circle's channel (the usual
        case) that is one statement, plus clearing the notice on the rare occasion one is waiting."""
        if not name and channel_id is not None:
            found = await self.repo.circle_in_channel(channel_id, actor.user_id)
            if found is not None and found[0].guild_id == guild_id:
                here, notice_waiting = found
                self.check_can_check_in(here, actor)
                return here, await self.schedules.pop_notice(guild_id, actor.user_id) if notice_waiting else None
            channel_id = None  # not a circle's channel here: no need to look it up again
        circle = await self.resolve_circle(guild_id, actor, name=name, channel_id=channel_id)
        return circle, await self.schedules.pop_notice(guild_id, actor.user_id)

    async def tap_context(self, circle_id: int, user_id: int) -> tuple[Circle, TapContext]:
        """The circle a mood button names, with what :meth:`record` needs, in one statement."""
        found = await self.repo.circle_and_tap_context(circle_id, user_id)
        if found is None:
            raise NotFound(msg("That circle no longer exists, so there's nowhere to check in. Nothing was stored."))
        return found

    async def record(
        self,
        circle: Circle,
        actor: Actor,
        value: int,
        *,
        source_key: str | None,
        context: TapContext | None = None,
    ) -> CheckinState:
        """One tap. With the same ``source_key`` (the message tapped), the first check-in is returned.

        Two statements in the usual case: the member's context (``context``, from
        :meth:`tap_context` when the caller has it already) and the insert, which returns the row.
        """
        mood(value)
        self.check_can_check_in(circle, actor)
        if context is None:
            context = await self.repo.tap_context(circle.guild_id, circle.id, actor.user_id)
        zone = context.own_zone or context.server_zone or self.guild_settings.default_timezone
        now = self.clock.now()
        checkin, created = await self.repo.insert_checkin(
            guild_id=circle.guild_id,
            circle_id=circle.id,
            user_id=actor.user_id,
            mood=value,
            timezone=zone,
            local_date=now.astimezone(ZoneInfo(zone)).date(),
            created_at=now,
            source_key=source_key,
        )
        if checkin.user_id != actor.user_id:
            raise NotAllowed(msg("That check-in belongs to someone else. Start your own with /checkin now."))
        if created:
            log.info("checkin recorded circle=%s checkin=%s", circle.id, checkin.id)
        offer = await self._listener_offer(checkin, context.settings, context.pending) if created else False
        return CheckinState(checkin, circle, context.pending, created, offer)

    async def _state(
        self, checkin: Checkin, circle: Circle | None = None, *, created: bool = False, offer_listener: bool = False
    ) -> CheckinState:
        circle = circle or await self.get_circle(checkin.circle_id)
        pending = await self.repo.pending_request(checkin.circle_id, checkin.user_id)
        return CheckinState(checkin, circle, pending, created, offer_listener)

    async def own(self, checkin_id: int, user_id: int) -> Checkin:
        checkin = await self.repo.get_checkin(checkin_id)
        if checkin is None or checkin.user_id != user_id:
            raise NotFound(msg("That check-in isn't there any more (it may have been deleted). Nothing was changed."))
        return checkin

    async def state(self, checkin_id: int, user_id: int) -> CheckinState:
        return await self._state(await self.own(checkin_id, user_id))

    async def tags_for(self, circle: Circle) -> tuple[str, ...]:
        stored = await self.repo.circle_tags(circle.id)
        return stored if stored else DEFAULT_TAGS

    def clean_note(self, note: str | None) -> str | None:
        text = (note or "").strip()
        if len(text) > NOTE_LIMIT:
            raise InvalidInput(
                msgs(
                    "A note can be at most {n} character; yours has {length}. Please shorten it. Nothing was saved.",
                    "A note can be at most {n} characters; yours has {length}. Please shorten it. Nothing was saved.",
                    NOTE_LIMIT,
                    length=len(text),
                )
            )
        return text or None

    async def clean_tags(self, circle: Circle, tags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        allowed = await self.tags_for(circle)
        chosen: list[str] = []
        for raw in tags:
            tag = raw.strip().lower()
            if tag and tag not in chosen:
                chosen.append(tag)
        if len(chosen) > MAX_TAGS:
            raise InvalidInput(
                msgs(
                    "Pick up to {n} tag; you picked {picked}. Nothing was saved.",
                    "Pick up to {n} tags; you picked {picked}. Nothing was saved.",
                    MAX_TAGS,
                    picked=len(chosen),
                )
            )
        unknown = [t for t in chosen if t not in allowed]
        if unknown:
            raise InvalidInput(
                msg(
                    "“{tag}” isn't one of the {circle} circle's tags ({tags}). Nothing was saved.",
                    tag=unknown[0][:30],
                    circle=circle.name,
                    tags=", ".join(allowed),
                )
            )
        return tuple(chosen)

    async def add_details(
        self, checkin_id: int, user_id: int, note: str | None, tags: list[str] | tuple[str, ...]
    ) -> DetailsResult:
        """A private note and tags on a check-in. The note is screened for crisis language."""
        checkin = await self.own(checkin_id, user_id)
        circle = await self.get_circle(checkin.circle_id)
        text = self.clean_note(note)
        chosen = await self.clean_tags(circle, tags)
        updated = await self.repo.update_checkin(checkin.id, self.clock.now(), note=text, tags=chosen)
        assessment = assess(text) if text else Assessment(Level.NONE)
        if assessment.flagged:
            log.info("checkin note flagged level=%s checkin=%s", assessment.level, checkin.id)
        return DetailsResult(await self._state(updated, circle), assessment)

    async def set_share(self, checkin_id: int, user_id: int, share: bool) -> CheckinState:
        checkin = await self.own(checkin_id, user_id)
        updated = await self.repo.update_checkin(checkin.id, self.clock.now(), share_pulse=share)
        return await self._state(updated)

    async def latest(self, guild_id: int, user_id: int) -> Checkin:
        found = await self.repo.latest(guild_id, user_id)
        if found is None:
            raise NotFound(
                msg("You haven't checked in here yet, so there's nothing to change. /checkin now takes five seconds.")
            )
        return found

    async def edit(
        self,
        checkin_id: int,
        user_id: int,
        *,
        value: int,
        note: str | None,
        tags: list[str] | tuple[str, ...],
        share: bool,
    ) -> DetailsResult:
        checkin = await self.own(checkin_id, user_id)
        circle = await self.get_circle(checkin.circle_id)
        mood(value)
        text = self.clean_note(note)
        chosen = await self.clean_tags(circle, tags)
        updated = await self.repo.update_checkin(
            checkin.id, self.clock.now(), mood=value, note=text, tags=chosen, share_pulse=share
        )
        changed_note = text is not None and text != checkin.note
        assessment = assess(text) if changed_note and text else Assessment(Level.NONE)
        log.info("checkin edited checkin=%s", checkin.id)
        return DetailsResult(await self._state(updated, circle), assessment)

    async def delete(self, checkin_id: int, user_id: int) -> Checkin:
        checkin = await self.own(checkin_id, user_id)
        await self.repo.delete_checkin(checkin.id)
        await self.repo.db.checkpoint_after_delete()  # the note's ciphertext leaves no copy in the -wal file
        log.info("checkin deleted checkin=%s", checkin.id)
        return checkin

    # -- listeners ------------------------------------------------------------------------------

    async def request_listener(self, checkin_id: int, user_id: int) -> ListenerResult:
        """Ask a listener to reach out (pending until the listener rota routes it). Idempotent."""
        checkin = await self.own(checkin_id, user_id)
        circle = await self.get_circle(checkin.circle_id)
        request, created = await self.repo.add_request(
            circle.guild_id, circle.id, user_id, checkin.id, self.clock.now()
        )
        if created:
            log.info("listener request pending request=%s circle=%s", request.id, circle.id)
        return ListenerResult(request, created, await self._state(checkin, circle))

    async def cancel_listener(self, request_id: int, user_id: int) -> SupportRequest:
        request = await self.repo.get_request(request_id)
        if request is None or request.user_id != user_id:
            raise NotFound(msg("That request isn't there any more. Nothing was changed."))
        if request.status != "pending":
            raise InvalidInput(msg("That request was already handled, so it can't be cancelled here."))
        await self.repo.set_request_status(request.id, "cancelled", self.clock.now())
        log.info("listener request cancelled request=%s", request.id)
        return request

    async def pending_requests(self, guild_id: int) -> list[SupportRequest]:
        """For the listener rota: requests waiting for someone to reach out."""
        return await self.repo.pending_requests(guild_id)

    async def mark_request_routed(self, request_id: int) -> None:
        """For the listener rota: it took this request over (the member is no longer shown it as pending)."""
        await self.repo.set_request_status(request_id, "routed", self.clock.now())

    async def _listener_offer(
        self, checkin: Checkin, settings: CheckinSettings, pending: SupportRequest | None
    ) -> bool:
        """True when the member asked to be offered a listener after N low days in a row, and today
        completes such a run (offered once per run, and not while a request is pending)."""
        days = settings.listener_after_days
        if not days:
            return False
        today = checkin.local_date
        run_start = today - timedelta(days=days - 1)
        moods = await self.repo.daily_latest_moods(checkin.guild_id, checkin.user_id, run_start)
        if not all(moods.get(run_start + timedelta(days=i), 5) <= 2 for i in range(days)):
            return False
        if settings.listener_offered_on is not None and settings.listener_offered_on >= run_start:
            return False
        if pending is not None:
            return False
        await self.repo.mark_listener_offered(checkin.guild_id, checkin.user_id, today, self.clock.now())
        return True

    async def settings(self, guild_id: int, user_id: int) -> CheckinSettings:
        return await self.repo.settings(guild_id, user_id)

    async def set_listener_after(self, guild_id: int, user_id: int, days: int | None) -> int | None:
        low, high = LISTENER_AFTER_RANGE
        if days is not None and days != 0 and not low <= days <= high:
            raise InvalidInput(
                msgs(
                    "Choose between {low} and {n} day in a row, or off.",
                    "Choose between {low} and {n} days in a row, or off.",
                    high,
                    low=low,
                )
            )
        value = days or None
        await self.repo.set_listener_after(guild_id, user_id, value, self.clock.now())
        return value

    # -- circle tags ----------------------------------------------------------------------------

    async def set_circle_tags(self, circle: Circle, actor: Actor, text: str | None) -> tuple[str, ...]:
        """Replace the circle's tag list (comma-separated), or go back to the defaults with None."""
        await self.require_facilitator(circle, actor, msg("change the circle's check-in tags"))
        tags = parse_tag_list(text) if text is not None else None
        await self.repo.set_circle_tags(circle.id, tags)
        return tags or DEFAULT_TAGS
