"""Guild scheduled events: created (not in the past, ending after they start), read, edited,
deleted, and the people marked interested."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.sandbox.errors import DiscordHTTPError, missing_permissions, unknown
from bot.sandbox.gateway import INTENT_GUILD_SCHEDULED_EVENTS
from bot.sandbox.models import ScheduledEvent, has
from bot.sandbox.routing import Request, Routes
from bot.sandbox.state import SandboxState, now

routes = Routes()


@routes("GET", "/guilds/{guild_id}/scheduled-events")
async def list_events(state: SandboxState, req: Request) -> Any:
    guild = state.guild(req.params["guild_id"])
    return [e.to_dict() for e in guild.events.values()]


@routes("POST", "/guilds/{guild_id}/scheduled-events")
async def create_event(state: SandboxState, req: Request) -> Any:
    guild = state.guild(req.params["guild_id"])
    perms = guild.base_permissions(state.bot_user.id)
    if not (has(perms, "CREATE_EVENTS") or has(perms, "MANAGE_EVENTS")):
        raise missing_permissions()
    body = req.json or {}
    event = ScheduledEvent(
        id=state.ids.next(),
        guild_id=guild.id,
        creator_id=state.bot_user.id,
        name=body["name"],
        scheduled_start_time=body["scheduled_start_time"],
        scheduled_end_time=body.get("scheduled_end_time"),
        entity_type=int(body["entity_type"]),
        privacy_level=int(body.get("privacy_level", 2)),
        description=body.get("description"),
        channel_id=int(body["channel_id"]) if body.get("channel_id") else None,
        location=(body.get("entity_metadata") or {}).get("location"),
    )
    if event.entity_type == 3 and not (event.location and event.scheduled_end_time):
        raise DiscordHTTPError(400, 50035, "External events need a location and an end time")
    _check_event_times(event.scheduled_start_time, event.scheduled_end_time)
    guild.events[event.id] = event
    await state.dispatch("GUILD_SCHEDULED_EVENT_CREATE", event.to_dict(), intent=INTENT_GUILD_SCHEDULED_EVENTS)
    return event.to_dict()


@routes("GET", "/guilds/{guild_id}/scheduled-events/{event_id}")
async def get_event(state: SandboxState, req: Request) -> Any:
    return _event(state, req).to_dict()


@routes("PATCH", "/guilds/{guild_id}/scheduled-events/{event_id}")
async def edit_event(state: SandboxState, req: Request) -> Any:
    event = _event(state, req)
    body = req.json or {}
    if "scheduled_start_time" in body and event.status == 1:
        _check_event_times(body["scheduled_start_time"], body.get("scheduled_end_time"))
    for key in ("name", "description", "scheduled_start_time", "scheduled_end_time"):
        if key in body:
            setattr(event, key, body[key])
    if "status" in body:
        event.status = int(body["status"])
    if body.get("entity_type") is not None:
        event.entity_type = int(body["entity_type"])
    if "channel_id" in body:
        event.channel_id = int(body["channel_id"]) if body["channel_id"] else None
    if body.get("entity_metadata"):
        event.location = body["entity_metadata"].get("location")
    elif "entity_metadata" in body:
        event.location = None
    await state.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", event.to_dict(), intent=INTENT_GUILD_SCHEDULED_EVENTS)
    return event.to_dict()


@routes("DELETE", "/guilds/{guild_id}/scheduled-events/{event_id}")
async def delete_event(state: SandboxState, req: Request) -> Any:
    event = _event(state, req)
    await state.remove_event(event)
    return None


@routes("GET", "/guilds/{guild_id}/scheduled-events/{event_id}/users")
async def event_users(state: SandboxState, req: Request) -> Any:
    event = _event(state, req)
    guild = state.guilds[event.guild_id]
    return [
        {"guild_scheduled_event_id": str(event.id), "user": state.users[uid].to_dict()}
        | ({"member": guild.members[uid].to_dict()} if uid in guild.members else {})
        for uid in sorted(event.interested)
    ]


def _event(state: SandboxState, req: Request) -> ScheduledEvent:
    guild = state.guild(req.params["guild_id"])
    event = guild.events.get(int(req.params["event_id"]))
    if event is None:
        raise unknown("Guild Scheduled Event", 10070)
    return event


def _check_event_times(start: str, end: str | None) -> None:
    """Discord refuses an event that starts in the past, or ends before it starts (real time: the
    sandbox can't see a test's fake clock, so tests schedule from a clock started near now)."""
    begins = datetime.fromisoformat(start)
    if begins < now():
        raise DiscordHTTPError(
            400,
            50035,
            "Invalid Form Body",
            {
                "scheduled_start_time": {
                    "_errors": [
                        {"code": "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST", "message": "Cannot schedule event in the past."}
                    ]
                }
            },
        )
    if end is not None and datetime.fromisoformat(end) <= begins:
        raise DiscordHTTPError(400, 50035, "Invalid Form Body: the end time must be after the start time")
