"""Channels and the addresses the dialogue engine sees.

A person is an account; each channel they use (Telegram, Zalo; later the Zalo Official Account, or a phone
number for template messages) is a channel identity of that account: the channel's name and the id it gives
the person, as text. Rules, exports and audit rows name accounts, never those ids.

The one dialogue engine (python-telegram-bot's ConversationHandlers) needs an integer user and chat id for
every update. That integer is the identity's **address**, stored with it:

- a Telegram identity's address is the Telegram user id itself (Telegram promises at most 52 significant
  bits, so it is below 2**52), which keeps existing conversation states and Telegram's own calls as they are;
- any other channel's is ``ADDRESS_BASE`` + the identity's row id: at or above 2**53, so no Telegram id (nor
  a Telegram group id, which is negative) can ever equal it, and stable across restarts because the row is.

The channel router (``bot.channels.router``) sends a call addressed to a number at or above ``ADDRESS_BASE``
to that identity's channel, and everything else to Telegram.
"""

from __future__ import annotations

TELEGRAM = "telegram"
ZALO = "zalo"
CHANNELS = (TELEGRAM, ZALO)

ADDRESS_BASE = 1 << 53
# Telegram user ids have at most 52 significant bits (Bot API: "User.id"); one bit of slack before the
# channel addresses begin.
TELEGRAM_ID_LIMIT = ADDRESS_BASE
MAX_EXTERNAL_ID_CHARS = 64
# The key a channel adapter adds to every update it makes (PTB keeps unknown keys in ``api_kwargs``), so an
# address at or above ADDRESS_BASE is believed only from the adapter, never from a Telegram update.
UPDATE_MARK = "dienhinh_channel"


def is_channel_address(address: int) -> bool:
    """True for an address that belongs to an identity on a channel other than Telegram."""
    return address >= ADDRESS_BASE


def address_for(channel: str, identity_id: int, external_id: str) -> int:
    """The address of an identity (see the module's docstring)."""
    if channel == TELEGRAM:
        return telegram_id(external_id)
    return ADDRESS_BASE + identity_id


def telegram_id(external_id: str) -> int:
    """The Telegram user id an identity's external id stands for; ValueError for anything else."""
    value = int(external_id)
    if not 0 < value < TELEGRAM_ID_LIMIT:
        raise ValueError(f"not a Telegram user id: {external_id!r}")
    return value


def check_external_id(channel: str, external_id: str) -> str:
    """The external id as stored; ValueError for an unknown channel or an id no channel gives."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if not external_id or len(external_id) > MAX_EXTERNAL_ID_CHARS or not external_id.isprintable():
        raise ValueError(f"bad {channel} id")
    if channel == TELEGRAM:
        telegram_id(external_id)
    return external_id


__all__ = [
    "ADDRESS_BASE",
    "CHANNELS",
    "TELEGRAM",
    "UPDATE_MARK",
    "ZALO",
    "address_for",
    "check_external_id",
    "is_channel_address",
    "telegram_id",
]
