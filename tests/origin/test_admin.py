"""The admin token: its setting, the constant-time check and the per-client limit of wrong attempts."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest

from origin.admin import AdminGate
from origin.errors import TooManyAttemptsError, UnauthorizedError
from origin.settings import ConfigError, Settings, load_settings
from tests.conftest import FIXTURES, SECRET

ADMIN = "admin-token-0123456789-abcdefghijklmnop"
GOOD_KEY = "k" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- the setting --------------------------------------------------------------------------------


def test_the_admin_token_comes_from_the_environment() -> None:
    settings = load_settings(root=str(FIXTURES), env={"ORIGIN_JWT_SECRET": GOOD_KEY, "ORIGIN_ADMIN_TOKEN": ADMIN})
    assert settings.admin_token == ADMIN
    assert load_settings(root=str(FIXTURES), env={"ORIGIN_JWT_SECRET": GOOD_KEY}).admin_token is None
    empty = {"ORIGIN_JWT_SECRET": GOOD_KEY, "ORIGIN_ADMIN_TOKEN": ""}
    assert load_settings(root=str(FIXTURES), env=empty).admin_token is None


@pytest.mark.parametrize("token", ["short", "x" * 31, "é" * 15])
def test_a_short_admin_token_refuses_to_start(token: str) -> None:
    with pytest.raises(ConfigError, match="admin_token: .*at least 32 bytes"):
        load_settings(root=str(FIXTURES), env={"ORIGIN_JWT_SECRET": GOOD_KEY, "ORIGIN_ADMIN_TOKEN": token})
    with pytest.raises(ConfigError, match="admin_token"):
        Settings(root=FIXTURES, keys={"main": SECRET}, admin_token=token)


def test_the_admin_token_is_never_a_configuration_file_key(tmp_path: Path) -> None:
    config = tmp_path / "origin.toml"
    config.write_text(f'root = "{FIXTURES}"\nadmin_token = "{ADMIN}"\n[keys]\nmain = "{GOOD_KEY}"\n')
    with pytest.raises(ConfigError, match="admin_token: .*ORIGIN_ADMIN_TOKEN"):
        load_settings(config_path=str(config), env={})


def test_the_admin_token_is_not_a_signing_key_and_not_in_repr() -> None:
    with pytest.raises(ConfigError, match="admin_token: .*signing keys"):
        Settings(root=FIXTURES, keys={"main": SECRET}, admin_token=SECRET.decode())
    assert ADMIN not in repr(Settings(root=FIXTURES, keys={"main": SECRET}, admin_token=ADMIN))


# ---- the gate -----------------------------------------------------------------------------------


def test_the_right_token_passes_and_a_wrong_or_missing_one_is_a_401() -> None:
    gate = AdminGate(ADMIN)
    gate.check(ADMIN, "1.2.3.4")
    with pytest.raises(UnauthorizedError) as raised:
        gate.check(ADMIN + "x", "1.2.3.4")
    assert raised.value.headers()["WWW-Authenticate"].startswith("Bearer")
    with pytest.raises(UnauthorizedError):
        gate.check(None, "1.2.3.4")
    with pytest.raises(UnauthorizedError):
        gate.check("é" + ADMIN[1:], "1.2.3.4")  # non-ASCII is compared as bytes, not an error


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    gate = AdminGate(ADMIN)
    gate.check(ADMIN, "c")
    with pytest.raises(UnauthorizedError):
        gate.check("wrong", "c")
    assert calls == [(ADMIN.encode(), ADMIN.encode()), (b"wrong", ADMIN.encode())]


def test_the_sixth_wrong_attempt_within_a_minute_is_a_429_until_the_window_passes() -> None:
    clock = Clock()
    gate = AdminGate(ADMIN, clock=clock)
    for _ in range(5):
        with pytest.raises(UnauthorizedError):
            gate.check("wrong", "1.2.3.4")
        clock.now += 1
    with pytest.raises(TooManyAttemptsError) as raised:
        gate.check("wrong", "1.2.3.4")
    assert raised.value.status_code == 429
    assert raised.value.headers() == {"Retry-After": "55"}  # the first failure leaves the window in 55 s
    with pytest.raises(TooManyAttemptsError):
        gate.check(ADMIN, "1.2.3.4")  # a blocked client is not even compared
    gate.check(ADMIN, "5.6.7.8")  # others are not blocked
    clock.now += 55
    gate.check(ADMIN, "1.2.3.4")  # the oldest failure has left the window


def test_failures_are_counted_over_a_sliding_window() -> None:
    clock = Clock()
    gate = AdminGate(ADMIN, max_attempts=2, window=10, clock=clock)
    with pytest.raises(UnauthorizedError):
        gate.check("wrong", "c")
    clock.now += 9
    with pytest.raises(UnauthorizedError):
        gate.check("wrong", "c")
    with pytest.raises(TooManyAttemptsError):
        gate.check("wrong", "c")
    clock.now += 1.5  # the first failure is out of the window; one remains
    with pytest.raises(UnauthorizedError):
        gate.check("wrong", "c")
    with pytest.raises(TooManyAttemptsError):
        gate.check(ADMIN, "c")


def test_the_attempt_counts_are_bounded() -> None:
    gate = AdminGate(ADMIN, max_clients=3)
    for client in range(100):
        with pytest.raises(UnauthorizedError):
            gate.check("wrong", str(client))
    assert len(gate._failures) <= 3


def test_wrong_attempts_are_counted_by_ipv4_address_or_ipv6_64() -> None:
    from types import SimpleNamespace

    from origin.admin import client_address

    def address(host: str) -> str:
        return client_address(SimpleNamespace(client=SimpleNamespace(host=host)))  # type: ignore[arg-type]

    assert address("203.0.113.7") == "203.0.113.7"
    assert address("2001:db8:1:2:aaaa::1") == address("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address("2001:db8:1:3::1") != address("2001:db8:1:2::1")
    assert address("unknown") == "unknown"
