"""Originals from an HTTP(S) upstream: ``[stores.NAME] type = "http"``.

The source of ``/photos/cat.jpg`` is ``<base_url>/photos/cat.jpg``, each segment percent-encoded.

What each question costs the upstream:

- ``stat`` (every request, hit or miss) asks ``HEAD`` for the version: the ``ETag`` (strong or weak, as
  text), else ``Last-Modified``, and the size. An upstream that answers 405 or 501 to ``HEAD`` is asked
  with a ranged ``GET bytes=0-0`` from then on. The answer is trusted for ``metadata_ttl`` seconds, per
  path (the last ``METADATA_ENTRIES`` paths): within it a cache hit sends the upstream nothing. After it,
  the question is asked again conditionally (``If-None-Match``, else ``If-Modified-Since``) and a 304
  keeps what is known. A missing file (404/410) is remembered as long. An upstream that sends neither
  validator gets a version that changes every ``metadata_ttl`` seconds (periods of the wall clock, the
  same in every replica), so what is rendered from it is rendered again that often.
- ``read`` (a miss) streams one ``GET`` and stops at ``max_source_bytes + 1`` bytes (422); the validator
  of that answer says which version the bytes are, so a file changed since ``stat`` is rendered and
  cached under its new version.
- ``open_file`` is refused (422): files that are not images are served from folder stores only, streamed
  from a descriptor with ranges.

Safety:

- Only public addresses (``is_public_address``), unless ``allow_private_addresses``. A base URL whose
  host is such an address literally fails the start; every new connection resolves the host, checks
  every address it resolves to, and connects to the address checked (TLS SNI, certificate and ``Host``
  still name the host), so a DNS answer cannot change between the check and the connection.
- Redirects are followed only within the same scheme, host and port, at most ``MAX_REDIRECTS`` times.
- Every socket wait is bounded by ``timeout``, and one whole exchange (redirects, headers, body) by
  ``DEADLINE_TIMEOUTS`` times ``timeout``.
- No part of the upstream's answer but its status code reaches a client.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit

import httpcore
import httpx
from cachetools import LRUCache

from origin.errors import NotFoundError, UnprocessableSourceError, UpstreamError, UpstreamTimeoutError
from origin.settings import ConfigError, StoreConfig
from origin.store import SourceInfo

log = logging.getLogger("origin.http")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 3
METADATA_ENTRIES = 10_000  # paths whose version is remembered (the least recently asked go first)
MAX_CONNECTIONS = 32  # per store; more requests at once wait up to `timeout` for one
MAX_IDLE_CONNECTIONS = 16
DEADLINE_TIMEOUTS = 3  # one exchange ends after this many `timeout`s, however the upstream trickles
MAX_TAG_CHARS = 128  # longer validators are kept as a digest
USER_AGENT = "image-origin"
NOT_A_FILE = "files that are not images are served from folder stores only"
# Special-purpose IPv4 blocks refused by name: Python 3.11's ipaddress takes most of 192.0.0.0/24 for global
_REFUSED_NETWORKS = (
    ipaddress.IPv4Network("192.0.0.0/24"),  # IETF protocol assignments (RFC 6890)
    ipaddress.IPv4Network("198.18.0.0/15"),  # benchmarking (RFC 2544)
    ipaddress.IPv4Network("100.64.0.0/10"),  # shared address space, carrier-grade NAT (RFC 6598)
)


def is_public_address(address: IPAddress) -> bool:
    """Whether an upstream may be at ``address``: not loopback, link-local, private (unique-local and
    shared 100.64/10 too), multicast, unspecified or reserved (IPv4-compatible ``::a.b.c.d`` and NAT64
    ``64:ff9b::/96`` are), IETF protocol assignments (192.0.0/24) or benchmarking (198.18/15), nor an IPv6
    form of such an IPv4 address (mapped ``::ffff:a.b.c.d``, 6to4)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public_address(address.ipv4_mapped)
        if address.sixtofour is not None and not is_public_address(address.sixtofour):
            return False
        if address.is_site_local:
            return False
    elif any(address in network for network in _REFUSED_NETWORKS):
        return False
    return address.is_global and not (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    )


class AddressRefusedError(Exception):
    """The upstream's host resolves to an address that ``is_public_address`` refuses."""


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses that pass the guard (to exactly the address checked), and bounds
    every socket wait by the deadline of the exchange running in the calling thread."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._local = threading.local()

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        self._local.deadline = time.monotonic() + seconds
        try:
            yield
        finally:
            self._local.deadline = None

    def bound(self, timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
        """``timeout``, shortened to what is left of this thread's deadline."""
        deadline: float | None = getattr(self._local, "deadline", None)
        if deadline is None:
            return timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise expired("the exchange with the upstream passed its deadline")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in self._resolve(host, port):
            try:
                stream = super().connect_tcp(
                    str(address), port, self.bound(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # refused: the next address (a timeout ends the attempt)
                failure = exc
                continue
            return _BoundedStream(stream, self)
        assert failure is not None
        raise failure

    def _resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to, or ``AddressRefusedError`` if any of them is not public."""
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(sockaddr[0])) for *_, sockaddr in found))
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        if not self.allow_private:
            refused = [address for address in addresses if not is_public_address(address)]
            if refused:
                raise AddressRefusedError(f"{host} resolves to {refused[0]}, which is not a public address")
        return addresses


class _BoundedStream(httpcore.NetworkStream):
    """A connection whose reads and writes end at the deadline of the exchange using it."""

    def __init__(self, stream: httpcore.NetworkStream, backend: _GuardedBackend) -> None:
        self._stream = stream
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._backend.bound(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._backend.bound(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = self._backend.bound(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._stream.start_tls(ssl_context, server_hostname, bounded), self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses ``_GuardedBackend``.

    httpx takes no network backend, so the pool it built is replaced by the same pool (no proxy: the
    client ignores the environment's) with one; ``handle_request`` and ``close`` use only ``_pool``.
    """

    def __init__(self, backend: _GuardedBackend, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):  # never the unguarded pool
            raise RuntimeError("this httpx keeps its connection pool elsewhere: the address guard cannot be installed")
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


@dataclass(frozen=True, slots=True)
class _Known:
    """What the upstream last said about one path, and when (``time.monotonic``)."""

    info: SourceInfo | None  # None: 404/410
    etag: str | None
    last_modified: str | None
    checked_at: float


class HttpStore:
    """Originals under ``config.base_url``; see the module's docstring for what each method costs."""

    def __init__(self, config: StoreConfig, max_bytes: int) -> None:
        assert config.base_url is not None
        self.config = config
        self.max_bytes = max_bytes
        self._base = config.base_url.rstrip("/")
        host = urlsplit(config.base_url).hostname or ""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None  # a name: checked at every connection
        if literal is not None and not config.allow_private_addresses and not is_public_address(literal):
            raise ConfigError(
                f"stores.{config.name}.base_url: {host} is not a public address (loopback, private, link-local, "
                "multicast or reserved); set allow_private_addresses = true to use it"
            )
        self._backend = _GuardedBackend(config.allow_private_addresses)
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_IDLE_CONNECTIONS)
        self._client = httpx.Client(
            transport=_GuardedTransport(self._backend, limits),
            timeout=httpx.Timeout(config.timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )
        self._known: LRUCache[str, _Known] = LRUCache(maxsize=METADATA_ENTRIES)
        self._lock = threading.Lock()
        self._head_refused = False  # the upstream answered 405/501 to HEAD: ranged GETs from then on

    def stat(self, path: str) -> SourceInfo:
        with self._lock:
            known = self._known.get(path)
        if known is None or time.monotonic() - known.checked_at >= self.config.metadata_ttl:
            known = self._ask(path, known)
            with self._lock:
                self._known[path] = known
        if known.info is None:
            raise NotFoundError()
        if known.info.size > self.max_bytes:
            raise UnprocessableSourceError("source is larger than max_source_bytes")
        return known.info

    def read(self, info: SourceInfo) -> tuple[bytes, SourceInfo]:
        with self._exchange("GET", info.path, {}) as response:
            if response.status_code in (404, 410):
                with self._lock:
                    self._known.pop(info.path, None)
                raise NotFoundError()
            if response.status_code != 200:
                raise UpstreamError(f"upstream answered {response.status_code}")
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise UpstreamError("upstream sent an encoded body though asked for identity")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise UnprocessableSourceError("source is larger than max_source_bytes")
            data = self._body(response)
            etag, last_modified = response.headers.get("etag"), response.headers.get("last-modified")
        validator = _validator(etag, last_modified)
        if validator is None or validator == info.tag:
            return data, info  # the version stat gave (an upstream without validators cannot say otherwise)
        current = SourceInfo(
            path=info.path, file=None, size=len(data), mtime_ns=_mtime_ns(last_modified), tag=validator
        )
        with self._lock:  # the next stat gives the version this render is cached under
            self._known[info.path] = _Known(current, etag, last_modified, time.monotonic())
        return data, current

    def open_file(self, path: str) -> tuple[int, SourceInfo]:
        raise UnprocessableSourceError(NOT_A_FILE)

    def close(self) -> None:
        self._client.close()

    def _ask(self, path: str, known: _Known | None) -> _Known:
        """What the upstream says now about ``path``: HEAD (or a one-byte GET), conditional if possible."""
        conditional: dict[str, str] = {}
        if known is not None and known.info is not None:
            if known.etag:
                conditional["If-None-Match"] = known.etag
            elif known.last_modified:
                conditional["If-Modified-Since"] = known.last_modified
        if not self._head_refused:
            with self._exchange("HEAD", path, conditional) as response:
                if response.status_code not in (405, 501):
                    return self._known_from(path, response, known)
            self._head_refused = True
        with self._exchange("GET", path, {**conditional, "Range": "bytes=0-0"}) as response:
            return self._known_from(path, response, known)  # the body is never read

    def _known_from(self, path: str, response: httpx.Response, known: _Known | None) -> _Known:
        now = time.monotonic()
        status = response.status_code
        if status == 304 and known is not None and known.info is not None:
            return replace(known, checked_at=now)
        if status in (404, 410):
            return _Known(None, None, None, now)
        if status not in (200, 206):
            raise UpstreamError(f"upstream answered {status}")
        etag, last_modified = response.headers.get("etag"), response.headers.get("last-modified")
        total = (
            response.headers.get("content-range", "").rpartition("/")[2]
            if status == 206
            else response.headers.get("content-length", "")
        )
        size = int(total) if total.isascii() and total.isdigit() else 0  # unknown: the validator alone
        tag = _validator(etag, last_modified) or self._period_tag()
        mtime_ns = _mtime_ns(last_modified)
        if last_modified is None and known is not None and known.info is not None and known.info.tag == tag:
            mtime_ns = known.info.mtime_ns  # without Last-Modified: when this version was first seen
        info = SourceInfo(path=path, file=None, size=size, mtime_ns=mtime_ns, tag=tag)
        return _Known(info, etag, last_modified, now)

    def _period_tag(self) -> str:
        """The version of a file the upstream gives no validator for: one per ``metadata_ttl`` seconds."""
        ttl = self.config.metadata_ttl
        return f"period-{int(time.time() // ttl) if ttl > 0 else time.time_ns()}"

    def _body(self, response: httpx.Response) -> bytes:
        """The body, read no further than ``max_bytes + 1`` (and the one chunk holding that byte)."""
        body = io.BytesIO()
        for chunk in response.iter_raw():
            if body.tell() + len(chunk) > self.max_bytes:
                raise UnprocessableSourceError("source is larger than max_source_bytes")
            body.write(chunk)
        return body.getvalue()

    def _url_for(self, path: str) -> str:
        return self._base + "/".join(quote(segment, safe="") for segment in path.split("/"))

    @contextmanager
    def _exchange(self, method: str, path: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """One request for ``path`` whose body is not read yet, redirects within the upstream followed;
        failures of the transport become ``UpstreamError`` (``UpstreamTimeoutError``)."""
        with self._backend.deadline(DEADLINE_TIMEOUTS * self.config.timeout), self._translated(method, path):
            url = httpx.URL(self._url_for(path))
            for _ in range(MAX_REDIRECTS + 1):
                response = self._client.send(self._client.build_request(method, url, headers=headers), stream=True)
                if not response.has_redirect_location:
                    try:
                        yield response
                    finally:
                        response.close()
                    return
                response.close()
                target = url.join(response.headers["location"])
                if _origin_of(target) != _origin_of(url):
                    raise UpstreamError(f"upstream answered {response.status_code} to another host")
                url = target
            raise UpstreamError(f"upstream redirected more than {MAX_REDIRECTS} times")

    @contextmanager
    def _translated(self, method: str, path: str) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException as exc:
            log.warning("stores.%s: %s %s: %s", self.config.name, method, path, exc)
            raise UpstreamTimeoutError(f"upstream did not answer within {self.config.timeout:g} s") from exc
        except AddressRefusedError as exc:
            log.warning("stores.%s: %s %s refused: %s", self.config.name, method, path, exc)
            raise UpstreamError("upstream host is not at a public address") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.warning("stores.%s: %s %s: %s: %s", self.config.name, method, path, type(exc).__name__, exc)
            raise UpstreamError("upstream connection failed") from exc
        except UpstreamError as exc:
            log.warning("stores.%s: %s %s: %s", self.config.name, method, path, exc)
            raise


def _origin_of(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _validator(etag: str | None, last_modified: str | None) -> str | None:
    """The text that tells versions apart (ETag, else Last-Modified), short enough for a cache key."""
    text = etag or last_modified
    if not text:
        return None
    if len(text) > MAX_TAG_CHARS:
        return "sha256-" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    return text


def _mtime_ns(last_modified: str | None) -> int:
    """``Last-Modified`` in nanoseconds; now when there is none (or it cannot be read)."""
    if last_modified:
        try:
            return int(email.utils.parsedate_to_datetime(last_modified).timestamp() * 1e9)
        except (TypeError, ValueError, OverflowError):
            pass
    return time.time_ns()
