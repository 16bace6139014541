"""Text overlay (``text.*``): a block of text anchored by gravity, with outline and background.

Units: the spec's pixel values (``font_size``, ``x``/``y`` in px, ``outline_width``,
``outline_blur``) are in the *source*'s pixel grid, multiplied by ``scale`` (output width / source
width) so the overlay keeps its relative size at any output size. Percentages refer to the image.

Font size: ``font_size * scale``; else the size that makes the widest line ``size`` % of the image
width; else 5 % of the width. Clamped to :data:`MIN_FONT_PX`..the shorter side, then shrunk (not
below the minimum) until one line fits the height and, for ``size``, the widest line fits the wrap
width; then, if the wrapped block is taller than the image, to the largest size at which every
line fits (re-wrapped at each size tried, by binary search: about 15 wraps at most). The
outline, and the reach of its blur (3 × the radius), are each at most :data:`MAX_OUTLINE_FRACTION`
of the shorter side, so what is painted is never much larger than the image.

Block: wrapped at spaces (an over-wide word is cut) to the image width less
:data:`WRAP_MARGIN_PERCENT` on each side, newlines kept. Lines are dropped only when even
:data:`MIN_FONT_PX` cannot fit them (a degenerate, tiny image): those below the image go, and
nothing past the last line that fits is ever measured. Lines are aligned by ``align`` and padded
by the outline width and, with a background, :data:`BACKGROUND_PADDING` of the font size.

Placement: ``gravity`` puts the box at one of nine anchors, flush with the edges; ``x``/``y`` push
it inward (on a centred axis: right/down). The box is then moved, never cut, onto the image (only
a box larger than the image overflows, centred). The geometry (:func:`layout_text` and its parts)
measures text through a :class:`~transforms.typeface.Typesetter`, so it is tested without pixels.

Painting: besides the new image, only :meth:`TextLayout.paint_box` (the block's box plus the
blur's reach) cut to the image is allocated: background, outline and text are composited in turn
onto that patch (a masked paste on an opaque image; one reused RGBA layer on one with alpha).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter

from .assets import FontBook
from .geometry import Box, Size, round_half_up
from .options import RGBA, Gravity, Length, TextAlign, TextSpec
from .typeface import FreeTypeSetter, Typeset, Typesetter, wrap_text
from .typeface import choose_face as choose_face  # re-exported: it used to live here

MIN_FONT_PX = 8
DEFAULT_SIZE_PERCENT = 5.0
WRAP_MARGIN_PERCENT = 2.0
BACKGROUND_PADDING = 0.25
"""The background box's padding around the text, as a fraction of the font size."""
MAX_OUTLINE_FRACTION = 0.25
"""The widest outline, and the farthest its blur reaches, as a fraction of the image's shorter side."""

_REFERENCE_PX = 100  # the size the widest line is measured at to derive a font size from ``size``
_FIT_ROUNDS = 4
_BLUR_REACH = 3  # Pillow's Gaussian (3 box passes) reaches at most 3 x ceil(radius) px
_MODES = ("L", "LA", "RGB", "RGBA")
_OPAQUE_MODES = ("L", "RGB")


@dataclass(frozen=True, slots=True)
class TextLayout:
    """Where everything goes: the font size, the lines, and the block's box on the image."""

    font_size: int
    lines: tuple[str, ...]
    widths: tuple[int, ...]
    line_height: int
    stroke: int
    padding: int
    align: TextAlign
    box: Box
    blur: float = 0.0
    """The outline's blur radius in pixels (0 without an outline)."""

    def line_origins(self) -> tuple[tuple[int, int], ...]:
        """The top-left corner of each line's extent, relative to :attr:`box`."""
        content = max(self.widths, default=0)
        shift = {TextAlign.LEFT: 0, TextAlign.CENTER: 1, TextAlign.RIGHT: 2}[self.align]
        return tuple(
            (self.padding + (content - width) * shift // 2, self.padding + index * self.line_height)
            for index, width in enumerate(self.widths)
        )

    @property
    def reach(self) -> int:
        """How far past :attr:`box` the blurred outline can spread, in pixels."""
        return _BLUR_REACH * math.ceil(self.blur)

    def paint_box(self) -> Box:
        """:attr:`box` grown by :attr:`reach` on every side: everything drawing the layout touches."""
        left, top, right, bottom = self.box
        return left - self.reach, top - self.reach, right + self.reach, bottom + self.reach


def scaled_px(value: int, scale: float) -> int:
    """A source-grid pixel length at the output's scale (a length above 0 stays at least 1)."""
    return 0 if value == 0 else max(1, round_half_up(min(min(value, 1 << 20) * scale, 1 << 30)))


def font_size_px(spec: TextSpec, image_size: Size, scale: float, widest_at_reference: float) -> int:
    """The font size before fitting (see the module docstring): ``MIN_FONT_PX``..the shorter side.

    :param widest_at_reference: the width of the widest explicit line at ``_REFERENCE_PX``
        (only read when the size comes from ``spec.size``).
    """
    width, height = image_size
    if spec.font_size is not None:
        wanted = float(scaled_px(spec.font_size, scale))
    elif spec.size is not None and widest_at_reference > 0:
        wanted = _REFERENCE_PX * (spec.size * width / 100) / widest_at_reference
    else:
        wanted = DEFAULT_SIZE_PERCENT * width / 100
    return max(MIN_FONT_PX, round_half_up(min(wanted, width, height)))


def place_box(block: Size, image_size: Size, gravity: Gravity, x: Length | None, y: Length | None, scale: float) -> Box:
    """The box of a ``block``-sized overlay on the image: anchored by ``gravity``, pushed inward by
    ``x``/``y`` (source-grid pixels times ``scale``, or % of the image's width/height), then moved
    onto the image. A block larger than the image on an axis is centred on that axis."""
    name = gravity.value
    anchors = (("east" in name) - ("west" in name), ("south" in name) - ("north" in name))  # -1, 0 or 1
    corner = [
        _along(anchor, _offset(length, full, scale), size, full)
        for anchor, length, size, full in zip(anchors, (x, y), block, image_size, strict=True)
    ]
    return corner[0], corner[1], corner[0] + block[0], corner[1] + block[1]


def _offset(length: Length | None, reference: int, scale: float) -> int:
    if length is None:
        return 0
    if length.percent:  # past 100 % the box is pinned to the far edge anyway: cap before multiplying
        return Length(min(length.value, 1000.0), percent=True).resolve(reference)
    return scaled_px(int(length.value), scale)


def _along(anchor: int, offset: int, size: int, full: int) -> int:
    if size >= full:
        return (full - size) // 2
    start = {-1: offset, 0: (full - size) // 2 + offset, 1: full - size - offset}[anchor]
    return min(max(start, 0), full - size)


def layout_text(spec: TextSpec, image_size: Size, scale: float, typeset: Typeset) -> TextLayout:
    """Choose the font size, wrap the text and place the block (see the module docstring)."""
    width, height = image_size
    paragraphs = spec.text.strip().splitlines()
    widest_at_reference = 0.0
    if spec.font_size is None and spec.size is not None:
        widest_at_reference = max(_width(typeset(_REFERENCE_PX), line) for line in paragraphs)
    size = font_size_px(spec, image_size, scale, widest_at_reference)
    bound = max(1, int(min(image_size) * MAX_OUTLINE_FRACTION))
    stroke = min(scaled_px(spec.outline_width, scale), bound)
    blur = min(min(spec.outline_blur, 1 << 20) * scale, bound / _BLUR_REACH) if stroke else 0.0
    margin = round_half_up(width * WRAP_MARGIN_PERCENT / 100)

    def at(size: int) -> _Fit:
        padding = stroke + (round_half_up(size * BACKGROUND_PADDING) if spec.background_color else 0)
        return _Fit(typeset(size), padding, (max(1, width - 2 * (margin + padding)), max(1, height - 2 * padding)))

    for _ in range(_FIT_ROUNDS):
        fit = at(size)
        ratio = fit.room[1] / fit.setter.line_height
        if spec.font_size is None and spec.size is not None:
            ratio = min(ratio, fit.room[0] / max(1, max(_width(fit.setter, line) for line in paragraphs)))
        if ratio >= 1 or size <= MIN_FONT_PX:
            break
        size = max(MIN_FONT_PX, math.floor(size * ratio))
    size, lines = _fit_lines(spec.text, size, at)
    fit = at(size)
    widths = tuple(_width(fit.setter, line) for line in lines)
    block = (max(widths) + 2 * fit.padding, len(lines) * fit.setter.line_height + 2 * fit.padding)
    box = place_box(block, image_size, spec.gravity, spec.x, spec.y, scale)
    return TextLayout(size, lines, widths, fit.setter.line_height, stroke, fit.padding, spec.align, box, blur)


@dataclass(frozen=True, slots=True)
class _Fit:
    setter: Typesetter
    padding: int
    room: Size  # the width lines wrap to and the height they must fit in

    def wrap(self, text: str) -> tuple[tuple[str, ...], bool]:
        """``text`` wrapped to the room (as many lines as fit, at least one), and whether all of it fits."""
        most = self.room[1] // self.setter.line_height
        lines = wrap_text(text, lambda line: _width(self.setter, line), self.room[0], most + 1)
        return lines[: max(1, most)], len(lines) <= most


def _fit_lines(text: str, size: int, at: Callable[[int], _Fit]) -> tuple[int, tuple[str, ...]]:
    """The largest size up to ``size`` at which every wrapped line fits the height, and its lines;
    when not even :data:`MIN_FONT_PX` fits, that size and the lines that fit (a binary search over
    the sizes, each wrap stopping one line past the room: bounded work whatever the text)."""
    lines, fits = at(size).wrap(text)
    if fits or size <= MIN_FONT_PX:
        return size, lines
    best, (lines, fits) = MIN_FONT_PX, at(MIN_FONT_PX).wrap(text)
    if not fits:
        return best, lines
    low, high = MIN_FONT_PX + 1, size - 1
    while low <= high:
        middle = (low + high) // 2
        wrapped, fits = at(middle).wrap(text)
        if fits:
            best, lines, low = middle, wrapped, middle + 1
        else:
            high = middle - 1
    return best, lines


def _width(setter: Typesetter, line: str) -> int:
    left, right = setter.extent(line)
    return right - left


def draw_text(image: Image.Image, spec: TextSpec, fonts: FontBook, scale: float = 1.0) -> Image.Image:
    """``image`` with ``spec``'s text drawn on it (see the module docstring for the layout).

    The background box, then the text's outline (``outline_width``, blurred by a Gaussian of radius
    ``outline_blur * scale``), then the text are alpha-composited onto the image, with ``opacity``
    percentages multiplying their colours' alpha. The outline lies under the whole glyph, so a
    translucent fill shows the outline colour through it. Only the patch of the image under
    :meth:`TextLayout.paint_box` is copied to paint on.

    :param image: in mode ``L``, ``LA``, ``RGB`` or ``RGBA``; never modified.
    :param spec: what to write and how.
    :param fonts: the allowlisted faces (see :func:`~transforms.typeface.choose_face`).
    :param scale: output width / source width: the factor for the spec's pixel values.
    :returns: a new image of the same size and mode.
    :raises ValueError: ``scale`` is not a finite number above 0, the mode is not supported, or
        the family is not in ``fonts``.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError("scale must be a finite number above 0")
    if image.mode not in _MODES:
        raise ValueError(f"text cannot be drawn on a {image.mode} image")
    face = choose_face(fonts, spec)
    setters: dict[int, FreeTypeSetter] = {}

    def typeset(size: int) -> FreeTypeSetter:
        if size not in setters:
            setters[size] = FreeTypeSetter(face.data, size)
        return setters[size]

    layout = layout_text(spec, image.size, scale, typeset)
    visible = _overlap(layout.paint_box(), (0, 0, *image.size))
    if layout.box[0] == layout.box[2] or layout.box[1] == layout.box[3] or not _has_area(visible):
        return image.copy()  # nothing visible to draw (zero-width characters only)
    return _paint_layout(image, visible, layout, typeset(layout.font_size), spec)


def _overlap(box: Box, other: Box) -> Box:
    return max(box[0], other[0]), max(box[1], other[1]), min(box[2], other[2]), min(box[3], other[3])


def _has_area(box: Box) -> bool:
    return box[0] < box[2] and box[1] < box[3]


def _paint_layout(
    image: Image.Image, visible: Box, layout: TextLayout, setter: FreeTypeSetter, spec: TextSpec
) -> Image.Image:
    """A copy of ``image`` with ``layout`` painted on its ``visible`` part (the paint box, cut to it)."""
    # The masks cover the patch and, so that the blur reads the right neighbours, the blur's reach
    # around it; never past the paint box (there is nothing there).
    reach = layout.reach
    canvas = _overlap(
        (visible[0] - reach, visible[1] - reach, visible[2] + reach, visible[3] + reach), layout.paint_box()
    )
    mask = Image.new("L", (canvas[2] - canvas[0], canvas[3] - canvas[1]))
    at = (canvas[0] - visible[0], canvas[1] - visible[1])  # the masks' corner on the patch (<= 0)
    shift = (layout.box[0] - canvas[0], layout.box[1] - canvas[1])  # the block's corner on the masks
    patch = image.crop(visible)
    if patch.mode not in ("RGB", "RGBA"):
        patch = patch.convert("RGB" if image.mode in _OPAQUE_MODES else "RGBA")
    layer = None if patch.mode == "RGB" else Image.new("RGBA", patch.size)
    if spec.background_color:
        width, height = layout.box[2] - layout.box[0], layout.box[3] - layout.box[1]
        ImageDraw.Draw(mask).rectangle((*shift, shift[0] + width - 1, shift[1] + height - 1), fill=255)
        _paint(patch, layer, mask, at, spec.background_color, spec.background_opacity)
    lines = [
        (line, (shift[0] + x, shift[1] + y)) for line, (x, y) in zip(layout.lines, layout.line_origins(), strict=True)
    ]
    if layout.stroke:
        setter.draw(mask, lines, layout.stroke)
        halo = mask.filter(ImageFilter.GaussianBlur(layout.blur)) if layout.blur else mask
        _paint(patch, layer, halo, at, spec.outline_color, spec.outline_opacity)
    setter.draw(mask, lines, 0)
    _paint(patch, layer, mask, at, spec.color, spec.opacity)
    result = image.copy()
    result.paste(patch if patch.mode == image.mode else patch.convert(image.mode), visible[:2])
    return result


def _paint(
    patch: Image.Image, layer: Image.Image | None, coverage: Image.Image, at: Size, colour: RGBA, opacity: int
) -> None:
    """Composite ``colour`` at ``opacity`` % through ``coverage`` (its corner at ``at`` on ``patch``)
    onto ``patch``, in place (both are ours): a masked paste on an opaque patch is exactly
    compositing over it; on a patch with alpha, ``layer`` (patch-sized, reused) carries the colour."""
    red, green, blue = colour[:3]
    alpha = colour[3] * opacity // 100
    if alpha == 0:
        return
    if alpha < 255:
        coverage = coverage.point([value * alpha // 255 for value in range(256)])
    if layer is None:
        patch.paste((red, green, blue), at, coverage)
        return
    if coverage.size != patch.size:
        coverage = coverage.crop((-at[0], -at[1], patch.width - at[0], patch.height - at[1]))
    layer.paste((red, green, blue, 255), (0, 0, *layer.size))
    layer.putalpha(coverage)
    patch.alpha_composite(layer)
