"""The frame: sizes without pixels, then solid, mirror and edge frames pixel for pixel, then goldens."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.golden.make_effects_goldens import CASES, GOLDEN_DIR, photo, render_case
from tests.imaging import assert_images_close
from transforms.frame import apply_frame, framed_size
from transforms.options import RGBA, FrameSpec, FrameStyle

FLIP_X = Image.Transpose.FLIP_LEFT_RIGHT
FLIP_Y = Image.Transpose.FLIP_TOP_BOTTOM
TURN = Image.Transpose.ROTATE_180
STYLES = [FrameStyle.SOLID, FrameStyle.MIRROR, FrameStyle.EDGE]
WIDTHS = [(1, 0), (0, 1), (10, 0), (10, 3), (0, 7), (40, 5), (150, 2)]
"""(frame width, rim width) pairs; 150 is wider than the test image is high."""


def assert_same(a: Image.Image, b: Image.Image) -> None:
    assert (a.mode, a.size) == (b.mode, b.size)
    assert a.tobytes() == b.tobytes()


def uniform(image: Image.Image, box: tuple[int, int, int, int], colour: object) -> bool:
    """Whether every pixel of ``image`` inside ``box`` (which must not be empty) is ``colour``."""
    region = image.crop(box)
    return region.getcolors() == [(region.width * region.height, colour)]


def rim_boxes(size: tuple[int, int], width: int, rim: int) -> list[tuple[int, int, int, int]]:
    """The four strips of the rim (top, bottom, left, right) in an image of ``size`` framed ``width`` + ``rim``."""
    w, h = size
    pad = width + rim
    return [
        (width, width, w - width, pad),
        (width, h - pad, w - width, h - width),
        (width, width, pad, h - width),
        (w - pad, width, w - width, h - width),
    ]


# --- sizes, without pixels -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "spec", "expected"),
    [
        ((120, 80), FrameSpec(width=10), (140, 100)),
        ((120, 80), FrameSpec(rim_width=3), (126, 86)),
        ((120, 80), FrameSpec(width=10, rim_width=3), (146, 106)),
        ((1, 1), FrameSpec(style=FrameStyle.MIRROR, width=100, rim_width=1), (203, 203)),
        ((120, 80), FrameSpec(style=FrameStyle.EDGE, width=5), (130, 90)),
        ((120, 80), FrameSpec(), (120, 80)),
        ((120, 80), FrameSpec(style=FrameStyle.NONE, width=10, rim_width=3), (120, 80)),
    ],
)
def test_framed_size(size: tuple[int, int], spec: FrameSpec, expected: tuple[int, int]) -> None:
    assert framed_size(*size, spec) == expected


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(("width", "rim"), WIDTHS)
def test_the_result_has_the_framed_size_and_the_image_in_the_middle(style: FrameStyle, width: int, rim: int) -> None:
    image = photo()
    framed = apply_frame(image, FrameSpec(style=style, width=width, rim_width=rim))
    assert framed.size == framed_size(*image.size, FrameSpec(style=style, width=width, rim_width=rim))
    pad = width + rim
    assert_same(framed.crop((pad, pad, pad + image.width, pad + image.height)), image)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("size", [(1, 1), (1, 5), (5, 1)])
def test_tiny_images_get_whole_frames(style: FrameStyle, size: tuple[int, int]) -> None:
    image = Image.new("RGB", size, (10, 200, 30))
    framed = apply_frame(image, FrameSpec(style=style, color=(10, 200, 30, 255), width=9, rim_width=0))
    assert uniform(framed, (0, 0, *framed.size), (10, 200, 30))
    assert framed.size == (size[0] + 18, size[1] + 18)


@pytest.mark.parametrize("spec", [FrameSpec(), FrameSpec(style=FrameStyle.NONE, width=10, rim_width=3)])
def test_identity_returns_the_same_image(spec: FrameSpec) -> None:
    image = photo()
    assert apply_frame(image, spec) is image


@pytest.mark.parametrize("mode", ["P", "CMYK", "1", "I"])
def test_other_modes_are_rejected(mode: str) -> None:
    with pytest.raises(ValueError, match="a frame needs"):
        apply_frame(Image.new(mode, (8, 8)), FrameSpec(width=2))


@pytest.mark.parametrize("style", STYLES)
def test_the_input_is_not_changed(style: FrameStyle) -> None:
    image = photo().convert("RGBA")
    before = image.copy()
    apply_frame(image, FrameSpec(style=style, width=5, rim_width=2, rim_color=(0, 0, 0, 100)))
    assert_same(image, before)


# --- solid ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "rim"), WIDTHS)
def test_solid_frame_and_rim_have_their_colours_exactly(width: int, rim: int) -> None:
    colour, rim_colour = (30, 60, 120, 255), (240, 230, 200, 255)
    framed = apply_frame(photo(), FrameSpec(color=colour, width=width, rim_color=rim_colour, rim_width=rim))
    assert framed.mode == "RGB"
    w, h = framed.size
    if width:
        for box in [(0, 0, w, width), (0, h - width, w, h), (0, 0, width, h), (w - width, 0, w, h)]:
            assert uniform(framed, box, colour[:3])
    if rim:
        for box in rim_boxes(framed.size, width, rim):
            assert uniform(framed, box, rim_colour[:3])


@pytest.mark.parametrize(
    ("mode", "colour", "rim_colour", "expected_mode", "frame_pixel", "rim_pixel"),
    [
        ("RGB", (200, 0, 0, 128), (255, 255, 255, 255), "RGBA", (200, 0, 0, 128), (255, 255, 255, 255)),
        ("RGB", (200, 0, 0, 255), (255, 255, 255, 0), "RGBA", (200, 0, 0, 255), (255, 255, 255, 0)),
        ("RGBA", (200, 0, 0, 255), (0, 0, 0, 255), "RGBA", (200, 0, 0, 255), (0, 0, 0, 255)),
        ("L", (90, 90, 90, 255), (255, 255, 255, 255), "L", 90, 255),
        ("L", (90, 90, 90, 64), (255, 255, 255, 255), "LA", (90, 64), (255, 255)),
        ("L", (200, 0, 0, 255), (255, 255, 255, 255), "RGB", (200, 0, 0), (255, 255, 255)),
        ("L", (200, 0, 0, 64), (255, 255, 255, 255), "RGBA", (200, 0, 0, 64), (255, 255, 255, 255)),
        ("LA", (90, 90, 90, 255), (10, 10, 10, 255), "LA", (90, 255), (10, 255)),
        ("LA", (0, 0, 255, 255), (10, 10, 10, 255), "RGBA", (0, 0, 255, 255), (10, 10, 10, 255)),
    ],
)
def test_solid_frame_mode_follows_the_image_and_the_colours(
    mode: str, colour: RGBA, rim_colour: RGBA, expected_mode: str, frame_pixel: object, rim_pixel: object
) -> None:
    image = photo().convert(mode)
    framed = apply_frame(image, FrameSpec(color=colour, width=6, rim_color=rim_colour, rim_width=2))
    assert framed.mode == expected_mode
    assert uniform(framed, (0, 0, framed.width, 6), frame_pixel)
    for box in rim_boxes(framed.size, 6, 2):
        assert uniform(framed, box, rim_pixel)
    assert_same(framed.crop((8, 8, 8 + image.width, 8 + image.height)), image.convert(expected_mode))


def test_a_translucent_frame_colour_only_counts_where_it_is_drawn() -> None:
    image = photo()
    mirror = apply_frame(image, FrameSpec(style=FrameStyle.MIRROR, color=(0, 0, 0, 0), width=4))
    assert mirror.mode == "RGB"
    rimmed = apply_frame(image, FrameSpec(color=(0, 0, 0, 0), rim_width=4, rim_color=(9, 9, 9, 255)))
    assert rimmed.mode == "RGB"
    assert uniform(rimmed, (0, 0, rimmed.width, 4), (9, 9, 9))


# --- mirror and edge -----------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "rim"), [(10, 0), (10, 3), (1, 0), (30, 5)])
def test_mirror_frame_is_the_mirrored_edge_strip(width: int, rim: int) -> None:
    image = photo()
    w, h = image.size
    pad = width + rim
    framed = apply_frame(image, FrameSpec(style=FrameStyle.MIRROR, width=width, rim_width=rim))
    strips = [
        ((0, pad, width, pad + h), image.crop((rim, 0, pad, h)).transpose(FLIP_X)),
        ((pad + w + rim, pad, pad + w + pad, pad + h), image.crop((w - pad, 0, w - rim, h)).transpose(FLIP_X)),
        ((pad, 0, pad + w, width), image.crop((0, rim, w, pad)).transpose(FLIP_Y)),
        ((pad, pad + h + rim, pad + w, pad + h + pad), image.crop((0, h - pad, w, h - rim)).transpose(FLIP_Y)),
        ((0, 0, width, width), image.crop((rim, rim, pad, pad)).transpose(TURN)),
        (
            (pad + w + rim, pad + h + rim, pad + w + pad, pad + h + pad),
            image.crop((w - pad, h - pad, w - rim, h - rim)).transpose(TURN),
        ),
    ]
    for box, expected in strips:
        assert_same(framed.crop(box), expected)


def test_a_mirror_frame_wider_than_the_image_keeps_reflecting() -> None:
    image = Image.new("L", (3, 2))
    image.putdata([0, 10, 20, 100, 110, 120])
    framed = apply_frame(image, FrameSpec(style=FrameStyle.MIRROR, width=7))
    assert framed.size == (17, 16)
    row = [0, 0, 10, 20, 20, 10, 0, 0, 10, 20, 20, 10, 0, 0, 10, 20, 20]
    assert list(framed.crop((0, 7, 17, 8)).get_flattened_data()) == row
    assert list(framed.crop((0, 8, 17, 9)).get_flattened_data()) == [value + 100 for value in row]
    column = list(framed.crop((7, 0, 8, 16)).get_flattened_data())
    assert column == [100, 100, 0, 0, 100, 100, 0, 0, 100, 100, 0, 0, 100, 100, 0, 0]


@pytest.mark.parametrize(("width", "rim"), [(10, 0), (10, 3), (150, 2)])
def test_edge_frame_repeats_the_outermost_pixels(width: int, rim: int) -> None:
    image = photo()
    w, h = image.size
    pad = width + rim
    framed = apply_frame(image, FrameSpec(style=FrameStyle.EDGE, width=width, rim_width=rim))
    W, H = framed.size
    for x in (0, width - 1):
        assert_same(framed.crop((x, pad, x + 1, pad + h)), image.crop((0, 0, 1, h)))
        assert_same(framed.crop((W - 1 - x, pad, W - x, pad + h)), image.crop((w - 1, 0, w, h)))
    for y in (0, width - 1):
        assert_same(framed.crop((pad, y, pad + w, y + 1)), image.crop((0, 0, w, 1)))
        assert_same(framed.crop((pad, H - 1 - y, pad + w, H - y)), image.crop((0, h - 1, w, h)))
    corners = [
        ((0, 0, width, width), (0, 0)),
        ((W - width, 0, W, width), (w - 1, 0)),
        ((0, H - width, width, H), (0, h - 1)),
        ((W - width, H - width, W, H), (w - 1, h - 1)),
    ]
    for box, corner in corners:
        assert uniform(framed, box, image.getpixel(corner))


@pytest.mark.parametrize("style", [FrameStyle.MIRROR, FrameStyle.EDGE])
@pytest.mark.parametrize(
    ("mode", "rim_colour", "expected_mode"),
    [
        ("L", (255, 255, 255, 255), "L"),
        ("L", (255, 0, 0, 255), "RGB"),
        ("RGB", (0, 0, 0, 100), "RGBA"),
        ("RGBA", (0, 0, 0, 255), "RGBA"),
    ],
)
def test_mirror_and_edge_rims(style: FrameStyle, mode: str, rim_colour: RGBA, expected_mode: str) -> None:
    image = photo().convert(mode)
    framed = apply_frame(image, FrameSpec(style=style, width=8, rim_width=3, rim_color=rim_colour))
    assert framed.mode == expected_mode
    ink = {"L": rim_colour[0], "RGB": rim_colour[:3], "RGBA": rim_colour}[expected_mode]
    for box in rim_boxes(framed.size, 8, 3):
        assert uniform(framed, box, ink)


# --- goldens (regenerate with tests/golden/make_effects_goldens.py, then review) -------------------

GOLDEN_TOLERANCE = 0.5


@pytest.mark.parametrize("name", [name for name in CASES if name.startswith("frame_")])
def test_golden(name: str) -> None:
    with Image.open(GOLDEN_DIR / f"{name}.png") as golden:
        rendered = render_case(name)
        assert (rendered.mode, rendered.size) == (golden.mode, golden.size)
        assert_images_close(rendered, golden, max_mean_diff=GOLDEN_TOLERANCE)
