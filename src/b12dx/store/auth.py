"""API tokens: random, shown once, stored only as a SHA-256 hash.

A token carries 256 bits from ``secrets``, so a fast unsalted hash is enough: nobody can
enumerate the token space, and hashing lets the service look a token up by its hash without
keeping anything a database thief could replay.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["TOKEN_PREFIX", "hash_token", "new_token", "same_token"]

TOKEN_PREFIX = "b12dx_"


def new_token() -> str:
    """A fresh API token (``b12dx_`` + 43 URL-safe characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(hash_token(given), hash_token(expected))
