"""The ``origin`` command: ``serve``, ``sign``, ``inspect`` and ``keygen`` (SPEC §7, §9)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from origin import auth
from origin.access import configure_access_log
from origin.errors import AuthError, InvalidPathError
from origin.paths import canonical_path
from origin.settings import HMAC_ALGORITHM, PUBLIC_KEY_ALGORITHMS, ConfigError, Settings, load_settings
from origin.signing import load_private_key, sign_url, write_key_pair

DEV_ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "images"
DEV_SAMPLE = "/photo.jpg"
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)  # a bare TOML key and a file name


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="origin", description="A signed-URL image CDN origin.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--root", help="folder of originals (ORIGIN_ROOT)")
    serve.add_argument("--config", help="TOML configuration (ORIGIN_CONFIG)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--dev", action="store_true", help="random key, bundled fixtures, prints a signed URL")

    sign = commands.add_parser("sign", help="print a signed URL")
    sign.add_argument("path")
    sign.add_argument("--expires", type=int, default=300, help="lifetime in seconds (default 300)")
    sign.add_argument("--args", default=None, help="signed args as a JSON object")
    sign.add_argument("--query", default="", help="unsigned query to add, e.g. 'w=300&h=200'")
    sign.add_argument("--aud", default=None, help="audience prefix (default: the path itself)")
    sign.add_argument("--kid", default=None, help="key id to sign with (default: the only or first key)")
    sign.add_argument("--base-url", default="http://127.0.0.1:8000")
    sign.add_argument("--config", help="TOML configuration holding [keys]")
    sign.add_argument(
        "--private-key", default=None, help="sign with this PEM private key instead of a secret of the configuration"
    )
    sign.add_argument(
        "--alg",
        choices=(HMAC_ALGORITHM, *PUBLIC_KEY_ALGORITHMS),
        default=None,
        help="algorithm (default: the key's own, HS256 for a secret)",
    )
    sign.add_argument("--once", action="store_true", help="a one-time link: the first download consumes it")

    inspect = commands.add_parser("inspect", help="decode a URL or token and say why it is refused")
    inspect.add_argument("url_or_token")
    inspect.add_argument("--config", help="TOML configuration holding [keys] and [public_keys]")

    keygen = commands.add_parser("keygen", help="make a key pair: the private key signs, the origin verifies")
    keygen.add_argument("--alg", choices=PUBLIC_KEY_ALGORITHMS, default="ES256", help="algorithm (default ES256)")
    keygen.add_argument("--kid", default="backend", help="key id, also the files' name (default: backend)")
    keygen.add_argument("--out", default=".", help="folder for NAME.key.pem and NAME.pub.pem (default: here)")

    options = parser.parse_args(argv)
    try:
        if options.command == "serve":
            return _serve(options)
        if options.command == "sign":
            return _sign(options)
        if options.command == "keygen":
            return _keygen(options)
        return _inspect(options)
    except ConfigError as exc:
        print(f"origin: configuration error: {exc}", file=sys.stderr)
        return 2


def _key_settings(config: str | None) -> Settings:
    """Settings for signing and inspecting: only keys and rules matter, any folder will do as root."""
    return load_settings(config_path=config, root=os.environ.get("ORIGIN_ROOT") or ".")


def _serve(options: argparse.Namespace) -> int:
    import uvicorn

    root = options.root
    if options.dev and root is None and not os.environ.get("ORIGIN_ROOT"):
        root = str(DEV_ROOT)
    settings = load_settings(config_path=options.config, root=root, dev=options.dev)
    base_url = f"http://{options.host}:{options.port}"
    if options.dev:
        kid, key = next(iter(settings.keys.items()))
        if kid == "dev":
            print(f"development mode: random signing key {key.decode()} (kid 'dev'); do not use in production")
        url = sign_url(DEV_SAMPLE, key=key, expires_in=3600, base_url=base_url)
        print(f"serving {settings.root}")
        print(f"signed URL (valid 1 hour): {url}")
        print(f"the same, resized by an unsigned parameter: {url}&w=300")
        sys.stdout.flush()
    configure_access_log()
    if options.workers > 1:
        # Worker processes build their own app from the environment (origin.app.app_from_env, which
        # sets up the same access log): hand them this process's choices, and a fresh folder where
        # each writes its metrics so that /metrics sums every worker.
        metrics_dir = tempfile.mkdtemp(prefix="origin-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        if settings.once_folder is None:  # one-time links: one claim across all workers, not one per worker
            os.environ["ORIGIN_ONCE_FOLDER"] = str(Path(metrics_dir) / "once")
        os.environ["ORIGIN_ROOT"] = str(settings.root)
        if options.config:
            os.environ["ORIGIN_CONFIG"] = str(Path(options.config).resolve())
        if "dev" in settings.keys:
            os.environ["ORIGIN_JWT_SECRET"] = settings.keys["dev"].decode()
        uvicorn.run(
            "origin.app:app_from_env",
            factory=True,
            host=options.host,
            port=options.port,
            workers=options.workers,
            log_level="info",
            access_log=False,  # uvicorn's would print the token; the origin's own log redacts it
        )
        shutil.rmtree(metrics_dir, ignore_errors=True)
        return 0
    from origin.app import create_app

    uvicorn.run(create_app(settings), host=options.host, port=options.port, log_level="info", access_log=False)
    return 0


def _sign(options: argparse.Namespace) -> int:
    if options.private_key is not None:
        try:
            key: Any = load_private_key(Path(options.private_key))
        except ValueError as exc:
            print(f"origin: --private-key: {exc}", file=sys.stderr)
            return 2
        kid = options.kid  # in the header only when given: the origin then verifies with the key it names
    else:
        settings = _key_settings(options.config)
        if options.kid is not None and options.kid in settings.public_keys:
            print(
                f"origin: {options.kid!r} is a public key: it only verifies; sign with --private-key FILE",
                file=sys.stderr,
            )
            return 2
        if options.kid is not None and options.kid not in settings.keys:
            print(f"origin: unknown key id {options.kid!r}", file=sys.stderr)
            return 2
        if not settings.keys:
            print("origin: no secret to sign with (public keys only verify); use --private-key FILE", file=sys.stderr)
            return 2
        key = settings.keys[options.kid or next(iter(settings.keys))]
        kid = options.kid
    args = None
    if options.args is not None:
        try:
            args = json.loads(options.args)
        except ValueError as exc:
            print(f"origin: --args is not JSON: {exc}", file=sys.stderr)
            return 2
        if not isinstance(args, dict):
            print("origin: --args must be a JSON object", file=sys.stderr)
            return 2
    try:
        canonical_path(options.path.encode("utf-8"))
    except InvalidPathError as exc:
        print(f"origin: {exc}", file=sys.stderr)
        return 2
    try:
        url = sign_url(
            options.path,
            key=key,
            kid=kid,
            expires_in=options.expires,
            args=args,
            query=options.query,
            aud=options.aud,
            base_url=options.base_url,
            alg=options.alg,
            once=options.once,
        )
    except ValueError as exc:
        print(f"origin: --alg: {exc}", file=sys.stderr)
        return 2
    print(url)
    return 0


def _keygen(options: argparse.Namespace) -> int:
    if not KEY_ID.fullmatch(options.kid):
        print("origin: --kid must be 1..64 letters, digits, '-' or '_'", file=sys.stderr)
        return 2
    try:
        private_file, public_file = write_key_pair(Path(options.out), options.kid, options.alg)
    except OSError as exc:  # FileExistsError too: a key is never overwritten
        print(f"origin: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {private_file} (private, mode 0600: keep it on the signing backend only)", file=sys.stderr)
    print(f"wrote {public_file} (public: for the origin)", file=sys.stderr)
    print("# for the origin's configuration file (a relative file path is read from that file's folder)")
    print("[public_keys]")
    print(f"{options.kid} = {{ file = {json.dumps(str(public_file))}, alg = {json.dumps(options.alg)} }}")
    return 0


def _inspect(options: argparse.Namespace) -> int:
    text = options.url_or_token.strip()
    path = None
    token = text
    if "?" in text or text.startswith(("/", "http://", "https://")):
        parts = urlsplit(text)
        path = parts.path or "/"
        tokens = [value for name, value in parse_qsl(parts.query, keep_blank_values=True) if name == "jwt"]
        if len(tokens) != 1:
            print("no single jwt parameter in that URL", file=sys.stderr)
            return 1
        token = tokens[0]
    header, payload = _unverified(token)
    print("header: " + json.dumps(header, indent=2, sort_keys=True))
    print("payload: " + json.dumps(payload, indent=2, sort_keys=True))
    if isinstance(payload, dict) and isinstance(payload.get("exp"), int | float):
        print(f"expires in {payload['exp'] - time.time():.0f} s")
    try:
        settings = _key_settings(options.config)
    except ConfigError as exc:
        print(f"no key to verify with ({exc})")
        return 1
    if path is None:
        aud = payload.get("aud") if isinstance(payload, dict) else None
        path = aud if isinstance(aud, str) else "/"
    try:
        canonical = canonical_path(path.encode("utf-8"))
        auth.verify_token(token, canonical, settings.rule_for(canonical), settings, time.time())
    except InvalidPathError as exc:
        print(f"result: invalid path ({exc})")
        return 1
    except AuthError as exc:
        print(f"result: {exc.reason}")
        return 1
    print("result: ok")
    return 0


def _unverified(token: str) -> tuple[Any, Any]:
    try:
        return auth.decode_unverified(token)
    except AuthError:
        return "(not decodable)", "(not decodable)"
