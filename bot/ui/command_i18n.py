"""Slash commands in Discord's own UI, in each shipped language (discord.py's ``Translator``).

Every command, subcommand, option and choice is written in English in the cogs; when the tree
is synced, discord.py asks this translator for each Discord locale and sends what it returns as
``name_localizations`` / ``description_localizations``. Names are looked up with the gettext
context ``command name`` (so a translator can keep a name English where a translated one would be
clumsy: the catalogue then holds the English word), descriptions and choices without one.

Discord's locales map to the shipped languages as :func:`bot.i18n.language_of` says (``es-ES``
and ``es-419`` read Spanish, ``pt-BR`` Brazilian Portuguese); English locales get no
localization, since the default is English.
"""

from __future__ import annotations

import re
from typing import Any, Final

import discord
from discord import app_commands

from bot.i18n import SOURCE, language_of, languages, speaker

__all__ = ["NAME_CONTEXT", "NAME_PATTERN", "CommandTranslator", "discord_locales"]

NAME_CONTEXT: Final = "command name"
# Discord's rule for chat-input command, option and subcommand names (lowercase where it has case).
NAME_PATTERN: Final = re.compile(r"^[-_\w]{1,32}$")
NAMES: Final = {
    app_commands.TranslationContextLocation.command_name,
    app_commands.TranslationContextLocation.group_name,
    app_commands.TranslationContextLocation.parameter_name,
}


def discord_locales() -> dict[str, str]:
    """Each Discord locale that reads a shipped language other than English: ``{"de": "de", "es-ES": "es", ...}``."""
    shipped = set(languages()) - {SOURCE}
    return {loc.value: language_of(loc.value) for loc in discord.Locale if language_of(loc.value) in shipped}


class CommandTranslator(app_commands.Translator):
    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        language = language_of(locale.value)
        if language == SOURCE or language not in languages():
            return None
        words = speaker(language)
        text = string.message
        if context.location in NAMES:
            translated = words.p(NAME_CONTEXT, text)
            if isinstance(context.data, app_commands.ContextMenu):
                return translated[:32]  # a menu entry's name reads like a label: spaces and capitals
            return translated if NAME_PATTERN.match(translated) and translated == translated.lower() else text
        if context.location is app_commands.TranslationContextLocation.other:
            return None
        return words(text)


def command_strings(tree: app_commands.CommandTree[Any]) -> list[tuple[str | None, str]]:
    """Every (context, English text) the translator is asked for: names, descriptions, choices."""
    found: list[tuple[str | None, str]] = []

    def parameter(param: app_commands.Parameter) -> None:
        found.append((NAME_CONTEXT, param.name))
        found.append((None, param.description))
        for choice in param.choices:
            if choice._locale_name is not None:  # a language's own name is never translated
                found.append((None, choice.name))

    def walk(command: Any) -> None:
        if isinstance(command, app_commands.ContextMenu):
            found.append((NAME_CONTEXT, command.name))
            return
        found.append((NAME_CONTEXT, command.name))
        found.append((None, command.description))
        if isinstance(command, app_commands.Group):
            for child in command.commands:
                walk(child)
        else:
            for param in command.parameters:
                parameter(param)

    for command in tree.get_commands():
        walk(command)
    for menu in tree.get_commands(type=discord.AppCommandType.message):
        walk(menu)
    return found
