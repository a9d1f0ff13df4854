"""Zalo events as the PTB updates the handlers consume: texts, commands, photos kept at once, stickers,
unsupported content, unknown events, groups."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from bot.channels.memory import InMemoryAddressBook, InMemoryFileStore
from bot.channels.router import ADDRESS_BASE
from bot.channels.zalo.fake_server import TINY_PNG, FakeZaloServer
from bot.channels.zalo.inbound import ZaloInbound
from bot.channels.zalo.updates import ZaloUpdate, parse_update


@pytest.fixture
async def inbound(
    address_book: InMemoryAddressBook, file_store: InMemoryFileStore, bot: Bot
) -> AsyncIterator[ZaloInbound]:
    converter = ZaloInbound(address_book, file_store, bot, max_photo_bytes=1024)
    yield converter
    await converter.aclose()


def event(raw: dict[str, object]) -> ZaloUpdate:
    return parse_update(raw)


async def noop(update: object, context: object) -> None:
    return None


async def test_a_text_comes_from_the_persons_address_in_a_private_chat(
    inbound: ZaloInbound, zalo_server: FakeZaloServer, address_book: InMemoryAddressBook
) -> None:
    lan = zalo_server.user("Nguyễn Thị Lan")
    sent_at_ms = 1_750_316_131_602

    update = await inbound.to_update(event(zalo_server.text_event(lan, "Đề cử", date_ms=sent_at_ms)))

    assert isinstance(update, Update) and update.message is not None
    address = await address_book.address_of("zalo", lan.id, "Nguyễn Thị Lan")
    assert address >= ADDRESS_BASE
    message = update.message
    assert message.text == "Đề cử" and not message.entities
    assert (message.chat.id, message.chat.type) == (address, "private")
    assert update.effective_user is not None
    assert (update.effective_user.id, update.effective_user.first_name, update.effective_user.is_bot) == (
        address,
        "Nguyễn Thị Lan",
        False,
    )
    assert message.date == dt.datetime(2025, 6, 19, 6, 55, 31, tzinfo=dt.UTC)
    assert await address_book.identity_of(address) == ("zalo", lan.id)


async def test_a_command_has_its_entity_so_command_handlers_match_with_their_args(
    inbound: ZaloInbound, zalo_server: FakeZaloServer
) -> None:
    minh = zalo_server.user("Minh")

    start = await inbound.to_update(event(zalo_server.text_event(minh, "/start K7M2-Q9XD")))
    lang = await inbound.to_update(event(zalo_server.text_event(minh, "/lang")))
    not_a_command = await inbound.to_update(event(zalo_server.text_event(minh, "/bắt đầu")))

    assert start is not None and lang is not None and not_a_command is not None
    assert start.message is not None and [(e.type, e.offset, e.length) for e in start.message.entities] == [
        ("bot_command", 0, 6)
    ]
    assert CommandHandler("start", noop).check_update(start) == (["K7M2-Q9XD"], True)
    assert CommandHandler("lang", noop).check_update(lang) == ([], True)
    assert not CommandHandler("start", noop).check_update(not_a_command)
    assert MessageHandler(filters.TEXT & ~filters.COMMAND, noop).check_update(not_a_command)


async def test_update_and_message_ids_are_distinct_and_increasing(
    inbound: ZaloInbound, zalo_server: FakeZaloServer
) -> None:
    lan = zalo_server.user("Lan")

    updates = [await inbound.to_update(event(zalo_server.text_event(lan, f"{n}"))) for n in range(5)]

    update_ids = [u.update_id for u in updates if u is not None]
    message_ids = [u.message.message_id for u in updates if u is not None and u.message is not None]
    assert len(update_ids) == 5 and update_ids == sorted(set(update_ids))
    assert len(message_ids) == 5 and message_ids == sorted(set(message_ids))


@pytest.mark.parametrize("url_field", ["photo_url", "photo"])
async def test_a_photo_is_downloaded_at_once_and_kept_as_evidence(
    inbound: ZaloInbound,
    zalo_server: FakeZaloServer,
    file_store: InMemoryFileStore,
    address_book: InMemoryAddressBook,
    url_field: str,
) -> None:
    lan = zalo_server.user("Lan")
    raw = zalo_server.image_event(lan, "Bằng khen", url_field=url_field)  # type: ignore[arg-type]
    image_url = raw["message"][url_field]  # type: ignore[index]

    update = await inbound.to_update(event(raw))
    # Zalo's CDN link expires; what was kept does not depend on it.
    zalo_server.forget_file(image_url)

    assert update is not None and update.message is not None
    [photo] = update.message.photo
    assert photo.file_id.startswith("zf_") and (photo.width, photo.height, photo.file_size) == (1, 1, len(TINY_PNG))
    assert update.message.caption == "Bằng khen"
    stored = await file_store.load(photo.file_id)
    assert stored is not None and (stored.data, stored.content_type) == (TINY_PNG, "image/png")
    assert stored.filename.endswith(".png")
    address = await address_book.address_of("zalo", lan.id, "Lan")
    assert file_store.kept[photo.file_id][1] == address
    assert filters.PHOTO.check_update(update)


@pytest.mark.parametrize(
    "spoil",
    ["too big", "not an image", "expired"],
)
async def test_a_photo_that_cannot_be_had_arrives_as_unsupported(
    inbound: ZaloInbound,
    zalo_server: FakeZaloServer,
    file_store: InMemoryFileStore,
    caplog: pytest.LogCaptureFixture,
    spoil: str,
) -> None:
    lan = zalo_server.user("Lan")
    if spoil == "too big":
        raw = zalo_server.image_event(lan, content=b"\x89PNG" + b"0" * 2000)
    elif spoil == "not an image":
        raw = zalo_server.image_event(lan, content=b"<html>login</html>", content_type="text/html")
    else:
        raw = zalo_server.image_event(lan)
        zalo_server.forget_file(raw["message"]["photo_url"])  # type: ignore[index]

    with caplog.at_level(logging.WARNING, logger="bot.channels.zalo.inbound"):
        update = await inbound.to_update(event(raw))

    assert update is not None and update.message is not None
    assert not update.message.photo and update.message.text is None
    assert file_store.kept == {}
    [warning] = caplog.records
    assert "could not be downloaded" in warning.getMessage() and "/files/" not in warning.getMessage()


async def test_a_sticker_is_a_sticker_message(inbound: ZaloInbound, zalo_server: FakeZaloServer) -> None:
    update = await inbound.to_update(event(zalo_server.sticker_event(zalo_server.user("Lan"), "bfe3ad6b")))

    assert update is not None and update.message is not None and update.message.sticker is not None
    assert update.message.sticker.file_id == "zalo-sticker-bfe3ad6b"
    assert filters.Sticker.ALL.check_update(update)


async def test_unsupported_content_and_voice_are_messages_without_text_or_photo(
    inbound: ZaloInbound, zalo_server: FakeZaloServer
) -> None:
    lan = zalo_server.user("Lan")
    voice = zalo_server.custom_event("message.voice.received", lan, voice_url="https://zdn.vn/v.aac")

    updates = [
        await inbound.to_update(event(zalo_server.unsupported_event(lan))),
        await inbound.to_update(event(voice)),
    ]

    for update in updates:
        assert update is not None and update.message is not None
        message = update.message
        assert message.text is None and not message.photo and message.sticker is None and message.caption is None
        # What the handlers' "please answer in text" catch-all takes.
        assert filters.UpdateType.MESSAGE.check_update(update)
        assert not filters.TEXT.check_update(update)


async def test_an_unknown_event_is_logged_and_dropped(
    inbound: ZaloInbound, zalo_server: FakeZaloServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.channels.zalo.inbound"):
        followed = await inbound.to_update(event(zalo_server.custom_event("user.follow", zalo_server.user("Lan"))))
        bare = await inbound.to_update(event(zalo_server.custom_event("oa.something", oa_id="123")))

    assert followed is None and bare is None
    assert [record.getMessage() for record in caplog.records] == [
        "Zalo event 'user.follow' is not one the bot handles; ignored",
        "Zalo event 'oa.something' is not one the bot handles; ignored",
    ]


async def test_a_group_message_is_dropped_with_one_info_line_and_makes_no_identity(
    inbound: ZaloInbound,
    zalo_server: FakeZaloServer,
    address_book: InMemoryAddressBook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lan = zalo_server.user("Lan")

    with caplog.at_level(logging.INFO, logger="bot.channels.zalo.inbound"):
        update = await inbound.to_update(
            event(zalo_server.text_event(lan, "@Bot chào", chat_id="group-7f3a", chat_type="GROUP"))
        )

    assert update is None
    [line] = caplog.records
    assert line.levelno == logging.INFO and "groups are unavailable on Zalo" in line.getMessage()
    assert address_book.display_names == {}
