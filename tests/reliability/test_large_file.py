"""A 1 GiB passthrough file through a real server: ranges anywhere in it return exactly the bytes
there, and the whole file streams out while the process's memory stays flat (a server that read the
file whole, or buffered what a slow client had not taken yet, would grow by a gibibyte).

The file is sparse (a hole with a few marker bytes written into it), so it costs no disk. The server
runs in a thread of this process, so this process's resident memory is the server's.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from origin import Settings, create_app
from tests.conftest import SECRET, make_token
from tests.live import LiveServer, live_server

GIB = 1 << 30
MIB = 1 << 20
CHUNK = MIB
MARKERS = {
    0: b"first bytes of the file",
    512 * MIB: b"marker at half a gibibyte",
    GIB - 16: b"the last sixteen",
}
MAX_GROWTH = 64 * MIB
STREAM_TIMEOUT = 180  # seconds; loopback usually takes well under 20


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("large")
    with open(root / "big.mp4", "wb") as handle:
        for offset, marker in MARKERS.items():
            handle.seek(offset)
            handle.write(marker)
        handle.truncate(GIB)
    assert (root / "big.mp4").stat().st_size == GIB
    return root


@pytest.fixture(scope="module")
def server(big_file: Path) -> Iterator[LiveServer]:
    settings = Settings(root=big_file, keys={"main": SECRET}, render_concurrency=1)
    with live_server(create_app(settings)) as live:
        yield live


def resident_bytes() -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    assert match is not None, "no VmRSS in /proc/self/status"
    return int(match.group(1)) * 1024


class PeakMemory:
    """The highest resident size seen while the block runs, sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak = resident_bytes()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, resident_bytes())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, resident_bytes())


def get(server: LiveServer, target: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", target, headers=headers or {})
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def target() -> str:
    return f"/big.mp4?jwt={make_token(exp_in=600)}"


def test_ranges_at_the_markers_return_the_marker_bytes(server: LiveServer) -> None:
    for offset, marker in MARKERS.items():
        end = offset + len(marker) - 1
        status, headers, body = get(server, target(), {"Range": f"bytes={offset}-{end}"})
        assert status == 206
        assert headers["content-range"] == f"bytes {offset}-{end}/{GIB}"
        assert body == marker
    status, headers, body = get(server, target(), {"Range": "bytes=-16"})
    assert (status, body) == (206, MARKERS[GIB - 16])
    status, headers, body = get(server, target(), {"Range": f"bytes={512 * MIB - 4}-{512 * MIB + 7}"})
    assert body == b"\0\0\0\0" + MARKERS[512 * MIB][:8]  # the hole reads as zeros up to the marker
    status, headers, body = get(server, target(), {"Range": f"bytes=0-3,{GIB - 4}-"})
    assert status == 206 and headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert MARKERS[0][:4] in body and MARKERS[GIB - 16][-4:] in body
    assert int(headers["content-length"]) == len(body) < 1024


def test_the_whole_gibibyte_streams_in_flat_memory(server: LiveServer) -> None:
    get(server, target(), {"Range": "bytes=0-1023"})  # warm up: first-request allocations are not growth
    before = resident_bytes()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    received = 0
    found: dict[int, bytes] = {}  # what arrived at each marker's place
    started = time.monotonic()
    with PeakMemory() as memory:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=STREAM_TIMEOUT)
        try:
            connection.request("GET", target())
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Length") == str(GIB)
            assert response.getheader("Content-Type") == "video/mp4"
            while count := response.readinto(view):
                for offset, marker in MARKERS.items():  # every marker arrives where it belongs
                    start, end = max(offset, received), min(offset + len(marker), received + count)
                    if start < end:
                        found[offset] = found.get(offset, b"") + bytes(view[start - received : end - received])
                received += count
                assert time.monotonic() - started < STREAM_TIMEOUT, f"only {received} bytes in {STREAM_TIMEOUT} s"
        finally:
            connection.close()
    assert received == GIB
    assert found == MARKERS
    growth = memory.peak - before
    assert growth < MAX_GROWTH, f"resident memory grew by {growth / MIB:.0f} MiB while streaming 1 GiB"
