"""``origin.auth.verify_token`` against SPEC §2-§3, row by row.

Every token here is minted with raw ``jwt.encode`` or by hand (base64url + HMAC-SHA256 from the
standard library), never with ``origin.signing``, so a bug shared by the project's signer and its
verifier cannot hide (STYLE §6 rule 15). ``TOKEN_CASES`` is reused by ``test_auth_http.py``, which
sends the same tokens through the app and checks the status and ``X-Auth-Result``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from origin.auth import Claims, verify_token
from origin.errors import AuthError
from origin.settings import PublicKey, Rule, Settings
from tests.tokens import (
    ALGORITHM,
    AUDIENCE,
    EXPIRED,
    INVALID_PAYLOAD,
    LIFETIME,
    MALFORMED,
    NOT_YET_VALID,
    REASONS,
    SIGNATURE,
    UNKNOWN_KEY,
    b64url,
    b64url_decode,
    json_part,
)

# --- keys and rules ---------------------------------------------------------------------------
# 64-byte secrets: long enough for HS512 too, so PyJWT never warns (warnings are errors here).
MAIN = (b"main-secret-" * 6)[:64]
NEXT = (b"next-secret-" * 6)[:64]
KEY_A = (b"key-a-secret-" * 5)[:64]
KEY_B = (b"key-b-secret-" * 5)[:64]
WRONG = (b"not-a-configured-secret-" * 3)[:64]

KEYS = {"main": MAIN, "next": NEXT, "a": KEY_A, "b": KEY_B}
RULES = (
    Rule(prefix="/", protect=True, keys=("main", "next")),
    Rule(prefix="/public/", protect=False),
    Rule(prefix="/public/private/", protect=True),
    Rule(prefix="/only-a/", protect=True, keys=("a",)),
    Rule(prefix="/limited/", protect=True, max_token_lifetime=600),
    Rule(prefix="/pk/", protect=True, keys=("rsa", "ec", "ed")),  # public keys only
    Rule(prefix="/pk-rsa/", protect=True, keys=("rsa",)),  # one public key only
    Rule(prefix="/mixed/", protect=True, keys=("main", "rsa")),  # a secret and a public key
)

# Public keys: kid -> (alg, private key). "other-*" keys are configured nowhere (an attacker's own).
Private = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PUBLIC_ALGS = {"rsa": "RS256", "ec": "ES256", "ed": "EdDSA"}


@functools.cache
def private_key(name: str) -> Private:
    """One key per name for the whole session: ``rsa``/``other-rsa`` (2048), ``ec``/``other-ec``
    (P-256), ``ec384`` (P-384), ``ed``/``other-ed`` (Ed25519)."""
    kind = name.removeprefix("other-")
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    assert kind == "ed", name
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(name: str) -> bytes:
    return private_key(name).public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def public_keys() -> dict[str, PublicKey]:
    return {kid: PublicKey(alg=alg, key=private_key(kid).public_key()) for kid, alg in PUBLIC_ALGS.items()}


def make_settings(root: Path, **overrides: Any) -> Settings:
    return Settings(
        root=root, keys=dict(KEYS), public_keys=public_keys(), rules=RULES, render_concurrency=2, **overrides
    )


def rule_named(prefix: str) -> Rule:
    return next(rule for rule in RULES if rule.prefix == prefix)


def expected_rule(path: str) -> Rule:
    """The longest matching prefix of ``RULES`` (SPEC §2), computed here, not by the code under test."""
    return max((rule for rule in RULES if path.startswith(rule.prefix)), key=lambda rule: len(rule.prefix))


# --- minting without the project's signer ----------------------------------------------------


def sign_parts(head: str, body: str, key: bytes = MAIN, *, signature: str | None = None) -> str:
    """``head.body.signature`` from two ready-made parts, HMAC-SHA256 from the stdlib unless given."""
    signing_input = f"{head}.{body}"
    if signature is None:
        signature = b64url(hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest())
    return f"{signing_input}.{signature}"


def hand(header: Any, payload: Any, key: bytes = MAIN, *, signature: str | None = None) -> str:
    """A token built by hand: base64url parts and an HMAC-SHA256 signature from the stdlib."""
    return sign_parts(json_part(header), json_part(payload), key, signature=signature)


def raw(
    payload: dict[str, Any], key: bytes = MAIN, *, algorithm: str = "HS256", headers: dict[str, Any] | None = None
) -> str:
    """A token built with raw PyJWT (header ``{"alg": ..., "typ": "JWT"}`` plus ``headers``)."""
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def pk(name: str, payload: dict[str, Any], *, algorithm: str | None = None, kid: str | None = None) -> str:
    """A token signed by the private key ``name`` with raw PyJWT (its own algorithm unless given)."""
    alg = algorithm or PUBLIC_ALGS[name.removeprefix("other-")]
    return jwt.encode(payload, private_key(name), algorithm=alg, headers={"kid": kid} if kid is not None else None)


def flip_signature_byte(token: str) -> str:
    head, body, signature = token.split(".")
    data = bytearray(b64url_decode(signature))
    data[len(data) // 2] ^= 0x01
    return f"{head}.{body}.{b64url(bytes(data))}"


def truncate_signature(token: str) -> str:
    """The same token with the last 3 signature bytes cut (still canonical base64url)."""
    head, body, signature = token.split(".")
    return f"{head}.{body}.{b64url(b64url_decode(signature)[:-3])}"


def unverified_payload(token: str) -> dict[str, Any]:
    """The payload as the test wrote it (stdlib only)."""
    value = json.loads(b64url_decode(token.split(".")[1]))
    assert isinstance(value, dict)
    return value


HS256 = {"alg": "HS256", "typ": "JWT"}


def rs256(n: int) -> str:
    """A real RS256 token, signed with a key configured nowhere."""
    return pk("other-rsa", {"exp": n + 300})


def token_of_length(length: int, n: int) -> str:
    """A valid token (aud ``/``) exactly ``length`` bytes long, padded with an unused claim."""
    for header in ({"alg": "HS256"}, {"alg": "HS256", "typ": "JWT"}, {"typ": "JWT", "alg": "HS256"}):
        for pad in range(length):
            token = hand(header, {"exp": n + 300, "aud": "/", "pad": "x" * pad})
            if len(token) == length:
                return token
            if len(token) > length:
                break
    raise AssertionError(f"no token of exactly {length} bytes")


def nested_header(depth: int) -> str:
    return '{"alg":"HS256","typ":"JWT","x":' + "[" * depth + "]" * depth + "}"


# --- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenCase:
    """``mint(n)`` builds the token at whole second ``n`` (the verifier's ``now``)."""

    mint: Callable[[int], str]
    reason: str | None  # None: accepted
    path: str = "/photo.jpg"
    settings: dict[str, Any] | None = None  # Settings overrides (unit tests only)


def case(id: str, mint: Callable[[int], str], reason: str | None, path: str = "/photo.jpg") -> Any:
    return pytest.param(TokenCase(mint, reason, path), id=id)


TOKEN_CASES = [
    # accepted: the baseline, so that every rejection below has exactly one defect
    case("ok-raw-jwt-encode", lambda n: raw({"exp": n + 300}), None),
    case("ok-hand-built", lambda n: hand(HS256, {"exp": n + 300}), None),
    case("ok-hand-built-header-without-typ", lambda n: hand({"alg": "HS256"}, {"exp": n + 300}), None),
    case("ok-kid-main", lambda n: raw({"exp": n + 300}, headers={"kid": "main"}), None),
    case("ok-exp-float", lambda n: hand(HS256, f'{{"exp": {n + 300}.5}}'), None),
    case("ok-aud-path-itself", lambda n: raw({"exp": n + 300, "aud": "/photo.jpg"}), None),
    # malformed token: shape, base64url, JSON, size
    case("malformed-two-parts", lambda n: hand(HS256, {"exp": n + 300}).rsplit(".", 1)[0], MALFORMED),
    case("malformed-four-parts", lambda n: hand(HS256, {"exp": n + 300}) + "." + b64url(b"more"), MALFORMED),
    case("malformed-one-part", lambda n: json_part(HS256), MALFORMED),
    case("malformed-empty-header-part", lambda n: "." + hand(HS256, {"exp": n + 300}).split(".", 1)[1], MALFORMED),
    case("malformed-empty-payload-part", lambda n: sign_parts(json_part(HS256), ""), MALFORMED),
    case(
        "malformed-non-base64url-char-in-payload",
        lambda n: (lambda t: t.replace(".", ".$", 1))(hand(HS256, {"exp": n + 300})),
        MALFORMED,
    ),
    case("malformed-non-base64url-char-in-header", lambda n: "*" + hand(HS256, {"exp": n + 300}), MALFORMED),
    case("malformed-header-not-json", lambda n: hand("not json", {"exp": n + 300}), MALFORMED),
    case("malformed-header-json-list", lambda n: hand('["HS256"]', {"exp": n + 300}), MALFORMED),
    case("malformed-payload-not-json", lambda n: hand(HS256, "exp=" + str(n + 300)), MALFORMED),
    case("malformed-payload-json-list", lambda n: hand(HS256, [{"exp": n + 300}]), MALFORMED),
    case("malformed-payload-json-string", lambda n: hand(HS256, '"exp"'), MALFORMED),
    case(
        "malformed-payload-not-utf8",
        lambda n: sign_parts(json_part(HS256), b64url(b'{"exp": %d, "x": "\xff"}' % (n + 300))),
        MALFORMED,
    ),
    case("malformed-semicolon-appended", lambda n: hand(HS256, {"exp": n + 300}) + ";", MALFORMED),
    case(
        "malformed-over-max-token-bytes",
        lambda n: hand(HS256, {"exp": n + 300, "aud": "/", "pad": "x" * 4000}),
        MALFORMED,
    ),
    case("ok-exactly-max-token-bytes", lambda n: token_of_length(4096, n), None),
    case("malformed-one-byte-over-max-token-bytes", lambda n: token_of_length(4097, n), MALFORMED),
    case("malformed-deeply-nested-header-3000-brackets", lambda n: hand("[" * 3000, {"exp": n + 300}), MALFORMED),
    # algorithm not allowed
    case("alg-none-lower", lambda n: hand({"alg": "none", "typ": "JWT"}, {"exp": n + 300}, signature=""), ALGORITHM),
    case(
        "alg-None-capitalised", lambda n: hand({"alg": "None", "typ": "JWT"}, {"exp": n + 300}, signature=""), ALGORITHM
    ),
    case("alg-NONE-upper", lambda n: hand({"alg": "NONE", "typ": "JWT"}, {"exp": n + 300}, signature=""), ALGORITHM),
    case("alg-none-with-hmac-signature", lambda n: hand({"alg": "none"}, {"exp": n + 300}), ALGORITHM),
    case("alg-missing", lambda n: hand({"typ": "JWT"}, {"exp": n + 300}), ALGORITHM),
    case("alg-null", lambda n: hand({"alg": None, "typ": "JWT"}, {"exp": n + 300}), ALGORITHM),
    case("alg-hs256-lower-case", lambda n: hand({"alg": "hs256", "typ": "JWT"}, {"exp": n + 300}), ALGORITHM),
    case("alg-HS384-right-key", lambda n: raw({"exp": n + 300}, algorithm="HS384"), ALGORITHM),
    case("alg-HS512-right-key", lambda n: raw({"exp": n + 300}, algorithm="HS512"), ALGORITHM),
    case("alg-RS256", rs256, ALGORITHM),
    case("alg-ES256-by-hand", lambda n: hand({"alg": "ES256", "typ": "JWT"}, {"exp": n + 300}), ALGORITHM),
    # headers that must never be honoured
    case("header-crit", lambda n: raw({"exp": n + 300}, headers={"crit": ["exp"], "exp": n + 300}), MALFORMED),
    case("header-crit-b64", lambda n: raw({"exp": n + 300}, headers={"crit": ["b64"], "b64": True}), MALFORMED),
    case("header-jku", lambda n: raw({"exp": n + 300}, headers={"jku": "http://127.0.0.1:9/jwks.json"}), MALFORMED),
    case("header-x5u", lambda n: raw({"exp": n + 300}, headers={"x5u": "http://127.0.0.1:9/cert.pem"}), MALFORMED),
    case(
        "header-jwk",
        lambda n: raw({"exp": n + 300}, WRONG, headers={"jwk": {"kty": "oct", "k": b64url(WRONG)}}),
        MALFORMED,
    ),
    # unknown key
    case("kid-unknown", lambda n: raw({"exp": n + 300}, headers={"kid": "nope"}), UNKNOWN_KEY),
    case("kid-empty-string", lambda n: hand({"alg": "HS256", "kid": ""}, {"exp": n + 300}), UNKNOWN_KEY),
    case("kid-number", lambda n: hand({"alg": "HS256", "typ": "JWT", "kid": 1}, {"exp": n + 300}), UNKNOWN_KEY),
    case("kid-null", lambda n: hand({"alg": "HS256", "typ": "JWT", "kid": None}, {"exp": n + 300}), UNKNOWN_KEY),
    case(
        "kid-of-key-not-allowed-for-rule",
        lambda n: raw({"exp": n + 300}, KEY_B, headers={"kid": "b"}),
        UNKNOWN_KEY,
        "/only-a/pic.jpg",
    ),
    case(
        "kid-of-key-allowed-elsewhere-only",
        lambda n: raw({"exp": n + 300}, KEY_A, headers={"kid": "a"}),
        UNKNOWN_KEY,
        "/photo.jpg",
    ),
    case(
        "ok-rule-key-with-its-kid",
        lambda n: raw({"exp": n + 300}, KEY_A, headers={"kid": "a"}),
        None,
        "/only-a/pic.jpg",
    ),
    case("ok-rule-key-without-kid", lambda n: raw({"exp": n + 300}, KEY_A), None, "/only-a/pic.jpg"),
    # signature mismatch
    case("signature-wrong-secret", lambda n: raw({"exp": n + 300}, WRONG), SIGNATURE),
    case("signature-flipped-byte", lambda n: flip_signature_byte(raw({"exp": n + 300})), SIGNATURE),
    case("signature-empty-hs256", lambda n: raw({"exp": n + 300}).rsplit(".", 1)[0] + ".", SIGNATURE),
    case("signature-truncated", lambda n: truncate_signature(raw({"exp": n + 300})), SIGNATURE),
    case(
        "signature-tampered-payload",
        lambda n: (lambda a, b: f"{a.split('.')[0]}.{b.split('.')[1]}.{a.split('.')[2]}")(
            raw({"exp": n + 300, "aud": "/other/"}), raw({"exp": n + 300, "aud": "/"})
        ),
        SIGNATURE,
    ),
    case(
        "signature-key-of-other-rule-without-kid", lambda n: raw({"exp": n + 300}, KEY_B), SIGNATURE, "/only-a/pic.jpg"
    ),
    # rotation: both keys allowed on "/"
    case("rotation-ok-no-kid-signed-with-second-key", lambda n: raw({"exp": n + 300}, NEXT), None),
    case("rotation-ok-kid-next-signed-with-next", lambda n: raw({"exp": n + 300}, NEXT, headers={"kid": "next"}), None),
    case(
        "rotation-kid-main-signed-with-next", lambda n: raw({"exp": n + 300}, NEXT, headers={"kid": "main"}), SIGNATURE
    ),
    case(
        "rotation-kid-next-signed-with-main", lambda n: raw({"exp": n + 300}, MAIN, headers={"kid": "next"}), SIGNATURE
    ),
    # exp: present, a finite number
    case("exp-missing", lambda n: raw({"aud": "/"}), INVALID_PAYLOAD),
    case("exp-null", lambda n: hand(HS256, {"exp": None}), INVALID_PAYLOAD),
    case("exp-string", lambda n: hand(HS256, {"exp": "9999999999"}), INVALID_PAYLOAD),
    case("exp-true", lambda n: hand(HS256, '{"exp": true}'), INVALID_PAYLOAD),
    case("exp-false", lambda n: hand(HS256, '{"exp": false}'), INVALID_PAYLOAD),
    case("exp-array", lambda n: hand(HS256, {"exp": [n + 300]}), INVALID_PAYLOAD),
    case("exp-object", lambda n: hand(HS256, {"exp": {"at": n + 300}}), INVALID_PAYLOAD),
    case("exp-NaN-by-hand", lambda n: hand(HS256, '{"exp": NaN}'), INVALID_PAYLOAD),
    case("exp-1e400-by-hand", lambda n: hand(HS256, '{"exp": 1e400}'), INVALID_PAYLOAD),
    case("exp-minus-1e400-by-hand", lambda n: hand(HS256, '{"exp": -1e400}'), INVALID_PAYLOAD),
    # time
    case("exp-60s-past", lambda n: raw({"exp": n - 60}), EXPIRED),
    case("exp-10s-past-beyond-leeway", lambda n: hand(HS256, {"exp": n - 10}), EXPIRED),
    case("ok-exp-3s-past-within-leeway", lambda n: raw({"exp": n - 3}), None),
    case("nbf-60s-future", lambda n: raw({"exp": n + 300, "nbf": n + 60}), NOT_YET_VALID),
    case("iat-60s-future", lambda n: raw({"exp": n + 300, "iat": n + 60}), NOT_YET_VALID),
    case("ok-nbf-3s-future-within-leeway", lambda n: raw({"exp": n + 300, "nbf": n + 3}), None),
    case("ok-iat-3s-future-within-leeway", lambda n: raw({"exp": n + 300, "iat": n + 3}), None),
    case("ok-nbf-and-iat-past", lambda n: raw({"exp": n + 300, "nbf": n - 60, "iat": n - 60}), None),
    # aud: type
    case("aud-number", lambda n: raw({"exp": n + 300, "aud": 5}), INVALID_PAYLOAD),
    case("aud-empty-list", lambda n: raw({"exp": n + 300, "aud": []}), INVALID_PAYLOAD),
    case("aud-list-relative", lambda n: raw({"exp": n + 300, "aud": ["relative"]}), INVALID_PAYLOAD),
    case("aud-string-relative", lambda n: raw({"exp": n + 300, "aud": "relative"}), INVALID_PAYLOAD),
    case("aud-null", lambda n: raw({"exp": n + 300, "aud": None}), INVALID_PAYLOAD),
    case("aud-object", lambda n: raw({"exp": n + 300, "aud": {"/": True}}), INVALID_PAYLOAD),
    case("aud-list-with-a-number", lambda n: raw({"exp": n + 300, "aud": ["/", 5]}), INVALID_PAYLOAD),
    # aud: masks (plain string prefixes of the canonical path)
    case("ok-aud-root-any-file", lambda n: raw({"exp": n + 300, "aud": "/"}), None, "/path/to/x.jpg"),
    case("ok-aud-path-t-folder-to", lambda n: raw({"exp": n + 300, "aud": "/path/t"}), None, "/path/to/x.jpg"),
    case("ok-aud-path-t-file-tx", lambda n: raw({"exp": n + 300, "aud": "/path/t"}), None, "/path/tx.jpg"),
    case("aud-path-t-other-file", lambda n: raw({"exp": n + 300, "aud": "/path/t"}), AUDIENCE, "/path/x.jpg"),
    case("ok-aud-folder-file-in-it", lambda n: raw({"exp": n + 300, "aud": "/path/to/"}), None, "/path/to/x.jpg"),
    case("ok-aud-folder-subfolder", lambda n: raw({"exp": n + 300, "aud": "/path/to/"}), None, "/path/to/sub/y.jpg"),
    case("aud-folder-not-tox", lambda n: raw({"exp": n + 300, "aud": "/path/to/"}), AUDIENCE, "/path/tox.jpg"),
    case("aud-folder-not-parent", lambda n: raw({"exp": n + 300, "aud": "/path/to/"}), AUDIENCE, "/path/x.jpg"),
    case("ok-aud-file-itself", lambda n: raw({"exp": n + 300, "aud": "/path/to/file.jpg"}), None, "/path/to/file.jpg"),
    case(
        "aud-file-not-sibling", lambda n: raw({"exp": n + 300, "aud": "/path/to/file.jpg"}), AUDIENCE, "/path/to/x.jpg"
    ),
    case(
        "aud-file-not-other-extension",
        lambda n: raw({"exp": n + 300, "aud": "/path/to/file.jpg"}),
        AUDIENCE,
        "/path/to/file.png",
    ),
    case("aud-case-sensitive", lambda n: raw({"exp": n + 300, "aud": "/Path/to/"}), AUDIENCE, "/path/to/x.jpg"),
    case("aud-other-file", lambda n: raw({"exp": n + 300, "aud": "/other.jpg"}), AUDIENCE),
    case(
        "ok-aud-list-one-matches",
        lambda n: raw({"exp": n + 300, "aud": ["/other/", "/path/to/"]}),
        None,
        "/path/to/x.jpg",
    ),
    case(
        "aud-list-none-matches",
        lambda n: raw({"exp": n + 300, "aud": ["/other/", "/path/tox"]}),
        AUDIENCE,
        "/path/to/x.jpg",
    ),
    case("ok-aud-unicode-folder", lambda n: raw({"exp": n + 300, "aud": "/café/"}), None, "/café/x.jpg"),
    # lifetime (rule /limited/ has max_token_lifetime = 600)
    case("lifetime-3600-over-600", lambda n: raw({"exp": n + 3600}), LIFETIME, "/limited/pic.jpg"),
    case("lifetime-601-over-600", lambda n: raw({"exp": n + 601}), LIFETIME, "/limited/pic.jpg"),
    case("ok-lifetime-exactly-600", lambda n: raw({"exp": n + 600}), None, "/limited/pic.jpg"),
    case("ok-lifetime-300", lambda n: raw({"exp": n + 300}), None, "/limited/pic.jpg"),
    case("ok-lifetime-unlimited-rule", lambda n: raw({"exp": n + 30 * 86400}), None, "/photo.jpg"),
    # args: an object of strings, numbers and booleans
    case("args-list", lambda n: raw({"exp": n + 300, "args": ["w", 300]}), INVALID_PAYLOAD),
    case("args-string", lambda n: raw({"exp": n + 300, "args": "w=300"}), INVALID_PAYLOAD),
    case("args-null", lambda n: raw({"exp": n + 300, "args": None}), INVALID_PAYLOAD),
    case("args-nested-object", lambda n: raw({"exp": n + 300, "args": {"w": {"value": 300}}}), INVALID_PAYLOAD),
    case("args-null-value", lambda n: raw({"exp": n + 300, "args": {"w": None}}), INVALID_PAYLOAD),
    case("args-list-value", lambda n: raw({"exp": n + 300, "args": {"w": [300]}}), INVALID_PAYLOAD),
    case(
        "ok-args-scalars",
        lambda n: raw(
            {"exp": n + 300, "args": {"w": 300, "h": 200.0, "q": 80, "format": "png", "flip": True, "flop": False}}
        ),
        None,
    ),
    case("ok-args-empty-object", lambda n: raw({"exp": n + 300, "args": {}}), None),
    # public keys: the key decides the algorithm, the header only picks among the rule's keys
    *[
        case(f"ok-{alg}-{'kid' if with_kid else 'no-kid'}", mint, None, "/pk/pic.jpg")
        for kid, alg in PUBLIC_ALGS.items()
        for with_kid in (True, False)
        for mint in [
            (lambda kid, with_kid: lambda n: pk(kid, {"exp": n + 300}, kid=kid if with_kid else None))(kid, with_kid)
        ]
    ],
    case("ok-rs256-on-a-mixed-rule", lambda n: pk("rsa", {"exp": n + 300}), None, "/mixed/pic.jpg"),
    case("ok-hs256-on-a-mixed-rule", lambda n: raw({"exp": n + 300}), None, "/mixed/pic.jpg"),
    case("ok-rs256-rule-without-key-list", lambda n: pk("rsa", {"exp": n + 300}), None, "/limited/pic.jpg"),
    case(
        "ok-es256-aud-and-args",
        lambda n: pk("ec", {"exp": n + 300, "aud": "/pk/", "args": {"w": 40}}),
        None,
        "/pk/a.jpg",
    ),
    case("pk-wrong-alg-for-kid", lambda n: pk("ec", {"exp": n + 300}, kid="rsa"), ALGORITHM, "/pk/pic.jpg"),
    case("pk-eddsa-header-kid-ec", lambda n: pk("ed", {"exp": n + 300}, kid="ec"), ALGORITHM, "/pk/pic.jpg"),
    case(
        "pk-hs256-with-kid-of-public-key",
        lambda n: raw({"exp": n + 300}, headers={"kid": "rsa"}),
        ALGORITHM,
        "/mixed/pic.jpg",
    ),
    case("pk-rs256-with-kid-of-secret", lambda n: pk("rsa", {"exp": n + 300}, kid="main"), ALGORITHM, "/mixed/pic.jpg"),
    case(
        "pk-alg-of-a-key-not-allowed-for-the-rule", lambda n: pk("ec", {"exp": n + 300}), ALGORITHM, "/pk-rsa/pic.jpg"
    ),
    case(
        "pk-alg-and-kid-of-a-key-not-allowed",
        lambda n: pk("ec", {"exp": n + 300}, kid="ec"),
        ALGORITHM,
        "/pk-rsa/pic.jpg",
    ),
    case(
        "pk-kid-not-allowed-for-the-rule",
        lambda n: pk("rsa", {"exp": n + 300}, kid="ec"),
        UNKNOWN_KEY,
        "/pk-rsa/pic.jpg",
    ),
    case("pk-kid-unknown", lambda n: pk("rsa", {"exp": n + 300}, kid="nope"), UNKNOWN_KEY, "/pk/pic.jpg"),
    case("pk-rs256-on-an-hs-only-rule", lambda n: pk("rsa", {"exp": n + 300}), ALGORITHM, "/only-a/pic.jpg"),
    case("pk-rs256-kid-on-an-hs-only-rule", lambda n: pk("rsa", {"exp": n + 300}, kid="rsa"), ALGORITHM, "/photo.jpg"),
    case("pk-hs256-on-a-public-key-rule", lambda n: raw({"exp": n + 300}), ALGORITHM, "/pk/pic.jpg"),
    case("pk-ps256-rsa-key", lambda n: pk("rsa", {"exp": n + 300}, algorithm="PS256"), ALGORITHM, "/pk/pic.jpg"),
    case("pk-rs384-rsa-key", lambda n: pk("rsa", {"exp": n + 300}, algorithm="RS384"), ALGORITHM, "/pk/pic.jpg"),
    case("pk-rs512-rsa-key", lambda n: pk("rsa", {"exp": n + 300}, algorithm="RS512"), ALGORITHM, "/pk/pic.jpg"),
    case("pk-es384-p384-key", lambda n: pk("ec384", {"exp": n + 300}, algorithm="ES384"), ALGORITHM, "/pk/pic.jpg"),
    case(
        "pk-es384-kid-ec",
        lambda n: pk("ec384", {"exp": n + 300}, algorithm="ES384", kid="ec"),
        ALGORITHM,
        "/pk/pic.jpg",
    ),
    case("pk-alg-none", lambda n: hand({"alg": "none"}, {"exp": n + 300}, signature=""), ALGORITHM, "/pk/pic.jpg"),
    case("pk-alg-rs256-lower-case", lambda n: hand({"alg": "rs256"}, {"exp": n + 300}), ALGORITHM, "/pk/pic.jpg"),
    case("pk-alg-eddsa-spelt-ed25519", lambda n: hand({"alg": "Ed25519"}, {"exp": n + 300}), ALGORITHM, "/pk/pic.jpg"),
    # the HMAC/public-key confusion: the public key's PEM text as an HMAC secret
    case(
        "pk-confusion-pem-as-secret-public-only-rule",
        lambda n: hand(HS256, {"exp": n + 300}, public_pem("rsa")),
        ALGORITHM,
        "/pk-rsa/pic.jpg",
    ),
    case(
        "pk-confusion-pem-as-secret-mixed-rule",
        lambda n: hand(HS256, {"exp": n + 300}, public_pem("rsa")),
        SIGNATURE,
        "/mixed/pic.jpg",
    ),
    case(
        "pk-confusion-pem-as-secret-with-kid",
        lambda n: hand({**HS256, "kid": "rsa"}, {"exp": n + 300}, public_pem("rsa")),
        ALGORITHM,
        "/mixed/pic.jpg",
    ),
    case(
        "pk-confusion-rs256-header-hmac-with-pem",
        lambda n: hand({"alg": "RS256", "typ": "JWT"}, {"exp": n + 300}, public_pem("rsa")),
        SIGNATURE,
        "/mixed/pic.jpg",
    ),
    case(
        "pk-confusion-ec-pem-as-secret",
        lambda n: hand(HS256, {"exp": n + 300}, public_pem("ec")),
        ALGORITHM,
        "/pk/pic.jpg",
    ),
    # signed by keys of the right type that are configured nowhere
    case("pk-rs256-other-rsa-key", lambda n: pk("other-rsa", {"exp": n + 300}), SIGNATURE, "/pk/pic.jpg"),
    case(
        "pk-rs256-other-rsa-key-kid", lambda n: pk("other-rsa", {"exp": n + 300}, kid="rsa"), SIGNATURE, "/pk/pic.jpg"
    ),
    case("pk-es256-other-ec-key", lambda n: pk("other-ec", {"exp": n + 300}), SIGNATURE, "/pk/pic.jpg"),
    case("pk-eddsa-other-ed-key", lambda n: pk("other-ed", {"exp": n + 300}), SIGNATURE, "/pk/pic.jpg"),
    case("pk-rs256-flipped-byte", lambda n: flip_signature_byte(pk("rsa", {"exp": n + 300})), SIGNATURE, "/pk/pic.jpg"),
    case("pk-es256-truncated", lambda n: truncate_signature(pk("ec", {"exp": n + 300})), SIGNATURE, "/pk/pic.jpg"),
    case(
        "pk-eddsa-empty-signature",
        lambda n: pk("ed", {"exp": n + 300}).rsplit(".", 1)[0] + ".",
        SIGNATURE,
        "/pk/pic.jpg",
    ),
    case(
        "pk-rs256-tampered-payload",
        lambda n: (lambda a, b: f"{a.split('.')[0]}.{b.split('.')[1]}.{a.split('.')[2]}")(
            pk("rsa", {"exp": n + 300, "aud": "/other/"}), pk("rsa", {"exp": n + 300, "aud": "/"})
        ),
        SIGNATURE,
        "/pk/pic.jpg",
    ),
    # after the signature, the claims are checked as for any token
    case("pk-es256-expired", lambda n: pk("ec", {"exp": n - 60}), EXPIRED, "/pk/pic.jpg"),
    case("pk-eddsa-audience", lambda n: pk("ed", {"exp": n + 300, "aud": "/other/"}), AUDIENCE, "/pk/pic.jpg"),
    case("pk-rs256-lifetime", lambda n: pk("rsa", {"exp": n + 3600}), LIFETIME, "/limited/pic.jpg"),
    # a token shaped like Node jsonwebtoken's output for Sirv
    case(
        "ok-node-jsonwebtoken-sirv-shape",
        lambda n: raw({"args": {"w": 300}, "iat": n, "exp": n + 300, "aud": "/photo.jpg"}),
        None,
    ),
]


# One-time links: ``"use": "once"`` with a ``jti`` of 1..128 characters; any other ``use`` is refused.
ONCE_CASES = [
    pytest.param({}, False, None, None, id="no-use-not-once"),
    pytest.param({"jti": "abc"}, False, None, None, id="jti-without-use-not-once"),
    pytest.param({"use": "once", "jti": "abc"}, True, "abc", None, id="once-with-jti"),
    pytest.param({"use": "once", "jti": "j" * 128}, True, "j" * 128, None, id="once-jti-128-chars"),
    pytest.param({"use": "once", "jti": "é" * 128}, True, "é" * 128, None, id="once-jti-128-non-ascii-chars"),
    pytest.param({"use": "once", "jti": "j" * 129}, False, None, INVALID_PAYLOAD, id="once-jti-129-chars"),
    pytest.param({"use": "once"}, False, None, INVALID_PAYLOAD, id="once-without-jti"),
    pytest.param({"use": "once", "jti": ""}, False, None, INVALID_PAYLOAD, id="once-empty-jti"),
    pytest.param({"use": "once", "jti": 7}, False, None, INVALID_PAYLOAD, id="once-jti-number"),
    pytest.param({"use": "once", "jti": None}, False, None, INVALID_PAYLOAD, id="once-jti-null"),
    pytest.param({"use": "once", "jti": ["a"]}, False, None, INVALID_PAYLOAD, id="once-jti-list"),
    pytest.param({"use": "many", "jti": "abc"}, False, None, INVALID_PAYLOAD, id="use-many"),
    pytest.param({"use": "Once", "jti": "abc"}, False, None, INVALID_PAYLOAD, id="use-Once-capitalised"),
    pytest.param({"use": "", "jti": "abc"}, False, None, INVALID_PAYLOAD, id="use-empty"),
    pytest.param({"use": None, "jti": "abc"}, False, None, INVALID_PAYLOAD, id="use-null"),
    pytest.param({"use": True, "jti": "abc"}, False, None, INVALID_PAYLOAD, id="use-true"),
    pytest.param({"use": ["once"], "jti": "abc"}, False, None, INVALID_PAYLOAD, id="use-list"),
]


# --- unit tests ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Nothing in a token may make the verifier open a connection or resolve a name (SPEC §3)."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("network access during token verification")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts
    assert attempts == [], "token verification tried to use the network"


@pytest.fixture
def auth_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def verify(token: str, path: str, settings: Settings, now: float) -> Claims:
    return verify_token(token, path, expected_rule(path), settings, now)


def assert_reason(reason: str, token: str, path: str, settings: Settings, now: float) -> None:
    with pytest.raises(AuthError) as raised:
        verify(token, path, settings, now)
    assert raised.value.reason == reason


@pytest.mark.parametrize("token_case", TOKEN_CASES)
def test_verify_token(token_case: TokenCase, auth_settings: Settings) -> None:
    n = int(time.time())
    token = token_case.mint(n)
    if token_case.reason is not None:
        assert_reason(token_case.reason, token, token_case.path, auth_settings, float(n))
        return
    claims = verify(token, token_case.path, auth_settings, float(n))
    payload = unverified_payload(token)
    assert claims.expires_at == payload["exp"]
    expected_args = payload.get("args", {})
    assert dict(claims.args) == expected_args
    assert {name: type(value) for name, value in claims.args.items()} == {
        name: type(value) for name, value in expected_args.items()
    }


@pytest.mark.parametrize(("claims", "once", "jti", "reason"), ONCE_CASES)
@pytest.mark.parametrize("signer", ["hs256", "es256"])
def test_one_time_links(
    auth_settings: Settings, signer: str, claims: dict[str, Any], once: bool, jti: str | None, reason: str | None
) -> None:
    n = int(time.time())
    payload = {"exp": n + 300, **claims}
    token, path = (raw(payload), "/photo.jpg") if signer == "hs256" else (pk("ec", payload), "/pk/pic.jpg")
    if reason is not None:
        assert_reason(reason, token, path, auth_settings, float(n))
        return
    verified = verify(token, path, auth_settings, float(n))
    assert (verified.once, verified.jti) == (once, jti)
    assert verified.expires_at == n + 300


def test_claims_name_the_key_that_verified(auth_settings: Settings) -> None:
    n = int(time.time())
    assert verify(pk("ed", {"exp": n + 300}), "/pk/pic.jpg", auth_settings, float(n)).key_id == "ed"
    assert verify(pk("rsa", {"exp": n + 300}), "/mixed/pic.jpg", auth_settings, float(n)).key_id == "rsa"
    assert verify(raw({"exp": n + 300}), "/mixed/pic.jpg", auth_settings, float(n)).key_id == "main"


def test_claims_carry_args_of_strings_numbers_and_booleans(auth_settings: Settings) -> None:
    n = int(time.time())
    args = {"w": 300, "h": 200.5, "format": "webp", "text": "Hello, world", "grayscale": True, "flip": False}
    claims = verify(raw({"exp": n + 300, "args": args}), "/photo.jpg", auth_settings, float(n))
    assert dict(claims.args) == args
    assert claims.args["grayscale"] is True
    assert claims.args["flip"] is False
    assert isinstance(claims.args["w"], int) and not isinstance(claims.args["w"], bool)


def test_node_jsonwebtoken_token_for_sirv_is_accepted(auth_settings: Settings) -> None:
    n = int(time.time())
    token = raw({"args": {"w": 300}, "iat": n, "exp": n + 300, "aud": "/photo.jpg"})
    assert json.loads(b64url_decode(token.split(".")[0])) == {"alg": "HS256", "typ": "JWT"}
    claims = verify(token, "/photo.jpg", auth_settings, float(n))
    assert dict(claims.args) == {"w": 300}
    assert claims.expires_at == n + 300


@pytest.mark.parametrize(
    ("leeway", "exp_offset", "reason"),
    [
        pytest.param(0.0, -3, EXPIRED, id="leeway-0-exp-3s-past"),
        pytest.param(30.0, -20, None, id="leeway-30-exp-20s-past"),
        pytest.param(30.0, -60, EXPIRED, id="leeway-30-exp-60s-past"),
    ],
)
def test_leeway_setting(tmp_path: Path, leeway: float, exp_offset: int, reason: str | None) -> None:
    settings = make_settings(tmp_path, jwt_leeway=leeway)
    n = int(time.time())
    token = raw({"exp": n + exp_offset})
    if reason is None:
        assert verify(token, "/photo.jpg", settings, float(n)).expires_at == n + exp_offset
    else:
        assert_reason(reason, token, "/photo.jpg", settings, float(n))


@pytest.mark.parametrize(
    ("max_token_bytes", "extra", "reason"),
    [
        pytest.param(200, 10, None, id="small-limit-under"),
        pytest.param(200, 400, MALFORMED, id="small-limit-over"),
    ],
)
def test_max_token_bytes_setting(tmp_path: Path, max_token_bytes: int, extra: int, reason: str | None) -> None:
    settings = make_settings(tmp_path, max_token_bytes=max_token_bytes)
    n = int(time.time())
    token = raw({"exp": n + 300, "pad": "x" * extra})
    if reason is None:
        assert len(token) <= max_token_bytes
        verify(token, "/photo.jpg", settings, float(n))
    else:
        assert len(token) > max_token_bytes
        assert_reason(reason, token, "/photo.jpg", settings, float(n))


@pytest.mark.parametrize(
    "token_builder",
    [
        pytest.param(lambda n: hand(nested_header(3000), {"exp": n + 300}), id="header-nested-3000-closed"),
        pytest.param(lambda n: hand("[" * 3000, {"exp": n + 300}), id="header-3000-open-brackets"),
        pytest.param(lambda n: hand("{" * 3000, {"exp": n + 300}), id="header-3000-open-braces"),
        pytest.param(
            lambda n: hand(HS256, f'{{"exp": {n + 300}, "args": {{"w": {"[" * 3000 + "]" * 3000}}}}}'),
            id="payload-nested-3000-closed",
        ),
    ],
)
def test_deep_nesting_is_malformed_even_under_a_large_size_limit(
    tmp_path: Path, token_builder: Callable[[int], str]
) -> None:
    """The JSON parser's recursion limit must surface as a reason, not an exception (size check out of the way)."""
    settings = make_settings(tmp_path, max_token_bytes=1_000_000)
    n = int(time.time())
    assert_reason(MALFORMED, token_builder(n), "/photo.jpg", settings, float(n))


@pytest.mark.parametrize(
    ("exp_from_now", "now_shift", "reason"),
    [
        # The token is judged at the ``now`` the caller passes, not at the wall clock.
        pytest.param(300, -100_000, None, id="now-in-the-past-token-valid-then"),
        pytest.param(300, +100_000, EXPIRED, id="now-in-the-future-token-expired-then"),
    ],
)
def test_verify_token_judges_time_at_the_given_now(
    auth_settings: Settings, exp_from_now: int, now_shift: int, reason: str | None
) -> None:
    wall = int(time.time())
    now = wall + now_shift
    token = raw({"exp": wall + exp_from_now})
    if reason is None:
        assert verify(token, "/photo.jpg", auth_settings, float(now)).expires_at == wall + exp_from_now
    else:
        assert_reason(reason, token, "/photo.jpg", auth_settings, float(now))


# --- whatever the token holds: a reason, never another exception ---------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
_header_names = st.sampled_from(["kid", "typ", "cty", "crit", "b64", "jku", "x5u", "jwk", "x5c", "zip", "enc", "extra"])
_claim_names = st.sampled_from(["exp", "nbf", "iat", "aud", "args", "sub", "iss", "jti", "use", "extra"])


@hypothesis_settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header_extra=st.dictionaries(_header_names, _json_values, max_size=3),
    payload=st.dictionaries(_claim_names, _json_values, max_size=5),
    with_exp=st.booleans(),
)
def test_any_signed_content_gives_claims_or_a_reason(
    auth_settings: Settings, header_extra: dict[str, Any], payload: dict[str, Any], with_exp: bool
) -> None:
    n = int(time.time())
    if with_exp:
        payload = {**payload, "exp": n + 300}
    token = hand({"alg": "HS256", **header_extra}, payload)
    try:
        verify(token, "/photo.jpg", auth_settings, float(n))
    except AuthError as exc:
        assert exc.reason in REASONS


@hypothesis_settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_-]{0,40}(\.[A-Za-z0-9_-]{0,40}){0,4}", fullmatch=True))
def test_any_text_is_rejected_with_a_reason(auth_settings: Settings, token: str) -> None:
    n = int(time.time())
    with pytest.raises(AuthError) as raised:
        verify(token, "/photo.jpg", auth_settings, float(n))
    assert raised.value.reason in REASONS


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("digits", [16, 400])
def test_huge_integer_time_claims_are_an_invalid_payload_not_a_crash(
    auth_settings: Settings, claim: str, digits: int
) -> None:
    n = int(time.time())
    payload = {"exp": n + 300, claim: int("9" * digits)}
    assert_reason(INVALID_PAYLOAD, raw(payload), "/photo.jpg", auth_settings, float(n))
