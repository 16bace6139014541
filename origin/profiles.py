"""Profiles: named sets of parameters kept as JSON files in ``profiles_dir`` (Sirv's profiles).

A request names one with ``profile=`` (signed-only on protected paths); a rule may impose one on
top of everything (its strict profile). A file is read again when its mtime or size changes, so
an edit takes effect without a restart; a broken file is a 400 naming the profile, never a 500
and never a render without it.
"""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path
from typing import Any

from origin.errors import ParameterError
from origin.registry import Limits, ValueProblem, parse_profile_name

ArgValue = str | int | float | bool
MAX_PROFILE_BYTES = 64 * 1024


class ProfileStore:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder.resolve() if folder is not None else None
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[tuple[int, int], dict[str, ArgValue]]] = {}

    def load(self, name: str, *, label: str = "profile") -> dict[str, ArgValue]:
        """The parameters of profile ``name``; ``ParameterError`` naming ``label`` if unusable."""
        try:
            parse_profile_name(name, Limits(max_dimension=1))
        except ValueProblem as exc:
            raise ParameterError({label: str(exc)}) from exc
        if self.folder is None:
            raise ParameterError({label: "no profiles_dir is configured"})
        path = self.folder / f"{name}.json"
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ParameterError({label: f"no profile named {name!r}"}) from exc
        version = (st.st_mtime_ns, st.st_size)
        with self._lock:
            known = self._loaded.get(name)
        if known is not None and known[0] == version:
            return known[1]
        values = self._read(path, name, label)
        with self._lock:
            self._loaded[name] = (version, values)
        return values

    def _read(self, path: Path, name: str, label: str) -> dict[str, ArgValue]:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_PROFILE_BYTES + 1)
        except OSError as exc:
            raise ParameterError({label: f"profile {name!r} cannot be read"}) from exc
        if len(raw) > MAX_PROFILE_BYTES:
            raise ParameterError({label: f"profile {name!r} is larger than {MAX_PROFILE_BYTES} bytes"})
        try:
            value: Any = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_repeats)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ParameterError({label: f"profile {name!r} is not valid JSON: {exc}"}) from exc
        if not isinstance(value, dict) or not all(_is_scalar(item) for item in value.values()) or not _utf8(value):
            raise ParameterError({label: f"profile {name!r} must be a JSON object of strings, numbers and booleans"})
        return dict(value)


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"repeated parameter {', '.join(repeated)}")
    return dict(pairs)


def _utf8(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a \\ud800 escape
        return False
    return True


def _is_scalar(item: object) -> bool:
    if isinstance(item, str | int):  # bool is an int
        return True
    return isinstance(item, float) and math.isfinite(item)
