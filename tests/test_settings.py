"""Settings: defaults, parsing, and one clear line for a bad value."""

from __future__ import annotations

import pytest

from bot import cli
from bot.settings import SettingsError, load_settings


def test_defaults_need_nothing(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = load_settings()
    assert settings.default_locale == "vi"
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.organiser_ids == ()


def test_organiser_ids_are_parsed(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORGANISER_IDS", "12345, 67890")
    assert load_settings().organiser_ids == (12345, 67890)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORGANISER_IDS", "12345,abc"),
        ("TIMEZONE", "Mars/Olympus"),
        ("DATABASE_URL", "mysql://localhost/x"),
        ("DEFAULT_LOCALE", "fr"),
        ("WEBHOOK_PORT", "http"),
        ("WEBHOOK_URL", "http://insecure.example"),
    ],
)
def test_a_malformed_setting_is_named(monkeypatch, tmp_path, name, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.setting == name


def test_the_cli_refuses_a_malformed_setting_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORGANISER_IDS", "một hai ba")

    status = cli.main(["db", "status"])

    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1
    assert err[0].startswith("Cấu hình không hợp lệ ORGANISER_IDS:")
    assert "Traceback" not in err[0]


def test_running_without_a_token_is_refused_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)

    status = cli.main(["run"])

    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == [err[0]] and "BOT_TOKEN" in err[0]


def test_an_out_of_date_database_is_refused_when_auto_migrate_is_off(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "123456:TEST")
    monkeypatch.setenv("AUTO_MIGRATE", "false")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/old.sqlite3")

    status = cli.main(["run"])

    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1
    assert err[0].startswith("Cơ sở dữ liệu chưa được cập nhật:")
    assert "dienhinh db upgrade" in err[0]


def test_webhook_mode_needs_a_secret(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "123456:TEST")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org")
    with pytest.raises(SettingsError) as caught:
        load_settings().require_token()
    assert caught.value.setting == "WEBHOOK_SECRET"
