"""Sizes and boxes of every geometric step, computed without touching a pixel.

Everything here is exact integer/rational arithmetic on sizes: the same inputs give the same
sizes on every machine, and the planner (``transforms.plan``) can tell the output size from the
source's header before anything is decoded.

Rounding is *half up* (``2.5 -> 3``) and every side is at least 1 px.

Scaling (``w``, ``h``, ``s``; :class:`~transforms.options.ResizeSpec`)
    Lengths are pixels or a percentage of the *source* size (after EXIF orientation): ``w`` of
    the width, ``h`` of the height, ``s`` of the longest side. ``s=N`` is shorthand for an
    ``N`` x ``N`` box; given together with ``w``/``h`` it caps each of them.

    ``FIT``     fit inside ``w`` x ``h``, keeping the aspect ratio; may upscale.
    ``NOUP``    like ``FIT``, but never larger than the source (a smaller source keeps its size).
    ``FILL``    cover ``w`` x ``h`` keeping the aspect ratio, then cut the overflow, centred: the
                result is exactly ``w`` x ``h``. With only one side given it behaves like ``FIT``.
    ``IGNORE``  exactly ``w`` x ``h``; a side that is not given keeps the source's.

    With only ``w`` (or only ``h``) the other side follows the aspect ratio (``FIT``/``NOUP``/``FILL``).

Cropping (``cw``, ``ch``, ``cx``, ``cy``, ``crop.aspectratio``; :class:`~transforms.options.CropSpec`)
    Applied to the scaled image; see :func:`crop_box`.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .errors import OutputTooLargeError
from .options import CropSpec, ResizeSpec, ScaleMode

Size = tuple[int, int]
Box = tuple[int, int, int, int]
"""``(left, top, right, bottom)`` in whole pixels, right/bottom exclusive (as ``Image.crop``)."""
Region = tuple[float, float, float, float]
"""``(left, top, right, bottom)`` in (fractional) pixels, as the ``box`` of ``Image.resize``."""


def round_half_up(value: Fraction | float) -> int:
    """``value`` rounded to the nearest integer, halves going up (never banker's rounding)."""
    return math.floor(value + Fraction(1, 2) if isinstance(value, Fraction) else value + 0.5)


def _side(value: Fraction | int) -> int:
    return max(1, round_half_up(Fraction(value)))


def _requested(src_w: int, src_h: int, spec: ResizeSpec) -> tuple[int | None, int | None]:
    """The box asked for, in pixels: ``(w, h)``, either ``None`` when not given."""
    box_w = _side(spec.width.resolve(src_w)) if spec.width is not None else None
    box_h = _side(spec.height.resolve(src_h)) if spec.height is not None else None
    if spec.longest is not None:
        longest = _side(spec.longest.resolve(max(src_w, src_h)))
        box_w = longest if box_w is None else min(box_w, longest)
        box_h = longest if box_h is None else min(box_h, longest)
    return box_w, box_h


def check_size(size: Size, max_side: int | None) -> Size:
    """Return ``size``, or raise :class:`OutputTooLargeError` when a side is over ``max_side``."""
    if max_side is not None and max(size) > max_side:
        raise OutputTooLargeError(f"the output would be {size[0]}x{size[1]} px; the limit is {max_side} px per side")
    return size


def scaled_size(src_w: int, src_h: int, spec: ResizeSpec, *, max_side: int | None = None) -> Size:
    """The size of the image after the scale step.

    :param src_w: Source width in pixels, after EXIF orientation.
    :param src_h: Source height in pixels, after EXIF orientation.
    :param spec: ``w``/``h``/``s`` and the scale mode (see the module docstring).
    :param max_side: The largest side allowed (``RenderLimits.max_output_dimension``);
        ``None`` checks nothing.
    :returns: ``(width, height)``, each at least 1.
    :raises OutputTooLargeError: A side of the result would be longer than ``max_side``.
    """
    box_w, box_h = _requested(src_w, src_h, spec)
    if box_w is None and box_h is None:
        return check_size((src_w, src_h), max_side)
    if spec.mode is ScaleMode.IGNORE:
        return check_size((box_w or src_w, box_h or src_h), max_side)
    if spec.mode is ScaleMode.FILL and box_w is not None and box_h is not None:
        return check_size((box_w, box_h), max_side)
    factor = _fit_factor(src_w, src_h, box_w, box_h)
    if spec.mode is ScaleMode.NOUP and factor > 1:
        factor = Fraction(1)
    return check_size((_side(src_w * factor), _side(src_h * factor)), max_side)


def _fit_factor(src_w: int, src_h: int, box_w: int | None, box_h: int | None) -> Fraction:
    factors = [Fraction(box, src) for box, src in ((box_w, src_w), (box_h, src_h)) if box is not None]
    return min(factors)


def fill_region(src_w: int, src_h: int, spec: ResizeSpec) -> Region | None:
    """The part of the source that ``FILL`` keeps (centred), in source pixels.

    ``None`` when the scale step keeps the whole source (every mode but ``FILL`` with both sides).
    The region has the aspect ratio of the requested box, so resizing it to that box is exact.
    """
    if spec.mode is not ScaleMode.FILL:
        return None
    box_w, box_h = _requested(src_w, src_h, spec)
    if box_w is None or box_h is None:
        return None
    factor = max(Fraction(box_w, src_w), Fraction(box_h, src_h))
    region_w, region_h = box_w / factor, box_h / factor
    left, top = (src_w - region_w) / 2, (src_h - region_h) / 2
    return float(left), float(top), float(left + region_w), float(top + region_h)


def decode_size(src_w: int, src_h: int, spec: ResizeSpec) -> Size:
    """The smallest size of the *whole* source that still gives the scale step full detail.

    This is the target for JPEG draft decoding: for ``FILL`` the size the source would have
    when covering the box (before the overflow is cut), otherwise the scaled size.
    """
    region = fill_region(src_w, src_h, spec)
    if region is None:
        return scaled_size(src_w, src_h, spec)
    out_w, _ = scaled_size(src_w, src_h, spec)
    factor = Fraction(out_w) / Fraction(region[2] - region[0])
    return max(1, math.ceil(src_w * factor)), max(1, math.ceil(src_h * factor))


def crop_box(width: int, height: int, spec: CropSpec) -> Box:
    """The box the crop step keeps from a ``width`` x ``height`` image.

    - ``cw``/``ch`` are pixels or a percentage of the image entering the crop; a side that is
      not given is the full side. Sizes are clamped to the image (never empty: at least 1 px).
    - ``crop.aspectratio`` ``a:b``: the box is the largest ``a:b`` box inside ``cw`` x ``ch``
      (so with neither given, the largest ``a:b`` box in the image; with one given, the other is
      derived from it, and shrunk together with it if it would not fit).
    - ``cx``/``cy`` (pixels or a percentage of the width/height) place the box's top-left
      corner; ``None`` centres it (rounding down). The box is then moved, never cut, so that it
      lies inside the image.

    :returns: ``(left, top, right, bottom)``, right/bottom exclusive.
    """
    box_w = _clamp(spec.width.resolve(width), width) if spec.width is not None else width
    box_h = _clamp(spec.height.resolve(height), height) if spec.height is not None else height
    if spec.aspect_ratio is not None:
        box_w, box_h = _largest_with_ratio(box_w, box_h, spec.aspect_ratio)
    left = _place(spec.x.resolve(width) if spec.x is not None else None, box_w, width)
    top = _place(spec.y.resolve(height) if spec.y is not None else None, box_h, height)
    return left, top, left + box_w, top + box_h


def _clamp(value: int, limit: int) -> int:
    return min(max(value, 1), limit)


def _largest_with_ratio(max_w: int, max_h: int, ratio: tuple[int, int]) -> Size:
    ratio_w, ratio_h = ratio
    if max_w * ratio_h <= max_h * ratio_w:  # the width limits the box
        return max_w, _clamp(round_half_up(Fraction(max_w * ratio_h, ratio_w)), max_h)
    return _clamp(round_half_up(Fraction(max_h * ratio_w, ratio_h)), max_w), max_h


def _place(offset: int | None, box: int, full: int) -> int:
    if offset is None:
        return (full - box) // 2
    return min(max(offset, 0), full - box)


def cropped_size(width: int, height: int, spec: CropSpec) -> Size:
    """The size of :func:`crop_box` (the image itself when ``spec`` crops nothing)."""
    left, top, right, bottom = crop_box(width, height, spec)
    return right - left, bottom - top


def quarter_turns(degrees: float) -> int | None:
    """``0``-``3`` counter-clockwise quarter turns when ``degrees`` is a multiple of 90, else ``None``."""
    turns, rest = divmod(degrees % 360, 90)
    return int(turns) % 4 if rest == 0 else None  # -1e-300 % 360 == 360.0


def rotated_size(width: int, height: int, degrees: float) -> Size:
    """The size of a ``width`` x ``height`` image rotated by ``degrees`` clockwise.

    Multiples of 90 are exact transposes; other angles grow the canvas to hold the whole rotated
    image, by the same arithmetic as ``Image.rotate(..., expand=True)``.
    """
    counter_clockwise = -degrees  # what Image.rotate is given
    turns = quarter_turns(counter_clockwise)
    if turns is not None:
        return (height, width) if turns % 2 else (width, height)
    # Image.rotate's own arithmetic, step for step (its float rounding decides the last pixel).
    angle = -math.radians(counter_clockwise % 360.0)
    a, b = round(math.cos(angle), 15), round(math.sin(angle), 15)
    d, e = round(-math.sin(angle), 15), round(math.cos(angle), 15)
    centre_x, centre_y = width / 2, height / 2
    c = a * -centre_x + b * -centre_y + centre_x
    f = d * -centre_x + e * -centre_y + centre_y
    corners = ((0, 0), (width, 0), (width, height), (0, height))
    xs = [a * x + b * y + c for x, y in corners]
    ys = [d * x + e * y + f for x, y in corners]
    return (
        math.ceil(max(xs)) - math.floor(min(xs)),
        math.ceil(max(ys)) - math.floor(min(ys)),
    )
