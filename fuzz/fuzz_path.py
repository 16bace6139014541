#!/usr/bin/env python3
"""Fuzz target: the request path's canonical form (SPEC §1).

``canonical_path(raw)`` may only return a path or raise ``InvalidPathError``. A returned path is
checked against what the store relies on: it starts with ``/``, has no empty, ``.`` or ``..``
segment, no backslash and no control character, no segment over 255 bytes, is unchanged by
``posixpath.normpath`` and by ``check_path`` (idempotent), and came from a raw path holding no
encoded slash or backslash.

The first byte of an input picks the mode (``MODES``): ``0`` takes the rest as the raw path bytes
(seed files are readable: ``0/a/b.jpg``); ``1`` joins segments from a dictionary of tricky pieces.
"""

from __future__ import annotations

import posixpath
import sys
import unicodedata
from collections.abc import Callable
from typing import Any

try:
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # the unit tests drive TestOneInput with a stand-in provider
    atheris = None

if __name__ == "__main__" and atheris is not None:
    atheris.enabled_hooks.add("str")
    with atheris.instrument_imports(include=["origin", "transforms"]):
        from origin.errors import InvalidPathError
        from origin.paths import MAX_SEGMENT_BYTES, canonical_path, check_path
else:
    from origin.errors import InvalidPathError
    from origin.paths import MAX_SEGMENT_BYTES, canonical_path, check_path

FuzzedDataProvider: Callable[[bytes], Any] | None = atheris.FuzzedDataProvider if atheris is not None else None

PIECES = (
    b"a", b"img", b"a.jpg", b".", b"..", b"...", b"%2e", b"%2E%2e", b"%2f", b"%2F", b"%5c", b"%5C", b"%252f",
    b"\\", b"%00", b"%0a", b"%7f", b"%c2%85", b"%C3%A9", b"\xc3\xa9", b"%ff", b"%c3", b"%e2%80%ae", b"%",
    b"%%", b"%g0", b"%2", b"?", b"#", b";", b" ", b"%20", b"+", b"~", b"x" * 255, b"x" * 256, b"%78" * 86,
    b"\xe2\x80\x8b", b"%ef%bb%bf", b"%ed%a0%80", b"%f4%90%80%80", b"%c0%af",
)  # fmt: skip


def _rarely(fdp: Any, odds: int) -> bool:
    """True once in ``odds``; never when the data has run out (the provider then gives the minimum),
    so an exhausted input builds the ordinary case, not the odd one."""
    return bool(fdp.ConsumeIntInRange(0, odds - 1) == odds - 1)


def _check(raw: bytes) -> None:
    try:
        path = canonical_path(raw)
    except InvalidPathError as exc:
        assert isinstance(exc.detail, str) and exc.detail, exc.detail
        return
    assert isinstance(path, str) and path.startswith("/"), path
    lowered = raw.lower()
    assert b"%2f" not in lowered and b"%5c" not in lowered, raw
    assert "\\" not in path, path
    assert not any(unicodedata.category(char) == "Cc" for char in path), path
    for segment in path[1:].split("/"):
        assert segment not in ("", ".", ".."), path
        assert len(segment.encode("utf-8")) <= MAX_SEGMENT_BYTES, path
    assert posixpath.normpath(path) == path, path
    assert check_path(path) == path, path


def TestOneInput(data: bytes) -> None:  # noqa: N802 (libFuzzer's name)
    if not data:
        return
    MODES[data[0] % len(MODES)](data[1:])


def _mode_raw(rest: bytes) -> None:
    _check(rest)


def _mode_pieces(rest: bytes) -> None:
    assert FuzzedDataProvider is not None
    fdp = FuzzedDataProvider(rest)
    segments = []
    for _ in range(fdp.ConsumeIntInRange(0, 8)):
        if not _rarely(fdp, 4):
            segments.append(b"".join(fdp.PickValueInList(list(PIECES)) for _ in range(fdp.ConsumeIntInRange(1, 3))))
        else:
            segments.append(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 8)))
    lead = b"/" if not _rarely(fdp, 8) else fdp.PickValueInList([b"", b"//", b"%2f", b"\\", b"a/"])
    _check(lead + b"/".join(segments))


MODES = (_mode_raw, _mode_pieces)  # "0" (48) → raw bytes, "1" → pieces


def main() -> None:
    import warnings

    warnings.simplefilter("error")  # as in the test suite: a warning escaping the target is a failure
    assert atheris is not None, "pip install atheris"
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
