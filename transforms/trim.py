"""The trim step (``crop.type=trim`` with ``crop.pad.x``/``.y``): the uniform border cut away.

Runs on the decoded source, before colour conversion and scaling, in any mode the decoder gives
(``L``, ``LA``, ``RGB``, ``RGBA``, ``CMYK``), with a few whole-image passes in C (a channel lookup
table, band maxima, a 2x2 erosion and bounding boxes): no Python loop over pixels.

Border colour
    The colour of the top-left pixel. When it is transparent (alpha at most
    :data:`ALPHA_TOLERANCE`) only alpha counts: every pixel that transparent is border, whatever
    colour it hides.
Content
    A pixel is content when a colour channel is further than :data:`TOLERANCE` from the border's
    and the pixel is part of a 2x2 square of such pixels, or when a channel is further than
    :data:`LONE_PIXEL_TOLERANCE` (alone, or a line one pixel thin), or its alpha further than
    :data:`ALPHA_TOLERANCE`. The small tolerance keeps faint content and smooth skies; the 2x2 rule
    ignores the scattered noise JPEG leaves around a hard edge: at quality 90 the box of a photo on
    a white, black or grey border is within 2 px of the exact one (about 5 px on a cream border,
    more on a strongly saturated one, whose colour JPEG cannot keep flat).
Which sides
    The kept box is the bounding box of the content, so a side is cut only while its whole edge row
    or column is border. The other corners need not agree: an image bordered on only some sides (an
    object touching the bottom edge, the transparent left half of a PNG) is trimmed on those sides,
    and an image whose top-left pixel starts no uniform edge band keeps its size.
Padding
    ``pad_x``/``pad_y`` (pixels of the source, or a percentage of the trimmed box's width/height)
    widen the box on each side again, never past the image.
"""

from __future__ import annotations

from PIL import Image, ImageChops

from .geometry import Box, Size
from .options import TrimSpec

TOLERANCE = 12
"""How far (0..255) a colour channel may be from the border colour's in a 2x2 square still border."""
LONE_PIXEL_TOLERANCE = 48
"""How far a colour channel of a lone pixel (or a line one pixel thin) may be and it still be border."""
ALPHA_TOLERANCE = 10
"""How far alpha may be from the border's and the pixel still be border (alpha is seldom lossy)."""

_MODES = ("L", "LA", "RGB", "RGBA", "CMYK")
_BORDER, _FAINT, _STRONG = 0, 1, 255
_STRONG_ONLY = [_STRONG if level == _STRONG else _BORDER for level in range(256)]


def trim_box(image: Image.Image, spec: TrimSpec) -> Box | None:
    """The box ``(left, top, right, bottom)`` that ``spec`` keeps of ``image`` (see the module docstring).

    :returns: ``None`` when nothing is cut: ``spec`` is the identity, the image is uniform, it has
        no border, or the padding gives back all of it.
    :raises ValueError: ``image`` is in a mode other than ``L``, ``LA``, ``RGB``, ``RGBA``, ``CMYK``.
    """
    if image.mode not in _MODES:
        raise ValueError(f"trim takes an L, LA, RGB, RGBA or CMYK image, not {image.mode}")
    if spec.is_identity:
        return None
    table = _levels_table(image)
    if _content_on_every_edge(image, table):
        return None  # the box already touches all four sides: most photographs, found in four thin strips
    levels = _strongest(image.point(table))  # per pixel: border, faint or strong
    found = _union(levels.point(_STRONG_ONLY).getbbox(), _grown(_eroded(levels).getbbox(), image.size))
    if found is None:
        return None
    left, top, right, bottom = found
    pad_x = spec.pad_x.resolve(right - left) if spec.pad_x is not None else 0
    pad_y = spec.pad_y.resolve(bottom - top) if spec.pad_y is not None else 0
    box = (
        max(left - pad_x, 0),
        max(top - pad_y, 0),
        min(right + pad_x, image.width),
        min(bottom + pad_y, image.height),
    )
    return None if box == (0, 0, image.width, image.height) else box


def trim(image: Image.Image, spec: TrimSpec) -> Image.Image:
    """``image`` cropped to :func:`trim_box`, in its own mode.

    :returns: A new image, or ``image`` itself when nothing is cut.
    :raises ValueError: As :func:`trim_box`.
    """
    box = trim_box(image, spec)
    return image if box is None else image.crop(box)


def _levels_table(image: Image.Image) -> list[int]:
    """A ``point`` table mapping each channel's value to border, faint or strong."""
    channels = tuple(image.crop((0, 0, 1, 1)).tobytes())  # the top-left pixel; every mode here has 8-bit channels
    alpha = len(channels) - 1 if image.mode in ("LA", "RGBA") else None
    transparent = alpha is not None and channels[alpha] <= ALPHA_TOLERANCE
    table: list[int] = []
    for index, value in enumerate(channels):
        if index == alpha:
            table += [_STRONG if abs(level - value) > ALPHA_TOLERANCE else _BORDER for level in range(256)]
        elif transparent:
            table += [_BORDER] * 256  # colour under a transparent border does not count
        else:
            table += [_level(abs(level - value)) for level in range(256)]
    return table


def _content_on_every_edge(image: Image.Image, table: list[int]) -> bool:
    """Whether each outermost row and column holds a pixel that is content on its own (strong): then
    no side can be cut, and the whole-image passes are not needed."""
    width, height = image.size
    edges = ((0, 0, width, 1), (0, height - 1, width, height), (0, 0, 1, height), (width - 1, 0, width, height))
    for box in edges:
        strip = _strongest(image.crop(box).point(table))
        if strip.point(_STRONG_ONLY).getbbox() is None:
            return False
    return True


def _level(distance: int) -> int:
    if distance > LONE_PIXEL_TOLERANCE:
        return _STRONG
    return _FAINT if distance > TOLERANCE else _BORDER


def _strongest(levels: Image.Image) -> Image.Image:
    """One band: the highest level of each pixel's channels."""
    bands = levels.split()
    strongest = bands[0]
    for band in bands[1:]:
        strongest = ImageChops.lighter(strongest, band)
    return strongest


def _eroded(levels: Image.Image) -> Image.Image:
    """Non-zero where the 2x2 square starting at the pixel is all content (outside the image is not)."""
    width, height = levels.size
    right = levels.crop((1, 0, width + 1, height))
    below = levels.crop((0, 1, width, height + 1))
    diagonal = levels.crop((1, 1, width + 1, height + 1))
    return ImageChops.darker(ImageChops.darker(levels, right), ImageChops.darker(below, diagonal))


def _grown(box: Box | None, size: Size) -> Box | None:
    """``box`` of an eroded image back to the squares it came from (one more pixel right and down)."""
    if box is None:
        return None
    left, top, right, bottom = box
    return left, top, min(right + 1, size[0]), min(bottom + 1, size[1])


def _union(first: Box | None, second: Box | None) -> Box | None:
    if first is None or second is None:
        return first or second
    return (
        min(first[0], second[0]),
        min(first[1], second[1]),
        max(first[2], second[2]),
        max(first[3], second[3]),
    )
