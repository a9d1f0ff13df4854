"""Personal links that can be handed out again without being stored.

An invitation's link token (and its check-in token) is an HMAC of a server secret, the record's id and a
random nonce kept on the record. Only the token's hash is stored, for lookup: a copy of the database
reveals no link, yet organisers can export the same links again for units to print. A new nonce revokes a
link. Tokens carry 144 bits, fit Telegram's 64-character deep-link limit and are URL-safe.

Every personal link also has a typed code (``rules.link_codes``) derived from the same nonce and stored,
hashed, in the ``link_code`` table by :func:`ensure_code`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from rules import link_codes
from rules.link_codes import TypedCode
from rules.tokens import deep_link_payload, token_hash
from storage import link_codes as link_store
from storage.link_codes import CodeOwner

NONCE_BYTES = 12
TOKEN_BYTES = 18
INVITATION = "inv"
CHECK_IN = "chk"
UNIT = "unit"
ENDORSEMENT = "end"
# Draws of a nonce before giving up on a free code: with 40 bits, a second draw is already a curiosity.
_MAX_DRAWS = 8


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


async def ensure_code(
    session: AsyncSession, secret: bytes, kind: str, record_id: int, nonce: str | None = None
) -> tuple[str, str]:
    """Give the link (kind, record_id) its typed code: (the nonce, the canonical code).

    The code of ``nonce`` when no other link has it; on the astronomically rare clash (40 bits), or without
    a nonce, a fresh nonce whose code is free — the caller stores that nonce and derives the link's token
    from it, so the link and its code always go together.
    """
    for _ in range(_MAX_DRAWS):
        nonce = nonce or new_nonce()
        code = link_codes.derive_code(secret, kind, record_id, nonce)
        if await link_store.claim(
            session, kind=kind, record_id=record_id, code_hash=link_codes.lookup_hash(secret, code)
        ):
            return nonce, code
        nonce = None
    raise RuntimeError(f"no free code for {kind} {record_id} in {_MAX_DRAWS} draws")


async def code_owner(session: AsyncSession, code: TypedCode) -> CodeOwner | None:
    """Whose typed code ``code`` is — the link's kind and record — or None: one lookup, whatever the kind."""
    return await link_store.owner(session, code.lookup)
