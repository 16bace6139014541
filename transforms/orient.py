"""The orientation step: ``rotate``, ``flip`` and ``flop``, in that order.

As in ImageMagick (and Sirv), ``flip`` turns the image upside down and ``flop`` mirrors it
left to right. ``rotate`` is in degrees clockwise (negative: counter-clockwise), as CSS
``rotate()``, ImageMagick's ``-rotate`` and imgproxy; ``Image.rotate`` turns the other way.
"""

from __future__ import annotations

from PIL import Image

from .geometry import quarter_turns
from .options import OrientSpec

_QUARTER_TURNS = {
    1: Image.Transpose.ROTATE_90,
    2: Image.Transpose.ROTATE_180,
    3: Image.Transpose.ROTATE_270,
}
_BACKGROUNDS: dict[str, float | tuple[int, ...]] = {
    "L": 255,
    "LA": (0, 0),
    "RGB": (255, 255, 255),
    "RGBA": (0, 0, 0, 0),
    "CMYK": (0, 0, 0, 0),  # no ink: paper white
}


def rotate(image: Image.Image, degrees: float) -> Image.Image:
    """``image`` turned ``degrees`` clockwise.

    Multiples of 90 are exact pixel transposes. Other angles enlarge the canvas to hold the
    whole image; the corners are transparent when the image has alpha, white otherwise.

    :param image: in mode ``L``, ``LA``, ``RGB``, ``RGBA`` or ``CMYK``.
    :returns: a new image, or ``image`` itself for a whole number of turns.
    """
    counter_clockwise = -degrees
    turns = quarter_turns(counter_clockwise)
    if turns == 0:
        return image
    if turns is not None:
        return image.transpose(_QUARTER_TURNS[turns])
    # Pillow interpolates LA/RGBA premultiplied: transparent pixels do not bleed into the edges.
    return image.rotate(
        counter_clockwise, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=_BACKGROUNDS[image.mode]
    )


def flip(image: Image.Image) -> Image.Image:
    """``image`` upside down (top and bottom swapped), as ImageMagick's ``-flip``."""
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def flop(image: Image.Image) -> Image.Image:
    """``image`` mirrored (left and right swapped), as ImageMagick's ``-flop``."""
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def orient(image: Image.Image, spec: OrientSpec) -> Image.Image:
    """``image`` rotated, then flipped, then flopped, as ``spec`` asks.

    :returns: a new image, or ``image`` itself when ``spec`` changes nothing.
    """
    result = rotate(image, spec.rotate)
    if spec.flip:
        result = flip(result)
    if spec.flop:
        result = flop(result)
    return result
