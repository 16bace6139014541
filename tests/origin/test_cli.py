"""The ``origin`` command, including a real ``origin serve --dev`` process spoken to over HTTP."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
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
from origin.signing import sign_url as origin_sign_url
from tests.conftest import FIXTURES, make_token

KEY = "cli-secret-0123456789-0123456789-abc"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORIGIN_JWT_SECRET", KEY)
    monkeypatch.setenv("ORIGIN_ROOT", str(FIXTURES))
    monkeypatch.delenv("ORIGIN_CONFIG", raising=False)


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
