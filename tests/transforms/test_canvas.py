"""The canvas step: sizes and placement without pixels, then pixels, modes and goldens."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageChops

from tests.golden import make_canvas_goldens as goldens
from tests.imaging import assert_images_close, fixture_image
from transforms.canvas import apply_canvas, canvas_size, image_box
from transforms.errors import OutputTooLargeError
from transforms.geometry import Box, Size
from transforms.options import RGBA, CanvasSpec, Gravity, Length

CANVAS = (10, 20, 30, 255)
BORDER = (200, 100, 50, 255)


def px(value: int) -> Length:
    return Length(value)


def pct(value: float) -> Length:
    return Length(value, percent=True)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """60x40 RGB with detail everywhere, so a misplaced or altered pixel shows."""
    return fixture_image("photo.jpg").convert("RGB").resize((60, 40))


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.mode == b.mode and a.size == b.size and ImageChops.difference(a, b).getbbox(alpha_only=False) is None


# --- sizes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "spec", "expected"),
    [
        ((300, 200), CanvasSpec(), (300, 200)),
        ((300, 200), CanvasSpec(width=px(400), height=px(300)), (400, 300)),
        ((300, 200), CanvasSpec(width=px(500)), (500, 200)),
        ((300, 200), CanvasSpec(height=px(201)), (300, 201)),
        ((300, 200), CanvasSpec(width=pct(150), height=pct(200)), (450, 400)),
        ((301, 201), CanvasSpec(width=pct(150), height=pct(150)), (452, 302)),  # 451.5 and 301.5 round up
        ((300, 200), CanvasSpec(width=px(100), height=px(50)), (300, 200)),  # never cuts
        ((300, 200), CanvasSpec(width=pct(50), height=px(400)), (300, 400)),
        ((300, 200), CanvasSpec(width=px(1), height=pct(1)), (300, 200)),
        ((300, 200), CanvasSpec(border_width=10, border_height=5), (320, 210)),
        ((300, 200), CanvasSpec(width=px(400), border_width=1), (402, 200)),
        ((300, 200), CanvasSpec(border_height=7), (300, 214)),
        # aspect ratios: one side grows, to the nearest whole pixel
        ((1000, 1000), CanvasSpec(aspect_ratio=(16, 9)), (1778, 1000)),
        ((1600, 800), CanvasSpec(aspect_ratio=(16, 9)), (1600, 900)),
        ((1600, 900), CanvasSpec(aspect_ratio=(16, 9)), (1600, 900)),
        ((810, 1440), CanvasSpec(aspect_ratio=(16, 9)), (2560, 1440)),
        ((300, 200), CanvasSpec(aspect_ratio=(1, 1)), (300, 300)),
        ((200, 300), CanvasSpec(aspect_ratio=(1, 1)), (300, 300)),
        ((300, 200), CanvasSpec(aspect_ratio=(4, 3)), (300, 225)),
        ((200, 300), CanvasSpec(aspect_ratio=(4, 3)), (400, 300)),
        ((1000, 1000), CanvasSpec(aspect_ratio=(4, 3)), (1333, 1000)),
        ((300, 200), CanvasSpec(aspect_ratio=(3, 4)), (300, 400)),
        ((300, 200), CanvasSpec(width=px(600), aspect_ratio=(1, 1)), (600, 600)),
        ((300, 200), CanvasSpec(height=pct(300), aspect_ratio=(16, 9)), (1067, 600)),
        # borders go around the canvas with the ratio
        ((1600, 800), CanvasSpec(aspect_ratio=(16, 9), border_width=10, border_height=20), (1620, 940)),
    ],
)
def test_canvas_size(size: Size, spec: CanvasSpec, expected: Size) -> None:
    assert canvas_size(*size, spec) == expected


@pytest.mark.parametrize(
    ("size", "ratio"),
    [
        ((1600, 800), (16, 9)),
        ((810, 1440), (16, 9)),
        ((1920, 1080), (16, 9)),
        ((300, 200), (1, 1)),
        ((200, 300), (1, 1)),
        ((300, 200), (4, 3)),
        ((200, 300), (4, 3)),
        ((640, 480), (4, 3)),
        ((300, 200), (3, 4)),
    ],
)
def test_an_aspect_ratio_is_exact_when_whole_pixels_allow(size: Size, ratio: tuple[int, int]) -> None:
    width, height = canvas_size(*size, CanvasSpec(aspect_ratio=ratio))
    assert width * ratio[1] == height * ratio[0]


@given(
    width=st.integers(1, 5000),
    height=st.integers(1, 5000),
    ratio=st.tuples(st.integers(1, 50), st.integers(1, 50)),
)
def test_an_aspect_ratio_grows_one_side_to_within_a_pixel(width: int, height: int, ratio: tuple[int, int]) -> None:
    out_w, out_h = canvas_size(width, height, CanvasSpec(aspect_ratio=ratio))
    assert out_w >= width and out_h >= height
    assert out_w == width or out_h == height
    if out_h == height:  # the width follows the height: at most half a pixel from the exact ratio
        assert abs(out_w - Fraction(height * ratio[0], ratio[1])) <= Fraction(1, 2)
    else:
        assert abs(out_h - Fraction(width * ratio[1], ratio[0])) <= Fraction(1, 2)


def test_canvas_size_checks_the_largest_side() -> None:
    spec = CanvasSpec(aspect_ratio=(1000, 1))
    with pytest.raises(OutputTooLargeError):
        canvas_size(100, 100, spec, max_side=8192)
    assert canvas_size(100, 100, CanvasSpec(width=px(8192)), max_side=8192) == (8192, 100)


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (Gravity.NORTHWEST, (10, 5, 110, 55)),
        (Gravity.NORTH, (110, 5, 210, 55)),
        (Gravity.NORTHEAST, (210, 5, 310, 55)),
        (Gravity.WEST, (10, 80, 110, 130)),
        (Gravity.CENTER, (110, 80, 210, 130)),
        (Gravity.EAST, (210, 80, 310, 130)),
        (Gravity.SOUTHWEST, (10, 155, 110, 205)),
        (Gravity.SOUTH, (110, 155, 210, 205)),
        (Gravity.SOUTHEAST, (210, 155, 310, 205)),
    ],
)
def test_image_box_follows_the_position(position: Gravity, expected: Box) -> None:
    spec = CanvasSpec(width=px(300), height=px(200), position=position, border_width=10, border_height=5)
    assert image_box(100, 50, spec) == expected


def test_a_centred_image_leaves_the_odd_pixel_after_it() -> None:
    assert image_box(100, 50, CanvasSpec(width=px(103), height=px(52))) == (1, 1, 101, 51)


# --- pixels ------------------------------------------------------------------------------------


@pytest.mark.parametrize("position", list(Gravity))
def test_the_image_is_placed_unchanged_on_the_canvas(photo: Image.Image, position: Gravity) -> None:
    spec = CanvasSpec(
        width=px(100),
        height=px(80),
        color=CANVAS,
        position=position,
        border_width=4,
        border_height=3,
        border_color=BORDER,
    )
    result = apply_canvas(photo, spec)
    assert result.mode == "RGB" and result.size == (108, 86)
    box = image_box(*photo.size, spec)
    assert same_pixels(result.crop(box), photo)
    for corner in ((0, 0), (107, 0), (0, 85), (107, 85), (3, 2), (104, 83)):
        assert result.getpixel(corner) == BORDER[:3]
    for corner in ((4, 3), (103, 3), (4, 82), (103, 82)):  # the canvas's own corners, where the image is not
        inside = box[0] <= corner[0] < box[2] and box[1] <= corner[1] < box[3]
        assert result.getpixel(corner) == (
            photo.getpixel((corner[0] - box[0], corner[1] - box[1])) if inside else CANVAS[:3]
        )


def test_opacity_zero_gives_a_transparent_canvas(photo: Image.Image) -> None:
    result = apply_canvas(photo, CanvasSpec(width=px(100), color=CANVAS, opacity=0))
    assert result.mode == "RGBA" and result.size == (100, 40)
    assert result.getpixel((0, 0)) == (10, 20, 30, 0)
    assert result.getpixel((99, 39)) == (10, 20, 30, 0)
    assert same_pixels(result.crop((20, 0, 80, 40)), photo.convert("RGBA"))


@pytest.mark.parametrize(
    ("spec", "border", "canvas"),
    [
        (CanvasSpec(width=px(70), color=CANVAS, border_width=2, border_height=2), CANVAS, CANVAS),
        (CanvasSpec(color=CANVAS, opacity=50, border_width=2, border_height=2), CANVAS, None),
        (
            CanvasSpec(width=px(70), color=CANVAS, opacity=50, border_width=2, border_height=2),
            CANVAS,
            (10, 20, 30, 128),
        ),
        (
            CanvasSpec(width=px(70), border_width=2, border_height=2, border_color=BORDER, border_opacity=50),
            (200, 100, 50, 128),
            (255, 255, 255, 255),
        ),
        (
            CanvasSpec(width=px(70), border_width=2, border_height=2, border_color=(0, 0, 255, 100), border_opacity=0),
            (0, 0, 255, 0),
            (255, 255, 255, 255),
        ),
    ],
)
def test_border_colour_and_opacity(photo: Image.Image, spec: CanvasSpec, border: RGBA, canvas: RGBA | None) -> None:
    result = apply_canvas(photo, spec).convert("RGBA")
    assert result.getpixel((0, 0)) == border
    assert result.getpixel((result.width - 2, result.height - 2)) == border
    if canvas is not None:
        assert result.getpixel((2, 2)) == canvas


def test_an_image_with_alpha_is_composited_over_the_canvas() -> None:
    image = Image.new("RGBA", (4, 2), (0, 0, 0, 0))
    image.putpixel((1, 0), (0, 255, 0, 255))
    image.putpixel((2, 0), (0, 0, 255, 128))
    image.putpixel((3, 0), (250, 250, 250, 64))
    red = (255, 0, 0, 255)
    result = apply_canvas(image, CanvasSpec(width=px(6), color=red))
    assert result.mode == "RGB" and result.size == (6, 2)  # nothing left to see through
    expected = Image.new("RGBA", (4, 2), red)
    expected.alpha_composite(image)
    assert same_pixels(result.crop((1, 0, 5, 2)), expected.convert("RGB"))
    assert result.getpixel((1, 0)) == (255, 0, 0)  # transparent: the canvas
    assert result.getpixel((2, 0)) == (0, 255, 0)  # opaque: the image's own pixel


def test_an_image_with_alpha_keeps_it_on_a_transparent_canvas() -> None:
    image = Image.new("RGBA", (4, 2), (0, 0, 255, 128))
    result = apply_canvas(image, CanvasSpec(width=px(6), color=(255, 0, 0, 0)))
    assert result.mode == "RGBA"
    assert result.getpixel((0, 0)) == (255, 0, 0, 0)
    assert result.getpixel((2, 1)) == (0, 0, 255, 128)


def test_an_image_with_alpha_shows_the_canvas_even_at_its_own_size() -> None:
    image = Image.new("RGBA", (4, 2), (0, 0, 0, 0))
    result = apply_canvas(image, CanvasSpec(width=pct(50), color=(0, 128, 0, 255)))
    assert result.mode == "RGB" and result.size == (4, 2)
    assert result.getcolors() == [(8, (0, 128, 0))]


GREY = (90, 90, 90, 255)


@pytest.mark.parametrize(
    ("mode", "spec", "expected"),
    [
        ("RGB", CanvasSpec(width=px(70)), "RGB"),
        ("RGB", CanvasSpec(width=px(70), opacity=99), "RGBA"),
        ("RGB", CanvasSpec(border_width=1, border_opacity=0), "RGBA"),
        ("RGB", CanvasSpec(border_width=1, opacity=0), "RGB"),  # the canvas never shows: only the border
        ("RGBA", CanvasSpec(width=px(70)), "RGB"),
        ("RGBA", CanvasSpec(width=px(70), color=(255, 255, 255, 254)), "RGBA"),
        ("L", CanvasSpec(width=px(70), color=GREY), "L"),
        ("L", CanvasSpec(width=px(70), color=CANVAS), "RGB"),
        ("L", CanvasSpec(width=px(70), color=GREY, border_width=1, border_color=BORDER), "RGB"),
        ("L", CanvasSpec(width=px(70), color=GREY, opacity=0), "LA"),
        ("LA", CanvasSpec(width=px(70), color=GREY), "L"),
        ("LA", CanvasSpec(width=px(70), color=GREY, opacity=10), "LA"),
        ("LA", CanvasSpec(width=px(70), color=BORDER), "RGB"),
    ],
)
def test_the_result_mode(photo: Image.Image, mode: str, spec: CanvasSpec, expected: str) -> None:
    image = photo.convert(mode)
    result = apply_canvas(image, spec)
    assert result.mode == expected
    box = image_box(*image.size, spec)
    if mode in ("L", "RGB"):  # opaque: pasted, in whatever mode the result has
        assert same_pixels(result.crop(box), image.convert(expected))


def test_a_grey_image_on_a_grey_canvas_stays_exact(photo: Image.Image) -> None:
    image = photo.convert("L")
    result = apply_canvas(image, CanvasSpec(height=px(50), color=GREY, position=Gravity.SOUTH))
    assert result.mode == "L" and result.size == (60, 50)
    assert result.getpixel((0, 0)) == 90
    assert same_pixels(result.crop((0, 10, 60, 50)), image)


@pytest.mark.parametrize("spec", [CanvasSpec(), CanvasSpec(width=pct(50)), CanvasSpec(width=px(60), height=px(40))])
def test_a_canvas_that_adds_nothing_returns_the_input(photo: Image.Image, spec: CanvasSpec) -> None:
    assert apply_canvas(photo, spec) is photo


def test_apply_canvas_does_not_modify_its_input(photo: Image.Image) -> None:
    before = photo.copy()
    apply_canvas(photo, CanvasSpec(aspect_ratio=(1, 1), border_width=3, border_height=3, color=CANVAS))
    assert same_pixels(photo, before)


def test_apply_canvas_refuses_other_modes() -> None:
    with pytest.raises(ValueError, match="CMYK"):
        apply_canvas(Image.new("CMYK", (4, 4)), CanvasSpec(width=px(8)))


# --- goldens -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [name for name in goldens.CASES if not name.startswith("trim")])
def test_golden(name: str) -> None:
    with Image.open(Path(goldens.GOLDEN) / f"{name}.png") as expected:
        expected.load()
    result = goldens.CASES[name]()
    assert result.mode == expected.mode
    assert_images_close(result, expected, 0.5)
