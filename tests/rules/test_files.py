"""The bot's own file store: evidence kept and loaded back, shares with expiring links, limits, the purge."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select

from rules import files
from rules.files import DatabaseFileStore, FileRejected, StoredFile
from storage.db import Database
from storage.models import Account, StoredFileRecord
from tests.clock import Clock
from tests.people import telegram_account

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
LAN, HUNG, STRANGER = 1001, 1002, 4040
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


async def _accounts(database: Database) -> dict[int, int]:
    async with database.transaction() as db:
        return {LAN: await telegram_account(db, LAN, "Lan"), HUNG: await telegram_account(db, HUNG, "Hùng")}


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
async def accounts(database: Database) -> dict[int, int]:
    return await _accounts(database)


@pytest.fixture
def store(database: Database, accounts: dict[int, int], clock: Clock) -> DatabaseFileStore:
    async def owner_account(person: int) -> int | None:
        return accounts.get(person)

    return DatabaseFileStore(
        database, owner_account=owner_account, public_base_url="https://dienhinh.example.gov.vn/", clock=clock
    )


async def _rows(database: Database) -> list[StoredFileRecord]:
    async with database.transaction() as db:
        return list((await db.execute(select(StoredFileRecord).order_by(StoredFileRecord.id))).scalars())


async def test_evidence_is_kept_and_loaded_back(store, database, accounts):
    file_id = await store.keep(PNG, filename="Ảnh nhặt được ví.png", content_type="image/png", owner=LAN)

    loaded = await store.load(file_id)

    assert file_id.startswith("zf_") and len(file_id) == 3 + 24
    assert loaded == StoredFile(data=PNG, filename="Ảnh nhặt được ví.png", content_type="image/png")
    [row] = await _rows(database)
    assert (row.purpose, row.owner_account_id, row.size, row.expires_at) == ("evidence", accounts[LAN], len(PNG), None)
    assert row.sha256 == hashlib.sha256(PNG).hexdigest()
    # The id's token is not stored; only its hash, so the database alone cannot produce the id.
    assert row.token_hash is not None and file_id[3:] not in row.token_hash
    assert row.token_hash == hashlib.sha256(file_id[3:].encode()).hexdigest()


async def test_evidence_without_a_known_owner_is_still_kept(store):
    file_id = await store.keep(PNG, filename="a.png", content_type="image/png", owner=None)
    other = await store.keep(PNG, filename="b.png", content_type="image/png", owner=STRANGER)

    assert (await store.load(file_id)) is not None
    assert (await store.load(other)) is not None


@pytest.mark.parametrize(
    "file_id",
    ["", "zf_", "zf_1", "zf_2", "1", "zf_" + "A" * 24, "zf_" + "A" * 23 + "\n", "tg_AgACAgUAAxkBAAIB", "zf_../../etc"],
)
async def test_an_unknown_or_made_up_file_id_loads_nothing(store, file_id):
    await store.keep(PNG, filename="a.png", content_type="image/png", owner=LAN)

    assert await store.load(file_id) is None


async def test_a_share_token_is_not_an_evidence_id(store):
    url = await store.share(PNG, filename="qr.png", content_type="image/png", owner=LAN)
    assert url is not None
    token = url.split("/files/", 1)[1].split("/", 1)[0]

    assert await store.load("zf_" + token) is None


async def test_a_share_link_is_made_under_the_public_address_and_opens_until_it_expires(
    store, database, clock, accounts
):
    url = await store.share(PNG, filename="Mã QR – Đặng Thị Hòa.png", content_type="image/png", owner=HUNG)

    assert url is not None
    assert url.startswith("https://dienhinh.example.gov.vn/files/")  # the trailing slash of the setting is gone
    token, name = url.removeprefix("https://dienhinh.example.gov.vn/files/").split("/")
    assert len(token) == 24 and name == "Ma-QR-Dang-Thi-Hoa.png"
    [row] = await _rows(database)
    assert (row.purpose, row.owner_account_id) == ("share", accounts[HUNG])
    assert row.expires_at == T0 + dt.timedelta(hours=72)
    assert token not in (row.token_hash or "")

    shared = await store.open_share(token)
    assert shared is not None and shared.data == PNG and shared.filename == "Mã QR – Đặng Thị Hòa.png"
    headers_only = await store.open_share(token, with_data=False)
    assert headers_only is not None and headers_only.data is None and headers_only.size == len(PNG)

    clock.advance(hours=72)
    assert await store.open_share(token) is None


async def test_two_shares_of_the_same_file_have_different_links(store):
    first = await store.share(PNG, filename="qr.png", content_type="image/png", owner=LAN)
    second = await store.share(PNG, filename="qr.png", content_type="image/png", owner=HUNG)

    assert first is not None and second is not None and first != second


async def test_no_public_address_means_no_link_and_nothing_kept(database, accounts):
    async def owner_account(person: int) -> int | None:
        return accounts.get(person)

    store = DatabaseFileStore(database, owner_account=owner_account, public_base_url="")

    assert await store.share(PNG, filename="qr.png", content_type="image/png", owner=LAN) is None
    assert await _rows(database) == []


async def test_no_link_for_someone_without_an_account(store, database):
    assert await store.share(PNG, filename="qr.png", content_type="image/png", owner=STRANGER) is None
    assert await _rows(database) == []


async def test_the_link_lifetime_is_configurable(database, accounts, clock):
    async def owner_account(person: int) -> int | None:
        return accounts.get(person)

    store = DatabaseFileStore(
        database,
        owner_account=owner_account,
        public_base_url="https://x.example",
        link_ttl=dt.timedelta(hours=1),
        clock=clock,
    )
    url = await store.share(PNG, filename="a.ics", content_type="text/calendar", owner=LAN)
    assert url is not None
    token = url.split("/")[-2]

    clock.advance(minutes=59)
    assert await store.open_share(token) is not None
    clock.advance(minutes=1)
    assert await store.open_share(token) is None


async def test_files_over_the_limit_or_empty_are_refused_and_nothing_is_kept(database, accounts):
    async def owner_account(person: int) -> int | None:
        return accounts.get(person)

    store = DatabaseFileStore(
        database, owner_account=owner_account, public_base_url="https://x.example", max_bytes=2 * 1024 * 1024
    )
    too_big = b"\0" * (2 * 1024 * 1024 + 1)

    with pytest.raises(FileRejected) as kept:
        await store.keep(too_big, filename="a.jpg", content_type="image/jpeg", owner=LAN)
    with pytest.raises(FileRejected) as shared:
        await store.share(too_big, filename="a.xlsx", content_type="application/octet-stream", owner=LAN)
    with pytest.raises(FileRejected) as empty:
        await store.keep(b"", filename="a.jpg", content_type="image/jpeg", owner=LAN)
    at_limit = await store.keep(too_big[:-1], filename="a.jpg", content_type="image/jpeg", owner=LAN)

    assert (kept.value.code, kept.value.values) == ("too_large", {"limit_mb": 2})
    assert kept.value.msgid == "The file is larger than {limit_mb} MB."
    assert shared.value.code == "too_large"
    assert empty.value.code == "empty"
    assert [row.size for row in await _rows(database)] == [2 * 1024 * 1024]
    assert (await store.load(at_limit)) is not None


def test_the_default_limit_is_twenty_megabytes():
    assert files.MAX_FILE_BYTES == 20 * 1024 * 1024


async def test_purge_deletes_expired_shares_only(store, database, clock):
    evidence = await store.keep(PNG, filename="a.png", content_type="image/png", owner=LAN)
    old = await store.share(PNG, filename="old.png", content_type="image/png", owner=LAN)
    clock.advance(hours=48)
    recent = await store.share(PNG, filename="recent.png", content_type="image/png", owner=LAN)
    clock.advance(hours=24)  # old is now 72 h old, recent 24 h

    async with database.transaction() as db:
        deleted = await files.purge_expired(db, clock())
    again = await store.purge()

    assert (deleted, again) == (1, 0)
    names = [row.filename for row in await _rows(database)]
    assert names == ["a.png", "recent.png"]
    assert old is not None and recent is not None
    assert await store.load(evidence) is not None
    assert await store.open_share(recent.split("/")[-2]) is not None


async def test_an_evidence_file_with_an_expiry_is_purged_too(store, database, clock):
    # Issue 12's retention sets expires_at on evidence; the same purge then removes it.
    file_id = await store.keep(PNG, filename="a.png", content_type="image/png", owner=LAN)
    async with database.transaction() as db:
        row = (await db.execute(select(StoredFileRecord))).scalar_one()
        row.expires_at = clock() + dt.timedelta(days=1)

    clock.advance(days=1)
    assert await store.load(file_id) is None  # past its expiry it is gone at once, purged or not
    assert await store.purge() == 1
    async with database.transaction() as db:
        assert (await db.execute(select(func.count()).select_from(StoredFileRecord))).scalar_one() == 0


async def test_a_persons_files_go_with_their_account(store, database, accounts):
    await store.keep(PNG, filename="a.png", content_type="image/png", owner=LAN)
    await store.share(PNG, filename="b.png", content_type="image/png", owner=LAN)
    await store.share(PNG, filename="c.png", content_type="image/png", owner=HUNG)

    async with database.transaction() as db:
        await db.delete(await db.get(Account, accounts[LAN]))

    assert [row.filename for row in await _rows(database)] == ["c.png"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Giấy mời.ics", "Giấy mời.ics"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("a\\b\x00c\r\n.png", "a_b_c__.png"),
        ("   ", "file"),
        ("...", "file"),
        ("x" * 300 + ".xlsx", "x" * 195 + ".xlsx"),
        ("Nguye\u0302\u0303n.png", "Nguyễn.png"),  # decomposed input stored NFC
    ],
)
def test_file_names_are_made_safe(given, stored):
    assert files.safe_filename(given) == stored
    assert len(files.safe_filename(given)) <= files.MAX_FILENAME_CHARS


@pytest.mark.parametrize(
    ("given", "served"),
    [
        ("image/png", "image/png"),
        ("IMAGE/JPEG", "image/jpeg"),
        ("text/calendar; charset=UTF-8", "text/calendar; charset=utf-8"),
        ("image/jpeg;charset=binary; q=1", "image/jpeg; charset=binary"),
        ("", "application/octet-stream"),
        ("text/html\r\nSet-Cookie: a=b", "application/octet-stream"),
        ("not a type", "application/octet-stream"),
        ('image/png; charset="x\r\ny"', "image/png"),
    ],
)
def test_content_types_are_made_safe(given, served):
    assert files.safe_content_type(given) == served


def test_link_names_are_short_ascii_and_keep_the_extension():
    assert files.link_name("Danh sách đại biểu – Hội nghị điển hình tiên tiến quận Tây Hồ năm 2020.xlsx") == (
        "Danh-sach-dai-bieu-Hoi-nghi-dien-hinh-tien-tien-quan-Ta.xlsx"
    )
    assert len(files.link_name("Đ" * 500 + ".ics")) <= files.MAX_LINK_NAME_CHARS
    assert files.link_name("完全.png") == "png"
    assert files.link_name("???") == "file"
