"""Every member in their own language: the catalogues are complete and honest, and Discord gets
valid localisations for every command.

The checks on translations run on the real catalogues in bot/locales/; who reads which
language is tested per feature in the end-to-end tests (with tests/i18n_fakes.py).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog

import bot.catalogues as catalogues
from bot.client import PeerCirclesBot
from bot.i18n import SOURCE, Msg, language_of, languages, msg, msgs, speaker
from bot.sandbox.actors import Sandbox
from bot.sandbox.errors import DiscordHTTPError
from bot.sandbox.routes.application import _check_localizations
from bot.ui.command_i18n import discord_locales

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("de", "es", "fr", "pt_BR")

# --------------------------------------------------------------------------- the catalogues


def test_the_five_languages_ship() -> None:
    assert set(SHIPPED) | {SOURCE} <= set(languages())


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("de", "de"),
        ("pt-BR", "pt_BR"),
        ("es-ES", "es"),
        ("es-419", "es"),
        ("en-GB", "en"),
        ("en-US", "en"),
        ("fr", "fr"),
        ("ja", "en"),
        (None, "en"),
    ],
)
def test_discord_locales_map_to_shipped_languages(tag: str | None, language: str) -> None:
    assert language_of(tag) == language


@pytest.fixture(scope="module")
def template() -> Catalog:
    return catalogues.build_template()


def test_the_template_is_up_to_date_with_the_code(template: Catalog) -> None:
    committed = catalogues.read(catalogues.TEMPLATE)
    now = {(m.id if isinstance(m.id, str) else tuple(m.id), m.context) for m in template if m.id}
    then = {(m.id if isinstance(m.id, str) else tuple(m.id), m.context) for m in committed if m.id}
    assert sorted(map(str, now - then)) == [], "run python -m bot.catalogues extract && ... update"
    assert sorted(map(str, then - now)) == [], "run python -m bot.catalogues extract && ... update"


def test_every_message_is_translated_with_the_same_fields_and_compiled(template: Catalog) -> None:
    problems = catalogues.problems(template)
    assert problems == [], f"{len(problems)} problems, for example: {problems[:10]}"


def test_a_button_named_in_a_sentence_reads_as_the_button_does(template: Catalog) -> None:
    """“Press **Reply anonymously** on the share” must name the button by its translated label."""
    mismatches: list[str] = []
    for path in catalogues.po_files():
        language = path.parent.parent.name
        catalog = catalogues.read(path, language)
        labels: dict[str, set[str]] = {}
        for m in catalog:
            if isinstance(m.id, str) and m.id and len(m.id) <= 40 and "{" not in m.id and isinstance(m.string, str):
                labels.setdefault(m.id, set()).add(m.string.rstrip("."))
        for m in catalog:
            english = m.id if isinstance(m.id, str) else m.id[0] if m.id else ""
            translated = m.string if isinstance(m.string, str) else (m.string[0] if m.string else "")
            for named in re.findall(r"\*\*([^*{}]{2,40})\*\*", english):
                if named in labels and not any(f"**{label}" in (translated or "") for label in labels[named]):
                    mismatches.append(f"{language}: {named!r} in {english[:50]!r}")
    assert mismatches == []


# Keyword arguments of discord.py's components whose text Discord limits (and to how many characters).
SLOTS = {
    "Label": {"text": 45, "description": 100},
    "TextInput": {"label": 45, "placeholder": 100},
    "Button": {"label": 80},
    "SelectOption": {"label": 100, "description": 100},
    "Select": {"placeholder": 150},
}


def slotted_messages() -> dict[tuple[str | None, str], int]:
    """(context, English) -> limit, for each message written straight into a limited slot."""
    found: dict[tuple[str | None, str], int] = {}

    def messages(node: ast.AST) -> list[tuple[str | None, str]]:
        out: list[tuple[str | None, str]] = []
        for call in ast.walk(node):
            if not isinstance(call, ast.Call) or not call.args:
                continue
            name = getattr(call.func, "id", None) or getattr(call.func, "attr", "")
            first = call.args[0]
            if name in ("t", "msg", "N_") and isinstance(first, ast.Constant) and isinstance(first.value, str):
                out.append((None, first.value))
            elif name == "p" and len(call.args) > 1 and isinstance(call.args[1], ast.Constant):
                context = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
                out.append((context, str(call.args[1].value)))
        return out

    for folder in ("bot", "cogs"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.is_relative_to(ROOT / "bot" / "sandbox"):
                continue
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = str(getattr(node.func, "id", None) or getattr(node.func, "attr", ""))
                for keyword in node.keywords:
                    limit = 45 if keyword.arg == "title" else SLOTS.get(name, {}).get(keyword.arg or "")
                    for key in messages(keyword.value) if limit else []:
                        found[key] = min(limit or 0, found.get(key, 10_000))
    return found


def test_translations_fit_where_discord_limits_them() -> None:
    """A form title, a field's label or hint, a button: what Discord would refuse if too long
    (bot/ui/limits.py shortens it anyway; this keeps that from ever being needed)."""
    slots = slotted_messages()
    assert len(slots) >= 30
    too_long = []
    for path in catalogues.po_files():
        language = path.parent.parent.name
        catalog = catalogues.read(path, language)
        for (context, english), limit in slots.items():
            entry = catalog.get(english, context=context)
            if entry is not None and isinstance(entry.string, str) and len(entry.string) > limit:
                too_long.append(f"{language}: {english!r} ({len(entry.string)} > {limit})")
    assert too_long == []


def test_a_field_can_not_be_lost_in_translation() -> None:
    assert catalogues.fields("{n} people and {name}") == {"n", "name"}
    assert catalogues.fields("{{literal}} braces") == set()
    assert not catalogues.same_allowed("Checked in.", None)
    assert catalogues.same_allowed("peer-circles", None)
    assert catalogues.same_allowed("**{name}**: {value}", None)
    assert catalogues.same_allowed("checkin", "command name")


# --------------------------------------------------------------------------- the code


MARKERS = {"t", "msg", "msgs", "N_", "n", "p"}


def code_files() -> list[Path]:
    """The files the extractor reads (bot.catalogues.SKIP aside)."""
    return [
        path
        for folder in ("bot", "cogs")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not path.is_relative_to(ROOT / "bot" / "sandbox") and path.name != "catalogues.py"
    ]


def marker_calls() -> Iterator[tuple[Path, ast.Call, ast.expr]]:
    """Every call to a translation function, with the argument that holds its message."""
    for path in code_files():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in MARKERS:
                yield path, node, node.args[1] if name == "p" and len(node.args) > 1 else node.args[0]


def calls_with_built_text() -> list[str]:
    """Calls to the translation functions whose message isn't a literal (the extractor can't see it)."""
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, node, first in marker_calls()
        if isinstance(first, (ast.JoinedStr, ast.BinOp))
    ]


# What returns a Speaker: a sentence said through anything but a name in MARKERS is not extracted.
SPEAKER_SOURCES = {
    "reader",
    "speaker",
    "server_speaker",
    "speaker_for",
    "person",
    "server",
    "_server",
    "_dm",
    "_member",
    "_reader",
    "_writer",
    "_writer_or_english",
}


def sentences_the_extractor_cant_see() -> list[str]:
    """``reader(i)("…")``, ``said = reader(i)`` then ``said("…")``, ``Msg("…")``: each a
    sentence in the code that never reaches the catalogues, so every language reads it in English."""
    found: list[str] = []

    def called(node: ast.expr) -> str:
        target = node.func if isinstance(node, ast.Call) else node
        if isinstance(target, ast.Await):
            return called(target.value)
        if isinstance(target, ast.Call):
            return called(target.func)
        return target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""

    for path in code_files():
        tree = ast.parse(path.read_text("utf-8"))
        speakers = {
            target.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            and isinstance(node.value, (ast.Call, ast.Await))
            and called(node.value) in SPEAKER_SOURCES
            for target in node.targets
            if isinstance(target, ast.Name)
        } - MARKERS
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            if not isinstance(node.args[0].value, str):
                continue
            func = node.func
            through_a_call = isinstance(func, ast.Call) and called(func) in SPEAKER_SOURCES
            renamed = isinstance(func, ast.Name) and func.id in speakers
            built = isinstance(func, ast.Name) and func.id == "Msg" and path != ROOT / "bot" / "i18n" / "__init__.py"
            if through_a_call or renamed or built:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_sentence_is_said_through_a_name_the_extractor_knows() -> None:
    assert sentences_the_extractor_cant_see() == []


def test_every_message_is_a_literal_the_extractor_can_read() -> None:
    assert calls_with_built_text() == []


def errors_with_built_text() -> list[str]:
    """Errors raised with an f-string or a bare string: the person would read it in English."""
    import bot.errors

    errors = {
        n for n, o in vars(bot.errors).items() if isinstance(o, type) and issubclass(o, bot.errors.PeerCirclesError)
    }
    found: list[str] = []
    for folder in ("bot", "cogs"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.is_relative_to(ROOT / "bot" / "sandbox"):
                continue
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if name in errors - {"MissingBotPermissions"} and isinstance(
                    node.args[0], (ast.JoinedStr, ast.Constant)
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_error_a_person_reads_is_a_message() -> None:
    assert errors_with_built_text() == []


def test_every_permission_the_bot_names_is_one_discord_translates() -> None:
    from bot.ui.errors import PERMISSION_NAMES
    from bot.ui.guild_ops import ATTRIBUTES

    named: set[str] = set(ATTRIBUTES)
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "cogs").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call) or getattr(node.func, "id", "") != "MissingBotPermissions":
                continue
            if node.args and isinstance(node.args[0], ast.List):
                named |= {str(e.value) for e in node.args[0].elts if isinstance(e, ast.Constant)}
    assert named <= set(PERMISSION_NAMES.values())


def literal_messages() -> set[str]:
    """The English text of every translation call in the code, read with ast."""
    return {
        first.value
        for _, _, first in marker_calls()
        if isinstance(first, ast.Constant) and isinstance(first.value, str)
    }


def test_the_extractor_misses_no_message(template: Catalog) -> None:
    """Babel silently skips a message whose other arguments call a function with a string
    (``t("… {x}", x=stamp(d, "R"))``): compute such values before the call."""
    extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    missing = sorted(text for text in literal_messages() if text not in extracted)
    assert missing == []


def test_lazy_messages_render_in_the_readers_language() -> None:
    message = msg("Hello {name}.", name="Ana")
    assert str(message) == "Hello Ana."
    plural = msgs("{n} person", "{n} people", 3)
    assert str(plural) == "3 people"
    nested = Msg("{a} {b}", {"a": msg("Yes."), "b": "ok"})
    assert speaker(SOURCE).render(nested) == "Yes. ok"


def test_dates_and_numbers_follow_the_language() -> None:
    from datetime import date, timedelta

    assert "März" in speaker("de").date(date(2026, 3, 3), "long") or "de" not in languages()
    assert speaker("en").relative(timedelta(days=3)) == "in 3 days"
    assert speaker("en").weekday(0) == "Monday"


# --------------------------------------------------------------------------- slash commands


def test_the_sandbox_refuses_what_discord_refuses() -> None:
    good = {"name": "checkin", "description": "x", "name_localizations": {"de": "einchecken"}}
    _check_localizations(good, "0", chat_name=True)
    for bad in (
        {"name_localizations": {"xx": "a"}},
        {"name_localizations": {"de": "Ein Checkin"}},
        {"name_localizations": {"de": "x" * 33}},
        {"description_localizations": {"fr": "x" * 101}},
        {"description_localizations": {"fr": ""}},
        {"options": [{"name": "when", "name_localizations": {"es-ES": "Cuándo?"}}]},
        {"options": [{"name": "day", "choices": [{"name": "Mon", "name_localizations": {"pt": "seg"}}]}]},
    ):
        with pytest.raises(DiscordHTTPError):
            _check_localizations(bad, "0", chat_name=True)
    # A context-menu command's name may have spaces and capitals.
    _check_localizations({"name_localizations": {"de": "Anonymen Beitrag entfernen"}}, "0", chat_name=False)


def localized(payload: dict[str, Any]) -> list[tuple[str, set[str]]]:
    """(where, locales) for every name and description in a synced command, recursively."""
    found: list[tuple[str, set[str]]] = []
    found.append((f"{payload['name']} name", set(payload.get("name_localizations") or {})))
    if payload.get("type", 1) == 1:
        found.append((f"{payload['name']} description", set(payload.get("description_localizations") or {})))
    for option in payload.get("options") or []:
        found.extend(localized(option))
    for choice in payload.get("choices") or []:
        if choice["value"] in languages():
            continue  # /setup language offers each language by its own name, never translated
        found.append((f"{payload['name']}={choice['name']}", set(choice.get("name_localizations") or {})))
    return found


async def test_every_command_syncs_with_every_shipped_language(sandbox: Sandbox, bot: PeerCirclesBot) -> None:
    await bot.sync_commands(force=True)
    expected = set(discord_locales())
    assert {"de", "fr", "es-ES", "es-419", "pt-BR"} <= expected
    synced = list(sandbox.server.commands[None].values())
    assert len(synced) >= 10
    missing = [
        (where, sorted(expected - locales)) for cmd in synced for where, locales in localized(cmd) if expected - locales
    ]
    assert missing == []


# --------------------------------------------------------------------------- the real words


async def test_with_the_real_catalogues_each_person_reads_their_own_language(
    sandbox: Sandbox, bot: PeerCirclesBot
) -> None:
    """A Spanish server, a German writer, a Brazilian reader, with the shipped translations:
    the private preview in German, the public share and its buttons in Spanish, the reply form
    the Brazilian member opens from it in Portuguese, the slash commands in each one's words."""
    es, de, pt = speaker("es"), speaker("de"), speaker("pt_BR")
    await sandbox.server.set_guild_locale(sandbox.guild, "es-ES")
    ana = sandbox.admin("ana")
    await ana.slash("setup", moderation_channel=sandbox.channel("moderation"))
    await (await ana.submit_modal(await ana.slash("circle create", name="Grief", description="x"))).settled()
    lena = sandbox.member("lena", locale="de")
    joao = sandbox.member("joao", locale="pt-BR")
    for person, words in ((lena, de), (joao, pt)):
        offer = await person.slash("circle join", circle="Grief")
        assert offer.ephemeral and words("I agree, join") in offer.message.buttons
        await person.click(offer, words("I agree, join"))

    form = await lena.slash("share post")
    assert form.modal["title"] == de("Share with {circle}", circle="Grief")
    preview = await lena.submit_modal(form, **{"share:text": "Heute war ein stiller Tag.", "share:warning": ""})
    assert preview.ephemeral and de.p("button", "Post") in preview.message.buttons
    await (await lena.click(preview, de.p("button", "Post"))).settled()
    share = await sandbox.channel("circulo-grief").wait_for_message("Heute war ein stiller Tag.")  # named in Spanish
    assert es("Reply anonymously") in share.buttons and es.p("button", "Report") in share.buttons
    reply = await joao.click(share, es("Reply anonymously"))
    assert reply.kind == "modal" and reply.modal["title"] == pt("Reply anonymously")
    assert {de("Reply anonymously"), pt("Reply anonymously"), es("Reply anonymously")} == {
        "Anonym antworten",
        "Responder anonimamente",
        "Responder de forma anónima",
    }
