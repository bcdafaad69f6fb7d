"""Circles: create, edit, archive, delete, join, leave and repair.

Changes in Discord (roles, channels) go through the :class:`GuildOps` port. Creation is all or
nothing: if any step fails, whatever was already created is removed again and nothing is stored.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock, to_iso
from bot.errors import Conflict, InvalidInput, NotFound, in_range
from bot.i18n import N_, SOURCE, Msg, Speaker, msg, speaker
from bot.privacy import PersonalDataRegistry
from bot.scheduler import Scheduler
from bot.services.access import AccessService, Actor
from bot.services.guild_ops import ChannelAccess, GuildOps
from bot.storage.circles import Circle, CircleRepository, Rotation
from bot.storage.guilds import GuildSettingsRepository

log = logging.getLogger(__name__)

NAME_LIMITS = (2, 40)
DESCRIPTION_LIMIT = 200
RULES_LIMIT = 1500
RETENTION_RANGE = (1, 3650)
NAME_PATTERN = re.compile(r"^[\w][\w '&+\-.,()]*$")

# Stored in English when a circle keeps the defaults, and shown in each reader's language.
DEFAULT_GROUND_RULES = N_("""\
1. What is shared here stays here. Don't repeat anyone's story outside the circle, or screenshot it.
2. Treat everyone with empathy and respect. We are all equals here; nobody is the expert on someone else's life.
3. Speak from your own experience: “I found…” rather than “you should…”.
4. No advice unless someone asks for it. Listening is often the help.
5. Everyone decides for themselves what is right for them.
6. Peers support each other but are not emergency services. If you are in crisis, /resources shows who to call.""")

TOO_LONG = {
    "description": N_("The description can be at most {limit} characters; yours has {count}. Please shorten it."),
    "ground rules": N_("The ground rules can be at most {limit} characters; yours has {count}. Please shorten it."),
}

# The settings of a circle as the audit line names them ("changed {setting} of **Grief**").
SETTING_NAMES = {
    "description": N_("description"),
    "ground_rules": N_("ground rules"),
    "anonymous_sharing": N_("anonymous sharing"),
    "premoderation": N_("premoderation"),
    "is_private": N_("is private"),
    "pseudonym_rotation": N_("pseudonym rotation"),
    "retention_days": N_("retention days"),
    "facilitator_role_id": N_("facilitator role id"),
    "share_rate_per_hour": N_("share rate per hour"),
    "share_delay_seconds": N_("share delay seconds"),
    "allow_invites": N_("allow invites"),
}


def name_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold().strip()


def clean_name(raw: str) -> str:
    name = " ".join(unicodedata.normalize("NFKC", raw).split())
    low, high = NAME_LIMITS
    if not low <= len(name) <= high:
        raise InvalidInput(
            msg(
                "A circle name needs {low} to {high} characters; “{name}” has {count}.",
                low=low,
                high=high,
                name=name[:50],
                count=len(name),
            )
        )
    if not NAME_PATTERN.match(name):
        raise InvalidInput(
            msg(
                "A circle name can use letters, numbers, spaces and - ' & + . , ( ). "
                "Try something simple like “New parents” or “Grief”."
            )
        )
    return name


def channel_slug(name: str, t: Speaker | None = None) -> str:
    """The name of a circle's channel, in ``t``'s language (the server's; English when not given)."""
    slug = re.sub(r"[^\w]+", "-", name_key(name)).strip("-_")
    t = t or speaker(SOURCE)
    # Translators: a Discord channel name: lowercase, no spaces ({slug} is the circle's name).
    return t("circle-{slug}", slug=slug)[:90]


def role_name(name: str, t: Speaker | None = None) -> str:
    """The name of a circle's member role, in ``t``'s language (the server's; English when not given)."""
    t = t or speaker(SOURCE)
    return t("Circle: {name}", name=name)


def clean_text(raw: str | None, limit: int, what: str) -> str:
    """``what`` is a key of :data:`TOO_LONG`."""
    text = (raw or "").strip()
    if len(text) > limit:
        raise InvalidInput(msg(TOO_LONG[what], limit=limit, count=len(text)))
    return text


def check_retention(days: int) -> int:
    low, high = RETENTION_RANGE
    if not low <= days <= high:
        raise InvalidInput(msg("Data retention must be between {low} and {high} days.", low=low, high=high))
    return days


@dataclass(frozen=True, slots=True)
class CircleDraft:
    name: str
    description: str = ""
    channel_id: int | None = None  # an existing channel; None to create one
    is_private: bool = True
    anonymous_sharing: bool = True
    pseudonym_rotation: Rotation = Rotation.WEEKLY
    premoderation: bool = False
    retention_days: int | None = None
    facilitator_role_id: int | None = None
    ground_rules: str = DEFAULT_GROUND_RULES


@dataclass(slots=True)
class CircleChange:
    """What changed, said twice: ``yours`` to the person who did it ("You renamed ..."), ``audit``
    after their name in the moderation channel ("renamed ...")."""

    circle: Circle
    audit: list[Msg] = field(default_factory=list)
    yours: list[Msg] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RepairReport:
    circle: Circle
    fixed: tuple[Msg, ...]


async def find_circle(circles: CircleRepository, guild_id: int, name: str) -> Circle:
    """The server's circle with this name (any case or spacing); a refusal that lists the circles."""
    circle = await circles.by_name(guild_id, name_key(name))
    if circle is None:
        names = [c.name for c in await circles.in_guild(guild_id)]
        if names:
            raise NotFound(
                msg(
                    "There's no circle called “{name}”. Circles here: {names}.",
                    name=name[:50],
                    names=", ".join(names),
                )
            )
        raise NotFound(msg("There's no circle called “{name}”. There are no circles here yet.", name=name[:50]))
    return circle


class CircleService:
    def __init__(
        self,
        circles: CircleRepository,
        settings: GuildSettingsRepository,
        access: AccessService,
        registry: PersonalDataRegistry,
        scheduler: Scheduler,
        clock: Clock,
        *,
        closing_hooks: Sequence[Callable[[int], Awaitable[object]]] = (),
    ) -> None:
        self.circles = circles
        self.settings = settings
        self.access = access
        self.registry = registry
        self.scheduler = scheduler
        self.clock = clock
        # Features with things to wind down when a circle is archived or deleted (e.g. sessions'
        # Discord events); each gets the circle id before the circle changes. Given at wiring.
        self.closing_hooks: tuple[Callable[[int], Awaitable[object]], ...] = tuple(closing_hooks)

    # -- reading ------------------------------------------------------------------------

    async def in_guild(self, guild_id: int, *, include_archived: bool = False) -> list[Circle]:
        return await self.circles.in_guild(guild_id, include_archived=include_archived)

    async def find(self, guild_id: int, name: str, *, active_only: bool = False) -> Circle:
        circle = await find_circle(self.circles, guild_id, name)
        if active_only and not circle.active:
            raise InvalidInput(
                msg(
                    "The {name} circle is archived: its history stays, but it's closed to new activity.",
                    name=circle.name,
                )
            )
        return circle

    async def search(self, guild_id: int, query: str, *, include_archived: bool = False) -> list[Circle]:
        needle = name_key(query)
        found = await self.circles.in_guild(guild_id, include_archived=include_archived)
        return [c for c in found if needle in c.name_key][:25]

    # -- creating -----------------------------------------------------------------------

    async def validate(self, guild_id: int, actor: Actor, draft: CircleDraft) -> CircleDraft:
        """Check a draft before anything is created (so a modal can follow with confidence)."""
        await self.access.require_coordinator(guild_id, actor)
        name = clean_name(draft.name)
        existing = await self.circles.by_name(guild_id, name_key(name))
        if existing is not None:
            raise Conflict(
                msg(
                    "There's already a circle called {name} here. Circle names are unique in a server.",
                    name=existing.name,
                )
            )
        if draft.channel_id is not None and await self.circles.by_channel(draft.channel_id):
            raise Conflict(msg("That channel already belongs to another circle. Pick another, or let me create one."))
        retention = draft.retention_days
        if retention is None:
            retention = (await self.settings.get(guild_id)).retention_days
        return CircleDraft(
            name=name,
            description=clean_text(draft.description, DESCRIPTION_LIMIT, "description"),
            channel_id=draft.channel_id,
            is_private=draft.is_private,
            anonymous_sharing=draft.anonymous_sharing,
            pseudonym_rotation=draft.pseudonym_rotation,
            premoderation=draft.premoderation,
            retention_days=check_retention(retention),
            facilitator_role_id=draft.facilitator_role_id,
            ground_rules=clean_text(draft.ground_rules, RULES_LIMIT, "ground rules") or DEFAULT_GROUND_RULES,
        )

    async def create(self, actor: Actor, draft: CircleDraft, ops: GuildOps, t: Speaker | None = None) -> CircleChange:
        """``t`` names the role and channel made for the circle (the server's language)."""
        guild_id = ops.guild_id
        draft = await self.validate(guild_id, actor, draft)
        needed = ["Manage Roles"] + ([] if draft.channel_id else ["Manage Channels"])
        await ops.require(needed, draft.channel_id)
        await self.settings.ensure(guild_id, self.clock.now())
        reason = f"peer-circles: circle {draft.name} created"
        created_role: int | None = None
        created_channel: int | None = None
        try:
            created_role = await ops.create_role(role_name(draft.name, t), reason)
            access = ChannelAccess(draft.is_private, created_role, draft.facilitator_role_id)
            if draft.channel_id is None:
                created_channel = await ops.create_channel(
                    channel_slug(draft.name, t), draft.description, access, reason
                )
                channel_id = created_channel
            else:
                channel_id = draft.channel_id
                if not await ops.channel_exists(channel_id):
                    raise InvalidInput(msg("I can't find that channel any more. Pick another, or let me create one."))
                if draft.is_private:
                    await ops.set_channel_access(channel_id, access, reason)
            circle = await self.circles.insert(
                {
                    "guild_id": guild_id,
                    "name": draft.name,
                    "name_key": name_key(draft.name),
                    "description": draft.description,
                    "channel_id": channel_id,
                    "channel_managed": int(created_channel is not None),
                    "member_role_id": created_role,
                    "facilitator_role_id": draft.facilitator_role_id,
                    "ground_rules": draft.ground_rules,
                    "is_private": int(draft.is_private),
                    "anonymous_sharing": int(draft.anonymous_sharing),
                    "pseudonym_rotation": draft.pseudonym_rotation.value,
                    "premoderation": int(draft.premoderation),
                    "retention_days": draft.retention_days,
                    "created_at": to_iso(self.clock.now()),
                }
            )
        except BaseException:
            await self._undo(ops, created_role, created_channel)
            raise
        log.info("circle created circle=%s guild=%s", circle.id, guild_id)
        name = circle.name
        if created_channel and draft.is_private:
            audit = msg("created the circle **{name}** in a new private channel", name=name)
            yours = msg("You created the circle **{name}** in a new private channel", name=name)
        elif created_channel:
            audit = msg("created the circle **{name}** in a new channel", name=name)
            yours = msg("You created the circle **{name}** in a new channel", name=name)
        else:
            channel = f"<#{channel_id}>"
            audit = msg("created the circle **{name}** in {channel}", name=name, channel=channel)
            yours = msg("You created the circle **{name}** in {channel}", name=name, channel=channel)
        return CircleChange(circle, [audit], [yours])

    async def _undo(self, ops: GuildOps, role_id: int | None, channel_id: int | None) -> None:
        """Remove what a failed creation made, so nothing is left half-created."""
        reason = "peer-circles: undoing a circle creation that could not finish"
        if channel_id is not None:
            try:
                await ops.delete_channel(channel_id, reason)
            except Exception:
                log.warning("could not remove a half-created channel channel=%s", channel_id)
        if role_id is not None:
            try:
                await ops.delete_role(role_id, reason)
            except Exception:
                log.warning("could not remove a half-created role role=%s", role_id)

    # -- changing -----------------------------------------------------------------------

    async def edit(self, actor: Actor, circle: Circle, ops: GuildOps, **changes: Any) -> CircleChange:
        await self.access.require_coordinator(circle.guild_id, actor)
        updates: dict[str, Any] = {}
        audit: list[Msg] = []
        yours: list[Msg] = []
        if changes.get("name") is not None:
            name = clean_name(changes["name"])
            other = await self.circles.by_name(circle.guild_id, name_key(name))
            if other is not None and other.id != circle.id:
                raise Conflict(msg("There's already a circle called {name} here.", name=name))
            if name != circle.name:
                updates.update(name=name, name_key=name_key(name))
                audit.append(msg("renamed the circle **{old}** to **{new}**", old=circle.name, new=name))
                yours.append(msg("You renamed the circle **{old}** to **{new}**", old=circle.name, new=name))
        simple: dict[str, Callable[[Any], Any]] = {
            "description": lambda v: clean_text(v, DESCRIPTION_LIMIT, "description"),
            "ground_rules": lambda v: clean_text(v, RULES_LIMIT, "ground rules") or DEFAULT_GROUND_RULES,
            "anonymous_sharing": bool,
            "premoderation": bool,
            "is_private": bool,
            "pseudonym_rotation": Rotation,
            "retention_days": check_retention,
            "facilitator_role_id": int,
            "share_rate_per_hour": lambda v: in_range(
                int(v), (1, 60), N_("The share limit per hour must be between {low} and {high}.")
            ),
            "share_delay_seconds": lambda v: in_range(
                int(v), (0, 900), N_("The posting delay (seconds) must be between {low} and {high}.")
            ),
            "allow_invites": bool,
        }
        for key, convert in simple.items():
            if changes.get(key) is None:
                continue
            value = convert(changes[key])
            if value != getattr(circle, key):
                updates[key] = value.value if isinstance(value, Rotation) else value
                setting = msg(SETTING_NAMES[key])
                # Translators: {setting} is a circle setting's name, like "description" or "premoderation".
                audit.append(msg("changed {setting} of **{name}**", setting=setting, name=circle.name))
                yours.append(msg("You changed {setting} of **{name}**", setting=setting, name=circle.name))
        if not updates:
            return CircleChange(circle)
        if "is_private" in updates or "facilitator_role_id" in updates:
            await ops.require(["Manage Roles"], circle.channel_id)
            if circle.channel_id is not None:
                access = ChannelAccess(
                    updates.get("is_private", circle.is_private),
                    circle.member_role_id,
                    updates.get("facilitator_role_id", circle.facilitator_role_id),
                    read_only=not circle.active,
                )
                await ops.set_channel_access(circle.channel_id, access, f"peer-circles: {circle.name} edited")
        updated = await self.circles.update(circle.id, **updates)
        return CircleChange(updated, audit, yours)

    async def archive(self, actor: Actor, circle: Circle, ops: GuildOps) -> CircleChange:
        await self.access.require_coordinator(circle.guild_id, actor)
        if not circle.active:
            raise Conflict(msg("The {name} circle is already archived.", name=circle.name))
        if circle.channel_id is not None and await ops.channel_exists(circle.channel_id):
            await ops.require(["Manage Roles"], circle.channel_id)
            access = ChannelAccess(circle.is_private, circle.member_role_id, circle.facilitator_role_id, read_only=True)
            await ops.set_channel_access(circle.channel_id, access, f"peer-circles: {circle.name} archived")
        for hook in self.closing_hooks:
            await hook(circle.id)
        stopped = await self.scheduler.cancel_prefix(f"circle:{circle.id}:")
        updated = await self.circles.update(circle.id, status="archived", archived_at=to_iso(self.clock.now()))
        log.info("circle archived circle=%s schedules_stopped=%d", circle.id, len(stopped))
        return CircleChange(
            updated,
            [msg("archived the circle **{name}** (history kept, schedules stopped)", name=circle.name)],
            [msg("You archived the circle **{name}** (history kept, schedules stopped)", name=circle.name)],
        )

    async def delete(self, actor: Actor, circle: Circle, ops: GuildOps) -> CircleChange:
        """Remove the bot's data for the circle and the role it manages. The channel stays."""
        await self.access.require_coordinator(circle.guild_id, actor)
        for hook in self.closing_hooks:
            await hook(circle.id)
        await self.scheduler.cancel_prefix(f"circle:{circle.id}:")
        if circle.member_role_id is not None and await ops.role_exists(circle.member_role_id):
            await ops.require(["Manage Roles"])
            await ops.delete_role(circle.member_role_id, f"peer-circles: circle {circle.name} deleted")
        await self.circles.delete(circle.id)
        await self.circles.db.checkpoint_after_delete()
        log.info("circle deleted circle=%s", circle.id)
        return CircleChange(
            circle,
            [msg("deleted the circle **{name}** and its data (the channel was kept)", name=circle.name)],
            [msg("You deleted the circle **{name}** and its data (the channel was kept)", name=circle.name)],
        )

    async def repair(self, actor: Actor, circle: Circle, ops: GuildOps, t: Speaker | None = None) -> RepairReport:
        """Re-create a missing role or channel and re-apply the channel's access rules. ``t`` names
        a re-created role or channel (the server's language)."""
        await self.access.require_coordinator(circle.guild_id, actor)
        fixed: list[Msg] = []
        reason = f"peer-circles: repairing circle {circle.name}"
        role_id = circle.member_role_id
        if role_id is None or not await ops.role_exists(role_id):
            await ops.require(["Manage Roles"])
            role_id = await ops.create_role(role_name(circle.name, t), reason)
            fixed.append(msg("re-created the member role (members need to join again to get it)"))
        elif not await ops.can_assign(role_id):
            fixed.append(msg("the member role is above my role: move my role higher in Server Settings → Roles"))
        channel_id = circle.channel_id
        access = ChannelAccess(circle.is_private, role_id, circle.facilitator_role_id, read_only=not circle.active)
        managed = circle.channel_managed
        if channel_id is None or not await ops.channel_exists(channel_id):
            await ops.require(["Manage Channels", "Manage Roles"])
            channel_id = await ops.create_channel(channel_slug(circle.name, t), circle.description, access, reason)
            managed = True
            fixed.append(msg("re-created the channel"))
        elif circle.is_private or not circle.active:
            await ops.require(["Manage Roles"], channel_id)
            await ops.set_channel_access(channel_id, access, reason)
            fixed.append(msg("re-applied the channel's access rules"))
        updated = await self.circles.update(
            circle.id, member_role_id=role_id, channel_id=channel_id, channel_managed=int(managed)
        )
        return RepairReport(updated, tuple(fixed))

    async def forget_channel(self, channel_id: int) -> Circle | None:
        """A circle's channel was deleted in Discord: remember that it needs repair."""
        circle = await self.circles.by_channel(channel_id)
        if circle is None:
            return None
        return await self.circles.update(circle.id, channel_id=None)

    async def forget_role(self, guild_id: int, role_id: int) -> list[Circle]:
        changed = []
        for circle in await self.circles.by_role(guild_id, role_id):
            if circle.member_role_id == role_id:
                changed.append(await self.circles.update(circle.id, member_role_id=None))
            if circle.facilitator_role_id == role_id:
                changed.append(await self.circles.update(circle.id, facilitator_role_id=None))
        return changed

    # -- members ------------------------------------------------------------------------

    def check_joinable(self, circle: Circle) -> int:
        if not circle.active:
            raise InvalidInput(msg("The {name} circle is archived, so it isn't taking new members.", name=circle.name))
        if circle.member_role_id is None or circle.channel_id is None:
            raise InvalidInput(
                msg(
                    "The {name} circle needs a quick repair before anyone can join. "
                    "A server admin or coordinator can run /circle repair.",
                    name=circle.name,
                )
            )
        return circle.member_role_id

    async def join(self, circle: Circle, user_id: int, ops: GuildOps) -> bool:
        """Give the member role after consent. False if they were already in the circle."""
        role_id = self.check_joinable(circle)
        if not await ops.role_exists(role_id):
            await self.circles.update(circle.id, member_role_id=None)
            raise InvalidInput(
                msg(
                    "The {name} circle's role is missing. A server admin or coordinator can run /circle repair.",
                    name=circle.name,
                )
            )
        await ops.require(["Manage Roles"])
        if not await ops.can_assign(role_id):
            raise InvalidInput(
                msg(
                    "I can't give you the circle's role because it is above my own role. "
                    "A server admin can fix this by moving my role higher in Server Settings → Roles."
                )
            )
        already = await ops.member_has_role(user_id, role_id)
        await ops.add_member_role(user_id, role_id, "peer-circles: joined a circle")
        recorded = await self.circles.record_consent(circle, user_id, self.clock.now())
        return recorded or not already

    async def leave(self, circle: Circle, user_id: int, ops: GuildOps) -> bool:
        """Remove the member role. False if they were not in the circle."""
        role_id = circle.member_role_id
        had_role = (
            role_id is not None and await ops.role_exists(role_id) and await ops.member_has_role(user_id, role_id)
        )
        if had_role and role_id is not None:
            await ops.require(["Manage Roles"])
            await ops.remove_member_role(user_id, role_id, "peer-circles: left a circle")
        forgotten = await self.circles.forget_member(circle.id, user_id)
        return had_role or forgotten > 0

    async def forget_member(self, circle: Circle, user_id: int) -> dict[str, int]:
        """Delete what is about this person in this circle (offered when they leave)."""
        counts = await self.registry.delete_user_in_circle(circle.guild_id, circle.id, user_id)
        await self.circles.db.checkpoint_after_delete()
        return counts
