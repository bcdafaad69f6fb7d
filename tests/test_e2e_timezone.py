"""/timezone end to end."""

from __future__ import annotations

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Sandbox


async def test_set_show_and_clear_a_time_zone(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    alice = sandbox.member("alice")
    shown = await alice.slash("timezone show")
    assert "I use **UTC** for you (the server's" in shown.text
    choices = await alice.autocomplete("timezone set", "zone", "new y")
    assert choices[0]["value"] == "America/New_York"
    done = await alice.slash("timezone set", zone="America/New_York")
    assert done.ephemeral and "Your time zone is now **America/New_York**" in done.text
    assert await bot.services.member_time.zone_name(sandbox.guild.id, alice.id) == ("America/New_York", True)
    bad = await alice.slash("timezone set", zone="Narnia/Cair_Paravel")
    assert "I don't know the time zone" in bad.text
    assert await bot.services.member_time.zone_name(sandbox.guild.id, alice.id) == ("America/New_York", True)
    await alice.slash("timezone clear")
    assert await bot.services.member_time.zone_name(sandbox.guild.id, alice.id) == ("UTC", False)
    assert sandbox.channel("general").messages == []
