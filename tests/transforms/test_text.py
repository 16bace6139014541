"""The text overlay: pure geometry with a fake monospace typesetter, then pixels with the bundled fonts."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw, ImageFont

from origin.fonts import load_font_book
from tests.golden.make_text_goldens import CASES, GOLDEN_DIR, photo, render_case
from tests.imaging import assert_images_close, fixture_image, mean_diff
from transforms.assets import FontBook
from transforms.geometry import Box, Size
from transforms.options import FontStyle, FontWeight, Gravity, Length, TextAlign, TextSpec
from transforms.text import MIN_FONT_PX, draw_text, font_size_px, layout_text, place_box
from transforms.typeface import LAYOUT_ENGINE, FreeTypeSetter, choose_face, wrap_text

FONTS = load_font_book()
G = Gravity
ARABIC = "مرحبا بالعالم"
HEBREW = "שלום עולם"


# --- geometry, without pixels ---------------------------------------------------------------------


class Mono:
    """Every character is ``0.5 * size`` wide (rounded up); a line is ``1.25 * size`` high."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.line_height = (5 * size + 3) // 4

    def extent(self, line: str) -> tuple[int, int]:
        return 0, (len(line) * self.size + 1) // 2


class Counting:
    """A :class:`Mono` factory that counts the sizes asked for and the measurements made."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.measured = 0

    def __call__(self, size: int) -> Mono:
        self.sizes.append(size)
        counter, mono = self, Mono(size)

        class Counted(Mono):
            def extent(self, line: str) -> tuple[int, int]:
                counter.measured += 1
                return mono.extent(line)

        return Counted(size)


def px(value: int) -> Length:
    return Length(value)


def pc(value: float) -> Length:
    return Length(value, percent=True)


@pytest.mark.parametrize(
    ("spec", "image", "scale", "widest", "expected"),
    [
        pytest.param(TextSpec("a", font_size=40), (1200, 800), 1.0, 0, 40, id="font-size"),
        pytest.param(TextSpec("a", font_size=40), (300, 200), 0.25, 0, 10, id="font-size-scaled"),
        pytest.param(TextSpec("a", font_size=40, size=10), (1200, 800), 1.0, 500, 40, id="font-size-beats-size"),
        pytest.param(TextSpec("a", size=25), (1200, 800), 1.0, 500, 60, id="size-percent"),
        pytest.param(TextSpec("a", size=25), (300, 200), 0.25, 500, 15, id="size-percent-small"),
        pytest.param(TextSpec("a"), (1200, 800), 1.0, 0, 60, id="default-5pc"),
        pytest.param(TextSpec("a"), (100, 80), 1.0, 0, MIN_FONT_PX, id="at-least-min"),
        pytest.param(TextSpec("a", font_size=1), (1200, 800), 1.0, 0, MIN_FONT_PX, id="tiny-font-size"),
        pytest.param(TextSpec("a", font_size=5000), (1200, 800), 1.0, 0, 800, id="at-most-height"),
        pytest.param(TextSpec("a", font_size=10**30), (1200, 800), 3.0, 0, 800, id="absurd-font-size"),
        pytest.param(TextSpec("a", font_size=10**30), (1200, 800), 1e300, 0, 800, id="absurd-scale"),
        pytest.param(TextSpec("a", size=100), (1200, 30), 1.0, 50, 30, id="size-capped-by-height"),
        pytest.param(TextSpec("a", font_size=5000), (300, 1000), 1.0, 0, 300, id="at-most-width"),
    ],
)
def test_font_size_px(spec: TextSpec, image: Size, scale: float, widest: float, expected: int) -> None:
    assert font_size_px(spec, image, scale, widest) == expected


def mono_width(line: str) -> int:
    return len(line)  # one unit per character


@pytest.mark.parametrize(
    ("text", "width", "max_lines", "expected"),
    [
        pytest.param("hello world", 20, 9, ("hello world",), id="fits"),
        pytest.param("hello world", 11, 9, ("hello world",), id="fits-exactly"),
        pytest.param("hello world", 10, 9, ("hello", "world"), id="breaks-at-space"),
        pytest.param("a bb ccc dddd", 6, 9, ("a bb", "ccc", "dddd"), id="greedy"),
        pytest.param("one\ntwo three", 20, 9, ("one", "two three"), id="newline-kept"),
        pytest.param("a\n\nb", 20, 9, ("a", "", "b"), id="blank-line-kept"),
        pytest.param("  many   spaces  ", 20, 9, ("many spaces",), id="spaces-collapse"),
        pytest.param("abcdefghij", 4, 9, ("abcd", "efgh", "ij"), id="long-word-cut"),
        pytest.param("x abcdefghij y", 4, 9, ("x", "abcd", "efgh", "ij y"), id="long-word-between"),
        pytest.param("abc", 0, 9, ("a", "b", "c"), id="one-char-per-line-at-least"),
        pytest.param("a b c d e f", 1, 3, ("a", "b", "c"), id="stops-at-max-lines"),
        pytest.param("a b c", 1, 0, ("a",), id="always-one-line"),
        pytest.param("e\u0301e\u0301e\u0301", 3, 9, ("e\u0301", "e\u0301", "e\u0301"), id="no-cut-before-mark"),
    ],
)
def test_wrap_text(text: str, width: int, max_lines: int, expected: tuple[str, ...]) -> None:
    assert wrap_text(text, mono_width, width, max_lines) == expected


def test_wrap_text_measures_nothing_past_the_last_line() -> None:
    calls: list[str] = []

    def measure(line: str) -> int:
        calls.append(line)
        return len(line)

    assert len(wrap_text("word " * 100_000, measure, 10, 3)) == 3
    assert len(calls) < 20


# A 100x50 block on a 1000x500 image: (left, top) for each gravity, without and with x=10 / y=20.
@pytest.mark.parametrize(
    ("gravity", "plain", "pushed"),
    [
        (G.NORTHWEST, (0, 0), (10, 20)),
        (G.NORTH, (450, 0), (460, 20)),
        (G.NORTHEAST, (900, 0), (890, 20)),
        (G.WEST, (0, 225), (10, 245)),
        (G.CENTER, (450, 225), (460, 245)),
        (G.EAST, (900, 225), (890, 245)),
        (G.SOUTHWEST, (0, 450), (10, 430)),
        (G.SOUTH, (450, 450), (460, 430)),
        (G.SOUTHEAST, (900, 450), (890, 430)),
    ],
)
def test_place_box_gravity_and_offsets(gravity: Gravity, plain: Size, pushed: Size) -> None:
    assert place_box((100, 50), (1000, 500), gravity, None, None, 1.0) == (*plain, plain[0] + 100, plain[1] + 50)
    assert place_box((100, 50), (1000, 500), gravity, px(10), px(20), 1.0)[:2] == pushed
    assert place_box((100, 50), (1000, 500), gravity, px(40), px(80), 0.25)[:2] == pushed  # source-grid pixels
    assert place_box((100, 50), (1000, 500), gravity, pc(1), pc(4), 3.0)[:2] == pushed  # % of the image


@pytest.mark.parametrize(
    ("gravity", "x", "y", "expected"),
    [
        pytest.param(G.NORTHWEST, px(10**9), px(10**9), (900, 450, 1000, 500), id="nw-pushed-to-far-corner"),
        pytest.param(G.SOUTHEAST, px(10**9), px(10**9), (0, 0, 100, 50), id="se-pushed-to-origin"),
        pytest.param(G.CENTER, pc(100), pc(100), (900, 450, 1000, 500), id="centre-pushed-out"),
        pytest.param(G.EAST, px(950), None, (0, 225, 100, 275), id="east-pushed-out"),
        pytest.param(G.NORTH, pc(1e308), px(10**30), (900, 450, 1000, 500), id="absurd-offsets"),
    ],
)
def test_place_box_keeps_the_block_on_the_image(gravity: Gravity, x: Length, y: Length | None, expected: Box) -> None:
    assert place_box((100, 50), (1000, 500), gravity, x, y, 1.0) == expected


def test_place_box_centres_a_block_larger_than_the_image() -> None:
    assert place_box((120, 50), (100, 500), G.WEST, px(30), None, 1.0) == (-10, 225, 110, 275)


def test_layout_size_percent_makes_the_widest_line_that_wide() -> None:
    layout = layout_text(TextSpec("abcdefghij\nabc", size=50), (1000, 800), 1.0, Mono)
    assert layout.lines == ("abcdefghij", "abc")
    assert layout.font_size == 100  # 10 chars x 50 px = 500 px = 50 % of 1000
    assert layout.box == (250, 275, 750, 525)


def test_layout_size_above_the_wrap_width_shrinks_instead_of_wrapping() -> None:
    layout = layout_text(TextSpec("abcdefghij", size=100), (1000, 800), 1.0, Mono)
    assert layout.lines == ("abcdefghij",)
    assert layout.widths[0] <= 960  # 2 % margin on each side


def test_layout_aligns_lines_inside_the_block() -> None:
    spec = TextSpec("aaaa\naa", font_size=10, outline_width=2, align=TextAlign.RIGHT)
    layout = layout_text(spec, (1000, 800), 1.0, Mono)
    assert (layout.stroke, layout.padding) == (2, 2)
    assert layout.line_origins() == ((2, 2), (12, 15))
    centred = layout_text(TextSpec("aaaa\naa", font_size=10), (1000, 800), 1.0, Mono)
    assert centred.line_origins() == ((0, 0), (5, 13))


def test_layout_background_pads_the_block() -> None:
    plain = layout_text(TextSpec("ab", font_size=40), (1000, 800), 1.0, Mono)
    boxed = layout_text(TextSpec("ab", font_size=40, background_color=(0, 0, 0, 255)), (1000, 800), 1.0, Mono)
    assert boxed.padding == 10
    assert boxed.box[2] - boxed.box[0] == plain.box[2] - plain.box[0] + 20


def test_layout_bounds_the_outline_by_the_image() -> None:
    layout = layout_text(TextSpec("ab", outline_width=10**9), (400, 300), 1.0, Mono)
    assert layout.stroke == 75  # a quarter of the shorter side
    assert layout_text(TextSpec("ab", outline_width=1), (400, 300), 0.01, Mono).stroke == 1  # never rounds to 0


def test_layout_of_a_long_text_on_a_tiny_image_is_bounded() -> None:
    layout = layout_text(TextSpec("word " * 100), (50, 50), 1.0, Mono)
    assert layout.font_size == MIN_FONT_PX
    assert len(layout.lines) == 5  # 5 lines of 10 px fit in 50 px
    assert layout.box[3] - layout.box[1] <= 50


LICENCE = "© ACME\nLicensed to Bob only"


def test_layout_shrinks_the_font_until_every_line_fits() -> None:
    layout = layout_text(TextSpec(LICENCE), (1200, 90), 1.0, Mono)
    assert layout.lines == ("© ACME", "Licensed to Bob only")  # the licence line is never dropped
    assert layout.font_size == 36  # the largest size whose 2 lines fit: 2 x 45 px <= 90 (37: 2 x 47)
    assert layout.box[3] - layout.box[1] == 90
    wrapped = layout_text(TextSpec("lorem ipsum dolor " * 20, outline_width=3), (400, 100), 1.0, Mono)
    assert " ".join(wrapped.lines).split() == ["lorem", "ipsum", "dolor"] * 20
    assert wrapped.box[3] - wrapped.box[1] <= 100 and wrapped.font_size > MIN_FONT_PX


def test_layout_keeps_the_size_when_the_lines_fit() -> None:
    assert layout_text(TextSpec(LICENCE), (1200, 800), 1.0, Mono).font_size == 60  # 5 % of the width


def test_fitting_a_long_text_on_a_tiny_image_does_bounded_work() -> None:
    work = []
    for repeat in (1, 100, 10_000):
        counting = Counting()
        spec = TextSpec(("x" * 300 + " lorem ipsum" * 16) * repeat, outline_width=1)
        layout = layout_text(spec, (50, 50), 1.0, counting)
        assert layout.font_size == MIN_FONT_PX and len(layout.lines) == 4  # (50 - 2 x 1) // 10 px
        assert len(set(counting.sizes)) <= 2  # the size asked for, then the minimum: nothing fits
        work.append(counting.measured)
    assert work[0] == work[1] == work[2] < 200  # nothing past the 5th line is ever measured


def test_fitting_tries_a_logarithmic_number_of_sizes() -> None:
    counting = Counting()
    layout = layout_text(TextSpec("lorem ipsum " * 400), (4000, 4000), 1.0, counting)
    assert MIN_FONT_PX < layout.font_size < 200  # 5 % of the width, 200, does not fit
    assert len(set(counting.sizes)) <= 2 + 8  # 200, the minimum, then a binary search over 9..199
    assert counting.measured < 10 * 2 * 800  # each size: about one measurement per word (800 words)


def test_layout_blur_and_its_reach() -> None:
    plain = layout_text(TextSpec("ab", font_size=40, outline_blur=5), (1000, 800), 1.0, Mono)
    assert (plain.blur, plain.reach, plain.paint_box()) == (0.0, 0, plain.box)  # no outline, no blur
    layout = layout_text(TextSpec("ab", font_size=40, outline_width=4, outline_blur=5), (1000, 800), 0.5, Mono)
    assert (layout.stroke, layout.blur, layout.reach) == (2, 2.5, 9)  # 3 x ceil(2.5)
    left, top, right, bottom = layout.box
    assert layout.paint_box() == (left - 9, top - 9, right + 9, bottom + 9)
    huge = layout_text(TextSpec("ab", outline_width=4, outline_blur=10**9), (400, 300), 1.0, Mono)
    assert huge.blur == 25 and huge.reach == 75  # reaches a quarter of the shorter side at most


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="ab \n", min_size=1, max_size=80).filter(str.strip),
    width=st.integers(1, 2000),
    height=st.integers(1, 2000),
    font_size=st.none() | st.integers(1, 3000),
    size=st.none() | st.floats(0.5, 100),
    gravity=st.sampled_from(list(Gravity)),
    x=st.none() | st.integers(0, 5000).map(px) | st.floats(0, 200).map(pc),
    y=st.none() | st.integers(0, 5000).map(px) | st.floats(0, 200).map(pc),
    outline=st.integers(0, 40),
    scale=st.floats(0.01, 10),
)
def test_layout_stays_on_the_image(
    text: str,
    width: int,
    height: int,
    font_size: int | None,
    size: float | None,
    gravity: Gravity,
    x: Length | None,
    y: Length | None,
    outline: int,
    scale: float,
) -> None:
    spec = TextSpec(text, font_size=font_size, size=size, gravity=gravity, x=x, y=y, outline_width=outline)
    layout = layout_text(spec, (width, height), scale, Mono)
    left, top, right, bottom = layout.box
    assert MIN_FONT_PX <= layout.font_size <= max(MIN_FONT_PX, min(width, height))
    assert (right - left, bottom - top) == (
        max(layout.widths) + 2 * layout.padding,
        len(layout.lines) * layout.line_height + 2 * layout.padding,
    )
    for axis_start, axis_end, full in ((left, right, width), (top, bottom, height)):
        if axis_end - axis_start <= full:
            assert 0 <= axis_start and axis_end <= full
    if layout.line_height + 2 * layout.padding <= height:
        assert bottom - top <= height
    for line, line_width in zip(layout.lines, layout.widths, strict=True):
        assert line_width <= max(1, width) or len(line.replace(" ", "")) <= 1
    if layout.font_size > MIN_FONT_PX:  # lines are only ever dropped at the minimum size
        assert "".join(layout.lines).replace(" ", "") == "".join(text.split())
        assert bottom - top <= height


# --- pixels ---------------------------------------------------------------------------------------


def grey(size: Size = (600, 400), mode: str = "RGB") -> Image.Image:
    return Image.new(mode, size, 80 if mode in ("L", "LA") else (80, 80, 80))


def changed(before: Image.Image, after: Image.Image) -> Box:
    """The bounding box of the pixels that differ."""
    box = ImageChops.difference(before.convert("RGBA"), after.convert("RGBA")).getbbox(alpha_only=False)
    assert box is not None, "nothing was drawn"
    return box


def third(start: int, end: int, full: int) -> int:
    return min(2, 3 * (start + end) // 2 // full)


@pytest.mark.parametrize(
    ("gravity", "column", "row"),
    [
        (G.NORTHWEST, 0, 0),
        (G.NORTH, 1, 0),
        (G.NORTHEAST, 2, 0),
        (G.WEST, 0, 1),
        (G.CENTER, 1, 1),
        (G.EAST, 2, 1),
        (G.SOUTHWEST, 0, 2),
        (G.SOUTH, 1, 2),
        (G.SOUTHEAST, 2, 2),
    ],
)
def test_gravity_puts_the_text_in_its_third(gravity: Gravity, column: int, row: int) -> None:
    plain = grey()
    left, top, right, bottom = changed(plain, draw_text(plain, TextSpec("Hi", gravity=gravity), FONTS))
    assert (third(left, right, 600), third(top, bottom, 400)) == (column, row)


@pytest.mark.parametrize(
    ("gravity", "dx", "dy"),
    [(G.NORTHWEST, 40, 30), (G.CENTER, 40, 30), (G.SOUTHEAST, -40, -30), (G.NORTHEAST, -40, 30)],
)
def test_offsets_move_the_text(gravity: Gravity, dx: int, dy: int) -> None:
    plain = grey()
    still = changed(plain, draw_text(plain, TextSpec("Hi", gravity=gravity), FONTS))
    moved = changed(plain, draw_text(plain, TextSpec("Hi", gravity=gravity, x=px(80), y=px(60)), FONTS, 0.5))
    assert (moved[0] - still[0], moved[1] - still[1]) == (dx, dy)
    in_percent = changed(plain, draw_text(plain, TextSpec("Hi", gravity=gravity, x=pc(40 / 6), y=pc(7.5)), FONTS))
    assert in_percent == moved


@pytest.mark.parametrize("gravity", list(Gravity))
def test_huge_offsets_keep_the_text_on_the_image(gravity: Gravity) -> None:
    plain = grey()
    spec = TextSpec(
        "Hello", gravity=gravity, x=px(10**6), y=pc(1000), outline_width=4, background_color=(255, 0, 0, 255)
    )
    left, top, right, bottom = changed(plain, draw_text(plain, spec, FONTS))
    assert 0 <= left < right <= 600 and 0 <= top < bottom <= 400
    assert left == 0 or right == 600  # pushed all the way across
    assert top == 0 or bottom == 400


def brightest(image: Image.Image) -> int:
    return max(image.convert("L").tobytes())


@pytest.mark.parametrize(("opacity", "low", "high"), [(100, 255, 255), (50, 125, 129), (1, 1, 4)])
def test_opacity_scales_the_text(opacity: int, low: int, high: int) -> None:
    black = Image.new("RGB", (300, 200))
    assert low <= brightest(draw_text(black, TextSpec("█", font_size=150, opacity=opacity), FONTS)) <= high


def test_opacity_zero_draws_nothing() -> None:
    black = Image.new("RGB", (300, 200))
    spec = TextSpec("█", opacity=0, outline_width=5, outline_opacity=0, background_color=(255, 0, 0, 255))
    assert draw_text(black, TextSpec("█", opacity=0), FONTS).tobytes() == black.tobytes()
    assert draw_text(black, TextSpec("█", color=(255, 255, 255, 0)), FONTS).tobytes() == black.tobytes()
    assert draw_text(black, spec, FONTS).tobytes() != black.tobytes()  # the background still shows
    assert (
        draw_text(black, TextSpec("█", opacity=0, outline_width=5, outline_color=(255, 0, 0, 255)), FONTS).tobytes()
        != black.tobytes()
    )


def test_outline_widens_the_text() -> None:
    plain = grey()
    thin = changed(plain, draw_text(plain, TextSpec("Hi", font_size=60), FONTS))
    thick = changed(plain, draw_text(plain, TextSpec("Hi", font_size=60, outline_width=6), FONTS))
    assert thick[2] - thick[0] == pytest.approx(thin[2] - thin[0] + 12, abs=2)
    assert thick[3] - thick[1] == pytest.approx(thin[3] - thin[1] + 12, abs=2)
    blurred = changed(plain, draw_text(plain, TextSpec("Hi", font_size=60, outline_width=6, outline_blur=5), FONTS))
    assert blurred[2] - blurred[0] > thick[2] - thick[0]


def test_a_blurred_outline_is_not_cut_at_the_block() -> None:
    plain = grey()
    spec = TextSpec("Hi", font_size=60, outline_width=6, outline_blur=5)
    face = choose_face(FONTS, spec)
    layout = layout_text(spec, plain.size, 1.0, lambda size: FreeTypeSetter(face.data, size))
    left, top, right, bottom = changed(plain, draw_text(plain, spec, FONTS))
    assert left < layout.box[0] and right > layout.box[2]  # the glow spreads past the block's box
    assert layout.paint_box()[0] <= left and right <= layout.paint_box()[2]


@pytest.fixture
def allocations(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Size]]:
    """The mode and size of every image that ``new``, ``copy``, ``crop``, ``convert``, ``filter`` and ``point`` make."""
    made: list[tuple[str, Size]] = []

    def spy(original: Callable[..., Image.Image]) -> Callable[..., Image.Image]:
        def wrapper(*args: Any, **kwargs: Any) -> Image.Image:
            result = original(*args, **kwargs)
            made.append((result.mode, result.size))
            return result

        return wrapper

    monkeypatch.setattr(Image, "new", spy(Image.new))
    for name in ("copy", "crop", "convert", "filter", "point"):
        monkeypatch.setattr(Image.Image, name, spy(getattr(Image.Image, name)))
    return made


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_only_the_text_s_patch_is_allocated(allocations: list[tuple[str, Size]], mode: str) -> None:
    image = Image.new(mode, (3000, 2000), (90, 120, 150, 255)[: len(mode)])
    spec = TextSpec(
        "© Studio — preview", font_size=60, outline_width=6, outline_blur=4, background_color=(0, 0, 0, 255)
    )
    face = choose_face(FONTS, spec)
    left, top, right, bottom = layout_text(spec, image.size, 1.0, lambda n: FreeTypeSetter(face.data, n)).paint_box()
    allocations.clear()
    draw_text(image, spec, FONTS)
    assert [made for made in allocations if made[1] == image.size] == [(mode, image.size)]  # the new image
    assert max(w * h for _, (w, h) in allocations if (w, h) != image.size) <= (right - left) * (bottom - top)
    layers = [made for made in allocations if made[0] == "RGBA" and made[1] != image.size]
    assert len(layers) == (0 if mode == "RGB" else 2)  # the patch and one layer, reused for each paint


def test_outline_colour_and_opacity() -> None:
    spec = TextSpec("I", font_size=200, color=(0, 0, 0, 0), outline_width=10, outline_color=(255, 0, 0, 255))
    drawn = draw_text(grey(), spec, FONTS)
    assert (255, 0, 0) in {colour for _, colour in drawn.getcolors(1 << 16) or []}


def test_background_fills_a_box() -> None:
    plain = grey()
    spec = TextSpec("Hi", font_size=50, color=(0, 0, 255, 255), background_color=(255, 0, 0, 255))
    drawn = draw_text(plain, spec, FONTS)
    left, top, right, bottom = changed(plain, drawn)
    for corner in ((left, top), (right - 1, top), (left, bottom - 1), (right - 1, bottom - 1)):
        assert drawn.getpixel(corner) == (255, 0, 0)
    half = draw_text(
        plain, TextSpec("Hi", font_size=50, background_color=(255, 0, 0, 255), background_opacity=50), FONTS
    )
    assert half.getpixel((left, top)) == (167, 40, 40)  # halfway from (80, 80, 80) to red


def test_long_text_wraps_within_the_width() -> None:
    plain = grey((200, 400))
    sentence = "The quick brown fox jumps over the lazy dog"
    one_line = changed(plain, draw_text(plain, TextSpec("The quick", font_size=20), FONTS))
    wrapped = changed(plain, draw_text(plain, TextSpec(sentence, font_size=20), FONTS))
    assert wrapped[3] - wrapped[1] > 3 * (one_line[3] - one_line[1])
    assert 4 <= wrapped[0] and wrapped[2] <= 196  # inside the 2 % margins


def test_long_text_on_a_tiny_image_draws_what_fits() -> None:
    plain = grey((50, 50))
    drawn = draw_text(plain, TextSpec("x" * 300 + " lorem ipsum" * 16, outline_width=1), FONTS)
    assert drawn.size == (50, 50)
    assert changed(plain, drawn)  # the bounded work is asserted without pixels, above


def ink_bands(image: Image.Image) -> list[tuple[int, int]]:
    """The left and right ends of the ink in each run of inked rows, top to bottom."""
    bands: list[tuple[int, int]] = []
    inked = False
    for y in range(image.height):
        row = image.crop((0, y, image.width, y + 1)).getbbox()
        if row and inked:
            bands[-1] = (min(bands[-1][0], row[0]), max(bands[-1][1], row[2]))
        elif row:
            bands.append((row[0], row[2]))
        inked = row is not None
    return bands


def test_every_line_is_drawn_when_the_block_is_taller_than_the_image() -> None:
    drawn = draw_text(Image.new("L", (1200, 90)), TextSpec(LICENCE), FONTS)
    (top_left, top_right), (licence_left, licence_right) = ink_bands(drawn)  # two lines, both drawn
    assert licence_right - licence_left > 2 * (top_right - top_left)  # "Licensed to Bob only"


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    text=st.text(min_size=1, max_size=60).filter(str.strip),
    size=st.tuples(st.integers(1, 120), st.integers(1, 120)),
    family=st.sampled_from(["sans", "serif", "mono"]),
    outline=st.integers(0, 10**6),
    blur=st.integers(0, 10**6),
)
def test_any_text_draws_without_error(text: str, size: Size, family: str, outline: int, blur: int) -> None:
    image = grey(size)
    spec = TextSpec(text, family=family, outline_width=outline, outline_blur=blur, background_color=(0, 0, 0, 99))
    drawn = draw_text(image, spec, FONTS)
    assert (drawn.size, drawn.mode) == (image.size, image.mode)


def raqm(size: int = 40) -> ImageFont.FreeTypeFont:
    return sans(size, ImageFont.Layout.RAQM)


def sans(size: int, engine: ImageFont.Layout) -> ImageFont.FreeTypeFont:
    data = FONTS.face("sans", FontWeight.NORMAL, FontStyle.NORMAL).data
    return ImageFont.truetype(BytesIO(data), size, layout_engine=engine)


def test_text_is_laid_out_by_raqm() -> None:
    assert LAYOUT_ENGINE == ImageFont.Layout.RAQM
    assert raqm().layout_engine == ImageFont.Layout.RAQM


def ink(font: ImageFont.FreeTypeFont, text: str) -> Image.Image:
    canvas = Image.new("L", (300, 80))
    ImageDraw.Draw(canvas).text((10, 10), text, font=font, fill=255)
    return canvas


def test_arabic_is_shaped() -> None:
    font = raqm()
    word = "مرحبا"
    assert font.getlength(word) < 0.9 * sum(font.getlength(letter) for letter in word)  # joined forms
    assert mean_diff(ink(font, word), ink(sans(40, ImageFont.Layout.BASIC), word)) > 5  # not the isolated letters
    plain = grey()
    left, _, right, _ = changed(plain, draw_text(plain, TextSpec(word, font_size=40), FONTS))
    ink_left, _, ink_right, _ = ink(font, word).getbbox() or (0, 0, 0, 0)
    assert right - left == pytest.approx(ink_right - ink_left, abs=2)


def test_hebrew_runs_right_to_left() -> None:
    basic = sans(40, ImageFont.Layout.BASIC)
    word = "שלום"
    reversed_diff = mean_diff(ink(raqm(), word), ink(basic, word[::-1]))  # sub-pixel positions differ
    assert reversed_diff < 0.3 * mean_diff(ink(raqm(), word), ink(basic, word))  # the letters right to left
    plain = grey()
    assert changed(plain, draw_text(plain, TextSpec(HEBREW), FONTS))


@pytest.mark.parametrize(
    ("family", "style", "text", "expected"),
    [
        pytest.param("serif", FontStyle.NORMAL, "Hello", "serif", id="serif-latin"),
        pytest.param("serif", FontStyle.NORMAL, HEBREW, "sans", id="serif-hebrew-falls-back"),
        pytest.param("mono", FontStyle.NORMAL, ARABIC, "mono", id="mono-arabic"),
        pytest.param("sans", FontStyle.ITALIC, ARABIC, "sans", id="oblique-arabic-upright"),
        pytest.param("serif", FontStyle.NORMAL, "漢字", "serif", id="no-face-has-it"),
    ],
)
def test_choose_face_falls_back_for_missing_glyphs(family: str, style: FontStyle, text: str, expected: str) -> None:
    face = choose_face(FONTS, TextSpec(text, family=family, style=style))
    assert face.family == expected
    if text == ARABIC and style is FontStyle.ITALIC:
        assert face.style is FontStyle.NORMAL


def test_unknown_family_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="font family"):
        draw_text(grey(), TextSpec("a", family="comic"), FontBook())


def test_same_relative_layout_at_any_output_size() -> None:
    source = fixture_image("photo.jpg")
    spec = TextSpec("Scaled", font_size=96, gravity=G.SOUTHWEST, x=px(60), y=px(40), outline_width=4)
    boxes = []
    for width in (300, 1200):
        image = source.resize((width, width * 2 // 3))
        left, top, right, bottom = changed(image, draw_text(image, spec, FONTS, width / 1200))
        boxes.append((left / width, top / image.height, right / width, bottom / image.height))
    for small, large in zip(*boxes, strict=True):
        assert small == pytest.approx(large, abs=0.02)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_mode_is_kept_and_the_input_untouched(mode: str) -> None:
    image = grey(mode=mode)
    before = image.tobytes()
    spec = TextSpec("Hi", outline_width=2, background_color=(0, 0, 0, 255), background_opacity=40)
    drawn = draw_text(image, spec, FONTS)
    assert drawn.mode == mode and drawn.size == image.size and drawn is not image
    assert image.tobytes() == before
    assert drawn.tobytes() != before


def test_text_on_a_transparent_image_is_opaque_where_drawn() -> None:
    clear = Image.new("RGBA", (200, 100))
    drawn = draw_text(clear, TextSpec("█", font_size=60), FONTS)
    assert drawn.getchannel("A").getextrema() == (0, 255)


@pytest.mark.parametrize(
    ("mode", "scale"), [("CMYK", 1.0), ("P", 1.0), ("RGB", 0.0), ("RGB", float("nan")), ("RGB", -1.0)]
)
def test_bad_mode_or_scale_is_a_value_error(mode: str, scale: float) -> None:
    with pytest.raises(ValueError):
        draw_text(Image.new(mode, (10, 10)), TextSpec("a"), FONTS, scale)


# --- goldens (regenerate with tests/golden/make_text_goldens.py, then review) ---------------------

GOLDEN_TOLERANCE = 0.5  # a 1 px shift of any golden costs more than this


@pytest.mark.parametrize("name", list(CASES))
def test_golden(name: str) -> None:
    with Image.open(GOLDEN_DIR / f"{name}.png") as golden:
        assert_images_close(render_case(name), golden, max_mean_diff=GOLDEN_TOLERANCE)


@pytest.mark.parametrize("name", ["gravity", "background", "rtl_arabic"])
def test_golden_overlay_matches_a_render_on_the_photo(name: str) -> None:
    expected = photo().convert("RGBA")
    with Image.open(GOLDEN_DIR / f"{name}.png") as golden:
        expected.alpha_composite(golden.convert("RGBA"))
    assert_images_close(CASES[name](photo()), expected.convert("RGB"), max_mean_diff=GOLDEN_TOLERANCE)
