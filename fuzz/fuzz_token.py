#!/usr/bin/env python3
"""Fuzz target: the token verifier (SPEC §3).

``verify_token(token, path, rule, settings, now)`` may only ever return ``Claims`` or raise
``AuthError`` with one of the reason words of SPEC §3; anything else would be a 500. Random bytes
never get past the signature, so most modes build structurally valid tokens from the provider
(random header and payload JSON, signed with a configured key via ``jwt.encode`` or by hand with
``hmac``), and then damage some of them. Every accepted token is checked against an oracle that
shares no code with the verifier:

- its signature is a valid HMAC-SHA256, under a key the rule allows, of its first two parts;
- its header says ``alg: HS256``, names an allowed ``kid`` if any, holds none of crit/jku/x5u/jwk/x5c;
- ``exp`` is a finite non-boolean number in the future (leeway), ``nbf``/``iat`` not beyond it;
- ``aud`` (if any) has an entry that is a prefix of the path; the rule's lifetime is respected;
- ``args`` holds JSON scalars only; ``use``, if present, is ``once`` with a ``jti`` of 1..128
  characters, and only then are the claims a one-time link's.

And the reverse: a token the harness built to be valid in every respect must be accepted.

The first byte of an input picks the mode (``MODES``); mode 0 takes the rest as the token text,
verified for ``PATH`` under the first settings at ``NOW``, so the seed files are readable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # the unit tests drive TestOneInput with a stand-in provider
    atheris = None

if __name__ == "__main__" and atheris is not None:
    # Not the "RegEx" hook: atheris 3.0.0's crashes on bytes patterns (cryptography's, via jwt).
    atheris.enabled_hooks.add("str")
    # PyJWT too: the verifier hands the signature check to PyJWS, whose branches should guide as well.
    with atheris.instrument_imports(include=["origin", "transforms", "jwt"]):
        import jwt

        from origin.auth import Claims, verify_token
        from origin.errors import AuthError
        from origin.settings import Rule, Settings
else:
    import jwt

    from origin.auth import Claims, verify_token
    from origin.errors import AuthError
    from origin.settings import Rule, Settings

FuzzedDataProvider: Callable[[bytes], Any] | None = atheris.FuzzedDataProvider if atheris is not None else None

REASONS = frozenset(
    {
        "missing token",
        "malformed token",
        "algorithm not allowed",
        "unknown key",
        "signature mismatch",
        "invalid payload",
        "expired key",
        "not yet valid",
        "audience mismatch",
        "lifetime too long",
    }
)
FORBIDDEN_HEADERS = ("crit", "jku", "x5u", "jwk", "x5c")

# 64-byte secrets: long enough for HS512 too, so PyJWT never warns (warnings are failures here).
KEYS = {
    "main": (b"fuzz-main-secret-" * 4)[:64],
    "next": (b"fuzz-next-secret-" * 4)[:64],
    "a": (b"fuzz-key-a-secret-" * 4)[:64],
}
WRONG = (b"fuzz-not-configured-" * 4)[:64]
ROOT = Path(__file__).resolve().parent  # any directory: nothing here touches the file system
RULES = (
    Rule(prefix="/", protect=True, keys=("main", "next")),
    Rule(prefix="/public/", protect=False),
    Rule(prefix="/only-a/", protect=True, keys=("a",)),
    Rule(prefix="/limited/", protect=True, max_token_lifetime=600),
)
SETTINGS = (
    Settings(root=ROOT, keys=KEYS, rules=RULES, render_concurrency=1),
    Settings(root=ROOT, keys=KEYS, rules=RULES, render_concurrency=1, jwt_leeway=0.0, max_token_bytes=600),
    Settings(root=ROOT, keys=KEYS, rules=RULES, render_concurrency=1, jwt_leeway=300.0),
)
NOW = 1_700_000_000.0
PATH = "/img/a.jpg"  # mode 0: rule "/" (keys main and next), leeway 5 s
PATHS = ("/img/a.jpg", "/public/x.png", "/only-a/b/c.webp", "/limited/t.gif", "/a.jpg", "/img/é.png", "/x")
AUDIENCES = ("/", "/img/", "/img/a.jpg", "/img", "/i", "/public/", "/only-a/", "/limited/", "/other/", "img/", "")
KIDS = ("main", "next", "a", "b", "", "MAIN", "main ")
ALGS = ("HS256", "HS384", "HS512", "none", "None", "RS256", "ES256", "hs256", "", "HS256 ")
# JSON strings may hold lone surrogates ("\ud800" escapes): a token's args and claims can carry them.
ARG_NAMES = ("w", "h", "q", "format", "text", "watermark", "profile", "dl", "x", "\udc00")
STRINGS = ("", "a", "once", "JWT", "HS256", "main", "/", "é", "\u0000", "\ud800", "1e3", "NaN", "true", "x" * 300)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _rarely(fdp: Any, odds: int) -> bool:
    """True once in ``odds``; never when the data has run out (the provider then gives the minimum),
    so an exhausted input builds the ordinary case, not the odd one."""
    return bool(fdp.ConsumeIntInRange(0, odds - 1) == odds - 1)


def _json_value(fdp: Any, depth: int) -> Any:
    """Any JSON value, including the awkward ones: huge, infinite and NaN numbers, deep nesting."""
    kind = fdp.ConsumeIntInRange(0, 11 if depth > 0 else 8)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeIntInRange(-(2**70), 2**70)
    if kind == 3:
        return fdp.PickValueInList([10**15 - 1, 10**15, -(10**15), 10**400, 10**5000, 0, -1, 2**63])
    if kind == 4:
        return fdp.ConsumeRegularFloat()
    if kind == 5:
        return fdp.PickValueInList([math.inf, -math.inf, math.nan, -0.0, 1e15, 1e300, 5e-324])
    if kind == 6:
        return fdp.PickValueInList(list(STRINGS))
    if kind in (7, 8):
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 24))
    if kind == 9:
        return [_json_value(fdp, depth - 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    if kind == 10:
        return {_key(fdp): _json_value(fdp, depth - 1) for _ in range(fdp.ConsumeIntInRange(0, 3))}
    nested: Any = fdp.ConsumeIntInRange(0, 1)
    for _ in range(fdp.ConsumeIntInRange(1, 5000)):  # past the JSON parser's recursion limit
        nested = [nested]
    return nested


def _key(fdp: Any) -> str:
    if fdp.ConsumeBool():
        return str(fdp.PickValueInList(["alg", "kid", "typ", "exp", "nbf", "iat", "aud", "args", "use", "b64", "cty"]))
    return str(fdp.ConsumeUnicodeNoSurrogates(8))


class Built:
    """A token the harness made, and whether every part of it was chosen valid."""

    def __init__(self) -> None:
        self.valid = True

    def pick(self, fdp: Any, good: Callable[[], Any], bad: Callable[[], Any], odds: int = 4) -> Any:
        """``good()`` most of the time, else ``bad()`` (which makes the whole token not-valid)."""
        if _rarely(fdp, odds):
            self.valid = False
            return bad()
        return good()


def _header(fdp: Any, built: Built, allowed: list[str]) -> tuple[dict[str, Any], bytes]:
    """The header, and the key the token will be signed with."""
    header: dict[str, Any] = {}
    alg = built.pick(fdp, lambda: "HS256", lambda: fdp.PickValueInList([*ALGS, _json_value(fdp, 1)]), 8)
    if not _rarely(fdp, 8):
        header["alg"] = alg
    else:
        built.valid = False
    if fdp.ConsumeBool():
        header["typ"] = built.pick(fdp, lambda: "JWT", lambda: _json_value(fdp, 1), 8)
    kid_mode = fdp.ConsumeIntInRange(0, 3)
    if kid_mode == 0:  # no kid: every allowed key is tried
        key = built.pick(fdp, lambda: KEYS[fdp.PickValueInList(allowed)], lambda: fdp.PickValueInList(_others(allowed)))
    elif kid_mode in (1, 2):  # an allowed kid and its own key
        kid = fdp.PickValueInList(allowed)
        header["kid"] = kid
        key = built.pick(fdp, lambda: KEYS[kid], lambda: fdp.PickValueInList([WRONG, *KEYS.values()]))
        built.valid = built.valid and key == KEYS[kid]
    else:  # any kid at all
        kid = fdp.PickValueInList(list(KIDS)) if fdp.ConsumeBool() else _json_value(fdp, 1)
        header["kid"] = kid
        key = fdp.PickValueInList([WRONG, *KEYS.values()])
        built.valid = built.valid and isinstance(kid, str) and kid in allowed and key == KEYS[kid]
    if _rarely(fdp, 8):
        built.valid = False
        for _ in range(fdp.ConsumeIntInRange(1, 3)):
            header[fdp.PickValueInList([*FORBIDDEN_HEADERS, "b64", "cty", "x"])] = _json_value(fdp, 2)
    return header, key


def _others(allowed: list[str]) -> list[bytes]:
    return [WRONG, *(secret for kid, secret in KEYS.items() if kid not in allowed)]


def _time_claim(fdp: Any, built: Built, low: int, high: int) -> Any:
    return built.pick(fdp, lambda: NOW + fdp.ConsumeIntInRange(low, high), lambda: _json_value(fdp, 1))


def _payload(fdp: Any, built: Built, path: str, rule: Rule, leeway: float) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    lifetime = rule.max_token_lifetime or 10**6
    if not _rarely(fdp, 16):
        payload["exp"] = _time_claim(fdp, built, int(leeway) + 1, lifetime)
        if fdp.ConsumeBool() and isinstance(payload["exp"], float) and math.isfinite(payload["exp"]):
            payload["exp"] = int(payload["exp"])
    else:
        built.valid = False
    for claim in ("nbf", "iat"):
        if fdp.ConsumeBool():
            payload[claim] = _time_claim(fdp, built, -(10**6), 0)
    if fdp.ConsumeBool():
        good = [prefix for prefix in AUDIENCES if prefix and path.startswith(prefix)] or [path]
        others = [prefix for prefix in AUDIENCES if prefix.startswith("/")]

        def good_aud() -> Any:
            if fdp.ConsumeBool():
                return fdp.PickValueInList(good)
            return [fdp.PickValueInList(others), fdp.PickValueInList(good)][:: fdp.PickValueInList([1, -1])]

        def bad_aud() -> Any:
            return fdp.PickValueInList([fdp.PickValueInList(list(AUDIENCES)), _json_value(fdp, 2)])

        payload["aud"] = built.pick(fdp, good_aud, bad_aud)
    if fdp.ConsumeBool():
        payload["args"] = built.pick(fdp, lambda: _args(fdp), lambda: _json_value(fdp, 3))
    if _rarely(fdp, 8):
        payload["use"] = built.pick(fdp, lambda: "once", lambda: fdp.PickValueInList(["many", "Once", "", True]))
    for _ in range(fdp.ConsumeIntInRange(0, 2)):
        name = fdp.PickValueInList(["jti", "sub", "x", "iss"])
        payload[name] = fdp.PickValueInList(list(STRINGS))  # strings: jwt.encode refuses a non-string iss
    if payload.get("use") == "once" and not _one_time_id(payload.get("jti")):
        built.valid = False  # a one-time link needs a jti of 1..128 characters
    return payload


def _one_time_id(jti: Any) -> bool:
    return isinstance(jti, str) and 1 <= len(jti) <= 128


def _args(fdp: Any) -> dict[str, Any]:
    def scalar() -> Any:
        kind = fdp.ConsumeIntInRange(0, 3)
        if kind == 0:
            return fdp.ConsumeBool()
        if kind == 1:
            return fdp.ConsumeIntInRange(-(2**63), 2**63)
        if kind == 2:
            value = fdp.ConsumeRegularFloat()
            return value if math.isfinite(value) else 1.5
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 30))

    return {fdp.PickValueInList(list(ARG_NAMES)): scalar() for _ in range(fdp.ConsumeIntInRange(0, 4))}


def _sign(header_json: bytes, payload_json: bytes, key: bytes) -> str:
    signing_input = f"{b64url(header_json)}.{b64url(payload_json)}"
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def _damage(fdp: Any, built: Built, token: str) -> str:
    """Sometimes break a finished token the way a careless client or an attacker would."""
    if not _rarely(fdp, 4):
        return token
    kind = fdp.ConsumeIntInRange(0, 7)
    built.valid = False
    if kind == 0:
        return token[: fdp.ConsumeIntInRange(0, len(token))]
    if kind == 1:
        at = fdp.ConsumeIntInRange(0, len(token))
        return token[:at] + str(fdp.ConsumeUnicodeNoSurrogates(4)) + token[at:]
    if kind == 2:
        head, _, _ = token.rpartition(".")
        return head + "." + b64url(fdp.ConsumeBytes(32))
    if kind == 3:
        return token + str(fdp.PickValueInList(["=", "==", ".", ".x", "\n", " "]))
    if kind == 4:
        header, payload, signature = token.split(".")
        return ".".join(fdp.PickValueInList([[payload, header, signature], [header, "", signature], [header, payload]]))
    if kind == 5:
        header, payload, _ = token.split(".")
        return f"{header}.{payload}."
    if kind == 6:
        return token.replace("-", "+").replace("_", "/")
    return ".".join(part + "=" * (-len(part) % 4) for part in token.split("."))  # padded: not strict base64url


def _structured(fdp: Any, by_hand: bool, raw_parts: bool) -> tuple[str, str, Settings, bool]:
    settings = fdp.PickValueInList(list(SETTINGS))
    path = fdp.PickValueInList(list(PATHS))
    rule = settings.rule_for(path)
    allowed = sorted(settings.keys_for(rule))
    built = Built()
    header, key = _header(fdp, built, allowed)
    payload = _payload(fdp, built, path, rule, settings.jwt_leeway)
    if raw_parts:  # the header's or the payload's bytes themselves from the fuzzer, still signed
        built.valid = False
        header_json = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200)) if fdp.ConsumeBool() else _dumps(header)
        payload_json = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 400)) if fdp.ConsumeBool() else _dumps(payload)
        token = _sign(header_json, payload_json, key)
    elif by_hand or "alg" not in header or header.get("alg") not in ("HS256", "HS384", "HS512"):
        token = _sign(_dumps(header), _dumps(payload), key)
    else:
        try:
            token = jwt.encode(payload, key, algorithm="HS256", headers=header)
        except (jwt.PyJWTError, RecursionError, ValueError):  # a kid that is not a string, JSON too deep
            built.valid = False
            token = _sign(_dumps(header), _dumps(payload), key)
        if header.get("alg") != "HS256":
            built.valid = False
    token = _damage(fdp, built, token)
    if len(token.encode("utf-8")) > settings.max_token_bytes:
        built.valid = False
    if _has_lone_surrogate(header) or _has_lone_surrogate(payload):
        built.valid = False  # refused as a malformed token: no real text holds a lone surrogate
    return token, path, settings, built.valid


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (RecursionError, ValueError):
        return False
    return False


def _dumps(value: Any) -> bytes:
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (RecursionError, ValueError):  # too deep, or an int too long to print: just "too deep"
        return b"[" * 3000 + b"]" * 3000
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate travels only as its \u escape
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def check(token: str, path: str, settings: Settings, now: float, must_verify: bool) -> Claims | None:
    """Verify, and hold the outcome to the oracle."""
    rule = settings.rule_for(path)
    try:
        claims = verify_token(token, path, rule, settings, now)
    except AuthError as exc:
        assert exc.reason in REASONS, f"unknown AuthError reason {exc.reason!r}"
        assert not must_verify, f"a valid token was refused ({exc.reason}): {token!r} for {path}"
        return None
    _check_accepted(token, path, rule, settings, now, claims)
    return claims


def _check_accepted(token: str, path: str, rule: Rule, settings: Settings, now: float, claims: Claims) -> None:
    assert isinstance(claims, Claims), type(claims)
    allowed = settings.keys_for(rule)
    assert len(token.encode("utf-8")) <= settings.max_token_bytes, "an oversized token was accepted"
    head, body, signature = token.split(".")
    header, payload = json.loads(_unb64url(head)), json.loads(_unb64url(body))
    assert not _has_lone_surrogate(header) and not _has_lone_surrogate(payload), "a lone surrogate was accepted"
    signed = f"{head}.{body}".encode("ascii")
    matching = [
        kid
        for kid, secret in allowed.items()
        if hmac.compare_digest(hmac.new(secret, signed, hashlib.sha256).digest(), _unb64url(signature))
    ]
    assert matching, "accepted without a valid HS256 signature by a key the rule allows"
    assert claims.key_id in matching, (claims.key_id, matching)
    assert header.get("alg") == "HS256", header
    assert not any(name in header for name in FORBIDDEN_HEADERS), header
    if "kid" in header:
        assert header["kid"] == claims.key_id, (header, claims.key_id)
    leeway = settings.jwt_leeway
    exp = payload.get("exp")
    assert isinstance(exp, int | float) and not isinstance(exp, bool) and math.isfinite(exp), exp
    assert exp > now - leeway and claims.expires_at == float(exp), (exp, claims.expires_at)
    if rule.max_token_lifetime is not None:
        assert exp - now <= rule.max_token_lifetime, (exp, rule)
    for claim in ("nbf", "iat"):
        if claim in payload:
            value = payload[claim]
            assert isinstance(value, int | float) and not isinstance(value, bool), (claim, value)
            assert math.isfinite(value) and value <= now + leeway, (claim, value)
    if "aud" in payload:
        assert claims.audience is not None and any(path.startswith(prefix) for prefix in claims.audience)
        assert all(isinstance(a, str) and a.startswith("/") for a in claims.audience), claims.audience
    else:
        assert claims.audience is None, claims.audience
    for value in claims.args.values():
        assert isinstance(value, str | int | float | bool), value
        assert not isinstance(value, float) or math.isfinite(value), value
    if "use" in payload:
        assert payload["use"] == "once" and _one_time_id(payload.get("jti")), payload
        assert claims.once and claims.jti == payload["jti"], (claims, payload)
    else:
        assert not claims.once and claims.jti is None, claims


def TestOneInput(data: bytes) -> None:  # noqa: N802 (libFuzzer's name)
    if not data:
        return
    MODES[data[0] % len(MODES)](data[1:])


def _mode_raw(rest: bytes) -> None:
    """The token text as sent (the query parser hands over UTF-8 text, so invalid bytes are replaced)."""
    check(rest.decode("utf-8", errors="replace"), PATH, SETTINGS[0], NOW, must_verify=False)


def _mode_encoded(rest: bytes) -> None:
    assert FuzzedDataProvider is not None
    fdp = FuzzedDataProvider(rest)
    token, path, settings, valid = _structured(fdp, by_hand=False, raw_parts=False)
    check(token, path, settings, NOW, must_verify=valid)


def _mode_by_hand(rest: bytes) -> None:
    assert FuzzedDataProvider is not None
    fdp = FuzzedDataProvider(rest)
    token, path, settings, valid = _structured(fdp, by_hand=True, raw_parts=False)
    check(token, path, settings, NOW, must_verify=valid)


def _mode_raw_parts(rest: bytes) -> None:
    assert FuzzedDataProvider is not None
    fdp = FuzzedDataProvider(rest)
    token, path, settings, _ = _structured(fdp, by_hand=True, raw_parts=True)
    check(token, path, settings, NOW, must_verify=False)


# "0" (48) → raw text, "1" → jwt.encode, "2" → by hand, "3" → by hand from raw header/payload bytes
MODES = (_mode_raw, _mode_encoded, _mode_by_hand, _mode_raw_parts)


def main() -> None:
    import warnings

    warnings.simplefilter("error")  # as in the test suite: a warning escaping the target is a failure
    assert atheris is not None, "pip install atheris"
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
