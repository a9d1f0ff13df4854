"""Inbound Zalo events: both envelopes, photo vs photo_url, unknown events, malformed bodies, duplicates."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.zalo.fake_server import SECRET_HEADER, FakeZaloServer
from bot.channels.zalo.updates import (
    Deduplicator,
    EventName,
    ZaloUpdate,
    ZaloUpdateError,
    parse_update,
    parse_update_json,
)


def _text_event(**message: object) -> dict[str, object]:
    body: dict[str, object] = {
        "from": {"id": "6ede9afa66b88fe6d6a9", "display_name": "Nguyễn Thị Lan", "is_bot": False},
        "chat": {"id": "6ede9afa66b88fe6d6a9", "chat_type": "PRIVATE"},
        "text": "Đề cử",
        "message_id": "2d758cb5e3d0c3849bd8",
        "date": 1_750_316_131_602,
    }
    body.update(message)
    return {"event_name": "message.text.received", "message": body}


def test_both_envelopes_give_the_same_update() -> None:
    event = _text_event()

    bare = parse_update(event)
    wrapped = parse_update({"ok": True, "result": event})

    assert bare == wrapped
    assert bare.kind is EventName.TEXT and bare.is_known
    message = bare.message
    assert message is not None
    assert (message.message_id, message.text) == ("2d758cb5e3d0c3849bd8", "Đề cử")
    assert (message.sender.id, message.sender.display_name, message.sender.is_bot) == (
        "6ede9afa66b88fe6d6a9",
        "Nguyễn Thị Lan",
        False,
    )
    assert message.chat.id == "6ede9afa66b88fe6d6a9" and message.chat.is_private
    assert bare.dedupe_key == ("message.text.received", "2d758cb5e3d0c3849bd8")


def test_the_date_is_epoch_milliseconds_as_aware_utc() -> None:
    message = parse_update(_text_event(date=1_750_316_131_602)).message

    assert message is not None
    assert message.date == dt.datetime(2025, 6, 19, 6, 55, 31, 602_000, tzinfo=dt.UTC)
    assert message.date.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("field", ["photo", "photo_url"])
def test_an_image_url_is_read_from_photo_or_photo_url(field: str) -> None:
    event = _text_event(
        **{field: "https://s120-ava-talk.zadn.vn/a.jpg", "caption": "Ảnh", "message_type": "CHAT_PHOTO"}
    )
    event["event_name"] = "message.image.received"
    del event["message"]["text"]  # type: ignore[attr-defined]

    update = parse_update(event)

    assert update.kind is EventName.IMAGE
    assert update.message is not None
    assert update.message.photo_url == "https://s120-ava-talk.zadn.vn/a.jpg"
    assert (update.message.caption, update.message.message_type, update.message.text) == ("Ảnh", "CHAT_PHOTO", None)


def test_photo_url_wins_when_both_are_there() -> None:
    message = parse_update(_text_event(photo="https://a/doc.jpg", photo_url="https://a/live.jpg")).message

    assert message is not None and message.photo_url == "https://a/live.jpg"


def test_stickers_unsupported_and_voice_events_are_known() -> None:
    sticker = _text_event(sticker="bfe3ad6b8df8644a3de9", url="https://zalo-api.zadn.vn/s.png", text=None)
    sticker["event_name"] = "message.sticker.received"
    unsupported = _text_event(text=None)
    unsupported["event_name"] = "message.unsupported.received"
    voice = _text_event(voice_url="https://voice.zadn.vn/v.aac", message_type="CHAT_VOICE", text=None)
    voice["event_name"] = "message.voice.received"

    parsed_sticker, parsed_unsupported, parsed_voice = map(parse_update, (sticker, unsupported, voice))

    assert parsed_sticker.kind is EventName.STICKER and parsed_sticker.message is not None
    assert (parsed_sticker.message.sticker, parsed_sticker.message.sticker_url) == (
        "bfe3ad6b8df8644a3de9",
        "https://zalo-api.zadn.vn/s.png",
    )
    assert parsed_unsupported.kind is EventName.UNSUPPORTED and parsed_unsupported.message is not None
    assert parsed_unsupported.message.text is None and parsed_unsupported.message.photo_url is None
    assert parsed_voice.message is not None and parsed_voice.message.voice_url == "https://voice.zadn.vn/v.aac"


def test_an_unknown_event_is_kept_and_marked_unknown() -> None:
    with_message = _text_event()
    with_message["event_name"] = "message.location.received"
    follow = {"event_name": "user.follow", "follower": {"id": "abc"}}

    parsed = parse_update(with_message)
    bare = parse_update(follow)

    assert parsed.event_name == "message.location.received"
    assert parsed.kind is None and not parsed.is_known
    assert parsed.message is not None and parsed.message.chat.id == "6ede9afa66b88fe6d6a9"
    assert bare == ZaloUpdate(event_name="user.follow", message=None)
    assert bare.dedupe_key is None


def test_lenient_where_the_samples_disagree() -> None:
    # Numeric ids, an old sample's first_name, no chat_type, no is_bot.
    event = _text_event(**{"from": {"id": 42, "first_name": "Minh"}, "chat": {"id": 42}, "date": "1750316131602"})

    message = parse_update(event).message

    assert message is not None
    assert (message.sender.id, message.sender.display_name, message.sender.is_bot) == ("42", "Minh", False)
    assert message.chat.chat_type is None and not message.chat.is_private


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        b"{}",
        b'{"ok": false, "error_code": 408, "description": "Request timeout"}',
        b'{"ok": true, "result": []}',
        b'{"event_name": 7, "message": {}}',
        b'{"event_name": "message.text.received"}',
        b'{"event_name": "message.text.received", "message": []}',
        # One envelope only: a wrapper inside a wrapper is not an update.
        b'{"ok": true, "result": {"ok": true, "result": {"event_name": "x"}}}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_bodies_raise_a_typed_error(body: bytes) -> None:
    with pytest.raises(ZaloUpdateError):
        parse_update_json(body)


@pytest.mark.parametrize(
    "change",
    [
        {"message_id": None},
        {"message_id": ""},
        {"message_id": True},
        {"date": None},
        {"date": True},
        {"date": "yesterday"},
        {"date": 10**30},
        {"from": None},
        {"from": {"display_name": "no id"}},
        {"from": {"id": "x", "is_bot": "no"}},
        {"chat": "6ede9afa66b88fe6d6a9"},
        {"text": 12},
        {"photo_url": ["https://a/b.jpg"]},
    ],
)
def test_a_known_event_with_a_broken_message_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ZaloUpdateError):
        parse_update(_text_event(**change))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
MESSAGE_KEYS = st.sampled_from(["from", "chat", "message_id", "date", "text", "photo", "photo_url", "id", "caption"])
ENVELOPES = st.fixed_dictionaries(
    {"event_name": st.sampled_from([*(name.value for name in EventName), "user.follow"]) | JSON},
    optional={"message": st.dictionaries(MESSAGE_KEYS, JSON, max_size=6) | JSON},
) | st.fixed_dictionaries({"ok": JSON, "result": JSON})


@given(ENVELOPES | JSON)
def test_any_json_either_parses_or_raises_the_typed_error(body: object) -> None:
    try:
        update = parse_update(body)
    except ZaloUpdateError:
        return
    assert isinstance(update.event_name, str)
    assert update.message is not None or not update.is_known


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _update(message_id: str, event_name: str = "message.text.received") -> ZaloUpdate:
    event = _text_event(message_id=message_id)
    event["event_name"] = event_name
    return parse_update(event)


def test_a_redelivered_event_is_a_duplicate_within_the_window_only() -> None:
    clock = _Clock()
    seen = Deduplicator(window_seconds=300, clock=clock)

    assert not seen.is_duplicate(_update("a"))
    clock.now += 299
    assert seen.is_duplicate(_update("a"))
    assert not seen.is_duplicate(_update("a", "message.image.received"))
    assert not seen.is_duplicate(_update("b"))
    clock.now += 2
    # Five minutes after it was first seen, "a" is forgotten; "b" is still remembered.
    assert not seen.is_duplicate(_update("a"))
    assert seen.is_duplicate(_update("b"))


def test_the_deduplicator_keeps_bounded_memory() -> None:
    clock = _Clock()
    seen = Deduplicator(window_seconds=60, max_entries=3, clock=clock)

    for message_id in "abcd":
        assert not seen.is_duplicate(_update(message_id))
    assert len(seen) == 3
    # The oldest went first.
    assert not seen.is_duplicate(_update("a"))
    clock.now += 61
    assert not seen.is_duplicate(_update("e"))
    assert len(seen) == 1


def test_an_event_without_a_message_is_never_a_duplicate() -> None:
    seen = Deduplicator(clock=_Clock())
    follow = parse_update({"event_name": "user.follow"})

    assert not seen.is_duplicate(follow)
    assert not seen.is_duplicate(follow)
    assert len(seen) == 0


class _Receiver(BaseHTTPRequestHandler):
    deliveries: list[tuple[str | None, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).deliveries.append((self.headers.get(SECRET_HEADER), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def webhook_receiver() -> Iterator[str]:
    _Receiver.deliveries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/zalo"
    finally:
        server.shutdown()
        server.server_close()


async def test_the_fake_server_posts_events_to_a_webhook_in_both_shapes(
    zalo_server: FakeZaloServer, webhook_receiver: str
) -> None:
    event = zalo_server.text_event(zalo_server.user("Hùng"), "Tham dự")

    bare = await zalo_server.post_to_webhook(webhook_receiver, event, secret="s3cret-s3cret")
    wrapped = await zalo_server.post_to_webhook(webhook_receiver, event, secret="s3cret-s3cret", envelope="wrapped")
    unsigned = await zalo_server.post_to_webhook(webhook_receiver, event, secret=None)

    assert bare.status_code == wrapped.status_code == unsigned.status_code == 200
    (secret_1, body_1), (secret_2, body_2), (secret_3, _) = _Receiver.deliveries
    assert (secret_1, secret_2, secret_3) == ("s3cret-s3cret", "s3cret-s3cret", None)
    assert json.loads(body_1) == event and json.loads(body_2) == {"ok": True, "result": event}
    assert parse_update_json(body_1) == parse_update_json(body_2)
    message = parse_update_json(body_1).message
    assert message is not None and message.text == "Tham dự" and message.sender.display_name == "Hùng"
