"""The memo of verified tokens: a URL asked again skips decoding and the signature, never the clock."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.auth import TokenMemo, verify_token
from origin.errors import AuthError
from origin.settings import Rule
from tests.conftest import FIXTURES, SECRET, make_token
from tests.tokens import AUDIENCE, EXPIRED, LIFETIME, NOT_YET_VALID, SIGNATURE

SETTINGS = Settings(root=FIXTURES, keys={"main": SECRET}, jwt_leeway=0)
RULE = SETTINGS.rule_for("/photo.jpg")


def reason(call: object) -> str:
    with pytest.raises(AuthError) as raised:
        call()  # type: ignore[operator]
    return raised.value.reason


def test_a_remembered_token_still_expires() -> None:
    memo = TokenMemo()
    now = time.time()
    token = make_token(exp_in=10)
    first = verify_token(token, "/photo.jpg", RULE, SETTINGS, now, memo)
    assert memo.get(token, "/photo.jpg", RULE) is not None
    assert verify_token(token, "/photo.jpg", RULE, SETTINGS, now + 5, memo) is first  # no second decode
    assert reason(lambda: verify_token(token, "/photo.jpg", RULE, SETTINGS, now + 11, memo)) == EXPIRED


def test_a_remembered_token_is_not_valid_before_its_nbf_either() -> None:
    memo = TokenMemo()
    now = time.time()
    token = make_token(nbf=int(now) + 100)
    assert reason(lambda: verify_token(token, "/photo.jpg", RULE, SETTINGS, now, memo)) == NOT_YET_VALID
    assert memo.get(token, "/photo.jpg", RULE) is None  # failures are never remembered
    verify_token(token, "/photo.jpg", RULE, SETTINGS, now + 101, memo)
    assert reason(lambda: verify_token(token, "/photo.jpg", RULE, SETTINGS, now, memo)) == NOT_YET_VALID


def test_the_memo_is_per_path_and_rule() -> None:
    """A token remembered for one path is checked in full for another (its audience may not cover it)."""
    memo = TokenMemo()
    now = time.time()
    token = make_token(aud="/photo.jpg")
    verify_token(token, "/photo.jpg", RULE, SETTINGS, now, memo)
    assert reason(lambda: verify_token(token, "/alpha.png", RULE, SETTINGS, now, memo)) == AUDIENCE
    strict = Rule(prefix="/", max_token_lifetime=60)
    long_lived = make_token(exp_in=3600)
    verify_token(long_lived, "/photo.jpg", RULE, SETTINGS, now, memo)
    assert reason(lambda: verify_token(long_lived, "/photo.jpg", strict, SETTINGS, now, memo)) == LIFETIME


def test_a_forged_token_is_refused_every_time() -> None:
    memo = TokenMemo()
    forged = make_token(key=b"another-secret-that-is-long-enough-0123456789")
    for _ in range(2):
        assert reason(lambda: verify_token(forged, "/photo.jpg", RULE, SETTINGS, time.time(), memo)) == SIGNATURE


def test_the_memo_is_bounded() -> None:
    memo = TokenMemo(max_entries=8)
    now = time.time()
    tokens = [make_token(jti=str(n)) for n in range(20)]
    for token in tokens:
        verify_token(token, "/photo.jpg", RULE, SETTINGS, now, memo)
    assert [memo.get(token, "/photo.jpg", RULE) is not None for token in tokens] == [False] * 12 + [True] * 8


def test_a_url_asked_again_after_its_token_expired_is_refused() -> None:
    with TestClient(create_app(SETTINGS)) as client:
        url = f"/photo.jpg?w=50&jwt={make_token(exp_in=1)}"
        assert client.get(url).status_code == 200
        assert client.get(url).headers["x-cache"] == "HIT"
        time.sleep(1.1)
        refused = client.get(url)
    assert refused.status_code == 403 and refused.headers["x-auth-result"] == EXPIRED
