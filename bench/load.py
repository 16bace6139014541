"""Load benchmark of the HTTP origin, run by hand: ``.venv/bin/python bench/load.py [--seconds 15] [--connections 8]``.

Not a test and never a pass/fail: it prints numbers side by side from one run (see bench/README.md).

1. Makes its inputs in a temporary root: a 3000×2000 photographic-looking noisy JPEG (quality 90)
   and an 800×533 one for the memory run.
2. Starts ``origin serve --workers 1`` and ``origin serve --workers 2`` (subprocesses, free
   127.0.0.1 ports, ``ORIGIN_JWT_SECRET`` in their environment), both at once, and measures them in
   alternating rounds so that drift on a shared machine hits both alike:
   (a) cache hits: one signed URL repeated;
   (b) misses: every request a distinct URL (``w`` across 280..2000 and ``q``), so every one renders.
   Requests/s and p50/p99 latency, with ``wrk`` and a Lua script when it is installed, otherwise an
   asyncio load generator (httpx2) with the same number of connections; the output says which.
3. Peak RSS of the origin (every process of the server summed, sampled from /proc every 100 ms)
   while it answers 10,000 distinct URLs of the small source with ``ORIGIN_CACHE_MAX_BYTES=64 MiB``.

Each throughput cell is the median over ``--rounds`` runs; the last column is 2 workers / 1 worker.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import photographic_jpeg  # noqa: E402  (bench/render.py: the same source as the render benchmark)

from origin.signing import sign_token  # noqa: E402

BIG = "/big.jpg"
SMALL = "/small.jpg"
MiB = 1024 * 1024
RSS_CACHE_BYTES = 64 * MiB
W_MIN, W_SPAN = 280, 2000 - 280 + 1  # misses: w in 280..2000 (1721, a prime) ...
W_STEP = 997  # ... visited in a scattered order (n * 997 mod 1721), so any run of them spans the range
Q_MIN, Q_SPAN = 40, 60  # ... and q in 40..99: 103,260 distinct URLs
ROUND_STRIDE = W_SPAN * 8  # each round: 8 fresh q values, the same sequence of w as every other round


def miss_query(n: int) -> str:
    """The n-th distinct miss (the same formula is in the Lua script)."""
    return f"w={W_MIN + (n * W_STEP) % W_SPAN}&q={Q_MIN + (n // W_SPAN) % Q_SPAN}"


MISS_LUA = string.Template("""
-- every request a distinct URL: n = offset + counter * threads + id (same formula as miss_query)
local counter = 0
local offset, threads, path, token = 0, 1, "/", ""
local thread_ids = 0
function setup(thread)
  thread:set("id", thread_ids)
  thread_ids = thread_ids + 1
end
function init(args)
  offset = tonumber(args[1])
  threads = tonumber(args[2])
  path = args[3]
  token = args[4]
end
function request()
  local n = offset + counter * threads + id
  counter = counter + 1
  local w = $w_min + (n * $w_step) % $w_span
  local q = $q_min + math.floor(n / $w_span) % $q_span
  return wrk.format("GET", path .. "?w=" .. w .. "&q=" .. q .. "&jwt=" .. token)
end
""").substitute(w_min=W_MIN, w_span=W_SPAN, w_step=W_STEP, q_min=Q_MIN, q_span=Q_SPAN)


def noisier(jpeg: bytes) -> bytes:
    """More grain, so that small renders stay tens of KB and 10,000 of them overflow a 64 MiB cache."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    image = Image.blend(image, Image.effect_noise(image.size, 60).convert("RGB"), 0.5)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# the servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Origin:
    workers: int
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the server itself, or uvicorn's spawned workers."""
        if self.workers == 1:
            return [self.process.pid]
        return [pid for pid in self.pids() if b"spawn_main" in _cmdline(pid)]

    def pids(self) -> list[int]:
        """The server's process and all its descendants (uvicorn's supervisor and workers)."""
        found: list[int] = []
        todo = [self.process.pid]
        while todo and len(found) < 64:
            pid = todo.pop()
            found.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                    todo.extend(int(child) for child in children)
            except OSError:
                continue
        return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@contextmanager
def origin(root: Path, workers: int, secret: str, tmp: Path, **env_settings: str) -> Iterator[Origin]:
    port = free_port()
    env = {**os.environ, "ORIGIN_JWT_SECRET": secret, "TMPDIR": str(tmp)}  # TMPDIR: the metrics folder
    env.update({f"ORIGIN_{name.upper()}": value for name, value in env_settings.items()})
    command = [sys.executable, "-m", "origin", "serve", "--root", str(root), "--port", str(port)]
    command += ["--workers", str(workers)]
    log = tmp / f"origin-{workers}w-{port}.log"
    with log.open("wb") as log_file:
        # stdout carries one access-log line per request: discarded, as a CDN origin's would be shipped
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log_file)
    server = Origin(workers, port, process, log)
    try:
        deadline = time.monotonic() + 60
        with httpx2.Client(base_url=server.base_url, timeout=5) as client:
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"origin serve --workers {workers} exited:\n{log.read_text()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"origin serve --workers {workers} did not answer /healthz in 60 s")
                time.sleep(0.1)
        # with several workers, wait until every one is up (the supervisor starts them one by one)
        for _ in range(100):
            if len(server.pids()) >= workers + (1 if workers > 1 else 0):
                break
            time.sleep(0.1)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def scrape(server: Origin) -> dict[str, float]:
    with httpx2.Client(base_url=server.base_url, timeout=30) as client:
        text = client.get("/metrics").text
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = samples.get(name, 0.0) + float(value)
    return samples


# --------------------------------------------------------------------------------------------------
# load generators


@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers, connection errors and timeouts

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


class Wrk:
    name = "wrk"

    def __init__(self, connections: int, tmp: Path) -> None:
        self.connections = connections
        self.threads = max(1, min(connections, os.cpu_count() or 1))
        self.script = tmp / "misses.lua"
        self.script.write_text(MISS_LUA)
        version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
        self.description = f"{version[0] if version else 'wrk'}, {self.threads} threads, {connections} connections"

    def _wrk(self, url: str, seconds: float, extra: list[str], tail: list[str]) -> Run:
        command = ["wrk", "-t", str(self.threads), "-c", str(self.connections), "-d", f"{max(1, round(seconds))}s"]
        command += ["--latency", "--timeout", "30s", *extra, url, *tail]
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
        return parse_wrk(out)

    def hits(self, base_url: str, target: str, seconds: float) -> Run:
        return self._wrk(base_url + target, seconds, [], [])

    def misses(self, base_url: str, path: str, token: str, offset: int, seconds: float) -> Run:
        tail = ["--", str(offset), str(self.threads), path, token]
        return self._wrk(base_url + path, seconds, ["-s", str(self.script)], tail)


def parse_wrk(out: str, what: str = "wrk") -> Run:
    """Requests, time, p50/p99 and errors from wrk's ``--latency`` output."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m),", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (total and p50 and p99):
        raise SystemExit(f"cannot read wrk's output for {what}:\n{out}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    elapsed = _ms(total.group(2) + total.group(3)) / 1000
    return Run(int(total.group(1)), elapsed, _ms(p50.group(1)), _ms(p99.group(1)), errors)


class AsyncioLoad:
    name = "asyncio"

    def __init__(self, connections: int) -> None:
        self.connections = connections
        self.description = f"asyncio + httpx2 {httpx2.__version__}, {connections} connections (wrk not found)"

    def _run(self, base_url: str, target: Callable[[int], str], seconds: float) -> Run:
        return asyncio.run(self._load(base_url, target, seconds))

    async def _load(self, base_url: str, target: Callable[[int], str], seconds: float) -> Run:
        latencies: list[float] = []
        errors = 0
        counter = iter(range(10**9))
        limits = httpx2.Limits(max_connections=self.connections, max_keepalive_connections=self.connections)
        async with httpx2.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
            started = time.perf_counter()
            end = started + seconds

            async def connection() -> None:
                nonlocal errors
                while time.perf_counter() < end:
                    began = time.perf_counter()
                    try:
                        response = await client.get(target(next(counter)))
                        if response.status_code != 200:
                            errors += 1
                    except httpx2.HTTPError:
                        errors += 1
                    latencies.append((time.perf_counter() - began) * 1000)

            await asyncio.gather(*(connection() for _ in range(self.connections)))
            elapsed = time.perf_counter() - started
        latencies.sort()
        p50 = latencies[len(latencies) // 2] if latencies else 0.0
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
        return Run(len(latencies), elapsed, p50, p99, errors)

    def hits(self, base_url: str, target: str, seconds: float) -> Run:
        return self._run(base_url, lambda n: target, seconds)

    def misses(self, base_url: str, path: str, token: str, offset: int, seconds: float) -> Run:
        return self._run(base_url, lambda n: f"{path}?{miss_query(offset + n)}&jwt={token}", seconds)


# --------------------------------------------------------------------------------------------------
# memory


@dataclass
class RssRun:
    idle_mib: float
    peak_mib: float  # every process of the server (supervisor and resource tracker included)
    end_mib: float
    workers_peak_mib: float  # only the processes that serve requests
    processes: int
    requests: int
    errors: int
    seconds: float
    cache_mib: float  # origin_cache_bytes at the end, summed over the workers
    samples: int = 0


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_run(server: Origin, token: str, count: int, connections: int) -> RssRun:
    """``count`` distinct URLs of the small source (w 100..599 × q 41..60, then further q) while a
    thread samples the summed RSS of every server process every 100 ms."""
    stop = threading.Event()
    peak = [0, 0]  # whole tree, workers only (KiB)
    samples = [0]

    def tree_rss() -> int:
        return sum(rss_kib(pid) for pid in server.pids())

    def sample() -> None:
        while not stop.is_set() and samples[0] < 100_000:
            workers = set(server.worker_pids())
            by_pid = {pid: rss_kib(pid) for pid in server.pids()}
            peak[0] = max(peak[0], sum(by_pid.values()))
            peak[1] = max(peak[1], sum(kib for pid, kib in by_pid.items() if pid in workers))
            samples[0] += 1
            stop.wait(0.1)

    idle = tree_rss()
    sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    sampler.start()
    targets = [f"{SMALL}?w={100 + n % 500}&q={41 + (n // 500) % 59}&jwt={token}" for n in range(count)]
    errors = 0

    async def load() -> None:
        nonlocal errors
        pending = list(reversed(targets))
        limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx2.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:

            async def connection() -> None:
                nonlocal errors
                while pending:
                    try:
                        response = await client.get(pending.pop())
                        errors += response.status_code != 200
                    except httpx2.HTTPError:
                        errors += 1

            await asyncio.gather(*(connection() for _ in range(connections)))

    started = time.perf_counter()
    asyncio.run(load())
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join(timeout=5)
    end = tree_rss()
    cache = scrape(server).get("origin_cache_bytes", 0.0)
    return RssRun(
        idle_mib=idle / 1024,
        peak_mib=max(peak[0], end) / 1024,
        end_mib=end / 1024,
        workers_peak_mib=peak[1] / 1024,
        processes=len(server.pids()),
        requests=count,
        errors=errors,
        seconds=elapsed,
        cache_mib=cache / MiB,
        samples=samples[0],
    )


# --------------------------------------------------------------------------------------------------
# the run


def ratio(two: float, one: float) -> str:
    return f"{two / one:.2f}" if one else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15, help="load time per scenario and worker count (15)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per cell, medians reported (3)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (8)")
    parser.add_argument("--rss-urls", type=int, default=10_000, help="distinct URLs for the memory run (10000)")
    parser.add_argument("--generator", choices=["auto", "wrk", "asyncio"], default="auto")
    options = parser.parse_args()
    per_round = options.seconds / options.rounds
    if (options.rounds + 1) * ROUND_STRIDE > W_SPAN * Q_SPAN:
        parser.error(f"at most {W_SPAN * Q_SPAN // ROUND_STRIDE - 1} rounds keep every miss distinct")

    use_wrk = options.generator == "wrk" or (options.generator == "auto" and shutil.which("wrk"))
    secret = secrets.token_urlsafe(32)
    key = secret.encode()
    token_big = sign_token(key=key, expires_in=3600, aud=BIG)
    token_small = sign_token(key=key, expires_in=3600, aud=SMALL)
    hit_target = f"{BIG}?w=800&jwt={token_big}"

    with tempfile.TemporaryDirectory(prefix="origin-load-") as folder:
        tmp = Path(folder)
        root = tmp / "root"
        root.mkdir()
        big = photographic_jpeg(3000, 2000)
        (root / BIG[1:]).write_bytes(big)
        (root / SMALL[1:]).write_bytes(noisier(photographic_jpeg(800, 533)))
        generator = Wrk(options.connections, tmp) if use_wrk else AsyncioLoad(options.connections)

        print("origin load benchmark")
        print(f"  machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load generator on the same machine")
        print(f"  load generator: {generator.description}")
        print(f"  source: {BIG} 3000x2000 JPEG q90 ({len(big) / 1e6:.1f} MB); settings: defaults")
        print(f"  hits: GET {BIG}?w=800 repeated; misses: every URL distinct (w 280..2000 x q 40..99)")
        print(f"  {options.rounds} rounds x {per_round:.0f} s per cell, 1 and 2 workers alternating; medians")
        print(flush=True)

        runs: dict[tuple[str, int], list[Run]] = {}
        renders: dict[int, list[float]] = {1: [], 2: []}
        with origin(root, 1, secret, tmp) as one, origin(root, 2, secret, tmp) as two:
            servers = {1: one, 2: two}
            for workers, server in servers.items():  # warm-up: fill each worker's cache, touch the code paths
                generator.hits(server.base_url, hit_target, 1)
                generator.misses(server.base_url, BIG, token_big, options.rounds * ROUND_STRIDE, 1)
            for round_ in range(options.rounds):
                offset = round_ * ROUND_STRIDE
                for workers, server in servers.items():
                    hit = generator.hits(server.base_url, hit_target, per_round)
                    before = scrape(server)
                    miss = generator.misses(server.base_url, BIG, token_big, offset, per_round)
                    after = scrape(server)
                    rendered = after["origin_renders_total"] - before["origin_renders_total"]
                    renders[workers].append(rendered / miss.requests if miss.requests else 0.0)
                    runs.setdefault(("hits", workers), []).append(hit)
                    runs.setdefault(("misses", workers), []).append(miss)
                    print(
                        f"  round {round_ + 1} {workers}w: hits {hit.rps:8.1f} req/s p50 {hit.p50_ms:7.2f} ms"
                        f" p99 {hit.p99_ms:7.2f} ms | misses {miss.rps:6.1f} req/s p50 {miss.p50_ms:7.1f} ms"
                        f" p99 {miss.p99_ms:7.1f} ms, {int(rendered)} renders for {miss.requests} requests,"
                        f" errors {hit.errors + miss.errors}",
                        flush=True,
                    )

        print(f"\n  memory: {options.rss_urls} distinct URLs of {SMALL} (800x533), cache_max_bytes=64 MiB,", end="")
        print(f" asyncio + httpx2, {options.connections} connections", flush=True)
        memory: dict[int, RssRun] = {}
        for workers in (1, 2):
            with origin(root, workers, secret, tmp, cache_max_bytes=str(RSS_CACHE_BYTES)) as server:
                memory[workers] = run = memory_run(server, token_small, options.rss_urls, options.connections)
            print(
                f"  {workers}w: {run.requests} requests in {run.seconds:.1f} s, errors {run.errors}, "
                f"{run.processes} processes, RSS idle {run.idle_mib:.0f} MiB, peak {run.peak_mib:.0f} MiB"
                f" (workers {run.workers_peak_mib:.0f} MiB), end {run.end_mib:.0f} MiB,"
                f" cache {run.cache_mib:.1f} MiB, {run.samples} samples",
                flush=True,
            )

    def med(scenario: str, workers: int, metric: Callable[[Run], float]) -> float:
        return statistics.median(metric(run) for run in runs[(scenario, workers)])

    rows: list[tuple[str, str, float, float, str]] = []
    for scenario in ("hits", "misses"):
        for label, metric, fmt in (
            ("requests/s", lambda r: r.rps, "{:.1f}"),
            ("p50 latency ms", lambda r: r.p50_ms, "{:.2f}"),
            ("p99 latency ms", lambda r: r.p99_ms, "{:.2f}"),
            ("errors", lambda r: float(r.errors), "{:.0f}"),
        ):
            rows.append((scenario, label, med(scenario, 1, metric), med(scenario, 2, metric), fmt))
    rows.append(("misses", "renders/request", statistics.median(renders[1]), statistics.median(renders[2]), "{:.2f}"))
    rows.append(("memory", "peak RSS MiB", memory[1].peak_mib, memory[2].peak_mib, "{:.0f}"))
    rows.append(("memory", "workers' peak MiB", memory[1].workers_peak_mib, memory[2].workers_peak_mib, "{:.0f}"))
    rows.append(("memory", "idle RSS MiB", memory[1].idle_mib, memory[2].idle_mib, "{:.0f}"))
    rows.append(("memory", "cache MiB (end)", memory[1].cache_mib, memory[2].cache_mib, "{:.1f}"))
    rows.append(("memory", "errors", memory[1].errors, memory[2].errors, "{:.0f}"))

    print()
    print(f"{'scenario':<10}{'metric':<18}{'1 worker':>12}{'2 workers':>12}{'2w/1w':>8}")
    for scenario, label, one_value, two_value, fmt in rows:
        print(
            f"{scenario:<10}{label:<18}{fmt.format(one_value):>12}{fmt.format(two_value):>12}"
            f"{ratio(two_value, one_value):>8}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
