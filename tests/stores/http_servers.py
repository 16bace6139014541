"""Upstreams for the HTTP store's tests, on 127.0.0.1: a real nginx serving a folder (it sends ETag and
Last-Modified, answers conditional requests, and logs every request), and a scripted server whose
answer to each path is a function, for upstreams that misbehave."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.delivery.servers import HOST, NGINX_MISSING, Drained, find_nginx, free_port, run_nginx

NGINX_CONF = """
{user}
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    log_format upstream '$request_method $uri $status';
    access_log {tmp}/access.log upstream;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;
    types {{ image/jpeg jpg; image/png png; }}
    server {{
        listen {host}:{port};
        root {root};
    }}
}}
"""


@dataclass
class Nginx:
    """nginx serving ``root`` on ``port``; ``requests(path)`` reads its access log."""

    root: Path
    port: int
    log: Path
    process: Drained

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def requests(self, path: str) -> list[str]:
        """``"METHOD STATUS"`` for every request nginx has answered for ``path``, oldest first."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [f"{method} {status}" for method, uri, status in (line.split(" ") for line in lines) if uri == path]


def start_nginx(tmp: Path, root: Path) -> Nginx:
    nginx = find_nginx()
    if nginx is None:
        raise RuntimeError(NGINX_MISSING)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, host=HOST, port=port, root=root), encoding="utf-8")
    (root / "healthz").write_text("ok", encoding="utf-8")
    return Nginx(root=root, port=port, log=tmp / "access.log", process=run_nginx(nginx, tmp, conf, port))


Answer = Callable[["Handler"], None]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Scripted

    def do_HEAD(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.server.upstream.seen.append(
            Seen(self.command, self.path, {name.lower(): value for name, value in self.headers.items()})
        )
        answer = self.server.upstream.answers.get(self.path.split("?")[0], not_found)
        answer(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """A whole answer with a right Content-Length (no body for HEAD)."""
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def not_found(handler: Handler) -> None:
    handler.send(404, b"nothing here")


class Scripted(ThreadingHTTPServer):
    daemon_threads = True
    upstream: Upstream

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (the store stopping a read) is expected here


@dataclass
class Upstream:
    """A server on 127.0.0.1 whose answer to each path is a function of the request (``answers``)."""

    answers: dict[str, Answer] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    sent: dict[str, int] = field(default_factory=dict)  # bytes of body written, by path

    def __post_init__(self) -> None:
        self._server = Scripted((HOST, 0), Handler)
        self._server.upstream = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="upstream", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def methods(self, path: str) -> list[str]:
        return [seen.method for seen in self.seen if seen.path == path]

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
