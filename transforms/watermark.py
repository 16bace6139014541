"""The watermark step: an image overlay, placed by gravity or tiled, in front of or behind the image.

Geometry is pure (sizes in whole pixels, rounding half up, every side at least 1 px); ``scale`` is
the output's width over the source's width (the pipeline's scale step), and ``image_size`` is the
size of the image the mark goes on.

Size (:func:`mark_size`), before rotation
    ``width``/``height`` in pixels are in the *source's* pixel grid and are multiplied by ``scale``,
    so the same options at ``w=300`` and ``w=1200`` give the same relative size; in percent they
    are of the image's width/height. ``scale_mode`` then acts as for images
    (:func:`transforms.geometry.scaled_size`) on the mark's own size: ``fit`` inside the box,
    ``fill`` covers it and cuts the overflow (centred), ``ignore`` is exactly the box (a side not
    given is the mark's own × ``scale``), ``noup`` is ``fit`` that never enlarges the mark's pixels.
    Neither given: the mark's own size × ``scale``, shrunk (aspect ratio kept) when its footprint
    would not fit inside the image.
Footprint
    ``rotate`` turns the mark clockwise about its centre, as :func:`transforms.orient.rotate`; the
    footprint is the turned mark's bounding box (:func:`transforms.geometry.rotated_size`), its
    corners transparent.
Position (:func:`mark_position`)
    The footprint is anchored at ``gravity``. ``x``/``y`` (pixels × ``scale``, or percent of the
    image's width/height) push it inward from the edge it is anchored to; on a centred axis they
    move it right/down. It is then clamped fully onto the image, unless it is larger than the image
    on that axis: then it is clamped to cover that axis (past both edges, never leaving a gap).
Tiling (:func:`tile_origins`)
    Footprints repeat with no gap on a grid through the position above: the default ``center``
    gravity gives a centred grid, ``northwest`` a grid starting at the top-left corner.

Only the part of the mark that lands on the image is ever resampled (a mark asked 100 000 px wide
costs no more than one as wide as the image). Tiles are laid one band of rows at a time (about an
eighth of the image): a band is built by doubling (a few dozen pastes at most, whatever the number
of tiles) and composited, so no layer as large as the image is ever made.
"""

from __future__ import annotations

import math
from fractions import Fraction

from PIL import Image, ImageChops

from .geometry import Box, Region, Size, fill_region, quarter_turns, rotated_size, round_half_up, scaled_size
from .options import Gravity, Layer, Length, ResizeSpec, ScaleMode, WatermarkSpec
from .orient import rotate
from .resize import REDUCING_GAP

Point = tuple[int, int]

_MODES = ("L", "LA", "RGB", "RGBA")
_OPAQUE_MODES = ("L", "RGB")
_START, _MIDDLE, _END = -1, 0, 1
_COLUMN = {g: _START if g.endswith("west") else _END if g.endswith("east") else _MIDDLE for g in Gravity}
_ROW = {g: _START if g.startswith("north") else _END if g.startswith("south") else _MIDDLE for g in Gravity}
_QUARTER_COS_SIN = {0: (1, 0), 1: (0, 1), 2: (-1, 0), 3: (0, -1)}  # clockwise quarter turns
_FILTER_MARGIN = 3  # source pixels around the visible part that bicubic rotation still reads
_BANDS = 8  # a tiled layer is made an eighth of the image (or one row of tiles) at a time


def mark_size(image_size: Size, mark_size: Size, spec: WatermarkSpec, scale: float = 1.0) -> Size:
    """The mark's size on the image, before rotation (see the module docstring).

    :param image_size: the image the mark goes on.
    :param mark_size: the mark's own size in pixels.
    :param scale: output width / source width (> 0).
    """
    return _scaling(image_size, mark_size, spec, scale)[0]


def mark_position(image_size: Size, mark_size: Size, spec: WatermarkSpec, scale: float = 1.0) -> Point:
    """The top-left corner of the mark's footprint on the image (see the module docstring).

    :param mark_size: the footprint: the mark scaled (:func:`mark_size`) and rotated.
    :returns: ``(x, y)``; negative only on an axis where the footprint is larger than the image.
    """
    _check_scale(scale)
    (width, height), (foot_w, foot_h) = image_size, mark_size
    x = _place(width, foot_w, _COLUMN[spec.gravity], _pixels(spec.x, width, scale) or 0)
    y = _place(height, foot_h, _ROW[spec.gravity], _pixels(spec.y, height, scale) or 0)
    return x, y


def watermark_box(image_size: Size, mark_size: Size, spec: WatermarkSpec, scale: float = 1.0) -> Box:
    """The footprint of a single (untiled) mark on the image, as ``(left, top, right, bottom)``.

    :param mark_size: the mark's own size in pixels. The box extends past the image only on an
        axis where the footprint is larger than the image.
    """
    foot_w, foot_h = rotated_size(*_scaling(image_size, mark_size, spec, scale)[0], spec.rotate)
    x, y = mark_position(image_size, (foot_w, foot_h), spec, scale)
    return x, y, x + foot_w, y + foot_h


def tile_origins(image_size: Size, footprint: Size, position: Point) -> tuple[range, range]:
    """The left edges and top edges of the tiles that touch the image.

    Tiles are ``footprint`` apart (no gaps) on a grid through ``position`` (from
    :func:`mark_position`); the first starts at or before the image's edge, the last before its end.
    Their number is ``len(xs) * len(ys)``: fewer than ``width / w + 2`` tiles across, ``height / h + 2`` down.
    """
    (width, height), (foot_w, foot_h) = image_size, footprint
    return _grid(width, foot_w, position[0]), _grid(height, foot_h, position[1])


def apply_watermark(image: Image.Image, mark: Image.Image, spec: WatermarkSpec, scale: float = 1.0) -> Image.Image:
    """``image`` with ``mark`` laid over it (``layer=front``) or under it (``layer=back``).

    The mark is resized (Lanczos), rotated (bicubic, canvas expanded, transparent corners), its
    alpha multiplied by ``opacity`` / 100, and placed as the module docstring says, once or tiled
    over the whole image. ``back`` composites the image over the mark: the mark shows only through
    the image's transparent parts, so on an opaque image (``L``, ``RGB``) it is invisible. A
    colour mark on an ``L``/``LA`` image is laid in grey.

    :param image: in mode ``L``, ``LA``, ``RGB`` or ``RGBA``; never modified.
    :param mark: any mode (``RGBA`` from :func:`transforms.mark.load_mark`); never modified.
    :param scale: output width / source width: pixel sizes and offsets are multiplied by it.
    :returns: a new image, in ``image``'s mode and size.
    :raises ValueError: ``image`` is in another mode, or ``scale`` is not above 0.
    """
    if image.mode not in _MODES:
        raise ValueError(f"a watermark goes on an L, LA, RGB or RGBA image, not {image.mode}")
    _check_scale(scale)
    if spec.opacity == 0 or (spec.layer is Layer.BACK and image.mode in _OPAQUE_MODES):
        return image.copy()
    rgba = mark if mark.mode == "RGBA" else mark.convert("RGBA")
    size, region = _scaling(image.size, rgba.size, spec, scale)
    foot_w, foot_h = footprint = rotated_size(*size, spec.rotate)
    x, y = mark_position(image.size, footprint, spec, scale)
    window = (max(0, -x), max(0, -y), min(foot_w, image.width - x), min(foot_h, image.height - y))
    part = _fade(_render(rgba, region, size, spec.rotate, window), spec.opacity)
    back = spec.layer is Layer.BACK
    if not spec.tile:
        return _composite(image, part, (x + window[0], y + window[1]), back=back)
    xs, ys = tile_origins(image.size, footprint, (x, y))
    rolled = ImageChops.offset(part, (xs.start + window[0]) % part.width, (ys.start + window[1]) % part.height)
    return _tile(image, rolled, back=back)


def _check_scale(scale: float) -> None:
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError("scale must be a finite number above 0")


def _pixels(length: Length | None, reference: int, scale: float) -> int | None:
    """``length`` in pixels of the image: a percentage of ``reference``, or source pixels × scale."""
    if length is None:
        return None
    if length.percent:
        return length.resolve(reference)
    return round_half_up(int(length.value) * Fraction(scale))


def _scaling(image_size: Size, own: Size, spec: WatermarkSpec, scale: float) -> tuple[Size, Region]:
    """The mark's size before rotation, and the part of the mark it shows (all of it but for ``fill``)."""
    _check_scale(scale)
    whole: Region = (0.0, 0.0, float(own[0]), float(own[1]))
    box_w, box_h = _pixels(spec.width, image_size[0], scale), _pixels(spec.height, image_size[1], scale)
    if box_w is None and box_h is None:
        factor = min(Fraction(scale), _fit_factor(image_size, own, spec.rotate))
        return (max(1, round_half_up(own[0] * factor)), max(1, round_half_up(own[1] * factor))), whole
    if spec.scale_mode is ScaleMode.IGNORE:  # a side not given keeps the mark's own, scaled
        box_w = box_w if box_w is not None else round_half_up(own[0] * Fraction(scale))
        box_h = box_h if box_h is not None else round_half_up(own[1] * Fraction(scale))
    resize = ResizeSpec(
        width=None if box_w is None else Length(max(1, box_w)),
        height=None if box_h is None else Length(max(1, box_h)),
        mode=spec.scale_mode,
    )
    return scaled_size(*own, resize), fill_region(*own, resize) or whole


def _fit_factor(image_size: Size, own: Size, degrees: float) -> Fraction:
    """The largest factor at which ``own`` turned by ``degrees`` still fits inside the image."""
    turns = quarter_turns(degrees)
    if turns is not None:
        foot_w, foot_h = (own[1], own[0]) if turns % 2 else own
        return min(Fraction(image_size[0], foot_w), Fraction(image_size[1], foot_h))
    cos, sin = abs(math.cos(math.radians(degrees))), abs(math.sin(math.radians(degrees)))
    foot = (own[0] * cos + own[1] * sin, own[0] * sin + own[1] * cos)
    return Fraction(min(image_size[0] / foot[0], image_size[1] / foot[1]))


def _place(full: int, size: int, anchor: int, offset: int) -> int:
    if anchor == _START:
        position = offset
    elif anchor == _END:
        position = full - size - offset
    else:
        position = (full - size) // 2 + offset
    low, high = sorted((0, full - size))  # on the image; or covering it, when larger
    return min(max(position, low), high)


def _grid(full: int, size: int, position: int) -> range:
    start = position % size
    return range(start - size if start else 0, full, size)


def _cos_sin(degrees: float) -> tuple[float, float]:
    turns = quarter_turns(degrees)
    if turns is not None:
        return _QUARTER_COS_SIN[turns]  # exact: quarter turns map whole pixels onto whole pixels
    return math.cos(math.radians(degrees)), math.sin(math.radians(degrees))


def _render(mark: Image.Image, region: Region, size: Size, degrees: float, window: Box) -> Image.Image:
    """The part ``window`` (footprint coordinates) of ``region`` of ``mark`` scaled to ``size`` and
    turned ``degrees`` clockwise: only the pixels of that window are ever resampled."""
    (width, height), (foot_w, foot_h) = size, rotated_size(*size, degrees)
    left, top, right, bottom = window
    cos, sin = _cos_sin(degrees)
    dxs, dys = (left - foot_w / 2, right - foot_w / 2), (top - foot_h / 2, bottom - foot_h / 2)
    us = [cos * dx + sin * dy + width / 2 for dx in dxs for dy in dys]  # the window's corners on
    vs = [cos * dy - sin * dx + height / 2 for dx in dxs for dy in dys]  # the unturned mark
    margin = 0 if quarter_turns(degrees) is not None else _FILTER_MARGIN
    u0, v0 = max(0, math.floor(min(us)) - margin), max(0, math.floor(min(vs)) - margin)
    u1, v1 = min(width, math.ceil(max(us)) + margin), min(height, math.ceil(max(vs)) + margin)
    if u1 <= u0 or v1 <= v0:  # the window holds only a transparent corner of the footprint
        return Image.new("RGBA", (right - left, bottom - top))
    part = _resample(mark, region, size, (u0, v0, u1, v1))
    if margin == 0:
        return rotate(part, degrees)
    c = cos * dxs[0] + sin * dys[0] + width / 2 - u0  # Image.rotate's matrix, moved to the window
    f = cos * dys[0] - sin * dxs[0] + height / 2 - v0
    coefficients = (cos, sin, c, -sin, cos, f)
    return part.transform(
        (right - left, bottom - top), Image.Transform.AFFINE, coefficients, resample=Image.Resampling.BICUBIC
    )


def _resample(mark: Image.Image, region: Region, size: Size, box: Box) -> Image.Image:
    """The pixels ``box`` of ``region`` of ``mark`` scaled to ``size`` (Lanczos, one pass)."""
    left, top, right, bottom = region
    step_x, step_y = (right - left) / size[0], (bottom - top) / size[1]
    u0, v0, u1, v1 = box
    source = (left + u0 * step_x, top + v0 * step_y, left + u1 * step_x, top + v1 * step_y)
    if (u1 - u0, v1 - v0) == mark.size and source == (0, 0, *mark.size):
        return mark
    return mark.resize((u1 - u0, v1 - v0), Image.Resampling.LANCZOS, box=source, reducing_gap=REDUCING_GAP)


def _fade(layer: Image.Image, opacity: int) -> Image.Image:
    """``layer`` (RGBA) with its alpha multiplied by ``opacity`` / 100, as a new image."""
    if opacity == 100:
        return layer
    table = [round_half_up(Fraction(alpha * opacity, 100)) for alpha in range(256)]
    faded = layer.copy()
    faded.putalpha(layer.getchannel("A").point(table))
    return faded


def _tile(image: Image.Image, tile: Image.Image, *, back: bool) -> Image.Image:
    """A new image: ``tile`` (RGBA) repeated from the top-left corner over ``image`` (under it when
    ``back``), a band of rows at a time. A band is a whole number of tiles high when tiles are at
    most an eighth of the image high, so that one band, built once, serves every row."""
    width, height = image.size
    target = -(-height // _BANDS)
    rows = tile.height * -(-target // tile.height) if tile.height <= target else target
    band, phase = Image.new("RGBA", (width, rows)), -1
    result = image.copy()
    for top in range(0, height, rows):
        if top % tile.height != phase:
            phase = top % tile.height
            _fill(band, tile, phase)
        if image.mode in _OPAQUE_MODES:  # as in _composite
            result.paste(band, (0, top), band)  # cut at the bottom edge
            continue
        box = (0, top, width, min(top + rows, height))
        layer = band if box[3] - top == rows else band.crop((0, 0, width, box[3] - top))
        result.paste(_merged(image, layer, box, back=back), box[:2])
    return result


def _fill(band: Image.Image, tile: Image.Image, phase: int) -> None:
    """Fill ``band`` (ours) with ``tile`` repeated from its top-left corner, the band's first row
    being the tile's row ``phase``: one period is pasted, then doubled across and down."""
    (width, rows), (tile_w, tile_h) = band.size, tile.size
    band.paste(tile, (0, -phase))
    if phase and tile_h - phase < rows:
        band.paste(tile, (0, tile_h - phase))
    done, filled = tile_w, min(rows, tile_h)
    while done < width:
        band.paste(band.crop((0, 0, done, filled)), (done, 0))
        done *= 2
    while filled < rows:  # ``filled`` is a whole number of periods, so copying it keeps the pattern
        band.paste(band.crop((0, 0, width, filled)), (0, filled))
        filled *= 2


def _composite(image: Image.Image, layer: Image.Image, position: Point, *, back: bool) -> Image.Image:
    """A new image: ``layer`` (RGBA) over ``image`` at ``position``, or under it when ``back``."""
    box = (*position, position[0] + layer.width, position[1] + layer.height)
    if box == (0, 0, *image.size) and image.mode not in _OPAQUE_MODES:
        return _merged(image, layer, box, back=back)
    result = image.copy()
    if image.mode in _OPAQUE_MODES:  # never ``back`` (invisible); a masked paste is over-compositing
        result.paste(layer, position, layer)
    else:
        result.paste(_merged(image, layer, box, back=back), position)
    return result


def _merged(image: Image.Image, layer: Image.Image, box: Box, *, back: bool) -> Image.Image:
    """The part ``box`` of ``image`` (``LA`` or ``RGBA``) with ``layer`` over it (under it when ``back``)."""
    base = image.crop(box)
    base = base if base.mode == "RGBA" else base.convert("RGBA")
    merged = Image.alpha_composite(layer, base) if back else Image.alpha_composite(base, layer)
    return merged if image.mode == "RGBA" else merged.convert(image.mode)
