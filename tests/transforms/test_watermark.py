"""The watermark step: geometry without pixels, then pixels, goldens, bounds and decoding."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from tests.golden import make_watermark_goldens as goldens
from tests.imaging import assert_images_close, encode, fixture_bytes, fixture_image, mean_diff
from transforms.errors import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from transforms.geometry import Box, Size, rotated_size
from transforms.mark import draft_scale, load_mark
from transforms.options import Gravity, Layer, Length, RenderLimits, ScaleMode, WatermarkSpec
from transforms.orient import rotate
from transforms.watermark import (
    apply_watermark,
    mark_position,
    mark_size,
    tile_origins,
    watermark_box,
)

LIMITS = RenderLimits()
PATH = "/watermark.png"
IMAGE = (1200, 800)
MARK = (200, 80)
RED = (255, 0, 0, 255)


def px(value: int) -> Length:
    return Length(value)


def pct(value: float) -> Length:
    return Length(value, percent=True)


def spec(**fields: Any) -> WatermarkSpec:
    return WatermarkSpec(PATH, **fields)


@pytest.fixture(scope="module")
def mark() -> Image.Image:
    return load_mark(fixture_bytes("watermark.png"), LIMITS)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return fixture_image("photo.jpg")


def solid(size: Size = (40, 20), colour: tuple[int, int, int, int] = RED) -> Image.Image:
    return Image.new("RGBA", size, colour)


def grey(size: Size = (300, 200), mode: str = "RGB") -> Image.Image:
    return Image.new("RGB", size, (90, 90, 90)).convert(mode)


def changed_box(before: Image.Image, after: Image.Image) -> Box | None:
    """The bounding box of every pixel that differs."""
    modes = "RGBA" if "A" in before.mode else "RGB"
    return ImageChops.difference(before.convert(modes), after.convert(modes)).getbbox()


# --- geometry, without pixels ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gravity", "position"),
    [
        (Gravity.NORTHWEST, (0, 0)),
        (Gravity.NORTH, (500, 0)),
        (Gravity.NORTHEAST, (1000, 0)),
        (Gravity.WEST, (0, 360)),
        (Gravity.CENTER, (500, 360)),
        (Gravity.EAST, (1000, 360)),
        (Gravity.SOUTHWEST, (0, 720)),
        (Gravity.SOUTH, (500, 720)),
        (Gravity.SOUTHEAST, (1000, 720)),
    ],
)
def test_every_gravity_anchors_the_mark(gravity: Gravity, position: tuple[int, int]) -> None:
    assert mark_position(IMAGE, MARK, spec(gravity=gravity)) == position


@pytest.mark.parametrize(
    ("gravity", "x", "y", "scale", "position"),
    [
        (Gravity.NORTHWEST, px(10), px(20), 1.0, (10, 20)),  # pushed right and down
        (Gravity.NORTHEAST, px(10), px(20), 1.0, (990, 20)),  # pushed left and down
        (Gravity.SOUTHWEST, px(10), px(20), 1.0, (10, 700)),  # pushed right and up
        (Gravity.SOUTHEAST, px(10), px(20), 1.0, (990, 700)),  # pushed left and up
        (Gravity.CENTER, px(10), px(20), 1.0, (510, 380)),  # centred axes: right and down
        (Gravity.NORTH, px(10), None, 1.0, (510, 0)),
        (Gravity.EAST, None, px(20), 1.0, (1000, 380)),
        (Gravity.SOUTHEAST, px(40), px(40), 0.25, (990, 710)),  # source pixels x scale
        (Gravity.NORTHWEST, pct(10), pct(10), 1.0, (120, 80)),  # % of the image's width, height
        (Gravity.SOUTHEAST, pct(10), pct(10), 0.25, (880, 640)),  # percentages ignore scale
        (Gravity.NORTHWEST, px(5000), px(5000), 1.0, (1000, 720)),  # clamped onto the image
        (Gravity.SOUTHEAST, px(5000), px(5000), 1.0, (0, 0)),
        (Gravity.CENTER, pct(100), pct(100), 1.0, (1000, 720)),
    ],
)
def test_offsets_push_inward_and_are_clamped(
    gravity: Gravity, x: Length | None, y: Length | None, scale: float, position: tuple[int, int]
) -> None:
    assert mark_position(IMAGE, MARK, spec(gravity=gravity, x=x, y=y), scale) == position


@pytest.mark.parametrize(
    ("gravity", "footprint", "position"),
    [
        (Gravity.NORTHWEST, (1500, 1000), (0, 0)),  # larger than the image: it covers it
        (Gravity.SOUTHEAST, (1500, 1000), (-300, -200)),
        (Gravity.CENTER, (1500, 1000), (-100, -50)),  # centred, then moved right and down
        (Gravity.NORTHEAST, (1500, 80), (-300, 50)),  # larger on one axis only
        (Gravity.SOUTH, (200, 1000), (550, -200)),
    ],
)
def test_a_mark_larger_than_the_image_extends_past_its_edges(
    gravity: Gravity, footprint: Size, position: tuple[int, int]
) -> None:
    assert mark_position(IMAGE, footprint, spec(gravity=gravity, x=px(50), y=px(50))) == position


@pytest.mark.parametrize(
    ("fields", "image", "scale", "size"),
    [
        ({}, IMAGE, 1.0, (200, 80)),  # its own size
        ({}, IMAGE, 0.25, (50, 20)),  # its own size in the source's grid
        ({}, (100, 100), 1.0, (100, 40)),  # never larger than the image: fitted inside
        ({"rotate": 90}, (300, 100), 1.0, (100, 40)),  # its turned footprint is fitted
        ({"width": px(400)}, IMAGE, 1.0, (400, 160)),
        ({"width": px(400)}, IMAGE, 0.25, (100, 40)),
        ({"height": px(40)}, IMAGE, 0.5, (50, 20)),
        ({"width": pct(50)}, IMAGE, 0.25, (600, 240)),  # % of the image, whatever the scale
        ({"height": pct(10)}, IMAGE, 1.0, (200, 80)),
        ({"width": px(400), "height": px(40)}, IMAGE, 1.0, (100, 40)),  # fit
        ({"width": px(400), "height": px(40), "scale_mode": ScaleMode.FILL}, IMAGE, 1.0, (400, 40)),
        ({"width": px(400), "scale_mode": ScaleMode.FILL}, IMAGE, 1.0, (400, 160)),  # one side: fit
        ({"width": px(400), "height": px(40), "scale_mode": ScaleMode.IGNORE}, IMAGE, 1.0, (400, 40)),
        ({"width": px(400), "scale_mode": ScaleMode.IGNORE}, IMAGE, 0.5, (200, 40)),  # other: own x scale
        ({"width": px(400), "scale_mode": ScaleMode.NOUP}, IMAGE, 1.0, (200, 80)),  # never enlarged
        ({"width": px(100), "scale_mode": ScaleMode.NOUP}, IMAGE, 1.0, (100, 40)),
        ({"width": pct(0.01)}, IMAGE, 1.0, (1, 1)),  # at least 1 px
        ({"width": px(1), "scale_mode": ScaleMode.IGNORE}, IMAGE, 0.001, (1, 1)),
        ({"width": px(100_000), "scale_mode": ScaleMode.IGNORE}, IMAGE, 1.0, (100_000, 80)),  # clipped later
    ],
)
def test_mark_size(fields: dict[str, Any], image: Size, scale: float, size: Size) -> None:
    assert mark_size(image, MARK, spec(**fields), scale) == size


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf")])
def test_a_bad_scale_is_refused(scale: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        mark_size(IMAGE, MARK, spec(), scale)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"width": px(300), "gravity": Gravity.SOUTHEAST, "x": px(40), "y": px(40)},
        {"width": pct(25), "gravity": Gravity.NORTHWEST, "x": pct(5), "y": pct(5)},
        {"height": px(150), "gravity": Gravity.EAST, "x": px(100), "rotate": 30},
    ],
)
def test_the_same_spec_keeps_its_relative_box_at_every_output_size(fields: dict[str, Any]) -> None:
    def relative(width: int) -> list[float]:
        height = width * 2 // 3
        box = watermark_box((width, height), MARK, spec(**fields), width / 1200)
        return [box[0] / width, box[1] / height, box[2] / width, box[3] / height]

    for small, large in zip(relative(300), relative(1200), strict=True):
        assert small == pytest.approx(large, abs=0.02)


def test_watermark_box_is_the_turned_footprint_at_its_position() -> None:
    box = watermark_box(IMAGE, MARK, spec(rotate=90, gravity=Gravity.NORTHEAST))
    assert box == (1120, 0, 1200, 200)
    left, top, right, bottom = watermark_box(IMAGE, MARK, spec(rotate=30))
    assert (right - left, bottom - top) == rotated_size(200, 80, 30)


@pytest.mark.parametrize(
    ("image", "footprint", "position", "xs", "ys"),
    [
        (IMAGE, (200, 80), (0, 0), range(0, 1200, 200), range(0, 800, 80)),  # 6 x 10 from the corner
        (IMAGE, (200, 80), (500, 360), range(-100, 1200, 200), range(-40, 800, 80)),  # centred: 7 x 11
        (IMAGE, (1, 1), (0, 0), range(0, 1200), range(0, 800)),
        (IMAGE, (1500, 1000), (-150, -100), range(-150, 1200, 1500), range(-100, 800, 1000)),  # one
        ((100, 100), (30, 30), (70, 70), range(-20, 100, 30), range(-20, 100, 30)),
    ],
)
def test_tile_origins(image: Size, footprint: Size, position: tuple[int, int], xs: range, ys: range) -> None:
    assert tile_origins(image, footprint, position) == (xs, ys)


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(1, 500),
    height=st.integers(1, 500),
    foot_w=st.integers(1, 700),
    foot_h=st.integers(1, 700),
    gravity=st.sampled_from(Gravity),
    x=st.integers(0, 800),
    y=st.integers(0, 800),
)
def test_placement_and_tiles_always_cover_what_they_should(
    width: int, height: int, foot_w: int, foot_h: int, gravity: Gravity, x: int, y: int
) -> None:
    placed = spec(gravity=gravity, x=px(x), y=px(y))
    left, top = mark_position((width, height), (foot_w, foot_h), placed)
    for start, size, full in ((left, foot_w, width), (top, foot_h, height)):
        if size <= full:
            assert 0 <= start and start + size <= full  # wholly on the image
        else:
            assert start <= 0 and start + size >= full  # covering it
    xs, ys = tile_origins((width, height), (foot_w, foot_h), (left, top))
    for origins, size, full, start in ((xs, foot_w, width, left), (ys, foot_h, height, top)):
        assert origins[0] <= 0 < origins[0] + size and origins[-1] < full <= origins[-1] + size  # no gap
        assert (start - origins[0]) % size == 0  # the grid goes through the placed mark
        assert len(origins) <= full // size + 2


# --- pixels ------------------------------------------------------------------------------------


@pytest.mark.parametrize("gravity", list(Gravity))
def test_the_mark_appears_in_its_box_and_nowhere_else(gravity: Gravity) -> None:
    image, placed = grey(), spec(gravity=gravity, x=px(7), y=px(5))
    result = apply_watermark(image, solid(), placed)
    assert changed_box(image, result) == watermark_box(image.size, (40, 20), placed)
    assert result.size == image.size and result.mode == image.mode


def test_the_fixture_mark_changes_its_region_of_the_photo(photo: Image.Image, mark: Image.Image) -> None:
    placed = spec(gravity=Gravity.SOUTHEAST, x=px(20), y=px(20))
    result = apply_watermark(photo, mark, placed)
    box = watermark_box(photo.size, mark.size, placed)
    assert box == (980, 700, 1180, 780)
    assert mean_diff(result.crop(box), photo.crop(box)) > 20
    changed = changed_box(photo, result)
    assert changed is not None
    assert box[0] <= changed[0] and box[1] <= changed[1] and changed[2] <= box[2] and changed[3] <= box[3]


def test_opacity_0_changes_nothing_and_50_is_between(photo: Image.Image, mark: Image.Image) -> None:
    box = watermark_box(photo.size, mark.size, spec())
    assert apply_watermark(photo, mark, spec(opacity=0)).tobytes() == photo.tobytes()
    full = mean_diff(apply_watermark(photo, mark, spec()).crop(box), photo.crop(box))
    half = mean_diff(apply_watermark(photo, mark, spec(opacity=50)).crop(box), photo.crop(box))
    assert 0.35 * full < half < 0.65 * full


def test_opacity_50_of_an_opaque_mark_is_an_even_blend() -> None:
    result = apply_watermark(grey(mode="RGBA"), solid(), spec(opacity=50))
    assert result.getpixel((150, 100)) == pytest.approx((172.5, 45, 45, 255), abs=1)  # (90 + 255) / 2, 90 / 2


@pytest.mark.parametrize("gravity", [Gravity.NORTHWEST, Gravity.CENTER, Gravity.SOUTHEAST])
def test_a_tile_covers_the_whole_image(gravity: Gravity) -> None:
    result = apply_watermark(grey((301, 203)), solid((40, 20)), spec(tile=True, gravity=gravity))
    assert result.getcolors() == [(301 * 203, (255, 0, 0))]


def test_the_fixture_tile_reaches_every_corner_and_the_centre(photo: Image.Image, mark: Image.Image) -> None:
    result = apply_watermark(photo, mark, spec(tile=True, width=px(150)))
    for box in ((0, 0, 60, 60), (1140, 0, 1200, 60), (0, 740, 60, 800), (1140, 740, 1200, 800), (570, 370, 630, 430)):
        assert mean_diff(result.crop(box), photo.crop(box)) > 10, box


def test_tiles_repeat_the_mark_on_its_grid(mark: Image.Image) -> None:
    image = grey((600, 400))
    placed = spec(tile=True, gravity=Gravity.NORTHWEST)
    result = apply_watermark(image, mark, placed)
    single = apply_watermark(image, mark, spec(gravity=Gravity.NORTHWEST))
    for x, y in ((0, 0), (200, 80), (400, 320)):
        assert result.crop((x, y, x + 200, y + 80)).tobytes() == single.crop((0, 0, 200, 80)).tobytes()


@pytest.mark.parametrize(("degrees", "size"), [(90, (20, 40)), (-90, (20, 40)), (180, (40, 20)), (0, (40, 20))])
def test_a_quarter_turn_swaps_the_footprint(degrees: float, size: Size) -> None:
    image = grey()
    result = apply_watermark(image, solid(), spec(rotate=degrees, gravity=Gravity.NORTHWEST))
    assert changed_box(image, result) == (0, 0, *size)


def test_a_turn_is_clockwise() -> None:
    arrow = solid((40, 20), (0, 0, 255, 255))
    arrow.paste(RED, (30, 0, 40, 20))  # red at the right end
    result = apply_watermark(grey(), arrow, spec(rotate=90, gravity=Gravity.NORTHWEST)).convert("RGB")
    assert result.getpixel((10, 35)) == (255, 0, 0) and result.getpixel((10, 5)) == (0, 0, 255)


@pytest.mark.parametrize("degrees", [30, -45, 137.5])
def test_an_arbitrary_turn_matches_rotating_the_resized_mark(mark: Image.Image, degrees: float) -> None:
    image = grey((600, 400), "RGBA")
    result = apply_watermark(image, mark, spec(rotate=degrees, width=px(300)))
    turned = rotate(mark.resize((300, 120), Image.Resampling.LANCZOS), degrees)
    expected = image.copy()
    expected.alpha_composite(turned, ((600 - turned.width) // 2, (400 - turned.height) // 2))
    assert_images_close(result, expected, 0.05)


@pytest.mark.parametrize(
    "fields",
    [
        {"width": px(900), "gravity": Gravity.NORTHEAST},
        {"width": px(900), "rotate": 90, "gravity": Gravity.SOUTH},
        {"width": px(700), "rotate": 25},
        {"width": px(900), "height": px(300), "scale_mode": ScaleMode.FILL},
        {"width": px(900), "height": px(50), "scale_mode": ScaleMode.IGNORE, "rotate": -10, "tile": True},
    ],
)
def test_a_clipped_mark_looks_like_the_whole_mark_cut(mark: Image.Image, fields: dict[str, Any]) -> None:
    image, placed = grey((300, 200), "RGBA"), spec(**fields)
    size = mark_size(image.size, mark.size, placed)
    left, top, right, bottom = watermark_box(image.size, mark.size, placed)
    whole = apply_watermark(grey((right - left, bottom - top), "RGBA"), mark, spec(**{**fields, "tile": False}))
    expected = image.copy()
    expected.alpha_composite(whole.crop((-left, -top, -left + 300, -top + 200)))  # grey on grey: the cut mark
    assert max(size) > 300 and right - left > 300
    assert_images_close(apply_watermark(image, mark, placed), expected, 0.05)


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_the_back_layer_is_invisible_on_an_opaque_image(photo: Image.Image, mark: Image.Image, mode: str) -> None:
    image = photo.convert(mode)
    for tile in (False, True):
        result = apply_watermark(image, mark, spec(layer=Layer.BACK, tile=tile, width=pct(80)))
        assert result.mode == mode and result.tobytes() == image.tobytes() and result is not image


def test_the_back_layer_shows_only_through_transparency(mark: Image.Image) -> None:
    image = fixture_image("alpha.png")  # 640x480, the left half transparent, the right half opaque
    result = apply_watermark(image, mark, spec(layer=Layer.BACK, tile=True))
    assert result.crop((320, 0, 640, 480)).tobytes() == image.crop((320, 0, 640, 480)).tobytes()
    assert mean_diff(result.crop((0, 0, 320, 480)), image.crop((0, 0, 320, 480))) > 20
    front = apply_watermark(image, mark, spec(tile=True))
    assert mean_diff(front.crop((320, 0, 640, 480)), image.crop((320, 0, 640, 480))) > 20


def test_alpha_in_the_mark_is_respected_over_rgb_and_rgba() -> None:
    half = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    half.paste((255, 0, 0, 255), (20, 0, 40, 10))  # opaque red top-right quarter
    half.paste((0, 0, 255, 128), (20, 10, 40, 20))  # half-transparent blue bottom-right
    rgb = apply_watermark(grey((40, 20)), half, spec())
    assert rgb.mode == "RGB"
    assert rgb.getpixel((5, 5)) == (90, 90, 90)  # transparent: unchanged
    assert rgb.getpixel((30, 5)) == (255, 0, 0)
    assert rgb.getpixel((30, 15)) == pytest.approx((45, 45, 173), abs=1)
    clear = apply_watermark(Image.new("RGBA", (40, 20), (0, 0, 0, 0)), half, spec())
    assert clear.getpixel((5, 5)) == (0, 0, 0, 0)
    assert clear.getpixel((30, 5)) == (255, 0, 0, 255)
    assert clear.getpixel((30, 15)) == (0, 0, 255, 128)  # over nothing, the mark keeps its own alpha


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_the_image_keeps_its_mode(mark: Image.Image, mode: str) -> None:
    image = grey((300, 200), mode)
    result = apply_watermark(image, mark, spec(width=pct(50)))
    assert result.mode == mode and result.size == image.size
    assert mean_diff(result, image) > 1


def test_any_mark_mode_is_accepted() -> None:
    result = apply_watermark(grey(), solid().convert("P"), spec(gravity=Gravity.NORTHWEST))
    assert result.getpixel((5, 5)) == (255, 0, 0)


def test_an_image_in_another_mode_is_refused(mark: Image.Image) -> None:
    with pytest.raises(ValueError, match="CMYK"):
        apply_watermark(Image.new("CMYK", (10, 10)), mark, spec())


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"tile": True, "rotate": 30, "opacity": 40},
        {"layer": Layer.BACK, "tile": True},
        {"width": px(5000), "scale_mode": ScaleMode.IGNORE},
        {"opacity": 0},
        {"opacity": 50},  # the mark at its own size: faded on a copy
    ],
)
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_inputs_are_never_mutated(mark: Image.Image, fields: dict[str, Any], mode: str) -> None:
    image, own = fixture_image("alpha.png").convert(mode), mark.copy()
    before_image, before_mark = image.tobytes(), own.tobytes()
    result = apply_watermark(image, own, spec(**fields))
    assert result is not image and result is not own
    assert image.tobytes() == before_image and own.tobytes() == before_mark


# --- bounds ------------------------------------------------------------------------------------


@pytest.fixture
def allocations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Size]]:
    """The sizes of every image that ``resize``, ``transform`` and ``new`` make."""
    sizes: list[Size] = []

    def spy(original: Callable[..., Image.Image]) -> Callable[..., Image.Image]:
        def wrapper(*args: Any, **kwargs: Any) -> Image.Image:
            result = original(*args, **kwargs)
            sizes.append(result.size)
            return result

        return wrapper

    monkeypatch.setattr(Image.Image, "resize", spy(Image.Image.resize))
    monkeypatch.setattr(Image.Image, "transform", spy(Image.Image.transform))
    monkeypatch.setattr(Image, "new", spy(Image.new))
    yield sizes


@pytest.mark.parametrize("degrees", [0, 90, 33])
@pytest.mark.parametrize("tile", [False, True])
def test_a_huge_mark_is_clipped_not_allocated(
    mark: Image.Image, allocations: list[Size], degrees: float, tile: bool
) -> None:
    placed = spec(width=px(100_000), height=px(100_000), scale_mode=ScaleMode.IGNORE, rotate=degrees, tile=tile)
    result = apply_watermark(grey(), mark, placed)
    assert result.size == (300, 200)
    assert allocations and max(w * h for w, h in allocations) <= 4 * 300 * 200  # bounded by the image


def test_a_one_pixel_tile_takes_a_few_pastes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = Image.Image.paste

    def counting(self: Image.Image, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "paste", counting)
    result = apply_watermark(grey((2000, 1500)), solid((1, 1)), spec(tile=True))
    assert result.getcolors() == [(2000 * 1500, (255, 0, 0))]
    assert len(calls) <= 30  # about log2(2000) + log2(1500), not 3 million


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Size]]]:
    """The mode and size of every image made by ``new``, ``copy``, ``crop``, ``convert``,
    ``transform``, ``resize``, ``alpha_composite`` and ``ImageChops.offset``."""
    found: list[tuple[str, Size]] = []

    def spy(original: Callable[..., Image.Image]) -> Callable[..., Image.Image]:
        def wrapper(*args: Any, **kwargs: Any) -> Image.Image:
            result = original(*args, **kwargs)
            found.append((result.mode, result.size))
            return result

        return wrapper

    for name in ("copy", "crop", "convert", "transform", "resize"):
        monkeypatch.setattr(Image.Image, name, spy(getattr(Image.Image, name)))
    monkeypatch.setattr(Image, "new", spy(Image.new))
    monkeypatch.setattr(Image, "alpha_composite", spy(Image.alpha_composite))
    monkeypatch.setattr(ImageChops, "offset", spy(ImageChops.offset))
    yield found


@pytest.mark.parametrize("mode", ["L", "RGB", "LA", "RGBA"])
@pytest.mark.parametrize("layer", [Layer.FRONT, Layer.BACK])
def test_tiling_never_makes_a_layer_as_large_as_the_image(
    made: list[tuple[str, Size]], mode: str, layer: Layer
) -> None:
    image, mark = grey((2000, 1600), mode), solid((1, 1))
    made.clear()
    result = apply_watermark(image, mark, spec(tile=True, rotate=45, opacity=50, layer=layer))
    if mode in ("L", "RGB") and layer is Layer.BACK:
        assert made == [(mode, image.size)]  # invisible: just the copy
        return
    if layer is Layer.FRONT:
        assert len(result.getcolors() or []) == 2  # a dot every 3 px (a 1 px mark turned 45°: 3x3)
    assert [found for found in made if found[1] == image.size] == [(mode, image.size)]  # the result, once
    assert max(w * h for _, (w, h) in made if (w, h) != image.size) <= 2000 * (
        1600 // 8 + 2
    )  # a band: an eighth, rounded up to whole tiles


@pytest.mark.parametrize("mode", ["L", "RGB", "LA", "RGBA"])
@pytest.mark.parametrize("tile_size", [(1, 1), (7, 5), (40, 37), (300, 150), (300, 203)])
@pytest.mark.parametrize("layer", [Layer.FRONT, Layer.BACK])
def test_tiles_laid_band_by_band_match_one_whole_layer(mode: str, tile_size: Size, layer: Layer) -> None:
    image = Image.linear_gradient("L").resize((300, 203)).convert(mode)
    if "A" in mode:
        image.putalpha(Image.linear_gradient("L").rotate(90).resize((300, 203)))
    mark = Image.merge(
        "RGBA",
        [Image.linear_gradient("L").resize(tile_size, Image.Resampling.NEAREST)] * 3
        + [Image.radial_gradient("L").resize(tile_size, Image.Resampling.NEAREST)],
    )
    whole = Image.new("RGBA", image.size)  # the tiles from the top-left corner, as one layer
    for top in range(0, image.height, tile_size[1]):
        for left in range(0, image.width, tile_size[0]):
            whole.paste(mark, (left, top))
    if mode in ("L", "RGB"):
        expected = image.copy()
        if layer is Layer.FRONT:
            expected.paste(whole, (0, 0), whole)
    else:
        base = image.convert("RGBA")
        merged = Image.alpha_composite(whole, base) if layer is Layer.BACK else Image.alpha_composite(base, whole)
        expected = merged.convert(mode)
    placed = spec(tile=True, gravity=Gravity.NORTHWEST, layer=layer)
    assert apply_watermark(image, mark, placed).tobytes() == expected.tobytes()


@settings(max_examples=60, deadline=None)
@given(
    size=st.tuples(st.integers(1, 60), st.integers(1, 60)),
    own=st.tuples(st.integers(1, 50), st.integers(1, 50)),
    width=st.one_of(st.none(), st.integers(1, 400).map(px), st.floats(0.01, 400).map(pct)),
    height=st.one_of(st.none(), st.integers(1, 400).map(px), st.floats(0.01, 400).map(pct)),
    mode=st.sampled_from(ScaleMode),
    gravity=st.sampled_from(Gravity),
    rotate_by=st.sampled_from([0.0, 90.0, -90.0, 180.0, 17.0, -120.5]),
    tile=st.booleans(),
    scale=st.floats(0.01, 4.0),
)
def test_any_spec_gives_an_image_of_the_same_size(
    size: Size,
    own: Size,
    width: Length | None,
    height: Length | None,
    mode: ScaleMode,
    gravity: Gravity,
    rotate_by: float,
    tile: bool,
    scale: float,
) -> None:
    placed = spec(width=width, height=height, scale_mode=mode, gravity=gravity, rotate=rotate_by, tile=tile, opacity=70)
    result = apply_watermark(grey(size, "RGBA"), solid(own), placed, scale)
    assert result.size == size and result.mode == "RGBA"


# --- goldens -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(goldens.CASES))
def test_golden(name: str) -> None:
    expected = Image.open(Path(goldens.GOLDEN) / f"{name}.png")
    expected.load()
    result = goldens.render(name)
    assert result.mode == expected.mode
    assert_images_close(result, expected, 0.1)
    marked = changed_box(goldens.base(goldens.CASES[name][0]), expected)  # a small mark barely moves the mean
    assert marked is not None
    assert_images_close(result.crop(marked), expected.crop(marked), 1.0)


# --- decoding the mark -------------------------------------------------------------------------


def test_load_mark_gives_rgba(mark: Image.Image) -> None:
    assert mark.mode == "RGBA" and mark.size == (200, 80)
    assert mark.getchannel("A").getextrema() == (0, 220)  # its own alpha, kept


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("photo.jpg", (1200, 800)),  # opaque: alpha 255
        ("rotated.jpg", (400, 600)),  # EXIF orientation 6 applied
        ("animated.gif", (160, 120)),  # the first frame
        ("gray.png", (300, 200)),
        ("cmyk_icc.jpg", (400, 300)),
    ],
)
def test_load_mark_decodes_like_a_source(name: str, size: Size) -> None:
    loaded = load_mark(fixture_bytes(name), LIMITS)
    assert loaded.mode == "RGBA" and loaded.size == size


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"not an image at all", UnsupportedImageError),
        (encode(Image.new("RGB", (8, 8)), "TIFF"), UnsupportedImageError),  # not allowlisted
        (encode(Image.new("RGB", (8, 8)), "BMP"), UnsupportedImageError),
        (fixture_bytes("watermark.png")[:200], CorruptImageError),  # truncated
        (fixture_bytes("photo.jpg")[:40], CorruptImageError),
    ],
)
def test_a_bad_mark_raises_like_a_bad_source(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error, match="^watermark: "):
        load_mark(data, LIMITS)
    with pytest.raises(error, match="^watermark: "):
        load_mark(data, LIMITS, max_side=50)


def test_a_mark_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(ImageTooLargeError, match="^watermark: the source is 200x80 px"):
        load_mark(fixture_bytes("watermark.png"), RenderLimits(max_source_pixels=200 * 80 - 1))


def test_a_mark_outside_the_configured_formats_is_refused() -> None:
    with pytest.raises(UnsupportedImageError, match="^watermark: "):
        load_mark(fixture_bytes("watermark.png"), RenderLimits(source_formats=frozenset({"JPEG"})))


@pytest.mark.parametrize(
    ("size", "max_side", "scale"),
    [
        ((7000, 7000), 2048, 2),  # 3500 >= 2048; 1750 is not
        ((7000, 7000), 100, 8),  # 875
        ((8192, 100), 2048, 4),  # the longest side decides
        ((100, 8192), 1024, 8),
        ((8193, 10), 1024, 8),  # ceil(8193 / 8) = 1025
        ((8185, 10), 1024, 8),  # ceil(8185 / 8) = 1024
        ((8184, 10), 1024, 4),  # ceil(8184 / 8) = 1023
        ((8192, 10), 1025, 4),
        ((2048, 2048), 2048, 1),  # not larger than asked: as is
        ((300, 200), 2048, 1),
    ],
)
def test_draft_scale_is_the_smallest_decode_still_large_enough(size: Size, max_side: int, scale: int) -> None:
    assert draft_scale(size, max_side) == scale


def test_a_big_jpeg_mark_is_decoded_small_then_reduced(monkeypatch: pytest.MonkeyPatch) -> None:
    source = Image.linear_gradient("L").resize((3000, 1000)).convert("RGB")
    data = encode(source, "JPEG", quality=95)
    decoded: list[Size] = []
    original = Image.Image.resize

    def resize(self: Image.Image, *args: Any, **kwargs: Any) -> Image.Image:
        decoded.append(self.size)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", resize)
    loaded = load_mark(data, LIMITS, max_side=500)
    assert decoded == [(750, 250)]  # decoded at 1/4 (375 would be below 500), then reduced once
    assert loaded.mode == "RGBA" and loaded.size == (500, 167)
    monkeypatch.setattr(Image.Image, "resize", original)
    assert_images_close(loaded, load_mark(data, LIMITS).resize((500, 167), Image.Resampling.LANCZOS), 1.0)


@pytest.mark.parametrize(
    ("name", "max_side", "size"),
    [
        ("watermark.png", 100, (100, 40)),  # alpha kept through the reduction
        ("watermark.png", 2048, (200, 80)),  # smaller than asked: as is
        ("rotated.jpg", 100, (67, 100)),  # EXIF orientation 6: 400x600 displayed
        ("cmyk_icc.jpg", 200, (200, 150)),
        ("animated.gif", 80, (80, 60)),
    ],
)
def test_max_side_bounds_the_longest_side(name: str, max_side: int, size: Size) -> None:
    full = load_mark(fixture_bytes(name), LIMITS)
    loaded = load_mark(fixture_bytes(name), LIMITS, max_side=max_side)
    assert loaded.mode == "RGBA" and loaded.size == size
    assert_images_close(loaded, full.resize(size, Image.Resampling.LANCZOS), 2.0)
    if name == "watermark.png":
        assert loaded.getchannel("A").getextrema()[0] == 0  # its transparency kept


@pytest.mark.parametrize("max_side", [0, -1])
def test_max_side_below_1_is_refused(max_side: int) -> None:
    with pytest.raises(ValueError, match="max_side"):
        load_mark(fixture_bytes("watermark.png"), LIMITS, max_side=max_side)


def test_the_pipeline_scale_keeps_the_mark_relative(mark: Image.Image, photo: Image.Image) -> None:
    placed = spec(width=px(300), gravity=Gravity.SOUTHEAST, x=px(40), y=px(40))
    boxes = []
    for width in (300, 1200):
        image = photo.resize((width, width * 2 // 3), Image.Resampling.LANCZOS)
        changed = changed_box(image, apply_watermark(image, mark, placed, width / 1200))
        assert changed is not None
        boxes.append([changed[0] / width, changed[1] / image.height, changed[2] / width, changed[3] / image.height])
    for small, large in zip(*boxes, strict=True):
        assert small == pytest.approx(large, abs=0.02)
