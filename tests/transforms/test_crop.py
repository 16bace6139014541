"""The crop step on pixels (the boxes themselves are tested in test_geometry)."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.imaging import assert_images_close, fixture_image
from transforms.crop import crop
from transforms.options import CropSpec, Length


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return fixture_image("photo.jpg").resize((600, 400))


@pytest.mark.parametrize(
    ("spec", "box"),
    [
        (CropSpec(width=Length(200), height=Length(100), x=Length(10), y=Length(20)), (10, 20, 210, 120)),
        (CropSpec(width=Length(50, percent=True)), (150, 0, 450, 400)),
        (CropSpec(aspect_ratio=(1, 1)), (100, 0, 500, 400)),
        (CropSpec(width=Length(200), height=Length(100), x=Length(550), y=Length(390)), (400, 300, 600, 400)),
    ],
)
def test_crop_keeps_the_box(photo: Image.Image, spec: CropSpec, box: tuple[int, int, int, int]) -> None:
    assert_images_close(crop(photo, spec), photo.crop(box), max_mean_diff=0)


@pytest.mark.parametrize("spec", [CropSpec(), CropSpec(width=Length(100, percent=True)), CropSpec(aspect_ratio=(3, 2))])
def test_a_crop_of_everything_returns_the_input(photo: Image.Image, spec: CropSpec) -> None:
    assert crop(photo, spec) is photo


def test_crop_does_not_modify_its_input(photo: Image.Image) -> None:
    before = photo.copy()
    assert crop(photo, CropSpec(width=Length(10), height=Length(10))).size == (10, 10)
    assert_images_close(photo, before, max_mean_diff=0)
    assert photo.size == (600, 400)
