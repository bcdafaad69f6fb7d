"""Tests for bot.resources and data/crisis_resources.json."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.resources import (
    DEFAULT_RESOURCES_PATH,
    MAX_SEARCH_RESULTS,
    CountryResources,
    CrisisDirectory,
    ResourceDataError,
)

ROOT = Path(__file__).resolve().parent.parent
RAW: dict[str, Any] = json.loads(DEFAULT_RESOURCES_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def directory() -> CrisisDirectory:
    return CrisisDirectory.load()


def test_default_path_and_cache(directory: CrisisDirectory) -> None:
    assert DEFAULT_RESOURCES_PATH == ROOT / "data" / "crisis_resources.json"
    assert CrisisDirectory.load() is directory
    fresh = CrisisDirectory.load(DEFAULT_RESOURCES_PATH)
    assert fresh is not directory
    assert fresh == directory


def test_import_reads_nothing() -> None:
    code = (
        "import sys, bot.resources as r; "
        "assert r._load_default.cache_info().currsize == 0; "
        "assert 'discord' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_has_at_least_twenty_countries(directory: CrisisDirectory) -> None:
    codes = {code for code, _ in directory.countries()}
    assert len(codes) >= 20
    expected = {"US", "CA", "GB", "IE", "AU", "NZ", "IN", "DE", "FR", "ES", "IT", "NL", "BE", "SE", "NO"}
    expected |= {"DK", "FI", "JP", "KR", "BR", "MX", "ZA", "PH", "SG", "PL"}
    assert expected <= codes


def test_codes_are_iso_alpha2_shaped(directory: CrisisDirectory) -> None:
    for code, _ in directory.countries():
        assert re.fullmatch(r"[A-Z]{2}", code)
        assert code not in {"UK", "EU", "EL"}  # common non-ISO mistakes (GB, -, GR)


def test_every_entry_is_complete(directory: CrisisDirectory) -> None:
    for entry in directory.entries:
        assert entry.country.strip()
        assert entry.emergency.strip()
        assert entry.services
        for service in entry.services:
            assert service.name.strip()
            assert service.phone or service.text or service.web, (entry.code, service.name)


def test_every_web_address_is_https(directory: CrisisDirectory) -> None:
    services = [s for e in directory.entries for s in e.services] + list(directory.international.services)
    webs = [s.web for s in services if s.web is not None]
    assert webs
    for web in webs:
        assert web.startswith("https://"), web
        assert " " not in web
    for source in directory.sources:
        assert source.url is None or source.url.startswith("https://")


def test_metadata(directory: CrisisDirectory) -> None:
    assert directory.updated is not None
    dt.date.fromisoformat(directory.updated)
    assert directory.verify_note and "verif" in directory.verify_note.lower()
    names = " ".join(s.name.lower() for s in directory.sources)
    for needle in ("befrienders", "iasp", "find a helpline", "official"):
        assert needle in names
    intl_webs = {s.web for s in directory.international.services}
    assert "https://findahelpline.com" in intl_webs
    assert "_about" in RAW


@pytest.mark.parametrize(
    ("code", "emergency", "phone"),
    [
        ("US", "911", "988"),
        ("CA", "911", "988"),
        ("GB", "999", "116 123"),
        ("IE", "112", "116 123"),
        ("AU", "000", "13 11 14"),
        ("NZ", "111", "1737"),
        ("FR", "112", "3114"),
        ("DE", "112", "0800 111 0 111"),
    ],
)
def test_well_known_lines(directory: CrisisDirectory, code: str, emergency: str, phone: str) -> None:
    entry = directory.for_country(code)
    assert entry is not None
    assert emergency in entry.emergency
    assert any(s.phone and phone in s.phone for s in entry.services)


def test_text_lines(directory: CrisisDirectory) -> None:
    us = directory.for_country("US")
    gb = directory.for_country("GB")
    assert us is not None and gb is not None
    assert any(s.text and "741741" in s.text for s in us.services)
    assert any(s.text and "85258" in s.text for s in gb.services)


def test_countries_sorted_by_name(directory: CrisisDirectory) -> None:
    names = [name for _, name in directory.countries()]
    assert names == sorted(names, key=str.casefold)


def test_for_country_lookup(directory: CrisisDirectory) -> None:
    gb = directory.for_country("gb")
    assert isinstance(gb, CountryResources)
    assert gb.country == "United Kingdom"
    assert directory.for_country(" GB ") is gb
    assert directory.for_country("UK") is gb  # alias
    assert directory.for_country("XX") is None
    assert directory.for_country("") is None
    assert directory.for_country("Atlantis") is None


@pytest.mark.parametrize(
    ("prefix", "first"),
    [("gb", "GB"), ("United K", "GB"), ("uni", "GB"), ("ger", "DE"), ("DEUTSCH", "DE"), ("new", "NZ")],
)
def test_search_finds(directory: CrisisDirectory, prefix: str, first: str) -> None:
    results = directory.search(prefix)
    assert results, prefix
    assert first in [r.code for r in results]
    if prefix.casefold() == first.casefold():
        assert results[0].code == first


def test_search_ranking_and_limits(directory: CrisisDirectory) -> None:
    assert directory.search("us")[0].code == "US"
    assert {r.code for r in directory.search("united")} >= {"GB", "US"}
    assert [r.code for r in directory.search("south")] == ["ZA", "KR"]  # sorted by name
    assert directory.search("mexico")[0].code == "MX"
    assert directory.search("MÉXICO")[0].code == "MX"
    assert directory.search("zzz") == []
    everyone = directory.search("")
    assert len(everyone) == min(MAX_SEARCH_RESULTS, len(directory.entries))
    assert len(directory.search("", limit=100)) <= MAX_SEARCH_RESULTS
    assert directory.search("a", limit=3) == directory.search("a")[:3]


def test_dataclasses_are_frozen(directory: CrisisDirectory) -> None:
    entry = directory.entries[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.country = "Elsewhere"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.services[0].phone = "000"  # type: ignore[misc]


def _mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    change(data)
    return data


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["countries"].__setitem__("uk", d["countries"]["GB"]),
        lambda d: d["countries"]["US"]["services"][0].__setitem__("web", "http://988lifeline.org"),
        lambda d: d["countries"]["US"]["services"][0].update(phone=None, text=None, web=None),
        lambda d: d["countries"]["US"].__setitem__("services", []),
        lambda d: d["countries"]["US"].pop("country"),
        lambda d: d.pop("international"),
    ],
)
def test_invalid_data_is_rejected(change: Any) -> None:
    with pytest.raises(ResourceDataError):
        CrisisDirectory.from_dict(_mutated(change))


def test_load_from_path(tmp_path: Path) -> None:
    small = {
        "countries": {
            "IS": {"country": "Iceland", "emergency": "112", "services": [{"name": "Line", "phone": "1717"}]}
        },
        "international": {"services": [{"name": "Find A Helpline", "web": "https://findahelpline.com"}]},
    }
    path = tmp_path / "resources.json"
    path.write_text(json.dumps(small), encoding="utf-8")
    loaded = CrisisDirectory.load(path)
    assert loaded.countries() == [("IS", "Iceland")]
    assert loaded.international.name == "International"
    assert loaded.search("ice")[0].code == "IS"
