"""The scale step on pixels (the sizes themselves are tested in test_geometry)."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.imaging import assert_images_close, fixture_image, region_mean
from transforms.errors import OutputTooLargeError
from transforms.options import Length, ResizeSpec, ScaleMode
from transforms.resize import resize


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return fixture_image("photo.jpg")


def test_fit_matches_a_plain_lanczos_resize(photo: Image.Image) -> None:
    resized = resize(photo, ResizeSpec(width=Length(300)))
    assert resized.size == (300, 200)
    assert_images_close(resized, photo.resize((300, 200), Image.Resampling.LANCZOS), max_mean_diff=1)


@pytest.mark.parametrize(
    "spec",
    [
        ResizeSpec(),
        ResizeSpec(width=Length(1200)),
        ResizeSpec(width=Length(5000), mode=ScaleMode.NOUP),
        ResizeSpec(width=Length(1200), height=Length(800), mode=ScaleMode.FILL),
    ],
)
def test_nothing_to_do_returns_the_input(photo: Image.Image, spec: ResizeSpec) -> None:
    assert resize(photo, spec) is photo


def test_fill_cuts_the_overflow_evenly() -> None:
    image = Image.new("RGB", (1200, 800), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 200, 800))
    image.paste((255, 0, 0), (1000, 0, 1200, 800))  # the red bands lie outside the centred 800x800
    filled = resize(image, ResizeSpec(width=Length(300), height=Length(300), mode=ScaleMode.FILL))
    assert filled.size == (300, 300)
    assert region_mean(filled, (0, 0, 300, 300))[0] < 3


def test_ignore_stretches(photo: Image.Image) -> None:
    stretched = resize(photo, ResizeSpec(width=Length(100), height=Length(300), mode=ScaleMode.IGNORE))
    assert_images_close(stretched, photo.resize((100, 300), Image.Resampling.LANCZOS), max_mean_diff=1)


@pytest.mark.parametrize("mode", [ScaleMode.FIT, ScaleMode.FILL])
def test_a_reduced_decode_is_mapped_onto_the_source_size(photo: Image.Image, mode: ScaleMode) -> None:
    spec = ResizeSpec(width=Length(150), height=Length(150), mode=mode)
    full = resize(photo, spec)
    halved = resize(photo.resize((600, 400), Image.Resampling.LANCZOS), spec, source_size=photo.size)
    assert halved.size == full.size
    assert_images_close(halved, full, max_mean_diff=2)


def test_percentages_refer_to_the_source_size(photo: Image.Image) -> None:
    small = photo.resize((300, 200))
    assert resize(small, ResizeSpec(width=Length(10, percent=True)), source_size=(1200, 800)).size == (120, 80)


def test_transparent_pixels_do_not_darken_edges() -> None:
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 51, 100))
    edge = resize(image, ResizeSpec(width=Length(10))).getpixel((5, 5))
    assert isinstance(edge, tuple) and 0 < edge[3] < 255
    assert edge[0] > 240 and edge[1] < 10


def test_the_limit_is_checked(photo: Image.Image) -> None:
    with pytest.raises(OutputTooLargeError):
        resize(photo, ResizeSpec(width=Length(200, percent=True)), max_side=2000)


def test_resize_does_not_modify_its_input(photo: Image.Image) -> None:
    before = photo.copy()
    resize(photo, ResizeSpec(width=Length(100), height=Length(100), mode=ScaleMode.FILL))
    assert_images_close(photo, before, max_mean_diff=0)
