"""Telegram formatting as plain text, for channels that would show the markup literally."""

from __future__ import annotations

import pytest

from bot.channels.markup import plain_text


@pytest.mark.parametrize(
    ("parse_mode", "text", "plain"),
    [
        (None, "*không đổi* <b>gì</b>", "*không đổi* <b>gì</b>"),
        ("HTML", "<b>Kính gửi</b> ông <i>Hùng</i> &lt;Ban tổ chức&gt;", "Kính gửi ông Hùng <Ban tổ chức>"),
        ("html", '<a href="https://tayho.vn/x">https://tayho.vn/x</a>', "https://tayho.vn/x"),
        ("HTML", '<a href="tg://user?id=1">Hoà</a> đã duyệt', "Hoà đã duyệt"),
        ("HTML", "<pre><code>K7M2-Q9XD</code></pre>", "K7M2-Q9XD"),
        ("Markdown", "*Đậm* _nghiêng_ `mã` [trang](https://tayho.vn)", "Đậm nghiêng mã trang (https://tayho.vn)"),
        ("Markdown", "giữ ~dấu ngã~ và ||gạch||", "giữ ~dấu ngã~ và ||gạch||"),
        ("Markdown", "```\n/start inv_abc\n```", "/start inv_abc\n"),
        ("MarkdownV2", r"__gạch__ ~xoá~ ||ẩn|| 15\.3\.2020 \*không đậm\*", "gạch xoá ẩn 15.3.2020 *không đậm*"),
        ("MarkdownV2", ">Trích dẫn\n>dòng hai", "Trích dẫn\ndòng hai"),
        ("MarkdownV2", r"`a\_b` [*nhãn*](https://tayho.vn/a\)b)", "a_b nhãn (https://tayho.vn/a)b)"),
    ],
)
def test_markup_is_taken_out_and_links_keep_their_address(parse_mode: str | None, text: str, plain: str) -> None:
    assert plain_text(text, parse_mode) == plain
