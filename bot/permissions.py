"""The Discord permissions the bot asks for when invited, and why each is needed.

The README's invite link uses :data:`BOT_PERMISSIONS`; a test keeps the two in step.
"""

from __future__ import annotations

# name: (bit, why) -- Discord's permission bits.
REQUESTED: dict[str, tuple[int, str]] = {
    "View Channels": (1 << 10, "see the circle channels it posts in"),
    "Send Messages": (1 << 11, "post anonymous shares, check-in prompts and session openings"),
    "Send Messages in Threads": (1 << 38, "post anonymous replies in a share's thread"),
    "Create Public Threads": (1 << 35, "open a reply thread under each anonymous share"),
    "Create Private Threads": (1 << 36, "open private listener threads for support conversations"),
    "Manage Threads": (1 << 34, "archive reply threads and add listeners to private threads"),
    "Embed Links": (1 << 14, "show shares, reports and rota boards as tidy cards"),
    "Attach Files": (1 << 15, "send mood charts and data exports"),
    "Read Message History": (1 << 16, "find and update its own posts (rota board, pulse prompts)"),
    "Manage Roles": (1 << 28, "give and remove a circle's member role and the listener role"),
    "Manage Channels": (1 << 4, "create a circle's channel, private to its members"),
    "Create Events": (1 << 44, "put circle meetings in Discord's Events list and keep them up to date"),
}

BOT_PERMISSIONS: int = 0
for _bit, _why in REQUESTED.values():
    BOT_PERMISSIONS |= _bit
del _bit, _why

OAUTH_SCOPES = ("bot", "applications.commands")


def invite_url(application_id: int | str) -> str:
    scopes = "%20".join(OAUTH_SCOPES)
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}&permissions={BOT_PERMISSIONS}&scope={scopes}"
    )
