"""Parameters attacked through HTTP (SPEC §4 parameters and merging, §6 errors, §9 limits).

Every request goes through the whole ASGI app (``TestClient``), on the bundled fixtures:

(a) arbitrary query strings on a protected path with a valid token (Hypothesis);
(b) arbitrary signed ``args`` (Hypothesis), invalid JSON types included;
(c) strict number parsing for every numeric parameter of the registry, in the query and in
    signed args (as JSON strings, and as JSON number literals, which the README says are the same
    value as the integer they equal);
(d) injection attempts in colours, font names, watermark paths and profile names, while every
    file the process opens during the request is recorded.

The oracle for "which parameter must be named" is the registry's own parser for each single value
(``origin.registry``), plus the name rules of SPEC §4 (unknown, repeated, signed-only); the test
never asks ``origin.params`` what it thinks. A 400 ``invalid parameters`` body may only name
parameters that the request actually sent, spelled as sent (the one exception: a main overlay
parameter, ``text`` or ``watermark``, that the sent details require).
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import hmac
import io
import json
import math
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx2
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from origin import Settings, create_app
from origin.fonts import FONT_DIR
from origin.registry import BY_NAME, PARAMS, Limits, ValueProblem
from origin.settings import Rule
from tests.conftest import FIXTURES, SECRET, make_token

PATH = "/gray.png"  # 300×200: cheap to decode, so large outputs stay affordable
LIMITS = Limits(max_dimension=8192, max_text_length=500)  # the defaults of Settings
MAX_URL = 8192

UNKNOWN = "unknown parameter"
SIGNED_ONLY = "allowed only in signed args"
GENERIC_REASONS = {UNKNOWN, "repeated parameter", SIGNED_ONLY, "not allowed unsigned on this path"}

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# --------------------------------------------------------------------------------------------------
# apps, clients and what the process opens


class QueryRecorder:
    """ASGI wrapper keeping the raw query string each request arrived with (guards the harness:
    the HTTP client must not re-encode what the test built byte by byte)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope.get("query_string", b""))
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def recorder() -> QueryRecorder:
    return QueryRecorder(create_app(Settings(root=FIXTURES, keys={"main": SECRET})))


@pytest.fixture(scope="module")
def client(recorder: QueryRecorder) -> Iterator[TestClient]:
    """The contract's protected default: the whole root behind one key."""
    with TestClient(recorder, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def public_client() -> Iterator[TestClient]:
    """The whole root public, so that signed-only parameters reach their parsers from the query."""
    app = create_app(Settings(root=FIXTURES, keys={"main": SECRET}, rules=(Rule(prefix="/", protect=False),)))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("profiles")
    (folder / "brand.json").write_text(json.dumps({"w": 100, "format": "png"}))
    return folder.resolve()


@pytest.fixture(scope="module")
def profiled_client(profiles: Path) -> Iterator[TestClient]:
    """Protected root with a profiles folder (outside the image root, holding ``brand.json``)."""
    app = create_app(Settings(root=FIXTURES, keys={"main": SECRET}, profiles_dir=profiles))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def public_profiled_client(profiles: Path) -> Iterator[TestClient]:
    settings_ = Settings(
        root=FIXTURES, keys={"main": SECRET}, profiles_dir=profiles, rules=(Rule(prefix="/", protect=False),)
    )
    with TestClient(create_app(settings_), raise_server_exceptions=False) as test_client:
        yield test_client


TOKEN = make_token(exp_in=24 * 3600)  # no args, no aud: valid for every path of the protected app


_patch_lock = threading.Lock()


@contextmanager
def opened_files() -> Iterator[list[str]]:
    """Every path given to ``open`` (builtins and io) or ``os.open`` while the block runs, in any
    thread (the TestClient runs the app in another one). File descriptors are not paths: skipped."""
    paths: list[str] = []
    real_builtin, real_io, real_os = builtins.open, io.open, os.open

    def note(file: object, dir_fd: object = None) -> None:
        if isinstance(file, str | bytes | os.PathLike):
            name = os.fsdecode(file)
            paths.append(name if dir_fd is None else f"<dir_fd {dir_fd}>/{name}")

    def patched_builtin(file: Any, *args: Any, **kwargs: Any) -> Any:
        note(file)
        return real_builtin(file, *args, **kwargs)

    def patched_io(file: Any, *args: Any, **kwargs: Any) -> Any:
        note(file)
        return real_io(file, *args, **kwargs)

    def patched_os(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        note(path, dir_fd)
        return real_os(path, flags, mode, dir_fd=dir_fd)

    with _patch_lock:
        builtins.open, io.open, os.open = patched_builtin, patched_io, patched_os
        try:
            yield paths
        finally:
            builtins.open, io.open, os.open = real_builtin, real_io, real_os


def outside(paths: list[str], *allowed: Path) -> list[str]:
    """The opened paths that do not resolve (symlinks followed) inside one of ``allowed``."""
    roots = [Path(folder).resolve() for folder in allowed]
    bad = []
    for name in paths:
        if name.startswith("<dir_fd"):
            bad.append(name)
            continue
        real = Path(os.path.realpath(name))
        if not any(real == root or real.is_relative_to(root) for root in roots):
            bad.append(name)
    return bad


# --------------------------------------------------------------------------------------------------
# response checks


def json_error(response: httpx2.Response) -> dict[str, Any]:
    """A 4xx or 503 body: JSON object with an ``error`` string, never stored by a cache."""
    assert response.headers.get("content-type", "").startswith("application/json"), (
        response.status_code,
        response.headers.get("content-type"),
        response.content[:200],
    )
    body = json.loads(response.content)
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    assert response.headers.get("cache-control") == "no-store", response.headers
    return body


def invalid_parameters(response: httpx2.Response) -> dict[str, str]:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = json_error(response)
    assert body["error"] == "invalid parameters", body
    problems = body["parameters"]
    assert isinstance(problems, dict) and problems, body
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in problems.items()), body
    return problems


def rejects(param: str, text: str) -> bool:
    """The registry's own verdict on one value, alone (the oracle)."""
    try:
        BY_NAME[param].parse(text, LIMITS)
    except ValueProblem:
        return True
    return False


def accepts(param: str, text: str) -> bool:
    return not rejects(param, text)


def arg_text(value: str | int | float | bool) -> str:
    """A signed JSON scalar as the text it stands for (README: ``300`` and ``"300"`` are the same
    value, a float equal to a whole number is that number, booleans are ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def must_be_named(pairs: list[tuple[str, str]], *, unsigned_on_protected: bool) -> tuple[set[str], set[str]]:
    """(names every 400 must list, names that are unknown) for one layer of name/value pairs."""
    must: set[str] = set()
    unknown: set[str] = set()
    by_key: dict[str, list[str]] = defaultdict(list)
    for name, value in pairs:
        param = BY_NAME.get(name)
        if param is None:
            unknown.add(name)
            must.add(name)
            continue
        by_key[param.key].append(name)
        if unsigned_on_protected and param.signed_only:
            must.add(name)
        elif rejects(name, value):
            must.add(name)
    for names in by_key.values():
        if len(names) > 1:  # a repeated parameter, alias or not: every spelling is named
            must.update(names)
    return must, unknown


def allowed_unsent(name: str, why: str, sent: set[str]) -> bool:
    """``text``/``watermark`` named although unsent: only as "required by" sent details (by any
    spelling of them: that the message spells an alias as sent is checked on its own, in
    ``test_a_detail_without_its_overlay_is_reported_as_spelled``)."""
    if name not in ("text", "watermark") or not why.startswith("required by "):
        return False
    spellings = sent | {BY_NAME[given].key for given in sent if given in BY_NAME}
    return set(why.removeprefix("required by ").split(", ")) <= spellings


# --------------------------------------------------------------------------------------------------
# (a) arbitrary query strings on a protected path with a valid token

REGISTRY_NAMES = sorted(BY_NAME)
TRICKY_NAMES = [
    "W", "w ", " w", "w\x00", "", "w[]", ".w", "w.", "scale", "text.", "Jwt", "JWT", "jwt ", "q\u200b",
    "\uff57", "w;h", "w=1", "w&h", "w+h", "w%", "%77", "scale.width.", "TEXT", "profile ", "\u0301",
]  # fmt: skip
VALID_VALUES = [
    "1", "0", "50", "100", "300", "40%", "100%", "12.5%", "center", "true", "false", "1", "fit", "fill",
    "noup", "ignore", "png", "jpg", "webp", "gif", "avif", "original", "optimal", "4:4:4", "4:2:0", "16:9",
    "1:1", "north", "southeast", "tile", "red", "ff0000", "#00ff0080", "-90", "45.5", "180", "-180",
    "bold", "700", "serif", "italic", "left", "front", "back", "/watermark.png", "/alpha.png", "hello",
    "aGk", "brand", "trim", "sepia", "solid", "mirror", "highlights",
]  # fmt: skip
EDGE_VALUES = [
    "0", "-0", "-1", "1", "8192", "8193", "100", "101", "180", "-180", "180.0001", "181", "-181",
    "1000%", "1001%", "0%", "0.0001%", "9999999", "10000000", "1.5", "-1.5", "00001", "1e3", "+1",
    "0x10", "NaN", "inf", "\uff11\uff10\uff10", "\u0663", "0.00001", "99999999999999999999", "-0.0",
    "1;", "100;h=2", "", " ", "%", "%%", "%zz", "=", "1=2", "+", "true;", "\x00", "\n",
]  # fmt: skip
BAD_UTF8 = ["%ff", "%C3%28", "%80", "%ED%A0%80", "%F4%90%80%80"]  # raw escapes that are not UTF-8


names = st.one_of(st.sampled_from(REGISTRY_NAMES), st.sampled_from(TRICKY_NAMES), st.text(max_size=10)).filter(
    lambda name: name != "jwt"  # the token parameter itself: covered by tests/security/test_tokens.py
)
values = st.one_of(st.sampled_from(VALID_VALUES), st.sampled_from(EDGE_VALUES), st.text(max_size=16))
# Plausible requests too, so that a good share of the examples is rendered rather than refused: the
# parameters a page may add unsigned, each with a value its parser takes.
UNSIGNED_NAMES = sorted(name for name, param in BY_NAME.items() if param.supported and not param.signed_only)
plausible_pairs = st.lists(
    st.sampled_from(UNSIGNED_NAMES).flatmap(
        lambda name: st.tuples(
            st.just(name), st.sampled_from([v for v in VALID_VALUES + EDGE_VALUES if accepts(name, v)])
        )
    ),
    max_size=6,
    unique_by=lambda pair: BY_NAME[pair[0]].key,
)

ENCODERS: dict[str, tuple[Callable[[str], str], Callable[[str], str]]] = {
    # (name encoder, value encoder); each round-trips through one round of form decoding
    "percent": (lambda s: quote(s, safe=""), lambda s: quote(s, safe="")),
    "plus": (lambda s: quote_plus(s, safe=""), lambda s: quote_plus(s, safe="")),  # spaces as '+'
    "loose": (lambda s: quote(s, safe=";:,/@!$'()*"), lambda s: quote(s, safe=";:,/@!$'()*=")),  # raw ';' '='
}


@st.composite
def raw_queries(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]], bool]:
    """(raw query without the token, the decoded pairs it holds, whether it holds non-UTF-8 escapes)."""
    drawn: list[tuple[str, str]] = draw(st.one_of(plausible_pairs, st.lists(st.tuples(names, values), max_size=12)))
    pairs = list(drawn)
    repeat: bool = draw(st.booleans())
    if pairs and repeat:  # repeat some of the keys, maybe with other values
        for _ in range(draw(st.integers(1, 3))):
            name = draw(st.sampled_from([name for name, _ in pairs]))
            pairs.append((name, draw(values)))
    pairs = draw(st.permutations(pairs))
    chunks: list[str] = []
    for name, value in pairs:
        name_encoder, value_encoder = ENCODERS[draw(st.sampled_from(sorted(ENCODERS)))]
        if value == "" and name != "" and draw(st.booleans()):
            chunks.append(name_encoder(name))  # no '=' at all (a bare empty name is an empty segment)
        else:
            chunks.append(f"{name_encoder(name)}={value_encoder(value)}")
        if draw(st.integers(0, 9)) == 0:
            chunks.append("")  # an empty segment ('&&')
    bad = False
    if draw(st.integers(0, 14)) == 0:
        junk = draw(st.sampled_from(BAD_UTF8))
        chunks.insert(draw(st.integers(0, len(chunks))), draw(st.sampled_from([f"w={junk}", f"{junk}=1", junk])))
        bad = True
    return "&".join(chunks), pairs, bad


def check_query_response(
    response: httpx2.Response, pairs: list[tuple[str, str]], bad_encoding: bool, url_length: int
) -> None:
    status = response.status_code
    event(f"status {status}")
    assert status != 500, f"500 for {pairs!r}: {response.content[:300]!r}"
    assert status in (200, 400, 414, 503), (status, response.content[:300])
    if status >= 400:
        body = json_error(response)
    if url_length > MAX_URL:
        assert status == 414, status
        return
    assert status != 414, url_length
    if status == 503:
        assert response.headers.get("retry-after", "").isdigit()
        return
    if bad_encoding:
        assert invalid_parameters(response) == {"query": "must be percent-encoded UTF-8"}
        return
    must, unknown = must_be_named(pairs, unsigned_on_protected=True)
    sent = {name for name, _ in pairs}
    if status == 200:
        assert not must, f"200 although {sorted(must)} should have been refused"
        assert response.headers.get("x-auth-result") == "ok"
        return
    if body["error"] != "invalid parameters":
        assert body["error"] == "output too large", body
        assert not must, f"{body} although {sorted(must)} should have been named"
        return
    problems = invalid_parameters(response)
    unsent = {name: why for name, why in problems.items() if name not in sent}
    assert not unsent, f"400 names parameters that were not sent: {unsent} (sent {sorted(sent)})"
    missing = must - problems.keys()
    assert not missing, f"400 {problems} does not name {sorted(missing)}"
    for name in unknown:
        assert problems[name] == UNKNOWN, (name, problems[name])
    for name, why in problems.items():
        if name not in must:  # named although the oracle found nothing wrong with it
            assert why not in GENERIC_REASONS, (name, why)


@PROPERTY
@given(query=raw_queries())
@example(query=("w=1;h=2", [("w", "1;h=2")], False))
@example(query=("w=+100&h=%2B100", [("w", " 100"), ("h", "+100")], False))
@example(query=("bogus&w=&text=x&w=2", [("bogus", ""), ("w", ""), ("text", "x"), ("w", "2")], False))
@example(
    query=(
        "scale.width=10&w=20&quality=5&q=6",
        [("scale.width", "10"), ("w", "20"), ("quality", "5"), ("q", "6")],
        False,
    )
)  # noqa: E501
@example(query=("%77=100", [("w", "100")], False))
@example(query=("w=%ff", [("w", "?")], True))
def test_arbitrary_query_strings_never_500_and_name_only_what_was_sent(
    client: TestClient, recorder: QueryRecorder, query: tuple[str, list[tuple[str, str]], bool]
) -> None:
    raw, pairs, bad_encoding = query
    full = f"{raw}&jwt={TOKEN}" if raw else f"jwt={TOKEN}"
    url = f"{PATH}?{full}"
    response = client.get(url)
    if response.status_code != 414:
        assert recorder.seen[-1] == full.encode("ascii"), "the HTTP client changed the query"
    check_query_response(response, pairs, bad_encoding, len(url))


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("&".join(f"w{i}=1" for i in range(101)), "query"),  # more than 100 parameters
        ("text=%C3", "query"),
        ("w=%ED%A0%80", "query"),  # an encoded surrogate is not UTF-8
    ],
)
def test_whole_query_problems_are_a_400_naming_the_query(client: TestClient, raw: str, name: str) -> None:
    problems = invalid_parameters(client.get(f"{PATH}?{raw}&jwt={TOKEN}"))
    assert list(problems) == [name]


# --------------------------------------------------------------------------------------------------
# (b) arbitrary signed args

json_scalars = st.one_of(
    st.sampled_from(VALID_VALUES),
    st.sampled_from(EDGE_VALUES),
    st.text(max_size=16),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 100, 8192, 8193, -1, 180, -180, 10**15, 2**53 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 100.0, 1000.0, 12.5, 45.5, 1e-7, 1e300, 5e-324, 180.00001]),
    st.booleans(),
)
json_invalid = st.one_of(
    st.none(),
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=3), st.dictionaries(st.text(max_size=3), st.none(), max_size=2), max_size=2),
)
arg_names = st.one_of(st.sampled_from(REGISTRY_NAMES), st.sampled_from(TRICKY_NAMES), st.text(max_size=10))
random_args = st.dictionaries(arg_names, st.one_of(json_scalars, json_scalars, json_scalars, json_invalid), max_size=8)


def _as_json(text: str) -> st.SearchStrategy[str | int | float | bool]:
    """A valid value as a JSON string, or as the JSON number or boolean it equals."""
    choices: list[str | int | float | bool] = [text]
    if text.lstrip("-").isdigit():
        choices += [int(text), float(text)]
    elif text in ("true", "false"):
        choices.append(text == "true")
    return st.sampled_from(choices)


SIGNABLE_NAMES = sorted(name for name, param in BY_NAME.items() if param.supported)
plausible_args = st.lists(
    st.sampled_from(SIGNABLE_NAMES).flatmap(
        lambda name: st.tuples(
            st.just(name),
            st.sampled_from([v for v in VALID_VALUES + EDGE_VALUES if accepts(name, v)]).flatmap(_as_json),
        )
    ),
    max_size=6,
    unique_by=lambda pair: BY_NAME[pair[0]].key,
).map(dict)
signed_args = st.one_of(plausible_args, random_args)


def is_valid_arg(value: object) -> bool:
    """SPEC §3: ``args`` is a JSON object of strings, numbers and booleans (finite numbers: NaN and
    Infinity are not JSON)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_args_response(response: httpx2.Response, args: Mapping[str, Any], token: str) -> None:
    status = response.status_code
    event(f"status {status}")
    assert status != 500, f"500 for args {args!r}: {response.content[:300]!r}"
    assert status in (200, 400, 403, 503), (status, response.content[:300])
    if status >= 400:
        body = json_error(response)
    if len(token.encode()) > 4096 or has_lone_surrogate(args):
        # too long, or holding a lone surrogate (a \\ud800 escape: no real text): a malformed token
        assert (status, response.headers.get("x-auth-result")) == (403, "malformed token")
        return
    if not all(is_valid_arg(value) for value in args.values()):
        assert status == 403, f"{status} for args {args!r}"
        assert response.headers.get("x-auth-result") == "invalid payload"
        assert body == {"error": "forbidden", "reason": "invalid payload"}, body
        return
    assert status != 403, (args, response.headers.get("x-auth-result"))
    if status == 503:
        assert response.headers.get("retry-after", "").isdigit()
        return
    pairs = [(name, arg_text(value)) for name, value in args.items()]
    must, unknown = must_be_named(pairs, unsigned_on_protected=False)
    sent = set(args)
    if status == 200:
        assert not must, f"200 although {sorted(must)} should have been refused: {args!r}"
        return
    if body["error"] != "invalid parameters":
        assert body["error"] == "output too large", body
        assert not must, f"{body} although {sorted(must)} should have been named"
        return
    problems = invalid_parameters(response)
    unsent = {name: why for name, why in problems.items() if name not in sent and not allowed_unsent(name, why, sent)}
    assert not unsent, f"400 names parameters that were not sent: {unsent} (sent {sorted(sent)})"
    missing = must - problems.keys()
    assert not missing, f"400 {problems} does not name {sorted(missing)}"
    for name in unknown:
        assert problems[name] == UNKNOWN, (name, problems[name])


@PROPERTY
@given(args=signed_args)
@example(args={"w": 300, "scale.width": "300"})
@example(args={"w": None})
@example(args={"w": [300]})
@example(args={"w": {"$gt": 1}})
@example(args={"q": math.nan})
@example(args={"q": -math.inf})
@example(args={"text.color": "red"})
@example(args={"watermark.opacity": 50, "text.size": 10})
@example(args={"text": "\ud800", "text.font.size": 8192})
@example(args={"watermark": "/watermark.png", "watermark.position": "tile", "watermark.rotate": -180.0})
@example(args={"profile": "brand"})
@example(args={"": ""})
@example(args={"jwt": "x"})
def test_arbitrary_signed_args_answer_200_400_or_403_never_500(client: TestClient, args: dict[str, Any]) -> None:
    token = make_token(exp_in=3600, args=args)
    with opened_files() as paths:
        response = client.get(f"{PATH}?jwt={token}")
    check_args_response(response, args, token)
    assert outside(paths, FIXTURES, FONT_DIR) == [], f"opened outside the root for {args!r}"


@pytest.mark.parametrize(
    ("args", "main", "detail"),
    [
        ({"text.color": "red"}, "text", "text.color"),
        ({"text.position.gravity": "north"}, "text", "text.position.gravity"),
        ({"watermark.opacity": 50}, "watermark", "watermark.opacity"),
        ({"watermark.position.gravity": "north"}, "watermark", "watermark.position.gravity"),
    ],
)
def test_a_detail_without_its_overlay_is_reported_as_spelled(
    client: TestClient, public_client: TestClient, args: dict[str, Any], main: str, detail: str
) -> None:
    """The 400 points at the missing overlay and at the detail that needs it, spelled as sent
    (``origin.params``: "named as the client wrote it"), in signed args and in a public query."""
    from_args = invalid_parameters(client.get(f"{PATH}?jwt={make_token(args=args)}"))
    from_query = invalid_parameters(public_client.get(f"{PATH}?{detail}={quote(str(args[detail]))}"))
    for problems in (from_args, from_query):
        named = set(problems) | set(problems.get(main, "").removeprefix("required by ").split(", "))
        assert detail in named, problems


# --------------------------------------------------------------------------------------------------
# (c) strict number parsing for every numeric parameter


# A parameter is numeric when it takes a plain number ("50" or "100") but not a word: derived from
# the registry, so a numeric parameter added later is covered without editing this file.
NUMERIC = sorted(
    name
    for name, param in BY_NAME.items()
    if param.supported and (accepts(name, "50") or accepts(name, "100")) and not accepts(name, "abc")
)
BRIEF_NUMERIC = {
    "w", "h", "s", "cw", "ch", "cx", "cy", "q", "rotate", "text.size", "text.font.size", "text.opacity",
    "watermark.opacity", "watermark.rotate", "scale.width", "scale.height", "quality", "text.position.x",
    "text.position.y", "text.outline.width", "text.outline.opacity", "text.outline.blur",
    "text.background.opacity", "watermark.position.x", "watermark.position.y", "watermark.scale.width",
    "watermark.scale.height", "text.font.weight",
}  # fmt: skip

NOT_NUMBERS = [
    "+100", " 100", "100 ", "1_000", "\uff11\uff10\uff10", "1e3", "0x10", "NaN", "nan", "inf", "-inf",
    "Infinity", "\uff11e2", "100%%", "\u0661\u0660\u0660",
    # a few more spellings a lenient parser (float(), int(), Decimal, locale) would take
    "100.", ".5", "1,000", "\u2212" "1", "100\n", "\t100", "10\u00a00", "0b1", "1/2", "--1", "1.0.0",
    "\U0001d7cf\U0001d7ce\U0001d7ce", "100\x00", "1e-3", "0o10",
]  # fmt: skip


def companions(name: str) -> dict[str, str]:
    """What a detail parameter needs beside it to be meaningful (an overlay's main parameter)."""
    if name.startswith("text."):
        return {"text": "hi"}
    if name.startswith("watermark."):
        return {"watermark": "/watermark.png"}
    return {}


def test_the_numeric_parameters_are_found_in_the_registry() -> None:
    assert BRIEF_NUMERIC <= set(NUMERIC), BRIEF_NUMERIC - set(NUMERIC)
    assert all(param.supported for param in PARAMS)  # every name of SPEC §4 renders


def test_every_not_number_is_refused_by_the_registry_parsers() -> None:
    """The oracle itself: each spelling is a parse error for each numeric parameter."""
    accepted = [(name, value) for name in NUMERIC for value in NOT_NUMBERS if accepts(name, value)]
    assert accepted == []


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize("name", NUMERIC)
def test_numbers_in_the_query_are_parsed_strictly(
    public_client: TestClient, client: TestClient, name: str, value: str
) -> None:
    query = (
        "".join(f"{k}={quote(v, safe='')}&" for k, v in companions(name).items()) + f"{name}={quote(value, safe='')}"
    )
    problems = invalid_parameters(public_client.get(f"{PATH}?{query}"))
    assert list(problems) == [name], problems
    assert problems[name] not in GENERIC_REASONS, problems  # refused by its parser, not by a name rule
    if not BY_NAME[name].signed_only:  # the same on the protected path, with a valid token
        assert invalid_parameters(client.get(f"{PATH}?{query}&jwt={TOKEN}")) == problems


@pytest.mark.parametrize("value", NOT_NUMBERS)
@pytest.mark.parametrize("name", NUMERIC)
def test_numbers_in_signed_args_are_parsed_strictly(client: TestClient, name: str, value: str) -> None:
    token = make_token(args={**companions(name), name: value})
    problems = invalid_parameters(client.get(f"{PATH}?jwt={token}"))
    assert list(problems) == [name], problems
    assert problems[name] not in GENERIC_REASONS, problems


def raw_token(payload: str) -> str:
    """An HS256 token whose payload is exactly ``payload`` (JSON text written by hand, so number
    literals such as ``1e3`` or ``-0`` reach the origin as written)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(payload.encode())}"
    signature = hmac.new(SECRET, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def args_payload(name: str, literal: str) -> str:
    extra = "".join(f"{json.dumps(k)}: {json.dumps(v)}, " for k, v in companions(name).items())
    return f'{{"exp": {int(time.time()) + 3600}, "args": {{{extra}{json.dumps(name)}: {literal}}}}}'


# JSON number literals and the value each one is (README: 300 and "300" are the same value, a float
# like 1000.0 equals 1000)
NUMBER_LITERALS = {
    "1e3": "1000", "1E3": "1000", "1e+3": "1000", "1000.0": "1000", "10e2": "1000", "0.1e4": "1000",
    "1000.000": "1000", "1e2": "100", "100.0": "100", "1.0e2": "100", "1E2": "100", "5e1": "50",
    "2.5e1": "25", "-0": "0", "-0.0": "0", "0.0": "0", "0e5": "0", "0E-3": "0", "12.5": "12.5",
    "-45.5": "-45.5", "45e-1": "4.5",
}  # fmt: skip


def outcome(response: httpx2.Response) -> tuple[int, object]:
    """What a response amounts to: the status and the problems, or the ETag of the image."""
    if response.status_code == 200:
        return 200, response.headers["etag"]
    if response.status_code == 400:
        return 400, json_error(response).get("parameters", json_error(response)["error"])
    return response.status_code, response.content[:200]


@pytest.mark.parametrize("literal", sorted(NUMBER_LITERALS))
@pytest.mark.parametrize("name", NUMERIC)
def test_a_json_number_is_the_value_it_equals(client: TestClient, name: str, literal: str) -> None:
    as_number = client.get(f"{PATH}?jwt={raw_token(args_payload(name, literal))}")
    as_text = client.get(f"{PATH}?jwt={make_token(args={**companions(name), name: NUMBER_LITERALS[literal]})}")
    assert as_number.status_code != 500 and as_text.status_code != 500
    assert outcome(as_number) == outcome(as_text), (name, literal)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
@pytest.mark.parametrize("name", NUMERIC)
def test_non_finite_json_numbers_are_refused(client: TestClient, name: str, literal: str) -> None:
    """NaN and Infinity are not JSON; 1e400 is JSON but no finite number: never a 200 or a 500."""
    response = client.get(f"{PATH}?jwt={raw_token(args_payload(name, literal))}")
    if response.status_code == 403:
        assert response.headers.get("x-auth-result") == "invalid payload"
        json_error(response)
    else:
        assert literal.endswith("e400"), (response.status_code, response.content[:200])
        assert list(invalid_parameters(response)) == [name]


@pytest.mark.parametrize(
    "value", ["+16:9", "16:+9", "\uff11\uff16:9", "16:9 ", " 16:9", "1e1:9", "16.0:9", "16:9:1", "16/9", "16:-9",
              "0x10:9", "16\u2236" "9", "\u0661\u0666:9", "16:", ":9", "16 :9", "1_6:9"],
)  # fmt: skip
def test_aspect_ratios_are_parsed_strictly(client: TestClient, value: str) -> None:
    problems = invalid_parameters(client.get(f"{PATH}?crop.aspectratio={quote(value, safe='')}&jwt={TOKEN}"))
    assert list(problems) == ["crop.aspectratio"]
    token = make_token(args={"crop.aspectratio": value})
    assert list(invalid_parameters(client.get(f"{PATH}?jwt={token}"))) == ["crop.aspectratio"]


# --------------------------------------------------------------------------------------------------
# (d) injection attempts: refused, naming the parameter, and nothing outside the root is opened

COLOURS = [
    "red;", "#ff000", "rgb(0,0,0)", "javascript:alert(1)", "f" * 2000, "#" + "ff" * 600, "red\x00", "#ff0000ff00",
    "url(x)", "expression(alert(1))", "#gggggg", "\u0440ed", "red ", " red", "var(--x)", "ff0000\n", "#ff 000",
    "0xff0000", "hsl(0,100%,50%)", "red;background:url(//evil)", "%23ff0000", "\uff46\uff46\uff10\uff10\uff10\uff10",
]  # fmt: skip
FONTS = [
    "../../etc/passwd", "/usr/share/fonts/x.ttf", "DejaVuSans.ttf", "sans\x00", "Sans", "SANS", "sans ", " sans",
    "sans/../serif", "serif.ttf", str(FONT_DIR / "DejaVuSans.ttf"), "file:///etc/passwd", "%2e%2e/x", "..",
    "\uff53ans", "sans\n", "DejaVu Sans", "monospace", "sans-serif",
]  # fmt: skip
WATERMARKS = [
    "/../x.png", "/%2e%2e/x.png", "//etc/passwd.png", "/watermark.png%00.txt", "C:\\x.png",
    "/fixtures/../../etc/passwd", "http://127.0.0.1/x.png", "/" + "a" * 2000 + ".png", "/" + "a/" * 700 + "x.png",
    "/watermark.png\x00.png", "/etc/passwd", "/watermark.png/", "/./watermark.png", "\\\\server\\share\\x.png",
    "file:///etc/passwd.png", "/Watermark.png", "/gallery/../watermark.png", "/gallery//one.jpg", "watermark.png",
    "/watermark.png\n", "/..%2fx.png", "/%2e%2e%2fetc%2fpasswd.png", "/\uff0e\uff0e/x.png", "/healthz/x.png",
    "/gallery", "/gallery/", "~/x.png", "/proc/self/environ.png", "/" + os.path.relpath("/etc/passwd", FIXTURES),
]  # fmt: skip
PROFILE_NAMES = [
    "../x", "x/y", ".hidden", "a" * 65, "con", "caf\u00e9", "brand.json", "brand\x00", "/etc/passwd", "..", "brand ",
    "BRAND", "aux", "nul", "", "brand/", "%2e%2e", "\u0431rand", "brand\n", "\\brand",
]  # fmt: skip

INJECTIONS = (
    [("text.color", v) for v in COLOURS]
    + [("text.outline.color", v) for v in COLOURS[:6]]
    + [("text.background.color", v) for v in COLOURS[:6]]
    + [("text.font.family", v) for v in FONTS]
    + [("watermark", v) for v in WATERMARKS]
    + [("profile", v) for v in PROFILE_NAMES]
)
CONTROLS = [  # the same parameters with good values: accepted, so the refusals above are about the values
    ("text.color", "red"), ("text.color", "#00ff0080"), ("text.outline.color", "000000"),
    ("text.background.color", "Navy"), ("text.font.family", "serif"), ("text.font.family", "mono"),
    ("watermark", "/watermark.png"), ("watermark", "/gallery/deep/three.jpg"), ("profile", "brand"),
]  # fmt: skip


def injection_id(case: tuple[str, str]) -> str:
    name, value = case
    shown = value if len(value) <= 24 else f"{value[:12]}…({len(value)})"
    return f"{name}={shown!r}"


def injection_args(name: str, value: str) -> dict[str, str]:
    return {**companions(name), name: value}


@pytest.mark.parametrize("case", INJECTIONS, ids=injection_id)
def test_injections_in_signed_args_are_refused_without_touching_other_files(
    profiled_client: TestClient, profiles: Path, case: tuple[str, str]
) -> None:
    name, value = case
    token = make_token(args=injection_args(name, value))
    assert len(token) <= 4096, "the case does not fit in a token"
    with opened_files() as paths:
        response = profiled_client.get(f"{PATH}?jwt={token}")
    assert response.status_code != 500, response.content[:300]
    problems = invalid_parameters(response)
    assert list(problems) == [name], problems
    assert outside(paths, FIXTURES, FONT_DIR, profiles) == []


@pytest.mark.parametrize("case", INJECTIONS, ids=injection_id)
def test_injections_in_the_query_of_a_public_path_are_refused_without_touching_other_files(
    public_profiled_client: TestClient, profiles: Path, case: tuple[str, str]
) -> None:
    name, value = case
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in injection_args(name, value).items())
    with opened_files() as paths:
        response = public_profiled_client.get(f"{PATH}?{query}")
    assert response.status_code != 500, response.content[:300]
    problems = invalid_parameters(response)
    assert list(problems) == [name], problems
    assert outside(paths, FIXTURES, FONT_DIR, profiles) == []


@pytest.mark.parametrize("case", INJECTIONS, ids=injection_id)
def test_injections_unsigned_on_a_protected_path_are_signed_only(client: TestClient, case: tuple[str, str]) -> None:
    name, value = case
    with opened_files() as paths:
        response = client.get(f"{PATH}?{name}={quote(value, safe='')}&jwt={TOKEN}")
    assert invalid_parameters(response) == {name: SIGNED_ONLY}
    assert paths == []  # refused before any file is touched


@pytest.mark.parametrize("case", CONTROLS, ids=injection_id)
def test_the_same_parameters_with_good_values_are_served(
    profiled_client: TestClient, profiles: Path, case: tuple[str, str]
) -> None:
    name, value = case
    token = make_token(args=injection_args(name, value))
    with opened_files() as paths:
        response = profiled_client.get(f"{PATH}?jwt={token}")
    assert response.status_code == 200, response.content[:300]
    assert outside(paths, FIXTURES, FONT_DIR, profiles) == []


@pytest.fixture(scope="module")
def trapped_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An image root holding symlinks that lead out of it, to a real PNG and to a folder holding one."""
    base = tmp_path_factory.mktemp("trap")
    root, secret = base / "root", base / "secret"
    root.mkdir()
    secret.mkdir()
    (root / "gray.png").write_bytes((FIXTURES / "gray.png").read_bytes())
    (secret / "mark.png").write_bytes((FIXTURES / "watermark.png").read_bytes())
    (root / "evil.png").symlink_to(secret / "mark.png")
    (root / "out").symlink_to(secret, target_is_directory=True)
    (root / "loop.png").symlink_to(root / "loop.png")
    return root.resolve(), secret.resolve()


@pytest.mark.parametrize("mark", ["/evil.png", "/out/mark.png", "/loop.png"])
def test_a_watermark_symlinked_out_of_the_root_is_refused(trapped_root: tuple[Path, Path], mark: str) -> None:
    root, secret = trapped_root
    app = create_app(Settings(root=root, keys={"main": SECRET}))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        with opened_files() as paths:
            response = test_client.get(f"{PATH}?jwt={make_token(args={'watermark': mark})}")
    assert list(invalid_parameters(response)) == ["watermark"]
    assert outside(paths, root, FONT_DIR) == []
    assert not any(Path(os.path.realpath(p)).is_relative_to(secret) for p in paths)
