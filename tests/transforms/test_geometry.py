"""Sizes and boxes, without pixels."""

from __future__ import annotations

from fractions import Fraction

import pytest

from transforms.errors import OutputTooLargeError
from transforms.geometry import (
    Box,
    Region,
    Size,
    crop_box,
    decode_size,
    fill_region,
    quarter_turns,
    rotated_size,
    round_half_up,
    scaled_size,
)
from transforms.options import CropSpec, Length, ResizeSpec, ScaleMode

FIT, FILL, IGNORE, NOUP = ScaleMode.FIT, ScaleMode.FILL, ScaleMode.IGNORE, ScaleMode.NOUP


def px(value: int) -> Length:
    return Length(value)


def pc(value: float) -> Length:
    return Length(value, percent=True)


def resize_spec(
    w: Length | None = None, h: Length | None = None, s: Length | None = None, mode: ScaleMode = FIT
) -> ResizeSpec:
    return ResizeSpec(width=w, height=h, longest=s, mode=mode)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # no size asked for: the source size, whatever the mode
        (resize_spec(), (1200, 800)),
        (resize_spec(mode=FILL), (1200, 800)),
        # FIT: inside the box, aspect kept, upscaling allowed
        (resize_spec(w=px(600)), (600, 400)),
        (resize_spec(h=px(400)), (600, 400)),
        (resize_spec(w=px(600), h=px(600)), (600, 400)),
        (resize_spec(w=px(900), h=px(300)), (450, 300)),
        (resize_spec(w=px(2400)), (2400, 1600)),
        (resize_spec(w=pc(50)), (600, 400)),
        (resize_spec(h=pc(25)), (300, 200)),
        (resize_spec(w=pc(12.5), h=pc(50)), (150, 100)),
        # s: the longest side (an s x s box); with w/h it caps them
        (resize_spec(s=px(300)), (300, 200)),
        (resize_spec(s=pc(50)), (600, 400)),
        (resize_spec(s=px(2400)), (2400, 1600)),
        (resize_spec(w=px(200), s=px(300)), (200, 133)),
        (resize_spec(w=px(600), h=px(600), s=px(300)), (300, 200)),
        # NOUP: as FIT, never above the source
        (resize_spec(w=px(600), mode=NOUP), (600, 400)),
        (resize_spec(w=px(2400), mode=NOUP), (1200, 800)),
        (resize_spec(w=px(2400), h=px(400), mode=NOUP), (600, 400)),
        (resize_spec(s=px(5000), mode=NOUP), (1200, 800)),
        # FILL: exactly the box; one side only behaves as FIT
        (resize_spec(w=px(300), h=px(300), mode=FILL), (300, 300)),
        (resize_spec(w=px(2400), h=px(100), mode=FILL), (2400, 100)),
        (resize_spec(w=px(300), mode=FILL), (300, 200)),
        (resize_spec(h=px(100), mode=FILL), (150, 100)),
        (resize_spec(s=px(300), mode=FILL), (300, 300)),
        # IGNORE: exactly the box; a missing side keeps the source's
        (resize_spec(w=px(300), h=px(300), mode=IGNORE), (300, 300)),
        (resize_spec(w=px(300), mode=IGNORE), (300, 800)),
        (resize_spec(h=px(100), mode=IGNORE), (1200, 100)),
        (resize_spec(w=pc(10), h=pc(200), mode=IGNORE), (120, 1600)),
    ],
)
def test_scaled_size(spec: ResizeSpec, expected: Size) -> None:
    assert scaled_size(1200, 800, spec) == expected


@pytest.mark.parametrize(
    ("source", "spec", "expected"),
    [
        ((1000, 333), resize_spec(w=px(500)), (500, 167)),  # 166.5 rounds half up
        ((1000, 333), resize_spec(w=px(3)), (3, 1)),  # 0.999 -> 1
        ((1000, 1), resize_spec(w=px(10)), (10, 1)),  # 0.01 -> at least 1 px
        ((999, 1000), resize_spec(h=px(2)), (2, 2)),  # 1.998 -> 2
        ((3, 2), resize_spec(h=px(1)), (2, 1)),  # 1.5 -> 2 (half up, not to even)
        ((5, 2), resize_spec(h=px(1)), (3, 1)),  # 2.5 -> 3 (half up, not to even)
        ((100, 100), resize_spec(w=pc(0.1)), (1, 1)),  # 0.1 px -> at least 1 px
        ((7, 3), resize_spec(w=pc(50), h=pc(50), mode=IGNORE), (4, 2)),  # 3.5 -> 4, 1.5 -> 2
    ],
)
def test_scaled_size_rounds_half_up_and_keeps_one_pixel(source: Size, spec: ResizeSpec, expected: Size) -> None:
    assert scaled_size(*source, spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        resize_spec(w=px(8193)),
        resize_spec(h=px(8192)),  # width follows the aspect ratio: 12288
        resize_spec(w=pc(1000)),
        resize_spec(w=px(100), h=px(9000), mode=IGNORE),
        resize_spec(w=px(9000), h=px(10), mode=FILL),
        resize_spec(s=px(9000)),
    ],
)
def test_scaled_size_refuses_sides_over_the_limit(spec: ResizeSpec) -> None:
    with pytest.raises(OutputTooLargeError):
        scaled_size(1200, 800, spec, max_side=8192)


def test_scaled_size_allows_exactly_the_limit() -> None:
    assert scaled_size(1200, 800, resize_spec(w=px(8192)), max_side=8192) == (8192, 5461)
    assert scaled_size(1200, 800, resize_spec(w=px(8193)), max_side=None) == (8193, 5462)


def test_scaled_size_checks_the_source_size_too() -> None:
    with pytest.raises(OutputTooLargeError):
        scaled_size(9000, 10, resize_spec(), max_side=8192)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (resize_spec(w=px(300), h=px(300), mode=FILL), (200.0, 0.0, 1000.0, 800.0)),
        (resize_spec(w=px(600), h=px(100), mode=FILL), (0.0, 300.0, 1200.0, 500.0)),
        (resize_spec(w=px(1200), h=px(800), mode=FILL), (0.0, 0.0, 1200.0, 800.0)),
        (resize_spec(w=px(300), h=px(300)), None),
        (resize_spec(w=px(300), mode=FILL), None),
        (resize_spec(w=px(300), h=px(300), mode=IGNORE), None),
    ],
)
def test_fill_region(spec: ResizeSpec, expected: Region | None) -> None:
    assert fill_region(1200, 800, spec) == expected


def test_fill_region_has_the_aspect_ratio_of_the_box() -> None:
    region = fill_region(1000, 333, resize_spec(w=px(70), h=px(30), mode=FILL))
    assert region is not None
    left, top, right, bottom = region
    assert (right - left) / (bottom - top) == pytest.approx(70 / 30)
    assert left == pytest.approx(1000 - right)  # centred


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (resize_spec(w=px(300)), (300, 200)),
        (resize_spec(w=px(300), h=px(300), mode=FILL), (450, 300)),  # covers the box
        (resize_spec(w=px(100), h=px(300), mode=IGNORE), (100, 300)),
        (resize_spec(w=px(7), h=px(7), mode=FILL), (11, 7)),  # 10.5 rounds up: never too small
    ],
)
def test_decode_size(spec: ResizeSpec, expected: Size) -> None:
    assert decode_size(1200, 800, spec) == expected


def crop_spec(
    w: Length | None = None,
    h: Length | None = None,
    x: Length | None = None,
    y: Length | None = None,
    ratio: tuple[int, int] | None = None,
) -> CropSpec:
    return CropSpec(width=w, height=h, x=x, y=y, aspect_ratio=ratio)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (crop_spec(), (0, 0, 600, 400)),
        (crop_spec(w=px(200), h=px(100)), (200, 150, 400, 250)),  # centred
        (crop_spec(w=px(201), h=px(101)), (199, 149, 400, 250)),  # centring rounds down
        (crop_spec(w=px(200), h=px(100), x=px(10), y=px(20)), (10, 20, 210, 120)),
        (crop_spec(w=px(200), x=px(10)), (10, 0, 210, 400)),  # missing side: full height
        (crop_spec(h=px(100), y=px(0)), (0, 0, 600, 100)),
        (crop_spec(w=pc(50)), (150, 0, 450, 400)),
        (crop_spec(w=pc(50), h=pc(50), x=pc(10), y=pc(25)), (60, 100, 360, 300)),
        # clamped: never out of bounds, never empty
        (crop_spec(w=px(200), h=px(100), x=px(500), y=px(390)), (400, 300, 600, 400)),
        (crop_spec(w=px(1000), h=px(1000), x=px(50), y=px(50)), (0, 0, 600, 400)),
        (crop_spec(w=pc(0.01), h=pc(0.01)), (299, 199, 300, 200)),
        (crop_spec(w=pc(500)), (0, 0, 600, 400)),
        # aspect ratio
        (crop_spec(ratio=(1, 1)), (100, 0, 500, 400)),
        (crop_spec(ratio=(16, 9)), (0, 31, 600, 369)),  # 337.5 -> 338 high
        (crop_spec(ratio=(3, 2)), (0, 0, 600, 400)),
        (crop_spec(w=px(100), ratio=(1, 2)), (250, 100, 350, 300)),  # height derived
        (crop_spec(h=px(100), ratio=(2, 1)), (200, 150, 400, 250)),  # width derived
        (crop_spec(w=px(300), ratio=(1, 2)), (200, 0, 400, 400)),  # derived too high: both shrink
        (crop_spec(w=px(300), h=px(300), ratio=(2, 1)), (150, 125, 450, 275)),  # inside cw x ch
        (crop_spec(ratio=(1, 1), x=px(0), y=px(0)), (0, 0, 400, 400)),
        (crop_spec(ratio=(1, 1000)), (299, 0, 300, 400)),  # at least 1 px
    ],
)
def test_crop_box(spec: CropSpec, expected: Box) -> None:
    assert crop_box(600, 400, spec) == expected


@pytest.mark.parametrize(
    ("degrees", "turns"), [(0, 0), (90, 1), (-90, 3), (180, 2), (-180, 2), (45, None), (0.5, None)]
)
def test_quarter_turns(degrees: float, turns: int | None) -> None:
    assert quarter_turns(degrees) == turns


@pytest.mark.parametrize(
    ("degrees", "expected"),
    [
        (0, (600, 400)),
        (90, (400, 600)),
        (-90, (400, 600)),
        (180, (600, 400)),
        (-180, (600, 400)),
        (45, (708, 708)),
        (-30, (720, 648)),
        (10, (662, 500)),
    ],
)
def test_rotated_size(degrees: float, expected: Size) -> None:
    assert rotated_size(600, 400, degrees) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2.5, 3), (3.5, 4), (-0.5, 0), (0.49, 0), (Fraction(5, 2), 3), (Fraction(7, 3), 2), (Fraction(-3, 2), -1)],
)
def test_round_half_up(value: float | Fraction, expected: int) -> None:
    assert round_half_up(value) == expected
