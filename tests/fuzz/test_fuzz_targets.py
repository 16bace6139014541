"""The fuzz targets in fuzz/ run by the normal suite, without atheris' instrumentation.

Each target's ``TestOneInput`` is fed its seed corpus (fuzz/corpus/<target>/) and 200 random byte
strings, through a small stand-in for ``atheris.FuzzedDataProvider`` (always) and through the real
provider (where atheris is installed). A target passes when only the documented errors come out,
so the harnesses, their oracles and their seeds cannot rot between fuzzing campaigns. A few tests
also prove that the harnesses would notice a broken target.
"""

from __future__ import annotations

import importlib.util
import math
import random
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz"
TARGETS = ("params", "token", "path")
RANDOM_INPUTS = 200


class StandInProvider:
    """The part of ``atheris.FuzzedDataProvider`` the targets use, deterministic, in plain Python.

    Like the real one it never fails when the data runs out: it returns the smallest choice.
    """

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self._at = 0

    def _take(self, count: int) -> bytes:
        chunk = self._data[self._at : self._at + max(count, 0)]
        self._at += len(chunk)
        return chunk

    def remaining_bytes(self) -> int:
        return len(self._data) - self._at

    def ConsumeIntInRange(self, low: int, high: int) -> int:  # noqa: N802 (atheris' names)
        span = high - low
        if span <= 0:
            return low
        size = (span.bit_length() + 7) // 8
        return low + int.from_bytes(self._take(size).ljust(size, b"\0"), "little") % (span + 1)

    def ConsumeBool(self) -> bool:  # noqa: N802
        return self.ConsumeIntInRange(0, 1) == 1

    def PickValueInList(self, values: list[Any]) -> Any:  # noqa: N802
        return values[self.ConsumeIntInRange(0, len(values) - 1)]

    def ConsumeBytes(self, count: int) -> bytes:  # noqa: N802
        return self._take(count)

    def ConsumeUnicodeNoSurrogates(self, count: int) -> str:  # noqa: N802
        chars = []
        for byte in self._take(count):
            code = byte if byte < 0x80 else 0x80 + (byte * 2_654_435_761) % 0x10_FF80
            chars.append(chr(code + 0x800 if 0xD800 <= code <= 0xDFFF else code))
        return "".join(chars)

    def ConsumeRegularFloat(self) -> float:  # noqa: N802
        value = struct.unpack("<d", self._take(8).ljust(8, b"\0"))[0]
        return value if math.isfinite(value) else float(self.ConsumeIntInRange(-(2**53), 2**53))


def _load(target: str) -> ModuleType:
    path = FUZZ / f"fuzz_{target}.py"
    spec = importlib.util.spec_from_file_location(f"fuzz_{target}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imported, not run: no instrumentation, no libFuzzer
    return module


def _atheris_provider() -> Callable[[bytes], Any]:
    atheris = pytest.importorskip(
        "atheris", reason="atheris is not installed (pip install atheris)", exc_type=ImportError
    )
    return atheris.FuzzedDataProvider  # type: ignore[no-any-return]


PROVIDERS = {"stand-in": lambda: StandInProvider, "atheris": _atheris_provider}


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=sorted(PROVIDERS))
def module(request: pytest.FixtureRequest, target: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    loaded = _load(target)
    monkeypatch.setattr(loaded, "FuzzedDataProvider", PROVIDERS[request.param]())
    yield loaded


def _seeds(target: str) -> list[Path]:
    return sorted(path for path in (FUZZ / "corpus" / target).iterdir() if path.is_file())


def _random_inputs(target: str) -> list[bytes]:
    rng = random.Random(f"fuzz-{target}")
    inputs = []
    for index in range(RANDOM_INPUTS):
        size = rng.choice((0, 1, 2, 8, 32, 100, 300, 1000))
        data = bytearray(rng.getrandbits(8) for _ in range(size))
        if data and index % 2:  # half of them readable text behind a mode byte
            data[1:] = bytes(rng.choice(b"abcxyz=&%/.0123456789wjtq-_") for _ in range(len(data) - 1))
        inputs.append(bytes(data))
    return inputs


def test_every_target_has_seeds(target: str) -> None:
    seeds = _seeds(target)
    assert len(seeds) >= 5, seeds
    assert all(0 < path.stat().st_size <= 16 * 1024 for path in seeds)


def test_seed_corpus(module: ModuleType, target: str) -> None:
    for path in _seeds(target):
        module.TestOneInput(path.read_bytes())


def test_random_inputs(module: ModuleType, target: str) -> None:
    for data in _random_inputs(target):
        module.TestOneInput(data)


def test_every_mode_is_reached(target: str) -> None:
    module = _load(target)
    modes = {path.read_bytes()[0] % len(module.MODES) for path in _seeds(target)}
    assert modes == set(range(len(module.MODES)))


# --- the token seeds stay meaningful: four verify, each broken one fails for its own reason -----

TOKEN_SEEDS = {
    "valid": None,
    "valid-args": None,
    "valid-kid-next": None,
    "alg-none": "algorithm not allowed",
    "alg-hs512": "algorithm not allowed",
    "wrong-key": "signature mismatch",
    "key-not-allowed": "unknown key",
    "expired": "expired key",
    "not-yet-valid": "not yet valid",
    "audience": "audience mismatch",
    "exp-string": "invalid payload",
    "exp-bool": "invalid payload",
    "exp-huge": "invalid payload",
    "args-nested": "invalid payload",
    "use-once": None,  # a one-time link with its jti
    "use-once-without-jti": "invalid payload",
    "crit": "malformed token",
    "two-parts": "malformed token",
    "padded": "malformed token",
    "deep": "malformed token",
}


@pytest.mark.parametrize("name", sorted(TOKEN_SEEDS))
def test_token_seed_outcome(name: str) -> None:
    fuzz_token = _load("token")
    data = (FUZZ / "corpus" / "token" / name).read_bytes()
    assert data[:1] == b"0", "a raw-mode seed"
    settings = fuzz_token.SETTINGS[0]
    rule = settings.rule_for(fuzz_token.PATH)
    try:
        fuzz_token.verify_token(data[1:].decode(), fuzz_token.PATH, rule, settings, fuzz_token.NOW)
    except fuzz_token.AuthError as exc:
        assert exc.reason == TOKEN_SEEDS[name]
    else:
        assert TOKEN_SEEDS[name] is None


def test_structured_tokens_get_past_the_signature() -> None:
    """Random structured inputs must often build tokens that verify, or the fuzzer only sees the front door."""
    fuzz_token = _load("token")
    setattr(fuzz_token, "FuzzedDataProvider", StandInProvider)
    outcomes: dict[str, int] = {}
    verify = fuzz_token.verify_token

    def counting(*args: Any) -> Any:
        try:
            claims = verify(*args)
        except fuzz_token.AuthError as exc:
            outcomes[exc.reason] = outcomes.get(exc.reason, 0) + 1
            raise
        outcomes["ok"] = outcomes.get("ok", 0) + 1
        return claims

    setattr(fuzz_token, "verify_token", counting)
    rng = random.Random("past-the-signature")
    for index in range(400):
        fuzz_token.TestOneInput(bytes([49 + index % 2]) + rng.randbytes(rng.choice((16, 64, 200))))
    assert outcomes.get("ok", 0) >= 40, outcomes
    assert len(outcomes) >= 6, outcomes


# --- the harnesses notice a broken target -------------------------------------------------------


def test_token_oracle_rejects_a_verifier_that_accepts_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    fuzz_token = _load("token")
    monkeypatch.setattr(
        fuzz_token,
        "verify_token",
        lambda token, path, rule, settings, now: fuzz_token.Claims(
            expires_at=fuzz_token.NOW + 300, audience=None, args={}, key_id="main"
        ),
    )
    wrong_key = (FUZZ / "corpus" / "token" / "wrong-key").read_bytes()
    with pytest.raises(AssertionError, match="signature"):
        fuzz_token.TestOneInput(wrong_key)


def test_token_oracle_rejects_a_verifier_that_refuses_valid_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    fuzz_token = _load("token")
    monkeypatch.setattr(fuzz_token, "FuzzedDataProvider", StandInProvider)

    def refuse(*args: Any) -> Any:
        raise fuzz_token.AuthError("signature mismatch")

    monkeypatch.setattr(fuzz_token, "verify_token", refuse)
    rng = random.Random("refused")
    with pytest.raises(AssertionError, match="valid token was refused"):
        for _ in range(400):
            fuzz_token.TestOneInput(b"2" + rng.randbytes(64))


def test_unexpected_exceptions_escape(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    module = _load(target)
    function = {"params": "merge_params", "token": "verify_token", "path": "canonical_path"}[target]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(module, function, broken)
    seed = {"params": "size", "token": "valid", "path": "plain"}[target]
    with pytest.raises(KeyError):
        module.TestOneInput((FUZZ / "corpus" / target / seed).read_bytes())


def test_params_oracle_rejects_a_merge_that_accepts_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    fuzz_params = _load("params")
    real = fuzz_params.merge_params
    monkeypatch.setattr(fuzz_params, "merge_params", lambda unsigned, *rest, **kw: real([], *rest, **kw))
    with pytest.raises(AssertionError, match="unknown unsigned parameter accepted"):
        fuzz_params.TestOneInput((FUZZ / "corpus" / "params" / "unknown").read_bytes())


# --- fixed origin bugs the fuzzers found ---------------------------------------------------------


def test_a_lone_surrogate_in_a_parameter_name_renders_as_a_400() -> None:
    fuzz_params = _load("params")
    rule, settings = fuzz_params.RULES[0], fuzz_params.SETTINGS[0]
    with pytest.raises(fuzz_params.ParameterError) as caught:
        fuzz_params.merge_params([], {"\ud800": 1}, rule, settings)  # json.loads('{"\\ud800": 1}')
    fuzz_params._check_result([], rule, None, caught.value)
    response = fuzz_params.error_response(caught.value)
    assert response.status_code == 400 and b"\\ud800" in response.body
