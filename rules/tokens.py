"""Tokens for personal links (unit links, endorsement links, invitations, check-in).

At least 128 random bits, URL-safe, short enough for a Telegram deep link (``start`` payloads are at most
64 characters of A-Z a-z 0-9 _ -), and stored only as a hash: a leaked database does not leak links.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 18  # 144 bits -> 24 URL-safe characters
DEEP_LINK_LIMIT = 64
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_token() -> str:
    """A fresh random token (URL-safe base64, no padding)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored: SHA-256 hex of the token. Tokens are random, so no salt is needed."""
    return hashlib.sha256(token.encode("ascii", "ignore")).hexdigest()


def deep_link_payload(prefix: str, token: str) -> str:
    """``unit_<token>``; raises if Telegram would not accept it as a ``start`` parameter."""
    payload = f"{prefix}_{token}"
    if not _PAYLOAD.match(payload):
        raise ValueError(f"{payload!r} is not a valid deep-link payload")
    return payload


def split_payload(payload: str, prefix: str) -> str | None:
    """The token of ``prefix_<token>``, or None when the payload is not of that kind."""
    if not _PAYLOAD.match(payload) or not payload.startswith(prefix + "_"):
        return None
    return payload[len(prefix) + 1 :]


def same_hash(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(token_hash(token), stored_hash)
