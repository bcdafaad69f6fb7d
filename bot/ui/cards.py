"""Every card the bot shows has a name, and every press on it gets an answer.

A *card* is a message with buttons or selects, or a form (modal). Its custom_ids start with the
card's registered name (``privacy:export:3f9a1c2b``, ``share:reply:<share id>``): a stable,
non-identifying prefix that says which command opens the card again. The rest is an action and a
random nonce per card (or, for persistent DynamicItem buttons, a random public id or row number),
never a person or what they wrote.

When nothing live claims a press (the card was superseded, timed out, or shown before a restart),
:mod:`bot.ui.dispatch` answers it privately with :func:`expired_message`: "This card has expired. Run
/privacy to open it again." (in the presser's language). A new card must be added to :data:`CARDS`; the bot's views refuse an
unregistered name, and the end-to-end tests check every custom_id the bot emits.

Private cards are also single-press: :class:`CardGuard` lets one press of a card run at a time
(a second, concurrent press is told the first is in hand) and finishes the card when its work is
done, so a double click does the work once.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import discord

from bot.i18n import N_, SOURCE, Msg, Speaker, msg, pN_, speaker
from bot.ui.language import reader
from bot.ui.style import NO_PINGS

log = logging.getLogger(__name__)


EXPIRED_CARD = N_("This card has expired.")
EXPIRED_FORM = N_("This form has expired, so I didn't keep what you wrote.")
ALREADY = N_("I'm already on it: one press is enough.")
BUSY = N_("I'm still finishing what you pressed a moment ago on this card. Please try again in a moment.")
UNKNOWN_HINT = N_("Please run the command again.")


@dataclass(frozen=True)
class CardKind:
    """What the person is told when a card of this kind is no longer live.

    ``hint`` is an English message marked with ``N_`` (said in the presser's language). When it
    names buttons on a post everyone sees (``{button}``, ``{other}``), ``buttons`` are their labels:
    those are said in the server's language, as the post shows them."""

    hint: str
    persistent: bool = False  # its buttons are DynamicItems: they work after a restart
    buttons: tuple[str | tuple[str, str], ...] = ()  # N_ labels, or pN_ ones with a gettext context


# Every card name the bot may use, longest match wins (``share:reply`` before ``share``).
CARDS: dict[str, CardKind] = {
    # -- private cards and forms (short-lived; gone after a restart) ----------------------
    "privacy": CardKind(N_("Run /privacy to open it again.")),
    "circle:create": CardKind(N_("Run /circle create to start again.")),
    "circle:edit": CardKind(N_("Run /circle edit with rules:True to open it again.")),
    "circle:archive": CardKind(N_("Run /circle archive to open it again.")),
    "circle:delete": CardKind(N_("Run /circle delete to open it again.")),
    "circle:join": CardKind(N_("Run /circle join to open it again.")),
    "circle:leave": CardKind(N_("You can see or delete your data any time with /privacy.")),
    "checkin:details": CardKind(N_("Run /checkin edit to change your latest check-in.")),
    "checkin:edit": CardKind(N_("Run /checkin edit to open it again.")),
    "checkin:delete": CardKind(N_("Run /checkin delete to open it again.")),
    "session:cancel": CardKind(N_("Run /session cancel to open it again.")),
    "session:step-out": CardKind(
        N_("Press **{button}** on the session's opening post to open it again."), buttons=(pN_("button", "I'm here"),)
    ),
    "session:close-confirm": CardKind(
        N_("Press **{button}** on the session's opening post to open it again."),
        buttons=(pN_("button", "Close session"),),
    ),
    "session:comment": CardKind(N_("Your answer to the feedback question is still saved.")),
    "share:post": CardKind(N_("Run /share post to write it again.")),
    "share:replying": CardKind(
        N_("Press **{button}** on the share to write again."), buttons=(N_("Reply anonymously"),)
    ),
    "share:reporting": CardKind(
        N_("Press **{button}** on the share to try again."), buttons=(pN_("button", "Report"),)
    ),
    "share:rejecting": CardKind(
        N_("Press **{button}** on the share to try again."), buttons=(pN_("button", "Reject"),)
    ),
    "share:mine": CardKind(N_("Run /share mine to open it again.")),
    "support:ask": CardKind(N_("Run /support ask to start again.")),
    "support:ending": CardKind(N_("Run /support end to open it again.")),
    "support:send-to": CardKind(N_("Please send your message again.")),
    "support:confirm-block": CardKind(N_("Press **End and block** on the conversation to open it again.")),
    "support:confirm-reveal": CardKind(N_("Press **Share my account with the listener** to open it again.")),
    "support:replying": CardKind(N_("Press **Reply to the member** in the thread to write again.")),
    "support:handing-off": CardKind(N_("Press **Hand off** on the conversation to open it again.")),
    "support:commenting": CardKind(N_("Press **Add a comment for the coordinators** to write again.")),
    "listener:join": CardKind(N_("Run /listener join to open it again.")),
    "listener:leave": CardKind(N_("Run /listener leave to open it again.")),
    "rota:choose": CardKind(
        N_("Press **{button}** or **{other}** on the rota board to open it again."),
        buttons=(N_("Take a shift"), N_("Drop a shift")),
    ),
    # -- persistent buttons (DynamicItems): expired only when the card was redrawn ----------
    "share:reply": CardKind(N_("Please try again from the share in the circle's channel."), persistent=True),
    "share:support": CardKind(N_("Please try again from the share in the circle's channel."), persistent=True),
    "share:report": CardKind(N_("Please try again from the share in the circle's channel."), persistent=True),
    "share:mod": CardKind(N_("Someone may already have acted on this report."), persistent=True),
    "share:review": CardKind(N_("Someone may already have decided on this share."), persistent=True),
    "checkin:mood": CardKind(N_("Run /checkin now to check in."), persistent=True),
    "checkin:prompt": CardKind(N_("Run /checkin now to check in."), persistent=True),
    "checkin:do": CardKind(N_("Run /checkin edit to change your latest check-in."), persistent=True),
    "checkin:request": CardKind(N_("Run /privacy to see what is kept about you."), persistent=True),
    "checkin:reminder": CardKind(N_("Run /checkin reminders to see or change them."), persistent=True),
    "session:rsvp": CardKind(N_("Run /session list to see what's coming up."), persistent=True),
    "session:unrsvp": CardKind(N_("Run /session list to see what's coming up."), persistent=True),
    "session:here": CardKind(N_("Please use the session's latest post."), persistent=True),
    "session:goround": CardKind(N_("Please use the session's latest post."), persistent=True),
    "session:close": CardKind(N_("Please use the session's latest post."), persistent=True),
    "session:pass": CardKind(N_("Please use the go-round's latest post."), persistent=True),
    "session:tstart": CardKind(N_("Please use the go-round's latest post."), persistent=True),
    "session:tpause": CardKind(N_("Please use the go-round's latest post."), persistent=True),
    "session:tnext": CardKind(N_("Please use the go-round's latest post."), persistent=True),
    "session:fb": CardKind(N_("Your answer may already be saved. Thank you."), persistent=True),
    "support:end": CardKind(N_("Run /support end to open it again."), persistent=True),
    "support:cancel": CardKind(N_("Run /support end to open it again."), persistent=True),
    "support:handoff": CardKind(N_("Please use the conversation's latest message."), persistent=True),
    "support:block": CardKind(N_("Please use the conversation's latest message."), persistent=True),
    "support:reveal": CardKind(N_("Please use the conversation's latest message."), persistent=True),
    "support:say": CardKind(N_("Please use the conversation's latest message."), persistent=True),
    "support:comment": CardKind(N_("Please use the latest message about this conversation."), persistent=True),
    "support:heavy": CardKind(N_("Please use the latest message about this conversation."), persistent=True),
    "support:debrief": CardKind(N_("Please use the latest message about this conversation."), persistent=True),
    "support:claim": CardKind(N_("Someone may already have taken this request."), persistent=True),
    "support:offer": CardKind(N_("Someone may already have taken this request."), persistent=True),
    "support:fb": CardKind(N_("Your answer may already be saved. Thank you."), persistent=True),
    "support:unblock": CardKind(N_("Someone may already have lifted this block."), persistent=True),
    "listener:review": CardKind(N_("Someone may already have decided on this application."), persistent=True),
    "rota:board": CardKind(N_("Please use the latest rota board, or /rota take and /rota drop."), persistent=True),
    "rota:swap": CardKind(N_("Run /rota mine to see your shifts."), persistent=True),
}


def card_of(custom_id: str) -> str | None:
    """The registered card a custom_id belongs to (its longest registered prefix), if any."""
    parts = custom_id.split(":")
    for end in range(len(parts), 0, -1):
        name = ":".join(parts[:end])
        if name in CARDS:
            return name
    return None


def expired_message(custom_id: str, *, form: bool = False, labels: Speaker | None = None) -> Msg:
    """The calm private line for a press (or a form) that no live card claims. No content, no names.

    ``labels``: the language of the buttons the line names, as they read where they are (the
    server's, for a post everyone sees; the presser's otherwise). Default: English."""
    name = card_of(custom_id)
    kind = CARDS[name] if name is not None else CardKind(UNKNOWN_HINT)
    buttons_in = labels or speaker(SOURCE)
    named = {
        key: buttons_in.p(*label) if isinstance(label, tuple) else buttons_in(label)
        for key, label in zip(("button", "other"), kind.buttons, strict=False)
    }
    # Translators: "{expired}" says the card (or form) expired; "{hint}" says how to open it again.
    return msg("{expired} {hint}", expired=msg(EXPIRED_FORM if form else EXPIRED_CARD), hint=msg(kind.hint, **named))


def _said(text: str | Msg) -> Msg:
    """What to say: a Msg as it is; an English line of this module (ALREADY, BUSY) as the message."""
    return text if isinstance(text, Msg) else msg(text)


def require_card(name: str) -> str:
    if name not in CARDS:
        raise ValueError(
            f"{name!r} is not a registered card: add it to bot.ui.cards.CARDS with the command that opens it"
        )
    return name


def new_nonce() -> str:
    """Random, per card: tells two versions of the same card apart. Never derived from a person."""
    return secrets.token_hex(4)


async def say_privately(interaction: discord.Interaction[Any], text: str | Msg) -> None:
    """Answer with one private line, in the presser's language; never raises (a lost answer is
    logged, not retried)."""
    text = reader(interaction).render(_said(text))
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
    except discord.HTTPException as exc:
        log.info("could not deliver a card notice code=%s", exc.code)


Callback = Callable[[discord.Interaction[Any]], Coroutine[Any, Any, Any]]


class CardGuard:
    """Names a view's items and makes its presses single-use.

    Each button or select gets the custom_id ``<card>:<action>:<nonce>`` (``action`` is the item's
    ``card_action`` attribute, else its position). Its callback is wrapped so that:

    - while one press of the card is being handled, another press is answered and does nothing:
      :data:`ALREADY` for the same control (a double click), :data:`BUSY` for another one;
    - when a press succeeds, the card is finished (the view stops: a later press is answered as
      expired), unless the item has ``keeps_card = True`` (Export, Edit: the card stays usable);
    - when a press fails, the card stays live, so the person can try again after the error message.
    """

    def __init__(self, card: str | None) -> None:
        self.card = require_card(card) if card is not None else None
        self.nonce = new_nonce()
        self.busy: discord.ui.Item[Any] | None = None  # the control whose press is being handled

    def prepare(self, view: discord.ui.view.BaseView) -> None:
        """Name and guard every item not prepared yet. Called before each send (``to_components``)."""
        for index, item in enumerate(view.walk_children()):
            if getattr(item, "_card_guarded", False) or not item.is_dispatchable():
                continue
            if isinstance(item, discord.ui.DynamicItem):
                continue  # persistent: its custom_id is its own registered template
            if self.card is None:
                raise TypeError(f"{type(view).__name__} has buttons but no card name (see bot.ui.cards)")
            action = getattr(item, "card_action", None) or str(index)
            item.custom_id = f"{self.card}:{action}:{self.nonce}"  # type: ignore[attr-defined]
            item.callback = self._guarded(view, item, item.callback)  # type: ignore[method-assign,assignment]
            item._card_guarded = True  # type: ignore[attr-defined]

    def _guarded(self, view: discord.ui.view.BaseView, item: discord.ui.Item[Any], callback: Callback) -> Callback:
        keeps_card = bool(getattr(item, "keeps_card", False))
        guard = self

        async def press(interaction: discord.Interaction[Any]) -> None:
            if guard.busy is not None:  # another press of this card is being handled
                await say_privately(interaction, ALREADY if guard.busy is item else BUSY)
                return
            if view.is_finished():  # dispatched while live, but another press finished the card first
                await say_privately(  # the buttons it names as the presser reads them
                    interaction,
                    expired_message(item.custom_id or "", labels=reader(interaction)),  # type: ignore[attr-defined]
                )
                return
            guard.busy = item
            try:
                await callback(interaction)
            finally:
                guard.busy = None
            if not keeps_card:
                view.stop()

        return press
