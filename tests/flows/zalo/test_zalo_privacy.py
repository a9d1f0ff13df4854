"""The personal-data commands typed on Zalo (no buttons, no files): /privacy, /request, /mydata (the file as
a link with PUBLIC_BASE_URL, a note without), /erase confirmed by a typed "có" or "1", what stays and why,
and /start afterwards as someone new; and a file made for someone on Zalo goes when its period is over.

The bot's clock stands at 10:00 on 10 February 2020 in Hà Nội, inside Tây Hồ's 2020 plan; the organiser
is on Telegram unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.playground.harness import ChatUser, Playground, ZaloChatUser
from bot.settings import Settings
from handlers.schedule import plan_and_queue
from storage.models import Account, AuditEntry, ChannelIdentity, StoredFileRecord
from tests.clock import Clock
from tests.flows.conftest import running
from tests.flows.test_privacy_rights_flow import _dry_run
from tests.flows.zalo.conftest import PUBLIC_BASE_URL, zalo_organiser
from tests.people import account_id_at

NOW = dt.datetime(2020, 2, 10, 3, 0, tzinfo=dt.UTC)  # 10:00 in Hà Nội
NO_FILE_ON_ZALO = "Tệp này có thể nhận qua Telegram hoặc tại Ban Tổ chức."
URL = re.compile(r"https://\S+")


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def playground(settings: Settings, clock: Clock) -> AsyncIterator[Playground]:
    async with running(settings, clock, zalo=True, seed_plan=True) as pg:
        yield pg


async def _drain(playground: Playground) -> None:
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()


async def test_privacy_and_a_request_typed_on_zalo_reach_the_organisers_and_the_answer_comes_back_on_zalo(
    playground: Playground, lan: ZaloChatUser, organiser: ChatUser
) -> None:
    await organiser.send("/start")
    notice = await lan.send("/privacy")
    text = "\n".join(notice)
    assert "Bên chịu trách nhiệm về dữ liệu của bạn: UBND quận Tây Hồ." in text
    assert "Luật số 91/2025/QH15" in text and "/mydata" in text and "/erase" in text
    assert all(len(part) <= 2000 for part in notice)

    [kinds] = await lan.send("/request")
    assert kinds.startswith("Bạn muốn đề nghị Ban tổ chức việc gì?\n\n1. Sửa dữ liệu về tôi\n")
    assert kinds.endswith("Trả lời 1, 2, 3 hoặc 4.")
    [asked] = await lan.send("1")
    [too_short] = await lan.send("sai")
    [filed] = await lan.send("Năm sinh của tôi ghi sai, đúng là 1978")
    assert asked.startswith("Vui lòng viết yêu cầu trong một tin nhắn")
    assert too_short.startswith("Vui lòng viết rõ hơn (ít nhất 10 ký tự)") and too_short.endswith(asked)
    assert filed.startswith("Cảm ơn bạn. Yêu cầu số 1 đã được chuyển tới Ban tổ chức;")

    closed = await organiser.send("/requests 1 Đã sửa năm sinh thành 1978")
    assert closed[-1].text == "Đã đóng yêu cầu số 1. Người gửi yêu cầu sẽ được thông báo."
    before = len(lan.texts)
    await _drain(playground)
    assert any("Đã sửa năm sinh thành 1978" in told for told in lan.texts[before:])


async def test_mydata_on_zalo_is_a_summary_and_the_file_a_note_or_a_link_only_its_owner_gets(
    playground: Playground, lan: ZaloChatUser
) -> None:
    without_link = await lan.send("/mydata")
    playground.file_store.public_base_url = PUBLIC_BASE_URL
    with_link = await lan.send("/mydata")

    assert without_link[0].startswith("Dữ liệu của bạn, tài khoản #")
    assert "• Tên: Nguyễn Thị Lan" in without_link[0] and "• Trên Zalo từ ngày 10/2/2020" in without_link[0]
    assert "Không thể gửi tệp “mydata-" in without_link[-1] and without_link[-1].endswith(NO_FILE_ON_ZALO)
    [url] = URL.findall(with_link[-1])
    assert url.startswith(f"{PUBLIC_BASE_URL}/files/") and url.endswith(".json")
    opened = await playground.shared_file(url)
    assert opened is not None and opened.data is not None
    data = json.loads(opened.data)
    assert data["account"]["name"] == "Nguyễn Thị Lan"
    assert [identity["channel"] for identity in data["identities"]] == ["zalo"]
    lan_id = await account_id_at(playground.services.database, await lan.address())
    async with playground.services.database.transaction() as db:
        owners = (await db.scalars(select(StoredFileRecord.owner_account_id))).all()
        looked = await db.scalar(select(func.count()).where(AuditEntry.action == "privacy.mydata"))
    assert owners == [lan_id] and looked == 2


@pytest.mark.parametrize("yes", ["có", "1"])
async def test_erase_on_zalo_says_what_stays_and_why_a_typed_yes_erases_and_start_is_a_new_person(
    playground: Playground, lan: ZaloChatUser, yes: str
) -> None:
    [welcome] = await lan.send("/start")
    first_number = int(re.search(r"Số tài khoản của bạn: #(\d+)\.", welcome).group(1))  # type: ignore[union-attr]
    playground.file_store.public_base_url = PUBLIC_BASE_URL
    await lan.send("/mydata")  # a file kept for her: it goes with her

    [asked] = await lan.send("/erase")
    assert "Sẽ bị xoá:" in asked and "Được giữ lại, và lý do:" in asked
    assert "• các tệp lưu cho bạn (1)" in asked
    assert "• nhật ký kiểm tra và các yêu cầu bạn đã gửi Ban tổ chức" in asked
    assert asked.endswith("1. Xoá dữ liệu của tôi\n2. Không, giữ lại\n\nTrả lời 1 hoặc 2.")
    # Asked once: "Việc này không thể hoàn tác." then the question, not the question twice in other words.
    assert "Việc này không thể hoàn tác.\n\nXoá dữ liệu của bạn?" in asked and asked.count("?") == 1
    [done] = await lan.send(yes)
    assert done.startswith("Xong: dữ liệu của bạn đã được xoá.")

    async with playground.services.database.transaction() as db:
        erased = await db.get_one(Account, first_number)
        identities = (await db.scalars(select(ChannelIdentity).where(ChannelIdentity.account_id == first_number))).all()
        files = await db.scalar(select(func.count()).select_from(StoredFileRecord))
        action = await db.scalar(
            select(AuditEntry.action).where(AuditEntry.actor_id == first_number).order_by(AuditEntry.id.desc())
        )
    assert erased.erased_at is not None and erased.display_name == "" and identities == [] and files == 0
    assert action == "privacy.erase"

    [again] = await lan.send("/start")
    assert again.startswith("Xin chào Nguyễn Thị Lan!")
    second_number = int(re.search(r"Số tài khoản của bạn: #(\d+)\.", again).group(1))  # type: ignore[union-attr]
    assert second_number != first_number
    assert await account_id_at(playground.services.database, await lan.address()) == second_number
    [nothing] = (await lan.send("/mydata"))[:1]
    assert "• Trên Zalo từ " in nothing and "Các đề cử bạn đã gửi" not in nothing


async def test_keeping_the_data_on_zalo_erases_nothing(playground: Playground, lan: ZaloChatUser) -> None:
    await lan.send("/erase")
    [kept] = await lan.send("2")

    assert kept == "Chưa xoá gì cả."
    async with playground.services.database.transaction() as db:
        assert await db.scalar(select(func.count()).where(Account.erased_at.is_not(None))) == 0


# --- a file made for someone on Zalo goes when its period is over --------------------------------------------


async def test_an_export_shared_on_zalo_goes_after_its_three_days_and_not_before_and_the_digest_says_so(
    playground: Playground, clock: Clock, monkeypatch, tmp_path, capsys
) -> None:
    hoa = await zalo_organiser(playground)
    playground.file_store.public_base_url = PUBLIC_BASE_URL
    [*_, link] = await hoa.send("/export")
    [url] = URL.findall(link)
    name = url.rsplit("/", 1)[-1]

    clock.advance(hours=71)
    early = await _dry_run(playground, clock, monkeypatch, tmp_path, capsys)
    assert await playground.file_store.purge() == 0
    assert early == ["Không có dữ liệu nào quá thời hạn lưu trữ."]
    assert await playground.shared_file(url) is not None

    clock.advance(hours=1, minutes=1)
    due = await _dry_run(playground, clock, monkeypatch, tmp_path, capsys)
    assert await playground.shared_file(url) is None  # an expired link is refused at once
    deleted = await playground.file_store.purge()  # the job that runs every ten minutes
    assert due == [
        "Chạy thử, dữ liệu không thay đổi. Hiện đã quá thời hạn lưu trữ:",
        "• tệp đã chia sẻ sẽ xoá: 1",
        f"    {name}, lúc 10:00, 10/2/2020",
    ]
    assert deleted == 1
    async with playground.services.database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(StoredFileRecord)) == 0

    # The next digest (07:30) says what went.
    clock.now = dt.datetime(2020, 2, 14, 0, 30, tzinfo=dt.UTC)
    before = len(hoa.texts)
    await plan_and_queue(playground.services, "dienhinh_bot")
    await _drain(playground)
    [digest] = [text for text in hoa.texts[before:] if text.startswith("Tin tổng hợp")]
    assert "🗑 Dữ liệu cá nhân hết thời hạn lưu trữ: đã xoá 1 tệp đã chia sẻ." in digest
