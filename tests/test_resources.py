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
    REVERIFY_AFTER_DAYS,
    CountryResources,
    CrisisDirectory,
    ResourceDataError,
    parse_phone,
    parse_text,
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


# --------------------------------------------------------------------------- verification and number formats


def test_every_entry_has_its_own_verified_date(directory: CrisisDirectory) -> None:
    services = directory.services()
    assert len(services) == sum(len(e.services) for e in directory.entries) + len(directory.international.services)
    for code, service in services:
        assert isinstance(service.verified, dt.date), (code, service.name)
        assert service.verified <= dt.date.today(), (code, service.name)
    raw_services = [s for c in RAW["countries"].values() for s in c["services"]] + RAW["international"]["services"]
    assert all("verified" in s for s in raw_services)


def test_every_phone_and_text_value_parses(directory: CrisisDirectory) -> None:
    phones = texts = 0
    for code, service in directory.services():
        if service.phone:
            numbers = parse_phone(service.phone)
            assert numbers, (code, service.name)
            assert all(n.digits.lstrip("+").isdigit() and 3 <= len(n.digits.lstrip("+")) <= 15 for n in numbers)
            phones += 1
        if service.text:
            line = parse_text(service.text)
            assert line.digits.lstrip("+").isdigit(), (code, service.name)
            assert line.channel in {"sms", "whatsapp"}
            texts += 1
    assert phones > 60 and texts > 10


@pytest.mark.parametrize(
    ("value", "digits", "extra"),
    [
        ("0800 111 0 111, 0800 111 0 222 or 116 123", ["08001110111", "08001110222", "116123"], None),
        ("135 (Buenos Aires area) or (011) 5275-1135", ["135", "01152751135"], "Buenos Aires area"),
        ("+91 9999 666 555", ["+919999666555"], None),
        (
            "1553 (landline), 0917 899 8727, 0966 351 4518 or 0919 057 1553",
            ["1553", "09178998727", "09663514518", "09190571553"],
            "landline",
        ),
    ],
)
def test_parse_phone(value: str, digits: list[str], extra: str | None) -> None:
    parsed = parse_phone(value)
    assert [n.digits for n in parsed] == digits
    assert parsed[0].qualifier == extra


@pytest.mark.parametrize(
    ("value", "digits", "keyword", "channel"),
    [
        ("Text HOME to 741741", "741741", "HOME", "sms"),
        ("Text START to 678-678", "678678", "START", "sms"),
        ("SMS 31393", "31393", None, "sms"),
        ("WhatsApp +65 6669 1771", "+6566691771", None, "whatsapp"),
        ("CareText on WhatsApp: 9151 1767", "91511767", None, "whatsapp"),
        ("0458 737 732", "0458737732", None, "sms"),
    ],
)
def test_parse_text(value: str, digits: str, keyword: str | None, channel: str) -> None:
    line = parse_text(value)
    assert (line.digits, line.keyword, line.channel) == (digits, keyword, channel)


@pytest.mark.parametrize("value", ["call us", "12", "0800 CALL NOW", "988 or", "1234567890123456", "(011 5275-1135"])
def test_unparseable_phone_is_rejected(value: str) -> None:
    with pytest.raises(ResourceDataError):
        parse_phone(value)
    with pytest.raises(ResourceDataError):
        CrisisDirectory.from_dict(_mutated(lambda d: d["countries"]["US"]["services"][0].__setitem__("phone", value)))


@pytest.mark.parametrize("value", ["text us", "Text home to 741741", "Signal 1234"])
def test_unparseable_text_is_rejected(value: str) -> None:
    with pytest.raises(ResourceDataError):
        CrisisDirectory.from_dict(_mutated(lambda d: d["countries"]["US"]["services"][1].__setitem__("text", value)))


def test_bad_verified_date_is_rejected() -> None:
    with pytest.raises(ResourceDataError, match="verified"):
        CrisisDirectory.from_dict(
            _mutated(lambda d: d["countries"]["US"]["services"][0].__setitem__("verified", "last spring"))
        )


def _service(directory: CrisisDirectory, code: str, name_start: str) -> Any:
    entry = directory.for_country(code)
    assert entry is not None
    found = [s for s in entry.services if s.name.startswith(name_start)]
    assert len(found) == 1, (code, name_start)
    return found[0]


def test_reviewed_corrections(directory: CrisisDirectory) -> None:
    ncmh = _service(directory, "PH", "NCMH")
    assert "0919 057 1553" in ncmh.phone and "0908" not in ncmh.phone
    assert _service(directory, "DK", "BørneTelefonen").web == "https://bornetelefonen.dk"
    assert _service(directory, "PT", "Linha 1411").phone == "1411"
    assert _service(directory, "PT", "Linha 1411").hours == "24/7"
    mindline = _service(directory, "SG", "National mindline")
    assert mindline.phone == "1771" and parse_text(mindline.text).digits == "+6566691771"
    national = _service(directory, "AR", "Línea de Salud Mental")
    assert [n.digits for n in parse_phone(national.phone)] == ["08009990091"]
    assert "Buenos Aires" in (_service(directory, "AR", "Centro de Asistencia").notes or "")
    assert _service(directory, "KR", "Suicide prevention hotline 109").text == "109"
    assert _service(directory, "AU", "1800RESPECT").text == "0458 737 732"
    assert "0800-300-8355" in _service(directory, "JP", "TELL").phone
    assert "113" in (_service(directory, "NL", "113").notes or "") and "free" in _service(directory, "NL", "113").notes
    # Hours that no source confirms are unknown, not 24/7.
    for code, name in [
        ("AR", "Centro de Asistencia"),
        ("PT", "SNS 24"),
        ("IN", "iCall"),
        ("BE", "Zelfmoordlijn"),
        ("MX", "SAPTEL"),
    ]:
        assert _service(directory, code, name).hours is None, (code, name)


def test_stale_lists_entries_older_than_six_months(directory: CrisisDirectory) -> None:
    verified = [s.verified for _, s in directory.services()]
    dates = [d for d in verified if d is not None]
    assert dates == verified, "every listed service says when it was last verified"
    newest, oldest = max(dates), min(dates)
    assert directory.stale(oldest) == []
    later = directory.stale(oldest + dt.timedelta(days=REVERIFY_AFTER_DAYS + 1))
    assert later and all(s.verified == oldest for _, s in later)
    everything = directory.stale(newest + dt.timedelta(days=400))
    assert len(everything) == len(directory.services())
    listed = [s.verified for _, s in everything]
    assert listed == sorted(d for d in listed if d is not None)


def test_resources_check_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from bot.cli import main

    assert main(["resources", "check", "--as-of", "2026-12-06"]) == 0
    assert "verified in the last six months" in capsys.readouterr().out
    assert main(["resources", "check", "--as-of", "2027-07-01"]) == 1
    out = capsys.readouterr().out
    assert "last verified more than six months ago" in out
    assert "Samaritans" in out and "2026-11-24" in out
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert main(["resources", "check", "--file", str(broken)]) == 2
    assert "Could not read the crisis directory" in capsys.readouterr().err


def test_text_lines_read_naturally_on_the_card() -> None:
    from bot.i18n import SOURCE, speaker
    from bot.services.crisis import CrisisResources

    english = speaker(SOURCE)
    singapore = "\n".join(CrisisResources().sections("SG", t=english))
    assert "WhatsApp +65 6669 1771" in singapore
    assert "text WhatsApp" not in singapore and "text CareText" not in singapore
    korea = "\n".join(CrisisResources().sections("KR", t=english))
    assert "call **109** · text 109" in korea
