"""Animated sources through the app: kept in GIF and WebP, the first frame otherwise, 422 past the frame limit."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image
from starlette.testclient import TestClient

from origin import Settings, create_app
from tests.conftest import FIXTURES, SECRET, Sign


def frames(body: bytes) -> tuple[str, list[tuple[int, int]], list[int]]:
    """The format, the size of every frame and every frame's duration."""
    with Image.open(BytesIO(body)) as image:
        sizes, durations = [], []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            image.load()
            sizes.append(image.size)
            durations.append(image.info.get("duration", 0))
        return image.format or "", sizes, durations


def test_an_animated_gif_is_resized_frame_by_frame(client: TestClient, sign: Sign) -> None:
    response = client.get(sign("/animated.gif", query="w=60"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/gif"
    fmt, sizes, durations = frames(response.content)
    assert (fmt, sizes, durations) == ("GIF", [(60, 45)] * 8, [100] * 8)


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/animated.gif", "w=60&format=webp", ("WEBP", [(60, 45)] * 8, [100] * 8)),
        ("/animated.webp", "w=60", ("WEBP", [(60, 40)] * 6, [40, 80, 120, 40, 80, 120])),
        ("/animated.webp", "w=60&format=gif", ("GIF", [(60, 40)] * 6, [40, 80, 120, 40, 80, 120])),
    ],
)
def test_animations_are_kept_in_gif_and_webp(
    client: TestClient, sign: Sign, path: str, query: str, expected: tuple[str, list[tuple[int, int]], list[int]]
) -> None:
    response = client.get(sign(path, query=query))
    assert response.status_code == 200, response.text
    assert frames(response.content) == expected


@pytest.mark.parametrize("query", ["w=60&format=jpg", "w=60&format=png"])
def test_a_format_that_cannot_animate_gets_the_first_frame(client: TestClient, sign: Sign, query: str) -> None:
    response = client.get(sign("/animated.gif", query=query))
    assert response.status_code == 200, response.text
    assert frames(response.content)[1] == [(60, 45)]


def few_frames_allowed() -> TestClient:
    return TestClient(create_app(Settings(root=FIXTURES, keys={"main": SECRET}, max_animation_frames=7)))


def test_more_frames_than_allowed_is_422_when_the_animation_is_kept(sign: Sign) -> None:
    with few_frames_allowed() as client:  # animated.gif has 8 frames
        refused = client.get(sign("/animated.gif", query="w=60"))
    assert refused.status_code == 422
    assert refused.headers["cache-control"] == "no-store"
    assert "error" in refused.json()


def test_more_frames_than_allowed_is_fine_when_only_the_first_is_used(sign: Sign) -> None:
    with few_frames_allowed() as client:
        response = client.get(sign("/animated.gif", query="w=60&format=jpg"))
    assert response.status_code == 200, response.text


def test_a_refused_animation_does_not_refuse_its_first_frame(sign: Sign) -> None:
    with few_frames_allowed() as client:
        assert client.get(sign("/animated.gif", query="w=60")).status_code == 422
        assert client.get(sign("/animated.gif", query="w=60&format=jpg")).status_code == 200


def test_frames_times_output_pixels_are_bounded_by_max_animation_pixels(sign: Sign) -> None:
    """Every output frame is held until the animation is encoded: 8 frames of 160x120 are 153,600
    pixels, over a 100,000 limit (422); at w=60 (8 x 60x45 = 21,600) the same animation is fine."""
    settings = Settings(root=FIXTURES, keys={"main": SECRET}, max_animation_pixels=100_000)
    with TestClient(create_app(settings)) as client:
        refused = client.get(sign("/animated.gif"))
        small = client.get(sign("/animated.gif", query="w=60"))
        still = client.get(sign("/animated.gif", query="format=png"))
    assert refused.status_code == 422, refused.text
    assert "pixels" in refused.text
    assert small.status_code == 200 and frames(small.content)[1] == [(60, 45)] * 8
    assert still.status_code == 200 and frames(still.content)[1] == [(160, 120)]
