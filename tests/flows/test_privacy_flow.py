"""/privacy, /mydata and /erase as a citizen meets them, through the real Application."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from rules import retention
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from storage.models import Account, AuditEntry, Nomination


async def _plan(playground) -> None:
    async with playground.services.database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))


async def test_the_notice_names_the_body_the_law_and_the_rights(playground, citizen):
    await _plan(playground)
    replies = await citizen.send("/privacy")
    text = "\n".join(m.text for m in replies)
    assert "Bên chịu trách nhiệm về dữ liệu của bạn: UBND quận Tây Hồ." in text
    assert "Luật số 91/2025/QH15" in text and "Nghị định số 356/2025/NĐ-CP" in text
    assert "/mydata" in text and "/erase" in text and "/request" in text
    assert "/privacy" in (await citizen.send("/help"))[-1].text


async def test_mydata_gives_a_summary_and_a_file_and_is_audited(playground, citizen):
    replies = await citizen.send("/mydata")
    assert replies[0].text.startswith("Dữ liệu của bạn, tài khoản #")
    data = json.loads(replies[-1].file_bytes or b"{}")
    assert data["account"]["name"] == "Nguyễn Thị Lan"
    async with playground.services.database.transaction() as db:
        actions = (await db.scalars(select(AuditEntry.action))).all()
    assert "privacy.mydata" in actions


async def test_erase_says_what_goes_and_a_typed_yes_erases(playground, citizen):
    asked = await citizen.send("/erase")
    assert "Sẽ bị xoá:" in asked[-1].text and "Được giữ lại, và lý do:" in asked[-1].text
    done = await citizen.send("có")
    assert done[-1].text.startswith("Xong: dữ liệu của bạn đã được xoá.")
    async with playground.services.database.transaction() as db:
        erased = (await db.scalars(select(Account).where(Account.erased_at.is_not(None)))).all()
    assert len(erased) == 1 and erased[0].display_name == ""


async def _drain(playground) -> None:
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()


async def test_a_nominee_asks_the_organisers_for_a_correction_and_hears_when_it_is_handled(
    playground, citizen, organiser
):
    await _plan(playground)
    kinds = await citizen.send("/request")
    assert kinds[-1].text == "Bạn muốn đề nghị Ban tổ chức việc gì?"
    assert kinds[-1].button_labels[0] == "Sửa dữ liệu về tôi"
    await citizen.send("1")
    filed = await citizen.send("Năm sinh của tôi ghi sai, đúng là 1978")
    assert filed[-1].text.startswith("Cảm ơn bạn. Yêu cầu số 1 đã được chuyển tới Ban tổ chức;")
    await _drain(playground)

    queue = await organiser.send("/requests")
    assert "Số 1 — Sửa dữ liệu về tôi, của Nguyễn Thị Lan" in queue[-1].text
    assert "Năm sinh của tôi ghi sai, đúng là 1978" in queue[-1].text
    closed = await organiser.send("/requests 1 Đã sửa năm sinh thành 1978")
    assert closed[-1].text == "Đã đóng yêu cầu số 1. Người gửi yêu cầu sẽ được thông báo."
    before = len(citizen.messages)
    await _drain(playground)

    told = [m.text for m in citizen.messages[before:]]
    assert any("Đã sửa năm sinh thành 1978" in text for text in told), told
    assert "Số 1" not in (await organiser.send("/requests"))[-1].text
    async with playground.services.database.transaction() as db:
        actions = set((await db.scalars(select(AuditEntry.action))).all())
    assert {"privacy.request", "privacy.request.handled"} <= actions


async def test_a_citizen_cannot_read_the_request_queue(playground, citizen):
    await _plan(playground)
    refused = await citizen.send("/requests")
    assert refused[-1].text == "Xin lỗi, chỉ Ban tổ chức mới thực hiện được việc này."


async def test_withdrawing_consent_erases_ethnicity_and_religion_and_is_recorded(playground, citizen):
    from tests.flows.test_review_flow import submit

    await _plan(playground)
    nomination = await submit(playground, 1, "Nguyễn Văn An")

    done = await citizen.send("/withdraw dh-2020-0001")
    other = await citizen.send("/withdraw DH-2020-0099")

    assert done[-1].text.startswith(
        "Xong: sự đồng ý của đề cử DH-2020-0001 đã được rút lại và ghi nhận. Dân tộc và tôn giáo của đề cử đã được xoá."
    )
    assert other[-1].text == "Không tìm thấy đề cử nào có mã DH-2020-0099."
    async with playground.services.database.transaction() as db:
        stored = await db.get(Nomination, nomination.id)
        actions = (await db.scalars(select(AuditEntry.action))).all()
    assert stored is not None and (stored.ethnicity, stored.religion) == (None, None)
    assert stored.sensitive_consent is False and stored.publicity_consent is False
    assert "consent.withdraw" in actions


async def test_a_draft_goes_after_its_retention_period_and_not_before(playground, citizen):
    async with playground.services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), dt.datetime.now(dt.UTC).date()))
    for answer in ("/nominate", "2", "1", "Nguyễn Văn Bình"):
        replies = await citizen.send(answer)
    assert replies[-1].text.startswith("Giới tính?"), replies[-1].text
    await citizen.send("/cancel")
    async with playground.services.database.transaction() as db:
        [draft] = (await db.scalars(select(Nomination))).all()
    now = dt.datetime.now(dt.UTC)

    async with playground.services.database.transaction() as db:
        early = await retention.due(db, now=now + dt.timedelta(days=29))
    async with playground.services.database.transaction() as db:
        done = await retention.purge(db, now=now + dt.timedelta(days=31))
    async with playground.services.database.transaction() as db:
        left = (await db.scalars(select(Nomination))).all()
        reported = await retention.purged_between(db, now, now + dt.timedelta(days=32))

    assert draft.id not in early.ids[retention.Kind.DRAFT]
    assert done.ids[retention.Kind.DRAFT] == (draft.id,)
    assert left == []
    assert reported.get("draft") == 1


async def test_each_kind_goes_when_its_period_has_run_from_its_event_and_the_commendation_record_stays(
    playground, citizen
):
    from rules.retention import Kind
    from storage.models import Campaign, Conference, Invitation
    from tests.flows.test_review_flow import submit
    from tests.invitations import invite

    await _plan(playground)
    rejected = await submit(playground, 1, "Trần Văn Bảo", status="rejected")
    approved = await submit(playground, 2, "Đỗ Thị Hạnh", status="approved")
    invited = await invite(playground.services, "Lê Văn Hùng")
    async with playground.services.database.transaction() as db:
        valid_to = await db.scalar(select(Campaign.valid_to))
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        day = conference.starts_at or conference.window_end
    campaign_end = dt.datetime.combine(valid_to, dt.time(23, 59), tzinfo=dt.UTC)

    async def due_at(moment: dt.datetime) -> retention.Due:
        async with playground.services.database.transaction() as db:
            return await retention.due(db, now=moment)

    year_after_campaign = await due_at(campaign_end + dt.timedelta(days=367))
    within_year = await due_at(campaign_end + dt.timedelta(days=300))
    assert year_after_campaign.ids[Kind.NOMINATION_NOT_APPROVED] == (rejected.id,)
    assert within_year.ids[Kind.NOMINATION_NOT_APPROVED] == ()
    assert within_year.ids[Kind.EVIDENCE] == ()
    assert len(year_after_campaign.ids[Kind.EVIDENCE]) == 2  # the photos of both: evidence does not stay
    assert (await due_at(day + dt.timedelta(days=300))).ids[Kind.INVITATION] == ()
    assert invited.id in (await due_at(day + dt.timedelta(days=367))).ids[Kind.INVITATION]

    async with playground.services.database.transaction() as db:
        await retention.purge(db, now=max(campaign_end, day) + dt.timedelta(days=367))
    async with playground.services.database.transaction() as db:
        left = {n.id: n.nominee_name for n in (await db.scalars(select(Nomination))).all()}
        person = await db.get(Invitation, invited.id)
    # The approved nomination is part of the commendation record: it stays, with its nominee's name.
    assert left == {approved.id: "Đỗ Thị Hạnh"}
    assert person is not None and person.birth_year is None and person.phone_e164 is None
    assert "Hùng" not in person.full_name
