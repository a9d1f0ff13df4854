"""Personal links that can be handed out again without being stored.

An invitation's link token (and its check-in token) is an HMAC of a server secret, the record's id and a
random nonce kept on the record. Only the token's hash is stored, for lookup: a copy of the database
reveals no link, yet organisers can export the same links again for units to print. A new nonce revokes a
link. Tokens carry 144 bits, fit Telegram's 64-character deep-link limit and are URL-safe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from rules.tokens import deep_link_payload, token_hash

NONCE_BYTES = 12
TOKEN_BYTES = 18
INVITATION = "inv"
CHECK_IN = "chk"


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def derive_token(secret: bytes, kind: str, record_id: int, nonce: str) -> str:
    """The token of one link: deterministic for (secret, kind, id, nonce), unguessable without the secret."""
    digest = hmac.new(secret, f"{kind}:{record_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode("ascii").rstrip("=")


def derive(secret: bytes, kind: str, record_id: int, nonce: str) -> tuple[str, str]:
    """(token, its hash to store)."""
    token = derive_token(secret, kind, record_id, nonce)
    return token, token_hash(token)


def deep_link(bot_username: str, kind: str, token: str) -> str:
    """``https://t.me/<bot>?start=<kind>_<token>``."""
    return f"https://t.me/{bot_username}?start={deep_link_payload(kind, token)}"


def checkin_code(secret: bytes, record_id: int, nonce: str) -> str:
    """A short code to type when a QR cannot be scanned (``/checkin K7M2-Q9XD``): 40 bits, no 0/O/1/I."""
    digest = hmac.new(secret, f"code:{record_id}:{nonce}".encode(), hashlib.sha256).digest()
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    value = int.from_bytes(digest[:5], "big")
    chars = "".join(alphabet[(value >> (5 * i)) & 31] for i in range(8))
    return f"{chars[:4]}-{chars[4:]}"
