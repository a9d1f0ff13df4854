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


def test_every_setting_is_in_env_example():
    import re
    from pathlib import Path

    from bot.settings import PROJECT_ROOT, Settings

    listed = set(re.findall(r"^([A-Z_]+)=", Path(PROJECT_ROOT / ".env.example").read_text(encoding="utf-8"), re.M))
    assert {name.upper() for name in Settings.model_fields} <= listed


def test_zalo_and_file_link_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()

    assert settings.zalo_bot_token == "" and settings.zalo_webhook_secret == ""
    assert settings.zalo_api_base_url == "https://bot-api.zaloplatforms.com"
    assert settings.public_base_url == ""
    assert settings.file_link_ttl_hours == 72
    assert settings.file_link_ttl().total_seconds() == 72 * 3600


def test_zalo_and_file_link_settings_are_read_and_tidied(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZALO_BOT_TOKEN", " 1234567890:AbCdEf-ghIJ_kl ")
    monkeypatch.setenv("ZALO_WEBHOOK_SECRET", "s3cret!s3cret")
    monkeypatch.setenv("ZALO_API_BASE_URL", "https://bot-api.zapps.me/")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://dienhinh.tayho.gov.vn/bot/")
    monkeypatch.setenv("FILE_LINK_TTL_HOURS", "24")

    settings = load_settings()

    assert settings.zalo_bot_token == "1234567890:AbCdEf-ghIJ_kl"
    assert settings.zalo_webhook_secret == "s3cret!s3cret"
    assert settings.zalo_api_base_url == "https://bot-api.zapps.me"
    assert settings.public_base_url == "https://dienhinh.tayho.gov.vn/bot"
    assert settings.file_link_ttl_hours == 24


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ZALO_BOT_TOKEN", "no-colon-here"),
        ("ZALO_BOT_TOKEN", "abc:def"),
        ("ZALO_BOT_TOKEN", "123:has space"),
        ("ZALO_WEBHOOK_SECRET", "short"),
        ("ZALO_WEBHOOK_SECRET", "x" * 257),
        ("ZALO_WEBHOOK_SECRET", "has a space in it"),
        ("ZALO_WEBHOOK_SECRET", "mật-khẩu-bí-mật"),
        ("ZALO_API_BASE_URL", "bot-api.zaloplatforms.com"),
        ("ZALO_API_BASE_URL", "ftp://bot-api.zaloplatforms.com"),
        ("PUBLIC_BASE_URL", "http://dienhinh.tayho.gov.vn"),
        ("PUBLIC_BASE_URL", "dienhinh.tayho.gov.vn"),
        ("PUBLIC_BASE_URL", "https://"),
        ("PUBLIC_BASE_URL", "https://dienhinh.tayho.gov.vn/?a=1"),
        ("PUBLIC_BASE_URL", "https://user:pass@dienhinh.tayho.gov.vn"),
        ("PUBLIC_BASE_URL", "https://dienhinh.tayho.gov.vn:port"),
        ("FILE_LINK_TTL_HOURS", "0"),
        ("FILE_LINK_TTL_HOURS", "721"),
        ("FILE_LINK_TTL_HOURS", "ba ngày"),
    ],
)
def test_a_malformed_zalo_or_file_link_setting_is_named(monkeypatch, tmp_path, name, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.setting == name


def test_a_zalo_only_bot_needs_no_telegram_token(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1234567890:AbCdEf")

    assert load_settings().require_channels() == ("zalo",)


def test_the_channels_with_a_token_are_served(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "123456:TEST")
    assert load_settings().require_channels() == ("telegram",)
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1234567890:AbCdEf")
    assert load_settings().require_channels() == ("telegram", "zalo")


def test_no_token_at_all_is_refused(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("ZALO_BOT_TOKEN", raising=False)
    with pytest.raises(SettingsError) as caught:
        load_settings().require_channels()
    assert caught.value.setting == "BOT_TOKEN"
    assert "ZALO_BOT_TOKEN" in caught.value.problem


def test_zalo_webhook_mode_needs_its_own_secret(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1234567890:AbCdEf")
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org")
    with pytest.raises(SettingsError) as caught:
        load_settings().require_channels()
    assert caught.value.setting == "ZALO_WEBHOOK_SECRET"
    monkeypatch.setenv("ZALO_WEBHOOK_SECRET", "s3cret-s3cret")
    assert load_settings().require_channels() == ("zalo",)


def test_a_bad_zalo_setting_is_one_vietnamese_line_at_the_cli(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://insecure.example")

    status = cli.main(["db", "status"])

    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == [
        "Cấu hình không hợp lệ PUBLIC_BASE_URL: cần địa chỉ https:// mà điện thoại truy cập được máy chủ này, ví dụ https://dienhinh.tayho.gov.vn, hoặc để trống"
    ]
