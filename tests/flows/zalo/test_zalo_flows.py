"""The flows of the Telegram flow tests, typed on Zalo: the real Application, the real ZaloClient and the fake
Zalo server (``tests/flows/zalo/conftest.py``). Organisers are on Telegram unless a test says otherwise."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from bot.playground.harness import ChatUser, Playground, ZaloChatUser
from rules import outbox, schedule
from rules.channel_text import ZALO_TEXT_LIMIT, text_length
from storage.models import Evidence, Nomination, OutboxMessage, StoredFileRecord
from tests.flows.zalo.conftest import PUBLIC_BASE_URL, zalo_organiser
from tests.people import account_id_at

CODE = re.compile(r"DH-\d{4}-\d{4}")
ACHIEVEMENTS = (
    "Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, lập tổ tự quản môi trường, "
    "trồng 300 cây xanh và hỗ trợ 12 hộ nghèo thoát nghèo."
)
PHOTO = b"\x89PNG\r\n\x1a\n a certificate of merit"
# The answers of an individual nomination up to the evidence question, each typed as a Zalo user would.
UNTIL_EVIDENCE = (
    "2",  # Hội nghị Điển hình tiên tiến
    "1",  # Cá nhân
    "Nguyễn Văn Bình",
    "nam",
    "1978",
    "co, dong y",
    "tay",
    "khong",
    "công nhân",
    "Tổ trưởng tổ dân phố số 5",
    "phuong buoi",
    "0912 345 678",
    "1",  # Điển hình tiên tiến
    "văn minh đô thị",
)
EVIDENCE_QUESTION = "Gửi ảnh hoặc tài liệu minh chứng"
PUBLICITY_QUESTION = "người được đề cử có đồng ý để chúng tôi tuyên truyền"


async def _answer(person: ZaloChatUser, *answers: str) -> list[str]:
    replies: list[str] = []
    for answer in answers:
        replies = await person.send(answer)
    return replies


async def _nominations(playground: Playground) -> list[Nomination]:
    async with playground.services.database.transaction() as db:
        return list((await db.scalars(select(Nomination).order_by(Nomination.id))).all())


async def _drain(playground: Playground) -> None:
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()


async def test_a_full_nomination_typed_on_zalo_with_a_photo_reaches_the_reviewer_and_the_decision_comes_back(
    playground: Playground, plan: None, lan: ZaloChatUser, organiser: ChatUser
) -> None:
    await organiser.send("/start")
    [intro, conference_question] = await lan.send("/nominate")
    assert "Cùng đề cử một điển hình" in intro
    assert conference_question.endswith("Trả lời 1 hoặc 2.")
    [evidence_question] = await _answer(lan, *UNTIL_EVIDENCE, ACHIEVEMENTS)
    assert evidence_question.startswith(EVIDENCE_QUESTION)
    assert "bấm" not in evidence_question.lower()  # nothing to press on Zalo
    await lan.send_photo(PHOTO, caption="Nhận giấy khen")
    [publicity] = await lan.send("xong")
    assert PUBLICITY_QUESTION in publicity
    [summary] = await lan.send("1")
    assert "• Minh chứng: 1 tệp" in summary
    assert summary.endswith("1. Gửi\n2. Sửa một mục\n3. Huỷ đề cử này\n\nTrả lời 1, 2 hoặc 3.")

    [receipt] = await lan.send("gui")

    assert "Đã gửi. Mã đề cử của bạn là" in receipt
    assert "t.me" not in receipt  # a Telegram link is no use to a Zalo user
    code = CODE.search(receipt).group(0)  # type: ignore[union-attr]
    # The endorsement code the receipt gives instead does what the link does.
    command = re.search(r"(?<![-\w])[0-9A-Z]{4}-[0-9A-Z]{4}(?![-\w])", receipt).group(0)  # type: ignore[union-attr]
    neighbour = playground.zalo_person("Đỗ Thị Hằng")
    shared = await neighbour.send(command)
    assert any(f"Đề cử {code}" in text and "Nguyễn Văn Bình" in text for text in shared), shared
    [nomination] = await _nominations(playground)
    assert (nomination.code, nomination.status, nomination.nominee_name) == (code, "submitted", "Nguyễn Văn Bình")
    assert nomination.nominator_id == await account_id_at(playground.services.database, await lan.address())
    async with playground.services.database.transaction() as db:
        [evidence] = (await db.scalars(select(Evidence).where(Evidence.nomination_id == nomination.id))).all()
    stored = await playground.file_store.load(evidence.file_id)
    assert evidence.kind == "photo" and stored is not None and stored.data == PHOTO

    # The reviewer, on Telegram, gets the Zalo photo as a photo.
    card = await organiser.send(f"/review {code}")
    photo = card[0]
    assert photo.method == "sendPhoto" and photo.file_bytes == PHOTO
    assert photo.text == f"Minh chứng 1/1 của {code}"
    await organiser.press("Duyệt")

    before = len(lan.messages)
    await _drain(playground)

    assert lan.texts[before:] == [
        f"Tin vui: đề cử {code} (Nguyễn Văn Bình) của bạn đã được duyệt. Cảm ơn bạn đã giới thiệu gương điển hình.\n"
        f"Xem chi tiết: /nomination {code}"
    ]
    async with playground.services.database.transaction() as db:
        decision = await db.scalar(select(OutboxMessage).where(OutboxMessage.account_id == nomination.nominator_id))
    assert decision is not None and decision.channel == "zalo" and decision.status == "sent"


async def test_a_reminder_from_the_outbox_reaches_a_zalo_delegate_with_its_choices_as_a_menu(
    playground: Playground, plan: None
) -> None:
    hung = playground.zalo_person("Lê Văn Hùng")
    await hung.send("/start")
    account_id = await account_id_at(playground.services.database, await hung.address())
    assert account_id is not None
    choices = {
        "inline_keyboard": [
            [{"text": "Tham dự", "callback_data": "rsvp:1:yes"}],
            [{"text": "Không tham dự", "callback_data": "rsvp:1:no"}],
        ]
    }
    async with playground.services.database.transaction() as db:
        assert await outbox.enqueue(
            db,
            account_id=account_id,
            text="Nhắc việc: còn 3 ngày để xác nhận tham dự Hội nghị Điển hình tiên tiến.",
            dedupe_key="rsvp-reminder:1:3",
            topic=schedule.rsvp_topic(1),
            reply_markup=choices,
        )

    before = len(hung.messages)
    await _drain(playground)
    await _drain(playground)  # sent once

    assert hung.texts[before:] == [
        "Nhắc việc: còn 3 ngày để xác nhận tham dự Hội nghị Điển hình tiên tiến.\n\n"
        "1. Tham dự\n2. Không tham dự\n\nTrả lời 1 hoặc 2."
    ]
    async with playground.services.database.transaction() as db:
        row = await db.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == "rsvp-reminder:1:3"))
    assert row is not None and (row.channel, row.chat_id, row.status) == ("zalo", await hung.address(), "sent")


async def test_an_organiser_on_zalo_reads_status_as_text_and_the_chart_becomes_a_note_or_a_link(
    playground: Playground, plan: None
) -> None:
    hoa = await zalo_organiser(playground)

    without_link = await hoa.send("/status")
    playground.file_store.public_base_url = PUBLIC_BASE_URL
    with_link = await hoa.send("/status")

    assert any("Hội nghị Điển hình tiên tiến" in text for text in without_link)
    assert without_link[-1].endswith("Tệp này có thể nhận qua Telegram hoặc tại Ban Tổ chức.")
    assert not any(text.startswith("[photo") for text in without_link)
    [chart] = [message for message in hoa.messages[len(without_link) + 1 :] if message.photo]
    assert chart.photo is not None and chart.photo.startswith(f"{PUBLIC_BASE_URL}/files/")
    opened = await playground.shared_file(chart.photo)
    assert opened is not None and opened.data is not None and opened.data.startswith(b"\x89PNG")
    async with playground.services.database.transaction() as db:
        made_for = await db.scalar(select(StoredFileRecord.owner_account_id).order_by(StoredFileRecord.id.desc()))
    assert made_for == await account_id_at(playground.services.database, await hoa.address())
    assert len(with_link) == len(without_link)


async def test_export_on_zalo_is_a_link_with_a_public_url_and_a_note_without(
    playground: Playground, plan: None
) -> None:
    hoa = await zalo_organiser(playground)

    [*_, note] = await hoa.send("/export")
    playground.file_store.public_base_url = PUBLIC_BASE_URL
    [*_, link] = await hoa.send("/export")

    assert "Không thể gửi tệp “dienhinh-" in note and ".xlsx” qua Zalo." in note
    assert "Tệp này có thể nhận qua Telegram hoặc tại Ban Tổ chức." in note
    url = re.search(r"https://\S+", link).group(0)  # type: ignore[union-attr]
    assert url.startswith(f"{PUBLIC_BASE_URL}/files/") and url.endswith(".xlsx")
    opened = await playground.shared_file(url)
    assert opened is not None and opened.data is not None and opened.data.startswith(b"PK")  # a workbook is a zip


async def test_invite_on_zalo_says_where_guest_lists_go_instead_of_asking_for_a_file(
    playground: Playground, plan: None
) -> None:
    hoa = await zalo_organiser(playground)

    [usage] = await hoa.send("/invite")

    assert usage.startswith("Để mời các điển hình đã được duyệt, vui lòng gõ ví dụ:")
    assert "/invite all" in usage
    assert usage.endswith(
        "Không gửi được danh sách khách mời qua Zalo: vui lòng gửi tệp Excel cho bot trên Telegram, "
        "hoặc nhập bằng dòng lệnh (dienhinh invitations import TỆP)."
    )
    assert "gửi cho tôi danh sách dạng tệp" not in usage


async def test_a_sticker_and_unsupported_content_mid_form_get_a_polite_prompt_and_the_same_question(
    playground: Playground, plan: None, lan: ZaloChatUser
) -> None:
    await lan.send("/nominate")
    [name_question] = await _answer(lan, "2", "1")

    after_sticker = await lan.send_sticker()
    after_file = await lan.send_unsupported()
    [gender_question] = await lan.send("Nguyễn Văn Bình")

    assert name_question == "Họ và tên đầy đủ của cá nhân, hoặc tên của tập thể?"
    for replies in (after_sticker, after_file):
        assert len(replies) == 1
        assert replies[0].endswith(name_question)
        assert replies[0] != name_question  # a polite word about what arrived comes first
    assert gender_question.startswith("Giới tính?")
    [draft] = await _nominations(playground)
    assert draft.nominee_name == "Nguyễn Văn Bình"


async def test_an_unknown_event_is_ignored(playground: Playground, lan: ZaloChatUser) -> None:
    await lan.send("/start")
    before = len(lan.messages)

    delivered = await playground.deliver_zalo(
        playground.zalo_server.custom_event("user.reacted.message", lan.user, reaction="❤")  # type: ignore[union-attr]
    )

    assert delivered is False
    assert len(lan.messages) == before


async def test_a_reply_over_2000_characters_reaches_zalo_in_pieces_of_at_most_2000(
    playground: Playground, plan: None, lan: ZaloChatUser
) -> None:
    long_story = " ".join(["Vận động bà con giữ vệ sinh ngõ xóm, trồng cây xanh."] * 40)[:2000]
    await lan.send("/nominate")
    await _answer(lan, *UNTIL_EVIDENCE, long_story, "xong")

    summary = await lan.send("1")

    assert len(summary) >= 2
    assert all(text_length(piece) <= ZALO_TEXT_LIMIT for piece in summary)
    assert summary[0].startswith("Vui lòng kiểm tra lại đề cử trước khi gửi:")
    assert summary[-1].endswith("Trả lời 1, 2 hoặc 3.")
    # Split at word boundaries only: the story's words are all there, in order.
    assert long_story.split()[-1] in "".join(summary)


async def test_cancel_halfway_on_zalo_keeps_the_draft_and_nominate_resumes_it(
    playground: Playground, plan: None, lan: ZaloChatUser
) -> None:
    await lan.send("/nominate")
    await _answer(lan, "2", "1", "Nguyễn Văn Bình")

    [cancelled] = await lan.send("/cancel")
    after = await lan.send("nam")
    [offer] = await lan.send("/nominate")
    [resumed] = await lan.send("1")

    assert "/nominate" in cancelled
    assert not any(text.startswith("Năm sinh?") for text in after)  # the form is closed
    assert offer.startswith("Bạn có một đề cử chưa hoàn thành (Nguyễn Văn Bình)")
    assert offer.endswith("1. Tiếp tục\n2. Làm lại từ đầu\n\nTrả lời 1 hoặc 2.")
    assert resumed.startswith("Giới tính?")
    [draft] = await _nominations(playground)
    assert (draft.nominee_name, draft.status) == ("Nguyễn Văn Bình", "draft")


async def test_a_restart_in_the_middle_of_a_form_on_zalo_resumes_at_the_same_question(
    playground: Playground, plan: None, lan: ZaloChatUser
) -> None:
    await lan.send("/nominate")
    [gender_question] = await _answer(lan, "2", "1", "Nguyễn Văn Bình")

    await playground.restart()
    [year_question] = await lan.send("2")

    assert gender_question.startswith("Giới tính?")
    assert year_question.startswith("Năm sinh?")
    [draft] = await _nominations(playground)
    assert draft.gender == "nu"


async def test_the_zalo_token_is_in_no_log_line(
    playground: Playground, plan: None, lan: ZaloChatUser, organiser: ChatUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = playground.zalo_server.token  # type: ignore[union-attr]
    secret = token.split(":", 1)[1]

    await lan.send("/nominate")
    await _answer(lan, *UNTIL_EVIDENCE, ACHIEVEMENTS)
    await lan.send_photo(PHOTO)
    await _answer(lan, "xong", "1", "1")
    await lan.send_sticker()
    await lan.send_event("user.reacted.message")
    await organiser.send("/review")
    await organiser.press("Duyệt")
    await _drain(playground)
    playground.zalo_server.inject_fault("sendMessage", 500)  # type: ignore[union-attr]
    await lan.send("/mine")

    assert caplog.records  # the run did log (the fault, the ignored event, the HTTP calls)
    for record in caplog.records:
        line = record.getMessage() + (record.exc_text or "")
        assert secret not in line and token not in line, line


async def test_a_wrong_answer_at_a_one_choice_question_on_zalo_says_type_1(
    playground: Playground, plan: None, lan: ZaloChatUser
) -> None:
    """Issue 10 item 7: at the evidence question (one choice, "Xong") text is refused with "gõ 1", not
    "(1–1)", and the question comes again."""
    await lan.send("/nominate")
    await _answer(lan, *UNTIL_EVIDENCE, ACHIEVEMENTS)

    [again] = await lan.send("ảnh ở nhà")

    assert again.startswith("Xin lỗi, tôi chưa hiểu câu trả lời. Vui lòng gõ 1 để chọn.")
    assert "1–1" not in again and "bấm" not in again.lower()
    assert EVIDENCE_QUESTION in again and again.endswith("Trả lời 1.")
    [publicity] = await lan.send("1")
    assert PUBLICITY_QUESTION in publicity
