"""Canonical request paths (SPEC §1): one round of percent-decoding, then strict checks.

Nothing here touches the filesystem; confining a canonical path to the root (symlinks included)
is ``store.FolderStore.resolve``.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote_to_bytes

from origin.errors import InvalidPathError

CANONICAL_PATH = "origin.canonical_path"  # ASGI scope key set by the app's request-target check
RESERVED = ("/healthz", "/metrics", "/v2", "/studio", "/openapi.json")
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "gif", "avif"})
MAX_SEGMENT_BYTES = 255


def canonical_path(raw_path: bytes) -> str:
    """The decoded path of a request target, or ``InvalidPathError``.

    ``raw_path`` is the path as sent on the wire (no query string).
    """
    lowered = raw_path.lower()
    if b"%2f" in lowered or b"%5c" in lowered:
        raise InvalidPathError("encoded slash or backslash")
    try:
        text = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPathError("path is not valid UTF-8") from exc
    return check_path(text)


def check_path(text: str) -> str:
    """``text``, an already decoded path, if it is canonical; else ``InvalidPathError``."""
    if not text.startswith("/"):
        raise InvalidPathError("path must start with /")
    if "\\" in text:
        raise InvalidPathError("backslash in path")
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise InvalidPathError("control character in path")
    for segment in text[1:].split("/"):
        if segment in ("", ".", ".."):
            raise InvalidPathError("empty, '.' or '..' segment")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidPathError("path segment too long")
    return text


def is_reserved(path: str) -> bool:
    """Names the origin answers itself; files (or folders) of these names are never served."""
    return any(path == name or path.startswith(name + "/") for name in RESERVED)


def extension(path: str) -> str:
    """The lower-case extension of the last segment ('' when there is none)."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""
