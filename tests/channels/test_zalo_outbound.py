"""Bot API calls to a Zalo address, made by a real PTB Bot through the ChannelRouter, reaching the fake Zalo
server through the real ZaloClient: menus, splitting, edits, files, errors."""

from __future__ import annotations

import logging
import socket

import pytest
from telegram import (
    Bot,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter

from bot.channels.memory import InMemoryAddressBook, InMemoryFileStore
from bot.channels.router import ChannelRouter
from bot.channels.zalo.client import ZaloClient
from bot.channels.zalo.fake_server import TINY_PNG, FakeUser, FakeZaloServer
from bot.channels.zalo.outbound import ZaloOutbound
from bot.i18n import Translators
from bot.outbox import retry_after_seconds
from bot.playground.transport import InProcessBotAPI
from rules.channel_text import ZALO_TEXT_LIMIT, text_length

LANGUAGES = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Tiếng Việt", callback_data="lang:vi")],
        [InlineKeyboardButton("English", callback_data="lang:en")],
    ]
)


async def person(address_book: InMemoryAddressBook, zalo_server: FakeZaloServer, name: str) -> tuple[FakeUser, int]:
    user = zalo_server.user(name)
    return user, await address_book.address_of("zalo", user.id, name)


def texts(zalo_server: FakeZaloServer, user: FakeUser) -> list[str]:
    return [message.text or "" for message in zalo_server.received(user.id)]


async def test_a_text_reaches_the_zalo_chat_and_ptb_gets_a_message(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook, telegram_api: InProcessBotAPI
) -> None:
    lan, address = await person(address_book, zalo_server, "Lan")

    sent = await bot.send_message(address, "Xin chào chị Lan!")

    assert texts(zalo_server, lan) == ["Xin chào chị Lan!"]
    assert sent.chat.id == address and sent.chat.type == "private"
    assert sent.text == "Xin chào chị Lan!" and sent.message_id > 0
    # Telegram heard nothing of it.
    assert [name for name, _ in telegram_api.calls if name == "sendMessage"] == []


async def test_inline_buttons_become_a_numbered_menu_with_a_hint_in_the_persons_language(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook
) -> None:
    lan, lan_address = await person(address_book, zalo_server, "Lan")
    john, john_address = await person(address_book, zalo_server, "John")
    address_book.locales[john_address] = "en"
    three = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Tham dự", callback_data="a"),
                InlineKeyboardButton("Không tham dự", callback_data="b"),
            ],
            [InlineKeyboardButton("Cử người thay thế", callback_data="c")],
        ]
    )

    sent = await bot.send_message(lan_address, "Ông/bà có tham dự không?", reply_markup=three)
    await bot.send_message(john_address, "Which language do you prefer?", reply_markup=LANGUAGES)

    assert texts(zalo_server, lan) == [
        "Ông/bà có tham dự không?\n\n1. Tham dự\n2. Không tham dự\n3. Cử người thay thế\n\nTrả lời 1, 2 hoặc 3."
    ]
    assert texts(zalo_server, john) == ["Which language do you prefer?\n\n1. Tiếng Việt\n2. English\n\nReply 1 or 2."]
    # PTB gets the keyboard back, as Telegram gives it.
    assert sent.reply_markup == three


async def test_url_buttons_are_lines_with_the_address_and_are_not_numbered(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook
) -> None:
    lan, address = await person(address_book, zalo_server, "Lan")
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Xem kế hoạch", url="https://tayho.hanoi.gov.vn/ke-hoach")],
            [InlineKeyboardButton("Đồng ý", callback_data="yes"), InlineKeyboardButton("Không", callback_data="no")],
        ]
    )

    await bot.send_message(address, "Kế hoạch đã có.", reply_markup=markup)

    assert texts(zalo_server, lan) == [
        "Kế hoạch đã có.\n\nXem kế hoạch: https://tayho.hanoi.gov.vn/ke-hoach\n\n1. Đồng ý\n2. Không\n\nTrả lời 1 hoặc 2."
    ]


async def test_a_reply_keyboard_is_numbered_and_keyboard_removal_or_force_reply_add_nothing(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook
) -> None:
    lan, address = await person(address_book, zalo_server, "Lan")
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("Đề cử"), KeyboardButton("Hủy")]])

    await bot.send_message(address, "Bạn muốn làm gì?", reply_markup=keyboard)
    await bot.send_message(address, "Đã xong.", reply_markup=ReplyKeyboardRemove())
    await bot.send_message(address, "Họ và tên?", reply_markup=ForceReply())

    assert texts(zalo_server, lan) == [
        "Bạn muốn làm gì?\n\n1. Đề cử\n2. Hủy\n\nTrả lời 1 hoặc 2.",
        "Đã xong.",
        "Họ và tên?",
    ]


async def test_a_long_text_is_split_into_zalo_sized_pieces_with_the_menu_last(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook
) -> None:
    lan, address = await person(address_book, zalo_server, "Lan")
    paragraphs = [f"Đoạn {number}: " + "thi đua khen thưởng " * 30 for number in range(1, 11)]

    await bot.send_message(address, "\n\n".join(paragraphs), reply_markup=LANGUAGES)

    pieces = texts(zalo_server, lan)
    assert len(pieces) >= 3
    assert all(1 <= text_length(piece) <= ZALO_TEXT_LIMIT for piece in pieces)
    assert pieces[-1].endswith("1. Tiếng Việt\n2. English\n\nTrả lời 1 hoặc 2.")
    assert not any("Trả lời" in piece for piece in pieces[:-1])
    # Cut between paragraphs: every paragraph arrives whole, in order.
    joined = "\n\n".join(pieces)
    assert [joined.index(paragraph.strip()) for paragraph in paragraphs] == sorted(
        joined.index(paragraph.strip()) for paragraph in paragraphs
    )


@pytest.mark.parametrize(
    ("parse_mode", "text", "shown"),
    [
        (
            ParseMode.HTML,
            '<b>Kính gửi</b> ông Hùng &amp; bà Lan: xem <a href="https://tayho.vn/giay-moi">giấy mời</a>.',
            "Kính gửi ông Hùng & bà Lan: xem giấy mời (https://tayho.vn/giay-moi).",
        ),
        (ParseMode.MARKDOWN, "*Hạn chót:* _15/3/2020_, mã `K7M2`", "Hạn chót: 15/3/2020, mã K7M2"),
        (
            ParseMode.MARKDOWN_V2,
            r"*Đã duyệt* \(mã ND\-12\) ~cũ~ [xem](https://tayho.vn/nd\-12)",
            "Đã duyệt (mã ND-12) cũ xem (https://tayho.vn/nd-12)",
        ),
    ],
)
async def test_formatting_is_taken_out_because_zalo_would_show_it_literally(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook, parse_mode: str, text: str, shown: str
) -> None:
    lan, address = await person(address_book, zalo_server, "Lan")

    await bot.send_message(address, text, parse_mode=parse_mode)

    assert texts(zalo_server, lan) == [shown]


async def test_an_empty_text_is_refused_as_telegram_would(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook
) -> None:
    lan, address = await person(address_book, zalo_server, "Lan")

    with pytest.raises(BadRequest, match="empty"):
        await bot.send_message(address, "  \n ")

    assert zalo_server.received(lan.id) == []


async def test_an_edit_is_a_new_message_and_ptb_hears_of_the_old_one_edited(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook
) -> None:
    lan, address = await person(address_book, zalo_server, "Lan")
    question = await bot.send_message(address, "Bạn muốn dùng ngôn ngữ nào?", reply_markup=LANGUAGES)

    edited = await bot.edit_message_text("Đã chọn: English", chat_id=address, message_id=question.message_id)
    unbuttoned = await bot.edit_message_reply_markup(chat_id=address, message_id=question.message_id, reply_markup=None)
    rebuttoned = await bot.edit_message_reply_markup(
        chat_id=address, message_id=question.message_id, reply_markup=LANGUAGES
    )
    captioned = await bot.edit_message_caption(
        chat_id=address, message_id=question.message_id, caption="Ảnh đã nhận", reply_markup=LANGUAGES
    )

    assert texts(zalo_server, lan)[1:] == [
        "Đã chọn: English",
        # Buttons taken off send nothing; new buttons come as their menu alone.
        "1. Tiếng Việt\n2. English\n\nTrả lời 1 hoặc 2.",
        "Ảnh đã nhận\n\n1. Tiếng Việt\n2. English\n\nTrả lời 1 hoặc 2.",
    ]
    assert (
        not isinstance(edited, bool) and edited.message_id == question.message_id and edited.text == "Đã chọn: English"
    )
    assert not isinstance(unbuttoned, bool) and unbuttoned.message_id == question.message_id
    assert not isinstance(rebuttoned, bool) and rebuttoned.message_id == question.message_id
    assert not isinstance(captioned, bool) and captioned.caption == "Ảnh đã nhận"


async def test_deleting_pinning_reactions_and_menus_do_nothing_and_typing_shows(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook, telegram_api: InProcessBotAPI
) -> None:
    lan, address = await person(address_book, zalo_server, "Lan")
    message = await bot.send_message(address, "Một")

    assert await bot.delete_message(address, message.message_id) is True
    assert await bot.pin_chat_message(address, message.message_id) is True
    assert await bot.set_message_reaction(address, message.message_id, "👍") is True
    from telegram import BotCommand, BotCommandScopeChat

    assert await bot.set_my_commands([BotCommand("start", "Bắt đầu")], scope=BotCommandScopeChat(address)) is True
    assert await bot.send_chat_action(address, "upload_photo") is True

    assert texts(zalo_server, lan) == ["Một"]
    assert zalo_server.chat_actions(lan.id) == ["typing"]
    # The command menu of a Zalo chat never went to Telegram either.
    assert not any(f"chat:{address}" in scope for scope in telegram_api.commands)


async def test_a_method_zalo_has_no_equivalent_for_sends_nothing_and_says_so_in_the_log(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook, caplog: pytest.LogCaptureFixture
) -> None:
    lan, address = await person(address_book, zalo_server, "Lan")

    with caplog.at_level(logging.WARNING, logger="bot.channels.zalo.outbound"):
        sent = await bot.send_location(address, latitude=21.07, longitude=105.82)

    assert sent.chat.id == address
    assert zalo_server.received(lan.id) == []
    assert [record.getMessage() for record in caplog.records] == [
        "Bot API sendLocation has no Zalo equivalent: nothing was sent"
    ]


# --- files ---------------------------------------------------------------------------------------------


async def test_an_uploaded_photo_goes_to_zalo_as_a_link_only_its_owner_was_given(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook, file_store: InMemoryFileStore
) -> None:
    hung, address = await person(address_book, zalo_server, "Hùng")

    sent = await bot.send_photo(address, InputFile(TINY_PNG, filename="check-in.png"), caption="Mã vào cửa của ông")

    [delivered] = zalo_server.received(hung.id)
    assert delivered.method == "sendPhoto" and delivered.caption == "Mã vào cửa của ông"
    assert delivered.photo is not None and delivered.photo.startswith("https://dienhinh.example.vn/files/")
    shared = file_store.opened(delivered.photo)
    assert shared is not None
    assert (shared.file.data, shared.file.content_type, shared.owner) == (TINY_PNG, "image/png", address)
    assert sent.caption == "Mã vào cửa của ông"


async def test_a_document_goes_as_its_caption_and_a_link_with_its_expiry(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook, file_store: InMemoryFileStore
) -> None:
    hung, address = await person(address_book, zalo_server, "Hùng")

    await bot.send_document(
        address, InputFile(b"BEGIN:VCALENDAR", filename="hoi-nghi.ics"), caption="Thêm hội nghị vào lịch."
    )

    [text] = texts(zalo_server, hung)
    caption, link_line, expiry_line = text.split("\n")[0], text.split("\n")[2], text.split("\n")[3]
    assert caption == "Thêm hội nghị vào lịch."
    assert link_line.startswith("hoi-nghi.ics: https://dienhinh.example.vn/files/")
    # Made at 08:30 on 10 March in Hà Nội; 72 hours later.
    assert expiry_line == "(đường dẫn có hiệu lực đến 08:30, 13/3/2026)"
    shared = file_store.opened(link_line.split(": ", 1)[1])
    assert shared is not None and shared.file.data == b"BEGIN:VCALENDAR" and shared.owner == address


async def test_without_a_public_address_a_file_is_its_caption_and_where_to_get_it(
    zalo: ZaloClient,
    zalo_server: FakeZaloServer,
    address_book: InMemoryAddressBook,
    translators: Translators,
    telegram_api: InProcessBotAPI,
) -> None:
    unshared = InMemoryFileStore(public_base_url=None)
    router = ChannelRouter(telegram_api, address_book, unshared)
    router.add_channel("zalo", ZaloOutbound(zalo, address_book, unshared, translators))
    hung, address = await person(address_book, zalo_server, "Hùng")
    async with Bot("1:offline", request=router) as bot:
        await bot.send_photo(address, InputFile(TINY_PNG, filename="check-in.png"), caption="Mã vào cửa của ông")
        await bot.send_document(address, InputFile(b"PK", filename="danh-sach.xlsx"))

    assert texts(zalo_server, hung) == [
        "Mã vào cửa của ông\n\nKhông thể gửi tệp “check-in.png” qua Zalo. Tệp này có thể nhận qua Telegram "
        "hoặc tại Ban Tổ chức.",
        "Không thể gửi tệp “danh-sach.xlsx” qua Zalo. Tệp này có thể nhận qua Telegram hoặc tại Ban Tổ chức.",
    ]
    assert unshared.shared == {}


async def test_a_telegram_file_id_cannot_reach_zalo_and_a_stored_one_can(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook, file_store: InMemoryFileStore
) -> None:
    minh, address = await person(address_book, zalo_server, "Minh")
    evidence = await file_store.keep(TINY_PNG, filename="bang-khen.png", content_type="image/png", owner=None)

    await bot.send_photo(address, "AgACAgIAAxkBAAIBQ2Zq", caption="Minh chứng 1")
    await bot.send_photo(address, evidence, caption="Minh chứng 2")

    first, second = zalo_server.received(minh.id)
    assert first.method == "sendMessage"
    assert first.text == (
        "Minh chứng 1\n\nKhông thể gửi tệp này qua Zalo. Tệp này có thể nhận qua Telegram hoặc tại Ban Tổ chức."
    )
    assert second.method == "sendPhoto" and second.caption == "Minh chứng 2"
    assert second.photo is not None
    shared = file_store.opened(second.photo)
    assert shared is not None and shared.file.data == TINY_PNG and shared.owner == address


# --- errors --------------------------------------------------------------------------------------------


async def test_zalos_quota_answer_is_retry_after_so_the_outbox_backs_off(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook
) -> None:
    _, address = await person(address_book, zalo_server, "Lan")
    zalo_server.inject_fault("sendMessage", 429, retry_after=90)

    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(address, "Nhắc hạn chót")

    assert retry_after_seconds(raised.value) == 90


async def test_zalos_refusals_become_the_exceptions_telegram_would_raise(
    bot: Bot, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook
) -> None:
    _, address = await person(address_book, zalo_server, "Lan")

    zalo_server.inject_fault("sendMessage", 400, description="Bad Request: chat not available")
    with pytest.raises(BadRequest, match="chat not available"):
        await bot.send_message(address, "Một")
    zalo_server.inject_fault("sendMessage", 403)
    with pytest.raises(NetworkError):
        await bot.send_message(address, "Hai")
    zalo_server.inject_fault("sendMessage", 500)
    with pytest.raises(NetworkError):
        await bot.send_message(address, "Ba")


async def test_a_wrong_token_and_an_unreachable_zalo_never_show_the_token(
    zalo_server: FakeZaloServer,
    address_book: InMemoryAddressBook,
    translators: Translators,
    telegram_api: InProcessBotAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _, address = await person(address_book, zalo_server, "Lan")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    wrong_token = zalo_server.token + "x"
    errors: list[str] = []

    for token, base_url, expected in (
        (wrong_token, zalo_server.base_url, InvalidToken),
        (zalo_server.token, f"http://127.0.0.1:{closed_port}", NetworkError),
    ):
        async with ZaloClient(token, base_url=base_url) as client:
            router = ChannelRouter(telegram_api, address_book)
            router.add_channel("zalo", ZaloOutbound(client, address_book, None, translators))
            async with Bot("1:offline", request=router) as bot:
                with pytest.raises(expected) as raised:
                    await bot.send_message(address, "Một")
                errors.append(str(raised.value))

    secret = zalo_server.token.split(":", 1)[1]
    assert errors[0].startswith("Unauthorized")
    assert all(secret not in error for error in errors)
    assert secret not in caplog.text


# --- the router ----------------------------------------------------------------------------------------


async def test_telegram_chats_still_go_to_telegram_and_an_unknown_address_is_not_found(
    bot: Bot, zalo_server: FakeZaloServer, telegram_api: InProcessBotAPI
) -> None:
    from bot.channels.router import ADDRESS_BASE

    await bot.send_message(1001, "Chào Telegram", reply_markup=LANGUAGES)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(ADDRESS_BASE + 999, "Không ai")

    [message] = telegram_api.messages(1001)
    assert message.text == "Chào Telegram" and message.button_labels == ["Tiếng Việt", "English"]
    assert zalo_server.messages_sent == 0


async def test_a_stored_zalo_photo_reaches_a_telegram_chat_as_an_upload_and_can_be_downloaded(
    bot: Bot, file_store: InMemoryFileStore, telegram_api: InProcessBotAPI
) -> None:
    evidence = await file_store.keep(b"JPEG evidence", filename="zalo-photo.jpg", content_type="image/jpeg", owner=None)

    await bot.send_photo(9001, evidence, caption="Minh chứng từ Zalo")
    await bot.send_document(9001, evidence)
    telegram_file = await bot.get_file(evidence)
    downloaded = bytes(await telegram_file.download_as_bytearray())

    photo, document = telegram_api.messages(9001)
    assert (photo.method, photo.file_bytes, photo.file_name, photo.text) == (
        "sendPhoto",
        b"JPEG evidence",
        "zalo-photo.jpg",
        "Minh chứng từ Zalo",
    )
    assert (document.method, document.file_bytes) == ("sendDocument", b"JPEG evidence")
    assert downloaded == b"JPEG evidence" and telegram_file.file_size == len(b"JPEG evidence")
    # Telegram never saw the stored id.
    assert not any(name == "getFile" for name, _ in telegram_api.calls)


async def test_an_unknown_stored_id_is_refused_and_never_sent_to_telegram(
    bot: Bot, telegram_api: InProcessBotAPI
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.send_photo(9001, "zf_nobody-has-this")
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await bot.get_file("zf_nobody-has-this")

    assert telegram_api.messages(9001) == []


async def test_without_telegram_the_router_answers_for_it_and_the_bot_is_the_zalo_bot(
    zalo: ZaloClient, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook, translators: Translators
) -> None:
    router = ChannelRouter(None, address_book)
    router.add_channel("zalo", ZaloOutbound(zalo, address_book, None, translators))
    lan, address = await person(address_book, zalo_server, "Lan")

    async with Bot("1:offline", request=router, get_updates_request=router) as bot:
        me = bot.bot
        commands_set = await bot.set_my_commands([])
        updates = await bot.get_updates(timeout=0)
        await bot.send_message(address, "Chỉ Zalo")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(9001, "Telegram không có ở đây")

    assert (me.id, me.first_name, me.username) == (1234567890, "Bot Dienhinh", "bot.1234567890")
    assert commands_set is True and updates == ()
    assert texts(zalo_server, lan) == ["Chỉ Zalo"]
