"""Tokens minted by Node's ``jsonwebtoken`` (``tests/node/sign.js``), as Sirv's and Express examples
mint them, are accepted: RS256 with a private key whose public half is in ``[public_keys]``, and
HS256 with a secret of ``[keys]``. A tampered one is refused.

Node and npm are required (CI installs Debian's ``nodejs`` and ``npm``); ``npm ci`` installs the
pinned ``jsonwebtoken`` from ``tests/node/package-lock.json`` once, when ``node_modules`` is missing.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from origin import Rule, Settings, create_app
from origin.settings import load_public_key
from origin.signing import write_key_pair
from tests.conftest import FIXTURES, SECRET, decode
from tests.tokens import ALGORITHM, SIGNATURE

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` command, with ``jsonwebtoken`` installed beside ``sign.js``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed for the jsonwebtoken tests: apt-get install nodejs npm (.ci/run does)")
    if not (NODE_DIR / "node_modules" / "jsonwebtoken").is_dir():
        done = subprocess.run(
            [npm, "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci --prefix tests/node failed:\n{done.stdout}\n{done.stderr}")
    return node


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``backend``: an RSA key pair from the origin's own keygen; ``main``: the HMAC secret as a file."""
    folder = tmp_path_factory.mktemp("node-keys")
    private, public = write_key_pair(folder, "backend", "RS256")
    secret = folder / "main.secret"
    secret.write_bytes(SECRET)
    return {"backend": private, "backend.pub": public, "main": secret}


@pytest.fixture(scope="module")
def client(keys: dict[str, Path]) -> Iterator[TestClient]:
    settings = Settings(
        root=FIXTURES,
        keys={"main": SECRET},
        public_keys={"backend": load_public_key(keys["backend.pub"], "RS256")},
        rules=(Rule(prefix="/"), Rule(prefix="/hmac-only/", keys=("main",))),
        render_concurrency=2,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def node_sign(node: str, key_file: Path, payload: dict[str, Any], **options: Any) -> str:
    """``jwt.sign(payload, key, options)`` in Node; ``options`` as jsonwebtoken names them."""
    done = subprocess.run(
        [node, str(NODE_DIR / "sign.js"), str(key_file), json.dumps(payload), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("key", "options"),
    [
        pytest.param("backend", {"algorithm": "RS256", "keyid": "backend"}, id="rs256-keyid"),
        pytest.param("backend", {"algorithm": "RS256"}, id="rs256-no-keyid"),
        pytest.param("backend", {"algorithm": "RS256", "audience": "/photo.jpg"}, id="rs256-audience-file"),
        pytest.param("main", {"algorithm": "HS256"}, id="hs256-sirv-example"),
        pytest.param("main", {"algorithm": "HS256", "keyid": "main", "audience": "/"}, id="hs256-keyid-audience"),
    ],
)
def test_node_jsonwebtoken_tokens_are_accepted(
    node: str, keys: dict[str, Path], client: TestClient, key: str, options: dict[str, Any]
) -> None:
    token = node_sign(node, keys[key], {"args": {"w": 300}}, expiresIn=300, **options)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == options["algorithm"] and header.get("kid") == options.get("keyid")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert 295 <= payload["exp"] - time.time() <= 305 and payload["iat"] == payload["exp"] - 300
    response = client.get(f"/photo.jpg?jwt={token}")
    assert response.status_code == 200, response.text
    assert response.headers["x-auth-result"] == "ok"
    assert response.headers["content-type"] == "image/jpeg"
    assert decode(response.content).size == (300, 200)


def tamper(token: str) -> str:
    """The same signature over a payload whose ``args`` ask for something else."""
    head, body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = json.dumps({**payload, "args": {"w": 1200}}, separators=(",", ":")).encode()
    return f"{head}.{base64.urlsafe_b64encode(forged).rstrip(b'=').decode()}.{signature}"


@pytest.mark.parametrize("key", ["backend", "main"])
def test_a_tampered_node_token_is_refused(node: str, keys: dict[str, Path], client: TestClient, key: str) -> None:
    algorithm = "RS256" if key == "backend" else "HS256"
    token = node_sign(node, keys[key], {"args": {"w": 300}}, expiresIn=300, algorithm=algorithm)
    response = client.get(f"/photo.jpg?jwt={tamper(token)}")
    assert response.status_code == 403
    assert response.headers["x-auth-result"] == SIGNATURE


def test_a_node_rs256_token_is_refused_where_the_rule_allows_only_secrets(
    node: str, keys: dict[str, Path], client: TestClient
) -> None:
    token = node_sign(node, keys["backend"], {}, expiresIn=300, algorithm="RS256", keyid="backend")
    response = client.get(f"/hmac-only/photo.jpg?jwt={token}")
    assert response.status_code == 403
    assert response.headers["x-auth-result"] == ALGORITHM
