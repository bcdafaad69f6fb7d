"""What the bot tells people about itself: purpose, what it stores, for how long."""

from __future__ import annotations

from dataclasses import dataclass

from bot import __version__
from bot.i18n import N_
from bot.privacy import PersonalDataRegistry

# English, marked for the catalogues: /about shows each in the reader's language.
PURPOSE = N_(
    "peer-circles helps this community run peer support circles: people who share a challenge "
    "supporting each other as equals. It is built on mutual understanding, empathy and respect, "
    "empowerment, equal relationships, and confidentiality."
)

PROMISES = (
    N_("Private by default: replies to your commands are visible only to you."),
    N_("Anonymous means anonymous: nobody, including moderators, can look up who wrote an anonymous share."),
    N_("Crisis resources are always one step away with /resources."),
    N_("You can see and delete what the bot keeps about you with /privacy."),
)

SERVER_DATA_LINE = N_(
    "Server settings (time zone, channels, roles): kept while the bot is in this server, and deleted "
    "after a grace period once it is removed (30 days unless the server's admins chose otherwise)."
)


@dataclass(frozen=True, slots=True)
class AboutInfo:
    """English messages (and the registry's summaries): the Discord side shows each in the reader's language."""

    version: str
    purpose: str
    promises: tuple[str, ...]
    stored: tuple[str, ...]


class AboutService:
    def __init__(self, registry: PersonalDataRegistry) -> None:
        self.registry = registry

    def about(self) -> AboutInfo:
        stored = [SERVER_DATA_LINE]
        summaries = self.registry.summaries()
        stored.extend(summaries)
        if not summaries:
            stored.append(N_("Nothing about you personally is stored yet."))
        return AboutInfo(__version__, PURPOSE, PROMISES, tuple(stored))
