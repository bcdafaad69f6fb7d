"""Views and forms keep to Discord's length limits whatever a translation makes of their texts."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.ui.errors import ErrorHandlingModal
from bot.ui.limits import FittedLayoutView, FittedView, fit_components


def test_a_long_button_label_is_shortened_with_an_ellipsis(caplog: pytest.LogCaptureFixture) -> None:
    view = FittedView(timeout=None)
    view.add_item(discord.ui.Button(label="Drücke hier, um alles noch einmal in Ruhe zu lesen " * 3, custom_id="x"))
    (row,) = view.to_components()
    label = row["components"][0]["label"]
    assert len(label) <= 80 and label.endswith("…")
    assert "Drücke" not in caplog.text and "type2.label" in caplog.text  # the field, never the text


def test_select_options_placeholders_and_nested_layouts_fit() -> None:
    view = FittedLayoutView(timeout=None)
    select: discord.ui.Select[Any] = discord.ui.Select(placeholder="p" * 200, custom_id="s")
    select.add_option(label="l" * 150, value="v", description="d" * 150)
    view.add_item(discord.ui.Container(discord.ui.ActionRow(select)))
    select_payload = view.to_components()[0]["components"][0]["components"][0]
    assert len(select_payload["placeholder"]) == 150
    assert [len(select_payload["options"][0][k]) for k in ("label", "description")] == [100, 100]
    assert select_payload["options"][0]["value"] == "v"  # what the bot reads back is never touched


def test_short_texts_are_left_alone() -> None:
    components: list[dict[str, Any]] = [{"type": 1, "components": [{"type": 2, "label": "Post", "custom_id": "a"}]}]
    assert fit_components(components)[0]["components"][0]["label"] == "Post"


def test_a_form_title_and_its_field_label_and_hint_fit() -> None:
    class Form(ErrorHandlingModal):
        def __init__(self) -> None:
            super().__init__(card="share:post", title="Un título larguísimo que ninguna ventana de Discord acepta")
            self.add_item(
                discord.ui.Label(
                    text="Una etiqueta que también es demasiado larga para Discord",
                    description="Se muestran a todas las personas antes de unirse. Deja el campo vacío para usar las normas.",
                    component=discord.ui.TextInput(custom_id="t"),
                )
            )

    payload = Form().to_dict()
    assert len(payload["title"]) <= 45 and payload["title"].endswith("…")
    label = payload["components"][0]
    assert len(label["label"]) <= 45 and label["label"].endswith("…") and len(label["description"]) <= 100
