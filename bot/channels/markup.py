"""Telegram-formatted text (``parse_mode`` HTML, Markdown, MarkdownV2) as plain text, for channels that
would show the markup literally (Zalo's own markdown is another dialect, and older clients show none).

A link keeps its address: ``<a href="https://…">the form</a>`` becomes "the form (https://…)", since on a
channel without formatting the address is the only way to follow it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["plain_text"]


def plain_text(text: str, parse_mode: str | None) -> str:
    """``text`` without the markup of ``parse_mode`` (case-insensitive; None or unknown: unchanged)."""
    mode = (parse_mode or "").casefold()
    if mode == "html":
        return _html_to_text(text)
    if mode in ("markdown", "markdownv2"):
        return _markdown_to_text(text, v2=mode == "markdownv2")
    return text


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        # Character references (&amp;, &lt;, &#39;) are turned into the characters they stand for.
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._links: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._links.append((dict(attrs).get("href") or "", len(self.parts)))
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag != "a" or not self._links:
            return
        href, start = self._links.pop()
        label = "".join(self.parts[start:])
        if href and href != label.strip() and not href.startswith("tg://"):
            self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_to_text(text: str) -> str:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


# One pass over the text, left to right: code first (nothing inside it is markup), then links, escapes, and
# the markers themselves, which are dropped.
_MARKDOWN = re.compile(
    r"```(?:[^\n`]*\n)?(?P<pre>.*?)```"
    r"|`(?P<code>[^`]*)`"
    r"|\[(?P<label>[^\]]*)\]\((?P<url>(?:\\.|[^)\\])*)\)"
    r"|\\(?P<escaped>.)"
    r"|(?P<marker>\|\||__|[*_~])",
    re.DOTALL,
)
_QUOTE = re.compile(r"^\*?>", re.MULTILINE)


def _markdown_to_text(text: str, *, v2: bool) -> str:
    if v2:
        text = _QUOTE.sub("", text)

    def replace(match: re.Match[str]) -> str:
        if match["pre"] is not None:
            return _unescape(match["pre"]) if v2 else match["pre"]
        if match["code"] is not None:
            return _unescape(match["code"]) if v2 else match["code"]
        if match["label"] is not None:
            label = _MARKDOWN.sub(replace, match["label"])
            url = _unescape(match["url"])
            return label if url == label.strip() or url.startswith("tg://") else f"{label} ({url})"
        if match["escaped"] is not None:
            return match["escaped"]
        if not v2 and match["marker"] in ("||", "~"):
            # Legacy Markdown has only *bold*, _italic_, `code` and links.
            return match[0]
        return ""

    return _MARKDOWN.sub(replace, text)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
