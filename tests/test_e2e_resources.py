"""/resources end to end: the server's country first, any other on request, also in DMs."""

from __future__ import annotations

import pytest

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Sandbox


async def test_resources_show_the_servers_country_privately(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    ana = sandbox.admin("ana")
    choices = await ana.autocomplete("setup", "region", "united k")
    assert "GB" in [c["value"] for c in choices]
    await ana.slash("setup", region="GB")
    alice = sandbox.member("alice")
    shown = await alice.slash("resources")
    assert shown.ephemeral
    assert "United Kingdom" in shown.text and "116 123" in shown.text and "999" in shown.text
    assert shown.text.index("United Kingdom") < shown.text.index("Anywhere in the world")
    assert "because this server is set to it" in shown.text
    assert sandbox.channel("general").messages == []


async def test_resources_for_another_country_and_in_dms(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    choices = await alice.autocomplete("resources", "country", "germ")
    assert choices and choices[0]["value"] == "DE"
    germany = await alice.slash("resources", country="DE")
    assert "Germany" in germany.text and "United Kingdom" not in germany.text
    in_dm = await sandbox.member("sam", in_server=False).slash("resources")
    assert "Anywhere in the world" in in_dm.text and "findahelpline.com" in in_dm.text
    assert "Pick your country" in in_dm.text


async def test_a_country_is_found_by_its_name_in_the_searchers_language(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    """A Spanish speaker types "Alemania", a French one "Royaume" (for the United Kingdom): the
    suggestions and the typed name both find it, named in their language."""
    ines = sandbox.member("ines", locale="es-ES")
    choices = await ines.autocomplete("resources", "country", "Alema")
    assert [c["value"] for c in choices] == ["DE"] and choices[0]["name"] == "Alemania"
    typed = await ines.slash("resources", country="Alemania")
    assert "I don't have a list" not in typed.text and "Alemania" in typed.text
    assert [c["value"] for c in await sandbox.member("alice").autocomplete("resources", "country", "Alema")] == []
    camille = sandbox.member("camille", locale="fr")
    assert (await camille.autocomplete("resources", "country", "Royaume"))[0]["value"] == "GB"
    ana = sandbox.admin("ana")
    ana.user.locale = "de"
    regions = await ana.autocomplete("setup", "region", "Österr")
    assert [c["value"] for c in regions] == ["AT"]


async def test_an_unknown_country_gets_a_kind_answer(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    reply = await sandbox.member("alice").slash("resources", country="Atlantis")
    assert "I don't have a list for “Atlantis” yet" in reply.text
    unset = await sandbox.member("alice").slash("resources")
    assert "Anywhere in the world" in unset.text


async def test_the_crisis_card_speaks_the_readers_language(
    sandbox: Sandbox, bot: PeerCirclesBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.i18n_fakes import marked, marked_catalogues

    with marked_catalogues(monkeypatch):
        await sandbox.admin("ana").slash("setup", region="DE")
        lena = sandbox.member("lena", locale="de")
        shown = await lena.slash("resources")
        assert marked("de", "## Support, right now") in shown.text
        assert "Deutschland" in shown.text  # the country's name from CLDR, in German
        assert "TelefonSeelsorge" in shown.text  # service names stay as published
        english = await sandbox.member("eve").slash("resources")
        assert "## Support, right now" in english.text and "[de]" not in english.text
