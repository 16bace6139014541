#!/usr/bin/env python3
"""Fuzz target: the query parser and the parameter merger (SPEC §4).

``parse_query(raw)`` and ``merge_params(unsigned, signed, rule, settings, profile=, strict=)`` may
only ever answer with a result or ``ParameterError``; anything else escaping them would be a 500.
Beyond "no other exception", a few contract rules of SPEC §4 are checked on every input, so a
merge that silently accepts what must be a 400 is reported as a crash too:

- an unknown or repeated (alias included) unsigned name is always a ``ParameterError``;
- on a protected rule a signed-only unsigned name is always a ``ParameterError``;
- a ``ParameterError`` names at least one parameter, as text;
- a result lists as ignored only names the unsigned query gave, and yields a cache key;
- a ``ParameterError`` can be sent: ``errors.error_response`` renders it as a 400 (its JSON body
  names what the client wrote, and a token's ``args`` may hold any JSON string, lone surrogates too).

The first byte of an input picks the mode (``MODES``); mode ``0`` takes the rest as the query
string bytes, so seed files are readable (``0w=100&h=50``). Run: ``python fuzz/fuzz_params.py -help=1``
and see fuzz/README.md.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

try:
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # the unit tests drive TestOneInput with a stand-in provider
    atheris = None

if __name__ == "__main__" and atheris is not None:
    # Not the "RegEx" hook: atheris 3.0.0's crashes on bytes patterns (cryptography's, via jwt).
    atheris.enabled_hooks.add("str")  # startswith/endswith comparisons guide the fuzzer
    with atheris.instrument_imports(include=["origin", "transforms"]):
        from origin.errors import ParameterError, error_response
        from origin.params import Merged, merge_params, parse_query, requested_profile
        from origin.registry import BY_NAME, Limits, ValueProblem
        from origin.settings import Rule, Settings
        from transforms import Encoding, OutputFormat
else:
    from origin.errors import ParameterError, error_response
    from origin.params import Merged, merge_params, parse_query, requested_profile
    from origin.registry import BY_NAME, Limits, ValueProblem
    from origin.settings import Rule, Settings
    from transforms import Encoding, OutputFormat

# surrogate-in-error-body: a ParameterError naming a parameter whose name holds a lone surrogate
# (a token's args key "\ud800", which JSON allows) cannot be encoded as UTF-8: error_response
# raises UnicodeEncodeError, a 500 instead of the 400.

FuzzedDataProvider: Callable[[bytes], Any] | None = atheris.FuzzedDataProvider if atheris is not None else None

ROOT = Path(__file__).resolve().parent  # any directory: nothing here touches the file system
KEY = (b"fuzz-params-secret-" * 4)[:64]
SETTINGS = (
    Settings(root=ROOT, keys={"main": KEY}, render_concurrency=1),
    Settings(
        root=ROOT,
        keys={"main": KEY},
        render_concurrency=1,
        max_output_dimension=65_535,
        max_text_length=1,
        default_format=OutputFormat.WEBP,
    ),
    Settings(root=ROOT, keys={"main": KEY}, render_concurrency=1, max_output_dimension=1, max_text_length=5000),
)
RULES = (
    Rule(prefix="/", protect=True),
    Rule(prefix="/public/", protect=False),
    Rule(prefix="/some/", protect=True, unsigned_allowed=frozenset({"w", "h", "q", "format", "dl"})),
    Rule(prefix="/alias/", protect=True, unsigned_allowed=frozenset({"scale.width", "quality", "text", "nope"})),
    Rule(prefix="/none/", protect=True, unsigned_allowed=frozenset()),
    Rule(prefix="/open/", protect=False, unsigned_allowed=frozenset({"w"})),
)

NAMES = sorted(BY_NAME) + ["jwt", "W", "w ", " w", "", "text.", "scale", "unknown", "q\x00", "é"]
VALUES = (
    "", " ", "0", "1", "-1", "2", "50", "80", "100", "101", "1000", "8192", "8193", "65535", "65536", "9999999",
    "99999999", "1.5", "-0", "-0.0", "180", "-180", "180.0001", "-180.5", "1e3", "NaN", "inf", "0x10", "+1",
    "1%", "50%", "100%", "100.5%", "1000%", "1000.0001%", "0%", "0.0001%", ".5%", "%",
    "center", "true", "false", "True", "1 ", "yes",
    "fit", "fill", "ignore", "noup", "trim", "poi",
    "16:9", "0:1", "1:0", "9999:1", "16:9:1",
    "original", "optimal", "jpg", "jpeg", "png", "webp", "avif", "gif", "bmp",
    "4:4:4", "4:2:2", "4:2:0", "4:1:1",
    "north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest", "tile", "nowhere",
    "front", "back", "left", "right", "justify",
    "#ff00ff", "ff00ffcc", "#FF00FF80", "#ff00f", "red", "RED", "Red", "transparent", "none", "rebeccapurple",
    "sans", "serif", "mono", "normal", "bold", "italic", "100", "900", "950", "050",
    "/a.jpg", "/w/mark.png", "/a/../b.png", "/a//b.png", "a.png", "/a.txt", "/.png", "/a%2Fb.png", "/a\\b.png",
    "aGVsbG8", "aGVsbG8=", "aGVs bG8", "aGVsbG8-_", "/w==", "////", "gA==",
    "hello", "hello\nworld", "a\tb", "\x00", "\x7f", "é", "😀", "\u202e", "\ufeff", "x" * 501, "y" * 5001,
    "profile-1", "a" * 65, "../etc",
)  # fmt: skip


# Strings only a token's args or a profile file can carry: JSON escapes allow lone surrogates,
# while the query is strict UTF-8.
JSON_ONLY = ("\ud800", "a\udfff", "\udc80\ud83d", "text\ud800")


def _parses(name: str, text: str) -> bool:
    try:
        BY_NAME[name].parse(text, Limits(max_dimension=8192, max_text_length=500))
    except ValueProblem:
        return False
    return True


SUPPORTED = sorted(name for name, param in BY_NAME.items() if param.supported)
# Per name, the dictionary values its parser accepts: most pairs are valid, so merges get deep.
GOOD = {name: [text for text in VALUES if _parses(name, text)] or list(VALUES) for name in BY_NAME}


def _rarely(fdp: Any, odds: int) -> bool:
    """True once in ``odds``; never when the data has run out (the provider then gives the minimum),
    so an exhausted input builds the ordinary case, not the odd one."""
    return bool(fdp.ConsumeIntInRange(0, odds - 1) == odds - 1)


def _choice(fdp: Any, options: tuple[str, ...] | list[str], free: int) -> str:
    """Mostly a known spelling, sometimes free text of up to ``free`` characters."""
    if _rarely(fdp, 16):
        return str(fdp.ConsumeUnicodeNoSurrogates(free))
    return str(fdp.PickValueInList(list(options)))


def _name(fdp: Any) -> str:
    return _choice(fdp, NAMES if _rarely(fdp, 4) else SUPPORTED, 20)


def _text(fdp: Any, name: str) -> str:
    return _choice(fdp, VALUES if name not in GOOD or _rarely(fdp, 4) else GOOD[name], 40)


def _scalar(fdp: Any, name: str) -> str | int | float | bool:
    """A value as a token's ``args`` or a profile file may hold (JSON scalars, finite numbers)."""
    kind = fdp.ConsumeIntInRange(0, 7)
    if kind == 0:
        return bool(fdp.ConsumeBool())
    if kind == 1:
        return int(fdp.ConsumeIntInRange(-(2**64), 2**64))
    if kind == 2:
        value = float(fdp.ConsumeRegularFloat())
        return value if math.isfinite(value) else 0.5
    if kind == 3:
        return int(fdp.PickValueInList(["1", "100", "8192", "8193", "180", "181", "0", "-1"]))
    if _rarely(fdp, 16):
        return str(fdp.PickValueInList(list(JSON_ONLY)))
    return _text(fdp, name)


def _pairs(fdp: Any, most: int) -> list[tuple[str, str]]:
    names = [_name(fdp) for _ in range(fdp.ConsumeIntInRange(0, most))]
    return [(name, _text(fdp, name)) for name in names]


def _mapping(fdp: Any, most: int) -> dict[str, str | int | float | bool]:
    count = fdp.ConsumeIntInRange(0, most)
    names = [fdp.PickValueInList(list(JSON_ONLY)) if _rarely(fdp, 32) else _name(fdp) for _ in range(count)]
    return {name: _scalar(fdp, name) for name in names}


def _check_result(
    unsigned: list[tuple[str, str]],
    rule: Rule,
    result: Merged | None,
    error: ParameterError | None,
) -> None:
    """SPEC §4 rules every merge must keep, whatever the other layers hold."""
    names = [name for name, _ in unsigned]
    keys = [BY_NAME[name].key for name in names if name in BY_NAME]
    must_fail = []
    if any(name not in BY_NAME for name in names):
        must_fail.append("unknown unsigned parameter accepted")
    if len(set(keys)) != len(keys):
        must_fail.append("repeated unsigned parameter accepted")
    if rule.protect and any(BY_NAME[name].signed_only for name in names if name in BY_NAME):
        must_fail.append("signed-only parameter accepted unsigned on a protected rule")
    if error is not None:
        problems = error.problems
        assert problems, "ParameterError without a named problem"
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in problems.items()), problems
        _check_renders(error)
        return
    assert isinstance(result, Merged), type(result)
    assert not must_fail, f"{must_fail}: {unsigned!r}"
    assert set(result.ignored) <= set(names), (result.ignored, names)
    assert isinstance(result.options.cache_key(Encoding.JPEG), str)


def _check_renders(error: ParameterError) -> None:
    """The error must become its 400 response, as ``errors.error_response`` builds it."""
    response = error_response(error)
    assert response.status_code == 400 and isinstance(response.body, bytes), response


def _merge(
    fdp: Any,
    unsigned: list[tuple[str, str]],
    signed: Mapping[str, str | int | float | bool] | None,
    rule: Rule,
    settings: Settings,
) -> None:
    profile = _mapping(fdp, 6) if _rarely(fdp, 4) else None
    strict = _mapping(fdp, 6) if _rarely(fdp, 4) else None
    requested = requested_profile(unsigned, signed, rule)
    assert requested is None or requested.origin in ("query", "args"), requested
    result = error = None
    try:
        result = merge_params(
            unsigned,
            signed,
            rule,
            settings,
            profile=profile,
            profile_origin=requested.origin if requested else "args",
            strict=strict,
        )
    except ParameterError as exc:
        error = exc
    _check_result(unsigned, rule, result, error)


def _raw_query(raw: bytes) -> list[tuple[str, str]] | None:
    try:
        pairs = parse_query(raw)
    except ParameterError as exc:
        assert exc.problems and set(exc.problems) == {"query"}, exc.problems
        return None
    assert isinstance(pairs, list) and len(pairs) <= 100, len(pairs)
    assert all(isinstance(n, str) and isinstance(v, str) for n, v in pairs), pairs
    return pairs


def TestOneInput(data: bytes) -> None:  # noqa: N802 (libFuzzer's name)
    if not data:
        return
    mode = MODES[data[0] % len(MODES)]
    mode(data[1:])


def _mode_raw(rest: bytes) -> None:
    """The query string exactly as sent; the default (first) settings and rule, unsigned only."""
    pairs = _raw_query(rest)
    if pairs is not None:
        _check_merge_plain(pairs, RULES[0])
        _check_merge_plain(pairs, RULES[1])


def _check_merge_plain(pairs: list[tuple[str, str]], rule: Rule) -> None:
    result = error = None
    try:
        result = merge_params(pairs, None, rule, SETTINGS[0])
    except ParameterError as exc:
        error = exc
    _check_result(pairs, rule, result, error)


def _mode_structured(rest: bytes) -> None:
    """Every layer built from the provider: names from the registry, values from a dictionary."""
    assert FuzzedDataProvider is not None
    fdp = FuzzedDataProvider(rest)
    settings = fdp.PickValueInList(list(SETTINGS))
    rule = fdp.PickValueInList(list(RULES))
    signed = _mapping(fdp, 8) if fdp.ConsumeBool() else None
    unsigned = _pairs(fdp, 8)
    _merge(fdp, unsigned, signed, rule, settings)


def _mode_raw_signed(rest: bytes) -> None:
    """A structured token ``args``/profile layer, with the raw query from the remaining bytes."""
    assert FuzzedDataProvider is not None
    fdp = FuzzedDataProvider(rest)
    settings = fdp.PickValueInList(list(SETTINGS))
    rule = fdp.PickValueInList(list(RULES))
    signed = _mapping(fdp, 6) if fdp.ConsumeBool() else None
    raw = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
    pairs = _raw_query(raw)
    if pairs is not None:
        _merge(fdp, pairs, signed, rule, settings)


MODES = (_mode_raw, _mode_structured, _mode_raw_signed)  # "0" = 48 → raw, "1" → structured, "2" → both


def main() -> None:
    import warnings

    warnings.simplefilter("error")  # as in the test suite: a warning escaping the target is a failure
    assert atheris is not None, "pip install atheris"
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
