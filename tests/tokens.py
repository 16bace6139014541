"""Building token parts by hand, without PyJWT or the project's signer, so that a bug shared by
signer and verifier cannot hide."""

from __future__ import annotations

import base64
import json
from typing import Any

# The reason words of SPEC §3 (X-Auth-Result), written out here rather than imported from
# origin.auth, so that a misspelt word in the code fails the tests.
MISSING = "missing token"
MALFORMED = "malformed token"
ALGORITHM = "algorithm not allowed"
UNKNOWN_KEY = "unknown key"
SIGNATURE = "signature mismatch"
INVALID_PAYLOAD = "invalid payload"
EXPIRED = "expired key"
NOT_YET_VALID = "not yet valid"
AUDIENCE = "audience mismatch"
LIFETIME = "lifetime too long"
ALREADY_USED = "already used"
REASONS = frozenset(
    {MISSING, MALFORMED, ALGORITHM, UNKNOWN_KEY, SIGNATURE, INVALID_PAYLOAD, EXPIRED, NOT_YET_VALID, AUDIENCE, LIFETIME}
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def json_part(value: Any) -> str:
    """A token part: ``str`` is JSON text written by hand (sent as is), anything else is serialised."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return b64url(text.encode("utf-8"))
