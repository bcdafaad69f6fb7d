"""Who reads which language, for circles, /setup, /privacy, /help and /about (issue 15).

The catalogues are the marked fakes of tests/i18n_fakes.py: each language prefixes what it says
with its code (``[de] ...``), so each assertion says whose language a text was written in. The bot
starts inside them, so ``/setup language`` offers the fake languages as its choices.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Sandbox
from bot.sandbox.harness import BotHarness
from bot.sandbox.models import walk_components
from bot.services.circles import DEFAULT_GROUND_RULES
from tests.i18n_fakes import marked, marked_catalogues

FIRST_RULE = DEFAULT_GROUND_RULES.splitlines()[0]


def rules_field(modal: dict[str, Any]) -> str:
    """What the ground rules form shows before anyone types."""
    found = [c for c in walk_components(modal.get("components", [])) if c.get("custom_id") == "circle:rules"]
    assert found, modal
    return str(found[0].get("value", ""))


async def test_circles_and_setup_speak_to_each_reader_and_post_in_the_servers_language(
    sandbox: Sandbox, harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    with marked_catalogues(monkeypatch):
        bot = await harness.start()
        assert isinstance(bot, PeerCirclesBot)
        await sandbox.server.set_guild_locale(sandbox.guild, "es-ES")
        ana = sandbox.admin("ana")
        sandbox.member("ana", locale="fr")  # her Discord is in French
        mod = sandbox.channel("moderation")

        # /setup: her private reply in French; the audit line for the server, in Spanish.
        saved = await ana.slash("setup", moderation_channel=mod)
        assert saved.ephemeral
        assert marked("fr", "**Saved**") in saved.text and marked("fr", "**Current settings**") in saved.text
        assert marked("fr", "You changed") in saved.text and "[es]" not in saved.text
        audit = await mod.wait_for_message(marked("es", "changed"))
        assert audit.text.startswith(marked("es", f"⚙️ <@{ana.id}>")) and "[fr]" not in audit.text

        # A circle with the default ground rules: the form shows them in French; sent back as shown,
        # they stay the defaults, stored in English.
        opened = await ana.slash("circle create", name="Grief", description="For anyone grieving")
        assert opened.modal["title"] == marked("fr", "Ground rules for Grief")
        shown = rules_field(opened.modal)
        assert shown.startswith(marked("fr", FIRST_RULE))
        created = await ana.submit_modal(opened, **{"circle:rules": shown})
        await created.settled()
        assert marked("fr", "Created **Grief**") in created.text
        row = await bot.services.db.fetchone("SELECT * FROM circles WHERE name = 'Grief'")
        assert row is not None and row["ground_rules"] == DEFAULT_GROUND_RULES
        await mod.wait_for_message(marked("es", "created the circle **Grief**"))
        role = sandbox.guild.roles[row["member_role_id"]]
        assert role.name == marked("es", "Circle: Grief"), "the role is the server's: named in its language"

        # A member whose Discord is in Brazilian Portuguese reads the consent card, the default rules
        # and the buttons in it; someone in English reads English.
        pia = sandbox.member("pia", locale="pt-BR")
        offer = await pia.slash("circle join", circle="Grief")
        assert offer.ephemeral
        assert marked("pt_BR", "## Join Grief") in offer.text and marked("pt_BR", FIRST_RULE) in offer.text
        assert f"*{role.name}*" in offer.text, "the role as Discord shows it"
        assert offer.message.buttons == [marked("pt_BR", "I agree, join"), marked("pt_BR", "Not now")]
        joined = await pia.click(offer, marked("pt_BR", "I agree, join"))
        assert joined.message.text.startswith(marked("pt_BR", "Welcome to **Grief**."))
        english = await sandbox.member("eve").slash("circle info", circle="Grief")
        assert FIRST_RULE in english.text and "[" not in english.text.replace(f"<@&{role.id}>", "")

        # /setup language: the audit lines follow the server's new language; Ana still reads French.
        changed = await ana.slash("setup", language="de")
        assert marked("fr", "You changed") in changed.text and "Deutsch" in changed.text
        assert (await bot.services.guild_settings.get(sandbox.guild.id)).language == "de"
        await mod.wait_for_message(marked("de", "changed"))
        # A moderation alert is posted for the server: in its language.
        await sandbox.server.remove_role(sandbox.guild, role)
        alert = await mod.wait_for_message("role of the **Grief** circle was deleted")
        assert alert.text.startswith(marked("de", "⚠️"))
        # Back to Discord's server language (Spanish).
        await ana.slash("setup", language="discord")
        assert (await bot.services.guild_settings.get(sandbox.guild.id)).language is None
        await mod.wait_for_message(marked("es", "changed"))


async def test_privacy_help_about_and_the_export_dm_are_in_the_readers_language(
    sandbox: Sandbox, harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    with marked_catalogues(monkeypatch):
        await harness.start()
        await sandbox.server.set_guild_locale(sandbox.guild, "es-ES")
        lena = sandbox.member("lena", locale="de")
        card = await lena.slash("privacy")
        assert marked("de", "## Your data in this server") in card.text
        assert card.message.buttons == [marked("de", "Export my data"), marked("de", "Delete my data")]
        exported = await lena.click(card, marked("de", "Export my data"))
        await exported.settled()
        assert marked("de", "I've sent your data to you in a direct message.") in exported.text
        # The DM answers her press at once: in the language she pressed in, not the server's.
        dm = await lena.wait_for_dm("JSON file")
        assert dm.text.startswith(marked("de", "Here is a copy")) and "[es]" not in dm.text

        shown = await lena.slash("help")
        assert marked("de", "## How to use peer-circles") in shown.text
        assert marked("de", "For everyone") in shown.text
        assert marked("de", "What this bot is for, what it stores and for how long.") in shown.text
        about = await lena.slash("about")
        assert marked("de", "## About peer-circles") in about.text and "Version" in about.text
        zone = await lena.slash("timezone show")
        assert zone.text.startswith(marked("de", "I use **UTC** for you"))
        assert sandbox.channel("general").messages == []
