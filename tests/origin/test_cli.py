"""The ``origin`` command, including a real ``origin serve --dev`` process spoken to over HTTP."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import jwt
import pytest
from PIL import Image
from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.cli import main
from origin.settings import load_settings
from origin.signing import load_private_key
from origin.signing import sign_url as origin_sign_url
from tests.conftest import FIXTURES, make_token

KEY = "cli-secret-0123456789-0123456789-abc"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORIGIN_JWT_SECRET", KEY)
    monkeypatch.setenv("ORIGIN_ROOT", str(FIXTURES))
    monkeypatch.delenv("ORIGIN_CONFIG", raising=False)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_sign_prints_a_url_the_server_accepts(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sign", "/photo.jpg", "--args", '{"w": 300}', "--expires", "300", "--query", "q=50")
    assert code == 0
    url = out.strip()
    assert url.startswith("http://127.0.0.1:8000/photo.jpg?q=50&jwt=")
    token = url.split("jwt=")[1]
    claims = jwt.decode(token, KEY, algorithms=["HS256"], audience="/photo.jpg")
    assert claims["args"] == {"w": 300}
    assert 295 <= claims["exp"] - time.time() <= 300
    client = TestClient(create_app(Settings(root=FIXTURES, keys={"default": KEY.encode()})))
    response = client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (300, 200)


def test_sign_with_a_kid_and_folder_audience(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORIGIN_JWT_SECRET", raising=False)
    config = tmp_path / "o.toml"
    config.write_text(f'root = "{FIXTURES}"\n[keys]\nold = "{"o" * 32}"\nnew = "{"n" * 32}"\n')
    code, out, _ = run(
        capsys, "sign", "/gallery/one.jpg", "--kid", "new", "--aud", "/gallery/", "--config", str(config)
    )
    assert code == 0
    token = out.strip().split("jwt=")[1]
    assert jwt.get_unverified_header(token)["kid"] == "new"
    assert jwt.decode(token, "n" * 32, algorithms=["HS256"], audience="/gallery/")["aud"] == "/gallery/"
    code, _, err = run(capsys, "sign", "/x.jpg", "--kid", "nope", "--config", str(config))
    assert code == 2 and "unknown key id" in err


@pytest.mark.parametrize("bad", ["[1]", "not json"])
def test_sign_rejects_bad_args(env: None, capsys: pytest.CaptureFixture[str], bad: str) -> None:
    code, _, err = run(capsys, "sign", "/photo.jpg", "--args", bad)
    assert code == 2 and "--args" in err


@pytest.mark.parametrize(
    ("claims", "key", "expected"),
    [
        ({"aud": "/photo.jpg"}, KEY.encode(), "result: ok"),
        ({"aud": "/photo.jpg", "exp_in": -60}, KEY.encode(), "result: expired key"),
        ({"aud": "/other.jpg"}, KEY.encode(), "result: audience mismatch"),
        ({"aud": "/photo.jpg"}, b"w" * 32, "result: signature mismatch"),
    ],
)
def test_inspect_says_why(
    env: None, capsys: pytest.CaptureFixture[str], claims: dict[str, object], key: bytes, expected: str
) -> None:
    token = make_token(key=key, **claims)  # type: ignore[arg-type]
    code, out, _ = run(capsys, "inspect", f"https://cdn.example/photo.jpg?w=3&jwt={token}")
    assert expected in out
    assert '"alg": "HS256"' in out
    assert code == (0 if expected == "result: ok" else 1)


# ---- key pairs: keygen, sign --private-key, inspect with public keys ----------------------------


def keygen(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, "keygen", *argv)
    assert code == 0, err
    return out


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_keygen_writes_a_pair_and_a_line_that_configures_the_origin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, alg: str
) -> None:
    monkeypatch.chdir(tmp_path)
    out = keygen(capsys, "--alg", alg, "--kid", "backend", "--out", "keys")
    private, public = tmp_path / "keys" / "backend.key.pem", tmp_path / "keys" / "backend.pub.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644 & ~current_umask()
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert tomllib.loads(out) == {"public_keys": {"backend": {"file": "keys/backend.pub.pem", "alg": alg}}}
    config = tmp_path / "origin.toml"
    config.write_text(f'root = "{FIXTURES}"\n{out}')
    settings = load_settings(config_path=str(config), env={})
    assert settings.keys == {} and settings.public_keys["backend"].alg == alg


def test_keygen_never_overwrites_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keygen(capsys, "--out", str(tmp_path), "--kid", "k1")
    before = (tmp_path / "k1.key.pem").read_bytes()
    code, out, err = run(capsys, "keygen", "--out", str(tmp_path), "--kid", "k1", "--alg", "EdDSA")
    assert code == 2 and "exists" in err and out == ""
    assert (tmp_path / "k1.key.pem").read_bytes() == before
    (tmp_path / "k1.key.pem").unlink()  # the public half alone still blocks: a pair stays a pair
    code, _, err = run(capsys, "keygen", "--out", str(tmp_path), "--kid", "k1")
    assert code == 2 and "k1.pub.pem exists" in err
    assert not (tmp_path / "k1.key.pem").exists()


@pytest.mark.parametrize("kid", ["", "a b", "../x", "k" * 65, 'a"b'])
def test_keygen_refuses_a_kid_that_is_not_a_plain_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kid: str
) -> None:
    code, _, err = run(capsys, "keygen", "--out", str(tmp_path), "--kid", kid)
    assert code == 2 and "--kid" in err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def key_pairs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Settings]:
    """Three key pairs made by ``origin keygen`` and an origin configured with their public halves only."""
    folder = tmp_path_factory.mktemp("key-pairs")
    lines = []
    for kid, alg in [("rsa", "RS256"), ("ec", "ES256"), ("ed", "EdDSA")]:
        code = main(["keygen", "--alg", alg, "--kid", kid, "--out", str(folder / "keys")])
        assert code == 0
        lines.append(f'{kid} = {{ file = "keys/{kid}.pub.pem", alg = "{alg}" }}')
    config = folder / "origin.toml"
    config.write_text(f'root = "{FIXTURES}"\n[public_keys]\n' + "\n".join(lines) + "\n")
    for name in ("ORIGIN_JWT_SECRET", "ORIGIN_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORIGIN_CONFIG", str(config))
    return folder, load_settings(config_path=str(config), env={})


@pytest.mark.parametrize(("kid", "alg"), [("rsa", "RS256"), ("ec", "ES256"), ("ed", "EdDSA")])
@pytest.mark.parametrize("with_kid", [True, False], ids=["kid", "no-kid"])
def test_sign_with_a_private_key_makes_a_url_the_origin_accepts(
    key_pairs: tuple[Path, Settings], capsys: pytest.CaptureFixture[str], kid: str, alg: str, with_kid: bool
) -> None:
    folder, settings = key_pairs
    argv = ["sign", "/photo.jpg", "--private-key", str(folder / "keys" / f"{kid}.key.pem"), "--args", '{"w": 300}']
    code, out, err = run(capsys, *argv, *(["--kid", kid] if with_kid else []))
    assert code == 0, err
    token = out.strip().split("jwt=")[1]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == alg
    assert header.get("kid") == (kid if with_kid else None)
    assert "use" not in jwt.decode(token, options={"verify_signature": False})
    with TestClient(create_app(settings)) as client:
        response = client.get(out.strip().removeprefix("http://127.0.0.1:8000"))
        assert response.status_code == 200, response.text
        assert response.headers["x-auth-result"] == "ok"
        assert Image.open(io.BytesIO(response.content)).size == (300, 200)
        head, body, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        forged = base64.urlsafe_b64encode(json.dumps({**claims, "args": {"w": 1200}}).encode()).rstrip(b"=").decode()
        tampered = client.get(f"/photo.jpg?jwt={head}.{forged}.{signature}")
        assert tampered.status_code == 403
        assert tampered.headers["x-auth-result"] == "signature mismatch"


def test_sign_once_makes_a_one_time_link(key_pairs: tuple[Path, Settings], capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = key_pairs
    tokens = []
    for _ in range(2):
        code, out, err = run(
            capsys, "sign", "/photo.jpg", "--once", "--private-key", str(folder / "keys" / "ec.key.pem")
        )
        assert code == 0, err
        tokens.append(jwt.decode(out.strip().split("jwt=")[1], options={"verify_signature": False}))
    for payload in tokens:
        assert payload["use"] == "once"
        assert isinstance(payload["jti"], str) and 16 <= len(payload["jti"]) <= 128
    assert tokens[0]["jti"] != tokens[1]["jti"]


def test_sign_once_with_a_secret(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sign", "/photo.jpg", "--once")
    assert code == 0
    payload = jwt.decode(out.strip().split("jwt=")[1], KEY, algorithms=["HS256"], audience="/photo.jpg")
    assert payload["use"] == "once" and len(payload["jti"]) >= 16


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        pytest.param(
            ["--private-key", "{keys}/ec.key.pem", "--alg", "RS256"], "signs ES256, not RS256", id="alg-vs-key"
        ),
        pytest.param(
            ["--private-key", "{keys}/ec.key.pem", "--alg", "HS256"], "signs ES256, not HS256", id="hs256-key"
        ),
        pytest.param(["--private-key", "{keys}/ec.pub.pem"], "not an unencrypted PEM private key", id="public-half"),
        pytest.param(["--private-key", "{keys}/nope.pem"], "cannot read", id="missing-file"),
        pytest.param(["--kid", "ec"], "is a public key", id="kid-of-a-public-key"),
        pytest.param([], "no secret to sign with", id="no-secret-in-the-configuration"),
    ],
)
def test_sign_explains_what_it_cannot_sign_with(
    key_pairs: tuple[Path, Settings], capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    folder, _ = key_pairs
    code, out, err = run(capsys, "sign", "/photo.jpg", *(arg.format(keys=folder / "keys") for arg in argv))
    assert code == 2 and out == ""
    assert says in err


def test_sign_refuses_an_hmac_alg_other_than_hs256(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sign", "/photo.jpg", "--alg", "EdDSA")
    assert code == 2 and "signs HS256, not EdDSA" in err


@pytest.mark.parametrize(
    ("signer", "expected"),
    [("ec", "result: ok"), ("ed", "result: ok"), ("stranger", "result: signature mismatch")],
)
def test_inspect_verifies_with_public_keys(
    key_pairs: tuple[Path, Settings], capsys: pytest.CaptureFixture[str], signer: str, expected: str
) -> None:
    folder, _ = key_pairs
    if signer == "stranger":
        main(["keygen", "--kid", "stranger", "--out", str(folder / "elsewhere")])
        capsys.readouterr()
        key_file = folder / "elsewhere" / "stranger.key.pem"
    else:
        key_file = folder / "keys" / f"{signer}.key.pem"
    url = origin_sign_url("/photo.jpg", key=load_private_key(key_file), base_url="https://cdn.example")
    code, out, _ = run(capsys, "inspect", url)
    assert expected in out
    assert code == (0 if expected == "result: ok" else 1)


def test_serve_refuses_a_bad_configuration(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORIGIN_JWT_SECRET", "short")
    code, _, err = run(capsys, "serve", "--root", str(FIXTURES))
    assert code == 2
    assert "at least 32 bytes" in err


# ---- the real server --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def dev_server() -> Iterator[tuple[str, str]]:
    """``origin serve --dev`` as a user starts it; yields (base URL, the signed URL it printed)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORIGIN_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "origin", "serve", "--dev", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        signed = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            match = re.search(r"signed URL \(valid 1 hour\): (\S+)", line)
            if match:
                signed = match.group(1)
            if "Uvicorn running" in line or process.poll() is not None:
                break
        assert signed, "the dev server printed no signed URL"
        drain = threading.Thread(target=process.stdout.read, daemon=True)  # keep the pipe from filling
        drain.start()
        yield f"http://127.0.0.1:{port}", signed
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def fetch(url: str) -> tuple[int, Message, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_dev_server_prints_a_working_signed_url(dev_server: tuple[str, str]) -> None:
    base, signed = dev_server
    assert signed.startswith(base + "/photo.jpg?jwt=")
    status, headers, body = fetch(signed)
    assert status == 200
    assert headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body)).size == (1200, 800)
    status, _, body = fetch(signed + "&w=300")
    assert status == 200
    assert Image.open(io.BytesIO(body)).size == (300, 200)


def test_dev_server_refuses_unsigned_and_tampered_urls(dev_server: tuple[str, str]) -> None:
    base, signed = dev_server
    assert fetch(base + "/photo.jpg")[0] == 403
    status, headers, _ = fetch(signed[:-3] + ("AAA" if not signed.endswith("AAA") else "BBB"))
    assert status == 403
    assert headers["X-Auth-Result"] == "signature mismatch"
    assert fetch(base + "/healthz")[0] == 200


def test_several_workers_log_without_tokens_and_sum_their_metrics(tmp_path: Path) -> None:
    port = free_port()
    key = "workers-key-0123456789-0123456789-abc"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORIGIN_", "PROMETHEUS_"))}
    env.update({"ORIGIN_JWT_SECRET": key, "TMPDIR": str(tmp_path)})
    process = subprocess.Popen(
        [sys.executable, "-m", "origin", "serve", "--root", str(FIXTURES), "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if fetch(base + "/healthz")[0] == 200:
                    break
            except urllib.error.URLError:
                time.sleep(0.2)
        url = base + origin_sign_url("/photo.jpg", key=key.encode(), query="w=40")
        token = url.split("jwt=")[1]
        for _ in range(6):
            assert fetch(url)[0] == 200
        metrics = fetch(base + "/metrics")[2].decode()
        served = re.search(r'^origin_requests_total\{status="200"\} (\S+)$', metrics, re.MULTILINE)
        assert served is not None and float(served.group(1)) >= 6  # summed over both workers
        assert list(tmp_path.glob("origin-metrics-*")), "the workers share a multiprocess folder"
    finally:
        process.terminate()
        process.wait(timeout=20)
        reader.join(timeout=5)
        process.stdout.close()
    text = "".join(output)
    assert token not in text and token[:24] not in text
    assert text.count('"path": "/photo.jpg?w=40&jwt=REDACTED"') >= 6
    assert not list(tmp_path.glob("origin-metrics-*")), "the metrics folder is removed at exit"
