"""Typed codes in chat: how they are recognised in a message and how they are shown beside a link.

Every personal link has a short code (``rules.link_codes``) for Zalo, which has no deep links. On Telegram
the link stays the main way; the code is shown on the line after it ("Hoặc gõ mã …"). What typing a code
does is in ``handlers.typed_codes``; this module only reads and writes them, so every feature can show its
codes without importing the others.
"""

from __future__ import annotations

import re

from telegram import Message, Update
from telegram.ext import filters

from bot.context import BotContext
from bot.i18n import Translator
from rules import link_codes
from rules.link_codes import TypedCode

# ``/start K7M2-Q9XD`` (also ``/start@bot …``, and what a ``?start=K7M2Q9XD`` link sends).
_START = re.compile(r"^/start(?:@\w+)?\s+(?P<rest>.+)$", re.DOTALL | re.IGNORECASE)


def or_type_code(t: Translator, code: str) -> str:
    """The line under a link: the same link as a code to type (``code`` as shown, "K7M2-Q9XD")."""
    return t("Or type the code {code} in a chat with me (on Telegram or Zalo).", code=code)


def or_type_invitation_code(t: Translator, code: str) -> str:
    """The line under an invitation link."""
    return t("Or type the invitation code {code} in a chat with me (on Telegram or Zalo).", code=code)


def start_code(text: str) -> str | None:
    """The code of ``/start CODE`` (canonical), or None when the command carries something else."""
    found = _START.match(text.strip())
    return None if found is None else link_codes.parse_code(found["rest"])


def message_code(text: str) -> str | None:
    """The code a whole message is (or introduces: "mã mời K7M2-Q9XD"), or None."""
    return link_codes.find_code(text)


class _StartCode(filters.MessageFilter):
    """``/start`` followed by a code."""

    def filter(self, message: Message) -> bool:
        return bool(message.text) and start_code(message.text or "") is not None


class _MessageCode(filters.MessageFilter):
    """A text that is a code, or a code after the words people put before one."""

    def filter(self, message: Message) -> bool:
        return bool(message.text) and message_code(message.text or "") is not None


START_CODE = _StartCode(name="start_code")
MESSAGE_CODE = _MessageCode(name="message_code")


def typed_in(update: Update, context: BotContext) -> TypedCode | None:
    """The code this message carries (``/start CODE`` or a typed one), ready for a lookup."""
    text = update.message.text if update.message is not None else None
    if not text:
        return None
    code = start_code(text) if text.startswith("/") else message_code(text)
    return None if code is None else link_codes.typed_code(context.services.link_secret, code)


def unknown_code_text(t: Translator, code: TypedCode) -> str:
    return t(
        "Sorry, no invitation or personal link has the code {code}. Please check it and type it again (8 letters "
        "and digits, for example K7M2-Q9XD), or ask whoever gave it to you. Type /help to see what I can do.",
        code=code.shown,
    )


__all__ = [
    "MESSAGE_CODE",
    "START_CODE",
    "message_code",
    "or_type_code",
    "or_type_invitation_code",
    "start_code",
    "typed_in",
    "unknown_code_text",
]
