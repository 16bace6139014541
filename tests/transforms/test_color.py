"""Colour: ICC profiles converted to sRGB, CMYK with and without a profile, flattening."""

from __future__ import annotations

import colorsys

import pytest
from PIL import Image

from fixtures.make_fixtures import CMYK_PATCHES, D50, ICC_PATCHES, curve_tag, description_tag, icc_profile, xyz_tag
from tests.imaging import assert_images_close, fixture_bytes, inset, mean_diff, region_mean, srgb_reference
from transforms.color import flatten, has_alpha, to_srgb
from transforms.decode import load, open_image
from transforms.options import RenderLimits


def loaded(name: str) -> tuple[Image.Image, bytes | None]:
    source = open_image(fixture_bytes(name), RenderLimits())
    return load(source), source.icc_profile


def test_an_untagged_image_is_left_alone() -> None:
    image = Image.new("RGB", (4, 4), (10, 200, 30))
    assert to_srgb(image, None) is image


def test_an_rgb_profile_is_converted_like_imagecms() -> None:
    image, profile = loaded("icc.jpg")
    assert profile is not None
    converted = to_srgb(image, profile)
    assert converted.mode == "RGB"
    assert_images_close(converted, srgb_reference(image, profile), max_mean_diff=0.5)
    for box, _ in ICC_PATCHES.values():  # the wide-gamut patches really move
        patch = inset(box, 10)
        assert mean_diff(converted.crop(patch), image.crop(patch)) > 8


def test_alpha_is_carried_over_unchanged() -> None:
    image, profile = loaded("icc.jpg")
    assert profile is not None
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(image.size))
    converted = to_srgb(rgba, profile)
    assert converted.mode == "RGBA"
    assert_images_close(converted.getchannel("A"), rgba.getchannel("A"), max_mean_diff=0)
    assert_images_close(converted.convert("RGB"), srgb_reference(image, profile), max_mean_diff=0.5)


HUES = {"cyan": (175, 205), "magenta": (290, 345), "yellow": (45, 70), "red": (-15, 15)}  # degrees


def assert_hue(colour: tuple[float, ...], name: str) -> None:
    hue, saturation, value = colorsys.rgb_to_hsv(*(channel / 255 for channel in colour[:3]))
    if name == "black":
        assert value < 0.25, f"black came out as {colour}"
    elif name == "white":
        assert value > 0.92 and saturation < 0.05, f"white came out as {colour}"
    else:
        low, high = HUES[name]
        degrees = hue * 360 if hue * 360 < 345 else hue * 360 - 360
        assert low <= degrees <= high and saturation > 0.6, f"{name} came out as {colour} (hue {degrees:.0f})"


@pytest.mark.parametrize("name", sorted(CMYK_PATCHES))
@pytest.mark.parametrize("fixture", ["cmyk.jpg", "cmyk_icc.jpg"])
def test_cmyk_patches_keep_their_hue(fixture: str, name: str) -> None:
    image, profile = loaded(fixture)
    converted = to_srgb(image, profile)
    assert converted.mode == "RGB"
    assert_hue(region_mean(converted, inset(CMYK_PATCHES[name][0], 12)), name)


def test_a_cmyk_profile_is_used_rather_than_the_plain_conversion() -> None:
    image, profile = loaded("cmyk_icc.jpg")
    assert profile is not None and image.mode == "CMYK"
    converted = to_srgb(image, profile)
    assert_images_close(converted, srgb_reference(image, profile), max_mean_diff=0.5)
    cyan = inset(CMYK_PATCHES["cyan"][0], 12)
    assert mean_diff(converted.crop(cyan), image.convert("RGB").crop(cyan)) > 20  # press cyan, not (0, 255, 255)


def test_a_grey_profile_keeps_the_image_grey() -> None:
    linear_grey = icc_profile(
        b"mntr",
        b"GRAY",
        b"XYZ ",
        {
            b"desc": description_tag("linear grey"),
            b"wtpt": xyz_tag(*D50),
            b"kTRC": curve_tag(1.0),
        },
    )
    converted = to_srgb(Image.new("L", (4, 4), 50), linear_grey)
    assert converted.mode == "L"
    assert 120 < converted.getpixel((0, 0)) < 130  # type: ignore[operator]  # linear 20% is sRGB ~124


@pytest.mark.parametrize("profile", [b"", b"not a profile", bytes(128), fixture_bytes("icc.jpg")[:200]])
def test_an_unusable_profile_is_disregarded(profile: bytes) -> None:
    image = Image.new("RGB", (4, 4), (10, 200, 30))
    assert to_srgb(image, profile) is image


def test_a_profile_for_another_colour_space_is_disregarded() -> None:
    _, rgb_profile = loaded("icc.jpg")
    grey = Image.new("L", (4, 4), 50)
    assert to_srgb(grey, rgb_profile) is grey
    cmyk = Image.new("CMYK", (4, 4), (255, 0, 0, 0))
    assert to_srgb(cmyk, rgb_profile).getpixel((0, 0)) == (0, 255, 255)  # plain conversion


def test_flatten_composites_on_white_by_default() -> None:
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    image.putpixel((1, 0), (0, 0, 0, 128))
    flat = flatten(image)
    assert flat.mode == "RGB"
    assert flat.getpixel((0, 0)) == (255, 0, 0)
    assert flat.getpixel((1, 0)) == (127, 127, 127)
    assert flat.getpixel((3, 3)) == (255, 255, 255)


def test_flatten_on_a_colour_and_grey() -> None:
    assert flatten(Image.new("RGBA", (2, 2), (0, 0, 0, 0)), (10, 20, 30)).getpixel((0, 0)) == (10, 20, 30)
    assert flatten(Image.new("LA", (2, 2), (0, 0))).mode == "L"
    assert flatten(Image.new("LA", (2, 2), (0, 0)), (10, 20, 30)).mode == "RGB"
    opaque = Image.new("RGB", (2, 2))
    assert flatten(opaque) is opaque


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("RGB", (2, 2)), False),
        (Image.new("RGBA", (2, 2), (0, 0, 0, 255)), False),
        (Image.new("RGBA", (2, 2), (0, 0, 0, 254)), True),
        (Image.new("LA", (2, 2), (0, 0)), True),
    ],
)
def test_has_alpha(image: Image.Image, expected: bool) -> None:
    assert has_alpha(image) is expected
