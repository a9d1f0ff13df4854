"""All settings in one pydantic-settings class, read from the environment and ``.env``.

Every setting is documented with its default in ``.env.example``. A missing or malformed setting stops
start-up with one line naming it (:class:`SettingsError`), never a traceback.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import urllib.parse
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.channels.zalo.client import DEFAULT_BASE_URL as DEFAULT_ZALO_API_BASE_URL
from bot.channels.zalo.client import WEBHOOK_SECRET_LENGTHS as ZALO_WEBHOOK_SECRET_LENGTHS
from bot.i18n import N_

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'data' / 'dienhinh.sqlite3'}"
SUPPORTED_LOCALES = ("vi", "en")
MAX_REMINDER_DAYS = 90
_TIME_OF_DAY = re.compile(r"^(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)$")
_OUTBOX_OWNER = re.compile(r"^[A-Za-z0-9._:/@-]{0,64}$")
# "<numeric bot id>:<secret>", as Zalo Bot Creator sends it.
_ZALO_TOKEN = re.compile(r"\d+:[^\s:]+")
# Printable ASCII without spaces: the secret travels in an HTTP header, compared byte for byte.
_HEADER_SECRET = re.compile(r"[!-~]+")
MAX_FILE_LINK_TTL_HOURS = 24 * 30


class SettingsError(Exception):
    """A setting is missing or malformed; ``str(error)`` is the one line to show the operator."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str = ""
    database_url: str = DEFAULT_DATABASE_URL
    organiser_ids: Annotated[tuple[int, ...], NoDecode] = ()
    default_locale: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    log_level: str = "INFO"
    auto_migrate: bool = True
    public_channel_id: str = ""
    link_secret: str = ""
    draft_ttl_hours: int = Field(default=72, ge=1, le=24 * 90)
    unit_link_days: int = Field(default=30, ge=1, le=365)
    outbox_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    outbox_batch_size: int = Field(default=50, ge=1, le=1000)
    # Calls on their way to Telegram (or Zalo) at once: each waits a network round trip.
    outbox_max_in_flight: int = Field(default=10, ge=1, le=100)
    # The name this process claims outbox rows under; empty: `dienhinh run` makes one (bot.outbox.process_owner).
    outbox_owner: str = ""
    # Reminders: days before a deadline, and the local time of day they go out; the organisers' digest time.
    nomination_reminder_days: Annotated[tuple[int, ...], NoDecode] = (7, 3, 1)
    rsvp_reminder_days: Annotated[tuple[int, ...], NoDecode] = (3, 1)
    reminder_time: dt.time = dt.time(8, 0)
    digest_time: dt.time = dt.time(7, 30)
    # Zalo (Zalo Bot Platform): the bot's token, the webhook secret, the API host.
    zalo_bot_token: str = ""
    zalo_webhook_secret: str = ""
    zalo_api_base_url: str = DEFAULT_ZALO_API_BASE_URL
    # Where people's phones reach this server's /files (links to QR codes, charts, .ics, .xlsx for Zalo).
    public_base_url: str = ""
    file_link_ttl_hours: int = Field(default=72, ge=1, le=MAX_FILE_LINK_TTL_HOURS)

    @field_validator("organiser_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: Any) -> tuple[int, ...]:
        if value is None or value == "":
            return ()
        if isinstance(value, int):
            return (value,)
        if isinstance(value, list | tuple):
            return tuple(int(v) for v in value)
        parts = [part.strip() for part in str(value).replace(";", ",").split(",") if part.strip()]
        try:
            return tuple(int(part) for part in parts)
        except ValueError:
            raise ValueError(N_("expected Telegram user ids separated by commas, e.g. 12345,67890")) from None

    @field_validator("nomination_reminder_days", "rsvp_reminder_days", mode="before")
    @classmethod
    def _parse_days(cls, value: Any) -> tuple[int, ...]:
        """``7,3,1`` → (7, 3, 1): whole days from 1 to 90, latest first; empty means no reminders."""
        if isinstance(value, int):
            value = [value]
        parts = value if isinstance(value, list | tuple) else str(value or "").replace(";", ",").split(",")
        try:
            days = {int(str(part).strip()) for part in parts if str(part).strip()}
        except ValueError:
            raise ValueError(
                N_("expected whole numbers of days from 1 to 90 separated by commas, e.g. 7,3,1")
            ) from None
        if any(not 1 <= day <= MAX_REMINDER_DAYS for day in days):
            raise ValueError(N_("expected whole numbers of days from 1 to 90 separated by commas, e.g. 7,3,1"))
        return tuple(sorted(days, reverse=True))

    @field_validator("reminder_time", "digest_time", mode="before")
    @classmethod
    def _parse_time_of_day(cls, value: Any) -> dt.time:
        if isinstance(value, dt.time):
            return value
        match = _TIME_OF_DAY.match(str(value).strip())
        if match is None:
            raise ValueError(N_("expected a time of day as HH:MM, e.g. 08:00"))
        return dt.time(int(match["hour"]), int(match["minute"]))

    @field_validator("outbox_owner")
    @classmethod
    def _check_outbox_owner(cls, value: str) -> str:
        if not _OUTBOX_OWNER.match(value):
            raise ValueError(N_("expected up to 64 letters, digits and . _ - : / @, or empty"))
        return value

    @field_validator("default_locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(N_("expected vi or en"))
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(N_("expected an IANA time zone such as Asia/Ho_Chi_Minh")) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(N_("expected DEBUG, INFO, WARNING, ERROR or CRITICAL"))
        return upper

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError(N_("expected sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASS@HOST/DB"))
        prefix = "sqlite+aiosqlite:///"
        path = value.removeprefix(prefix)
        if value.startswith(prefix) and path and path != ":memory:" and not Path(path).is_absolute():
            # A relative SQLite path means the project folder, wherever the command is run from.
            return prefix + str(PROJECT_ROOT / path)
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError(N_("expected an https:// address that Telegram can reach, or empty for polling"))
        return value

    @field_validator("zalo_bot_token")
    @classmethod
    def _check_zalo_token(cls, value: str) -> str:
        value = value.strip()
        if value and not _ZALO_TOKEN.fullmatch(value):
            raise ValueError(
                N_("malformed; expected the form 123456789:AbC… that Zalo Bot Creator sends in a Zalo message")
            )
        return value

    @field_validator("zalo_webhook_secret")
    @classmethod
    def _check_zalo_webhook_secret(cls, value: str) -> str:
        if value and not (len(value) in ZALO_WEBHOOK_SECRET_LENGTHS and _HEADER_SECRET.fullmatch(value)):
            raise ValueError(N_("expected 8 to 256 letters, digits or punctuation without spaces, or empty"))
        return value

    @field_validator("zalo_api_base_url")
    @classmethod
    def _check_zalo_api_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not _is_web_address(value, schemes=("https", "http")):
            raise ValueError(N_("expected the address of the Zalo Bot API, e.g. https://bot-api.zaloplatforms.com"))
        return value

    @field_validator("public_base_url")
    @classmethod
    def _check_public_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not _is_web_address(value, schemes=("https",)):
            raise ValueError(
                N_(
                    "expected the https:// address at which phones reach this server, e.g. https://dienhinh.tayho.gov.vn, or empty"
                )
            )
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.tz)

    def link_secret_bytes(self) -> bytes:
        """The secret personal links are derived from: LINK_SECRET, or one made once and kept in
        data/.link-secret (changing it invalidates every invitation link handed out)."""
        if self.link_secret:
            return self.link_secret.encode()
        path = PROJECT_ROOT / "data" / ".link-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32), encoding="ascii")
            path.chmod(0o600)
        return path.read_text(encoding="ascii").strip().encode()

    def require_token(self) -> str:
        """The bot token, or a SettingsError: only running against Telegram needs one."""
        token = self.bot_token.strip()
        if not token:
            raise SettingsError("BOT_TOKEN", N_("missing; create a bot with @BotFather and put its token in .env"))
        if ":" not in token:
            raise SettingsError("BOT_TOKEN", N_("malformed; expected the form 123456:ABC… given by @BotFather"))
        if self.webhook_url and not self.webhook_secret:
            raise SettingsError("WEBHOOK_SECRET", N_("required when WEBHOOK_URL is set (1–256 of A-Z a-z 0-9 _ -)"))
        return token

    def require_channels(self) -> tuple[str, ...]:
        """The channels to serve: ``telegram`` when BOT_TOKEN is set, ``zalo`` when ZALO_BOT_TOKEN is (so
        BOT_TOKEN may be empty for a Zalo-only bot); a SettingsError when neither is, or when webhook mode
        (WEBHOOK_URL) lacks a channel's secret."""
        channels: list[str] = []
        if self.bot_token.strip():
            self.require_token()
            channels.append("telegram")
        if self.zalo_bot_token:
            if self.webhook_url and not self.zalo_webhook_secret:
                raise SettingsError(
                    "ZALO_WEBHOOK_SECRET", N_("required when WEBHOOK_URL is set (8–256 characters without spaces)")
                )
            channels.append("zalo")
        if not channels:
            raise SettingsError(
                "BOT_TOKEN",
                N_(
                    "missing; put a Telegram bot's token (from @BotFather) in BOT_TOKEN or a Zalo bot's (from Zalo Bot Creator) in ZALO_BOT_TOKEN"
                ),
            )
        return tuple(channels)

    def file_link_ttl(self) -> dt.timedelta:
        """How long a link to a shared file stays valid."""
        return dt.timedelta(hours=self.file_link_ttl_hours)


def _is_web_address(value: str, *, schemes: tuple[str, ...]) -> bool:
    """An absolute URL with one of ``schemes``, a host, and no query, fragment or credentials."""
    try:
        parts = urllib.parse.urlsplit(value)
        has_valid_port = parts.port is None or parts.port > 0  # .port raises on a port that is not a number
    except ValueError:
        return False
    return (
        parts.scheme in schemes
        and bool(parts.hostname)
        and has_valid_port
        and not (parts.query or parts.fragment or parts.username or parts.password)
        and not any(ch.isspace() for ch in value)
    )


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; raise :class:`SettingsError` naming the first bad setting."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "SETTINGS"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(name, message) from None
