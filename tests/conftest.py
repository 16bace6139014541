"""Shared fixtures: settings on the bundled images, an app per test, and a token minter."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from PIL import Image
from starlette.testclient import TestClient

from origin import Settings, create_app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "images"
SECRET = b"test-secret-0123456789-abcdefghijklmnop"

Sign = Callable[..., str]


@pytest.fixture
def settings() -> Settings:
    return Settings(root=FIXTURES, keys={"main": SECRET}, render_concurrency=2)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def make_token(
    *, exp_in: float = 300, key: bytes = SECRET, headers: dict[str, Any] | None = None, **claims: Any
) -> str:
    """A token built with raw PyJWT, not the project's signer."""
    payload: dict[str, Any] = {"exp": int(time.time() + exp_in), **claims}
    return jwt.encode(payload, key, algorithm="HS256", headers=headers)


@pytest.fixture
def sign() -> Sign:
    """``sign("/photo.jpg", args={...}, query="w=300")`` → a URL path with query and token."""

    def _sign(path: str, *, query: str = "", **claims: Any) -> str:
        token = make_token(**claims)
        return f"{path}?{query + '&' if query else ''}jwt={token}"

    return _sign


def decode(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


# CI runs the property tests on a fixed sequence of examples, so a run is reproducible; by hand they
# explore new examples each time.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")
