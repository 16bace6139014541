"""An origin with public keys verifies what a backend's private key signed, and never mints with them.

``[public_keys]`` keys verify only: ``POST /v2/files/jwt``, the studio's signing and its thumbnails
sign with the HMAC secrets a rule allows, and say so clearly when a rule has none.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from starlette.testclient import TestClient

from origin import Rule, Settings, create_app
from origin.settings import PublicKey
from origin.signing import sign_token, sign_url
from tests.conftest import FIXTURES, SECRET, decode

ADMIN = "admin-token-0123456789-abcdefghijklmnop"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@functools.cache
def backend_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def partner_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "root": FIXTURES,
        "keys": {"main": SECRET},
        "public_keys": {
            "backend": PublicKey(alg="ES256", key=backend_key().public_key()),
            "partner": PublicKey(alg="EdDSA", key=partner_key().public_key()),
        },
        "rules": (Rule(prefix="/", keys=("backend", "main")), Rule(prefix="/partner/", keys=("partner",))),
        "admin_token": ADMIN,
        "render_concurrency": 2,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(make_settings())) as test_client:
        yield test_client


def test_the_python_signer_mints_with_a_private_key(client: TestClient) -> None:
    url = sign_url("/photo.jpg", key=backend_key(), kid="backend", args={"w": 120})
    assert jwt.get_unverified_header(url.split("jwt=")[1]) == {"alg": "ES256", "kid": "backend", "typ": "JWT"}
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["x-auth-result"] == "ok"
    assert decode(response.content).width == 120


def test_the_python_signer_refuses_an_algorithm_its_key_cannot_sign() -> None:
    with pytest.raises(ValueError, match="signs ES256, not RS256"):
        sign_token(key=backend_key(), expires_in=60, alg="RS256")
    with pytest.raises(ValueError, match="signs HS256, not EdDSA"):
        sign_token(key=SECRET, expires_in=60, alg="EdDSA")


def test_a_one_time_link_from_the_python_signer() -> None:
    payloads = [
        jwt.decode(sign_token(key=partner_key(), expires_in=60, once=True), options={"verify_signature": False})
        for _ in range(2)
    ]
    assert all(payload["use"] == "once" and 16 <= len(payload["jti"]) <= 128 for payload in payloads)
    assert payloads[0]["jti"] != payloads[1]["jti"]
    assert "use" not in jwt.decode(sign_token(key=SECRET, expires_in=60), options={"verify_signature": False})


def test_minting_signs_with_the_rules_secret_even_when_a_public_key_comes_first(client: TestClient) -> None:
    response = client.post("/v2/files/jwt", json={"filename": "/photo.jpg", "expiresIn": 60}, headers=AUTH)
    assert response.status_code == 200, response.text
    token = response.json()["url"].split("jwt=")[1]
    assert jwt.get_unverified_header(token)["kid"] == "main"
    assert client.get(response.json()["url"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param({"filename": "/photo.jpg", "kid": "backend"}, "is a public key", id="kid-of-a-public-key"),
        pytest.param({"filename": "/partner/photo.jpg"}, "no secret key may sign for /partner/", id="public-only-rule"),
    ],
)
def test_minting_says_why_a_public_key_cannot_mint(client: TestClient, body: dict[str, Any], says: str) -> None:
    response = client.post("/v2/files/jwt", json={"expiresIn": 60, **body}, headers=AUTH)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid parameters"
    assert says in response.json()["parameters"]["kid"]


def test_an_origin_with_public_keys_only_verifies_and_explains_it_cannot_mint() -> None:
    settings = make_settings(keys={}, rules=(Rule(prefix="/"),))
    with TestClient(create_app(settings)) as client:
        token = jwt.encode({"exp": int(time.time()) + 60}, partner_key(), algorithm="EdDSA")
        assert client.get(f"/photo.jpg?jwt={token}&w=50").status_code == 200
        response = client.post("/v2/files/jwt", json={"filename": "/photo.jpg", "expiresIn": 60}, headers=AUTH)
        assert response.status_code == 400
        assert "public keys, which only verify" in response.json()["parameters"]["kid"]
        login = client.post("/studio/login", data={"token": ADMIN}, follow_redirects=False)
        assert login.status_code == 303
        options = client.get("/studio/api/options").json()
        assert options["keys"] == [] and options["rules"][0]["keys"] == []
        browse = client.get("/studio/api/browse", params={"path": "/"})
        assert browse.status_code == 200, browse.text
        assert browse.json()["images"] and all(image["thumbnail"] is None for image in browse.json()["images"])


def test_studio_options_list_only_the_keys_that_can_mint() -> None:
    with TestClient(create_app(make_settings())) as client:
        assert client.post("/studio/login", data={"token": ADMIN}, follow_redirects=False).status_code == 303
        options = client.get("/studio/api/options").json()
        assert options["keys"] == ["main"]
        assert {rule["prefix"]: rule["keys"] for rule in options["rules"]} == {"/": ["main"], "/partner/": []}
