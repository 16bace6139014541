"""rotate, flip and flop."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from tests.imaging import assert_images_close
from transforms.geometry import rotated_size
from transforms.options import OrientSpec
from transforms.orient import flip, flop, orient, rotate

RED = (255, 0, 0)


def marked(mode: str = "RGB") -> Image.Image:
    """60x40 grey with a red 10x10 block in the top-left corner."""
    image = Image.new("RGB", (60, 40), (90, 90, 90))
    ImageDraw.Draw(image).rectangle((0, 0, 9, 9), fill=RED)
    return image.convert(mode)


def red_corner(image: Image.Image) -> str:
    """Which corner holds the red block: "top-left", "top-right", "bottom-left" or "bottom-right"."""
    width, height = image.width - 1, image.height - 1
    corners = {
        "top-left": (2, 2),
        "top-right": (width - 2, 2),
        "bottom-left": (2, height - 2),
        "bottom-right": (width - 2, height - 2),
    }
    found = [name for name, xy in corners.items() if image.convert("RGB").getpixel(xy) == RED]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("spec", "size", "corner"),
    [
        (OrientSpec(), (60, 40), "top-left"),
        (OrientSpec(rotate=90), (40, 60), "top-right"),  # clockwise, as CSS, ImageMagick and imgproxy
        (OrientSpec(rotate=-90), (40, 60), "bottom-left"),
        (OrientSpec(rotate=180), (60, 40), "bottom-right"),
        (OrientSpec(rotate=-180), (60, 40), "bottom-right"),
        (OrientSpec(flip=True), (60, 40), "bottom-left"),  # upside down
        (OrientSpec(flop=True), (60, 40), "top-right"),  # mirrored
        (OrientSpec(flip=True, flop=True), (60, 40), "bottom-right"),
        (OrientSpec(rotate=90, flip=True), (40, 60), "bottom-right"),  # rotate first, then flip
        (OrientSpec(rotate=90, flop=True), (40, 60), "top-left"),
    ],
)
def test_orient_moves_the_marker(spec: OrientSpec, size: tuple[int, int], corner: str) -> None:
    result = orient(marked(), spec)
    assert result.size == size
    assert red_corner(result) == corner


def test_quarter_turns_are_exact() -> None:
    image = marked()
    assert_images_close(rotate(image, 90), image.transpose(Image.Transpose.ROTATE_270), max_mean_diff=0)
    assert_images_close(rotate(rotate(image, 90), -90), image, max_mean_diff=0)


def test_nothing_to_do_returns_the_input() -> None:
    image = marked()
    assert orient(image, OrientSpec()) is image
    assert rotate(image, 0) is image


@pytest.mark.parametrize(
    ("mode", "corner"),
    [("RGB", (255, 255, 255)), ("L", 255), ("RGBA", (0, 0, 0, 0)), ("LA", (0, 0)), ("CMYK", (0, 0, 0, 0))],
)
def test_other_angles_grow_the_canvas_with_white_or_transparent_corners(mode: str, corner: object) -> None:
    rotated = rotate(marked(mode), 30)
    assert rotated.mode == mode
    assert rotated.size == rotated_size(60, 40, 30)
    assert rotated.getpixel((0, 0)) == corner


def test_transparent_colours_do_not_bleed_into_rotated_edges() -> None:
    image = Image.new("RGBA", (40, 40), (0, 255, 0, 0))  # transparent green
    image.paste((255, 0, 0, 255), (20, 0, 40, 40))
    rotated = rotate(image, 30)
    edges = [pixel for pixel in rotated.get_flattened_data() if isinstance(pixel, tuple) and 30 < pixel[3] < 225]
    assert edges
    assert all(pixel[0] > 230 and pixel[1] < 20 for pixel in edges)


def test_orient_does_not_modify_its_input() -> None:
    image = marked()
    before = image.copy()
    orient(image, OrientSpec(rotate=33, flip=True, flop=True))
    flip(image)
    flop(image)
    assert_images_close(image, before, max_mean_diff=0)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 80),
    height=st.integers(1, 80),
    degrees=st.floats(-180, 180, allow_nan=False),
)
def test_rotated_size_predicts_the_rotated_image(width: int, height: int, degrees: float) -> None:
    assert rotate(Image.new("L", (width, height)), degrees).size == rotated_size(width, height, degrees)
