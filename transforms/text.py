"""Text overlay (``text.*``): a block of text anchored by gravity, with outline and background.

Units: the spec's pixel values (``font_size``, ``x``/``y`` in px, ``outline_width``,
``outline_blur``) are in the *source*'s pixel grid, multiplied by ``scale`` (output width / source
width) so the overlay keeps its relative size at any output size. Percentages refer to the image.

Font size: ``font_size * scale``; else the size that makes the widest line ``size`` % of the image
width; else 5 % of the width. Clamped to :data:`MIN_FONT_PX`..the shorter side, then shrunk (not
below the minimum) until one line fits the height and, for ``size``, the widest line fits the wrap
width. The outline is at most :data:`MAX_OUTLINE_FRACTION` of the shorter side, so the layer drawn
is never much larger than the image.

Block: wrapped at spaces (an over-wide word is cut) to the image width less
:data:`WRAP_MARGIN_PERCENT` on each side, newlines kept; lines that would fall below the image are
dropped (the work is bounded by the height). Lines are aligned by ``align`` and padded by the
outline width and, with a background, :data:`BACKGROUND_PADDING` of the font size.

Placement: ``gravity`` puts the box at one of nine anchors, flush with the edges; ``x``/``y`` push
it inward (on a centred axis: right/down). The box is then moved, never cut, onto the image (only
a box larger than the image overflows, centred). The geometry (:func:`layout_text` and its parts)
measures text through a :class:`Typesetter`, so it is tested without pixels.
"""

from __future__ import annotations

import io
import itertools
import math
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from PIL import Image, ImageDraw, ImageFilter, ImageFont, features

from .assets import FontBook, FontFace
from .geometry import Box, Size, round_half_up
from .options import RGBA, Gravity, Length, TextAlign, TextSpec

MIN_FONT_PX = 8
DEFAULT_SIZE_PERCENT = 5.0
WRAP_MARGIN_PERCENT = 2.0
BACKGROUND_PADDING = 0.25
"""The background box's padding around the text, as a fraction of the font size."""
MAX_OUTLINE_FRACTION = 0.25
"""The widest outline, as a fraction of the image's shorter side (bounds the layer's size)."""
LAYOUT_ENGINE = ImageFont.Layout.RAQM if features.check_feature("raqm") else ImageFont.Layout.BASIC
"""Raqm (bidi, shaping) when Pillow has it; the basic layout (no RTL, no shaping) otherwise."""

_REFERENCE_PX = 100  # the size the widest line is measured at to derive a font size from ``size``
_FIT_ROUNDS = 4
_MODES = ("L", "LA", "RGB", "RGBA")


class Typesetter(Protocol):
    """Text metrics at one font size, in pixels."""

    line_height: int

    def extent(self, line: str) -> tuple[int, int]:
        """``(left, right)`` of ``line``'s ink and advance, from its pen origin (left <= 0)."""
        ...


Typeset = Callable[[int], Typesetter]
"""A :class:`Typesetter` for a font size in pixels."""


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

    def line_origins(self) -> tuple[tuple[int, int], ...]:
        """The top-left corner of each line's extent, relative to :attr:`box`."""
        content = max(self.widths, default=0)
        shift = {TextAlign.LEFT: 0, TextAlign.CENTER: 1, TextAlign.RIGHT: 2}[self.align]
        return tuple(
            (self.padding + (content - width) * shift // 2, self.padding + index * self.line_height)
            for index, width in enumerate(self.widths)
        )


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


def wrap_text(text: str, measure: Callable[[str], int], max_width: int, max_lines: int) -> tuple[str, ...]:
    """``text`` in at most ``max_lines`` lines no wider than ``max_width`` (as ``measure`` says).

    Newlines are kept, runs of spaces collapse, a line breaks at the last space that fits, and a
    word wider than ``max_width`` is cut where it still fits (at least one character per line, so
    every line makes progress). Nothing past ``max_lines`` is measured.
    """
    return tuple(itertools.islice(_lines(text, measure, max_width), max(1, max_lines)))


def _lines(text: str, measure: Callable[[str], int], max_width: int) -> Iterator[str]:
    for paragraph in text.strip().splitlines():
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if measure(candidate) <= max_width:
                current = candidate
                continue
            if current:
                yield current
            while len(word) > 1 and measure(word) > max_width:
                cut = _longest_prefix(word, measure, max_width)
                yield word[:cut]
                word = word[cut:]
            current = word
        yield current


def _longest_prefix(word: str, measure: Callable[[str], int], max_width: int) -> int:
    """The longest prefix of ``word`` that fits (at least 1 character; not before a combining mark)."""
    low, high = 1, len(word) - 1
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if measure(word[:middle]) <= max_width else (low, middle - 1)
    cut = low
    while cut > 1 and unicodedata.combining(word[cut]):
        cut -= 1
    return cut


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
    stroke = min(scaled_px(spec.outline_width, scale), max(1, int(min(image_size) * MAX_OUTLINE_FRACTION)))
    margin = round_half_up(width * WRAP_MARGIN_PERCENT / 100)

    def at(size: int) -> tuple[Typesetter, int, Size]:
        padding = stroke + (round_half_up(size * BACKGROUND_PADDING) if spec.background_color else 0)
        return typeset(size), padding, (max(1, width - 2 * (margin + padding)), max(1, height - 2 * padding))

    for _ in range(_FIT_ROUNDS):
        setter, padding, room = at(size)
        ratio = room[1] / setter.line_height
        if spec.font_size is None and spec.size is not None:
            ratio = min(ratio, room[0] / max(1, max(_width(setter, line) for line in paragraphs)))
        if ratio >= 1 or size <= MIN_FONT_PX:
            break
        size = max(MIN_FONT_PX, math.floor(size * ratio))
    else:
        setter, padding, room = at(size)
    lines = wrap_text(spec.text, lambda line: _width(setter, line), room[0], room[1] // setter.line_height)
    widths = tuple(_width(setter, line) for line in lines)
    block = (max(widths) + 2 * padding, len(lines) * setter.line_height + 2 * padding)
    box = place_box(block, image_size, spec.gravity, spec.x, spec.y, scale)
    return TextLayout(size, lines, widths, setter.line_height, stroke, padding, spec.align, box)


def _width(setter: Typesetter, line: str) -> int:
    left, right = setter.extent(line)
    return right - left


class _FreeTypeSetter:
    """A :class:`Typesetter` over one face at one size, remembering the lines it measured."""

    def __init__(self, data: bytes, size: int) -> None:
        self.font = ImageFont.truetype(io.BytesIO(data), size, layout_engine=LAYOUT_ENGINE)
        ascent, descent = self.font.getmetrics()
        self.line_height = max(1, ascent + descent)
        self._extents: dict[str, tuple[int, int]] = {}

    def extent(self, line: str) -> tuple[int, int]:
        if line not in self._extents:
            left, _, right, _ = self.font.getbbox(line, anchor="la")
            self._extents[line] = (min(0, int(left)), max(math.ceil(self.font.getlength(line)), int(right)))
        return self._extents[line]


def choose_face(fonts: FontBook, spec: TextSpec) -> FontFace:
    """The face to draw ``spec`` with: the family's closest face (:meth:`FontBook.face`) when it
    has a glyph for every visible character; otherwise the first face that does, the family's own
    faces first, then the other families' (closest weight and style first, book order); otherwise
    the family's closest face anyway (missing glyphs draw as boxes).

    :raises ValueError: ``spec.family`` is not in the book (the origin checks its allowlist first).
    """
    try:
        wanted = fonts.face(spec.family, spec.weight, spec.style)
    except KeyError:
        raise ValueError(f"unknown font family {spec.family!r}") from None
    visible = {char for char in spec.text if unicodedata.category(char)[0] not in "ZC"}
    if all(_has_glyph(wanted.data, char) for char in visible):
        return wanted

    def rank(face: FontFace) -> tuple[bool, bool, bool]:
        return face.family != spec.family, face.weight is not spec.weight, face.style is not spec.style

    for face in sorted(fonts.faces, key=rank):
        if all(_has_glyph(face.data, char) for char in visible):
            return face
    return wanted


@lru_cache(maxsize=8192)
def _has_glyph(data: bytes, char: str) -> bool:
    """Whether the font maps ``char`` (its rendering differs from the missing-glyph box)."""
    return _probe(data, char) != _probe(data, "\U0010ffff")  # a noncharacter: never mapped


@lru_cache(maxsize=64)
def _probe(data: bytes, char: str) -> tuple[tuple[int, int], bytes]:
    font = ImageFont.truetype(io.BytesIO(data), 16, layout_engine=ImageFont.Layout.BASIC)
    mask = font.getmask(char)
    return mask.size, bytes(mask)


def draw_text(image: Image.Image, spec: TextSpec, fonts: FontBook, scale: float = 1.0) -> Image.Image:
    """``image`` with ``spec``'s text drawn on it (see the module docstring for the layout).

    The text, its outline (``outline_width``, blurred by a Gaussian of radius ``outline_blur *
    scale``) and its background box are painted on an RGBA layer, with ``opacity`` percentages
    multiplying their colours' alpha, and the layer is alpha-composited onto the image. The outline
    lies under the whole glyph, so a translucent fill shows the outline colour through it.

    :param image: in mode ``L``, ``LA``, ``RGB`` or ``RGBA``; never modified.
    :param spec: what to write and how.
    :param fonts: the allowlisted faces (see :func:`choose_face`).
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
    setters: dict[int, _FreeTypeSetter] = {}

    def typeset(size: int) -> _FreeTypeSetter:
        if size not in setters:
            setters[size] = _FreeTypeSetter(face.data, size)
        return setters[size]

    layout = layout_text(spec, image.size, scale, typeset)
    if layout.box[0] == layout.box[2] or layout.box[1] == layout.box[3]:
        return image.copy()  # nothing visible to draw (zero-width characters only)
    overlay = _render(layout, typeset(layout.font_size), spec, scale)
    return _composite(image, overlay, layout.box)


def _render(layout: TextLayout, setter: _FreeTypeSetter, spec: TextSpec, scale: float) -> Image.Image:
    left, top, right, bottom = layout.box
    size = (right - left, bottom - top)
    layer = Image.new("RGBA", size, _paint_colour(spec.background_color, spec.background_opacity))
    if layout.stroke:
        halo = _mask(layout, setter, size, layout.stroke)
        if spec.outline_blur:
            halo = halo.filter(ImageFilter.GaussianBlur(spec.outline_blur * scale))
        _paint(layer, halo, spec.outline_color, spec.outline_opacity)
    _paint(layer, _mask(layout, setter, size, 0), spec.color, spec.opacity)
    return layer


def _mask(layout: TextLayout, setter: _FreeTypeSetter, size: Size, stroke: int) -> Image.Image:
    mask = Image.new("L", size)
    draw = ImageDraw.Draw(mask)
    for line, (x, y) in zip(layout.lines, layout.line_origins(), strict=True):
        pen = x - setter.extent(line)[0]
        draw.text((pen, y), line, font=setter.font, fill=255, anchor="la", stroke_width=stroke, stroke_fill=255)
    return mask


def _paint_colour(colour: RGBA | None, opacity: int) -> RGBA:
    if colour is None:
        return (0, 0, 0, 0)
    return colour[0], colour[1], colour[2], colour[3] * opacity // 100


def _paint(layer: Image.Image, mask: Image.Image, colour: RGBA, opacity: int) -> None:
    """Composite ``colour`` at ``opacity`` % onto ``layer`` (in place: it is ours) through ``mask``."""
    red, green, blue, alpha = _paint_colour(colour, opacity)
    if alpha == 0:
        return
    paint = Image.new("RGBA", layer.size, (red, green, blue, 0))
    paint.putalpha(mask if alpha == 255 else mask.point([value * alpha // 255 for value in range(256)]))
    layer.alpha_composite(paint)


def _composite(image: Image.Image, overlay: Image.Image, box: Box) -> Image.Image:
    """A copy of ``image`` with ``overlay`` composited at ``box`` (cut to the image if it overflows)."""
    left, top, _, _ = box
    region = (max(left, 0), max(top, 0), min(box[2], image.width), min(box[3], image.height))
    result = image.copy()
    if region[0] >= region[2] or region[1] >= region[3]:
        return result
    patch = image.crop(region).convert("RGBA")
    patch.alpha_composite(overlay.crop((region[0] - left, region[1] - top, region[2] - left, region[3] - top)))
    result.paste(patch.convert(image.mode), region[:2])
    return result
