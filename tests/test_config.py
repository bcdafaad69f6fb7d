"""Configuration: validated at start, one clear line per problem; the CLI's first-run paths."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.cli import main
from bot.config import ConfigError, generate_secret_key, load_settings

GOOD_KEY = base64.b64encode(os.urandom(32)).decode()


def settings_env(**overrides: str) -> dict[str, str]:
    env = {"SECRET_KEY": GOOD_KEY, "DISCORD_TOKEN": "token"}
    env.update(overrides)
    return env


def test_defaults() -> None:
    settings = load_settings(settings_env())
    assert settings.database_path == Path("data/peer_circles.db")
    assert settings.log_level == "INFO"
    assert settings.default_timezone == "UTC"
    assert settings.dev_guild_id is None
    assert settings.api_base_url is None
    assert len(settings.secret_key) == 32


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SECRET_KEY", "", "missing"),
        ("SECRET_KEY", "not base64!!", "not valid base64"),
        ("SECRET_KEY", base64.b64encode(b"short").decode(), "only 5 bytes"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus_Mons", "not a known IANA time zone"),
        ("LOG_LEVEL", "LOUD", "not a log level"),
        ("DEV_GUILD_ID", "my-server", "digits only"),
        ("DISCORD_API_BASE_URL", "ftp://example", "not a https/http URL"),
        ("DISCORD_GATEWAY_URL", "http://127.0.0.1:1", "not a wss/ws URL"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(settings_env(**{variable: value}))
    assert info.value.variable == variable
    assert expected in str(info.value)
    assert str(info.value).startswith(f"{variable}: ")


def test_secrets_never_described() -> None:
    settings = load_settings(settings_env(DISCORD_TOKEN="very-secret-token"))
    described = " ".join(v for _, v in settings.describe())
    assert "very-secret-token" not in described
    assert GOOD_KEY not in described


@given(st.text(max_size=60))
def test_any_timezone_text_is_accepted_or_clearly_refused(name: str) -> None:
    try:
        settings = load_settings(settings_env(DEFAULT_TIMEZONE=name or "UTC"))
    except ConfigError as exc:
        assert exc.variable == "DEFAULT_TIMEZONE"
        assert "IANA" in exc.problem
    else:
        assert settings.tz is not None


def test_generated_key_is_valid() -> None:
    assert len(load_settings(settings_env(SECRET_KEY=generate_secret_key())).secret_key) == 32


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("DISCORD_TOKEN", "SECRET_KEY", "DATABASE_PATH", "DEFAULT_TIMEZONE", "LOG_LEVEL", "DEV_GUILD_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_run_without_token_exits_2_and_explains(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "DISCORD_TOKEN is not set" in err
    assert "Reset Token" in err
    assert "peer-circles demo" in err
    assert main([]) == 2  # run is the default


def test_check_reports_bad_secret_key(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SECRET_KEY", "abc")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0, "one line"
    assert "SECRET_KEY" in err and "base64" in err


def test_check_reports_unknown_timezone(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Europe/Atlantis")
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert "DEFAULT_TIMEZONE: 'Europe/Atlantis' is not a known IANA time zone" in err


def test_check_reads_dotenv_and_reports_database(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (clean_env / ".env").write_text(f"SECRET_KEY={GOOD_KEY}\nDATABASE_PATH={clean_env / 'x.db'}\n")
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "Configuration is valid" in out
    assert "will be created at first start" in out
    assert "Crisis screen: lexicon" in out and "model" in out
    assert GOOD_KEY not in out


def test_check_reports_a_damaged_crisis_model(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import bot.safety

    damaged = clean_env / "model.bin"
    damaged.write_bytes(b"PCSAFETY1\n\x00")
    monkeypatch.setattr(bot.safety, "DEFAULT_MODEL_PATH", damaged)
    (clean_env / ".env").write_text(f"SECRET_KEY={GOOD_KEY}\nDATABASE_PATH={clean_env / 'x.db'}\n")
    assert main(["check"]) == 1
    assert "Crisis screen problem" in capsys.readouterr().err


def test_init_writes_env_once_and_never_replaces_a_key(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo_example = Path(__file__).resolve().parent.parent / "config.example.env"
    (clean_env / "config.example.env").write_text(repo_example.read_text())
    assert main(["init"]) == 0
    first = (clean_env / ".env").read_text()
    key = next(line for line in first.splitlines() if line.startswith("SECRET_KEY="))
    assert len(key) > len("SECRET_KEY=") + 40
    assert main(["init"]) == 0
    assert (clean_env / ".env").read_text() == first
    assert "left it as it is" in capsys.readouterr().out


def test_init_adds_a_key_to_an_env_without_one(clean_env: Path) -> None:
    (clean_env / "config.example.env").write_text("SECRET_KEY=\n")
    (clean_env / ".env").write_text("DISCORD_TOKEN=abc\nSECRET_KEY=\n")
    assert main(["init"]) == 0
    text = (clean_env / ".env").read_text()
    assert "DISCORD_TOKEN=abc" in text
    assert load_settings({"SECRET_KEY": text.split("SECRET_KEY=")[1].strip()}).secret_key
