"""The light and colour step on decoded pixels: each option's effect, modes and alpha, goldens."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from tests.golden.make_adjust_goldens import CASES, GOLDEN_DIR, photo, render_case
from tests.imaging import assert_images_close
from transforms.adjust import COLORTONE_PRESETS, adjust
from transforms.options import ColourSpec, ToneMode

RED = (255, 0, 0, 255)


def ramp(mode: str = "L") -> Image.Image:
    """256x16 grey ramp, column ``x`` at level ``x``, in ``mode``."""
    row = Image.frombytes("L", (256, 1), bytes(range(256)))
    return row.resize((256, 16), Image.Resampling.NEAREST).convert(mode)


def flat(level: int, mode: str = "L") -> Image.Image:
    return Image.new(mode, (8, 8), level if mode == "L" else (level,) * len(mode))


def level_of(image: Image.Image, x: int, band: int = 0) -> int:
    """Band ``band`` of column ``x`` of a ramp."""
    value = image.getpixel((x, 8))
    assert isinstance(value, tuple | int)
    return value if isinstance(value, int) else value[band]


def spec_with(option: str, value: float) -> ColourSpec:
    """The options with only ``option`` set to ``value``."""
    changes: dict[str, Any] = {option: value}
    return ColourSpec(**changes)


def luminance(image: Image.Image) -> float:
    return ImageStat.Stat(image.convert("L")).mean[0]


def chroma(pixel: Any) -> int:
    return int(max(pixel[:3]) - min(pixel[:3]))


def rgba_photo() -> Image.Image:
    """The golden base with an alpha band that takes every value 0..255."""
    image = photo().convert("RGBA")
    alpha = Image.linear_gradient("L").resize(image.size)
    image.putalpha(alpha)
    return image


@pytest.fixture
def grey_ramp() -> Image.Image:
    image = ramp()
    assert [level_of(image, x) for x in (0, 50, 255)] == [0, 50, 255]
    return image


# --- identity, modes, errors -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_identity_returns_the_image_itself(mode: str) -> None:
    image = photo().convert(mode)
    assert adjust(image, ColourSpec()) is image


@pytest.mark.parametrize(
    "spec",
    [
        ColourSpec(brightness=30, hue=40, saturation=50, grayscale=True, colortone="sepia"),
        ColourSpec(colorize_color=RED, colorlevel_black=20),
    ],
)
def test_the_input_is_not_changed(spec: ColourSpec) -> None:
    image = rgba_photo()
    before = image.tobytes()
    adjust(image, spec)
    assert image.tobytes() == before


@pytest.mark.parametrize("mode", ["P", "CMYK", "I", "1"])
def test_other_modes_are_refused(mode: str) -> None:
    with pytest.raises(ValueError, match="L, LA, RGB or RGBA"):
        adjust(Image.new(mode, (4, 4)), ColourSpec(brightness=10))


def test_an_unknown_colortone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown colortone"):
        adjust(photo(), ColourSpec(colortone="vintage"))


def test_preset_names_are_lowercase_words() -> None:
    assert {"sepia", "warm", "cold"} <= set(COLORTONE_PRESETS)
    assert all(name.isalpha() and name.islower() for name in COLORTONE_PRESETS)


@pytest.mark.parametrize(
    ("mode", "spec", "expected"),
    [
        ("L", ColourSpec(brightness=20, contrast=10, shadows=30, colorlevel_black=10), "L"),
        ("LA", ColourSpec(exposure=20, highlights=-30, lightness=10), "LA"),
        ("L", ColourSpec(hue=50, saturation=80, grayscale=True), "L"),
        ("L", ColourSpec(colorize_color=RED), "RGB"),
        ("LA", ColourSpec(colorize_color=RED, colorize_opacity=40), "RGBA"),
        ("L", ColourSpec(colortone="warm"), "RGB"),
        ("LA", ColourSpec(colortone_color=RED, colortone_mode=ToneMode.SHADOWS), "RGBA"),
        ("L", ColourSpec(colorize_color=RED, colorize_opacity=0), "L"),
        ("L", ColourSpec(colortone="sepia", colortone_level=0), "L"),
        ("RGB", ColourSpec(grayscale=True), "RGB"),
        ("RGBA", ColourSpec(grayscale=True, brightness=20), "RGBA"),
        ("RGB", ColourSpec(hue=30), "RGB"),
    ],
)
def test_mode_family_is_kept_unless_a_tint_colours_a_grey_image(mode: str, spec: ColourSpec, expected: str) -> None:
    image = ramp(mode)
    result = adjust(image, spec)
    assert result.mode == expected
    assert result.size == image.size


ONE_OF_EACH = [
    ColourSpec(brightness=-40),
    ColourSpec(contrast=60),
    ColourSpec(exposure=70),
    ColourSpec(hue=-30),
    ColourSpec(saturation=100),
    ColourSpec(lightness=-50),
    ColourSpec(shadows=80),
    ColourSpec(highlights=-80),
    ColourSpec(grayscale=True),
    ColourSpec(colorize_color=(0, 128, 255, 255), colorize_opacity=70),
    *(ColourSpec(colortone=name) for name in COLORTONE_PRESETS),
    ColourSpec(colortone_color=RED, colortone_level=50, colortone_mode=ToneMode.HIGHLIGHTS),
    ColourSpec(colorlevel_black=30, colorlevel_white=220),
    ColourSpec(brightness=10, contrast=20, exposure=-10, hue=30, saturation=40, lightness=5, shadows=30,
               highlights=-20, grayscale=True, colorize_color=RED, colorize_opacity=30, colortone="sepia",
               colortone_level=60, colorlevel_black=10, colorlevel_white=245),
]  # fmt: skip


@pytest.mark.parametrize("spec", ONE_OF_EACH)
@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_kept_byte_for_byte(spec: ColourSpec, mode: str) -> None:
    image = rgba_photo() if mode == "RGBA" else rgba_photo().convert("LA")
    result = adjust(image, spec)
    assert result.mode in ("RGBA", "LA")
    assert result.getchannel("A").tobytes() == image.getchannel("A").tobytes()
    if mode == "RGBA":
        assert ImageChops.difference(result.convert("RGB"), image.convert("RGB")).getbbox() is not None


# --- light -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["brightness", "exposure", "lightness"])
def test_mean_luminance_rises_with_the_value(option: str) -> None:
    image = photo()
    means = [luminance(adjust(image, spec_with(option, value))) for value in (-60, -20, 0, 20, 60)]
    assert means == sorted(means) and len(set(means)) == len(means), means


@pytest.mark.parametrize(("option", "value", "level"), [("lightness", 100, 255), ("lightness", -100, 0)])
def test_lightness_at_its_ends_is_white_or_black(option: str, value: int, level: int) -> None:
    assert adjust(photo(), spec_with(option, value)).getextrema() == ((level, level),) * 3


def test_exposure_doubles_linear_light_at_50() -> None:
    # sRGB 128 is 0.2158 in linear light; twice that, 0.4317, is sRGB 175.
    assert level_of(adjust(ramp(), ColourSpec(exposure=50)), 128) == pytest.approx(175, abs=1)
    assert level_of(adjust(ramp(), ColourSpec(exposure=-50)), 175) == pytest.approx(128, abs=1)


def test_contrast_spreads_a_mid_grey_gradient() -> None:
    gradient = ramp().crop((64, 0, 192, 16))
    spreads = [
        ImageStat.Stat(adjust(gradient, ColourSpec(contrast=value))).stddev[0] for value in (-60, -20, 0, 20, 60)
    ]
    assert spreads == sorted(spreads) and len(set(spreads)) == len(spreads), spreads
    assert adjust(gradient, ColourSpec(contrast=-100)).getextrema() == (128, 128)


@pytest.mark.parametrize(
    ("option", "value", "moved", "kept"),
    [
        ("shadows", 60, "raised", "light"),
        ("shadows", -60, "lowered", "light"),
        ("highlights", 60, "raised", "dark"),
        ("highlights", -60, "lowered", "dark"),
    ],
)
def test_shadows_and_highlights_move_only_their_tones(
    grey_ramp: Image.Image, option: str, value: int, moved: str, kept: str
) -> None:
    result = adjust(grey_ramp, spec_with(option, value))
    quarter = range(16, 64) if option == "shadows" else range(192, 240)
    untouched = range(230, 256) if kept == "light" else range(0, 26)
    shifts = [level_of(result, x) - x for x in quarter]
    assert all(shift >= 10 for shift in shifts) if moved == "raised" else all(shift <= -10 for shift in shifts)
    assert all(abs(level_of(result, x) - x) <= 2 for x in untouched)
    assert [level_of(result, x) for x in (0, 255)] == [0, 255]
    assert [level_of(result, x) for x in range(256)] == sorted(level_of(result, x) for x in range(256))


@pytest.mark.parametrize("option", ["shadows", "highlights"])
def test_lowering_undoes_raising(grey_ramp: Image.Image, option: str) -> None:
    raised = adjust(grey_ramp, spec_with(option, 70))
    restored = adjust(raised, spec_with(option, -70))
    assert all(abs(level_of(restored, x) - x) <= 3 for x in range(256))


# --- hue and saturation ----------------------------------------------------------------------------


def test_hue_at_both_ends_is_the_same_half_turn() -> None:
    image = photo()
    assert_images_close(adjust(image, ColourSpec(hue=100)), adjust(image, ColourSpec(hue=-100)), 1.0)


@pytest.mark.parametrize(
    ("hue", "expected"),
    [(100, (0, 255, 255)), (-100, (0, 255, 255)), (200 / 3, (0, 255, 0)), (-200 / 3, (0, 0, 255))],
)
def test_hue_turns_the_colour_wheel(hue: float, expected: tuple[int, int, int]) -> None:
    result = adjust(Image.new("RGB", (4, 4), (255, 0, 0)), ColourSpec(hue=hue))
    pixel = result.getpixel((0, 0))
    assert isinstance(pixel, tuple)
    assert all(abs(a - b) <= 12 for a, b in zip(pixel, expected, strict=True)), pixel


def test_hue_leaves_grey_grey(grey_ramp: Image.Image) -> None:
    image = grey_ramp.convert("RGB")
    result = adjust(image, ColourSpec(hue=45))
    assert all(chroma(result.getpixel((x, 8))) == 0 for x in range(256))


def test_saturation_minus_100_is_grey() -> None:
    result = adjust(photo(), ColourSpec(saturation=-100))
    red, green, blue = (band.tobytes() for band in result.split())
    assert max(abs(r - g) for r, g in zip(red, green, strict=True)) <= 1
    assert max(abs(g - b) for g, b in zip(green, blue, strict=True)) <= 1


def test_colour_strength_rises_with_saturation() -> None:
    image = photo()

    def strength(value: int) -> float:
        hsv = adjust(image, ColourSpec(saturation=value)).convert("HSV")
        return ImageStat.Stat(hsv.getchannel("S")).mean[0]

    strengths = [strength(value) for value in (-100, -50, 0, 50, 100)]
    assert strengths == sorted(strengths) and len(set(strengths)) == len(strengths), strengths


# --- grayscale, colorize, colortone ----------------------------------------------------------------


def test_grayscale_is_exact_and_keeps_alpha() -> None:
    image = rgba_photo()
    result = adjust(image, ColourSpec(grayscale=True))
    red, green, blue, alpha = result.split()
    assert red.tobytes() == green.tobytes() == blue.tobytes()
    assert alpha.tobytes() == image.getchannel("A").tobytes()


def test_colorize_makes_grey_red_and_opacity_0_changes_nothing(grey_ramp: Image.Image) -> None:
    red, green, blue = (
        ImageStat.Stat(band).mean[0] for band in adjust(grey_ramp, ColourSpec(colorize_color=RED)).split()
    )
    assert red > green + 40 and red > blue + 40
    unchanged = adjust(grey_ramp, ColourSpec(colorize_color=RED, colorize_opacity=0))
    assert unchanged.tobytes() == grey_ramp.tobytes()


def test_colorize_strength_follows_opacity_and_colour_alpha() -> None:
    grey = flat(128, "RGB")

    def redness(spec: ColourSpec) -> int:
        return chroma(adjust(grey, spec).getpixel((0, 0)))

    half = redness(ColourSpec(colorize_color=RED, colorize_opacity=50))
    assert 0 < redness(ColourSpec(colorize_color=RED, colorize_opacity=20)) < half
    assert half < redness(ColourSpec(colorize_color=RED))
    assert redness(ColourSpec(colorize_color=(255, 0, 0, 128))) == pytest.approx(half, abs=2)


@pytest.mark.parametrize("name", sorted(COLORTONE_PRESETS))
def test_every_colortone_preset_tints_a_grey_ramp(grey_ramp: Image.Image, name: str) -> None:
    result = adjust(grey_ramp, ColourSpec(colortone=name))
    assert result.mode == "RGB"
    assert max(chroma(result.getpixel((x, 8))) for x in range(256)) >= 10


def test_sepia_is_brown_on_mid_grey() -> None:
    pixel = adjust(flat(128), ColourSpec(colortone="sepia")).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    red, green, blue = pixel
    assert red > green > blue


def test_colortone_level_scales_the_tint() -> None:
    def warmth(level: int) -> int:
        return chroma(adjust(flat(128, "RGB"), ColourSpec(colortone="warm", colortone_level=level)).getpixel((0, 0)))

    warmths = [warmth(level) for level in (0, 30, 60, 100)]
    assert warmths[0] == 0 and warmths == sorted(warmths) and len(set(warmths)) == 4, warmths


@pytest.mark.parametrize(("mode", "stronger"), [(ToneMode.HIGHLIGHTS, "light"), (ToneMode.SHADOWS, "dark")])
def test_colortone_mode_picks_the_tones(grey_ramp: Image.Image, mode: ToneMode, stronger: str) -> None:
    result = adjust(grey_ramp, ColourSpec(colortone_color=(255, 80, 0, 255), colortone_mode=mode))
    dark, light = chroma(result.getpixel((64, 8))), chroma(result.getpixel((191, 8)))
    assert (light > 2 * dark) if stronger == "light" else (dark > 2 * light), (dark, light)


def test_colortone_solid_tints_dark_and_light_alike(grey_ramp: Image.Image) -> None:
    result = adjust(grey_ramp, ColourSpec(colortone_color=(255, 80, 0, 255)))
    assert chroma(result.getpixel((64, 8))) == pytest.approx(chroma(result.getpixel((191, 8))), abs=3)


def test_colortone_keeps_the_image_colours() -> None:
    image = photo()
    toned = adjust(image, ColourSpec(colortone="cold"))
    before, after = (ImageStat.Stat(im.convert("HSV").getchannel("S")).mean[0] for im in (image, toned))
    assert after > 0.5 * before


def test_the_tint_follows_grayscale_in_field_order() -> None:
    result = adjust(photo(), ColourSpec(grayscale=True, colortone="sepia"))
    pixel = result.getpixel((48, 40))
    assert chroma(pixel) > 5


# --- colour levels ---------------------------------------------------------------------------------


def test_colorlevel_stretches_its_range(grey_ramp: Image.Image) -> None:
    result = adjust(grey_ramp, ColourSpec(colorlevel_black=50, colorlevel_white=200))
    assert [level_of(result, x) for x in (0, 30, 50, 200, 230, 255)] == [0, 0, 0, 255, 255, 255]
    assert level_of(result, 125) == pytest.approx(127.5, abs=1)


def test_colorlevel_applies_to_every_band() -> None:
    image = Image.new("RGB", (4, 4), (60, 125, 190))
    pixel = adjust(image, ColourSpec(colorlevel_black=60, colorlevel_white=190)).getpixel((0, 0))
    assert pixel == (0, 128, 255)


# --- goldens ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    with Image.open(GOLDEN_DIR / f"{name}.png") as golden:
        golden.load()
        assert_images_close(render_case(name), golden, 1.0)
