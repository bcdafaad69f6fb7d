"""The shape every feature keeps (CONTRIBUTING.md): no import loops, nothing imported from a
layer above, files a reader can finish, thin cogs wired in one place.

These read the source (``ast``), so they fail the moment a change breaks the shape, whatever the
tests that run the code say.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "cogs", "bench", "training")
MAX_LINES = 900

# The rooms of the house, lowest first: a module may import from its own room or a lower one.
# Everything in bot/ not named here is a room of its own (bot/config.py, bot/clock.py, ...) and
# sits where its imports put it; the loop check below covers those.
ROOMS = (
    "bot.safety",
    "bot.timekeeping",
    "bot.storage",
    "bot.sends",
    "bot.scheduler",
    "bot.services",
    "bot.app",
    "bot.ui",
    "cogs",
    "bot.client",
    "bot.sandbox",
    "bot.demo",
    "bench",
    "training",
    "bot.cli",
)


def source_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_of(p): p for p in source_files()}


def imports_of(path: Path) -> Iterator[str]:
    """The project modules ``path`` imports (``from cogs import about`` counts as ``cogs.about``)."""
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                yield name


GRAPH = {module: {m for m in imports_of(path) if m != module} for module, path in MODULES.items()}


def room_of(module: str) -> str:
    for room in ROOMS:
        if module == room or module.startswith(room + "."):
            return room
    return module


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


# A package's __init__ only hands names on (or is empty): its arrows don't make loops of their own.
FACES = {m for m, p in MODULES.items() if p.name == "__init__.py"}


def test_no_module_imports_itself_round_a_loop() -> None:
    graph = {m: {d for d in deps if d not in FACES} for m, deps in GRAPH.items() if m not in FACES}
    assert cycles(graph) == []


def test_nothing_is_imported_from_a_room_above() -> None:
    rooms: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        rooms.setdefault(room_of(module), set()).update(room_of(d) for d in deps if room_of(d) != room_of(module))
    assert cycles(rooms) == [], "two rooms import each other: one of the arrows runs back up"
    order = {room: i for i, room in enumerate(ROOMS)}
    upward = sorted(
        f"{room} -> {dep}"
        for room, deps in rooms.items()
        for dep in deps
        if room in order and dep in order and order[dep] > order[room]
    )
    assert upward == []


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_a_reader_has_to_scroll_for_ever(path: Path) -> None:
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it along its seams"


# --------------------------------------------------------------------------- cogs

COG_FILES = sorted((ROOT / "cogs").rglob("*.py"))


def feature_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


@pytest.mark.parametrize("path", COG_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_feature_imports_no_other_feature_and_no_client(path: Path) -> None:
    module = module_of(path)
    bad = sorted(
        d for d in GRAPH[module] if d == "bot.client" or (d.startswith("cogs.") and feature_of(d) != feature_of(module))
    )
    assert bad == [], f"{module} imports {bad}: cross-feature needs go through a service or a port wired in setup_hook"


@pytest.mark.parametrize("path", sorted((ROOT / "cogs").rglob("views.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_views_module_imports_its_cog(path: Path) -> None:
    module = module_of(path)
    assert f"{module.rpartition('.')[0]}.cog" not in GRAPH[module], "route buttons with bot.ui.routing instead"


@pytest.mark.parametrize("path", COG_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_cogs_never_look_up_services_or_other_cogs(path: Path) -> None:
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"services", "get_cog"}:
            pytest.fail(
                f"{path.relative_to(ROOT)}:{node.lineno} uses .{node.attr}: take what you need in the constructor"
            )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
            args = node.args
            if len(args) >= 2 and isinstance(args[1], ast.Constant) and args[1].value in {"services", "get_cog"}:
                pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} reaches for {args[1].value} by name")


REPOSITORY_NAME = re.compile(r"(Repository|Database)$")


def repository_attributes() -> set[str]:
    """Names under which a service holds a repository or the database (found from the source:
    ``self.<name> = <param>`` where the constructor's parameter is typed as a repository)."""
    names: set[str] = set()
    for path in sorted((ROOT / "bot" / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.FunctionDef) and node.name == "__init__"):
                continue
            typed = {
                a.arg
                for a in node.args.args + node.args.kwonlyargs
                if a.annotation is not None and REPOSITORY_NAME.search(ast.unparse(a.annotation))
            }
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name) and stmt.value.id in typed:
                    for target in stmt.targets:
                        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                            names.add(target.attr)
    return names


REPO_ATTRS = repository_attributes()


def test_the_repository_names_are_found() -> None:
    assert {"shares", "circles", "repo"} <= REPO_ATTRS


@pytest.mark.parametrize("path", COG_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_cogs_never_touch_a_repository(path: Path) -> None:
    """Cogs parse, call a service, render: the rules (and the SQL) live in services and storage."""
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot.storage"):
            bad = [a.name for a in node.names if REPOSITORY_NAME.search(a.name)]
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
        # self.<service>.<repository>.anything: reaching through a service into its repository.
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr in REPO_ATTRS
            and isinstance(node.value.value, ast.Attribute)
            and isinstance(node.value.value.value, ast.Name)
            and node.value.value.value.id == "self"
        ):
            chain = f"self.{node.value.value.attr}.{node.value.attr}.{node.attr}"
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} reaches into a repository: {chain}")


def dynamic_items() -> Iterator[tuple[Path, ast.ClassDef]]:
    for path in sorted((ROOT / "cogs").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef) and any("DynamicItem" in ast.unparse(b) for b in node.bases):
                yield path, node


def test_there_are_persistent_buttons_to_check() -> None:
    assert len(list(dynamic_items())) >= 15


@pytest.mark.parametrize("item", list(dynamic_items()), ids=lambda pn: f"{pn[0].parent.name}.{pn[1].name}")
def test_every_persistent_button_is_routed_one_way(item: tuple[Path, ast.ClassDef]) -> None:
    """A persistent button's callback goes through bot.ui.routing.routed (the one guarded path)."""
    path, cls = item
    callbacks = [n for n in cls.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "callback"]
    assert callbacks, f"{path.relative_to(ROOT)}: {cls.name} has no callback"
    calls = {
        ast.unparse(n.func) for n in ast.walk(callbacks[0]) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert "routed" in calls, f"{path.relative_to(ROOT)}: {cls.name}.callback doesn't use routed()"


BARE_VIEWS = {"View", "LayoutView", "Modal"}
FITTED_HOMES = {ROOT / "bot" / "ui" / "limits.py", ROOT / "bot" / "ui" / "errors.py"}


def bare_discord_views(path: Path) -> list[str]:
    """``discord.ui.View()`` / ``LayoutView()`` made, or ``Modal`` subclassed, directly."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        targets = [node.func] if isinstance(node, ast.Call) else node.bases if isinstance(node, ast.ClassDef) else []
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr in BARE_VIEWS
                and ast.unparse(target).startswith("discord.ui.")
            ):
                found.append(f"{path.relative_to(ROOT)}:{target.lineno}")
    return found


def test_every_view_and_form_fits_discords_limits_in_every_language() -> None:
    """Each view and form is one of the fitted bases (bot/ui/limits.py), so a long translation
    is shortened rather than refused by Discord."""
    files = [p for p in source_files() if p.parts[len(ROOT.parts)] in ("bot", "cogs") and "sandbox" not in p.parts]
    assert [hit for p in files if p not in FITTED_HOMES for hit in bare_discord_views(p)] == []
