"""Where originals come from: the ``SourceStore`` seam and the local-folder store.

A store answers two questions: what version of a file is there now (``stat``, cheap, enough for a
cache hit or a 304), and what its bytes are (``read``, only on a miss).
"""

from __future__ import annotations

import errno
import os
import stat as stat_module
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from origin.errors import InvalidPathError, NotFoundError, UnprocessableSourceError
from origin.settings import ConfigError, StoreConfig


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One version of one source file."""

    path: str  # canonical request path
    file: Path | None  # folder stores: the resolved location inside the root
    size: int
    mtime_ns: int
    tag: str | None = None  # remote stores: the upstream's validator (ETag or Last-Modified), as text

    @property
    def version(self) -> str:
        """Changes whenever the file does; the same in every process and every replica. A folder's
        file is known by its mtime and size, a remote one by its upstream validator and size."""
        if self.tag is not None:
            return f"{self.tag}-{self.size:x}"
        return f"{self.mtime_ns:x}-{self.size:x}"

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9


class SourceStore(Protocol):
    """Where originals come from. Methods block (they run in worker threads) and raise
    ``NotFoundError``, ``InvalidPathError`` or ``UnprocessableSourceError`` (over ``max_source_bytes``);
    remote stores also ``UpstreamError`` (502/504) when the upstream misbehaves."""

    def stat(self, path: str) -> SourceInfo: ...

    def read(self, info: SourceInfo) -> tuple[bytes, SourceInfo]:
        """The bytes of the file and the version they belong to (which may be newer than ``info``)."""
        ...

    def open_file(self, path: str) -> tuple[int, SourceInfo]:
        """A descriptor of the file for streaming it as it is (passthrough files), and its version."""
        ...


class FolderStore:
    """Originals in a local folder, confined to it with symlinks resolved."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root.resolve()
        self.max_bytes = max_bytes
        self._root = str(self.root)  # string forms: resolve runs on every request, pathlib costs more
        self._inside = self._root.rstrip(os.sep) + os.sep

    def resolve(self, path: str) -> Path:
        """The real location of canonical ``path``; ``InvalidPathError`` if it leaves the root."""
        real = os.path.realpath(os.path.join(self._root, path.lstrip("/")))
        if real != self._root and not real.startswith(self._inside):
            raise InvalidPathError("path leaves the image root")
        return Path(real)

    def stat(self, path: str) -> SourceInfo:
        file = self.resolve(path)
        try:
            st = os.stat(file)
        except OSError as exc:
            raise NotFoundError() from exc
        return self._info(path, file, st)

    def read(self, info: SourceInfo) -> tuple[bytes, SourceInfo]:
        assert info.file is not None, "a folder store reads only what it stat-ed"
        try:
            # O_NONBLOCK: a FIFO or device opens at once (and is refused as not a regular file); files ignore it
            fd = os.open(info.file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidPathError("path leaves the image root") from exc
            raise NotFoundError() from exc
        with os.fdopen(fd, "rb") as handle:
            self._confine_open_file(fd)
            current = self._info(info.path, info.file, os.fstat(fd))
            data = handle.read(min(current.size, self.max_bytes) + 1)  # +1 notices a file that grew
        if len(data) != current.size:
            # The file changed while it was read: a half-written file is never rendered.
            raise UnprocessableSourceError("source changed while it was read; retry")
        return data, current

    def open_file(self, path: str) -> tuple[int, SourceInfo]:
        """An open descriptor of the file at ``path`` and its version, for streaming as it is.

        The same confinement as :meth:`read`, but no ``max_source_bytes``: the file is never read
        whole. The caller owns (and must close) the descriptor.
        """
        file = self.resolve(path)
        try:
            fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)  # see read
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidPathError("path leaves the image root") from exc
            raise NotFoundError() from exc
        try:
            self._confine_open_file(fd)
            st = os.fstat(fd)
            if not stat_module.S_ISREG(st.st_mode):
                raise NotFoundError()
        except BaseException:
            os.close(fd)
            raise
        return fd, SourceInfo(path=path, file=file, size=st.st_size, mtime_ns=st.st_mtime_ns)

    def _confine_open_file(self, fd: int) -> None:
        """The file actually opened is inside the root (a folder swapped for a symlink between
        ``stat`` and ``read`` would otherwise lead out of it). Linux names it in /proc."""
        try:
            opened = Path(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            return  # no /proc: the O_NOFOLLOW open of the resolved path is the guard
        if not opened.is_relative_to(self.root):
            raise InvalidPathError("path leaves the image root")

    def _info(self, path: str, file: Path, st: os.stat_result) -> SourceInfo:
        if not stat_module.S_ISREG(st.st_mode):
            raise NotFoundError()
        if st.st_size > self.max_bytes:
            raise UnprocessableSourceError("source is larger than max_source_bytes")
        return SourceInfo(path=path, file=file, size=st.st_size, mtime_ns=st.st_mtime_ns)


def make_store(config: StoreConfig, max_bytes: int) -> SourceStore:
    """The store a ``[stores.NAME]`` table describes. HTTP and S3 need the package's optional extras."""
    if config.kind == "folder":
        assert config.root is not None
        return FolderStore(config.root, max_bytes)
    try:
        if config.kind == "http":
            from origin.http_store import HttpStore

            return HttpStore(config, max_bytes)
        from origin.s3_store import S3Store

        return S3Store(config, max_bytes)
    except ImportError as exc:
        raise ConfigError(
            f"stores.{config.name}: a {config.kind} store needs pip install 'image-origin[{config.kind}]' ({exc.name})"
        ) from exc
