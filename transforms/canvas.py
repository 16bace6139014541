"""The canvas step (Sirv's ``canvas.*``): the image placed on a larger backdrop, with an optional border.

Geometry is pure (:func:`canvas_size`, :func:`image_box`); sizes are whole pixels, rounding half up.

Size
    ``width``/``height`` in pixels are output pixels; in percent, of the image entering the step.
    A side that is not given, or is smaller than the image, is the image's side: the canvas never
    cuts. ``aspect_ratio`` ``W:H`` then grows exactly one side (the one that is too short) to the
    nearest whole pixel of that ratio: ``16:9`` on 1000x1000 gives 1778x1000, on 1600x800 gives
    1600x900. Borders add ``2 * border_width`` to the width and ``2 * border_height`` to the height
    (so the ratio holds for the canvas inside the border).
Position
    The image is anchored at ``position`` (a gravity) inside the border; on a centred axis the
    spare pixels are split with the odd one after the image (left/top offset rounds down).
Colours
    The canvas is ``color`` with its alpha scaled by ``opacity``; the border is ``border_color``
    (by default the canvas's ``color``, at its own alpha, *not* scaled by ``opacity``) with its
    alpha scaled by ``border_opacity``. The image's pixels are pasted unchanged, or composited
    over the canvas colour where the image has alpha.
Mode of the result
    Grey (``L``/``LA``) when the image is grey and every colour that shows is grey, otherwise
    ``RGB``/``RGBA``; with alpha only when a colour that shows is not fully opaque (an image with
    alpha on an opaque canvas comes out opaque: nothing is left to see through).
"""

from __future__ import annotations

from fractions import Fraction

from PIL import Image

from .geometry import Box, Size, check_size, round_half_up
from .options import RGBA, CanvasSpec, Gravity

_MODES = ("L", "LA", "RGB", "RGBA")
_ALPHA_MODES = ("LA", "RGBA")


def canvas_size(width: int, height: int, spec: CanvasSpec, *, max_side: int | None = None) -> Size:
    """The size of a ``width`` x ``height`` image after the canvas step (see the module docstring).

    :param max_side: The largest side allowed (``RenderLimits.max_output_dimension``); ``None``
        checks nothing.
    :returns: ``(width, height)``: the image's own size when ``spec`` is the identity.
    :raises OutputTooLargeError: A side of the canvas would be longer than ``max_side``.
    """
    inner_w, inner_h = _inner_size(width, height, spec)
    return check_size((inner_w + 2 * spec.border_width, inner_h + 2 * spec.border_height), max_side)


def image_box(width: int, height: int, spec: CanvasSpec) -> Box:
    """Where a ``width`` x ``height`` image lands on its canvas: ``(left, top, right, bottom)``."""
    inner_w, inner_h = _inner_size(width, height, spec)
    left = spec.border_width + _offset(inner_w - width, _column(spec.position))
    top = spec.border_height + _offset(inner_h - height, _row(spec.position))
    return left, top, left + width, top + height


def apply_canvas(image: Image.Image, spec: CanvasSpec) -> Image.Image:
    """``image`` placed on the canvas ``spec`` describes.

    :param image: In mode ``L``, ``LA``, ``RGB`` or ``RGBA`` (sRGB).
    :returns: A new image (mode: see the module docstring), or ``image`` itself when ``spec`` is
        the identity, or when the canvas is exactly the opaque image (nothing of it would show).
    :raises ValueError: ``image`` is in another mode.
    """
    if image.mode not in _MODES:
        raise ValueError(f"a canvas takes an L, LA, RGB or RGBA image, not {image.mode}")
    if spec.is_identity:
        return image
    size = canvas_size(image.width, image.height, spec)
    box = image_box(image.width, image.height, spec)
    with_alpha = image.mode in _ALPHA_MODES
    shows_canvas = with_alpha or _inner_size(image.width, image.height, spec) != image.size
    has_border = spec.border_width > 0 or spec.border_height > 0
    if not shows_canvas and not has_border:
        return image
    fill = _faded(spec.color, spec.opacity)
    border = _faded(spec.border_color or spec.color, spec.border_opacity)
    mode = _result_mode(image.mode, ([fill] if shows_canvas else []) + ([border] if has_border else []))
    work_mode = "RGBA" if with_alpha else mode
    canvas = Image.new(work_mode, size, _in_mode(border, work_mode))
    canvas.paste(_in_mode(fill, work_mode), (spec.border_width, spec.border_height, *_inner_end(size, spec)))
    if with_alpha:
        canvas.alpha_composite(image.convert("RGBA"), dest=box[:2])
        return canvas if mode == "RGBA" else canvas.convert(mode)
    canvas.paste(image if image.mode == mode else image.convert(mode), box[:2])
    return canvas


def _inner_size(width: int, height: int, spec: CanvasSpec) -> Size:
    """The canvas inside the border: requested sides (never below the image's), then the ratio."""
    inner_w = max(spec.width.resolve(width), width) if spec.width is not None else width
    inner_h = max(spec.height.resolve(height), height) if spec.height is not None else height
    if spec.aspect_ratio is None:
        return inner_w, inner_h
    ratio_w, ratio_h = spec.aspect_ratio
    if inner_w * ratio_h < inner_h * ratio_w:  # too narrow: widen
        return round_half_up(Fraction(inner_h * ratio_w, ratio_h)), inner_h
    return inner_w, round_half_up(Fraction(inner_w * ratio_h, ratio_w))  # too flat (or exact): heighten


def _inner_end(size: Size, spec: CanvasSpec) -> Size:
    return size[0] - spec.border_width, size[1] - spec.border_height


def _column(position: Gravity) -> int:
    return 0 if position.endswith("west") else 2 if position.endswith("east") else 1


def _row(position: Gravity) -> int:
    return 0 if position.startswith("north") else 2 if position.startswith("south") else 1


def _offset(spare: int, anchor: int) -> int:
    """The offset on an axis with ``spare`` free pixels: 0 at the start, all at the end, half centred."""
    return spare * anchor // 2


def _faded(colour: RGBA, opacity: int) -> RGBA:
    red, green, blue, alpha = colour
    return red, green, blue, (alpha * opacity + 50) // 100


def _result_mode(image_mode: str, colours: list[RGBA]) -> str:
    grey = image_mode in ("L", "LA") and all(red == green == blue for red, green, blue, _ in colours)
    alpha = any(colour[3] < 255 for colour in colours)
    return ("L" if grey else "RGB") + ("A" if alpha else "")


def _in_mode(colour: RGBA, mode: str) -> int | tuple[int, ...]:
    """``colour`` as ``Image.new``/``paste`` take it in ``mode`` (grey modes take the red channel)."""
    if mode == "L":
        return colour[0]
    if mode == "LA":
        return colour[0], colour[3]
    if mode == "RGB":
        return colour[:3]
    return colour
