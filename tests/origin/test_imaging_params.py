"""The light and colour, effects, canvas, frame and trim parameters through HTTP: each one renders
and shows its effect, a bad value is a 400 naming it, and the URL's order never changes the result."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest
from PIL import Image, ImageFilter, ImageStat
from starlette.testclient import TestClient

from origin import Rule, Settings, create_app
from tests.conftest import FIXTURES, SECRET, decode, make_token

Check = Callable[[Image.Image, Image.Image], bool]
"""``check(result, plain)``: ``plain`` is the same request without the parameter under test."""

BASE = "w=200&format=png"  # 200x133 from photo.jpg; PNG keeps the pixels exact


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(root=FIXTURES, keys={"main": SECRET}, rules=(Rule(prefix="/", protect=False),))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def get(client: TestClient, query: str, path: str = "/photo.jpg") -> Image.Image:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 200, response.text
    return decode(response.content)


def mean(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> list[float]:
    rgb = image.convert("RGB")
    return list(ImageStat.Stat(rgb.crop(box) if box else rgb).mean)


def luma(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> float:
    grey = image.convert("L")
    return float(ImageStat.Stat(grey.crop(box) if box else grey).mean[0])


def spread(image: Image.Image) -> float:
    return float(ImageStat.Stat(image.convert("L")).stddev[0])


def edges(image: Image.Image) -> float:
    return float(ImageStat.Stat(image.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0])


def grey(image: Image.Image) -> bool:
    red, green, blue = image.convert("RGB").split()
    return red.tobytes() == green.tobytes() == blue.tobytes()


def alpha_at(image: Image.Image, xy: tuple[int, int]) -> int:
    return int(image.convert("RGBA").getpixel(xy)[3])  # type: ignore[index]


def rgb_at(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(image.convert("RGB").getpixel(xy))  # type: ignore[arg-type]


def warmer(result: Image.Image, plain: Image.Image) -> bool:
    (r, _, b), (r0, _, b0) = mean(result), mean(plain)
    return r - b > r0 - b0 + 10


CORNER = (0, 0, 20, 20)
CENTRE = (90, 56, 110, 76)

VALID: list[tuple[str, Check]] = [
    ("brightness=50", lambda r, p: luma(r) > luma(p) + 20),
    ("brightness=-50.5", lambda r, p: luma(r) < luma(p) - 20),
    ("contrast=60", lambda r, p: spread(r) > spread(p) * 1.2),
    ("exposure=50", lambda r, p: luma(r) > luma(p) + 10),
    ("hue=50", lambda r, p: abs(luma(r) - luma(p)) < 15 and max(abs(a - b) for a, b in zip(mean(r), mean(p))) > 5),
    ("saturation=-100", lambda r, p: max(mean(r)) - min(mean(r)) < 2 < max(mean(p)) - min(mean(p))),
    ("lightness=50", lambda r, p: luma(r) > luma(p) + 20),
    ("shadows=80", lambda r, p: luma(r) > luma(p) + 3),
    ("highlights=-80", lambda r, p: luma(r) < luma(p) - 3),
    ("grayscale=true", lambda r, p: grey(r) and not grey(p)),
    ("grayscale=false", lambda r, p: mean(r) == mean(p)),
    ("colorize=red", lambda r, p: warmer(r, p)),
    ("colorize.color=FF0000&colorize.opacity=40", lambda r, p: warmer(r, p)),
    ("colortone=sepia", lambda r, p: mean(r)[0] > mean(r)[1] > mean(r)[2] and warmer(r, p)),
    ("colortone=cold&colortone.level=50&colortone.mode=shadows", lambda r, p: mean(r)[2] > mean(p)[2] + 3),
    ("colortone.color=FF6600&colortone.mode=highlights", lambda r, p: warmer(r, p)),
    ("colorlevel.black=60&colorlevel.white=190", lambda r, p: spread(r) > spread(p) * 1.3),
    ("blur=50", lambda r, p: edges(r) < edges(p) / 2),
    ("sharpen=100", lambda r, p: edges(r) > edges(p) * 1.1),
    (
        "vignette.value=80",
        lambda r, p: luma(r, CORNER) < luma(p, CORNER) - 20 and luma(r, CENTRE) > luma(p, CENTRE) - 3,
    ),
    ("vignette.value=80&vignette.color=FFFFFF", lambda r, p: luma(r, CORNER) > luma(p, CORNER) + 20),
    ("opacity=50", lambda r, p: alpha_at(r, (100, 66)) == 128 and alpha_at(p, (100, 66)) == 255),
    ("canvas.width=300", lambda r, p: r.size == (300, 133) and rgb_at(r, (10, 66)) == (255, 255, 255)),
    ("canvas.height=50%25", lambda r, p: r.size == p.size),  # a canvas never cuts
    ("canvas.height=200&canvas.color=blue", lambda r, p: r.size == (200, 200) and rgb_at(r, (100, 5)) == (0, 0, 255)),
    ("canvas.height=200&canvas.position=north", lambda r, p: rgb_at(r, (100, 195)) == (255, 255, 255)),
    ("canvas.width=300&canvas.opacity=0", lambda r, p: alpha_at(r, (5, 66)) == 0 and alpha_at(r, (150, 66)) == 255),
    ("h=90&canvas.aspectratio=16:9", lambda r, p: r.size == (160, 90)),  # 135x90 on exactly 16:9
    ("canvas.aspectratio=1:1", lambda r, p: r.size == (200, 200)),
    ("canvas.border.width=10", lambda r, p: r.size == (220, 133)),
    ("canvas.border.height=5&canvas.border.color=lime", lambda r, p: rgb_at(r, (100, 2)) == (0, 255, 0)),
    (
        "canvas.border.width=4&canvas.border.color=red&canvas.border.opacity=50",
        lambda r, p: alpha_at(r, (1, 66)) == 128 and rgb_at(r, (1, 66)) == (255, 0, 0),
    ),
    ("frame.width=10", lambda r, p: r.size == (p.width + 20, p.height + 20) and rgb_at(r, (5, 5)) == (0, 0, 0)),
    ("frame.width=10&frame.color=red", lambda r, p: rgb_at(r, (5, 5)) == (255, 0, 0)),
    ("frame.width=10&frame.style=none", lambda r, p: r.size == p.size),
    ("frame.width=10&frame.style=mirror", lambda r, p: r.size == (220, 153) and rgb_at(r, (5, 5)) != (0, 0, 0)),
    ("frame.width=10&frame.style=edge", lambda r, p: r.size == (220, 153) and rgb_at(r, (5, 5)) != (0, 0, 0)),
    ("frame.rim.width=3", lambda r, p: r.size == (206, 139) and rgb_at(r, (1, 1)) == (255, 255, 255)),
    ("frame.width=4&frame.rim.width=3&frame.rim.color=blue", lambda r, p: rgb_at(r, (5, 60)) == (0, 0, 255)),
]


@pytest.mark.parametrize(("query", "check"), VALID, ids=[query for query, _ in VALID])
def test_each_parameter_renders_its_effect(client: TestClient, query: str, check: Check) -> None:
    result, plain = get(client, f"{BASE}&{query}"), get(client, BASE)
    assert check(result, plain)


@pytest.mark.parametrize(
    ("query", "size"),
    [
        ("crop.type=trim", (320, 480)),  # alpha.png: a transparent left half
        ("crop.type=trim&crop.pad.x=10", (330, 480)),  # padding given back where there was border
        ("crop.type=trim&crop.pad.x=10%25&crop.pad.y=10", (352, 480)),
        ("crop.type=trim&w=160", (160, 240)),  # sized from the trimmed image
        ("crop.type=trim&w=50%25", (160, 240)),
    ],
)
def test_trim_removes_the_border(client: TestClient, query: str, size: tuple[int, int]) -> None:
    image = get(client, f"{query}&format=png", "/alpha.png")
    assert image.size == size
    assert alpha_at(image, (image.width - 1, image.height // 2)) == 255
    if "crop.pad" not in query:
        assert alpha_at(image, (0, image.height // 2)) == 255  # nothing transparent is left


def test_canvas_and_frame_sizes_add_up_through_rotation(client: TestClient) -> None:
    image = get(client, f"{BASE}&canvas.aspectratio=16:9&canvas.border.width=5&rotate=90&frame.width=10")
    # 200x133 -> 236x133 (16:9) -> 246x133 (border) -> 133x246 (rotated) -> 153x266 (framed)
    assert image.size == (153, 266)


def test_signed_args_set_imaging_parameters_too(client: TestClient) -> None:
    token = make_token(args={"grayscale": True, "frame.width": 10, "blur": 20.5})
    image = get(client, f"{BASE}&jwt={token}")
    assert image.size == (220, 153) and grey(image)


INVALID = [
    ("brightness=101", {"brightness": "must be a number -100..100"}),
    ("saturation=-101", {"saturation": "must be a number -100..100"}),
    ("hue=NaN", {"hue": "must be a number -100..100"}),
    ("grayscale=1.0", {"grayscale": "must be true or false"}),
    ("colortone=nope", None),
    ("colortone.level=101", {"colortone.level": "must be a whole number 0..100"}),
    ("colorize=%23FFF", {"colorize": "must be RRGGBB, RRGGBBAA or a CSS colour name"}),
    (
        "colorlevel.black=200&colorlevel.white=100",
        dict.fromkeys(
            ["colorlevel.black", "colorlevel.white"], "colorlevel.black must be below colorlevel.white, both 0..255"
        ),
    ),
    ("colortone=sepia&colortone.color=red", None),
    ("blur=abc", {"blur": "must be a number 0..100"}),
    ("sharpen=101", {"sharpen": "must be a number 0..100"}),
    ("vignette.value=-5", {"vignette.value": "must be a whole number 0..100"}),
    ("opacity=200", {"opacity": "must be a whole number 0..100"}),
    ("canvas.opacity=-1", {"canvas.opacity": "must be a whole number 0..100"}),
    ("canvas.width=0", {"canvas.width": "must be 1..8192 or 1%..1000%"}),
    ("canvas.aspectratio=0:1", {"canvas.aspectratio": "must be W:H, two whole numbers above 0 (16:9)"}),
    ("canvas.border.height=9000", {"canvas.border.height": "must be a whole number 0..8192"}),
    ("frame.style=dotted", {"frame.style": "must be one of solid, mirror, edge, none"}),
    ("frame.width=-5", {"frame.width": "must be a whole number 0..1000"}),
    ("frame.rim.width=1001", {"frame.rim.width": "must be a whole number 0..1000"}),
    ("crop.type=poi", None),
    ("crop.type=TRIM", {"crop.type": "must be trim"}),
    ("crop.pad.x=5", {"crop.pad.x": "requires crop.type=trim"}),
    ("brightness=5&brightness=6", {"brightness": "repeated parameter"}),
]


@pytest.mark.parametrize(("query", "expected"), INVALID, ids=[query for query, _ in INVALID])
def test_bad_values_are_a_400_naming_the_parameter(
    client: TestClient, query: str, expected: dict[str, str] | None
) -> None:
    response = client.get(f"/photo.jpg?w=100&{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid parameters"
    named = {pair.split("=")[0] for pair in query.split("&")}
    assert set(body["parameters"]) == named
    if expected is not None:
        assert body["parameters"] == expected


def test_a_point_of_interest_crop_says_why_and_what_to_use(client: TestClient) -> None:
    message = client.get("/photo.jpg?crop.type=poi").json()["parameters"]["crop.type"]
    assert "point of interest" in message and "cx" in message and "cy" in message


def test_an_oversized_canvas_is_a_400(client: TestClient) -> None:
    response = client.get("/photo.jpg?canvas.width=1000%25")
    assert response.status_code == 400
    assert "8192" in response.text


EVERYTHING = (
    "crop.type=trim&crop.pad.x=4&w=180&cw=90%25&canvas.aspectratio=4:3&canvas.color=FFCC00"
    "&canvas.border.width=3&canvas.border.color=navy&rotate=10&flop=true&brightness=10&contrast=-20"
    "&saturation=30&hue=-15&colortone=warm&colortone.level=40&colorlevel.white=240&blur=5&sharpen=20"
    "&vignette.value=30&opacity=90&frame.style=mirror&frame.width=6&frame.rim.width=2&frame.rim.color=white"
    "&format=png"
)


def test_the_order_of_operations_does_not_follow_the_url() -> None:
    settings = Settings(root=FIXTURES, keys={"main": SECRET}, rules=(Rule(prefix="/", protect=False),))
    pairs = EVERYTHING.split("&")
    shuffler = random.Random(4)
    bodies = set()
    for _ in range(4):
        with TestClient(create_app(settings)) as fresh:  # an empty cache: every order is rendered
            response = fresh.get("/alpha.png?" + "&".join(pairs))
        assert response.status_code == 200, response.text
        assert response.headers["x-cache"] == "MISS"
        bodies.add((response.content, response.headers["etag"]))
        shuffler.shuffle(pairs)
    assert len(bodies) == 1
