"""Token verification (SPEC §3): the ``jwt`` query parameter, checked row by row.

Every failure is an ``AuthError`` carrying one reason word, in the order of the spec's table:
size and shape, algorithm, key id, signature (PyJWS, with a fixed algorithm list), claim types,
time claims (with the leeway), audience, lifetime, ``args``. Nothing in a token is
ever used to locate or fetch a key.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from origin.errors import AuthError
from origin.settings import Rule, Settings

ArgValue = str | int | float | bool

HMAC_ALGORITHM = "HS256"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_FORBIDDEN_HEADERS = ("crit", "jku", "x5u", "jwk", "x5c")

MISSING = "missing token"
MALFORMED = "malformed token"
ALGORITHM = "algorithm not allowed"
UNKNOWN_KEY = "unknown key"
SIGNATURE = "signature mismatch"
INVALID_PAYLOAD = "invalid payload"
EXPIRED = "expired key"
NOT_YET_VALID = "not yet valid"
AUDIENCE = "audience mismatch"
LIFETIME = "lifetime too long"


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token grants."""

    expires_at: float
    audience: tuple[str, ...] | None
    args: Mapping[str, ArgValue]
    key_id: str  # the id of the key whose signature matched


def verify_token(token: str, path: str, rule: Rule, settings: Settings, now: float) -> Claims:
    """Verify ``token`` for canonical ``path`` under ``rule``; ``AuthError`` with the reason if not."""
    if len(token.encode("utf-8")) > settings.max_token_bytes:
        raise AuthError(MALFORMED)
    header, payload = decode_unverified(token)
    if any(name in header for name in _FORBIDDEN_HEADERS):
        raise AuthError(MALFORMED)
    if header.get("alg") != HMAC_ALGORITHM:
        raise AuthError(ALGORITHM)

    allowed = settings.keys_for(rule)
    kid = header.get("kid")
    if "kid" in header:
        if not isinstance(kid, str) or kid not in allowed:
            raise AuthError(UNKNOWN_KEY)
        candidates = {kid: allowed[kid]}
    else:
        candidates = allowed
    key_id = _verify_signature(token, candidates)

    for claim in ("exp", "nbf", "iat"):
        if claim in payload and not _is_number(payload[claim]):
            raise AuthError(INVALID_PAYLOAD)
    if "exp" not in payload:
        raise AuthError(INVALID_PAYLOAD)
    _check_time_claims(payload, settings.jwt_leeway, now)

    audience = _audience(payload)
    if audience is not None and not any(path.startswith(prefix) for prefix in audience):
        raise AuthError(AUDIENCE)
    expires_at = float(payload["exp"])
    if rule.max_token_lifetime is not None and expires_at - now > rule.max_token_lifetime:
        raise AuthError(LIFETIME)
    if payload.get("use") == "once":
        # One-time links need the used-token store; until it exists they are refused, never reusable.
        raise AuthError(INVALID_PAYLOAD)
    return Claims(expires_at=expires_at, audience=audience, args=_args(payload), key_id=key_id)


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = token.split(".")
    if len(parts) != 3 or not all(_B64URL.fullmatch(part) for part in parts) or not parts[0] or not parts[1]:
        raise AuthError(MALFORMED)
    header, payload = (_json_object(part) for part in parts[:2])
    return header, payload


def _json_object(part: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        value = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeError too
        raise AuthError(MALFORMED) from exc
    if not isinstance(value, dict) or not _utf8(value):
        raise AuthError(MALFORMED)
    return value


def _utf8(value: Any) -> bool:
    """Whether every string in ``value`` is real text (JSON escapes allow lone surrogates, which no
    UTF-8 text, header or file name can hold)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _verify_signature(token: str, candidates: Mapping[str, bytes]) -> str:
    """PyJWS checks the signature with each candidate key in turn (rotation: several may be allowed)."""
    for kid, secret in candidates.items():
        try:
            jwt.api_jws.decode_complete(token, secret, algorithms=[HMAC_ALGORITHM])
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidAlgorithmError as exc:
            raise AuthError(ALGORITHM) from exc
        except jwt.PyJWTError as exc:
            raise AuthError(MALFORMED) from exc
        return kid
    raise AuthError(SIGNATURE)


def _check_time_claims(payload: Mapping[str, Any], leeway: float, now: float) -> None:
    """``exp``, ``nbf`` and ``iat`` against the caller's clock.

    PyJWT's own claim checks read the wall clock (so ``now`` could not be honoured) and call
    ``int()`` on the values (an infinite ``exp`` would escape as ``OverflowError``); the types are
    checked first, then these three comparisons are PyJWT's, with the same leeway semantics.
    """
    if payload["exp"] <= now - leeway:
        raise AuthError(EXPIRED)
    for claim in ("nbf", "iat"):
        if claim in payload and payload[claim] > now + leeway:
            raise AuthError(NOT_YET_VALID)


def _is_number(value: Any) -> bool:
    """A JSON number a clock can be compared with: not a boolean, finite, below 10^15 seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) < 10**15  # math.isfinite would overflow on a 400-digit integer
    return math.isfinite(value) and abs(value) < 1e15


def _audience(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    if "aud" not in payload:
        return None
    aud = payload["aud"]
    entries = [aud] if isinstance(aud, str) else aud
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(entry, str) and entry.startswith("/") for entry in entries)
    ):
        raise AuthError(INVALID_PAYLOAD)
    return tuple(entries)


def _args(payload: Mapping[str, Any]) -> dict[str, ArgValue]:
    args = payload.get("args", {})
    if not isinstance(args, dict):
        raise AuthError(INVALID_PAYLOAD)
    for value in args.values():
        if isinstance(value, float) and not math.isfinite(value):
            raise AuthError(INVALID_PAYLOAD)
        if not isinstance(value, str | int | float | bool):
            raise AuthError(INVALID_PAYLOAD)
    return dict(args)
