"""Minting signed URLs: the inverse of ``auth.verify_token``, for the CLI, the docs and tests."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import jwt

from origin.auth import HMAC_ALGORITHM


def sign_token(
    *,
    key: bytes,
    expires_in: int,
    aud: str | list[str] | None = None,
    args: Mapping[str, Any] | None = None,
    kid: str | None = None,
    now: float | None = None,
) -> str:
    """An HS256 token valid for ``expires_in`` seconds, for the paths under ``aud``."""
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {"exp": issued + expires_in, "iat": issued}
    if aud is not None:
        payload["aud"] = aud
    if args:
        payload["args"] = dict(args)
    headers = {"kid": kid} if kid else None
    return jwt.encode(payload, key, algorithm=HMAC_ALGORITHM, headers=headers)


def sign_url(
    path: str,
    *,
    key: bytes,
    expires_in: int = 300,
    args: Mapping[str, Any] | None = None,
    query: str = "",
    aud: str | None = None,
    kid: str | None = None,
    base_url: str = "",
    now: float | None = None,
) -> str:
    """A URL for ``path`` with its token; ``aud`` defaults to the path itself (Sirv's audience)."""
    token = sign_token(key=key, expires_in=expires_in, aud=aud or path, args=args, kid=kid, now=now)
    query = query.lstrip("?&")
    separator = f"?{query}&" if query else "?"
    return f"{base_url.rstrip('/')}{quote(path, safe='/')}{separator}jwt={token}"
