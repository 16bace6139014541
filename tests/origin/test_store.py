"""``FolderStore`` (``origin/store.py``): something under the root that is not a regular file, such as a
FIFO named like an image or a video, is a 404 at once; opening it never waits for a writer."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.errors import NotFoundError
from origin.store import FolderStore, SourceInfo
from tests.conftest import SECRET, Sign

WAIT = 5.0  # seconds; an answer takes milliseconds, a blocked open forever


def answer(fifos: list[Path], call: Callable[[], Any]) -> Any:
    """What ``call()`` returns or raises, or a failure if it is still waiting after ``WAIT`` seconds
    (then a writer is opened on each FIFO, so that the blocked thread ends with the test)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT)
    if thread.is_alive():
        for fifo in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(WAIT)
        pytest.fail(f"still waiting after {WAIT} s: opening a FIFO blocked")
    return outcome[0]


@pytest.fixture
def fifos(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "x.jpg", tmp_path / "x.mp4"]
    for path in paths:
        os.mkfifo(path)
    return paths


@pytest.mark.parametrize("path", ["/x.jpg", "/x.mp4"])
def test_a_fifo_under_the_root_is_not_found_at_once(tmp_path: Path, fifos: list[Path], sign: Sign, path: str) -> None:
    with TestClient(create_app(Settings(root=tmp_path, keys={"main": SECRET}))) as client:
        response = answer(fifos, lambda: client.get(sign(path)))
    assert response.status_code == 404
    assert response.json()["error"] == "not found"


def test_a_file_swapped_for_a_fifo_after_its_stat_is_not_found_at_once(tmp_path: Path, fifos: list[Path]) -> None:
    store = FolderStore(tmp_path, max_bytes=1 << 20)
    stat_ed = SourceInfo(path="/x.jpg", file=tmp_path / "x.jpg", size=100, mtime_ns=0)  # a regular file when stat-ed
    assert isinstance(answer(fifos, lambda: store.read(stat_ed)), NotFoundError)
    assert isinstance(answer(fifos, lambda: store.open_file("/x.mp4")), NotFoundError)
