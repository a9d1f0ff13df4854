"""Roles, unit links and endorsements as people meet them in chat.

The clock stands on 10 February 2020, inside Tây Hồ's 2020 plan, so the plan's units are in force.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona, SentMessage
from bot.settings import Settings
from rules.nominations import Status, transition
from rules.text import fold
from storage.models import Account, AuditEntry, Campaign, Conference, Endorsement, Nomination, OrgUnit
from tests.clock import Clock
from tests.flows.conftest import running
from tests.people import reached_at

NOW = dt.datetime(2020, 2, 10, 3, 0, tzinfo=dt.UTC)
REFUSAL = "Xin lỗi, chỉ Ban tổ chức mới dùng được lệnh này."


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def playground(settings: Settings, clock: Clock) -> AsyncIterator[Playground]:
    async with running(settings, clock, seed_plan=True) as pg:
        yield pg


@pytest.fixture
def citizen(playground: Playground) -> ChatUser:
    return playground.person(Persona(1001, "Lan", "Nguyễn Thị", username="lan_nguyen"))


@pytest.fixture
def minh(playground: Playground) -> ChatUser:
    return playground.person(Persona(1002, "Minh", "Trần Văn", username="minh_tran"))


@pytest.fixture
def tuan(playground: Playground) -> ChatUser:
    return playground.person(Persona(1003, "Tuấn", "Lê Anh"))


async def _account(playground: Playground, user: ChatUser) -> Account:
    async with playground.services.database.transaction() as db:
        account = await db.scalar(select(Account).where(reached_at(user.chat_id)))
    assert account is not None
    return account


async def _drain(playground: Playground) -> None:
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()


def _menu(playground: Playground, user: ChatUser) -> set[str]:
    return {command["command"] for command in playground.api.commands.get(f"chat:{user.chat_id}|", [])}


async def _press_data(playground: Playground, user: ChatUser, message: SentMessage, data: str) -> None:
    """Press a button by its callback data, even one the chat no longer shows (an old message)."""
    assert playground.factory is not None
    await playground.deliver(playground.factory.press(user.persona, message, data))


# --- /grant ------------------------------------------------------------------------------------------


async def test_an_organiser_grants_reviewer_and_the_grantee_is_told_and_gets_the_menu(playground, organiser, minh):
    await minh.send("/lang English")
    assert "grant" not in _menu(playground, minh) and "share" in _menu(playground, minh)

    replies = await organiser.send("/grant @minh_tran organiser")

    assert replies[-1].text == "Xong. Vai trò của Trần Văn Minh từ nay là: Thành viên Ban tổ chức. Tôi đã báo cho họ."
    assert (await _account(playground, minh)).role == "organiser"
    assert {"grant", "unitlink", "outbox"} <= _menu(playground, minh)
    await _drain(playground)
    assert minh.last.text == (
        "Phạm Thu Hoà has changed your role to: Organiser. Type /help to see what you can do now."
    )
    async with playground.services.database.transaction() as db:
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "role.grant"))
    assert audit is not None and audit.detail["to"] == "organiser"
    # The new organiser is recognised at once (no stale cached role).
    assert "/unitlink" in (await minh.send("/help"))[0].text


async def test_grant_without_a_role_asks_with_buttons_and_accepts_a_typed_role(playground, organiser, minh):
    await minh.send("/start")

    question = await organiser.send("/grant 1002")

    assert question[-1].text == "Vai trò nào cho Trần Văn Minh? (hiện tại: Người dân (không có vai trò riêng))"
    assert question[-1].button_labels == [
        "Thành viên Ban tổ chức",
        "Người xét duyệt",
        "Người dân (không có vai trò riêng)",
    ]
    answer = await organiser.send("xet duyet")
    assert answer[-1].text.startswith("Xong. Vai trò của Trần Văn Minh từ nay là: Người xét duyệt.")
    assert (await _account(playground, minh)).role == "reviewer"
    await _drain(playground)
    assert minh.last.text.startswith("Phạm Thu Hoà đã đổi vai trò của bạn thành: Người xét duyệt.")


async def test_an_old_grant_button_for_someone_else_is_not_applied_to_the_next_person(
    playground, organiser, minh, tuan
):
    await minh.send("/start")
    await tuan.send("/start")
    await organiser.send("/grant 1002")
    old_question = organiser.last
    await organiser.send("/grant 1003")

    await organiser.press("Thành viên Ban tổ chức", old_question)

    assert organiser.toasts[-1] == "Lựa chọn này không còn nữa."
    assert (await _account(playground, tuan)).role == "citizen"
    assert (await _account(playground, minh)).role == "citizen"


async def test_grant_explains_unknown_people_focal_points_and_usage(playground, organiser):
    unknown = await organiser.send("/grant @chua_mo_bot reviewer")
    focal = await organiser.send("/grant 9001 đầu mối")
    usage = await organiser.send("/grant")

    assert unknown[-1].text.startswith("Tôi chưa biết @chua_mo_bot.")
    assert "mở bot" in unknown[-1].text
    assert focal[-1].text.startswith("Đầu mối của đơn vị không được giao bằng /grant")
    assert "/grant #12 xét duyệt — #12 là số tài khoản người đó thấy khi gõ /start hoặc /help" in usage[-1].text
    assert "/grant @username ban tổ chức" in usage[-1].text
    odd = await organiser.send("/grant lan! reviewer")
    assert odd[-1].text.startswith("Xin lỗi, tôi không xác định được “lan!” là ai: vui lòng gõ số tài khoản")


async def test_a_citizen_cannot_grant_or_make_unit_links(playground, citizen, organiser):
    await organiser.send("/start")

    assert (await citizen.send("/grant 9001 citizen"))[-1].text == REFUSAL
    assert (await citizen.send("/unitlink"))[-1].text == REFUSAL
    assert (await _account(playground, organiser)).role == "organiser"
    assert "/grant" not in (await citizen.send("/help"))[0].text


# --- /unitlink and the link ---------------------------------------------------------------------------

LINK = re.compile(r"https://t\.me/dienhinh_bot\?start=(unit_[A-Za-z0-9_-]+)")


async def _unit_link(organiser: ChatUser, unit: str = "phuong buoi") -> str:
    await organiser.send("/unitlink")
    replies = await organiser.send(unit)
    match = LINK.search(replies[-1].text)
    assert match, replies[-1].text
    return match.group(1)


async def test_unitlink_offers_the_wards_and_makes_a_link_with_its_expiry(playground, organiser):
    question = await organiser.send("/unitlink")

    assert question[-1].button_labels[:2] == ["Phường Bưởi", "Phường Nhật Tân"]
    assert len(question[-1].button_labels) == 8
    assert "gõ một phần tên" in question[-1].text
    link = await organiser.press("Phường Bưởi")
    assert link[-1].text.startswith(
        "Đây là đường dẫn cho đầu mối của Phường Bưởi:\nhttps://t.me/dienhinh_bot?start=unit_"
    )
    assert "có hiệu lực đến 11/3/2020" in link[-1].text


async def test_unitlink_searches_every_unit_by_typed_name(playground, organiser):
    await organiser.send("/unitlink")

    many = await organiser.send("phong")
    assert len(many[-1].buttons) == 10
    assert "gõ thêm tên" in many[-1].text
    nothing = await organiser.send("Hoàn Kiếm")
    assert nothing[-1].text.startswith("Không có đơn vị nào khớp với “Hoàn Kiếm”")
    one = await organiser.send("giao duc")  # one unit has these words: asked back, not taken
    assert one[-1].text == "Ý bạn là Phòng Giáo dục và Đào tạo quận Tây Hồ?"
    confirmed = await organiser.send("1")
    assert "đầu mối của Phòng Giáo dục và Đào tạo quận Tây Hồ" in confirmed[-1].text


async def test_unitlink_with_part_of_a_name_asks_back_and_no_asks_again(playground, organiser):
    asked = await organiser.send("/unitlink cong an")
    assert asked[-1].text == "Ý bạn là Công an quận Tây Hồ?"
    assert asked[-1].button_labels == ["Đúng", "Không"]
    again = await organiser.send("2")
    assert again[-1].text.startswith("Vâng. Xin mời chọn lại.\n\nĐường dẫn đầu mối dành cho đơn vị nào?")
    assert again[-1].button_labels[0] == "Phường Bưởi"
    whole = await organiser.send("cong an quan tay ho")
    assert "đầu mối của Công an quận Tây Hồ" in whole[-1].text


async def test_a_unit_link_makes_a_focal_point_once_and_the_organiser_hears_of_a_second_person(
    playground, organiser, minh, citizen
):
    payload = await _unit_link(organiser)

    welcome = await minh.send(f"/start {payload}")

    assert welcome[-1].text.startswith("Chào mừng! Từ nay bạn là đầu mối của Phường Bưởi")
    assert "/share" in welcome[-1].text
    assert "Bạn là đầu mối của Phường Bưởi" in (await minh.send("/start"))[-1].text
    async with playground.services.database.transaction() as db:
        buoi = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi"))
    account = await _account(playground, minh)
    assert (account.role, account.unit_id) == ("focal_point", buoi)

    again = await minh.send(f"/start {payload}")
    assert again[-1].text.startswith("Bạn đã là đầu mối của Phường Bưởi")

    refused = await citizen.send(f"/start {payload}")
    assert refused[-1].text.startswith("Xin lỗi, đường dẫn cho Phường Bưởi này đã được người khác sử dụng")
    assert (await _account(playground, citizen)).role == "citizen"
    await _drain(playground)
    notice = organiser.last.text
    assert "Phường Bưởi" in notice and "Trần Văn Minh" in notice and "Nguyễn Thị Lan" in notice
    assert f"tài khoản số {(await _account(playground, citizen)).id}" in notice


async def test_an_expired_unit_link_is_refused(playground, organiser, minh, clock):
    payload = await _unit_link(organiser)
    clock.now = NOW + dt.timedelta(days=31)

    replies = await minh.send(f"/start {payload}")

    assert replies[-1].text == (
        "Xin lỗi, đường dẫn cho Phường Bưởi này đã hết hạn vào ngày 11/3/2020. "
        "Vui lòng xin Ban tổ chức một đường dẫn mới."
    )
    assert (await _account(playground, minh)).role == "citizen"


async def test_an_organiser_opening_a_unit_link_stays_organiser(playground, organiser):
    payload = await _unit_link(organiser)

    replies = await organiser.send(f"/start {payload}")

    assert "không làm bạn trở thành đầu mối của Phường Bưởi" in replies[-1].text
    assert (await _account(playground, organiser)).role == "organiser"


async def test_a_mistyped_unit_link_is_refused_politely(playground, minh):
    replies = await minh.send("/start unit_khong-dung-ma-nay")
    assert replies[-1].text.startswith("Xin lỗi, đường dẫn đơn vị này không hợp lệ.")


# --- endorsements ------------------------------------------------------------------------------------


async def _nomination(playground: Playground, nominator: ChatUser, code: str = "DH-2020-0001") -> int:
    await nominator.send("/start")
    account = await _account(playground, nominator)
    async with playground.services.database.transaction() as db:
        campaign = await db.scalar(select(Campaign))
        conference = await db.scalar(select(Conference).where(Conference.code == "grassroots"))
        buoi = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi"))
        assert campaign is not None and conference is not None
        nomination = Nomination(
            status="submitted",
            code=code,
            kind="individual",
            nominee_name="Đỗ Thị Hạnh",
            nominee_fold=fold("Đỗ Thị Hạnh"),
            unit_id=buoi,
            title_code="nguoi_tot_viec_tot",
            movement_code="van_minh_do_thi",
            achievements="Tổ trưởng tổ dân phố 5 năm liền, vận động 120 hộ giữ vệ sinh ngõ xóm. SĐT 0912345678.",
            birth_year=1968,
            ethnicity="tay",
            religion="phat_giao",
            phone_e164="+84912345678",
            campaign_id=campaign.id,
            conference_id=conference.id,
            nominator_id=account.id,
            source="citizen",
            submitted_at=NOW,
        )
        db.add(nomination)
        await db.flush()
        return nomination.id


SHARE = re.compile(r"https://t\.me/dienhinh_bot\?start=(end_[A-Za-z0-9_-]+)")


async def _share_link(nominator: ChatUser, code: str = "DH-2020-0001") -> str:
    replies = await nominator.send(f"/share {code}")
    match = SHARE.search(replies[-1].text)
    assert match, replies[-1].text
    return match.group(1)


async def _endorsements(playground: Playground) -> int:
    async with playground.services.database.transaction() as db:
        return int(await db.scalar(select(func.count()).select_from(Endorsement)) or 0)


async def test_someone_with_the_link_sees_a_public_summary_and_endorses_once(playground, citizen, minh):
    await _nomination(playground, citizen)
    payload = await _share_link(citizen)

    opened = await minh.send(f"/start {payload}")

    summary = opened[-1]
    assert summary.text.startswith("Đề cử DH-2020-0001\n• Người được đề cử: Đỗ Thị Hạnh\n• Đơn vị: Phường Bưởi")
    assert "• Đề nghị danh hiệu: Người tốt – việc tốt" in summary.text
    for secret in ("0912345678", "+84", "1968", "Tày", "Phật giáo"):
        assert secret not in summary.text
    assert summary.button_labels == ["Ủng hộ", "Để sau"]
    endorse_data = str(summary.buttons[0]["callback_data"])

    thanks = await minh.press("Ủng hộ")
    assert (
        thanks[-1].text
        == "Cảm ơn bạn! Sự ủng hộ của bạn dành cho Đỗ Thị Hạnh đã được ghi nhận. Số người ủng hộ đến nay: 1."
    )
    await _press_data(playground, minh, summary, endorse_data)
    assert minh.toasts[-1] == "Bạn đã ủng hộ đề cử này vào ngày 10/2/2020. Xin cảm ơn!"
    reopened = await minh.send(f"/start {payload}")
    assert reopened[-1].text.endswith("Bạn đã ủng hộ đề cử này vào ngày 10/2/2020. Xin cảm ơn!")
    assert not reopened[-1].buttons
    assert await _endorsements(playground) == 1


async def test_endorsing_can_be_typed(playground, citizen, tuan):
    await _nomination(playground, citizen)
    payload = await _share_link(citizen)
    await tuan.send(f"/start {payload}")

    unclear = await tuan.send("có lẽ")
    assert unclear[-1].text.startswith("Xin lỗi, tôi chưa hiểu câu trả lời")
    assert unclear[-1].button_labels == ["Ủng hộ", "Để sau"]
    thanks = await tuan.send("ung ho")

    assert thanks[-1].text.startswith("Cảm ơn bạn!")
    assert await _endorsements(playground) == 1


async def test_the_nominator_cannot_endorse_their_own_nomination(playground, citizen):
    await _nomination(playground, citizen)
    payload = await _share_link(citizen)

    replies = await citizen.send(f"/start {payload}")

    assert "Đây là đề cử của chính bạn" in replies[-1].text
    assert not replies[-1].buttons
    assert await _endorsements(playground) == 0


async def test_a_stale_endorse_button_after_withdrawal_is_refused(playground, citizen, minh):
    nomination_id = await _nomination(playground, citizen)
    payload = await _share_link(citizen)
    await minh.send(f"/start {payload}")
    async with playground.services.database.transaction() as db:
        nomination = await db.get_one(Nomination, nomination_id)
        transition(db, nomination, Status.WITHDRAWN, actor_id=nomination.nominator_id, now=NOW)

    replies = await minh.press("Ủng hộ")

    assert replies == []
    assert minh.toasts[-1] == "Xin lỗi, đề cử này không còn nhận ủng hộ."
    assert await _endorsements(playground) == 0


TYPED_CODE = re.compile(r"\b([0-9A-Z]{4}-[0-9A-Z]{4})\b")


async def test_the_share_link_handed_out_keeps_working_until_the_nominator_revokes_it(playground, citizen, minh, tuan):
    nomination_id = await _nomination(playground, citizen)
    first = await citizen.send("/share DH-2020-0001")
    old = SHARE.search(first[-1].text).group(1)
    old_code = TYPED_CODE.search(first[-1].text).group(1)
    assert first[-1].button_labels == ["Thu hồi liên kết cũ, tạo liên kết mới"]

    # Asking again, and a resubmission after changes, show the same link: the one handed out still works.
    again = await citizen.send("/share DH-2020-0001")
    assert SHARE.search(again[-1].text).group(1) == old and old_code in again[-1].text
    assert "không còn dùng được" not in again[-1].text
    async with playground.services.database.transaction() as db:
        nomination = await db.get_one(Nomination, nomination_id)
        nomination.gender, nomination.sensitive_consent, nomination.publicity_consent = "nu", True, True
        nomination.occupation_group, nomination.position = "cong_nhan", "Tổ trưởng tổ dân phố số 5"
        transition(db, nomination, Status.CHANGES_REQUESTED, actor_id=None, now=NOW, reason="Bổ sung ảnh")
    await citizen.send("/nominate")
    resent = await citizen.press("Gửi")
    assert f"start={old}" in resent[-1].text
    opened = await minh.send(f"/start {old}")
    assert opened[-1].button_labels == ["Ủng hộ", "Để sau"]
    await minh.press("Ủng hộ")

    # Revoking: a button, a confirmation, then a new link; the old link and its code are refused politely.
    await citizen.send("/share DH-2020-0001")
    asked = await citizen.press("Thu hồi liên kết cũ, tạo liên kết mới")
    assert "những người đang có chúng sẽ không ủng hộ được nữa" in asked[-1].text
    assert asked[-1].button_labels == ["Thu hồi và tạo liên kết mới", "Không, giữ liên kết hiện tại"]
    renewed = await citizen.press("Thu hồi và tạo liên kết mới")
    assert renewed[-1].text.startswith("Đã xong: liên kết và mã cũ không còn dùng được nữa.")
    new = SHARE.search(renewed[-1].text).group(1)
    assert new != old

    refused = await tuan.send(f"/start {old}")
    assert refused[-1].text.startswith("Xin lỗi, đường dẫn này không còn hiệu lực")
    typed = await tuan.send(old_code)
    assert typed[-1].text.startswith("Xin lỗi, không có giấy mời hay đường dẫn cá nhân nào có mã")
    works = await tuan.send(f"/start {new}")
    assert works[-1].button_labels == ["Ủng hộ", "Để sau"]
    assert await _endorsements(playground) == 1  # Minh's endorsement stays
    async with playground.services.database.transaction() as db:
        audit = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "endorsement_link.revoke"))).all()
    assert [entry.entity_id for entry in audit] == [str(nomination_id)]


async def test_revoking_a_share_link_works_typed_and_can_be_declined(playground, citizen, minh):
    await _nomination(playground, citizen)
    old = await _share_link(citizen)

    # The offer under the link is not a question that holds the chat: an answer off its list is not taken
    # for "revoke" (the link stays), and a "1" afterwards still asks to revoke.
    off = await citizen.send("7")
    assert off[-1].text.startswith("Tôi chưa hiểu ý bạn.")
    still = await minh.send(f"/start {old}")
    assert still[-1].button_labels == ["Ủng hộ", "Để sau"]
    await minh.send("/cancel")

    asked = await citizen.send("1")
    assert asked[-1].button_labels == ["Thu hồi và tạo liên kết mới", "Không, giữ liên kết hiện tại"]
    kept = await citizen.send("2")
    assert kept[-1].text == "Vâng, liên kết hiện tại vẫn dùng được."
    still = await minh.send(f"/start {old}")
    assert still[-1].button_labels == ["Ủng hộ", "Để sau"]

    await citizen.send("/share")
    await citizen.send("thu hồi")
    renewed = await citizen.send("1")
    assert renewed[-1].text.startswith("Đã xong: liên kết và mã cũ không còn dùng được nữa.")
    assert SHARE.search(renewed[-1].text).group(1) != old


async def test_share_is_only_for_your_own_nominations(playground, citizen, minh):
    await _nomination(playground, citizen)

    replies = await minh.send("/share DH-2020-0001")
    nothing = await minh.send("/share")

    assert replies[-1].text.startswith("Tôi không tìm thấy đề cử có mã DH-2020-0001 trong số đề cử bạn đã gửi.")
    assert nothing[-1].text.startswith("Bạn chưa có đề cử nào")
