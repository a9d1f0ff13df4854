"""Files shared by link, fetched over real HTTP: bytes and headers, expiry, misses that all look alike,
the per-address cool-down, and tokens kept out of the logs."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.channels.web import WebServer, content_disposition
from bot.i18n import Translators
from rules.files import DatabaseFileStore
from rules.guesses import GuessThrottle
from storage.db import Database
from tests.clock import Clock
from tests.people import telegram_account

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
PUBLIC = "https://dienhinh.example.gov.vn"
LAN, HUNG = 1001, 1002
PNG = b"\x89PNG\r\n\x1a\n" + b"QR" * 500
ICS = "BEGIN:VCALENDAR\r\nSUMMARY:Hội nghị điển hình tiên tiến\r\nEND:VCALENDAR\r\n".encode()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def store(database: Database, clock: Clock) -> DatabaseFileStore:
    async with database.transaction() as db:
        accounts = {LAN: await telegram_account(db, LAN, "Lan"), HUNG: await telegram_account(db, HUNG, "Hùng")}

    async def owner_account(person: int) -> int | None:
        return accounts.get(person)

    return DatabaseFileStore(database, owner_account=owner_account, public_base_url=PUBLIC, clock=clock)


@pytest.fixture
def misses() -> GuessThrottle:
    return GuessThrottle(limit=10, window=dt.timedelta(minutes=10), cool_down=dt.timedelta(minutes=15))


@pytest.fixture
async def server(store: DatabaseFileStore, clock: Clock, misses: GuessThrottle) -> AsyncIterator[WebServer]:
    web = WebServer(
        "127.0.0.1",
        0,
        translator=Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh")).default,
        files=store,
        file_misses=misses,
        clock=clock,
    )
    await web.start()
    try:
        yield web
    finally:
        await web.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


def _local(server: WebServer, url: str | None) -> str:
    """The link as the phone would open it, sent to this test server instead of the public address."""
    assert url is not None and url.startswith(PUBLIC + "/files/")
    return server.base_url + url.removeprefix(PUBLIC)


def _token(url: str | None) -> str:
    assert url is not None
    return url.removeprefix(PUBLIC + "/files/").split("/")[0]


async def test_a_shared_image_is_served_with_its_bytes_and_safe_headers(server, store, http):
    url = await store.share(PNG, filename="Mã check-in – Đặng Thị Hòa.png", content_type="image/png", owner=HUNG)

    response = await http.get(_local(server, url))

    assert response.status_code == 200
    assert response.content == PNG
    headers = response.headers
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Length"] == str(len(PNG))
    assert headers["Content-Disposition"] == (
        "inline; filename=\"Ma-check-in-Dang-Thi-Hoa.png\"; filename*=UTF-8''"
        "M%C3%A3%20check-in%20%E2%80%93%20%C4%90%E1%BA%B7ng%20Th%E1%BB%8B%20H%C3%B2a.png"
    )
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "sandbox"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Server" not in headers and "Etag" not in headers


async def test_a_calendar_file_downloads_under_its_vietnamese_name(server, store, http):
    url = await store.share(
        ICS, filename="Giấy mời hội nghị.ics", content_type="text/calendar; charset=utf-8", owner=LAN
    )

    response = await http.get(_local(server, url))

    assert response.status_code == 200
    assert response.content == ICS
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Giay-moi-hoi-nghi.ics"; ')
    assert disposition.endswith("filename*=UTF-8''Gi%E1%BA%A5y%20m%E1%BB%9Di%20h%E1%BB%99i%20ngh%E1%BB%8B.ics")


async def test_head_gives_the_headers_without_the_body(server, store, http):
    url = await store.share(PNG, filename="qr.png", content_type="image/png", owner=LAN)

    response = await http.head(_local(server, url))

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == str(len(PNG))
    assert response.headers["Content-Type"] == "image/png"


async def test_the_name_in_the_link_is_only_for_the_eye(server, store, http):
    url = await store.share(PNG, filename="qr.png", content_type="image/png", owner=LAN)

    renamed = await http.get(f"{server.base_url}/files/{_token(url)}/something-else.png")

    assert renamed.status_code == 200 and renamed.content == PNG


async def test_an_expired_unknown_or_malformed_link_gets_the_same_404(server, store, clock, http):
    expired_url = await store.share(PNG, filename="qr.png", content_type="image/png", owner=LAN)
    evidence_id = await store.keep(PNG, filename="evidence.png", content_type="image/png", owner=LAN)
    clock.advance(hours=72)
    paths = [
        _local(server, expired_url),
        f"{server.base_url}/files/{'A' * 24}/qr.png",  # the shape of a token, but never issued
        f"{server.base_url}/files/{evidence_id.removeprefix('zf_')}/evidence.png",  # evidence is never shared
        f"{server.base_url}/files/short/qr.png",
        f"{server.base_url}/files/{_token(expired_url)}%0A/qr.png",
        f"{server.base_url}/files/",
    ]

    answers = [await http.get(path) for path in paths]

    assert {answer.status_code for answer in answers} == {404}
    assert len({answer.content for answer in answers}) == 1
    assert answers[0].text == "Đường dẫn này không hợp lệ hoặc đã hết hạn. Vui lòng nhắn trợ lý để nhận lại tệp."
    assert len({tuple(sorted((k, v) for k, v in a.headers.items() if k.lower() != "date")) for a in answers}) == 1
    assert answers[0].headers["Cache-Control"] == "private, no-store"


async def test_a_link_stops_working_the_moment_it_expires(server, store, clock, http):
    url = await store.share(PNG, filename="qr.png", content_type="image/png", owner=LAN)

    clock.advance(hours=72, seconds=-1)
    last_second = await http.get(_local(server, url))
    clock.advance(seconds=1)
    expired = await http.get(_local(server, url))

    assert (last_second.status_code, expired.status_code) == (200, 404)


async def test_too_many_misses_from_one_address_cool_it_down(server, store, clock, http):
    url = await store.share(PNG, filename="qr.png", content_type="image/png", owner=LAN)
    wrong = [f"{server.base_url}/files/{'B' * 23}{letter}/x.png" for letter in "abcdefghij"]

    misses = [await http.get(path) for path in wrong]
    refused = await http.get(_local(server, url))  # even a good link, while this address cools down
    clock.advance(minutes=15)
    again = await http.get(_local(server, url))

    assert [miss.status_code for miss in misses] == [404] * 10
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(15 * 60)
    assert refused.text.startswith("Có quá nhiều đường dẫn sai")
    assert again.status_code == 200 and again.content == PNG


async def test_tokens_never_reach_the_logs(server, store, http, caplog):
    caplog.set_level(logging.DEBUG)
    url = await store.share(PNG, filename="qr.png", content_type="image/png", owner=LAN)
    token = _token(url)

    await http.get(_local(server, url))
    await http.get(f"{server.base_url}/files/{token[:-1]}Z/qr.png")

    # Only the server's own loggers: the test's HTTP client logs the URLs it requests.
    logged = "\n".join(
        record.getMessage() for record in caplog.records if record.name.startswith(("bot.", "tornado", "rules."))
    )
    assert f"/files/{token[:6]}…" in logged  # the access line names the request by its first six characters
    assert token not in logged and token[:7] not in logged


def test_content_disposition_keeps_quotes_out_of_the_ascii_name():
    assert (
        content_disposition('a"b.svg', "image/svg+xml")
        == "attachment; filename=\"a-b.svg\"; filename*=UTF-8''a%22b.svg"
    )
