"""Token verification (SPEC §3): the ``jwt`` query parameter, checked row by row.

Every failure is an ``AuthError`` carrying one reason word, in the order of the spec's table:
size and shape, algorithm, key id, signature (PyJWS, with a fixed algorithm list), claim types,
time claims (with the leeway), audience, lifetime, one-time use, ``args``. Nothing in a token is
ever used to locate or fetch a key.

The keys decide the algorithm, never the token: a secret verifies HS256 only, a public key exactly
the algorithm declared for it. The header's ``alg`` merely selects among the rule's keys (with a
``kid``, it must be that key's algorithm), and PyJWS is always given that one algorithm, so an HMAC
over a public key's PEM text, or a public-key algorithm against a secret, never verifies.
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
from cachetools import LRUCache

from origin.errors import AuthError
from origin.settings import HMAC_ALGORITHM, PublicKey, Rule, Settings

ArgValue = str | int | float | bool

MAX_JTI_CHARS = 128
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
    once: bool = False  # a one-time link (``"use": "once"``): the first successful download consumes it
    jti: str | None = None  # a one-time link's id (1..128 characters); None unless ``once``


class TokenMemo:
    """Tokens that passed every check for a path under a rule, so that the same URL asked again (a
    cache hit, a 304) does not decode the token and check its signature again. Only what cannot
    change is remembered; the checks against the clock (``exp``, ``nbf``, ``iat``, the rule's
    lifetime) run on every use. Failures are never remembered. Bounded: least recently used go."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: LRUCache[tuple[str, str, str], tuple[dict[str, float], Claims]] = LRUCache(max_entries)

    def get(self, token: str, path: str, rule: Rule) -> tuple[dict[str, float], Claims] | None:
        return self._entries.get((token, path, rule.prefix))

    def put(self, token: str, path: str, rule: Rule, times: dict[str, float], claims: Claims) -> None:
        self._entries[(token, path, rule.prefix)] = (times, claims)


def verify_token(
    token: str, path: str, rule: Rule, settings: Settings, now: float, memo: TokenMemo | None = None
) -> Claims:
    """Verify ``token`` for canonical ``path`` under ``rule``; ``AuthError`` with the reason if not."""
    remembered = memo.get(token, path, rule) if memo is not None else None
    if remembered is not None:
        times, claims = remembered
        _check_time_claims(times, settings.jwt_leeway, now)
        _check_lifetime(claims.expires_at, rule, now)
        return claims
    if len(token.encode("utf-8")) > settings.max_token_bytes:
        raise AuthError(MALFORMED)
    header, payload = decode_unverified(token)
    if any(name in header for name in _FORBIDDEN_HEADERS):
        raise AuthError(MALFORMED)
    allowed = settings.keys_for(rule)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in {algorithm_of(key) for key in allowed.values()}:
        raise AuthError(ALGORITHM)

    if "kid" in header:
        kid = header["kid"]
        if not isinstance(kid, str) or kid not in allowed:
            raise AuthError(UNKNOWN_KEY)
        if algorithm_of(allowed[kid]) != alg:
            raise AuthError(ALGORITHM)
        candidates = {kid: allowed[kid]}
    else:
        candidates = {kid: key for kid, key in allowed.items() if algorithm_of(key) == alg}
    key_id = _verify_signature(token, alg, candidates)

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
    _check_lifetime(expires_at, rule, now)
    jti = _one_time_id(payload)
    claims = Claims(
        expires_at=expires_at,
        audience=audience,
        args=_args(payload),
        key_id=key_id,
        once=jti is not None,
        jti=jti,
    )
    if memo is not None:
        memo.put(token, path, rule, {name: payload[name] for name in ("exp", "nbf", "iat") if name in payload}, claims)
    return claims


def _check_lifetime(expires_at: float, rule: Rule, now: float) -> None:
    if rule.max_token_lifetime is not None and expires_at - now > rule.max_token_lifetime:
        raise AuthError(LIFETIME)


def algorithm_of(key: bytes | PublicKey) -> str:
    """The one algorithm a configured key verifies: HS256 for a secret, the declared one for a public key."""
    return HMAC_ALGORITHM if isinstance(key, bytes) else key.alg


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


def _verify_signature(token: str, alg: str, candidates: Mapping[str, bytes | PublicKey]) -> str:
    """PyJWS checks the signature with each candidate key in turn (rotation: several may be allowed),
    for the one algorithm every candidate has."""
    for kid, key in candidates.items():
        try:
            jwt.api_jws.decode_complete(token, key if isinstance(key, bytes) else key.key, algorithms=[alg])
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


def _one_time_id(payload: Mapping[str, Any]) -> str | None:
    """The ``jti`` of a one-time link (``"use": "once"``), or ``None`` for an ordinary token.

    Any other ``use``, or a one-time link without a ``jti`` of 1..128 characters, is refused: a link
    meant for one download must never verify as a reusable one.
    """
    if "use" not in payload:
        return None
    jti = payload.get("jti")
    if payload["use"] != "once" or not isinstance(jti, str) or not 1 <= len(jti) <= MAX_JTI_CHARS:
        raise AuthError(INVALID_PAYLOAD)
    return jti


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
