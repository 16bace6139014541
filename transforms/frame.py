"""The frame step: Sirv's ``frame.*``, a border around the image that adds to the output size.

From the outside in: the frame (``width`` pixels of ``color``, of the image's edge strips mirrored,
or of its outermost pixels stretched), the rim (``rim_width`` pixels of ``rim_color``), then the
image itself, unchanged. A mirror or edge frame is the image extended outwards by
``width + rim_width`` pixels with the rim laid over the inner part, so the frame continues the
picture behind the rim.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from .options import RGBA, FrameSpec, FrameStyle

_MODES = {(False, False): "L", (False, True): "LA", (True, False): "RGB", (True, True): "RGBA"}
"""(needs colour, needs alpha) -> the mode of the framed image."""

Box = tuple[int, int, int, int]
FillEnds = Callable[[Image.Image, Box, int, int], None]
"""Fills the pixels before and after a box of a canvas along an axis (0: x, 1: y)."""

_FLIPS = (Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM)


def framed_size(width: int, height: int, spec: FrameSpec) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` image once ``spec`` has framed it."""
    if spec.is_identity:
        return width, height
    grow = 2 * (spec.width + spec.rim_width)
    return width + grow, height + grow


def apply_frame(image: Image.Image, spec: FrameSpec) -> Image.Image:
    """``image`` inside the rim and frame that ``spec`` describes, placed pixel for pixel in the middle.

    The result keeps the mode family of ``image``: an ``L``/``LA`` image becomes ``RGB``/``RGBA``
    only when a colour drawn is not grey, and an image without alpha gains one only when a colour
    drawn is translucent (``frame.color`` counts for the solid style only, ``rim_color`` only when
    there is a rim).

    :param image: in mode ``L``, ``LA``, ``RGB`` or ``RGBA``.
    :returns: a new image of :func:`framed_size`, or ``image`` itself when ``spec`` adds nothing.
    :raises ValueError: ``image`` is in another mode.
    """
    if spec.is_identity:
        return image
    if image.mode not in _MODES.values():
        raise ValueError(f"a frame needs an L, LA, RGB or RGBA image, not {image.mode}")
    colours = [spec.color] if spec.style is FrameStyle.SOLID and spec.width > 0 else []
    if spec.rim_width > 0:
        colours.append(spec.rim_color)
    mode = _MODES[
        image.mode in ("RGB", "RGBA") or any(not _is_grey(colour) for colour in colours),
        image.mode in ("LA", "RGBA") or any(colour[3] < 255 for colour in colours),
    ]
    picture = image if image.mode == mode else image.convert(mode)
    pad = spec.width + spec.rim_width
    size = framed_size(image.width, image.height, spec)
    if spec.style is FrameStyle.SOLID:
        framed = Image.new(mode, size, _ink(spec.color, mode))
        framed.paste(picture, (pad, pad))
    else:
        framed = _extend(picture, pad, _mirror_ends if spec.style is FrameStyle.MIRROR else _stretch_ends)
    if spec.rim_width > 0:
        rim = _ink(spec.rim_color, mode)
        outer, inner = spec.width, pad  # where the rim begins and ends, from the top left
        right, bottom = size[0] - outer, size[1] - outer
        inner_right, inner_bottom = size[0] - inner, size[1] - inner
        for box in (
            (outer, outer, right, inner),
            (outer, inner_bottom, right, bottom),
            (outer, inner, inner, inner_bottom),
            (inner_right, inner, right, inner_bottom),
        ):
            framed.paste(rim, box)
    return framed


def _is_grey(colour: RGBA) -> bool:
    return colour[0] == colour[1] == colour[2]


def _ink(colour: RGBA, mode: str) -> int | tuple[int, ...]:
    if mode == "L":
        return colour[0]
    if mode == "LA":
        return colour[0], colour[3]
    return colour[:3] if mode == "RGB" else colour


def _extend(image: Image.Image, pad: int, fill_ends: FillEnds) -> Image.Image:
    """``image`` extended by ``pad`` pixels on every side, in one canvas: first left and right of
    the image, then above and below the widened band, which fills the corners too."""
    width, height = image.size
    canvas = Image.new(image.mode, (width + 2 * pad, height + 2 * pad))
    canvas.paste(image, (pad, pad))
    fill_ends(canvas, (pad, pad, pad + width, pad + height), pad, 0)
    fill_ends(canvas, (0, pad, width + 2 * pad, pad + height), pad, 1)
    return canvas


def _along(box: Box, axis: int, start: int, end: int) -> Box:
    """``box`` with its extent along ``axis`` (0: x, 1: y) replaced by ``start``..``end``."""
    return (start, box[1], end, box[3]) if axis == 0 else (box[0], start, box[2], end)


def _stretch_ends(canvas: Image.Image, box: Box, pad: int, axis: int) -> None:
    """Fill ``pad`` pixels before and after ``box`` along ``axis`` with its first and last line, repeated."""
    start, end = box[axis], box[axis + 2]
    for line, target in ((start, start - pad), (end - 1, end)):
        band = _along(box, axis, target, target + pad)
        edge = canvas.crop(_along(box, axis, line, line + 1))
        canvas.paste(edge.resize((band[2] - band[0], band[3] - band[1]), Image.Resampling.NEAREST), band)


def _mirror_ends(canvas: Image.Image, box: Box, pad: int, axis: int) -> None:
    """Fill ``pad`` pixels before and after ``box`` along ``axis`` with its contents mirrored at its edges."""
    start, end = box[axis], box[axis + 2]
    if pad > end - start:
        canvas.paste(_reflected(canvas.crop(box), pad, axis), _along(box, axis, start - pad, end + pad))
        return
    flip = _FLIPS[axis]
    canvas.paste(
        canvas.crop(_along(box, axis, start, start + pad)).transpose(flip), _along(box, axis, start - pad, start)
    )
    canvas.paste(canvas.crop(_along(box, axis, end - pad, end)).transpose(flip), _along(box, axis, end, end + pad))


def _reflected(image: Image.Image, pad: int, axis: int) -> Image.Image:
    """``image`` extended by ``pad`` pixels, more than its length, at both ends of ``axis``.

    The image and its mirror image alternate outwards for as long as needed: one period of twice
    the image's length, doubled until long enough, then cut.
    """
    length = image.size[axis]
    tiles = _grown(image, axis, 2 * length)
    tiles.paste(image, _at(axis, 0))
    tiles.paste(image.transpose(_FLIPS[axis]), _at(axis, length))
    start = -pad % (2 * length)  # where, in the repeating pattern, the extended image begins
    while tiles.size[axis] < start + length + 2 * pad:
        doubled = _grown(tiles, axis, 2 * tiles.size[axis])
        doubled.paste(tiles, _at(axis, 0))
        doubled.paste(tiles, _at(axis, tiles.size[axis]))
        tiles = doubled
    return tiles.crop(_along((0, 0, *image.size), axis, start, start + length + 2 * pad))


def _at(axis: int, offset: int) -> tuple[int, int]:
    return (offset, 0) if axis == 0 else (0, offset)


def _grown(image: Image.Image, axis: int, length: int) -> Image.Image:
    """A blank image as large as ``image``, but ``length`` long along ``axis``."""
    return Image.new(image.mode, (length, image.height) if axis == 0 else (image.width, length))
