"""Real processes for the delivery tests: the origin (``python -m origin serve``) and nginx in front
of it, on free loopback ports, with their output drained so that no pipe ever fills.

The nginx configuration is rendered from ``nginx_test.conf.template``, which includes the shipped
``deploy/nginx-cache.conf``: the caching rules under test are the ones in production.
"""

from __future__ import annotations

import collections
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
TEMPLATE = Path(__file__).resolve().parent / "nginx_test.conf.template"
HOST = "127.0.0.1"

NGINX_MISSING = (
    "nginx is not installed, and the delivery tests need a real nginx in front of the origin. "
    "CI installs it (.ci/run: apt-get install -y nginx); by hand: apt-get install -y nginx"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def find_nginx() -> str | None:
    """nginx lives in /usr/sbin, which a non-root PATH often lacks."""
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def render_nginx_conf(tmp: Path, *, nginx_port: int, origin_port: int) -> Path:
    """Write ``tmp/nginx.conf`` from the template; every path nginx writes to is under ``tmp``."""
    values = {
        "TMP": str(tmp),
        "DEPLOY": str(DEPLOY),
        "NGINX_PORT": str(nginx_port),
        "ORIGIN_PORT": str(origin_port),
        # As root, nginx's workers would switch to `nobody`, who cannot enter a private temp dir.
        "USER": "user root;" if os.geteuid() == 0 else "",
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"unfilled placeholders in {TEMPLATE.name}: {left}")
    conf = tmp / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


class Drained:
    """A child process whose stdout and stderr (merged) are read continuously into a bounded buffer."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.lines: collections.deque[str] = collections.deque(maxlen=2000)
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._reader = threading.Thread(target=self._drain, name=f"drain-{name}", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self, last: int = 40) -> str:
        return "\n".join(list(self.lines)[-last:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._reader.join(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


def request(
    port: int, target: str, headers: Mapping[str, str] | None = None, *, timeout: float = 20.0, method: str = "GET"
) -> Response:
    """One request (a GET unless told) on a fresh connection, closed before returning."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, target, headers=dict(headers or {}))
        with conn.getresponse() as resp:
            body = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


def wait_until_serving(process: Drained, port: int, target: str = "/healthz", timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.proc.poll() is not None:
            raise RuntimeError(f"{process.name} exited with {process.proc.returncode}:\n{process.output()}")
        try:
            if request(port, target, timeout=2.0).status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{process.name} did not answer {target} on port {port} in {timeout} s:\n{process.output()}"
            )
        time.sleep(0.05)


def start_origin(root: Path, config: Path, port: int, env: Mapping[str, str]) -> Drained:
    """``python -m origin serve`` with exactly ``env`` as its environment."""
    argv = [
        sys.executable,
        "-m",
        "origin",
        "serve",
        "--root",
        str(root),
        "--config",
        str(config),
        "--host",
        HOST,
        "--port",
        str(port),
    ]
    origin = Drained("origin", argv, env=env)
    try:
        wait_until_serving(origin, port)
    except BaseException:
        origin.stop()
        raise
    return origin


def start_nginx(nginx: str, tmp: Path, *, nginx_port: int, origin_port: int) -> Drained:
    conf = render_nginx_conf(tmp, nginx_port=nginx_port, origin_port=origin_port)
    return run_nginx(nginx, tmp, conf, nginx_port)


def run_nginx(nginx: str, tmp: Path, conf: Path, port: int) -> Drained:
    """nginx, unprivileged, with ``conf`` and its prefix and error log in ``tmp``: checked with
    ``nginx -t`` first, and serving on ``port`` when this returns."""
    base = [nginx, "-p", f"{tmp}/", "-c", str(conf), "-e", str(tmp / "error.log")]
    check = subprocess.run([*base, "-t"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t refused {conf}:\n{check.stdout}{check.stderr}")
    server = Drained("nginx", base)
    try:
        wait_until_serving(server, port)
    except BaseException:
        server.stop()
        raise
    return server


_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)$")


def read_metrics(port: int) -> dict[tuple[str, str], float]:
    """The origin's /metrics as {(name, labels): value}, labels as written (``status="304"``)."""
    response = request(port, "/metrics")
    assert response.status == 200, response
    samples: dict[tuple[str, str], float] = {}
    for line in response.body.decode("utf-8").splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            samples[(match["name"], match["labels"] or "")] = float(match["value"])
    return samples
