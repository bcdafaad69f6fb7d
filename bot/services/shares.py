"""Anonymous sharing: the rules, with no Discord in sight.

The cog calls :meth:`ShareService.prepare` on the text from the modal (sanitise, check, screen
for crisis language), shows a private preview, and on Post calls :meth:`submit`. Actual sending
goes through the one anonymous send path (``bot/ui/anonymous.py``), which only ever receives a
pseudonym and sanitised text.

What links a post to its author: a keyed member hash (moderation, rate limits, "my posts"; stable
across pseudonym rotation) and, only when the author asked for notifications or the circle
pre-moderates, the author's id encrypted with AES-GCM. Both are dropped at the circle's retention.

Words are :class:`bot.i18n.Msg` (the cog renders them for whoever reads them). A pseudonym is made in
the language the circle reads (the server's, passed in by the cog as ``language``), never the
writer's: it is stored when first made, so it never changes afterwards.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.clock import Clock, from_iso, to_iso
from bot.crypto import DecryptionError, Keyring
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound, RateLimited
from bot.i18n import N_, SOURCE, msg, msgs
from bot.safety import Assessment, Level, assess
from bot.scheduler import Scheduler
from bot.services.access import AccessService, Actor
from bot.services.pseudonyms import PseudonymService, epoch_for, name_from_digest
from bot.services.sanitize import sanitize
from bot.storage.circles import Circle, CircleRepository, Rotation
from bot.storage.guilds import GuildSettingsRepository
from bot.storage.shares import PostingState, Report, Share, ShareRepository
from bot.timekeeping.markup import stamp

log = logging.getLogger(__name__)

TEXT_LIMIT = 1800
REPLY_LIMIT = 1500
WARNING_LIMIT = 100
REASON_LIMIT = 500
MIN_DELAY_SECONDS = 10
RATE_WINDOW = timedelta(hours=1)
UTC_ZONE = ZoneInfo("UTC")  # circle.share_rate_per_hour counts shares in this window
POST_JOB = "share.post"
MODERATE_SHARES = N_("moderate anonymous shares")  # "Only ... can {what}."


class Outcome(StrEnum):
    POSTED = "posted"  # post it now
    SCHEDULED = "scheduled"  # a random delay; the scheduler posts it
    REVIEW = "review"  # pre-moderation: to the moderation channel first


@dataclass(frozen=True, slots=True)
class Prepared:
    text: str
    content_warning: str | None
    assessment: Assessment

    @property
    def needs_care(self) -> bool:
        return self.assessment.level is not Level.NONE


@dataclass(frozen=True, slots=True)
class Submitted:
    share: Share
    outcome: Outcome
    post_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    share: Share
    pseudonym: str
    is_author: bool
    text: str
    member_hash: bytes
    assessment: Assessment


MUTES = {"1d": timedelta(days=1), "7d": timedelta(days=7), "permanent": None}


class ShareService:
    def __init__(
        self,
        shares: ShareRepository,
        circles: CircleRepository,
        settings: GuildSettingsRepository,
        access: AccessService,
        pseudonyms: PseudonymService,
        keyring: Keyring,
        scheduler: Scheduler,
        clock: Clock,
    ) -> None:
        self.shares = shares
        self.circles = circles
        self.settings = settings
        self.access = access
        self.pseudonyms = pseudonyms
        self.keyring = keyring
        self.scheduler = scheduler
        self.clock = clock

    # -- finding the circle -------------------------------------------------------------

    async def circle_for(
        self, guild_id: int, *, name: str | None, channel_id: int | None, role_ids: set[int]
    ) -> Circle:
        """The circle a share goes to: named, or the one whose channel this is, or the member's only one."""
        circle: Circle | None = None
        if name:
            from bot.services.circles import name_key

            circle = await self.circles.by_name(guild_id, name_key(name))
            if circle is None:
                raise NotFound(msg("There's no circle called “{name}”. /circle list shows them.", name=name[:50]))
        elif channel_id is not None:
            circle = await self.circles.by_channel(channel_id)
        if circle is None:
            mine = [c for c in await self.circles.in_guild(guild_id) if c.member_role_id in role_ids]
            if len(mine) == 1:
                circle = mine[0]
            elif not mine:
                raise InvalidInput(msg("Shares go to a circle you're in. Join one with /circle join first."))
            else:
                raise InvalidInput(
                    msg("Which circle is this for? Add the circle option, or run /share post in its channel.")
                )
        self._check_open_to(circle, role_ids)
        return circle

    @staticmethod
    def _check_open_to(circle: Circle, role_ids: set[int]) -> None:
        if not circle.active:
            raise InvalidInput(
                msg("The {circle} circle is archived, so it isn't taking new shares.", circle=circle.name)
            )
        if circle.member_role_id not in role_ids:
            raise NotAllowed(
                msg("Only members of {circle} can share there. You can join with /circle join.", circle=circle.name)
            )
        if not circle.anonymous_sharing:
            raise InvalidInput(msg("Anonymous sharing is switched off in {circle}.", circle=circle.name))
        if circle.channel_id is None:
            raise InvalidInput(
                msg("{circle} needs a quick repair first (a coordinator can run /circle repair).", circle=circle.name)
            )

    async def circle_to_post(
        self, guild_id: int, user_id: int, *, name: str | None, channel_id: int | None, role_ids: set[int]
    ) -> Circle:
        """:meth:`circle_for` then :meth:`check_can_post`. In the circle's own channel (the usual
        case) that is one statement: the circle, the member's mute and their recent shares."""
        if not name and channel_id is not None:
            h = self.member_hash(guild_id, user_id)
            now = self.clock.now()
            found = await self.shares.circle_in_channel_for_posting(channel_id, h, now, now - RATE_WINDOW)
            if found is not None and found[0].guild_id == guild_id:
                circle, state = found
                self._check_open_to(circle, role_ids)
                self._check_posting(circle, state)
                return circle
            channel_id = None  # not a circle's channel here: no need to look it up again
        circle = await self.circle_for(guild_id, name=name, channel_id=channel_id, role_ids=role_ids)
        await self.check_can_post(circle, user_id)
        return circle

    def member_hash(self, guild_id: int, user_id: int) -> bytes:
        return self.keyring.member_hash(guild_id, user_id)

    # -- writing ------------------------------------------------------------------------

    def prepare(
        self, text: str, content_warning: str | None, *, allow_invites: bool, limit: int = TEXT_LIMIT
    ) -> Prepared:
        cleaned = sanitize(text or "", limit=limit + 1, allow_invites=allow_invites)
        if not cleaned:
            raise InvalidInput(msg("There's nothing to share yet. Write a few words and try again."))
        if len(cleaned) > limit:
            raise InvalidInput(
                msgs(
                    "That's a little long: please keep it under {n} character (it has {length}).",
                    "That's a little long: please keep it under {n} characters (it has {length}).",
                    limit,
                    length=len(text),
                )
            )
        warning = sanitize(content_warning or "", limit=WARNING_LIMIT, allow_invites=False) or None
        return Prepared(cleaned, warning, assess(f"{warning or ''}\n{cleaned}"))

    async def check_can_post(self, circle: Circle, user_id: int) -> None:
        """Refuse kindly if the member is muted here or has reached the hourly limit."""
        h = self.member_hash(circle.guild_id, user_id)
        now = self.clock.now()
        self._check_posting(
            circle, await self.shares.posting_state(circle.guild_id, circle.id, h, now, now - RATE_WINDOW)
        )

    @staticmethod
    def _check_posting(circle: Circle, state: PostingState) -> None:
        if state.muted:
            if state.muted_until:
                raise NotAllowed(
                    msg(
                        "You can't post anonymously in {circle} until {when}. If you think this is a mistake, "
                        "please talk to the circle's facilitators.",
                        circle=circle.name,
                        when=stamp(from_iso(state.muted_until), "f"),
                    )
                )
            raise NotAllowed(
                msg(
                    "You can't post anonymously in {circle}. If you think this is a mistake, "
                    "please talk to the circle's facilitators.",
                    circle=circle.name,
                )
            )
        limit = circle.share_rate_per_hour
        if state.recent >= limit and state.oldest_recent is not None:
            again = from_iso(state.oldest_recent) + RATE_WINDOW
            raise RateLimited(
                msgs(
                    "You've shared {n} time in {circle} in the last hour, which is this circle's limit. "
                    "You can post again {when}. Your words weren't lost: copy them somewhere if you like.",
                    "You've shared {n} times in {circle} in the last hour, which is this circle's limit. "
                    "You can post again {when}. Your words weren't lost: copy them somewhere if you like.",
                    state.recent,
                    circle=circle.name,
                    when=stamp(again, "R"),
                )
            )

    async def sharing_options(self, circle: Circle) -> tuple[int, bool]:
        """(max posting delay in seconds, whether invite links are allowed)."""
        return circle.share_delay_seconds, circle.allow_invites

    async def _zone(self, guild_id: int) -> ZoneInfo:
        return ZoneInfo((await self.settings.get(guild_id)).timezone)

    async def _epoch(self, circle: Circle, now: datetime, post_token: str) -> str:
        """The pseudonym epoch of a post made now (the server's zone is only read when it matters)."""
        rotation = circle.pseudonym_rotation
        zone = await self._zone(circle.guild_id) if rotation in (Rotation.DAILY, Rotation.WEEKLY) else UTC_ZONE
        return epoch_for(rotation, now, zone, post_token)

    async def preview_name(self, circle: Circle, user_id: int, *, language: str = SOURCE) -> str:
        """The pseudonym the preview shows, without storing anything (nothing is kept before Post).
        ``language``: the circle's (the server's), whose words a new pseudonym is made of."""
        h = self.member_hash(circle.guild_id, user_id)
        epoch = await self._epoch(circle, self.clock.now(), secrets.token_hex(8))
        known = await self.shares.pseudonym_for(circle.id, epoch, h)
        digest = self.keyring.pseudonym_digest(circle.guild_id, circle.id, h, epoch)
        return known or name_from_digest(digest, language)

    async def submit(
        self, circle: Circle, user_id: int, prepared: Prepared, *, notify: bool, language: str = SOURCE
    ) -> Submitted:
        """Store the share (``language``: the server's, for a pseudonym made now) and say what happens next."""
        await self.check_can_post(circle, user_id)
        now = self.clock.now()
        h = self.member_hash(circle.guild_id, user_id)
        token = secrets.token_hex(8)
        epoch = await self._epoch(circle, now, token)
        pseudonym = await self.pseudonyms.pseudonym(circle.guild_id, circle.id, h, epoch, language)
        delay, _ = await self.sharing_options(circle)
        outcome = Outcome.REVIEW if circle.premoderation else (Outcome.SCHEDULED if delay else Outcome.POSTED)
        post_at = None
        if outcome is Outcome.SCHEDULED:
            post_at = now + timedelta(
                seconds=secrets.randbelow(max(1, delay - MIN_DELAY_SECONDS) + 1) + MIN_DELAY_SECONDS
            )
        keep_id = notify or outcome is Outcome.REVIEW
        share = await self.shares.insert(
            {
                "public_id": token,
                "guild_id": circle.guild_id,
                "circle_id": circle.id,
                "author_user_hash": h,
                "author_user_enc": self.keyring.encrypt_id(user_id, f"share:{token}") if keep_id else None,
                "notify": int(notify),
                "epoch": epoch,
                "pseudonym": pseudonym,
                "content": prepared.text,
                "content_warning": prepared.content_warning,
                "risk": prepared.assessment.level.value,
                "status": "pending_review" if outcome is Outcome.REVIEW else "scheduled",
                "created_at": to_iso(now),
                "post_at": to_iso(post_at) if post_at else None,
            }
        )
        if post_at is not None:
            await self.scheduler.schedule(
                POST_JOB,
                post_at,
                {"share": share.public_id},
                guild_id=circle.guild_id,
                job_id=f"circle:{circle.id}:share:{token}:post",
                grace=timedelta(hours=6),
            )
        log.info("share submitted share=%s circle=%s outcome=%s", share.public_id, circle.id, outcome.value)
        return Submitted(share, outcome, post_at)

    async def mark_posted(self, share: Share, channel_id: int, message_id: int, thread_id: int | None) -> Share:
        keep = share.author_user_enc if share.notify else None
        return await self.shares.update(
            share.id,
            status="posted",
            channel_id=channel_id,
            message_id=message_id,
            thread_id=thread_id,
            posted_at=to_iso(self.clock.now()),
            author_user_enc=keep,
        )

    async def author_id(self, share: Share) -> int | None:
        """The author's id, for a private DM only (notifications, review outcome). Never shown."""
        if share.author_user_enc is None:
            return None
        try:
            return self.keyring.decrypt_id(share.author_user_enc, f"share:{share.public_id}")
        except DecryptionError:
            log.warning("could not decrypt an author id share=%s", share.public_id)
            return None

    async def find(self, public_id: str) -> Share | None:
        """The share with this public id, in whatever state it is (None when there is none)."""
        return await self.shares.by_public_id(public_id)

    async def by_message(self, message_id: int) -> Share | None:
        """The share posted as this message, if any."""
        return await self.shares.by_message(message_id)

    async def circles_in(self, guild_id: int, *, include_archived: bool = False) -> list[Circle]:
        return await self.circles.in_guild(guild_id, include_archived=include_archived)

    async def record_review_card(self, share: Share, message_id: int) -> None:
        """Remember the moderators' review card for a share, to update it when it is decided."""
        await self.shares.update(share.id, review_message_id=message_id)

    async def record_report_card(self, report: Report, message_id: int) -> None:
        await self.shares.set_report(report.id, mod_message_id=message_id)

    async def get(self, public_id: str) -> Share:
        share = await self.shares.by_public_id(public_id)
        if share is None or share.status in ("deleted", "removed", "rejected"):
            raise NotFound(msg("That share is no longer here."))
        return share

    async def circle_of(self, share: Share) -> Circle:
        circle = await self.circles.get(share.circle_id)
        if circle is None:
            raise NotFound(msg("That circle no longer exists."))
        return circle

    # -- replies and support ------------------------------------------------------------

    async def plan_reply(self, share: Share, user_id: int, text: str, *, language: str = SOURCE) -> ReplyPlan:
        """Check a reply and find its pseudonym (``language``: the server's, for a pseudonym made now)."""
        circle = await self.circle_of(share)
        if share.status != "posted" or share.thread_id is None:
            raise InvalidInput(msg("That share isn't open for replies."))
        h = self.member_hash(share.guild_id, user_id)
        muted, _ = await self.shares.muted_until(circle.id, h, self.clock.now())
        if muted:
            raise NotAllowed(msg("You can't post anonymously in {circle} right now.", circle=circle.name))
        _, allow_invites = await self.sharing_options(circle)
        prepared = self.prepare(text, None, allow_invites=allow_invites, limit=REPLY_LIMIT)
        is_author = share.author_user_hash is not None and share.author_user_hash == h
        if is_author or circle.pseudonym_rotation.value == "per_post":
            epoch = share.epoch
        else:
            epoch = epoch_for(circle.pseudonym_rotation, self.clock.now(), await self._zone(share.guild_id), "")
        pseudonym = await self.pseudonyms.pseudonym(share.guild_id, share.circle_id, h, epoch, language)
        return ReplyPlan(share, pseudonym, is_author, prepared.text, h, prepared.assessment)

    async def record_reply(self, plan: ReplyPlan, message_id: int) -> None:
        await self.shares.add_reply(
            plan.share, plan.member_hash, plan.pseudonym, plan.is_author, message_id, self.clock.now()
        )

    async def support(self, share: Share, user_id: int) -> tuple[bool, Share]:
        added = await self.shares.add_support(share, self.member_hash(share.guild_id, user_id), self.clock.now())
        updated = await self.shares.get(share.id)
        assert updated is not None
        return added, updated

    # -- reports and moderation ---------------------------------------------------------

    async def report(self, share: Share, user_id: int, reason: str) -> Report:
        cleaned = sanitize(reason or "", limit=REASON_LIMIT)
        if not cleaned:
            raise InvalidInput(msg("Please say briefly what's wrong, so the moderators can act on it."))
        report = await self.shares.add_report(
            share, self.member_hash(share.guild_id, user_id), cleaned, self.clock.now()
        )
        if report is None:
            raise Conflict(msg("You've already reported this share. The moderators have it."))
        log.info("share reported share=%s report=%s", share.public_id, report.id)
        return report

    async def require_moderator(self, share: Share, actor: Actor) -> Circle:
        circle = await self.circle_of(share)
        if circle.facilitator_role_id is not None and circle.facilitator_role_id in actor.role_ids:
            return circle
        await self.access.require_coordinator(share.guild_id, actor, MODERATE_SHARES)
        return circle

    async def open_report(self, report_id: int) -> tuple[Report, Share]:
        report = await self.shares.report(report_id)
        if report is None:
            raise NotFound(msg("That report no longer exists."))
        share = await self.shares.get(report.share_id)
        if share is None:
            raise NotFound(msg("That share no longer exists."))
        return report, share

    async def close_report(self, report: Report, status: str) -> None:
        """Close an open report as ``status``, once: of two moderators acting on it at the same moment,
        the second is told someone already did."""
        if not await self.shares.close_report_if_open(report.id, status):
            raise Conflict(msg("Someone already acted on this report."))

    async def reopen_report(self, report: Report) -> None:
        await self.shares.set_report(report.id, status="open")

    async def mute_author(self, share: Share, duration: str) -> datetime | None:
        if duration not in MUTES:
            raise InvalidInput(msg("Unknown mute length."))
        if share.author_user_hash is None:
            raise InvalidInput(msg("This post can no longer be linked to anyone, so there is nobody to mute."))
        length = MUTES[duration]
        until = self.clock.now() + length if length else None
        await self.shares.mute(share.guild_id, share.circle_id, share.author_user_hash, until, self.clock.now())
        log.info("share author muted share=%s duration=%s", share.public_id, duration)
        return until

    async def remove(self, share: Share) -> None:
        await self.scheduler.cancel(f"circle:{share.circle_id}:share:{share.public_id}:post")
        await self.shares.update(share.id, status="removed", author_user_enc=None, content=None, content_warning=None)
        await self.shares.db.checkpoint_after_delete()  # the text leaves no copy in the -wal file

    async def remove_reply(self, reply_id: int) -> None:
        """A moderator removed an anonymous reply (its text lives only in Discord; this is its link)."""
        await self.shares.delete_reply(reply_id)
        await self.shares.db.checkpoint_after_delete()

    async def decide_review(self, share: Share, approve: bool) -> Share:
        """Approve or reject a share waiting for review, once: ``share`` may have been read before
        another moderator decided (two pressing at the same moment), so the decision is conditional."""
        if approve:
            decided = await self.shares.update_if(share.id, "pending_review", status="scheduled")
        else:
            # Rejected: the text and the encrypted author id go with the decision itself, so nothing
            # links the share to a person even if telling the author fails. The caller still holds
            # ``share`` (read before) to tell them.
            changes = {"status": "rejected", "content": None, "content_warning": None, "author_user_enc": None}
            decided = await self.shares.update_if(share.id, "pending_review", **changes)
        if decided is None:
            raise Conflict(msg("Someone already decided on this share."))
        if not approve:
            await self.shares.db.checkpoint_after_delete()
        return decided

    async def forget_author_id_unless_notify(self, share: Share) -> None:
        if not share.notify:
            await self.shares.update(share.id, author_user_enc=None)

    # -- the author's own posts ---------------------------------------------------------

    async def mine(self, guild_id: int, user_id: int) -> list[Share]:
        return await self.shares.by_author(guild_id, self.member_hash(guild_id, user_id))

    async def own(self, public_id: str, user_id: int) -> Share:
        share = await self.shares.by_public_id(public_id)
        if share is None or share.author_user_hash != self.member_hash(share.guild_id, user_id):
            raise NotFound(msg("I can't find that share among yours. It may already be deleted."))
        return share

    async def delete_own(self, share: Share) -> None:
        await self.scheduler.cancel(f"circle:{share.circle_id}:share:{share.public_id}:post")
        await self.shares.update(
            share.id, status="deleted", author_user_hash=None, author_user_enc=None, content=None, content_warning=None
        )
        await self.shares.db.checkpoint_after_delete()

    async def reply_share(self, message_id: int) -> tuple[int, Share] | None:
        found = await self.shares.reply_by_message(message_id)
        if found is None:
            return None
        share = await self.shares.get(found[1])
        return (found[0], share) if share else None
