"""One JSON line per request (the access log) and the per-request metrics, taken from the response.

An outermost ASGI middleware, so it sees every answer, errors and the request-target check
included. The token is never logged: the ``jwt`` value is replaced before anything is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from origin.metrics import Metrics

log = logging.getLogger("origin.access")
_TOKEN = re.compile(rb"(^|&)(jwt=)[^&]*")


def configure_access_log() -> None:
    """Write the access log, one JSON object a line, to standard output (in the serving process)."""
    access = logging.getLogger("origin.access")
    if access.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


def redacted_target(scope: Scope) -> str:
    path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    query: bytes = _TOKEN.sub(rb"\1\2REDACTED", scope.get("query_string", b""))
    target = path + (b"?" + query if query else b"")
    return target.decode("latin-1")[:2048]


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, object] = {"status": 500, "bytes": 0, "cache": None, "auth": None}

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                headers = {name.lower(): value for name, value in message.get("headers", [])}
                seen["cache"] = headers.get(b"x-cache", b"").decode("latin-1") or None
                seen["auth"] = headers.get(b"x-auth-result", b"").decode("latin-1") or None
            elif message["type"] == "http.response.body":
                seen["bytes"] = int(seen["bytes"]) + len(message.get("body", b""))  # type: ignore[call-overload]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            self._record(scope, seen, time.perf_counter() - started)

    def _record(self, scope: Scope, seen: dict[str, object], seconds: float) -> None:
        status = int(seen["status"])  # type: ignore[call-overload]
        self.metrics.requests.labels(str(status)).inc()
        if seen["cache"] == "HIT":
            self.metrics.cache_hits.inc()
        elif seen["cache"] == "MISS":
            self.metrics.cache_misses.inc()
        if status == 403 and seen["auth"]:
            self.metrics.auth_failures.labels(str(seen["auth"])).inc()
        if log.isEnabledFor(logging.INFO):
            log.info(
                json.dumps(
                    {
                        "method": scope.get("method"),
                        "path": redacted_target(scope),
                        "status": status,
                        "bytes": seen["bytes"],
                        "ms": round(seconds * 1000, 2),
                        "cache": seen["cache"],
                        "auth": seen["auth"],
                    },
                    ensure_ascii=False,
                )
            )
