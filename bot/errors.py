"""Domain errors. Each carries a kind message for the person who hit it.

Cogs and services raise these; the one error handler turns them into an ephemeral reply.
Anything that is not a :class:`PeerCirclesError` is unexpected and gets an apology with a
reference code instead, with the traceback in the log only.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.i18n import N_, Msg, msg, msgs


class PeerCirclesError(Exception):
    """Base for errors whose message is safe and useful to show to the person.

    The message is a :class:`bot.i18n.Msg` (a plain string is taken as English source text): the
    one error handler renders it in the reader's language. ``user_message`` is the English text.
    """

    default_message = N_("Something about that didn't work.")

    def __init__(self, message: str | Msg | None = None) -> None:
        if message is None:
            message = msg(self.default_message)
        self.message = message if isinstance(message, Msg) else msg(message)
        super().__init__(self.user_message)

    @property
    def user_message(self) -> str:
        return str(self.message)


class InvalidInput(PeerCirclesError):
    default_message = N_("That input didn't look right. Please check it and try again.")


def in_range(value: int, bounds: tuple[int, int], refusal: str) -> int:
    """``value`` when ``low <= value <= high``; else :class:`InvalidInput` saying ``refusal``, an
    ``N_`` sentence with ``{low}`` and ``{high}`` ("The posting delay must be between …")."""
    low, high = bounds
    if not low <= value <= high:
        raise InvalidInput(msg(refusal, low=low, high=high))
    return value


class NotFound(PeerCirclesError):
    default_message = N_("I couldn't find that. It may have been removed.")


class NotAllowed(PeerCirclesError):
    default_message = N_("That's only available to people with the right role in this server.")


class Conflict(PeerCirclesError):
    default_message = N_("That already exists or was already done.")


class RateLimited(PeerCirclesError):
    default_message = N_("That's been done a lot recently. Please wait a little and try again.")


class ServerOnly(PeerCirclesError):
    default_message = N_("That works inside a server, not in direct messages.")


class MissingBotPermissions(PeerCirclesError):
    """The bot lacks a Discord permission. The message is for admins and names the fix."""

    def __init__(self, permissions: list[str], where: str | None = None) -> None:
        self.permissions = permissions
        self.where = where
        # Each name as Discord shows it in the reader's language, listed the way that language lists.
        names = bold_permissions(permissions)
        fix = msg(
            "A server admin can fix this in Server Settings → Roles (give my role the permission, and for role "
            "changes keep my role above the roles I manage), or in the channel's permission settings. "
            "Nothing was changed."
        )
        if where:
            missing = msgs(
                "I'm missing the {names} permission in {where}.",
                "I'm missing the {names} permissions in {where}.",
                len(permissions),
                names=names,
                where=where,
            )
        else:
            missing = msgs(
                "I'm missing the {names} permission.",
                "I'm missing the {names} permissions.",
                len(permissions),
                names=names,
            )
        super().__init__(msg("{missing} {fix}", missing=missing, fix=fix))


def bold_permissions(permissions: Iterable[str]) -> tuple[Msg, ...]:
    """Each permission's name in bold, as Discord shows it in the reader's language (the English
    names are marked with N_ where they are listed)."""
    return tuple(msg("**{permission}**", permission=Msg(name)) for name in permissions)


class StorageError(Exception):
    """The database could not be opened or migrated. Not shown to users."""


class MigrationError(StorageError):
    def __init__(self, version: int, name: str, cause: BaseException) -> None:
        super().__init__(
            f"Database migration {version:04d} ({name}) failed: {cause}. "
            "The database was left as it was; nothing was changed."
        )
        self.version = version
        self.migration_name = name
