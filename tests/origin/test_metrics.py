"""/metrics (SPEC §8) and the access log, through the app."""

from __future__ import annotations

import json
import logging
import re

import pytest
from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.access import redacted_target
from origin.settings import with_overrides
from tests.conftest import Sign, make_token


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_what_happened(client: TestClient, sign: Sign) -> None:
    url = sign("/photo.jpg", query="w=64")
    client.get(url)
    client.get(url)
    client.get("/photo.jpg")  # missing token
    client.get("/photo.jpg?jwt=" + make_token(exp_in=-60))  # expired
    client.get(sign("/photo.jpg", query="w=0"))  # 400
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in response.headers
    text = response.text
    assert sample(text, "origin_requests_total", '{status="200"}') == 2
    assert sample(text, "origin_requests_total", '{status="403"}') == 2
    assert sample(text, "origin_requests_total", '{status="400"}') == 1
    assert sample(text, "origin_auth_failures_total", '{reason="missing token"}') == 1
    assert sample(text, "origin_auth_failures_total", '{reason="expired key"}') == 1
    assert sample(text, "origin_cache_hits_total") == 1
    assert sample(text, "origin_cache_misses_total") == 1
    assert sample(text, "origin_renders_total") == 1
    assert sample(text, "origin_render_seconds_count") == 1
    assert sample(text, "origin_renders_in_flight") == 0
    assert sample(text, "origin_cache_bytes") == client.app.state.origin.cache.current_bytes > 0  # type: ignore[attr-defined]
    for name in ("origin_coalesced_requests_total", "origin_queue_rejections_total", "origin_render_timeouts_total"):
        assert re.search(rf"^{name} 0\.0$", text, re.MULTILINE), name


def test_each_app_has_its_own_registry(settings: Settings, sign: Sign) -> None:
    first = TestClient(create_app(settings))
    first.get(sign("/photo.jpg", query="w=10"))
    second = TestClient(create_app(settings))
    assert sample(second.get("/metrics").text, "origin_renders_total") == 0


def test_queue_rejections_are_counted(settings: Settings, sign: Sign) -> None:
    client = TestClient(create_app(with_overrides(settings, render_concurrency=1, render_queue=1)))
    limiter = client.app.state.origin.limiter  # type: ignore[attr-defined]
    limiter._admitted = 2  # both places taken, as by two renders in progress
    assert client.get(sign("/photo.jpg", query="w=11")).status_code == 503
    limiter._admitted = 0
    assert sample(client.get("/metrics").text, "origin_queue_rejections_total") == 1


def test_access_log_is_one_json_line_without_the_token(
    client: TestClient, sign: Sign, caplog: pytest.LogCaptureFixture
) -> None:
    url = sign("/photo.jpg", query="w=32")
    token = url.split("jwt=")[1]
    with caplog.at_level(logging.INFO, logger="origin.access"):
        client.get(url)
        client.get("/photo.jpg?w=1&jwt=" + token[:-4] + "AAAA")
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name == "origin.access"]
    assert len(lines) == 2
    ok, refused = lines
    assert ok["method"] == "GET" and ok["status"] == 200 and ok["cache"] == "MISS" and ok["auth"] == "ok"
    assert ok["bytes"] > 0 and ok["ms"] >= 0
    assert ok["path"] == "/photo.jpg?w=32&jwt=REDACTED"
    assert refused["status"] == 403 and refused["auth"] == "signature mismatch"
    assert token not in caplog.text and token[:20] not in caplog.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"jwt=abc", "/x.jpg?jwt=REDACTED"),
        (b"w=1&jwt=abc&h=2", "/x.jpg?w=1&jwt=REDACTED&h=2"),
        (b"jwt=a&jwt=b", "/x.jpg?jwt=REDACTED&jwt=REDACTED"),
        (b"xjwt=keep", "/x.jpg?xjwt=keep"),
        (b"", "/x.jpg"),
    ],
)
def test_redacted_target(query: bytes, expected: str) -> None:
    assert redacted_target({"raw_path": b"/x.jpg", "path": "/x.jpg", "query_string": query}) == expected
