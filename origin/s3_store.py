"""Originals in an S3 bucket, or in any S3-compatible one (MinIO, Ceph, Cloudflare R2) by ``endpoint_url``.

Only the plain S3 API is used: ``HeadObject`` to learn an object's version (its ETag and size), and
``GetObject`` with ``If-Match`` to read exactly that version. A version is trusted for
``metadata_ttl`` seconds, so a render-cache hit inside that time asks the bucket nothing. A read
gives up (504) once ``DEADLINE_TIMEOUTS`` times ``timeout`` have passed, however the endpoint trickles.

Credentials come from where boto3 always finds them (environment, shared files, instance or
container roles), never from the origin's configuration file. Upstream failures become
``UpstreamError`` (502) or ``UpstreamTimeoutError`` (504); the upstream's own error text is logged,
never sent to the client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from cachetools import TTLCache
from urllib3.exceptions import HTTPError as URLLib3Error
from urllib3.exceptions import ReadTimeoutError as URLLib3ReadTimeoutError

from origin.errors import NotFoundError, UnprocessableSourceError, UpstreamError, UpstreamTimeoutError
from origin.settings import StoreConfig
from origin.store import SourceInfo

log = logging.getLogger("origin.s3")

METADATA_ENTRIES = 50_000  # paths whose version is remembered at once (each for metadata_ttl)
POOL_CONNECTIONS = 32  # kept-alive connections to the endpoint, shared by the worker and render threads
CHUNK_BYTES = 256 * 1024
DEADLINE_TIMEOUTS = 3  # one read ends after this many `timeout`s, however the endpoint trickles

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_DENIED_CODES = frozenset({"403", "AccessDenied", "Forbidden"})
_CHANGED_CODES = frozenset({"412", "PreconditionFailed"})


class S3Store:
    """Originals under ``prefix`` in one bucket: ``/photos/cat.jpg`` is the object ``<prefix>photos/cat.jpg``."""

    def __init__(self, config: StoreConfig, max_bytes: int) -> None:
        assert config.bucket is not None, "settings refuse an s3 store without a bucket"
        self.name = config.name
        self.bucket = config.bucket
        self.prefix = config.prefix
        self.max_bytes = max_bytes
        self.timeout = config.timeout
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=config.endpoint_url,
            region_name=config.region,
            config=Config(
                connect_timeout=config.timeout,
                read_timeout=config.timeout,
                retries={
                    "total_max_attempts": 2,
                    "mode": "standard",
                },  # one retry of a 5xx, throttling or lost connection
                max_pool_connections=POOL_CONNECTIONS,
                # MinIO, Ceph and a bucket on localhost are addressed by path; AWS picks for itself.
                s3={"addressing_style": "path" if config.endpoint_url else "auto"},
            ),
        )
        self._known: TTLCache[str, SourceInfo] | None = (
            TTLCache(maxsize=METADATA_ENTRIES, ttl=config.metadata_ttl) if config.metadata_ttl > 0 else None
        )
        self._lock = threading.Lock()

    def key(self, path: str) -> str:
        """The object key of canonical ``path``."""
        return self.prefix + path.removeprefix("/")

    def stat(self, path: str) -> SourceInfo:
        """The object's current version: remembered for ``metadata_ttl`` seconds, else a ``HeadObject``."""
        known = self._recall(path)
        if known is not None:
            return known
        key = self.key(path)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise self._translate(exc, key) from exc
        info = self._info(path, head)
        self._remember(info)
        return info

    def read(self, info: SourceInfo) -> tuple[bytes, SourceInfo]:
        """The bytes of the version ``info`` names or, if the object changed since, of the new one."""
        key = self.key(info.path)
        deadline = time.monotonic() + DEADLINE_TIMEOUTS * self.timeout
        try:
            try:
                conditions = {"IfMatch": f'"{info.tag}"'} if info.tag is not None else {}
                response = self.client.get_object(Bucket=self.bucket, Key=key, **conditions)
            except ClientError as exc:
                if _code(exc) not in _CHANGED_CODES:
                    raise
                response = self.client.get_object(Bucket=self.bucket, Key=key)  # replaced since stat: the new one
            body = response["Body"]
            try:
                current = self._info(info.path, response)  # 422 before a byte of a too large object is read
                data = self._read_body(body, current.size, deadline)
            finally:
                body.close()
        except (BotoCoreError, ClientError) as exc:
            raise self._translate(exc, key) from exc
        if current.version != info.version:
            self._remember(current)
        return data, current

    def open_file(self, path: str) -> tuple[int, SourceInfo]:
        raise UnprocessableSourceError("files that are not images are served from folder stores only")

    def _read_body(self, body: Any, size: int, deadline: float) -> bytes:
        """The whole body, read in chunks and never past ``max_bytes`` whatever the length announced;
        ``UpstreamTimeoutError`` once ``deadline`` (``time.monotonic()``) passes.

        Each read takes what has arrived (``read1`` of urllib3's response: botocore's ``read`` waits
        for a whole chunk, which a trickling endpoint never completes) and waits at most ``timeout``
        for it, so the deadline is checked at least that often."""
        stream = body._raw_stream
        chunks: list[bytes] = []
        received = 0
        while True:
            if time.monotonic() > deadline:
                log.warning(
                    "s3 store %s: an object took over %g s to arrive", self.name, DEADLINE_TIMEOUTS * self.timeout
                )
                raise UpstreamTimeoutError("the S3 store did not send the object in time")
            try:
                chunk = stream.read1(min(CHUNK_BYTES, self.max_bytes + 1 - received))
            except URLLib3ReadTimeoutError as exc:  # translated as botocore's own read does
                raise ReadTimeoutError(endpoint_url=exc.url, error=exc) from exc
            except URLLib3Error as exc:
                raise ResponseStreamingError(error=exc) from exc
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
            if received > self.max_bytes:
                raise UnprocessableSourceError("source is larger than max_source_bytes")
        if received != size:
            raise UpstreamError("the S3 store sent a body of another length than it announced")
        return b"".join(chunks)

    def _info(self, path: str, response: Mapping[str, Any]) -> SourceInfo:
        """The version a ``HeadObject`` or ``GetObject`` answer describes; 422 if it is too large."""
        etag = response.get("ETag")
        tag = etag.removeprefix("W/").strip('"') if isinstance(etag, str) else ""
        size = response.get("ContentLength")
        modified = response.get("LastModified")
        if not tag or not isinstance(size, int):
            raise UpstreamError("the S3 store answered without an ETag or a length")
        if size > self.max_bytes:
            raise UnprocessableSourceError("source is larger than max_source_bytes")
        mtime_ns = int(modified.timestamp() * 1_000_000_000) if isinstance(modified, datetime) else 0
        return SourceInfo(path=path, file=None, size=size, mtime_ns=mtime_ns, tag=tag)

    def _recall(self, path: str) -> SourceInfo | None:
        if self._known is None:
            return None
        with self._lock:
            return self._known.get(path)

    def _remember(self, info: SourceInfo) -> None:
        if self._known is None:
            return
        with self._lock:
            self._known[info.path] = info

    def _translate(self, exc: BotoCoreError | ClientError, key: str) -> Exception:
        """The origin error for a failed request; what the upstream said goes to the log only."""
        if isinstance(exc, ClientError):
            code = _code(exc)
            if code in _NOT_FOUND_CODES:
                return NotFoundError()
            if code in _DENIED_CODES:  # a 404 to the client: whether a key exists is not its business
                log.warning("s3 store %s: access denied to s3://%s/%s", self.name, self.bucket, key)
                return NotFoundError()
            log.warning("s3 store %s: %s on s3://%s/%s", self.name, code, self.bucket, key)
            return UpstreamError("the S3 store failed")
        if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
            log.warning("s3 store %s: timed out on s3://%s/%s", self.name, self.bucket, key)
            return UpstreamTimeoutError("the S3 store did not answer in time")
        if isinstance(exc, NoCredentialsError):
            log.error("s3 store %s: no AWS credentials found (set them in the environment)", self.name)
        else:
            log.warning("s3 store %s: %s on s3://%s/%s", self.name, type(exc).__name__, self.bucket, key)
        return UpstreamError("the S3 store cannot be reached")


def _code(exc: ClientError) -> str:
    """The S3 error code of a failed request: ``NoSuchKey``, ``AccessDenied``, or a bare status for HEAD."""
    error = exc.response.get("Error", {})
    code = error.get("Code")
    if code:
        return str(code)
    return str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
