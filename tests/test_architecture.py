"""Habits the codebase keeps: a discord-free domain core, cogs with setup, honest docs."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from bot.permissions import BOT_PERMISSIONS, REQUESTED

ROOT = Path(__file__).resolve().parent.parent
# The core that must not know about Discord.
DOMAIN = [
    "bot/config.py",
    "bot/errors.py",
    "bot/clock.py",
    "bot/privacy.py",
    "bot/scheduler.py",
    "bot/sends.py",
    "bot/app.py",
    "bot/permissions.py",
    "bot/services",
    "bot/storage",
    "bot/safety",
    "bot/resources.py",
    "bot/timekeeping",
    "bot/i18n",
]


def python_files(entry: str) -> list[Path]:
    path = ROOT / entry
    if path.is_dir():
        return sorted(path.rglob("*.py"))
    return [path] if path.exists() else []


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", [p for e in DOMAIN for p in python_files(e)], ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_modules_import_nothing_from_discord(path: Path) -> None:
    bad = {
        m
        for m in imported_modules(path)
        if m == "discord" or m.startswith(("discord.", "cogs", "bot.ui", "bot.client"))
    }
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("path", python_files("bot/safety"), ids=lambda p: str(p.relative_to(ROOT)))
def test_crisis_screen_needs_no_training_libraries(path: Path) -> None:
    # The bot reads the shipped model with the standard library; scikit-learn, SciPy and NumPy
    # are for training/safety/train.py only.
    bad = {m for m in imported_modules(path) if m.split(".")[0] in {"sklearn", "scipy", "numpy", "torch"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize(
    "path", python_files("bot/storage") + python_files("bot/timekeeping"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_storage_and_time_sit_below_the_services(path: Path) -> None:
    # Storage never imports a service; bot/timekeeping, the bottom layer, only itself, bot.errors and
    # bot.i18n (the reader's words, which imports nothing from bot).
    bottom = path.is_relative_to(ROOT / "bot" / "timekeeping")
    bad = {
        m
        for m in imported_modules(path)
        if m.startswith("bot.services")
        or (bottom and m.split(".")[0] == "bot" and not m.startswith(("bot.timekeeping", "bot.errors", "bot.i18n")))
    }
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_every_feature_is_a_cog_package_with_setup() -> None:
    from bot.client import FEATURES

    packages = sorted(p.name for p in (ROOT / "cogs").iterdir() if (p / "__init__.py").exists())
    assert sorted(FEATURES) == packages
    for name in FEATURES:
        assert callable(importlib.import_module(f"cogs.{name}").setup)


def test_readme_invite_permissions_match_the_code() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert f"permissions={BOT_PERMISSIONS}" in readme
    assert f"`{BOT_PERMISSIONS}`" in readme
    for name in REQUESTED:
        assert name in readme, f"README doesn't explain why the bot needs {name}"


def test_config_example_documents_every_variable() -> None:
    example = (ROOT / "config.example.env").read_text("utf-8")
    source = (ROOT / "bot" / "config.py").read_text("utf-8")
    variables = set(re.findall(r'env\.get\("([A-Z_]+)"', source)) | {"SECRET_KEY"}
    for variable in variables:
        assert re.search(rf"^{variable}=", example, flags=re.MULTILINE), f"{variable} missing from config.example.env"


def test_vendored_api_description_keeps_its_licence() -> None:
    folder = ROOT / "tests" / "discord_api_spec"
    assert (folder / "openapi.json").is_file()
    assert "MIT" in (folder / "LICENSE").read_text("utf-8")
