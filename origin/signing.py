"""Minting signed URLs: the inverse of ``auth.verify_token``, for the CLI, the docs and tests.

A token is signed with an HMAC secret (HS256) or with a private key (RS256, ES256, EdDSA, the
algorithm following from the key's type). ``write_key_pair`` makes a private key for a signing
backend and the public half that the origin's ``[public_keys]`` names.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jwt

from origin.settings import HMAC_ALGORITHM, PUBLIC_KEY_ALGORITHMS

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    PrivateKey = RSAPrivateKey | EllipticCurvePrivateKey | Ed25519PrivateKey

RSA_KEYGEN_BITS = 3072
ONCE_ID_BYTES = 16


def sign_token(
    *,
    key: bytes | PrivateKey,
    expires_in: int,
    aud: str | list[str] | None = None,
    args: Mapping[str, Any] | None = None,
    kid: str | None = None,
    now: float | None = None,
    alg: str | None = None,
    once: bool = False,
) -> str:
    """A token valid for ``expires_in`` seconds, for the paths under ``aud``.

    ``key`` is an HMAC secret (HS256) or a private key (its algorithm inferred from its type; ``alg``,
    when given, must agree). ``once`` makes a one-time link: ``"use": "once"`` and a random ``jti``.
    """
    algorithm = algorithm_for(key, alg)
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {"exp": issued + expires_in, "iat": issued}
    if aud is not None:
        payload["aud"] = aud
    if args:
        payload["args"] = dict(args)
    if once:
        payload["use"] = "once"
        payload["jti"] = secrets.token_urlsafe(ONCE_ID_BYTES)
    headers = {"kid": kid} if kid else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def sign_url(
    path: str,
    *,
    key: bytes | PrivateKey,
    expires_in: int = 300,
    args: Mapping[str, Any] | None = None,
    query: str = "",
    aud: str | None = None,
    kid: str | None = None,
    base_url: str = "",
    now: float | None = None,
    alg: str | None = None,
    once: bool = False,
) -> str:
    """A URL for ``path`` with its token; ``aud`` defaults to the path itself (Sirv's audience)."""
    token = sign_token(key=key, expires_in=expires_in, aud=aud or path, args=args, kid=kid, now=now, alg=alg, once=once)
    query = query.lstrip("?&")
    separator = f"?{query}&" if query else "?"
    return f"{base_url.rstrip('/')}{quote(path, safe='/')}{separator}jwt={token}"


def algorithm_for(key: bytes | PrivateKey, alg: str | None = None) -> str:
    """The algorithm ``key`` signs with; ``ValueError`` if ``alg`` is given and differs, or the key
    is of a type the origin cannot verify (RSA, EC P-256 and Ed25519 only)."""
    if isinstance(key, bytes):
        inferred = HMAC_ALGORITHM
    else:
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        private: object = key
        if isinstance(private, rsa.RSAPrivateKey):
            inferred = "RS256"
        elif isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1):
            inferred = "ES256"
        elif isinstance(private, ed25519.Ed25519PrivateKey):
            inferred = "EdDSA"
        else:
            raise ValueError("the private key must be RSA, EC on curve P-256, or Ed25519")
    if alg is not None and alg != inferred:
        raise ValueError(f"this key signs {inferred}, not {alg}")
    return inferred


def load_private_key(file: Path) -> PrivateKey:
    """The unencrypted PEM private key in ``file``; ``ValueError`` saying why it cannot be used."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {file}: {exc.strerror}") from exc
    try:
        key: object = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{file} is not an unencrypted PEM private key") from exc
    algorithm_for(key)  # type: ignore[arg-type]  # refuses the types no origin can verify
    return key  # type: ignore[return-value]


def generate_key_pair(alg: str) -> tuple[bytes, bytes]:
    """A new key pair for ``alg`` (RS256, ES256 or EdDSA): (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    private: PrivateKey
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEYGEN_BITS)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"alg must be one of {', '.join(PUBLIC_KEY_ALGORITHMS)}")
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def write_key_pair(folder: Path, kid: str, alg: str) -> tuple[Path, Path]:
    """``folder/kid.key.pem`` (mode 0600) and ``folder/kid.pub.pem``; ``FileExistsError`` if either exists."""
    private_file, public_file = folder / f"{kid}.key.pem", folder / f"{kid}.pub.pem"
    for file in (private_file, public_file):
        if file.exists():
            raise FileExistsError(f"{file} exists; not overwriting a key")
    private_pem, public_pem = generate_key_pair(alg)
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # whatever the umask
        out.write(private_pem)
    descriptor = os.open(public_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "wb") as out:
        out.write(public_pem)
    return private_file, public_file
