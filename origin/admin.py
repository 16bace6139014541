"""The admin token (``ORIGIN_ADMIN_TOKEN``): who may mint URLs and open the studio.

Presented tokens are compared in constant time (``hmac.compare_digest``). Wrong ones are counted per
client address over a sliding window; past ``max_attempts`` the client is refused with 429 and
``Retry-After`` until its oldest counted failure leaves the window, whatever it presents meanwhile.
The counts live in a bounded ``cachetools.TTLCache``, so a flood of addresses cannot grow memory.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache
from starlette.requests import Request

from origin.errors import TooManyAttemptsError, UnauthorizedError

MAX_ATTEMPTS = 5
WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000


class AdminGate:
    """Checks presented admin tokens, rate-limiting wrong ones per client."""

    def __init__(
        self,
        token: str,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        window: float = WINDOW_SECONDS,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token = token.encode("utf-8")
        self._max_attempts = max_attempts
        self._window = window
        self._clock = clock
        # client -> times of its recent failures; an entry lives `window` after its last failure.
        self._failures: TTLCache[str, tuple[float, ...]] = TTLCache(max_clients, window, timer=clock)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def check(self, presented: str | None, client: str) -> None:
        """Return if ``presented`` is the admin token; else ``UnauthorizedError`` (nothing or a wrong
        token) or ``TooManyAttemptsError`` (this client failed too often lately)."""
        now = self._clock()
        with self._lock:
            recent = self._recent(client, now)
            if len(recent) >= self._max_attempts:
                retry_after = max(1, math.ceil(recent[0] + self._window - now))
                raise TooManyAttemptsError(retry_after)
        if presented is None:
            raise UnauthorizedError("admin token required")
        if hmac.compare_digest(presented.encode("utf-8", "replace"), self._token):
            return
        with self._lock:
            self._failures[client] = (*self._recent(client, now), now)
        raise UnauthorizedError("wrong admin token")

    def _recent(self, client: str, now: float) -> tuple[float, ...]:
        return tuple(moment for moment in self._failures.get(client, ()) if moment > now - self._window)


def client_address(request: Request) -> str:
    """What wrong attempts are counted by: the client's IPv4 address, or its IPv6 /64 (one host
    usually holds a whole /64). uvicorn takes the address from ``X-Forwarded-For`` only on
    connections from ``--forwarded-allow-ips`` (by default 127.0.0.1: the shipped nginx in front)."""
    host = request.client.host if request.client is not None else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
