"""Endpoints the S3 store tests talk to: moto's S3 emulator as a separate process, and a tiny HTTP
server that answers every request the same bad way (an error status, nothing at all, or a body that
trickles in)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """``python -m moto.server`` on a free loopback port; its log goes to a temporary file."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_answering()

    def _wait_until_answering(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1.0):
                    return
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto did not answer within {timeout} s:\n{self.output()}") from None
                time.sleep(0.1)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        """Kill the process at once: the endpoint is gone, as when a bucket's host dies."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.log.close()


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def broken_endpoint(status: int | None, body: bytes = b"", trickle: float = 0.0) -> Iterator[str]:
    """An endpoint that answers every request with ``status`` and ``body``, or (``status=None``)
    accepts the connection and never answers. With ``trickle``, the body goes one byte at a time,
    ``trickle`` seconds apart (each wait shorter than a read timeout, the whole much longer), under an
    ETag as an object's would be. Yields its URL."""
    hold = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            if status is None:
                hold.wait(30)
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            if trickle:
                self.send_header("ETag", '"trickling"')
            self.end_headers()
            if self.command == "HEAD":
                return
            if not trickle:
                self.wfile.write(body)
                return
            for byte in body:
                if hold.wait(trickle):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        do_GET = do_HEAD = do_PUT = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="broken-endpoint", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        hold.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
