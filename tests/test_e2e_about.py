"""End to end: the real discord.py client against the sandbox, /about and /help."""

from __future__ import annotations

from bot.client import PeerCirclesBot
from bot.sandbox.actors import Sandbox


async def test_commands_synced_and_about_is_private(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    assert {"about", "help"} <= set(sandbox.commands)
    alice = sandbox.member("alice")
    reply = await alice.slash("about")
    assert reply.kind == "message"
    assert reply.ephemeral
    assert "peer support" in reply.text
    assert "Version" in reply.text
    assert alice.ephemeral_replies == [reply.message]
    # Nobody else sees anything: the general channel has no public message.
    assert sandbox.channel("general").messages == []


async def test_help_shows_listener_and_facilitator_commands_to_those_who_hold_the_role(
    sandbox: Sandbox, bot: PeerCirclesBot
) -> None:
    from tests.support_harness import become_listener, setup_server

    await setup_server(sandbox)
    lena = await become_listener(sandbox, "lena")
    listener_help = (await lena.slash("help")).text
    assert "For volunteer listeners" in listener_help and "/rota take" in listener_help
    facilitators = await sandbox.add_role("Grief facilitators")
    ana = sandbox.admin("ana")
    opened = await ana.slash("circle create", name="Grief", facilitator_role=facilitators)
    await (await ana.submit_modal(opened)).settled()
    fran = sandbox.member("fran", roles=["Grief facilitators"])
    fran_help = (await fran.slash("help")).text
    assert "For facilitators and coordinators" in fran_help and "/session schedule" in fran_help
    member_help = (await sandbox.member("alice").slash("help")).text
    assert "/rota take" not in member_help and "/session schedule" not in member_help
