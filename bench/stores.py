"""Where a response comes from, and what it costs, run by hand: ``.venv/bin/python bench/stores.py``.

Prints medians and p99s side by side from one run (never a pass/fail), each against a real
``origin serve`` on 127.0.0.1, one request at a time on a keep-alive connection:

  (a) a hit in the process's memory cache;
  (b) a hit in Redis, the cache replicas share (a server whose memory cache holds nothing, so every
      request goes to Redis);
  (c) a miss that reads the original from the local folder and renders it;
  (c') the same miss on a server with ``redis_url``: one Redis GET more, and a publish after the answer;
  (d) a miss that fetches the original from an HTTP upstream (``python -m http.server`` on loopback)
      and renders it; only when ``origin/http_store.py`` is there.

The source is a 1200x800 photographic JPEG; each miss asks for another width and quality, the same
sequence on every server, so the renders are the same work. Cases take turns in rounds, so that a
change in the machine's load touches them all. Needs ``redis-server`` (``apt-get install redis-server``).
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from render import photographic_jpeg  # bench/render.py: the same kind of source as the other benches

from origin.signing import sign_url

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
HIT_URL_QUERY = "w=640&q=80"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(port: int, process: subprocess.Popen[bytes], name: str, path: str | None = "/healthz") -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            if path is None:
                socket.create_connection((HOST, port), timeout=1).close()
                return
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start on port {port}")
        time.sleep(0.05)


@contextmanager
def process(name: str, argv: list[str], port: int, env: dict[str, str], path: str | None = "/healthz") -> Iterator[int]:
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    try:
        wait_for(port, proc, name, path)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def origin(stack: ExitStack, root: Path, secret: str, tmp: Path, name: str, **settings: str) -> int:
    """``origin serve`` on a free port, with ``settings`` as ``ORIGIN_<NAME>`` variables (``config``: TOML)."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ORIGIN_", "PROMETHEUS_"))}
    env.update(ORIGIN_JWT_SECRET=secret, PYTHONPATH=str(REPO), TMPDIR=str(tmp))
    config = settings.pop("config", None)
    if config is not None:
        path = tmp / f"{name}.toml"
        path.write_text(config, encoding="utf-8")
        env["ORIGIN_CONFIG"] = str(path)
    env.update({f"ORIGIN_{key.upper()}": value for key, value in settings.items()})
    argv = [sys.executable, "-m", "origin", "serve", "--root", str(root), "--host", HOST, "--port", str(port)]
    return stack.enter_context(process(name, argv, port, env))


@dataclass
class Case:
    label: str
    port: int
    target: Callable[[int], str]  # n-th request -> URL
    check: Callable[[http.client.HTTPResponse], None]
    samples: list[float] = field(default_factory=list)
    made: int = 0
    connection: http.client.HTTPConnection | None = None

    def run(self, count: int) -> None:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        for _ in range(count):
            target = self.target(self.made)
            self.made += 1
            started = time.perf_counter()
            self.connection.request("GET", target)
            response = self.connection.getresponse()
            response.read()
            self.samples.append((time.perf_counter() - started) * 1000)
            self.check(response)


def expect(cache: str, shared: str | None) -> Callable[[http.client.HTTPResponse], None]:
    def check(response: http.client.HTTPResponse) -> None:
        seen = (response.status, response.getheader("X-Cache"), response.getheader("X-Cache-Shared"))
        if seen != (200, cache, shared):
            raise AssertionError(f"expected 200 X-Cache {cache} X-Cache-Shared {shared}, got {seen}")

    return check


def miss_query(n: int) -> str:
    """The n-th miss: a width and quality no earlier request of that server asked for."""
    width = 200 + (n * 37) % 900
    quality = 50 + n // 900
    return f"w={width}&q={quality}"


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hits", type=int, default=300, help="hit requests per case and round")
    parser.add_argument("--misses", type=int, default=40, help="miss requests per case and round")
    options = parser.parse_args()
    redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(redis_server).exists():
        sys.exit("redis-server is not installed: apt-get install -y redis-server")
    http_store = (REPO / "origin" / "http_store.py").exists()
    secret = secrets.token_urlsafe(32)
    key = secret.encode()

    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        tmp = Path(folder)
        root = tmp / "images"
        root.mkdir()
        source = photographic_jpeg(1200, 800)
        (root / "photo.jpg").write_bytes(source)

        redis_port = free_port()
        redis_argv = [redis_server, "--port", str(redis_port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        stack.enter_context(process("redis-server", redis_argv, redis_port, dict(os.environ), path=None))
        redis_url = f"redis://{HOST}:{redis_port}/0"

        memory = origin(stack, root, secret, tmp, "memory")
        # Nothing fits in a 1-byte memory cache: every request of this server asks Redis.
        shared = origin(stack, root, secret, tmp, "shared", redis_url=redis_url, cache_max_bytes="1")
        with_redis = origin(stack, root, secret, tmp, "with-redis", redis_url=redis_url)

        def url(query: str) -> str:
            return sign_url("/photo.jpg", key=key, expires_in=3600, query=query)

        hit_url = url(HIT_URL_QUERY)
        cases = [
            Case("(a) memory-cache hit", memory, lambda n: hit_url, expect("HIT", None)),
            Case("(b) Redis shared hit", shared, lambda n: hit_url, expect("MISS", "HIT")),
            Case("(c) miss, original from the folder", memory, lambda n: url(miss_query(n)), expect("MISS", None)),
            Case("(c') the same miss with redis_url", with_redis, lambda n: url(miss_query(n)), expect("MISS", "MISS")),
        ]
        if http_store:
            upstream_port = free_port()
            upstream_argv = [sys.executable, "-m", "http.server", str(upstream_port), "--bind", HOST]
            upstream_argv += ["--directory", str(root)]
            stack.enter_context(process("http.server", upstream_argv, upstream_port, dict(os.environ), "/photo.jpg"))
            config = (
                f'[stores.up]\ntype = "http"\nbase_url = "http://{HOST}:{upstream_port}"\n'
                'allow_private_addresses = true\n\n[[rules]]\nprefix = "/"\nstore = "up"\n'
            )
            upstream = origin(stack, root, secret, tmp, "upstream", config=config)
            cases.append(
                Case(
                    "(d) miss, original from an HTTP upstream",
                    upstream,
                    lambda n: url(miss_query(n)),
                    expect("MISS", None),
                )
            )

        # Warm-up, outside the samples: a few renders on every server, and the hit URL rendered by
        # `memory` and by `shared`, which publishes it (after answering) and from then on finds it in Redis.
        for case in cases:
            Case(case.label, case.port, lambda n: url(f"w={100 + n}&q=77"), lambda response: None).run(5)
        for port in (memory, shared):
            Case("warm-up", port, lambda n: hit_url, lambda response: None).run(1)
        time.sleep(0.2)

        for round_ in range(options.rounds):
            for case in cases:
                case.run(options.hits if "hit" in case.label else options.misses)
            print(f"round {round_ + 1}/{options.rounds} done", file=sys.stderr)

    base = statistics.median(cases[0].samples)
    render_base = statistics.median(cases[2].samples)
    print(
        f"origin serve on {HOST}, one request at a time on a keep-alive connection; Python {platform.python_version()}"
    )
    print(f"{os.cpu_count()} CPUs; source 1200x800 JPEG, {len(source) / 1000:.0f} kB; hit: {HIT_URL_QUERY}")
    print()
    print("| case | requests | median ms | p99 ms | median / (a) | median / (c) |")
    print("|---|---:|---:|---:|---:|---:|")
    for case in cases:
        median = statistics.median(case.samples)
        print(
            f"| {case.label} | {len(case.samples)} | {median:.2f} | {p99(case.samples):.2f} "
            f"| {median / base:.2f}x | {median / render_base:.2f}x |"
        )
    if not http_store:
        print("(d) skipped: origin/http_store.py is not there")


if __name__ == "__main__":
    main()
