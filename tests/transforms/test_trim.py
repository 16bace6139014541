"""The trim step on decoded pixels: exact boxes, JPEG noise, transparency, padding, modes and goldens."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pytest
from PIL import Image

from tests.golden import make_canvas_goldens as goldens
from tests.imaging import assert_images_close, decode, encode, fixture_image
from transforms.geometry import Box
from transforms.options import Length, TrimSpec
from transforms.trim import ALPHA_TOLERANCE, LONE_PIXEL_TOLERANCE, TOLERANCE, trim, trim_box

TRIM = TrimSpec(enabled=True)
CONTENT = (80, 50)
Margins = tuple[int, int, int, int]
"""Left, top, right and bottom border widths."""


@functools.cache
def small_photo() -> Image.Image:
    return fixture_image("photo.jpg").convert("RGB").resize(CONTENT)


def content(border: tuple[int, ...], gap: int = 80) -> Image.Image:
    """An RGB photo of :data:`CONTENT` size whose every channel is at least ``gap`` from ``border``'s."""
    photo = small_photo()
    table: list[int] = []
    for channel in border[:3]:
        if channel >= 128:
            table += [level * (channel - gap) // 255 for level in range(256)]
        else:
            table += [channel + gap + level * (255 - channel - gap) // 255 for level in range(256)]
    return photo.point(table)


def bordered(margins: Margins, border: tuple[int, int, int] = (255, 255, 255)) -> tuple[Image.Image, Box]:
    """:func:`content` with ``margins`` of ``border`` around it (RGB), and the box of the content."""
    left, top, right, bottom = margins
    image = Image.new("RGB", (CONTENT[0] + left + right, CONTENT[1] + top + bottom), border)
    image.paste(content(border), (left, top))
    return image, (left, top, left + CONTENT[0], top + CONTENT[1])


def jpeg(image: Image.Image, **params: int) -> Image.Image:
    return decode(encode(image, "JPEG", quality=90, **params))


MARGINS = [(13, 7, 21, 30), (1, 2, 3, 4), (8, 8, 8, 8), (40, 0, 0, 0), (0, 11, 0, 0), (5, 6, 0, 0)]


# --- exact boxes -------------------------------------------------------------------------------


@pytest.mark.parametrize("margins", MARGINS)
@pytest.mark.parametrize("border", [(255, 255, 255), (0, 0, 0), (40, 200, 90)])
def test_a_uniform_border_is_trimmed_to_the_pixel(margins: Margins, border: tuple[int, int, int]) -> None:
    image, box = bordered(margins, border)
    assert trim_box(image, TRIM) == box
    result = trim(image, TRIM)
    assert result.size == CONTENT and result.mode == "RGB"
    assert_images_close(result, content(border), max_mean_diff=0)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "CMYK"])
@pytest.mark.parametrize("border", [(255, 255, 255), (0, 0, 0)])
def test_every_source_mode_is_trimmed(mode: str, border: tuple[int, int, int]) -> None:
    image, box = bordered((13, 7, 21, 30), border)
    source = image.convert(mode)
    assert trim_box(source, TRIM) == box
    result = trim(source, TRIM)
    assert result.mode == mode and result.size == CONTENT


def test_cmyk_inks_are_compared_as_they_are() -> None:
    image = Image.new("CMYK", (50, 40), (0, 0, 0, 30))
    image.paste((0, 0, 0, 30 + TOLERANCE + 1), (10, 5, 20, 15))  # only K differs
    image.paste((0, 90, 0, 30), (30, 20, 35, 30))
    assert trim_box(image, TRIM) == (10, 5, 35, 30)


@pytest.mark.parametrize(
    ("patch", "colour", "expected"),
    [
        ((5, 5, 25, 15), (100 + TOLERANCE, 100 - TOLERANCE, 100), None),  # within the tolerance on every channel
        ((5, 5, 25, 15), (100, 100, 100 + TOLERANCE + 1), (5, 5, 25, 15)),  # one channel beyond it
        ((7, 6, 9, 8), (100 - TOLERANCE - 1, 100, 100), (7, 6, 9, 8)),  # a 2x2 square is enough
        ((7, 6, 8, 7), (100 - TOLERANCE - 1, 100, 100), None),  # a lone pixel that faint is noise
        ((7, 6, 8, 16), (100, 100 + TOLERANCE + 1, 100), None),  # so is a line one pixel thin
        ((7, 6, 8, 7), (100, 100, 100 + LONE_PIXEL_TOLERANCE), None),
        ((7, 6, 8, 7), (100, 100, 100 + LONE_PIXEL_TOLERANCE + 1), (7, 6, 8, 7)),  # a strong one is content
        ((7, 6, 8, 16), (0, 100, 100), (7, 6, 8, 16)),
    ],
)
def test_what_counts_as_content(patch: Box, colour: tuple[int, int, int], expected: Box | None) -> None:
    image = Image.new("RGB", (30, 20), (100, 100, 100))
    image.paste(colour, patch)
    assert trim_box(image, TRIM) == expected


def test_a_faint_edge_next_to_content_is_kept() -> None:
    image = Image.new("RGB", (30, 20), (255, 255, 255))
    image.paste((0, 0, 0), (10, 5, 20, 15))
    image.paste((255 - TOLERANCE - 1,) * 3, (9, 5, 10, 15))  # a one-pixel anti-aliased edge on the left
    image.paste((255 - TOLERANCE - 1,) * 3, (10, 15, 20, 16))  # and below
    assert trim_box(image, TRIM) == (9, 5, 20, 16)


# --- JPEG noise --------------------------------------------------------------------------------


def off_by(found: Box | None, box: Box) -> int:
    assert found is not None
    return max(abs(got - exact) for got, exact in zip(found, box, strict=True))


@pytest.mark.parametrize("margins", MARGINS[:3])
@pytest.mark.parametrize("border", [(255, 255, 255), (0, 0, 0), (128, 128, 128)])
@pytest.mark.parametrize("subsampling", [0, 2])  # 4:4:4 and 4:2:0
def test_jpeg_noise_trims_within_two_pixels(margins: Margins, border: tuple[int, int, int], subsampling: int) -> None:
    image, box = bordered(margins, border)
    found = trim_box(jpeg(image, subsampling=subsampling), TRIM)
    assert off_by(found, box) <= 2, (found, box)


@pytest.mark.parametrize("margins", [MARGINS[0], MARGINS[2]])
@pytest.mark.parametrize("subsampling", [0, 2])
def test_jpeg_noise_on_a_tinted_border_trims_within_five_pixels(margins: Margins, subsampling: int) -> None:
    image, box = bordered(margins, (250, 245, 235))
    found = trim_box(jpeg(image, subsampling=subsampling), TRIM)
    assert off_by(found, box) <= 5, (found, box)


def test_a_flat_jpeg_is_not_trimmed() -> None:
    assert trim_box(jpeg(Image.new("RGB", (64, 48), (250, 245, 235))), TRIM) is None


# --- transparency ------------------------------------------------------------------------------


def transparent_border(mode: str) -> Image.Image:
    """A 60x40 image: a transparent margin (random colours under alpha 0) around opaque-ish content."""
    rng = random.Random(7)
    image = Image.new("RGBA", (60, 40))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256), 0) for _ in range(60 * 40)])
    image.paste((200, 30, 30, 255), (9, 4, 50, 30))
    image.paste((200, 30, 30, ALPHA_TOLERANCE + 1), (9, 30, 50, 33))  # faint, but content
    image.paste((200, 30, 30, ALPHA_TOLERANCE), (9, 33, 50, 36))  # as transparent as the border
    return image.convert(mode)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_a_transparent_border_is_trimmed_whatever_colour_it_hides(mode: str) -> None:
    assert trim_box(transparent_border(mode), TRIM) == (9, 4, 50, 33)


def test_a_semi_transparent_border_compares_colour_and_alpha() -> None:
    image = Image.new("RGBA", (30, 20), (0, 0, 255, 128))
    image.paste((0, 0, 255, 128 + ALPHA_TOLERANCE + 1), (2, 3, 4, 5))
    image.paste((TOLERANCE + 1, 0, 255, 128), (20, 15, 22, 17))
    assert trim_box(image, TRIM) == (2, 3, 22, 17)


@pytest.mark.parametrize(
    ("name", "box"),
    [
        ("alpha.png", (320, 0, 640, 480)),  # a transparent left half
        ("watermark.png", (2, 2, 198, 78)),  # a transparent margin of 2 px
    ],
)
def test_fixtures_with_transparent_margins(name: str, box: Box) -> None:
    assert trim_box(fixture_image(name), TRIM) == box


# --- nothing to trim ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        fixture_image("photo.jpg"),
        fixture_image("cmyk.jpg"),
        Image.new("RGB", (40, 30), (12, 34, 56)),
        Image.new("RGBA", (40, 30)),
        Image.new("L", (1, 1)),
    ],
    ids=["photo", "cmyk", "uniform", "transparent", "one-pixel"],
)
def test_no_border_keeps_the_image(image: Image.Image) -> None:
    assert trim_box(image, TRIM) is None
    assert trim(image, TRIM) is image


def test_a_border_only_where_the_top_left_pixel_is_not_keeps_the_image() -> None:
    image, _ = bordered((0, 0, 12, 9))  # the top-left pixel is content: no uniform band starts there
    assert trim_box(image, TRIM) is None


def test_corners_need_not_agree() -> None:
    image, box = bordered((10, 0, 0, 0))  # only the left side is bordered
    assert image.getpixel((image.width - 1, 0)) != (255, 255, 255)  # so two corners are content
    assert trim_box(image, TRIM) == box


def test_a_side_is_cut_only_while_its_whole_edge_is_border() -> None:
    image, _ = bordered((10, 6, 0, 0))
    image.putpixel((0, image.height - 1), (0, 0, 0))  # one dark pixel on the left edge
    assert trim_box(image, TRIM) == (0, 6, image.width, image.height)


def test_the_identity_trims_nothing() -> None:
    image, _ = bordered((5, 5, 5, 5))
    assert trim_box(image, TrimSpec()) is None
    assert trim(image, TrimSpec()) is image


def test_trim_does_not_modify_its_input() -> None:
    image, _ = bordered((5, 6, 7, 8))
    before = image.copy()
    assert trim(image, TRIM).size == CONTENT
    assert_images_close(image, before, max_mean_diff=0)


def test_trim_refuses_other_modes() -> None:
    with pytest.raises(ValueError, match="not P$"):
        trim_box(Image.new("P", (4, 4)), TRIM)


# --- padding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pad_x", "pad_y", "expected"),
    [
        (Length(3), None, (10, 20, 96, 70)),
        (None, Length(4), (13, 16, 93, 74)),
        (Length(3), Length(4), (10, 16, 96, 74)),
        (Length(10, percent=True), None, (5, 20, 101, 70)),  # 10% of the trimmed 80 px
        (None, Length(5, percent=True), (13, 17, 93, 73)),  # 5% of 50 px is 2.5: half up
        (Length(13), Length(20), (0, 0, 106, 90)),  # exactly the left and top margins
        (Length(50), None, (0, 20, 110, 70)),  # clamped on both sides
        (Length(100, percent=True), Length(1000, percent=True), None),  # everything back: nothing cut
        (Length(0), Length(0, percent=True), (13, 20, 93, 70)),
    ],
)
def test_padding_widens_the_box_and_stops_at_the_edges(
    pad_x: Length | None, pad_y: Length | None, expected: Box | None
) -> None:
    image, box = bordered((13, 20, 17, 30))
    assert box == (13, 20, 93, 70) and image.size == (110, 100)
    assert trim_box(image, TrimSpec(enabled=True, pad_x=pad_x, pad_y=pad_y)) == expected


def test_padding_keeps_the_cut_border() -> None:
    image, _ = bordered((13, 20, 17, 30), (250, 245, 235))
    result = trim(image, TrimSpec(enabled=True, pad_x=Length(2), pad_y=Length(3)))
    assert result.size == (84, 56)
    assert result.getpixel((0, 0)) == (250, 245, 235) and result.getpixel((83, 55)) == (250, 245, 235)
    assert result.getpixel((2, 3)) != (250, 245, 235)


# --- goldens -----------------------------------------------------------------------------------


def test_the_golden_source_trims_to_its_margins() -> None:
    left, top, right, bottom = goldens.MARGINS
    image = goldens.bordered_photo()
    assert trim_box(image, TRIM) == (left, top, image.width - right, image.height - bottom)


@pytest.mark.parametrize("name", [name for name in goldens.CASES if name.startswith("trim")])
def test_golden(name: str) -> None:
    with Image.open(Path(goldens.GOLDEN) / f"{name}.png") as expected:
        expected.load()
    result = goldens.CASES[name]()
    assert result.mode == expected.mode
    assert_images_close(result, expected, 0.5)
