"""Discord's length limits on what a component or a form shows, kept whatever the language.

A translation may run longer than the English it replaces: a button label past 80 characters,
a form title past 45, and Discord refuses the whole message or form (the person would see
"This interaction failed"). Every view and form the bot sends is serialised through
:func:`fit_components` (the bases below and in ``bot/ui/errors.py``), which shortens such a text
with an ellipsis and logs which field it was, never the text. ``tests/test_i18n.py`` checks the
catalogues against the same limits where it can tell what a message is used for, so a clipped
label is a slip to fix in a catalogue, not something a person should ever see often.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import discord

log = logging.getLogger(__name__)

__all__ = ["COMPONENT_LIMITS", "MODAL_TITLE", "FittedLayoutView", "FittedView", "fit_components", "fit_modal"]

MODAL_TITLE: Final = 45
# Component type -> the limits of its texts (Discord's API reference, "Message Components").
COMPONENT_LIMITS: Final[dict[int, dict[str, int]]] = {
    2: {"label": 80},  # button
    3: {"placeholder": 150},  # string select
    4: {"label": 45, "placeholder": 100},  # text input
    5: {"placeholder": 150},  # user select
    6: {"placeholder": 150},  # role select
    7: {"placeholder": 150},  # mentionable select
    8: {"placeholder": 150},  # channel select
    18: {"label": 45, "description": 100},  # label (a form field's title and hint)
}
OPTION_LIMITS: Final = {"label": 100, "description": 100}


def _clip(holder: dict[str, Any], key: str, limit: int, where: str) -> None:
    value = holder.get(key)
    if isinstance(value, str) and len(value) > limit:
        holder[key] = value[: limit - 1].rstrip() + "…"
        log.warning(
            "shortened a component text to Discord's limit field=%s.%s length=%d limit=%d",
            where,
            key,
            len(value),
            limit,
        )


def _fit(node: Any, where: str) -> None:
    if isinstance(node, list):
        for item in node:
            _fit(item, where)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    name = f"type{kind}"
    for key, limit in COMPONENT_LIMITS.get(kind, {}).items() if isinstance(kind, int) else ():
        _clip(node, key, limit, name)
    for option in node.get("options") or []:
        if isinstance(option, dict):
            for key, limit in OPTION_LIMITS.items():
                _clip(option, key, limit, f"{name}.option")
    for key in ("components", "component", "accessory"):
        if key in node:
            _fit(node[key], name)


def fit_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``components`` with every label, placeholder and hint within Discord's limits (in place)."""
    _fit(components, "view")
    return components


def fit_modal(payload: dict[str, Any]) -> dict[str, Any]:
    _clip(payload, "title", MODAL_TITLE, "modal")
    fit_components(payload.get("components") or [])
    return payload


class FittedView(discord.ui.View):
    """A classic view (rows of buttons and selects) whose texts always fit."""

    def to_components(self) -> list[dict[str, Any]]:
        return fit_components(super().to_components())


class FittedLayoutView(discord.ui.LayoutView):
    """A Components V2 layout whose texts always fit."""

    def to_components(self) -> list[dict[str, Any]]:
        return fit_components(super().to_components())
