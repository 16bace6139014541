"""Building token parts by hand, without PyJWT or the project's signer, so that a bug shared by
signer and verifier cannot hide."""

from __future__ import annotations

import base64
import json
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def json_part(value: Any) -> str:
    """A token part: ``str`` is JSON text written by hand (sent as is), anything else is serialised."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return b64url(text.encode("utf-8"))
