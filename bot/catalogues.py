"""Maintain the message catalogues (a developer's tool, not used by the running bot).

    python -m bot.catalogues extract   # bot/locales/peer_circles.pot from the code and the command tree
    python -m bot.catalogues update    # merge the template into every language's .po (new messages empty)
    python -m bot.catalogues compile   # .po -> .mo, which the bot loads
    python -m bot.catalogues check     # what tests/test_i18n.py checks, as a list to fix

Messages are found with Babel in ``bot/`` and ``cogs/`` by these calls (see :mod:`bot.i18n`):
``t(text)``, ``t.n(singular, plural, n)``, ``t.p(context, text)``, ``msg(text)``,
``msgs(singular, plural, n)`` and ``N_(text)``; and every slash command's name (context
``command name``), description, option and choice, read from the command tree as it is built.
Adding a language: ``pybabel init -D peer_circles -i bot/locales/peer_circles.pot -d bot/locales -l xx``,
translate, ``compile``. Nothing else lists languages.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, LOCALE_DIR

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
KEYWORDS = {
    "t": None,
    "n": (1, 2),
    "p": ((1, "c"), 2),
    "msg": None,
    "msgs": (1, 2),
    "N_": None,
    "pN_": ((1, "c"), 2),
}
SOURCES = ("bot", "cogs")
SKIP = ("bot/sandbox", "bot/catalogues.py")


def code_messages() -> Iterable[tuple[str | tuple[str, ...], str | None, str, list[str]]]:
    """(msgid or (singular, plural), context, location, translator comments) from the source files."""
    for folder in SOURCES:
        base = ROOT / folder
        for filename, lineno, message, comments, context in extract_from_dir(
            base,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        ):
            location = f"{folder}/{filename}"
            if location.startswith(SKIP):
                continue
            yield message, context, f"{location}:{lineno}", list(comments)


def data_messages() -> Iterable[str]:
    """The crisis directory's words shown around the numbers: notes, hours, emergency numbers, text lines."""
    from bot.resources import CrisisDirectory

    directory = CrisisDirectory.load()
    services = [s for entry in directory.entries for s in entry.services] + list(directory.international.services)
    if directory.international.notes:
        yield directory.international.notes
    for entry in directory.entries:
        yield entry.emergency
    for service in services:
        for text in (service.notes, service.hours):
            if text:
                yield text
        if service.text and service.text.lower().startswith(("text", "sms", "whatsapp", "caretext")):
            yield service.text


async def _command_strings() -> list[tuple[str | None, str]]:
    from bot.client import PeerCirclesBot
    from bot.config import Settings
    from bot.ui.command_i18n import command_strings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            discord_token=None,
            secret_key=b"c" * 32,
            database_path=Path(tmp) / "x.db",
            log_level="WARNING",
            default_timezone="UTC",
            dev_guild_id=None,
            api_base_url=None,
            gateway_url=None,
        )
        bot = PeerCirclesBot(settings, start_scheduler=False, sync_on_start=False)
        try:
            await bot._open_services()
            return command_strings(bot.tree)
        finally:
            await bot.services.close()


def build_template() -> Catalog:
    catalog = Catalog(project="peer-circles", domain=DOMAIN, charset="utf-8", fuzzy=False)
    for message, context, location, comments in code_messages():
        path, _, line = location.rpartition(":")
        catalog.add(message, locations=[(path, int(line))], context=context, auto_comments=comments)
    for context, text in asyncio.run(_command_strings()):
        if text:
            catalog.add(text, context=context, auto_comments=["slash command"])
    for text in data_messages():
        catalog.add(text, auto_comments=["crisis directory (data/crisis_resources.json): keep numbers as they are"])
    return catalog


def write_template(catalog: Catalog) -> None:
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    with open(TEMPLATE, "wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True)


def po_files() -> list[Path]:
    return sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def read(path: Path, language: str | None = None) -> Catalog:
    with open(path, "rb") as fh:
        return read_po(fh, locale=language, domain=DOMAIN)


def update() -> None:
    template = read(TEMPLATE)
    for path in po_files():
        language = path.parent.parent.name
        catalog = read(path, language)
        catalog.update(template, no_fuzzy_matching=True)
        with open(path, "wb") as fh:
            write_po(fh, catalog, width=100, sort_output=True, ignore_obsolete=True)


def compiled(path: Path) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, read(path, path.parent.parent.name), use_fuzzy=False)
    return buffer.getvalue()


def compile_all() -> None:
    for path in po_files():
        path.with_suffix(".mo").write_bytes(compiled(path))


# -- checks ------------------------------------------------------------------------------

FIELD = re.compile(r"(?<!\{)\{(\w*)[^{}]*\}(?!\})")
# May read the same as in English: names of the product and of things, numbers, a code or a
# link. Anything else identical to English is a missing translation.
SAME_AS_ENGLISH = re.compile(r"^[\W\d_]*$|^(peer-circles|Discord|OK|Ok|ok|Emoji|Total|Pulse|Chat)\W*$")


def fields(text: str) -> set[str]:
    return set(FIELD.findall(text))


def same_allowed(msgid: str, context: str | None) -> bool:
    if context == "command name":
        return True  # a command name may stay English where a translated one would be clumsy
    # Nothing but fields, markup and punctuation, or a name that reads the same everywhere.
    return bool(SAME_AS_ENGLISH.match(msgid)) or not re.search(r"[A-Za-z]{3,}", FIELD.sub("", msgid))


def problems(template: Catalog | None = None) -> list[str]:
    """Each message a shipped language lacks, whose fields differ from English, or that reads the
    same as English where it shouldn't; each compiled catalogue out of date."""
    template = template or read(TEMPLATE)
    found: list[str] = []
    for path in po_files():
        language = path.parent.parent.name
        catalog = read(path, language)
        for source in template:
            if not source.id:
                continue
            entry = catalog.get(source.id, context=source.context)
            key = source.id if isinstance(source.id, str) else source.id[0]
            where = f"{language}: {key[:60]!r}"
            if entry is None or entry.fuzzy:
                found.append(f"{where}: no translation")
                continue
            strings = (
                [str(x or "") for x in entry.string]
                if isinstance(entry.string, (list, tuple))
                else [str(entry.string or "")]
            )
            ids = list(source.id) if isinstance(source.id, (list, tuple)) else [source.id]
            if not all(strings):
                found.append(f"{where}: no translation")
                continue
            wanted = set().union(*(fields(i) for i in ids))
            for text in strings:
                got = fields(text)
                if got != wanted and not (len(ids) > 1 and got <= wanted and got >= wanted - {"n"}):
                    found.append(f"{where}: fields {sorted(got)} differ from English {sorted(wanted)}")
            if strings[0] == ids[0] and not same_allowed(ids[0], source.context):
                found.append(f"{where}: reads the same as English")
        if path.with_suffix(".mo").read_bytes() != compiled(path):
            found.append(f"{language}: {path.with_suffix('.mo').name} is out of date: python -m bot.catalogues compile")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["extract", "update", "compile", "check"])
    args = parser.parse_args(argv)
    if args.action == "extract":
        catalog = build_template()
        write_template(catalog)
        print(f"{TEMPLATE.relative_to(ROOT)}: {len(catalog)} messages")
    elif args.action == "update":
        update()
    elif args.action == "compile":
        compile_all()
    else:
        found = problems()
        for line in found:
            print(line)
        print(f"{len(found)} problems")
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
