"""Prometheus metrics (SPEC §8), one registry per app.

With several worker processes (``origin serve --workers N``) the CLI points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder; each worker then writes its values there and
``/metrics`` answers the sum over all workers (gauges as live sums).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

RENDER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._multiprocess = "PROMETHEUS_MULTIPROC_DIR" in os.environ
        # In multiprocess mode the metric objects write to files and are read back by the collector
        # below, so they must not be registered in the registry that is served.
        own = None if self._multiprocess else self.registry
        if self._multiprocess:
            multiprocess.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        self.requests = Counter("origin_requests", "HTTP requests answered, by status code", ["status"], registry=own)
        self.auth_failures = Counter(
            "origin_auth_failures", "Requests refused for their token, by reason", ["reason"], registry=own
        )
        self.cache_hits = Counter("origin_cache_hits", "Rendered-output cache hits", registry=own)
        self.cache_misses = Counter("origin_cache_misses", "Rendered-output cache misses", registry=own)
        self.renders = Counter("origin_renders", "Renders run (one per coalesced burst)", registry=own)
        self.render_failures = Counter("origin_render_failures", "Renders that raised", registry=own)
        self.coalesced = Counter(
            "origin_coalesced_requests", "Misses that waited for an identical render in flight", registry=own
        )
        self.queue_rejections = Counter(
            "origin_queue_rejections", "Renders refused because the queue was full", registry=own
        )
        self.render_timeouts = Counter(
            "origin_render_timeouts", "Requests answered 503 because their render passed render_timeout", registry=own
        )
        self.render_seconds = Histogram(
            "origin_render_seconds", "Time to read, decode, transform and encode", buckets=RENDER_BUCKETS, registry=own
        )
        self.renders_in_flight = Gauge(
            "origin_renders_in_flight", "Renders running or waiting", registry=own, multiprocess_mode="livesum"
        )
        self.shared_hits = Counter(
            "origin_shared_cache_hits", "Renders found in the shared (Redis) cache after a memory miss", registry=own
        )
        self.shared_misses = Counter(
            "origin_shared_cache_misses", "Memory misses that Redis did not have either (then rendered)", registry=own
        )
        self.shared_errors = Counter(
            "origin_shared_cache_errors",
            "Shared-cache calls that failed or passed redis_timeout (Redis is then skipped for a few seconds)",
            registry=own,
        )
        self.shared_dropped = Counter(
            "origin_shared_cache_publishes_dropped",
            "Renders not published to the shared cache because too many publishes were in flight",
            registry=own,
        )
        self.links_errors = Counter(
            "origin_once_links_errors",
            "One-time-link requests answered 503 because the shared store of used links (Redis) failed",
            registry=own,
        )
        self.cache_bytes = Gauge(
            "origin_cache_bytes",
            "Bytes charged to the rendered-output cache",
            registry=own,
            multiprocess_mode="livesum",
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
