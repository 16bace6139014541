"""Blur, sharpen, vignette and opacity on decoded pixels, then goldens."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

from tests.golden.make_effects_goldens import CASES, GOLDEN_DIR, photo, render_case
from tests.imaging import assert_images_close, mean_diff, region_mean
from transforms.effects import (
    BLUR_FRACTION,
    MIN_SHARPEN_RADIUS,
    apply_effects,
    blur_radius,
    sharpen_radius,
)
from transforms.options import EffectsSpec

MODES = ["L", "LA", "RGB", "RGBA"]
GREY = (128, 128, 128)


def checker(size: int, cells: int = 8) -> Image.Image:
    """A black and white checkerboard of ``cells`` x ``cells`` squares, ``size`` px wide."""
    image = Image.new("RGB", (size, size), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    step = size // cells
    for row in range(cells):
        for column in range(row % 2, cells, 2):
            draw.rectangle((column * step, row * step, (column + 1) * step - 1, (row + 1) * step - 1), fill="white")
    return image


def edge_energy(image: Image.Image) -> float:
    """The mean edge response of ``image``'s luminance as seen over grey (higher: more detail).

    The outermost pixels are left out: Pillow's 3x3 filters copy them unfiltered.
    """
    seen = Image.alpha_composite(Image.new("RGBA", image.size, GREY), image.convert("RGBA"))
    edges = seen.convert("L").filter(ImageFilter.FIND_EDGES)
    return float(ImageStat.Stat(edges.crop((1, 1, image.width - 1, image.height - 1))).mean[0])


def in_mode(image: Image.Image, mode: str) -> Image.Image:
    """``image`` in ``mode``; an alpha band gets a horizontal ramp, so it is not uniform."""
    if mode in ("RGB", "L"):
        return image.convert(mode)
    converted = image.convert(mode)
    converted.putalpha(Image.linear_gradient("L").rotate(90).resize(image.size))
    return converted


def assert_same(a: Image.Image, b: Image.Image) -> None:
    assert (a.mode, a.size) == (b.mode, b.size)
    assert a.tobytes() == b.tobytes()


# --- radii, without pixels -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "blur", "expected"),
    [
        ((1200, 800), 100, 800 * BLUR_FRACTION),
        ((800, 1200), 100, 800 * BLUR_FRACTION),
        ((1200, 800), 50, 400 * BLUR_FRACTION),
        ((300, 200), 50, 100 * BLUR_FRACTION),
        ((300, 200), 0, 0.0),
        ((8192, 8192), 100, 8192 * BLUR_FRACTION),
    ],
)
def test_blur_radius_is_a_fraction_of_the_shorter_side(size: tuple[int, int], blur: float, expected: float) -> None:
    assert blur_radius(*size, blur) == pytest.approx(expected)


def test_blur_radius_grows_with_the_image_not_the_source() -> None:
    assert blur_radius(800, 800, 30) == pytest.approx(4 * blur_radius(200, 200, 30))


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1200, 800), 1.6), ((2000, 3000), 4.0), ((100, 60), MIN_SHARPEN_RADIUS), ((8192, 8192), 16.384)],
)
def test_sharpen_radius(size: tuple[int, int], expected: float) -> None:
    assert sharpen_radius(*size) == pytest.approx(expected)


# --- the whole step ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_identity_returns_the_same_image(mode: str) -> None:
    image = in_mode(photo(), mode)
    assert apply_effects(image, EffectsSpec()) is image
    assert apply_effects(image, EffectsSpec(vignette_color=(255, 0, 0, 255))) is image


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", [(1, 1), (1, 7), (3, 2)])
def test_tiny_images(mode: str, size: tuple[int, int]) -> None:
    image = in_mode(Image.new("RGB", size, GREY), mode)
    result = apply_effects(image, EffectsSpec(blur=100, sharpen=100, vignette=100, opacity=50))
    assert result.size == size
    assert result.mode == ("LA" if mode in ("L", "LA") else "RGBA")


@pytest.mark.parametrize("mode", ["P", "CMYK", "1", "I"])
def test_other_modes_are_rejected(mode: str) -> None:
    with pytest.raises(ValueError, match="effects need"):
        apply_effects(Image.new(mode, (8, 8)), EffectsSpec(blur=10))


@pytest.mark.parametrize("mode", MODES)
def test_the_input_is_not_changed(mode: str) -> None:
    image = in_mode(photo(), mode)
    before = image.copy()
    apply_effects(image, EffectsSpec(blur=20, sharpen=20, vignette=50, opacity=50))
    assert_same(image, before)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (EffectsSpec(blur=30), EffectsSpec(sharpen=60)),
        (EffectsSpec(sharpen=60), EffectsSpec(vignette=70)),
        (EffectsSpec(vignette=70), EffectsSpec(opacity=40)),
        (EffectsSpec(blur=30), EffectsSpec(opacity=40)),
    ],
)
def test_order_is_blur_sharpen_vignette_opacity(first: EffectsSpec, second: EffectsSpec) -> None:
    combined = EffectsSpec(
        blur=first.blur + second.blur,
        sharpen=first.sharpen + second.sharpen,
        vignette=first.vignette + second.vignette,
        opacity=min(first.opacity, second.opacity),
    )
    image = photo()
    assert_same(apply_effects(image, combined), apply_effects(apply_effects(image, first), second))


# --- blur ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_blur_lowers_edge_energy_monotonically_and_keeps_size_mode_and_mean(mode: str) -> None:
    image = in_mode(photo((300, 200)), mode)
    energies = []
    for blur in (0, 10, 50, 100):
        blurred = apply_effects(image, EffectsSpec(blur=blur))
        assert (blurred.mode, blurred.size) == (image.mode, image.size)
        assert ImageStat.Stat(blurred).mean == pytest.approx(ImageStat.Stat(image).mean, abs=2.0)
        energies.append(edge_energy(blurred))
    assert energies == sorted(energies, reverse=True)
    assert len(set(energies)) == len(energies)
    assert energies[-1] < energies[0] / 2


@pytest.mark.parametrize("blur", [10, 50, 100])
def test_blur_looks_the_same_at_any_size(blur: float) -> None:
    small = apply_effects(checker(200), EffectsSpec(blur=blur))
    large = apply_effects(checker(800), EffectsSpec(blur=blur))
    shrunk = large.resize(small.size, Image.Resampling.LANCZOS)
    assert mean_diff(shrunk, small) < 2.0
    # a blur half as strong would be clearly told apart: the comparison has teeth
    assert mean_diff(shrunk, apply_effects(checker(200), EffectsSpec(blur=blur / 2))) > 4 * mean_diff(shrunk, small)


@pytest.mark.parametrize("blur", [30, 60, 100])
def test_a_large_blur_matches_a_direct_gaussian(blur: float) -> None:
    image = photo((1200, 800))
    direct = image.filter(ImageFilter.GaussianBlur(blur_radius(*image.size, blur)))
    assert_images_close(apply_effects(image, EffectsSpec(blur=blur)), direct, max_mean_diff=1.0)


def test_blur_does_not_bleed_the_colour_of_transparent_pixels() -> None:
    image = Image.new("RGBA", (200, 100), (255, 0, 0, 0))
    image.paste((0, 0, 255, 255), (100, 0, 200, 100))
    blurred = apply_effects(image, EffectsSpec(blur=100))
    red, _, blue, alpha = blurred.getpixel((97, 50))  # type: ignore[misc]
    assert 0 < alpha < 255
    assert red <= 1 and blue >= 254
    assert 0 < blurred.getchannel("A").getpixel((103, 50)) < 255  # type: ignore[operator]


# --- sharpen -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_sharpen_raises_edge_energy_monotonically(mode: str) -> None:
    image = in_mode(photo((300, 200)), mode)
    energies = []
    for sharpen in (0, 10, 50, 100):
        sharpened = apply_effects(image, EffectsSpec(sharpen=sharpen))
        assert (sharpened.mode, sharpened.size) == (image.mode, image.size)
        energies.append(edge_energy(sharpened))
    assert energies == sorted(energies)
    assert len(set(energies)) == len(energies)


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_sharpen_keeps_alpha(mode: str) -> None:
    image = in_mode(photo((300, 200)), mode)
    assert_same(apply_effects(image, EffectsSpec(sharpen=100)).getchannel("A"), image.getchannel("A"))


# --- vignette ------------------------------------------------------------------------------------

CORNER = (0, 0, 10, 10)
CENTRE = (140, 90, 160, 110)


@pytest.mark.parametrize("vignette", [0, 25, 50, 100])
def test_vignette_darkens_the_corners_more_with_the_value_and_leaves_the_centre(vignette: int) -> None:
    image = Image.new("RGB", (300, 200), GREY)
    result = apply_effects(image, EffectsSpec(vignette=vignette))
    assert region_mean(result, CENTRE) == pytest.approx(GREY, abs=1.0)
    corner = region_mean(result, CORNER)[0]
    expected = 128 * (1 - vignette / 100)
    assert corner == pytest.approx(expected, abs=12)
    middle_of_a_side = region_mean(result, (0, 95, 5, 105))[0]
    assert corner <= middle_of_a_side <= 128


def test_vignette_on_a_photo_is_monotonic() -> None:
    image = photo((300, 200))
    corners = [region_mean(apply_effects(image, EffectsSpec(vignette=v)), CORNER) for v in (0, 20, 60, 100)]
    for channel in range(3):
        values = [corner[channel] for corner in corners]
        assert values == sorted(values, reverse=True)
    assert mean_diff(apply_effects(image, EffectsSpec(vignette=100)).crop(CENTRE), image.crop(CENTRE)) < 1.0


@pytest.mark.parametrize(
    ("colour", "expected_corner"),
    [
        ((0, 0, 0, 255), (0, 0, 0)),
        ((255, 255, 255, 255), (255, 255, 255)),
        ((255, 0, 0, 255), (255, 0, 0)),
        ((255, 255, 255, 0), GREY),
        ((255, 255, 255, 128), (192, 192, 192)),
    ],
)
def test_vignette_uses_its_colour(colour: tuple[int, int, int, int], expected_corner: tuple[int, int, int]) -> None:
    image = Image.new("RGB", (300, 200), GREY)
    result = apply_effects(image, EffectsSpec(vignette=100, vignette_color=colour))
    assert result.getpixel((0, 0)) == pytest.approx(expected_corner, abs=6)
    assert result.getpixel((150, 100)) == GREY


@pytest.mark.parametrize(
    ("mode", "colour", "expected_mode"),
    [
        ("L", (0, 0, 0, 255), "L"),
        ("L", (200, 200, 200, 255), "L"),
        ("LA", (0, 0, 0, 255), "LA"),
        ("L", (255, 0, 0, 255), "RGB"),
        ("LA", (0, 0, 255, 255), "RGBA"),
        ("RGB", (0, 0, 255, 255), "RGB"),
        ("RGBA", (0, 0, 0, 128), "RGBA"),
    ],
)
def test_vignette_mode(mode: str, colour: tuple[int, int, int, int], expected_mode: str) -> None:
    image = in_mode(Image.new("RGB", (300, 200), GREY), mode)
    result = apply_effects(image, EffectsSpec(vignette=80, vignette_color=colour))
    assert result.mode == expected_mode
    corner = result.convert("RGB").getpixel((0, 0))
    assert corner != GREY
    if mode in ("LA", "RGBA"):
        assert_same(result.getchannel("A"), image.getchannel("A"))


# --- opacity -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "opacity", "expected_mode", "expected_alpha"),
    [
        ("RGB", 50, "RGBA", 128),
        ("L", 50, "LA", 128),
        ("RGB", 0, "RGBA", 0),
        ("RGB", 1, "RGBA", 3),
        ("RGB", 99, "RGBA", 252),
        ("RGB", 100, "RGB", None),
        ("L", 100, "L", None),
    ],
)
def test_opacity_without_alpha(mode: str, opacity: int, expected_mode: str, expected_alpha: int | None) -> None:
    image = photo().convert(mode)
    result = apply_effects(image, EffectsSpec(opacity=opacity))
    assert result.mode == expected_mode
    if expected_alpha is None:
        assert result is image
        return
    assert result.getchannel("A").getextrema() == (expected_alpha, expected_alpha)
    assert_same(result.convert(mode), image)


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
@pytest.mark.parametrize(("opacity", "alpha", "expected"), [(50, 200, 100), (50, 255, 128), (50, 0, 0), (25, 100, 25)])
def test_opacity_scales_existing_alpha(mode: str, opacity: int, alpha: int, expected: int) -> None:
    image = photo().convert(mode)
    image.putalpha(alpha)
    result = apply_effects(image, EffectsSpec(opacity=opacity))
    assert result.mode == mode
    assert result.getchannel("A").getextrema() == (expected, expected)
    assert ImageChops.difference(result.convert("RGB"), image.convert("RGB")).getbbox() is None


def test_opacity_halves_a_varying_alpha() -> None:
    image = in_mode(photo(), "RGBA")
    result = apply_effects(image, EffectsSpec(opacity=50))
    halved = image.getchannel("A").point(lambda a: (a * 50 + 50) // 100)
    assert_same(result.getchannel("A"), halved)


# --- goldens (regenerate with tests/golden/make_effects_goldens.py, then review) -------------------

GOLDEN_TOLERANCE = 0.5


@pytest.mark.parametrize("name", [name for name in CASES if not name.startswith("frame_")])
def test_golden(name: str) -> None:
    with Image.open(GOLDEN_DIR / f"{name}.png") as golden:
        rendered = render_case(name)
        assert rendered.mode == golden.mode
        assert_images_close(rendered, golden, max_mean_diff=GOLDEN_TOLERANCE)
