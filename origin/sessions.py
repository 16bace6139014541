"""Studio sessions: server-side, bounded, with an idle and an absolute lifetime.

A session is made by logging in with the admin token. Its id (32 random bytes) travels only in the
``origin_studio`` cookie; the store is keyed by a SHA-256 of it. Each session has its own CSRF
token, which the studio page embeds and sends back in ``X-CSRF-Token``. Sessions live in the
process that made them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

IDLE_SECONDS = 3600.0
ABSOLUTE_SECONDS = 8 * 3600.0
MAX_SESSIONS = 1000


@dataclass(frozen=True, slots=True)
class Session:
    id: str  # the cookie's value
    csrf_token: str
    created: float  # on the store's clock

    def csrf_matches(self, presented: str | None) -> bool:
        """Whether ``presented`` is this session's CSRF token (compared in constant time)."""
        if presented is None:
            return False
        return hmac.compare_digest(presented.encode("utf-8", "replace"), self.csrf_token.encode("ascii"))


class SessionStore:
    """At most ``max_sessions`` sessions (the least recently used is dropped first); one unused for
    ``idle`` seconds, or older than ``absolute`` seconds, is gone."""

    def __init__(
        self,
        *,
        idle: float = IDLE_SECONDS,
        absolute: float = ABSOLUTE_SECONDS,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._absolute = absolute
        self._clock = clock
        self._sessions: TTLCache[str, Session] = TTLCache(max_sessions, idle, timer=clock)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def create(self) -> Session:
        session = Session(id=secrets.token_urlsafe(32), csrf_token=secrets.token_urlsafe(32), created=self._clock())
        with self._lock:
            self._sessions[_digest(session.id)] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, its idle time restarted; ``None`` if there is none."""
        if not session_id:
            return None
        key = _digest(session_id)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if self._clock() - session.created >= self._absolute:
                del self._sessions[key]
                return None
            self._sessions[key] = session  # setting an entry again restarts its idle time
            return session

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(_digest(session_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()
