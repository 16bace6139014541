"""CDN-correct response headers for images (SPEC §6) and conditional requests."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import quote

ETAG_VERSION = "1"


def make_etag(*parts: str) -> str:
    """A strong ETag derived only from what decides the bytes: the same in every process."""
    digest = hashlib.sha256("\x1f".join((ETAG_VERSION, *parts)).encode("utf-8")).hexdigest()
    return f'"{digest[:40]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for ``If-None-Match``."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


def max_age(cache_max_age: int, expires_at: float | None, now: float) -> int:
    """Seconds a cache may keep the response: never past the token's ``exp``."""
    if expires_at is None:
        return cache_max_age
    return max(0, min(cache_max_age, math.floor(expires_at - now)))


def content_disposition(path: str, extension: str, download: bool) -> str:
    name = path.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    filename = f"{stem}.{extension}"
    kind = "attachment" if download else "inline"
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename)
    if ascii_name == filename:
        return f'{kind}; filename="{filename}"'
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@dataclass(frozen=True, slots=True)
class Freshness:
    etag: str
    last_modified: float
    max_age: int
    now: float
    vary_accept: bool

    def headers(self) -> dict[str, str]:
        headers = {
            "ETag": self.etag,
            "Last-Modified": formatdate(self.last_modified, usegmt=True),
            "Cache-Control": f"public, max-age={self.max_age}",
            "Expires": formatdate(self.now + self.max_age, usegmt=True),
        }
        if self.vary_accept:
            headers["Vary"] = "Accept"
        return headers
