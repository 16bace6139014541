"""Token attacks through HTTP (SPEC §1, §3, §6, §9): jwt_tool's attack modes and RFC 8725's list.

Every case is one request through ``TestClient`` (or, where httpx would rewrite the request target,
straight into the ASGI app) and asserts the exact status, ``X-Auth-Result``, a JSON error body and
``Cache-Control: no-store``; never a 500. Tokens are built by hand (base64url + HMAC from the
standard library) or with raw PyJWT and ``cryptography``, never with the project's signer.

During every request ``socket``'s connect calls, ``getaddrinfo`` and ``urllib.request.urlopen``
record and refuse: nothing in a token may make the origin open a connection (SPEC §3 ``jku``/
``x5u``/``jwk``: "nothing is ever fetched").

``tests/origin/test_auth.py`` holds the unit-level token table; the cases here are the attacks,
sent over HTTP against an app configured as in production (one rule ``/``, one key ``main``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import hashlib
import hmac
import io
import json
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes, unquote

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image
from starlette.applications import Starlette
from starlette.testclient import TestClient

import origin
from origin.settings import PublicKey
from tests.conftest import SECRET
from tests.tokens import (
    ALGORITHM,
    AUDIENCE,
    EXPIRED,
    INVALID_PAYLOAD,
    MALFORMED,
    MISSING,
    NOT_YET_VALID,
    REASONS,
    SIGNATURE,
    UNKNOWN_KEY,
    b64url,
    b64url_decode,
)
from tests.tokens import json_part as part

OK = "ok"
NO_HEADER = None  # the response carries no X-Auth-Result (answered before the token is looked at)


@functools.cache
def backend_key(alg: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    """The signing backend's private keys, whose public halves the "public-keys" apps configure."""
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


BACKEND_KIDS = {"RS256": "backend-rsa", "ES256": "backend-ec", "EdDSA": "backend-ed"}
BACKEND_PUBLIC_KEYS = {kid: PublicKey(alg=alg, key=backend_key(alg).public_key()) for alg, kid in BACKEND_KIDS.items()}

# The apps a case can ask for: production defaults; "long-urls" lifts only max_url_length (so
# max_token_bytes answers); "roomy" lifts both, so a huge token reaches the JSON parser;
# "public-keys" adds the backend's public keys beside the secret; "public-keys-only" has no secret.
APPS: dict[str, dict[str, Any]] = {
    "default": {},
    "long-urls": {"max_url_length": 4_000_000},
    "roomy": {"max_url_length": 4_000_000, "max_token_bytes": 2_000_000},
    "public-keys": {"public_keys": BACKEND_PUBLIC_KEYS},
    "public-keys-only": {"keys": {}, "public_keys": BACKEND_PUBLIC_KEYS},
}


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, never listened, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


CLOSED_PORT = _closed_port()
ATTACKER = f"http://127.0.0.1:{CLOSED_PORT}"


# --- building tokens by hand ---------------------------------------------------------------------


def signed(
    header: Any, payload: Any, key: bytes = SECRET, *, digest: str = "sha256", signature: str | None = None
) -> str:
    """``header.payload.signature``; the signature is HMAC-``digest`` with ``key`` unless given."""
    signing_input = f"{part(header)}.{part(payload)}"
    if signature is None:
        signature = b64url(hmac.new(key, signing_input.encode("ascii"), getattr(hashlib, digest)).digest())
    return f"{signing_input}.{signature}"


HS256 = {"alg": "HS256", "typ": "JWT"}


def good(n: int, **claims: Any) -> str:
    """A token the origin accepts: HS256 with the right key, ``exp`` five minutes ahead."""
    return signed(HS256, {"exp": n + 300, **claims})


def of_length(length: int, n: int) -> str:
    """A valid token exactly ``length`` bytes long (padded with an unused claim)."""
    for header in ({"alg": "HS256"}, HS256, {"typ": "JWT", "alg": "HS256"}):
        for pad in range(length):
            token = signed(header, {"exp": n + 300, "pad": "x" * pad})
            if len(token) == length:
                return token
            if len(token) > length:
                break
    raise AssertionError(f"no token of exactly {length} bytes")


def with_signature(token: str, signature: str) -> str:
    return token.rsplit(".", 1)[0] + "." + signature


def flip_last_signature_byte(token: str) -> str:
    data = bytearray(b64url_decode(token.rsplit(".", 1)[1]))
    data[-1] ^= 0x01
    return with_signature(token, b64url(bytes(data)))


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


@functools.cache
def self_signed_certificate() -> str:
    """A base64 DER certificate of the attacker's RSA key, as an ``x5c`` entry carries it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key().public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=36500))
        .sign(rsa_key(), hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")


def rs256(payload: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
    """A real RS256 token, signed with the attacker's own RSA key."""
    return jwt.encode(payload, rsa_key(), algorithm="RS256", headers=headers)


def es256(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, ec_key(), algorithm="ES256")


def attacker_jwk() -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key().public_key(), as_dict=True)
    assert isinstance(jwk, dict)
    return jwk


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- the requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    """One request: ``path?query`` as sent, extra headers, and which app answers it.

    ``raw`` sends the request target straight into the ASGI app, byte for byte: httpx removes
    ``.``/``..`` segments from a URL before it leaves the client, and refuses URLs over 64 KiB."""

    query: str
    path: str = "/photo.jpg"
    headers: tuple[tuple[str, str], ...] = ()
    raw: bool = False
    app: str = "default"  # a key of APPS


def q(token: str) -> str:
    return f"jwt={token}"


Build = Callable[[int], Req]


def attack(id: str, build: Build, status: int, reason: str | None) -> Any:
    """``build(n)`` makes the request at whole second ``n``; ``reason`` is the exact
    ``X-Auth-Result`` (``ok`` on a 200; ``NO_HEADER`` when the answer comes before the token)."""
    return pytest.param(build, status, reason, id=id)


def tok(
    token: Callable[[int], str], status: int, reason: str | None, id: str, *, app: str = "default", raw: bool = False
) -> Any:
    """The common shape: ``/photo.jpg?jwt=<token>``."""
    return attack(id, lambda n: Req(q(token(n)), app=app, raw=raw), status, reason)


def with_header(header: dict[str, Any], *, signature: str | None = None) -> Callable[[int], str]:
    """A token minter: ``header``, a valid payload, HMAC-SHA256 with the right key (or ``signature``)."""
    return lambda n: signed(header, {"exp": n + 300}, signature=signature)


ALGORITHM_CASES = [
    # alg none, every spelling jwt_tool tries, with an empty and with a real (HS256) signature
    *[
        tok(with_header({"alg": alg, "typ": "JWT"}, signature=""), 403, ALGORITHM, id)
        for alg, id in [("none", "alg-none"), ("None", "alg-None"), ("NONE", "alg-NONE"), ("nOnE", "alg-nOnE")]
    ],
    *[
        tok(with_header({"alg": alg, "typ": "JWT"}), 403, ALGORITHM, id)
        for alg, id in [
            ("none", "alg-none-real-signature"),
            ("None", "alg-None-real-signature"),
            ("NONE", "alg-NONE-real-signature"),
            ("nOnE", "alg-nOnE-real-signature"),
        ]
    ],
    tok(lambda n: signed({"typ": "JWT"}, {"exp": n + 300}), 403, ALGORITHM, "alg-missing"),
    tok(lambda n: signed({"typ": "JWT"}, {"exp": n + 300}, signature=""), 403, ALGORITHM, "alg-missing-no-signature"),
    tok(lambda n: signed({"alg": "", "typ": "JWT"}, {"exp": n + 300}), 403, ALGORITHM, "alg-empty-string"),
    tok(lambda n: signed({"alg": ["HS256"], "typ": "JWT"}, {"exp": n + 300}), 403, ALGORITHM, "alg-list"),
    # stronger HMACs with the right key are still not the one allowed algorithm
    tok(lambda n: signed({"alg": "HS384", "typ": "JWT"}, {"exp": n + 300}, digest="sha384"), 403, ALGORITHM, "hs384"),
    tok(lambda n: signed({"alg": "HS512", "typ": "JWT"}, {"exp": n + 300}, digest="sha512"), 403, ALGORITHM, "hs512"),
    # real asymmetric tokens (the attacker's own keys)
    tok(lambda n: rs256({"exp": n + 300}), 403, ALGORITHM, "rs256-real"),
    tok(lambda n: es256({"exp": n + 300}), 403, ALGORITHM, "es256-real"),
    # key confusion: a public key's PEM text used as an HMAC secret
    tok(lambda n: signed(HS256, {"exp": n + 300}, public_pem(rsa_key())), 403, SIGNATURE, "hs256-rsa-pem-as-secret"),
    tok(lambda n: signed(HS256, {"exp": n + 300}, public_pem(ec_key())), 403, SIGNATURE, "hs256-ec-pem-as-secret"),
    tok(
        lambda n: signed({"alg": "RS256", "typ": "JWT"}, {"exp": n + 300}, public_pem(rsa_key())),
        403,
        ALGORITHM,
        "rs256-header-hmac-with-rsa-pem",
    ),
    tok(
        lambda n: signed({"alg": "RS256", "typ": "JWT"}, {"exp": n + 300}),
        403,
        ALGORITHM,
        "rs256-header-hmac-with-the-right-secret",
    ),
]


def backend(
    alg: str,
    payload: dict[str, Any],
    *,
    kid: str | None = None,
    header_alg: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A token signed with the backend's private key for ``alg`` (raw PyJWT; ``header_alg`` to sign as another)."""
    headers = {**({"kid": kid} if kid is not None else {}), **(extra or {})}
    return jwt.encode(payload, backend_key(alg), algorithm=header_alg or alg, headers=headers or None)


def backend_rsa_jwk() -> dict[str, Any]:
    key = backend_key("RS256")
    assert isinstance(key, rsa.RSAPrivateKey)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return jwk


def backend_pem(alg: str) -> bytes:
    return backend_key(alg).public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


# Public keys: accepted when signed by the configured key with its own algorithm, and nothing else.
# "public-keys": rule "/" allows the secret and three public keys; "public-keys-only": no secret.
PUBLIC_KEY_CASES = [
    *[
        tok(
            (lambda alg, kid: lambda n: backend(alg, {"exp": n + 300}, kid=kid))(alg, kid),
            200,
            OK,
            f"pk-ok-{alg}-{'kid' if kid else 'no-kid'}-{app}",
            app=app,
        )
        for alg in BACKEND_KIDS
        for kid in (BACKEND_KIDS[alg], None)
        for app in ("public-keys", "public-keys-only")
    ],
    tok(lambda n: good(n), 200, OK, "pk-ok-hs256-beside-public-keys", app="public-keys"),
    tok(lambda n: good(n), 403, ALGORITHM, "pk-hs256-without-a-secret", app="public-keys-only"),
    tok(lambda n: rs256({"exp": n + 300}), 403, SIGNATURE, "pk-rs256-attacker-key", app="public-keys"),
    tok(
        lambda n: rs256({"exp": n + 300}, {"kid": "backend-rsa"}),
        403,
        SIGNATURE,
        "pk-rs256-attacker-key-backend-kid",
        app="public-keys",
    ),
    tok(lambda n: es256({"exp": n + 300}), 403, SIGNATURE, "pk-es256-attacker-key", app="public-keys-only"),
    tok(
        lambda n: backend("ES256", {"exp": n + 300}, kid="backend-rsa"),
        403,
        ALGORITHM,
        "pk-es256-with-the-rsa-kid",
        app="public-keys",
    ),
    tok(
        lambda n: backend("RS256", {"exp": n + 300}, kid="main"),
        403,
        ALGORITHM,
        "pk-rs256-with-the-secret-kid",
        app="public-keys",
    ),
    tok(
        lambda n: backend("RS256", {"exp": n + 300}, header_alg="PS256"),
        403,
        ALGORITHM,
        "pk-ps256-backend-key",
        app="public-keys",
    ),
    tok(
        lambda n: backend("RS256", {"exp": n + 300}, header_alg="RS512"),
        403,
        ALGORITHM,
        "pk-rs512-backend-key",
        app="public-keys",
    ),
    tok(
        lambda n: jwt.encode({"exp": n + 300}, ec.generate_private_key(ec.SECP384R1()), algorithm="ES384"),
        403,
        ALGORITHM,
        "pk-es384",
        app="public-keys",
    ),
    tok(lambda n: backend("RS256", {"exp": n + 300}), 403, ALGORITHM, "pk-rs256-without-public-keys"),
    # key confusion: the configured public key's PEM text as an HMAC secret
    tok(
        lambda n: signed(HS256, {"exp": n + 300}, backend_pem("RS256")),
        403,
        SIGNATURE,
        "pk-confusion-rsa-pem-as-secret-beside-a-secret",
        app="public-keys",
    ),
    tok(
        lambda n: signed(HS256, {"exp": n + 300}, backend_pem("RS256")),
        403,
        ALGORITHM,
        "pk-confusion-rsa-pem-as-secret-public-keys-only",
        app="public-keys-only",
    ),
    tok(
        lambda n: signed({**HS256, "kid": "backend-ec"}, {"exp": n + 300}, backend_pem("ES256")),
        403,
        ALGORITHM,
        "pk-confusion-ec-pem-as-secret-with-its-kid",
        app="public-keys",
    ),
    tok(
        lambda n: signed({"alg": "RS256", "typ": "JWT"}, {"exp": n + 300}, backend_pem("RS256")),
        403,
        SIGNATURE,
        "pk-confusion-rs256-header-hmac-with-the-pem",
        app="public-keys",
    ),
    tok(
        lambda n: signed({"alg": "RS256", "typ": "JWT"}, {"exp": n + 300}),
        403,
        SIGNATURE,
        "pk-confusion-rs256-header-hmac-with-the-secret",
        app="public-keys",
    ),
    # headers that would bring their own key are refused before any key is chosen
    tok(
        lambda n: backend("RS256", {"exp": n + 300}, extra={"jwk": backend_rsa_jwk()}),
        403,
        MALFORMED,
        "pk-jwk-header-on-a-backend-token",
        app="public-keys",
    ),
    tok(
        lambda n: backend("EdDSA", {"exp": n + 300, "aud": "/other/"}),
        403,
        AUDIENCE,
        "pk-eddsa-audience-mismatch",
        app="public-keys-only",
    ),
    tok(lambda n: backend("ES256", {"exp": n - 60}), 403, EXPIRED, "pk-es256-expired", app="public-keys-only"),
]

SIGNATURE_CASES = [
    tok(lambda n: with_signature(good(n), ""), 403, SIGNATURE, "signature-empty"),
    tok(lambda n: flip_last_signature_byte(good(n)), 403, SIGNATURE, "signature-last-byte-flipped"),
    tok(
        lambda n: with_signature(good(n, aud="/"), good(n, aud="/other/").rsplit(".", 1)[1]),
        403,
        SIGNATURE,
        "signature-of-another-token",
    ),
    tok(lambda n: signed(HS256, {"exp": n + 300}, b""), 403, SIGNATURE, "signature-empty-secret"),
    tok(lambda n: with_signature(good(n), b64url(b"\x00" * 32)), 403, SIGNATURE, "signature-all-zero"),
    tok(
        lambda n: with_signature(good(n), b64url(b64url_decode(good(n).rsplit(".", 1)[1])[:-3])),
        403,
        SIGNATURE,
        "signature-truncated-by-3-bytes",
    ),
    # 41 base64url characters cannot encode whole bytes: not base64url at all
    tok(lambda n: with_signature(good(n), good(n).rsplit(".", 1)[1][:-2]), 403, MALFORMED, "signature-41-characters"),
    tok(lambda n: good(n), 200, OK, "baseline-valid"),
]

# Headers that would make a careless verifier look a key up (RFC 8725 §3.10; jwt_tool -X s/i/k).
FETCH_HEADER_CASES = [
    tok(
        lambda n: rs256({"exp": n + 300}, {"jku": f"{ATTACKER}/jwks.json", "kid": "attacker"}),
        403,
        MALFORMED,
        "jku-rs256-attacker-key",
    ),
    tok(
        lambda n: signed({**HS256, "jku": f"{ATTACKER}/jwks.json"}, {"exp": n + 300}),
        403,
        MALFORMED,
        "jku-on-an-otherwise-valid-token",
    ),
    tok(
        lambda n: rs256({"exp": n + 300}, {"x5u": f"{ATTACKER}/cert.pem"}),
        403,
        MALFORMED,
        "x5u-rs256-attacker-key",
    ),
    tok(
        lambda n: signed({**HS256, "x5u": f"{ATTACKER}/cert.pem"}, {"exp": n + 300}),
        403,
        MALFORMED,
        "x5u-on-an-otherwise-valid-token",
    ),
    tok(lambda n: rs256({"exp": n + 300}, {"jwk": attacker_jwk()}), 403, MALFORMED, "jwk-embedded-rsa-key"),
    tok(
        lambda n: signed(
            {**HS256, "jwk": {"kty": "oct", "k": b64url(b"attacker-secret-0123456789abcdef")}},
            {"exp": n + 300},
            b"attacker-secret-0123456789abcdef",
        ),
        403,
        MALFORMED,
        "jwk-embedded-oct-key",
    ),
    tok(
        lambda n: signed({**HS256, "jwk": {"kty": "oct", "k": b64url(SECRET)}}, {"exp": n + 300}),
        403,
        MALFORMED,
        "jwk-on-an-otherwise-valid-token",
    ),
    tok(
        lambda n: rs256({"exp": n + 300}, {"x5c": [self_signed_certificate()]}),
        403,
        MALFORMED,
        "x5c-self-signed-certificate",
    ),
    tok(
        lambda n: signed({**HS256, "x5c": [self_signed_certificate()], "x5u": f"{ATTACKER}/c"}, {"exp": n + 300}),
        403,
        MALFORMED,
        "x5c-and-x5u-on-an-otherwise-valid-token",
    ),
    tok(
        lambda n: signed({**HS256, "jku": f"{ATTACKER}/jwks.json", "kid": "main"}, {"exp": n + 300}),
        403,
        MALFORMED,
        "jku-with-a-known-kid",
    ),
]

KID_CASES = [
    *[
        tok(with_header({**HS256, "kid": kid}), 403, UNKNOWN_KEY, id)
        for kid, id in [
            ("../../etc/passwd", "kid-path-traversal"),
            ("/dev/null", "kid-dev-null"),
            ("' OR 1=1 --", "kid-sql-injection"),
            ("main' --", "kid-sql-comment-after-known-kid"),
            ("null", "kid-string-null"),
            (None, "kid-json-null"),
            (0, "kid-number"),
            (True, "kid-boolean"),
            ({"kid": "main"}, "kid-object"),
            (["main"], "kid-list"),
            ("", "kid-empty-string"),
            ("MAIN", "kid-other-case"),
            ("main ", "kid-trailing-space"),
            ("main\u0000", "kid-trailing-nul"),
            ("m\u0430in", "kid-cyrillic-homoglyph"),
            ("\U0001f511", "kid-emoji"),
            ("|id", "kid-command-injection"),
        ]
    ],
    tok(lambda n: signed({**HS256, "kid": "main"}, {"exp": n + 300}), 200, OK, "baseline-kid-main"),
    # 10 KB kid: the URL limit answers first with the default settings ...
    tok(lambda n: signed({**HS256, "kid": "k" * 10240}, {"exp": n + 300}), 414, NO_HEADER, "kid-10kb-url-limit"),
    # ... and with roomy limits the token is read: still an unknown key
    tok(
        lambda n: signed({**HS256, "kid": "k" * 10240}, {"exp": n + 300}),
        403,
        UNKNOWN_KEY,
        "kid-10kb-roomy-limits",
        app="roomy",
    ),
]

CRIT_CASES = [
    tok(lambda n: signed({**HS256, "crit": ["x-unknown"], "x-unknown": 1}, {"exp": n + 300}), 403, MALFORMED, "crit"),
    tok(lambda n: signed({**HS256, "crit": ["exp"]}, {"exp": n + 300}), 403, MALFORMED, "crit-registered-name"),
    tok(lambda n: signed({**HS256, "crit": []}, {"exp": n + 300}), 403, MALFORMED, "crit-empty-list"),
    tok(lambda n: signed({**HS256, "crit": ["b64"], "b64": False}, {"exp": n + 300}), 403, MALFORMED, "crit-b64"),
]

EXP_CASES = [
    tok(lambda n: signed(HS256, {"aud": "/"}), 403, INVALID_PAYLOAD, "exp-missing"),
    tok(lambda n: signed(HS256, {"exp": None}), 403, INVALID_PAYLOAD, "exp-null"),
    tok(lambda n: signed(HS256, {"exp": str(n + 300)}), 403, INVALID_PAYLOAD, "exp-string"),
    tok(lambda n: signed(HS256, {"exp": True}), 403, INVALID_PAYLOAD, "exp-true"),
    tok(lambda n: signed(HS256, {"exp": False}), 403, INVALID_PAYLOAD, "exp-false"),
    tok(lambda n: signed(HS256, {"exp": [n + 300]}), 403, INVALID_PAYLOAD, "exp-array"),
    tok(lambda n: signed(HS256, {"exp": {"at": n + 300}}), 403, INVALID_PAYLOAD, "exp-object"),
    tok(lambda n: signed(HS256, '{"exp":' + "9" * 400 + "}"), 403, INVALID_PAYLOAD, "exp-400-digit-integer"),
    tok(lambda n: signed(HS256, '{"exp":-' + "9" * 400 + "}"), 403, INVALID_PAYLOAD, "exp-minus-400-digit-integer"),
    tok(lambda n: signed(HS256, '{"exp":1e308}'), 403, INVALID_PAYLOAD, "exp-1e308"),
    tok(lambda n: signed(HS256, '{"exp":1e400}'), 403, INVALID_PAYLOAD, "exp-1e400-infinite"),
    tok(lambda n: signed(HS256, '{"exp":NaN}'), 403, INVALID_PAYLOAD, "exp-NaN"),
    tok(lambda n: signed(HS256, '{"exp":Infinity}'), 403, INVALID_PAYLOAD, "exp-Infinity"),
    tok(lambda n: signed(HS256, {"exp": 10**15}), 403, INVALID_PAYLOAD, "exp-1e15-beyond-the-readme-bound"),
    tok(lambda n: signed(HS256, {"exp": -1}), 403, EXPIRED, "exp-minus-1"),
    tok(lambda n: signed(HS256, {"exp": 0}), 403, EXPIRED, "exp-zero"),
    tok(lambda n: signed(HS256, {"exp": n - 60}), 403, EXPIRED, "exp-a-minute-ago"),
    tok(lambda n: signed(HS256, {"exp": time.time() + 1.5}), 200, OK, "ok-exp-float-just-in-the-future"),
    tok(lambda n: signed(HS256, {"exp": 10**15 - 1}), 200, OK, "ok-exp-just-below-1e15"),
    tok(lambda n: signed(HS256, {"exp": n + 300, "nbf": n + 60}), 403, NOT_YET_VALID, "nbf-in-the-future"),
    tok(lambda n: signed(HS256, {"exp": n + 300, "iat": n + 60}), 403, NOT_YET_VALID, "iat-in-the-future"),
    tok(lambda n: signed(HS256, {"exp": n + 300, "nbf": str(n)}), 403, INVALID_PAYLOAD, "nbf-string"),
    tok(lambda n: signed(HS256, f'{{"exp":{n + 300},"iat":NaN}}'), 403, INVALID_PAYLOAD, "iat-NaN"),
    tok(lambda n: signed(HS256, {"exp": n + 300, "nbf": n - 60, "iat": n - 60}), 200, OK, "ok-nbf-iat-past"),
]

# /path/t is a plain string prefix: it covers /path/to/... and /path/tx.jpg, never /path/secret.jpg.
AUD_CASES = [
    tok(lambda n: good(n), 200, OK, "ok-aud-missing"),
    tok(lambda n: good(n, aud=""), 403, INVALID_PAYLOAD, "aud-empty-string"),
    tok(lambda n: good(n, aud=[]), 403, INVALID_PAYLOAD, "aud-empty-list"),
    tok(lambda n: good(n, aud="photo.jpg"), 403, INVALID_PAYLOAD, "aud-relative"),
    tok(lambda n: good(n, aud=["photo.jpg"]), 403, INVALID_PAYLOAD, "aud-list-relative"),
    tok(lambda n: good(n, aud=["/", 5]), 403, INVALID_PAYLOAD, "aud-list-with-a-number"),
    tok(lambda n: good(n, aud=["/", None]), 403, INVALID_PAYLOAD, "aud-list-with-null"),
    tok(lambda n: good(n, aud=["/", ["/"]]), 403, INVALID_PAYLOAD, "aud-list-with-a-list"),
    tok(lambda n: good(n, aud="*"), 403, INVALID_PAYLOAD, "aud-wildcard"),
    tok(lambda n: good(n, aud="https://cdn.example.com/photo.jpg"), 403, INVALID_PAYLOAD, "aud-absolute-url"),
    tok(lambda n: good(n, aud="/other.jpg"), 403, AUDIENCE, "aud-other-file"),
    tok(lambda n: good(n, aud="/PHOTO.JPG"), 403, AUDIENCE, "aud-case-differs"),
    attack("ok-aud-prefix-folder", lambda n: Req(q(good(n, aud="/path/t")), "/path/to/x.jpg"), 200, OK),
    attack(
        "aud-prefix-not-the-parent-file", lambda n: Req(q(good(n, aud="/path/t")), "/path/secret.jpg"), 403, AUDIENCE
    ),
    # the path is checked before the token (SPEC §1 "before any file is touched"; the middleware
    # runs before the endpoint): a dot segment is a 400 whatever the token, with no X-Auth-Result
    attack(
        "aud-prefix-trick-dot-dot",
        lambda n: Req(q(good(n, aud="/path/t")), "/path/to/../secret.jpg", raw=True),
        400,
        NO_HEADER,
    ),
    attack("dot-dot-without-token", lambda n: Req("", "/path/to/../secret.jpg", raw=True), 400, NO_HEADER),
    attack(
        "aud-prefix-trick-encoded-slash",
        lambda n: Req(q(good(n, aud="/path/t")), "/path/to%2f../secret.jpg"),
        400,
        NO_HEADER,
    ),
    attack(
        "aud-prefix-trick-encoded-dot-dot",
        lambda n: Req(q(good(n, aud="/path/t")), "/path/to/%2e%2e/secret.jpg"),
        400,
        NO_HEADER,
    ),
    attack(
        "aud-prefix-trick-encoded-backslash",
        lambda n: Req(q(good(n, aud="/path/t")), "/path/to%5c..%5csecret.jpg"),
        400,
        NO_HEADER,
    ),
]

# Only the jwt query parameter counts; the token check comes before the parameters (a 403, not a 400).
PLACEMENT_CASES = [
    attack("upper-case-JWT-parameter", lambda n: Req(f"JWT={good(n)}"), 403, MISSING),
    attack("token-parameter", lambda n: Req(f"token={good(n)}"), 403, MISSING),
    attack("access_token-parameter", lambda n: Req(f"access_token={good(n)}"), 403, MISSING),
    attack("token-parameter-with-a-bad-parameter", lambda n: Req(f"token={good(n)}&w=nope"), 403, MISSING),
    attack("jwt-array-parameter", lambda n: Req(f"jwt[]={good(n)}"), 403, MISSING),
    attack(
        "authorization-bearer-header",
        lambda n: Req("", headers=(("Authorization", f"Bearer {good(n)}"),)),
        403,
        MISSING,
    ),
    attack("jwt-cookie", lambda n: Req("", headers=(("Cookie", f"jwt={good(n)}"),)), 403, MISSING),
    attack("x-jwt-header", lambda n: Req("", headers=(("X-JWT", good(n)),)), 403, MISSING),
]

QUERY_SHAPE_CASES = [
    attack("jwt-twice", lambda n: Req(f"jwt={good(n)}&jwt={good(n)}"), 403, MALFORMED),
    attack("jwt-twice-second-empty", lambda n: Req(f"jwt={good(n)}&jwt="), 403, MALFORMED),
    attack("jwt-twice-second-forged", lambda n: Req(f"jwt={good(n)}&jwt={good(n)}x"), 403, MALFORMED),
    attack("semicolon-appended", lambda n: Req(f"jwt={good(n)};"), 403, MALFORMED),
    attack("semicolon-separated-parameter", lambda n: Req(f"jwt={good(n)};w=10"), 403, MALFORMED),
    attack("space-around", lambda n: Req(f"jwt=%20{good(n)}%20"), 403, MALFORMED),
    attack("plus-around", lambda n: Req(f"jwt=+{good(n)}+"), 403, MALFORMED),
    attack("tab-before", lambda n: Req(f"jwt=%09{good(n)}"), 403, MALFORMED),
    attack("newline-after", lambda n: Req(f"jwt={good(n)}%0A"), 403, MALFORMED),
    attack("nul-after", lambda n: Req(f"jwt={good(n)}%00"), 403, MALFORMED),
    attack("padding-after-signature", lambda n: Req(f"jwt={good(n)}="), 403, MALFORMED),
    attack("padding-encoded", lambda n: Req(f"jwt={good(n)}%3D%3D"), 403, MALFORMED),
    attack(
        "padding-on-every-part",
        lambda n: Req("jwt=" + ".".join(p + "=" * (-len(p) % 4 or 4) for p in good(n).split("."))),
        403,
        MALFORMED,
    ),
    attack("percent-encoded-dots", lambda n: Req(q(good(n).replace(".", "%2E"))), 200, OK),
    attack("percent-encoded-everything", lambda n: Req(q(quote_from_bytes(good(n).encode(), safe=""))), 200, OK),
    attack("double-percent-encoded-dots", lambda n: Req(q(good(n).replace(".", "%252E"))), 403, MALFORMED),
]

SIZE_CASES = [
    tok(lambda n: of_length(4096, n), 200, OK, "ok-token-of-exactly-4096-bytes"),
    tok(lambda n: of_length(4097, n), 403, MALFORMED, "token-of-4097-bytes"),
    tok(lambda n: good(n, pad="x" * (1 << 20)), 414, NO_HEADER, "token-of-1mb-url-limit-first", raw=True),
    tok(
        lambda n: good(n, pad="x" * (1 << 20)),
        403,
        MALFORMED,
        "token-of-1mb-long-urls-allowed",
        app="long-urls",
        raw=True,
    ),
    # 5000 "[": with the default limits the size check answers before any parsing ...
    tok(lambda n: signed("[" * 5000, {"exp": n + 300}), 403, MALFORMED, "header-5000-open-brackets"),
    tok(lambda n: signed(nested(5000), {"exp": n + 300}), 414, NO_HEADER, "header-5000-nested-url-limit"),
    # ... and with roomy limits the JSON parser meets the nesting itself
    tok(lambda n: signed("[" * 5000, {"exp": n + 300}), 403, MALFORMED, "header-5000-open-roomy", app="roomy"),
    tok(lambda n: signed(nested(5000), {"exp": n + 300}), 403, MALFORMED, "header-5000-nested-roomy", app="roomy"),
    tok(
        lambda n: signed('{"alg":"HS256","x":' + nested(5000) + "}", {"exp": n + 300}),
        403,
        MALFORMED,
        "header-object-holding-5000-nested-roomy",
        app="roomy",
    ),
    tok(
        lambda n: signed(HS256, f'{{"exp":{n + 300},"x":{nested(5000)}}}'),
        414,
        NO_HEADER,
        "payload-5000-nested-url-limit",
    ),
    tok(
        lambda n: signed(HS256, f'{{"exp":{n + 300},"x":{nested(5000)}}}'),
        403,
        MALFORMED,
        "payload-5000-nested-roomy",
        app="roomy",
    ),
    tok(
        lambda n: signed(HS256, f'{{"exp":{n + 300},"args":{{"w":{"{" * 5000}}}}}'),
        403,
        MALFORMED,
        "payload-args-5000-open-braces-roomy",
        app="roomy",
    ),
    # 10,000 claims cannot fit in 4 KiB: under the default URL limit it is a 414, under roomy limits
    # unknown claims are ignored and the token is valid
    tok(
        lambda n: signed(HS256, {"exp": n + 300, **{f"k{i}": i for i in range(10_000)}}),
        414,
        NO_HEADER,
        "payload-10000-keys-url-limit",
        raw=True,
    ),
    tok(
        lambda n: signed(HS256, {"exp": n + 300, **{f"k{i}": i for i in range(10_000)}}),
        200,
        OK,
        "ok-payload-10000-keys-roomy",
        app="roomy",
        raw=True,
    ),
    tok(
        lambda n: signed(HS256, f'{{"exp":{n - 60},"exp":{n + 300}}}'),
        200,
        OK,
        "ok-duplicate-exp-lexically-last-wins-rfc7519",
    ),
]

CASES = [
    *ALGORITHM_CASES,
    *PUBLIC_KEY_CASES,
    *SIGNATURE_CASES,
    *FETCH_HEADER_CASES,
    *KID_CASES,
    *CRIT_CASES,
    *EXP_CASES,
    *AUD_CASES,
    *PLACEMENT_CASES,
    *QUERY_SHAPE_CASES,
    *SIZE_CASES,
]


# --- the app, the network guard, and sending --------------------------------------------------------


def small_jpeg(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), color).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("security-tokens") / "root"
    for name, color in [
        ("photo.jpg", (30, 120, 200)),
        ("path/to/x.jpg", (200, 120, 30)),
        ("path/secret.jpg", (10, 10, 10)),  # what /path/to/../secret.jpg would reach
        ("path/tx.jpg", (90, 90, 90)),
    ]:
        file = root / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(small_jpeg(color))
    return root


@dataclass
class Origin:
    client: TestClient
    app: Starlette


@contextlib.contextmanager
def _origin(root: Path, **overrides: Any) -> Iterator[Origin]:
    base: dict[str, Any] = {"keys": {"main": SECRET}, "rules": (origin.Rule(prefix="/"),), "render_concurrency": 2}
    settings = origin.Settings(root=root, **{**base, **overrides})
    app = origin.create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Origin(client, app)


@pytest.fixture(scope="module")
def origins(image_root: Path) -> Iterator[dict[str, Origin]]:
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(_origin(image_root, **overrides)) for name, overrides in APPS.items()}


@pytest.fixture(scope="module")
def default_origin(origins: dict[str, Origin]) -> Origin:
    return origins["default"]


@pytest.fixture(autouse=True)
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    """Every way out to the network records and refuses for the whole test; none may be used."""
    attempts: list[tuple[str, Any]] = []

    def refusing(name: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            attempts.append((name, args))
            raise OSError(f"network access during a token check: {name}{args!r}")

        return refuse

    monkeypatch.setattr(socket.socket, "connect", refusing("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refusing("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refusing("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refusing("socket.getaddrinfo"))
    monkeypatch.setattr(urllib.request, "urlopen", refusing("urllib.request.urlopen"))
    yield attempts
    assert attempts == [], f"the origin tried to reach the network: {attempts}"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def _via_asgi(target: Origin, raw_path: bytes, query: bytes, headers: tuple[tuple[str, str], ...]) -> Answer:
    """Send the request target byte for byte into the app, on the TestClient's event loop."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path.decode("ascii")),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *((k.lower().encode(), v.encode()) for k, v in headers)],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def run() -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            messages.append(dict(message))

        await target.app(scope, receive, send)
        return messages

    assert target.client.portal is not None
    messages = target.client.portal.call(run)
    start = next(message for message in messages if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
    return Answer(
        status=start["status"],
        headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in start["headers"]},
        body=body,
    )


def send(target: Origin, req: Req) -> Answer:
    if req.raw:
        return _via_asgi(target, req.path.encode("ascii"), req.query.encode("ascii"), req.headers)
    url = req.path + ("?" + req.query if req.query else "")
    response = target.client.get(url, headers=dict(req.headers))
    return Answer(
        status=response.status_code,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=response.content,
    )


def assert_answer(answer: Answer, status: int, reason: str | None) -> None:
    """The exact status and ``X-Auth-Result``; an error is JSON with ``error`` and ``no-store``."""
    assert answer.status != 500, answer.body[:500]
    assert answer.status == status, (answer.status, answer.headers, answer.body[:500])
    if status == 200:
        assert answer.headers["content-type"].startswith("image/"), answer.headers
        assert answer.headers.get("x-auth-result") == OK
        return
    assert answer.headers["content-type"].startswith("application/json"), answer.headers
    body = json.loads(answer.body)
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    assert answer.headers["cache-control"] == "no-store"
    if reason is NO_HEADER:
        assert "x-auth-result" not in answer.headers, answer.headers
    else:
        assert answer.headers.get("x-auth-result") == reason, (answer.headers, body)
        if "reason" in body:
            assert body["reason"] == reason


@pytest.mark.parametrize(("build", "status", "reason"), CASES)
def test_token_attack(
    origins: dict[str, Origin],
    network_attempts: list[tuple[str, Any]],
    build: Build,
    status: int,
    reason: str | None,
) -> None:
    req = build(int(time.time()))
    answer = send(origins[req.app], req)
    assert_answer(answer, status, reason)
    assert network_attempts == []


def test_the_network_guard_is_armed(network_attempts: list[tuple[str, Any]]) -> None:
    """The guard really catches an attempt (so an empty record above means something)."""
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", CLOSED_PORT), timeout=1)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{ATTACKER}/jwks.json", timeout=1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe, pytest.raises(OSError):
        probe.connect(("127.0.0.1", CLOSED_PORT))
    assert [name for name, _ in network_attempts] == [
        "socket.create_connection",
        "urllib.request.urlopen",
        "socket.connect",
    ]
    network_attempts.clear()


def test_the_case_table_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


# --- whatever a token holds: 200, 403 with a SPEC reason, or a 400 naming parameters ----------------


@st.composite
def _weighted(draw: st.DrawFn, *choices: tuple[int, st.SearchStrategy[Any]]) -> Any:
    """One of ``choices``, each drawn ``weight`` times in ``sum(weights)`` (``one_of`` is uniform)."""
    pick = draw(st.integers(min_value=0, max_value=sum(weight for weight, _ in choices) - 1))
    for weight, strategy in choices:
        if pick < weight:
            return draw(strategy)
        pick -= weight
    raise AssertionError("unreachable")


_json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=10)
)
_json = st.recursive(
    _json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=15,
)
_arg_names = st.sampled_from(
    ["w", "h", "s", "q", "format", "flip", "rotate", "dl", "cw", "cx", "text", "text.size", "watermark", "blur", "x"]
) | st.text(max_size=8)
_arg_values = _weighted(
    (
        8,
        st.booleans()
        | st.integers(min_value=-50, max_value=1200)
        | st.floats(min_value=-50, max_value=1200)
        | st.text(max_size=12)
        | st.sampled_from(["50%", "center", "png", "webp", "jpg", "fit", "fill", "/photo.jpg", "/../photo.jpg"]),
    ),
    (1, _json | st.floats(allow_nan=True, allow_infinity=True)),
)
_args = _weighted((4, st.dictionaries(_arg_names, _arg_values, max_size=4)), (1, _json))
_times = _weighted((3, st.integers(min_value=0, max_value=4 * 10**9)), (1, _json))
_audiences = st.sampled_from(["/", "/photo.jpg", "/photo", "/other/", "photo.jpg", "", ["/x/", "/p"]]) | _json

# Mostly plausible shapes (so that many tokens verify and their args reach the parameters), with
# hostile headers, arbitrary objects and arbitrary JSON values mixed in.
_headers = _weighted(
    (
        6,
        st.fixed_dictionaries(
            {"alg": st.just("HS256")},
            optional={"typ": st.just("JWT") | _json, "kid": st.just("main") | _json, "cty": _json, "zip": _json},
        ),
    ),
    (
        2,
        st.fixed_dictionaries(
            {"alg": st.just("HS256") | _json},
            optional={
                "kid": st.just("main") | _json,
                "crit": _json,
                "jku": st.just(f"{ATTACKER}/jwks.json") | _json,
                "x5u": st.just(f"{ATTACKER}/cert.pem") | _json,
                "jwk": _json,
                "x5c": _json,
            },
        ),
    ),
    (1, st.dictionaries(st.text(max_size=6), _json, max_size=4)),
    (1, _json),
)
_payloads = _weighted(
    (4, st.fixed_dictionaries({"args": st.dictionaries(_arg_names, _arg_values, min_size=1, max_size=4)})),
    (
        6,
        st.fixed_dictionaries(
            {}, optional={"aud": _audiences, "args": _args, "nbf": _times, "iat": _times, "jti": _json, "sub": _json}
        ),
    ),
    (
        2,
        st.fixed_dictionaries(
            {}, optional={"exp": _json, "aud": _audiences, "args": _args, "use": st.just("once") | _json}
        ),
    ),
    (1, st.dictionaries(st.text(max_size=6), _json, max_size=4)),
    (1, _json),
)


def _assert_any_answer(answer: Answer) -> None:
    event(f"{answer.status} {answer.headers.get('x-auth-result', '')}".strip())
    assert answer.status != 500, answer.body[:500]
    assert answer.status in (200, 400, 403), (answer.status, answer.headers, answer.body[:500])
    if answer.status == 200:
        assert answer.headers["content-type"].startswith("image/")
        assert answer.headers["x-auth-result"] == OK
        return
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "no-store"
    body = json.loads(answer.body)
    if answer.status == 403:
        assert answer.headers["x-auth-result"] in REASONS, answer.headers
        return
    assert body["error"] == "invalid parameters", body
    assert isinstance(body["parameters"], dict) and body["parameters"], body
    assert all(isinstance(name, str) and isinstance(why, str) for name, why in body["parameters"].items())


@hypothesis_settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(header=_headers, payload=_payloads, valid_exp=st.integers(0, 7).map(bool))
def test_any_json_signed_with_the_right_key(default_origin: Origin, header: Any, payload: Any, valid_exp: bool) -> None:
    n = int(time.time())
    if valid_exp and isinstance(payload, dict):
        payload = {**payload, "exp": n + 300}
    answer = send(default_origin, Req(q(signed(header, payload))))
    _assert_any_answer(answer)
    if answer.status == 400:
        # only a verified token's args reach the parameters: the token must have been a good one
        assert isinstance(header, dict) and header.get("alg") == "HS256"
        assert isinstance(payload, dict) and "args" in payload


_token_shapes = st.from_regex(r"[A-Za-z0-9_=+/ .-]{0,60}(\.[A-Za-z0-9_=+/ -]{0,60}){0,4}", fullmatch=True)


@hypothesis_settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=st.binary(max_size=600) | st.text(max_size=300).map(str.encode) | _token_shapes.map(str.encode))
def test_any_bytes_as_the_token(default_origin: Origin, raw: bytes) -> None:
    """Whatever bytes the ``jwt`` parameter carries: a 403 with a reason, or a 400 naming the query
    when the bytes are not UTF-8 (the query itself is unreadable); never a 200, never a 500."""
    answer = send(default_origin, Req("jwt=" + quote_from_bytes(raw, safe="")))
    _assert_any_answer(answer)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        assert answer.status == 400, answer.body
        assert set(json.loads(answer.body)["parameters"]) == {"query"}
    else:
        assert answer.status == 403, answer.body
