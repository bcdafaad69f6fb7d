"""How listeners' and the rota's cards look: the board, a listener's shifts, the report, settings.

Every card is written by the ``Speaker`` of whoever reads it (``t``): the server's for the board
posted in the listeners' channel, the person's own for a private card.
"""

from __future__ import annotations

from typing import Any

import discord
from babel.numbers import format_decimal

from bot.i18n import N_, Speaker
from bot.services.rota.models import BoardDay, Mine, Report
from bot.storage.listeners import SupportSettings
from bot.timekeeping.markup import stamp
from bot.timekeeping.shifts import long_day
from bot.ui.controls import row
from bot.ui.limits import FittedLayoutView
from bot.ui.style import SOFT_BLUE
from cogs.listeners.views import BoardButton

TD = discord.ui.TextDisplay
ROTA_COLOUR = SOFT_BLUE
TEXT_BUDGET = 3800

GUIDELINES = N_(
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


def mention(user_id: int) -> str:
    """A person's mention (shown as their name; the bot's messages never ping)."""
    return f"<@{user_id}>"


def one_decimal(value: float, t: Speaker) -> str:
    """Hours or an average as the reader writes a number with one decimal: "3.5", German "3,5"."""
    return format_decimal(value, "#,##0.0", locale=t.locale)


def _clip(lines: list[str], budget: int, t: Speaker) -> str:
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            out.append(
                t.n(
                    "…and {n} more: /rota view shows them all.",
                    "…and {n} more: /rota view shows them all.",
                    len(lines) - index,
                )
            )
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def board_sections(
    days: list[BoardDay], t: Speaker, *, highlight: int | None = None, budget: int = TEXT_BUDGET
) -> list[str]:
    sections = [
        t(
            "## Listener rota: the next two weeks\n-# Times show in your own time zone. Each shift shows filled / needed."
        )
    ]
    if not days:
        return [*sections, t("No shifts on the rota yet. Coordinators add them with /rota add.")]
    used = len(sections[0])
    for day in days:
        lines = [f"**{long_day(day.day, t)}**"]
        for c in day.rows:
            mark = "✅" if c.full else ("⚠️" if c.filled == 0 else "➖")
            who = ", ".join(mention(u) for u in c.listeners) or t("nobody yet")
            # Translators: said of a shift on the rota board that the reader is on.
            you = " · " + t("**you**") if highlight is not None and highlight in c.listeners else ""
            label = f" · {c.slot.label}" if c.slot.label else ""
            lines.append(
                f"- {stamp(c.occurrence.starts_at, 't')}–{stamp(c.occurrence.ends_at, 't')} {mark} "
                f"{c.filled}/{c.needed} · {who}{you}{label}"
            )
        text = "\n".join(lines)
        if used + len(text) > budget:
            sections.append(t("…more shifts follow: /rota view shows them all."))
            break
        used += len(text)
        sections.append(text)
    return sections


def board_view(days: list[BoardDay], t: Speaker) -> discord.ui.LayoutView:
    """The board posted in the listeners' channel, in the server's language (``t``)."""
    view = FittedLayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=ROTA_COLOUR)
    for index, section in enumerate(board_sections(days, t)):
        if index:
            container.add_item(discord.ui.Separator(visible=index == 1))
        container.add_item(TD(section))
    container.add_item(row(BoardButton("take", t=t), BoardButton("drop", t=t), BoardButton("mine", t=t)))
    view.add_item(container)
    return view


def card(*sections: str, buttons: list[discord.ui.Item[Any]] | None = None) -> discord.ui.LayoutView:
    view = FittedLayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=ROTA_COLOUR)
    for index, section in enumerate(sections):
        if index:
            container.add_item(discord.ui.Separator())
        container.add_item(TD(section))
    if buttons:
        container.add_item(row(*buttons))
    view.add_item(container)
    return view


def settings_text(settings: SupportSettings, mod_channel: int | None, t: Speaker) -> str:
    def channel(value: int | None) -> str:
        return f"<#{value}>" if value else t("not set")

    role = f"<@&{settings.listener_role_id}>" if settings.listener_role_id else t("not set")
    approval = t("approved automatically") if settings.auto_approve else t("approved by a coordinator")
    relay = (
        t("private threads in the listeners' channel")
        if settings.relay_mode == "thread"
        else t("direct messages with the bot")
    )
    return t(
        "## Listener and support settings\n"
        "- Listener role: {role}\n"
        "- Listeners' channel (rota board, private threads): {channel}\n"
        "- New listeners: {approval}\n"
        "- Relay: {relay}\n"
        "- Offer timeout before asking more people: {offer} min\n"
        "- Idle conversations close after: {idle} min\n"
        "- Shift reminder: {reminder} min before (listeners can change theirs)\n"
        "- Break after a heavy conversation: {cooldown} min\n"
        "- Coordinator alerts go to: {alerts} (set with /setup)",
        role=role,
        channel=channel(settings.listeners_channel_id),
        approval=approval,
        relay=relay,
        offer=settings.offer_timeout_seconds // 60,
        idle=settings.idle_close_minutes,
        reminder=settings.reminder_minutes,
        cooldown=settings.cooldown_minutes,
        alerts=channel(mod_channel),
    )


def mine_sections(mine: Mine, t: Speaker) -> list[str]:
    listener = mine.listener
    now_line = (
        t("You're on shift or on call until {time}.", time=stamp(mine.on_shift_until, "t"))
        if mine.on_shift_until
        else t("You're not on shift right now.")
    )
    if mine.break_until is not None:
        now_line += " " + t("On a break until {time}.", time=stamp(mine.break_until, "t"))
    limit = t("{hours} h", hours=listener.max_weekly_hours) if listener.max_weekly_hours else t("no limit")
    reminders = (
        t("{minutes} min before a shift", minutes=listener.reminder_minutes)
        if listener.reminder_minutes is not None
        else t("the server default")
    )
    head = t(
        "## Your listening\n"
        "{now}\n"
        "- Open conversations: {conversations} (at most {max} at once)\n"
        "- This week: {worked} h so far, {planned} h planned ({limit})\n"
        "- Reminders: {reminders}",
        now=now_line,
        conversations=mine.conversations,
        max=listener.max_concurrent,
        worked=one_decimal(mine.hours_this_week, t),
        planned=one_decimal(mine.planned_this_week, t),
        limit=limit,
        reminders=reminders,
    )
    shifts = [
        f"- {stamp(a.starts_at, 'F')}–{stamp(a.ends_at, 't')}" + (f" · {slot.label}" if slot and slot.label else "")
        for a, slot in mine.shifts
    ]
    listed = _clip(shifts, 2500, t) if shifts else t("None yet: /rota take.")
    return [head, t("**Your next shifts**\n{shifts}", shifts=listed)]


def report_sections(report: Report, t: Speaker) -> list[str]:
    if report.feedback:
        average = one_decimal(sum(report.feedback) / len(report.feedback), t)
        feedback = t.n("{average}/5 from {n}", "{average}/5 from {n}", len(report.feedback), average=average)
    else:
        feedback = t("none given")
    head = t(
        "## Rota report: {start} to {end}\n"
        "- Shifts: {shifts} · fully covered {covered} ({percent}%) · partly {partly} · uncovered {uncovered}\n"
        "- Support requests: {requests} · answered {answered} · feedback {feedback}",
        start=stamp(report.start, "D"),
        end=stamp(report.end, "D"),
        shifts=report.occurrences,
        covered=report.covered,
        percent=report.coverage_percent,
        partly=report.partly,
        uncovered=report.uncovered,
        requests=report.requests,
        answered=report.answered,
        feedback=feedback,
    )
    rows = []
    for r in report.rows:
        line = " · ".join(
            [
                t("{listener}: {hours} h", listener=mention(r.user_id), hours=one_decimal(r.hours, t)),
                t.n("{n} shift", "{n} shifts", r.shifts),
                t.n("{n} conversation", "{n} conversations", r.conversations),
            ]
        )
        if r.heavy:
            line += " " + t.n("({n} heavy)", "({n} heavy)", r.heavy)
        rows.append(f"- {line}")
    listed = _clip(rows, 3000, t) if rows else t("No hours in this period.")
    return [head, t("**Hours per listener**\n{rows}", rows=listed)]
