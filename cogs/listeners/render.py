"""How listeners' and the rota's cards look: the board, a listener's shifts, the report, settings."""

from __future__ import annotations

from typing import Any

import discord

from bot.services.rota.models import BoardDay, Mine, Report
from bot.storage.listeners import SupportSettings
from bot.timekeeping.markup import stamp
from bot.ui.controls import row
from cogs.listeners.views import BoardButton

TD = discord.ui.TextDisplay
ROTA_COLOUR = discord.Colour.from_rgb(120, 134, 199)
TEXT_BUDGET = 3800

GUIDELINES = (
    "## Listener guidelines\n"
    "As a volunteer listener you offer someone a calm, confidential space, one to one, through the bot.\n"
    "1. **Listen.** Let them lead, and reflect back what you hear. You don't have to fix anything.\n"
    "2. **Don't diagnose or prescribe.** Speak from your own experience if it helps; no medical, legal or "
    "financial advice.\n"
    "3. **No personal contact details.** Don't ask for or share phone numbers, social accounts or real names: "
    "keep talking through the bot. Neither of you sees the other's account unless the member chooses to share theirs.\n"
    "4. **Keep it confidential**, except to keep someone safe: then talk to a coordinator.\n"
    "5. **Know when and how to escalate.** If someone may be in danger, I'll show you the steps and the crisis lines "
    "to share, and alert the coordinators. If a conversation needs someone else, hand it off.\n"
    "6. **Look after yourself.** Set your limits (/listener limits), take a break (/listener break), say when a "
    "conversation was heavy, and ask for a debrief whenever you need one."
)


def _clip(lines: list[str], budget: int) -> str:
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            out.append(f"…and {len(lines) - index} more: /rota view shows them all.")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def board_sections(days: list[BoardDay], *, highlight: int | None = None, budget: int = TEXT_BUDGET) -> list[str]:
    sections = [
        "## Listener rota: the next two weeks\n-# Times show in your own time zone. Each shift shows filled / needed."
    ]
    if not days:
        return [*sections, "No shifts on the rota yet. Coordinators add them with /rota add."]
    used = len(sections[0])
    for day in days:
        lines = [f"**{day.day.strftime('%A')} {day.day.day} {day.day.strftime('%B')}**"]
        for c in day.rows:
            mark = "✅" if c.full else ("⚠️" if c.filled == 0 else "➖")
            who = ", ".join(f"<@{u}>" for u in c.listeners) or "nobody yet"
            you = " · **you**" if highlight is not None and highlight in c.listeners else ""
            label = f" · {c.slot.label}" if c.slot.label else ""
            lines.append(
                f"- {stamp(c.occurrence.starts_at, 't')}–{stamp(c.occurrence.ends_at, 't')} {mark} "
                f"{c.filled}/{c.needed} · {who}{you}{label}"
            )
        text = "\n".join(lines)
        if used + len(text) > budget:
            sections.append("…more shifts follow: /rota view shows them all.")
            break
        used += len(text)
        sections.append(text)
    return sections


def board_view(days: list[BoardDay]) -> discord.ui.LayoutView:
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=ROTA_COLOUR)
    for index, section in enumerate(board_sections(days)):
        if index:
            container.add_item(discord.ui.Separator(visible=index == 1))
        container.add_item(TD(section))
    container.add_item(row(BoardButton("take"), BoardButton("drop"), BoardButton("mine")))
    view.add_item(container)
    return view


def card(*sections: str, buttons: list[discord.ui.Item[Any]] | None = None) -> discord.ui.LayoutView:
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=ROTA_COLOUR)
    for index, section in enumerate(sections):
        if index:
            container.add_item(discord.ui.Separator())
        container.add_item(TD(section))
    if buttons:
        container.add_item(row(*buttons))
    view.add_item(container)
    return view


def settings_text(settings: SupportSettings, mod_channel: int | None) -> str:
    def channel(value: int | None) -> str:
        return f"<#{value}>" if value else "not set"

    return "\n".join(
        [
            "## Listener and support settings",
            f"- Listener role: {f'<@&{settings.listener_role_id}>' if settings.listener_role_id else 'not set'}",
            f"- Listeners' channel (rota board, private threads): {channel(settings.listeners_channel_id)}",
            f"- New listeners: {'approved automatically' if settings.auto_approve else 'approved by a coordinator'}",
            "- Relay: "
            + (
                "private threads in the listeners' channel"
                if settings.relay_mode == "thread"
                else "direct messages with the bot"
            ),
            f"- Offer timeout before asking more people: {settings.offer_timeout_seconds // 60} min",
            f"- Idle conversations close after: {settings.idle_close_minutes} min",
            f"- Shift reminder: {settings.reminder_minutes} min before (listeners can change theirs)",
            f"- Break after a heavy conversation: {settings.cooldown_minutes} min",
            f"- Coordinator alerts go to: {channel(mod_channel)} (set with /setup)",
        ]
    )


def mine_sections(mine: Mine) -> list[str]:
    listener = mine.listener
    now_line = (
        f"You're on shift or on call until {stamp(mine.on_shift_until, 't')}."
        if mine.on_shift_until
        else "You're not on shift right now."
    )
    if mine.break_until is not None:
        now_line += f" On a break until {stamp(mine.break_until, 't')}."
    limit = f"{listener.max_weekly_hours} h" if listener.max_weekly_hours else "no limit"
    lines = [
        "## Your listening",
        now_line,
        f"- Open conversations: {mine.conversations} (at most {listener.max_concurrent} at once)",
        f"- This week: {mine.hours_this_week:.1f} h so far, {mine.planned_this_week:.1f} h planned ({limit})",
        f"- Reminders: {listener.reminder_minutes if listener.reminder_minutes is not None else 'the server default'}"
        + (" min before a shift" if listener.reminder_minutes is not None else ""),
    ]
    shifts = [
        f"- {stamp(a.starts_at, 'F')}–{stamp(a.ends_at, 't')}" + (f" · {slot.label}" if slot and slot.label else "")
        for a, slot in mine.shifts
    ]
    return ["\n".join(lines), "**Your next shifts**\n" + (_clip(shifts, 2500) if shifts else "None yet: /rota take.")]


def report_sections(report: Report) -> list[str]:
    avg = (
        f"{sum(report.feedback) / len(report.feedback):.1f}/5 from {len(report.feedback)}"
        if report.feedback
        else "none given"
    )
    head = (
        f"## Rota report: {stamp(report.start, 'D')} to {stamp(report.end, 'D')}\n"
        f"- Shifts: {report.occurrences} · fully covered {report.covered} ({report.coverage_percent}%) · "
        f"partly {report.partly} · uncovered {report.uncovered}\n"
        f"- Support requests: {report.requests} · answered {report.answered} · feedback {avg}"
    )
    rows = [
        f"- <@{r.user_id}>: {r.hours:.1f} h · {r.shifts} shift{'s' if r.shifts != 1 else ''} · "
        f"{r.conversations} conversation{'s' if r.conversations != 1 else ''}"
        + (f" ({r.heavy} heavy)" if r.heavy else "")
        for r in report.rows
    ]
    return [head, "**Hours per listener**\n" + (_clip(rows, 3000) if rows else "No hours in this period.")]
