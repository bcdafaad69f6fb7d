"""`peer-circles demo` plays its scenario and exits 0."""

from __future__ import annotations

import pytest

from bot.demo import LINES, run_demo
from bot.i18n import speaker
from bot.safety import Level, assess
from bot.services.about import PURPOSE


async def test_demo_runs_every_scene() -> None:
    lines: list[str] = []
    assert await run_demo(out=lines.append) == 0
    text = "\n".join(lines)
    assert "Alice runs /about" in text
    assert "Demo finished" in text


@pytest.mark.parametrize("language", ["de", "es", "fr", "pt_BR"])
async def test_the_demo_plays_in_each_shipped_language(language: str) -> None:
    lines: list[str] = []
    assert await run_demo(out=lines.append, language=language) == 0
    text = "\n".join(lines)
    assert speaker(language)(PURPOSE) in text
    assert PURPOSE not in text  # the bot said nothing in English
    assert LINES[language]["share"] in text


def test_what_the_demo_people_type_is_not_crisis_language() -> None:
    for language, lines in LINES.items():
        for key, line in lines.items():
            assert assess(line).level is Level.NONE, (language, key)


async def test_the_demo_refuses_a_language_it_does_not_have() -> None:
    assert await run_demo(out=lambda _: None, language="xx") == 2
