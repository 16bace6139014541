"""Typesetting for the text overlay (:mod:`transforms.text`): faces, metrics, line breaks.

:func:`choose_face` picks the allowlisted face that has a glyph for every visible character (the
glyph check renders the character and compares it with the face's missing-glyph box).
:class:`Typesetter` is the seam the layout measures through, so that it is tested without pixels;
:class:`FreeTypeSetter` is the real one, over one face at one size, laid out by Raqm when Pillow
has it (bidi and shaping) and by the basic layout otherwise. :func:`wrap_text` breaks a text into
lines no wider than a width, as any such measure says.
"""

from __future__ import annotations

import io
import itertools
import math
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Protocol

from PIL import Image, ImageDraw, ImageFont, features

from .assets import FontBook, FontFace
from .options import TextSpec

LAYOUT_ENGINE = ImageFont.Layout.RAQM if features.check_feature("raqm") else ImageFont.Layout.BASIC
"""Raqm (bidi, shaping) when Pillow has it; the basic layout (no RTL, no shaping) otherwise."""

Point = tuple[int, int]


class Typesetter(Protocol):
    """Text metrics at one font size, in pixels."""

    line_height: int

    def extent(self, line: str) -> tuple[int, int]:
        """``(left, right)`` of ``line``'s ink and advance, from its pen origin (left <= 0)."""
        ...


Typeset = Callable[[int], Typesetter]
"""A :class:`Typesetter` for a font size in pixels."""


class FreeTypeSetter:
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

    def draw(self, mask: Image.Image, lines: Iterable[tuple[str, Point]], stroke: int) -> None:
        """Clear ``mask`` (mode ``L``; changed in place) and draw ``lines`` on it in white, each with
        the top-left corner of its extent at its point, grown by ``stroke``. Lines wholly off the
        mask are skipped."""
        mask.paste(0, (0, 0, *mask.size))
        draw = ImageDraw.Draw(mask)
        slack = 2 * self.line_height + stroke  # ink may overshoot the line's metrics a little
        for line, (x, y) in lines:
            if -slack < y < mask.height + slack:
                pen = (x - self.extent(line)[0], y)
                draw.text(pen, line, font=self.font, fill=255, anchor="la", stroke_width=stroke, stroke_fill=255)


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
