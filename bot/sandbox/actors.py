"""The test-facing side of the sandbox, written from the point of view of people.

    sandbox = await Sandbox.create(spec_path=...)
    alice = sandbox.member("alice")
    reply = await alice.slash("about")
    assert "peer support" in reply.text
    post = await alice.click(reply.message, "Post")
    sandbox.channel("circle-grief").messages

Every step waits on the bot's answer (an event), with a timeout that names what never arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bot.sandbox.errors import SandboxError
from bot.sandbox.gateway import INTENT_DIRECT_MESSAGES
from bot.sandbox.models import (
    DM,
    FLAG_EPHEMERAL,
    GUILD_TEXT,
    Attachment,
    Channel,
    Guild,
    Member,
    Message,
    P,
    Role,
    ScheduledEvent,
    User,
    walk_components,
)
from bot.sandbox.server import SandboxServer
from bot.sandbox.state import Interaction

DEFAULT_TIMEOUT = 5.0


class Outcome:
    """What the bot did in answer to one interaction."""

    def __init__(self, sandbox: Sandbox, interaction: Interaction) -> None:
        self.sandbox = sandbox
        self.interaction = interaction

    @property
    def kind(self) -> str:
        return {4: "message", 5: "deferred", 6: "deferred_update", 7: "update", 8: "autocomplete", 9: "modal"}.get(
            self.interaction.response_type or 0, "none"
        )

    @property
    def message(self) -> Message:
        if self.interaction.response_message is None:
            raise SandboxError(f"The bot answered with a {self.kind}, not a message")
        return self.interaction.response_message

    @property
    def messages(self) -> list[Message]:
        """The response message (if any) and every followup, in order."""
        first = [self.interaction.response_message] if self.interaction.response_message else []
        return [m for m in first + self.interaction.followups if not m.deleted]

    @property
    def followups(self) -> list[Message]:
        return list(self.interaction.followups)

    @property
    def ephemeral(self) -> bool:
        return bool(self.interaction.response_message and self.interaction.response_message.ephemeral)

    @property
    def text(self) -> str:
        return "\n".join(m.text for m in self.messages)

    @property
    def modal(self) -> dict[str, Any]:
        if self.interaction.modal is None:
            raise SandboxError(f"The bot answered with a {self.kind}, not a modal")
        return self.interaction.modal

    @property
    def choices(self) -> list[dict[str, Any]]:
        return list(self.interaction.choices or [])

    async def settled(
        self, what: str = "the deferred reply to be filled in", timeout: float = DEFAULT_TIMEOUT
    ) -> Outcome:
        """For deferred answers: wait until the bot edits the original response or follows up."""

        def done() -> bool:
            msg = self.interaction.response_message
            if self.interaction.response_type == 6:  # deferred update: wait for the edit (or a followup)
                edited = msg is not None and len(msg.history) > self.interaction.versions_at_response
                return edited or bool(self.interaction.followups)
            filled = msg is not None and bool(msg.content or msg.embeds or msg.components or msg.attachments)
            return filled or bool(self.interaction.followups)

        # Wait on this interaction's own event (set on every request made with its token), not the
        # server-wide condition every waiter re-checks on every change.
        deadline = asyncio.get_running_loop().time() + timeout
        changed = self.interaction.changed
        while True:
            changed.clear()
            if done():
                return self
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(changed.wait(), max(0.0, remaining))
            except TimeoutError:
                if done():
                    return self
                raise SandboxError(f"Timed out after {timeout:g}s waiting for {what}") from None


class Person:
    """Someone in the sandbox's Discord: a server member (or a user outside any server)."""

    def __init__(self, sandbox: Sandbox, user: User, guild: Guild | None) -> None:
        self.sandbox = sandbox
        self.user = user
        self.guild = guild
        self._interactions: list[Interaction] = []

    def __repr__(self) -> str:
        return f"<Person {self.user.username}>"

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def member(self) -> Member:
        if self.guild is None or self.user.id not in self.guild.members:
            raise SandboxError(f"{self.user.username} is not in the server")
        return self.guild.members[self.user.id]

    @property
    def roles(self) -> list[Role]:
        assert self.guild is not None
        return [self.guild.roles[r] for r in self.member.roles if r in self.guild.roles]

    def has_role(self, name: str) -> bool:
        return any(r.name == name for r in self.roles)

    @property
    def dms_open(self) -> bool:
        return self.user.dms_open

    @dms_open.setter
    def dms_open(self, value: bool) -> None:
        self.user.dms_open = value

    # -- what this person sees ----------------------------------------------------------

    @property
    def ephemeral_replies(self) -> list[Message]:
        """Every message only this person could see (ephemeral), oldest first."""
        return sorted(
            (m for m in self.sandbox.server.messages.values() if m.ephemeral_to == self.user.id and not m.deleted),
            key=lambda m: m.id,
        )

    @property
    def dms(self) -> list[Message]:
        """Messages the bot sent to this person by DM, oldest first."""
        channel = self.sandbox.server.dm_channel(self.user)
        return [
            m
            for m in self.sandbox.server.channel_messages(channel.id)
            if m.author.id == self.sandbox.server.bot_user.id
        ]

    async def wait_for_dm(self, contains: str = "", timeout: float = DEFAULT_TIMEOUT, after: int = 0) -> Message:
        """Wait for a DM from the bot (containing ``contains``) beyond the first ``after`` ones."""

        def found() -> Message | None:
            return next((m for m in self.dms[after:] if contains in m.text), None)

        result: Message = await self.sandbox.wait_for(
            found, f"a DM to {self.user.username} containing {contains!r}", timeout
        )
        return result

    # -- what this person does ----------------------------------------------------------

    async def slash(
        self, command: str, *, where: Channel | str | None = None, force: bool = False, **options: Any
    ) -> Outcome:
        """Run a slash command, e.g. ``slash("circle create", name="Grief")``.

        Refuses, as Discord's client would, a command this person can't see because of its
        default member permissions, unless ``force`` (an admin override in Integrations).
        ``where`` is the channel it is run in (a name, a channel, or ``"dm"``); default #general.
        """
        target = self._channel(where)
        guild_id = target.guild_id
        parts = command.split()
        definition = self.sandbox.server.find_command(parts[0], guild_id)
        if definition is None:
            raise SandboxError(f"/{parts[0]} is not a synced command (did the bot sync its commands?)")
        self._check_visible(definition, target, force)
        data: dict[str, Any] = {"id": definition["id"], "name": definition["name"], "type": 1}
        resolved: dict[str, dict[str, Any]] = {}
        data["options"] = self._build_options(definition, parts[1:], options, resolved, focused=None)
        if resolved:
            data["resolved"] = resolved
        if guild_id and definition.get("guild_id"):
            data["guild_id"] = str(guild_id)
        return await self._interact(2, data, target, what=f"/{command}")

    async def context_menu(self, name: str, message: Message, *, force: bool = False) -> Outcome:
        """Right-click a message → Apps → ``name`` (a message context menu command)."""
        channel = self.sandbox.server.channels[message.channel_id]
        definition = next(
            (
                c
                for scope in ([channel.guild_id] if channel.guild_id else []) + [None]
                for c in self.sandbox.server.commands.get(scope, {}).values()
                if c["name"] == name and c.get("type") == 3
            ),
            None,
        )
        if definition is None:
            raise SandboxError(f"No message command {name!r} is synced")
        self._check_visible(definition, channel, force)
        self._check_can_see(message)
        data = {
            "id": definition["id"],
            "name": name,
            "type": 3,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): message.to_dict()}},
        }
        return await self._interact(2, data, channel, what=f"the {name!r} message command")

    async def autocomplete(
        self, command: str, option: str, value: str = "", *, where: Channel | str | None = None, **others: Any
    ) -> list[dict[str, Any]]:
        target = self._channel(where)
        parts = command.split()
        definition = self.sandbox.server.find_command(parts[0], target.guild_id)
        if definition is None:
            raise SandboxError(f"/{parts[0]} is not a synced command")
        data: dict[str, Any] = {"id": definition["id"], "name": definition["name"], "type": 1}
        resolved: dict[str, dict[str, Any]] = {}
        data["options"] = self._build_options(
            definition, parts[1:], {**others, option: value}, resolved, focused=option
        )
        outcome = await self._interact(4, data, target, what=f"autocomplete for {option} in /{command}")
        return outcome.choices

    async def click(
        self, where: Message | Outcome, button: str, *, stale: bool = False, timeout: float = DEFAULT_TIMEOUT
    ) -> Outcome:
        """Press a button, found by its label or custom_id.

        ``stale``: the person's screen still shows an earlier version of the message (Discord
        hadn't redrawn it yet), so the button may be one the bot has since replaced; Discord still
        sends the press, with the message as it is now.
        """
        message, data = self._button(where, button, stale=stale)
        return await self._interact(
            3,
            data,
            self.sandbox.server.channels[message.channel_id],
            source=message,
            what=f"the {button!r} button",
            timeout=timeout,
        )

    async def double_click(
        self, where: Message | Outcome, button: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> tuple[Outcome, Outcome]:
        """Press a button twice at once: both presses reach the bot before it has answered either."""
        message, data = self._button(where, button)
        channel = self.sandbox.server.channels[message.channel_id]
        first = await self._send(3, data, channel, source=message)
        second = await self._send(3, dict(data), channel, source=message)
        what = f"the {button!r} button"
        return (
            await self._answer(first, what=f"the first press of {what}", timeout=timeout),
            await self._answer(second, what=f"the second press of {what}", timeout=timeout),
        )

    def _button(self, where: Message | Outcome, button: str, *, stale: bool = False) -> tuple[Message, dict[str, Any]]:
        message = where.message if isinstance(where, Outcome) else where
        self._check_can_see(message)
        versions = [message.components]
        if stale:
            versions += [old.get("components") or [] for old in reversed(message.history)]
        for components in versions:
            comps = [c for c in walk_components(components) if c.get("type") == 2]
            comp = (
                next((c for c in comps if c.get("label") == button), None)
                or next((c for c in comps if c.get("custom_id") == button), None)
                or next((c for c in comps if str(c.get("label", "")).startswith(f"{button} · ")), None)
            )
            if comp is not None:
                break
        else:
            comps = [c for c in message.all_components if c.get("type") == 2]
            raise SandboxError(
                f"No button {button!r} on that message; it has {[c.get('label') or c.get('custom_id') for c in comps]}"
            )
        if comp.get("disabled"):
            raise SandboxError(f"The {button!r} button is disabled")
        if comp.get("style") == 5 or "custom_id" not in comp:
            raise SandboxError(f"The {button!r} button is a link, not something the bot answers")
        data = {"custom_id": comp["custom_id"], "component_type": 2}
        if comp.get("id") is not None:
            data["id"] = comp["id"]
        return message, data

    async def select(self, where: Message | Outcome, select: str, values: list[str]) -> Outcome:
        """Choose options in a select menu, found by custom_id or placeholder."""
        message = where.message if isinstance(where, Outcome) else where
        self._check_can_see(message)
        comps = [c for c in message.all_components if c.get("type") in (3, 5, 6, 7, 8)]
        comp = next((c for c in comps if select in (c.get("custom_id"), c.get("placeholder"))), None)
        if comp is None:
            raise SandboxError(f"No select {select!r} on that message")
        if comp.get("type") == 3:
            allowed = {o["value"] for o in comp.get("options", [])}
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise SandboxError(f"{unknown} are not options of {select!r} ({sorted(allowed)})")
        data = {"custom_id": comp["custom_id"], "component_type": comp["type"], "values": values}
        return await self._interact(
            3, data, self.sandbox.server.channels[message.channel_id], source=message, what=f"the {select!r} select"
        )

    async def submit_modal(self, opened: Outcome, /, **values: Any) -> Outcome:
        """Fill in and submit the modal the bot opened. Fields by custom_id or label.

        A text field takes a string, a select a list of values, a file upload a list of
        ``(filename, content)`` pairs: ``submit_modal(form, note="hi", photo=[("me.jpg", b"...")])``.
        """
        modal = opened.modal
        resolved: dict[str, dict[str, Any]] = {}
        used: set[str] = set()

        def field(comp: dict[str, Any], label: str | None) -> dict[str, Any]:
            cid = comp.get("custom_id", "")
            key = cid if cid in values else (label if label in values else None)
            if key is not None:
                used.add(key)
            value = values.get(key) if key is not None else None
            kind = comp["type"]
            out: dict[str, Any] = {"type": kind, "custom_id": cid}
            if comp.get("id") is not None:
                out["id"] = comp["id"]
            if kind == 4:
                text = "" if value is None else str(value)
                if comp.get("required", True) and not text:
                    raise SandboxError(f"The modal field {label or cid!r} is required")
                if text and len(text) < comp.get("min_length", 0):
                    raise SandboxError(f"{label or cid!r} needs at least {comp['min_length']} characters")
                if len(text) > comp.get("max_length", 4000):
                    raise SandboxError(f"{label or cid!r} allows at most {comp['max_length']} characters")
                out["value"] = text
            elif kind in (3, 5, 6, 7, 8, 22):
                chosen = list(value or [])
                if kind == 3 and chosen:
                    allowed = {o["value"] for o in comp.get("options", [])}
                    if set(chosen) - allowed:
                        raise SandboxError(f"{sorted(set(chosen) - allowed)} are not options of {label or cid!r}")
                out["values"] = [str(v) for v in chosen]
            elif kind == 21:
                out["value"] = value
            elif kind == 23:
                out["value"] = bool(value)
            elif kind == 19:
                ids = []
                for name, content in value or []:
                    att = Attachment(self.sandbox.server.ids.next(), name, content)
                    resolved.setdefault("attachments", {})[str(att.id)] = att.to_dict()
                    ids.append(str(att.id))
                out["values"] = ids
            return out

        def walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
            result: list[dict[str, Any]] = []
            for comp in components:
                if comp["type"] == 1:
                    result.append(
                        {"type": 1, "components": [field(c, c.get("label")) for c in comp.get("components", [])]}
                    )
                elif comp["type"] == 18:
                    entry: dict[str, Any] = {"type": 18, "component": field(comp["component"], comp.get("label"))}
                    if comp.get("id") is not None:
                        entry["id"] = comp["id"]
                    result.append(entry)
                elif comp["type"] == 10:
                    result.append({"type": 10, "id": comp.get("id", 0)})
            return result

        submitted = walk(modal.get("components", []))
        unknown = set(values) - used
        if unknown:
            raise SandboxError(f"The modal has no field(s) {sorted(unknown)}")
        data: dict[str, Any] = {"custom_id": modal["custom_id"], "components": submitted}
        if resolved:
            data["resolved"] = resolved
        source = opened.interaction.source_message
        channel = self.sandbox.server.channels[opened.interaction.channel_id]
        return await self._interact(5, data, channel, source=source, what=f"the {modal.get('title')!r} form")

    async def submit_form(self, custom_id: str, *, where: Channel | str | None = None) -> Outcome:
        """Submit a form the bot no longer knows (opened before a restart, say), by its custom_id."""
        data: dict[str, Any] = {"custom_id": custom_id, "components": []}
        return await self._interact(5, data, self._channel(where), what=f"the form {custom_id!r}")

    async def send_dm(
        self, text: str, *, files: list[tuple[str, bytes]] | None = None, reply_to: Message | None = None
    ) -> Message:
        """Write to the bot in a direct message, optionally with files, or as a reply to one of its messages."""
        server = self.sandbox.server
        channel = server.dm_channel(self.user)
        attachments = [Attachment(server.ids.next(), name, content) for name, content in files or []]
        message = Message(server.ids.next(), channel.id, None, self.user, content=text, attachments=attachments)
        server.messages[message.id] = message
        channel.last_message_id = message.id
        payload = message.to_dict()
        if reply_to is not None:
            payload["message_reference"] = {"message_id": str(reply_to.id), "channel_id": str(reply_to.channel_id)}
            payload["referenced_message"] = reply_to.to_dict()
            payload["type"] = 19
        await server.dispatch("MESSAGE_CREATE", payload, intent=INTENT_DIRECT_MESSAGES)
        await server.notify()
        return message

    async def mark_interested(self, event: ScheduledEvent, interested: bool = True) -> None:
        """Press (or un-press) Discord's own "Interested" on a scheduled event."""
        server = self.sandbox.server
        if interested:
            event.interested.add(self.user.id)
        else:
            event.interested.discard(self.user.id)
        name = "GUILD_SCHEDULED_EVENT_USER_ADD" if interested else "GUILD_SCHEDULED_EVENT_USER_REMOVE"
        await server.dispatch(
            name,
            {"guild_scheduled_event_id": str(event.id), "user_id": str(self.user.id), "guild_id": str(event.guild_id)},
            intent=1 << 16,
        )
        await server.notify()

    # -- internals ----------------------------------------------------------------------

    def _channel(self, channel: Channel | ChannelView | str | None) -> Channel:
        if isinstance(channel, ChannelView):
            return channel.channel
        if isinstance(channel, Channel):
            return channel
        if channel == "dm":
            return self.sandbox.server.dm_channel(self.user)
        if channel is None:
            if self.guild is None:
                return self.sandbox.server.dm_channel(self.user)
            return self.sandbox.channel("general").channel
        return self.sandbox.channel(channel).channel

    def _check_visible(self, definition: dict[str, Any], channel: Channel, force: bool) -> None:
        if channel.type == DM:
            contexts = definition.get("contexts")
            if contexts is not None and 1 not in contexts:
                raise SandboxError(f"/{definition['name']} is not available in direct messages")
            if definition.get("dm_permission") is False:
                raise SandboxError(f"/{definition['name']} is not available in direct messages")
            return
        required = definition.get("default_member_permissions")
        if required is None or force:
            return
        assert self.guild is not None
        perms = self.guild.permissions_in(self.user.id, channel)
        if int(required) & ~perms:
            raise SandboxError(
                f"{self.user.username} can't see /{definition['name']}: it needs permissions {required} "
                "(pass force=True to simulate an admin's Integrations override)"
            )

    def _check_can_see(self, message: Message) -> None:
        if message.ephemeral_to is not None and message.ephemeral_to != self.user.id:
            raise SandboxError(f"{self.user.username} can't see someone else's ephemeral message")
        if message.deleted:
            raise SandboxError("That message was deleted")
        channel = self.sandbox.server.channels.get(message.channel_id)
        if channel is None:
            raise SandboxError("That message's channel no longer exists")
        if channel.type == DM:
            if not channel.recipients or channel.recipients[0].id != self.user.id:
                raise SandboxError(f"{self.user.username} can't see someone else's DM")
        elif self.guild is not None and not self.guild.permissions_in(self.user.id, channel) & P["VIEW_CHANNEL"]:
            raise SandboxError(f"{self.user.username} can't see #{channel.name}")

    def _build_options(
        self,
        definition: dict[str, Any],
        path: list[str],
        values: dict[str, Any],
        resolved: dict[str, dict[str, Any]],
        focused: str | None,
    ) -> list[dict[str, Any]]:
        options = definition.get("options") or []
        if path:
            sub = next((o for o in options if o["name"] == path[0] and o["type"] in (1, 2)), None)
            if sub is None:
                names = [o["name"] for o in options if o["type"] in (1, 2)]
                raise SandboxError(f"/{definition['name']} has no subcommand {path[0]!r} (it has {names})")
            return [
                {
                    "type": sub["type"],
                    "name": sub["name"],
                    "options": self._build_options(sub, path[1:], values, resolved, focused),
                }
            ]
        if any(o["type"] in (1, 2) for o in options):
            names = [o["name"] for o in options if o["type"] in (1, 2)]
            raise SandboxError(f"/{definition['name']} needs a subcommand: one of {names}")
        built = []
        by_name = {o["name"]: o for o in options}
        unknown = set(values) - set(by_name)
        if unknown:
            raise SandboxError(f"/{definition['name']} has no option(s) {sorted(unknown)}; it has {sorted(by_name)}")
        for opt in options:
            if opt["name"] not in values:
                if opt.get("required") and focused is None:
                    raise SandboxError(f"/{definition['name']} needs the option {opt['name']!r}")
                continue
            raw = values[opt["name"]]
            entry: dict[str, Any] = {
                "name": opt["name"],
                "type": opt["type"],
                "value": self._option_value(opt, raw, resolved, focused),
            }
            if focused == opt["name"]:
                entry["focused"] = True
                entry["value"] = str(raw)
            built.append(entry)
        return built

    def _option_value(
        self, opt: dict[str, Any], raw: Any, resolved: dict[str, dict[str, Any]], focused: str | None
    ) -> Any:
        kind = opt["type"]
        if focused == opt["name"]:
            return str(raw)
        if opt.get("choices") and raw not in [c["value"] for c in opt["choices"]]:
            raise SandboxError(f"{raw!r} is not a choice for {opt['name']!r}: {[c['value'] for c in opt['choices']]}")
        if kind == 3:
            text = str(raw)
            if len(text) > opt.get("max_length", 6000) or len(text) < opt.get("min_length", 0):
                raise SandboxError(
                    f"{opt['name']!r} must be {opt.get('min_length', 0)}-{opt.get('max_length')} characters"
                )
            return text
        if kind == 4:
            return int(raw)
        if kind == 10:
            return float(raw)
        if kind == 5:
            return bool(raw)
        if kind in (6, 9) and isinstance(raw, Person):
            resolved.setdefault("users", {})[str(raw.user.id)] = raw.user.to_dict()
            if raw.guild is not None and raw.user.id in raw.guild.members:
                member = raw.member.to_dict()
                member.pop("user")
                resolved.setdefault("members", {})[str(raw.user.id)] = member
            return str(raw.user.id)
        if kind in (8, 9) and isinstance(raw, Role):
            resolved.setdefault("roles", {})[str(raw.id)] = raw.to_dict()
            return str(raw.id)
        if kind == 7:
            channel = (
                raw.channel
                if isinstance(raw, ChannelView)
                else raw
                if isinstance(raw, Channel)
                else self.sandbox.channel(str(raw)).channel
            )
            perms = self.guild.permissions_in(self.user.id, channel) if self.guild else 0
            resolved.setdefault("channels", {})[str(channel.id)] = {
                "id": str(channel.id),
                "name": channel.name,
                "type": channel.type,
                "permissions": str(perms),
            } | ({"parent_id": str(channel.parent_id)} if channel.parent_id else {})
            return str(channel.id)
        if kind == 11:
            name, content = raw
            att = Attachment(self.sandbox.server.ids.next(), name, content)
            resolved.setdefault("attachments", {})[str(att.id)] = att.to_dict()
            return str(att.id)
        raise SandboxError(f"Can't pass {raw!r} as option {opt['name']!r} of type {kind}")

    async def _interact(
        self,
        type: int,
        data: dict[str, Any],
        channel: Channel,
        *,
        source: Message | None = None,
        what: str,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Outcome:
        interaction = await self._send(type, data, channel, source=source)
        return await self._answer(interaction, what=what, timeout=timeout)

    async def _send(
        self, type: int, data: dict[str, Any], channel: Channel, *, source: Message | None = None
    ) -> Interaction:
        """Send one INTERACTION_CREATE (Discord's 3-second window starts); don't wait for the answer."""
        interaction = await self.sandbox.server.create_interaction(self.user, type, data, channel, source=source)
        self._interactions.append(interaction)
        return interaction

    async def _answer(self, interaction: Interaction, *, what: str, timeout: float = DEFAULT_TIMEOUT) -> Outcome:
        # Wait on this interaction's own event, not the server-wide state condition: with a hundred
        # people waiting at once, re-checking every waiter on every change costs the harness more
        # than the bot it measures.
        try:
            await asyncio.wait_for(interaction.answered.wait(), timeout)
        except TimeoutError:
            raise SandboxError(
                f"Timed out after {timeout:g}s waiting for the bot to answer {self.user.username}'s {what}"
            ) from None
        if interaction.late and not interaction.responded.is_set():
            raise SandboxError(f"The bot answered {self.user.username}'s {what} after Discord's 3-second limit")
        return Outcome(self.sandbox, interaction)


class ChannelView:
    def __init__(self, sandbox: Sandbox, channel: Channel) -> None:
        self.sandbox = sandbox
        self.channel = channel

    @property
    def id(self) -> int:
        return self.channel.id

    @property
    def name(self) -> str:
        return self.channel.name or ""

    @property
    def messages(self) -> list[Message]:
        """Messages everyone with access sees (no ephemeral ones), oldest first."""
        return sorted(self.sandbox.server.channel_messages(self.channel.id), key=lambda m: m.id)

    @property
    def threads(self) -> list[ChannelView]:
        return [
            ChannelView(self.sandbox, c)
            for c in self.sandbox.server.channels.values()
            if c.parent_id == self.channel.id and c.is_thread
        ]

    async def wait_for_message(self, contains: str = "", timeout: float = DEFAULT_TIMEOUT, after: int = 0) -> Message:
        def found() -> Message | None:
            return next((m for m in self.messages[after:] if contains in m.text), None)

        result: Message = await self.sandbox.wait_for(
            found, f"a message in #{self.name} containing {contains!r}", timeout
        )
        return result


class Sandbox:
    """A sandbox Discord with one server (``guild``) ready for tests."""

    def __init__(self, server: SandboxServer, guild: Guild) -> None:
        self.server = server
        self.guild = guild
        self._people: dict[str, Person] = {}

    @classmethod
    async def create(
        cls,
        *,
        spec_path: Path | None = None,
        guild_name: str = "Peer Circles Sandbox",
        bot_permissions: int | None = None,
        default_rate_limit: tuple[int, float] = (50, 1.0),
        port: int = 0,
        start: bool = True,
        shard_count: int = 1,
    ) -> Sandbox:
        """``port``: listen there (default: any free port). ``start=False``: build the world but
        don't listen yet (``await sandbox.server.start()`` later), as when Discord can't be reached.
        ``shard_count``: the gateway wants that many shards (see :mod:`bot.sandbox.gateway`); the
        server ``guild`` is on shard 0, and ``server.add_guild(name, shard=i)`` adds one on shard i."""
        server = SandboxServer(
            spec_path=spec_path, port=port, default_rate_limit=default_rate_limit, shard_count=shard_count
        )
        guild = server.add_guild(guild_name, bot_permissions=bot_permissions, shard=0)
        server.add_channel(guild, "general")
        server.add_channel(guild, "moderation")
        if start:
            await server.start()
        return cls(server, guild)

    async def stop(self) -> None:
        await self.server.stop()

    # -- people -------------------------------------------------------------------------

    def member(
        self,
        name: str,
        *,
        roles: list[str] | None = None,
        global_name: str | None = None,
        in_server: bool = True,
        locale: str | None = None,
    ) -> Person:
        """A person in the server (created on first use), with the named roles and, if given, the
        Discord locale their client is set to (``"de"``, ``"pt-BR"``; default ``en-GB``)."""
        if name in self._people:
            person = self._people[name]
            if locale is not None:
                person.user.locale = locale
            return person
        user = self.server.add_user(name, global_name=global_name or name.capitalize())
        if locale is not None:
            user.locale = locale
        if in_server:
            role_ids = [self.role(r).id for r in roles or []]
            self.server.add_member(self.guild, user, role_ids)
        person = Person(self, user, self.guild if in_server else None)
        self._people[name] = person
        return person

    def admin(self, name: str) -> Person:
        """A server admin: a member with a role that has Manage Server."""
        if "Admins" not in {r.name for r in self.guild.roles.values()}:
            self.server.add_role(self.guild, "Admins", P["MANAGE_GUILD"] | P["MANAGE_ROLES"] | P["MANAGE_CHANNELS"])
        return self.member(name, roles=["Admins"])

    def person(self, user_id: int) -> Person | None:
        return next((p for p in self._people.values() if p.user.id == user_id), None)

    @property
    def people(self) -> list[Person]:
        return list(self._people.values())

    # -- places -------------------------------------------------------------------------

    def channel(self, name: str) -> ChannelView:
        for channel in self.guild.channels.values():
            if channel.name == name:
                return ChannelView(self, channel)
        raise SandboxError(f"No channel #{name}; there are {[c.name for c in self.guild.channels.values()]}")

    def has_channel(self, name: str) -> bool:
        return any(c.name == name for c in self.guild.channels.values())

    async def add_channel(self, name: str, type: int = GUILD_TEXT) -> ChannelView:
        """An admin creates a channel in Discord (the bot hears CHANNEL_CREATE)."""
        channel = self.server.add_channel(self.guild, name, type)
        await self.server.dispatch("CHANNEL_CREATE", channel.to_dict(), intent=1 << 0)
        await self.server.notify()
        return ChannelView(self, channel)

    async def add_role(self, name: str, permissions: int = 0) -> Role:
        """An admin creates a role in Discord (the bot hears GUILD_ROLE_CREATE)."""
        role = self.server.add_role(self.guild, name, permissions)
        await self.server.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(self.guild.id), "role": role.to_dict()}, intent=1 << 0
        )
        await self.server.notify()
        return role

    def role(self, name: str) -> Role:
        for role in self.guild.roles.values():
            if role.name == name:
                return role
        return self.server.add_role(self.guild, name)

    def has_role(self, name: str) -> bool:
        return any(r.name == name for r in self.guild.roles.values())

    @property
    def bot_role(self) -> Role:
        return self.server.bot_role(self.guild)

    def set_bot_permissions(self, permissions: int) -> None:
        self.bot_role.permissions = permissions

    def card_from_before(self, person: Person, *custom_ids: str, where: str = "general") -> Message:
        """A private card the bot showed this person earlier that the running bot knows nothing about
        (from before a restart, or from an older version): an ephemeral message with one button per
        custom_id, each labelled with its custom_id. ``where`` is a channel name, or ``"dm"``."""
        server = self.server
        channel = person._channel(where)
        buttons = [{"type": 2, "style": 2, "label": cid, "custom_id": cid} for cid in custom_ids]
        message = Message(
            server.ids.next(),
            channel.id,
            channel.guild_id,
            server.bot_user,
            content="A card from before.",
            components=[{"type": 1, "components": buttons[i : i + 5]} for i in range(0, len(buttons), 5)],
            flags=FLAG_EPHEMERAL if channel.type != DM else 0,
            ephemeral_to=person.id if channel.type != DM else None,
        )
        server.messages[message.id] = message
        return message

    # -- observing ----------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = DEFAULT_TIMEOUT) -> Any:
        return await self.server.wait_for(predicate, what, timeout)

    @property
    def commands(self) -> list[str]:
        """Names of the commands synced, globally and to this server."""
        names = {c["name"] for scope in (None, self.guild.id) for c in self.server.commands.get(scope, {}).values()}
        return sorted(names)

    @property
    def invalid_requests(self) -> list[str]:
        return list(self.server.invalid_requests)

    def all_messages(self) -> Iterator[Message]:
        """Every message the bot ever sent, anywhere, including ephemeral and deleted ones."""
        yield from self.server.messages.values()

    def public_text(self) -> str:
        """Everything anyone other than the addressee could read: non-ephemeral messages,
        their earlier versions, component custom_ids, thread and channel names."""
        parts: list[str] = []
        for m in self.server.messages.values():
            if m.ephemeral_to is not None or m.author.id != self.server.bot_user.id:
                continue
            channel = self.server.channels.get(m.channel_id)
            if channel is not None and channel.type == DM:
                continue
            parts.append(m.text)
            parts.extend(str(c.get("custom_id", "")) for c in walk_components(m.components))
            parts.extend(str(h) for h in m.history)
        parts.extend(c.name or "" for c in self.server.channels.values())
        parts.extend(e.name + (e.description or "") for g in self.server.guilds.values() for e in g.events.values())
        return "\n".join(parts)

    def request_log(self) -> str:
        """Every REST body the bot sent, as text (for leak searches)."""
        import json

        return "\n".join(f"{r.route} {json.dumps(r.json, default=str)}" for r in self.server.requests)

    @staticmethod
    def ephemeral(message: Message) -> bool:
        return bool(message.flags & FLAG_EPHEMERAL)
