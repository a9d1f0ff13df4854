"""What issue 12 left, through the real Application on a clock that stands still until the test moves it:
a delegate who was checked in sees the check-in in /mydata; an uploaded guest list goes two days after it
was sent (not before), the digest says so and ``dienhinh privacy purge --dry-run`` lists it first; and a
nomination marked as a duplicate of one that is erased goes back to the review queue, its nominator told.

The clock stands at 10:00 on 10 February 2020 in Hà Nội, inside Tây Hồ's 2020 plan.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot import cli
from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.settings import Settings
from handlers.privacy import purge_now
from handlers.schedule import plan_and_queue
from rules import retention
from storage import migrate
from storage.models import Account, AuditEntry, Invitation, InvitationImport
from tests.clock import Clock
from tests.flows.conftest import running
from tests.flows.test_invite_flow import DISTRICT, GUEST_LIST, xlsx
from tests.invitations import invite

NOW = dt.datetime(2020, 2, 10, 3, 0, tzinfo=dt.UTC)  # 10:00 in Hà Nội
HUNG = 5005


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def playground(settings: Settings, clock: Clock) -> AsyncIterator[Playground]:
    async with running(settings, clock, seed_plan=True) as pg:
        yield pg


@pytest.fixture
def hung(playground: Playground) -> ChatUser:
    return playground.person(Persona(HUNG, "Hùng", "Trần Văn"))


async def _drain(playground: Playground) -> None:
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()


# --- a delegate's check-in in /mydata ----------------------------------------------------------------------


async def test_a_delegate_who_was_checked_in_sees_when_and_by_which_role_in_mydata_and_its_file(
    playground, clock, hung, organiser
):
    invited = await invite(playground.services, "Trần Văn Hùng")
    await hung.send(f"/start inv_{invited.token}")
    accepted = await hung.press("Tham dự")
    assert accepted[0].text.startswith(
        "Xin trân trọng cảm ơn ông Trần Văn Hùng. Chỗ của ông tại Hội nghị Điển hình tiên tiến đã được xác nhận."
    )
    clock.advance(hours=5, minutes=30)  # 15:30 in Hà Nội
    at_door = await organiser.send(f"/checkin {invited.code}")
    assert at_door[-1].text.startswith("✅ Đã điểm danh: Trần Văn Hùng")

    replies = await hung.send("/mydata")

    summary = replies[0].text
    assert (
        "• Hội nghị Điển hình tiên tiến: được mời ngày 10/2/2020; tham dự (trả lời ngày 10/2/2020); "
        "đã điểm danh lúc 15:30, 10/2/2020, người ghi nhận: Thành viên Ban tổ chức"
    ) in summary
    file = replies[-1]
    assert file.method == "sendDocument" and file.file_name.endswith(".json")
    [invitation] = json.loads(file.file_bytes)["invitations"]
    assert invitation["conference"] == "Hội nghị Điển hình tiên tiến"
    assert invitation["invited_at"] == "2020-02-10T10:00:00+07:00"
    assert (invitation["status"], invitation["responded_at"]) == ("accepted", "2020-02-10T10:00:00+07:00")
    assert invitation["checked_in_at"] == "2020-02-10T15:30:00+07:00"
    assert invitation["checked_in_by"] == "organiser"
    # Who stood at the desk is not the delegate's data: neither the organiser's name nor a Telegram id.
    text = file.file_bytes.decode("utf-8")
    assert "Phạm Thu Hoà" not in text and "9001" not in text and "Hoà" not in summary
    async with playground.services.database.transaction() as db:
        check_in = await db.scalar(select(AuditEntry).where(AuditEntry.action == "invitation.check_in"))
        looked = await db.scalar(select(func.count()).where(AuditEntry.action == "privacy.mydata"))
    assert check_in is not None and check_in.detail == {"by_role": "organiser"}
    assert looked == 1


# --- retention of uploaded guest lists --------------------------------------------------------------------


async def _send_guest_list(organiser: ChatUser) -> None:
    await organiser.send_document(xlsx(GUEST_LIST), "khach-moi.xlsx")
    await organiser.press(DISTRICT)
    done = await organiser.press("Mời 2 người hợp lệ")
    assert done[-1].text.startswith("Đã tạo thư mời cho 2 người trong danh sách khách mời.")


async def _dry_run(playground: Playground, clock: Clock, monkeypatch, tmp_path, capsys) -> list[str]:
    """``dienhinh privacy purge --dry-run`` on the playground's database, at the test's clock."""
    url = playground.services.database.url
    await migrate.stamp(url, "head")  # the tables came from the models, as the migrations make them
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr(cli, "clock", clock)
    capsys.readouterr()
    # cli.main runs its own event loop, as it does from the shell.
    assert await asyncio.to_thread(cli.main, ["privacy", "purge", "--dry-run"]) == 0
    return capsys.readouterr().out.strip().splitlines()


async def _count(playground: Playground, model: type) -> int:
    async with playground.services.database.transaction() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_uploaded_guest_list_goes_two_days_after_it_came_and_the_dry_run_and_the_digest_say_so(
    playground, clock, organiser, monkeypatch, tmp_path, capsys
):
    await _send_guest_list(organiser)
    assert await _count(playground, InvitationImport) == 1

    # 02:00 two days later: 40 hours old, inside its 2 days; the daily purge keeps it.
    clock.now = dt.datetime(2020, 2, 11, 19, 0, tzinfo=dt.UTC)
    kept = await _dry_run(playground, clock, monkeypatch, tmp_path, capsys)
    await purge_now(playground.services)
    assert kept == ["Không có dữ liệu nào quá thời hạn lưu trữ."]
    assert await _count(playground, InvitationImport) == 1

    # 02:00 the day after: 64 hours old.
    clock.now = dt.datetime(2020, 2, 12, 19, 0, tzinfo=dt.UTC)
    listed = await _dry_run(playground, clock, monkeypatch, tmp_path, capsys)
    assert await _count(playground, InvitationImport) == 1  # a dry run changes nothing
    done = await purge_now(playground.services)
    assert listed == [
        "Chạy thử, dữ liệu không thay đổi. Hiện đã quá thời hạn lưu trữ:",
        "• danh sách khách mời đã tải lên sẽ xoá: 1",
        "    khach-moi.xlsx, lúc 10:00, 10/2/2020",
    ]
    assert done.counts() == {"guest_list": 1}
    assert await _count(playground, InvitationImport) == 0
    assert await _count(playground, Invitation) == 2  # the invitations are the conference's record

    # The organisers' digest at 07:30 says what went.
    clock.now = dt.datetime(2020, 2, 13, 0, 30, tzinfo=dt.UTC)
    before = len(organiser.messages)
    await plan_and_queue(playground.services, "dienhinh_bot")
    await _drain(playground)
    [digest] = [m.text for m in organiser.messages[before:] if m.text.startswith("Tin tổng hợp")]
    assert "🗑 Dữ liệu cá nhân hết thời hạn lưu trữ: đã xoá 1 danh sách khách mời tải lên." in digest


def _on_disk(url: str, text: str) -> bool:
    """Whether ``text`` is anywhere in the SQLite database's files (the database, its log), as UTF-8 or as
    JSON writes it (``\\u`` escapes)."""
    path = Path(make_url(url).database or "")
    needles = (text.encode("utf-8"), json.dumps(text)[1:-1].encode("ascii"))
    files = [p for p in path.parent.glob(path.name + "*") if p.is_file()]
    return any(needle in p.read_bytes() for p in files for needle in needles)


@pytest.mark.sqlite_only
async def test_a_purged_guest_list_leaves_no_bytes_in_the_database_files(playground, clock, organiser):
    await _send_guest_list(organiser)
    url = playground.services.database.url
    await playground.services.database.empty_log()
    # Lê Thị Dung's row was refused for a unit the plan does not have: that unit's name is only in the list.
    assert _on_disk(url, "Phường Không Có")

    clock.now = dt.datetime(2020, 2, 12, 19, 0, tzinfo=dt.UTC)
    await purge_now(playground.services)

    assert await _count(playground, InvitationImport) == 0
    assert not _on_disk(url, "Phường Không Có")


# --- a duplicate whose original is erased goes back to review ----------------------------------------------

MINH = 5007


async def _duplicate_marked(playground: Playground, organiser: ChatUser) -> tuple[int, int]:
    """Lan's nomination of Nguyễn Văn Đức, and Minh's of the same man marked by the organiser as its
    duplicate through /review; Minh has been told. Returns (the original's id, the duplicate's id)."""
    from tests.flows.test_review_flow import _ensure, submit

    original = await submit(playground, 1, "Nguyễn Văn Đức", days_ago=3)
    minh_id = await _ensure(playground, MINH, "Trần Văn Minh")
    copy = await submit(playground, 2, "NGUYỄN VĂN ĐỨC", days_ago=1, nominator_id=minh_id)
    await organiser.send("/review")
    card = await organiser.press("Để sau")  # Lan's, the older one
    assert "⚠️ Có thể trùng với DH-2020-0001" in card[-1].text
    await organiser.press("Đánh dấu trùng")
    done = await organiser.press("DH-2020-0001")
    assert done[0].text.startswith("Đã đánh dấu DH-2020-0002 (NGUYỄN VĂN ĐỨC) trùng với DH-2020-0001.")
    await _drain(playground)
    return original.id, copy.id


async def test_a_duplicate_whose_original_is_erased_by_its_nominator_is_back_in_review_and_its_nominator_told(
    playground, citizen, organiser
):
    from storage.models import Nomination, NominationEvent

    original_id, copy_id = await _duplicate_marked(playground, organiser)
    minh = playground.person(Persona(MINH, "Minh", "Trần Văn"))
    told_before = len(playground.api.messages(MINH))

    asked = await citizen.send("/erase")
    assert "• đề cử chưa được quyết định, sẽ được rút và xoá: DH-2020-0001" in asked[-1].text
    erased = await citizen.send("có")
    assert erased[-1].text.startswith("Xong: dữ liệu của bạn đã được xoá.")

    async with playground.services.database.transaction() as db:
        copy = await db.get_one(Nomination, copy_id)
        gone = await db.get(Nomination, original_id)
        [event] = (
            await db.scalars(
                select(NominationEvent).where(
                    NominationEvent.nomination_id == copy_id, NominationEvent.reason == "original_gone"
                )
            )
        ).all()
        reopened = await db.scalar(select(AuditEntry).where(AuditEntry.action == "nomination.back_to_review"))
    assert gone is None
    assert (copy.status, copy.duplicate_of_id, copy.decided_at) == ("submitted", None, None)
    assert (event.from_status, event.to_status) == ("duplicate", "submitted")
    assert reopened is not None and reopened.detail == {"code": "DH-2020-0002", "duplicate_of": "DH-2020-0001"}

    await _drain(playground)
    [notice] = [m.text for m in playground.api.messages(MINH)[told_before:]]
    assert notice == (
        "Đề cử DH-2020-0002 (NGUYỄN VĂN ĐỨC) của bạn được xét duyệt lại: đề cử DH-2020-0001 mà đề cử này bị "
        "đánh dấu trùng không còn được lưu giữ. Bạn sẽ được thông báo khi có quyết định."
    )
    assert "Lan" not in notice  # why the original went is its nominator's business
    mine = await minh.send("/mine")
    assert "• DH-2020-0002 — NGUYỄN VĂN ĐỨC: Đang chờ xét duyệt" in mine[-1].text
    history = await minh.send("/nomination DH-2020-0002")
    assert history[-1].text.endswith(
        "• 10:00, 10/2/2020: Đang chờ xét duyệt\n"
        "   trở lại hàng chờ xét duyệt vì đề cử gốc mà đề cử này trùng không còn được lưu giữ"
    )
    review = await organiser.send("/review")
    assert "DH-2020-0002" in review[-1].text and "NGUYỄN VĂN ĐỨC" in review[-1].text
    assert "Có thể trùng" not in review[-1].text
    # Lan, writing again on Telegram, is someone new: a new account, none of the old one's data.
    again = await citizen.send("/start")
    assert again[-1].text.startswith("Xin chào Lan!")
    async with playground.services.database.transaction() as db:
        accounts = (await db.scalars(select(Account).where(Account.display_name == "Nguyễn Thị Lan"))).all()
    assert [account.erased_at for account in accounts] == [None]
    assert f"Số tài khoản của bạn: #{accounts[0].id}." in again[-1].text


async def test_the_retention_purge_takes_a_duplicate_with_its_original_and_puts_nothing_back_in_review(
    playground, clock, organiser
):
    from sqlalchemy import update

    from storage.models import Campaign, Nomination

    original_id, copy_id = await _duplicate_marked(playground, organiser)
    async with playground.services.database.transaction() as db:
        # The original is turned down afterwards, as the review leaves it: both are "not approved" now.
        await db.execute(update(Nomination).where(Nomination.id == original_id).values(status="rejected"))
        valid_to = await db.scalar(select(Campaign.valid_to))
    told_before = len(playground.api.messages(MINH))
    # 02:00 a year and two days after the campaign's last day: past the 365 days of both.
    clock.now = dt.datetime.combine(valid_to + dt.timedelta(days=367), dt.time(19, 0), tzinfo=dt.UTC)

    done = await purge_now(playground.services)
    await _drain(playground)

    # A duplicate shares its original's campaign and kind, so the two always go together: nothing comes back.
    assert sorted(done.ids[retention.Kind.NOMINATION_NOT_APPROVED]) == [original_id, copy_id]
    async with playground.services.database.transaction() as db:
        left = (await db.scalars(select(Nomination.id))).all()
        reopened = await db.scalar(select(func.count()).where(AuditEntry.action == "nomination.back_to_review"))
    assert left == [] and reopened == 0
    assert playground.api.messages(MINH)[told_before:] == []
    review = await organiser.send("/review")
    assert "DH-2020-0002" not in review[-1].text


# --- the texts of sent messages -----------------------------------------------------------------------------


async def test_the_text_of_a_sent_message_goes_after_thirty_days_and_one_still_to_send_keeps_it(
    playground, clock, citizen, organiser
):
    from rules import outbox
    from storage.models import OutboxMessage

    await organiser.send("/start")
    await citizen.send("/request")
    await citizen.send("1")
    await citizen.send("Năm sinh của tôi ghi sai, đúng là 1978")
    await _drain(playground)
    async with playground.services.database.transaction() as db:
        [sent] = (await db.scalars(select(OutboxMessage))).all()
        lan_id = await db.scalar(select(AuditEntry.actor_id).where(AuditEntry.action == "privacy.request"))
        # A reminder planned long ahead: still to be sent when the period of its row has run.
        await outbox.enqueue(
            db,
            account_id=lan_id,
            text="Nhắc lịch hội nghị",
            dedupe_key="test:later",
            due_at=NOW + dt.timedelta(days=60),
            now=NOW,
        )
    assert sent.status == "sent" and "yêu cầu mới" in sent.payload["text"]

    clock.advance(days=29)
    early = await purge_now(playground.services)
    clock.advance(days=2)
    done = await purge_now(playground.services)

    assert retention.Kind.OUTBOX not in early.ids or early.ids[retention.Kind.OUTBOX] == ()
    assert done.ids[retention.Kind.OUTBOX] == (sent.id,)
    async with playground.services.database.transaction() as db:
        rows = {row.dedupe_key: row for row in (await db.scalars(select(OutboxMessage))).all()}
    assert rows[sent.dedupe_key].payload == {} and rows[sent.dedupe_key].status == "sent"
    assert rows["test:later"].payload["text"] == "Nhắc lịch hội nghị"
    assert (await purge_now(playground.services)).empty  # blanked once, not counted again
