"""The effects step: Sirv's ``blur``, ``sharpen``, ``vignette`` and ``opacity``, applied in that order.

Every size is a fraction of the image's shorter side (see :func:`blur_radius` and
:func:`sharpen_radius`), so the same options look alike at ``w=200`` and ``w=2000``, and the work
grows with the output's pixels, never with the source's. Pillow's Gaussian and unsharp-mask filters
cost the same at any radius; a large blur is done on a reduced copy and scaled back, which looks the
same and costs a fraction. The vignette mask is computed at 32x32 and scaled up.
"""

from __future__ import annotations

import math

from PIL import Image, ImageFilter

from .options import RGBA, EffectsSpec

BLUR_FRACTION = 0.04
"""``blur=100`` is a Gaussian whose standard deviation is 4% of the shorter side (32 px at 1200x800)."""

SHARPEN_FRACTION = 0.002
"""The unsharp mask's radius: 0.2% of the shorter side (1.6 px at 1200x800), at least
:data:`MIN_SHARPEN_RADIUS`. ``sharpen`` sets the strength, not the radius."""

MIN_SHARPEN_RADIUS = 0.5
"""Below half a pixel an unsharp mask changes next to nothing, so thumbnails keep this radius."""

SHARPEN_PERCENT = 3
"""Unsharp-mask strength per point of ``sharpen``: ``sharpen=100`` adds 300% of the detail."""

VIGNETTE_START = 0.3
"""Where the vignette begins, as a fraction of the distance from the centre to a corner (the
distance is measured on the image stretched to a square, so the vignette follows its shape)."""

_DIRECT_BLUR_RADIUS = 8.0  # larger blurs run on a copy reduced so that their radius is ~4..8 px
_REDUCED_BLUR_RADIUS = 4.0
_MASK_SIZE = 32
_ALPHA_MODES = {"L": "LA", "RGB": "RGBA"}
_COLOUR_MODES = {"LA": "L", "RGBA": "RGB"}
_PREMULTIPLIED = {"LA": "La", "RGBA": "RGBa"}
_MODES = frozenset({"L", "LA", "RGB", "RGBA"})


def blur_radius(width: int, height: int, blur: float) -> float:
    """The Gaussian's standard deviation in pixels for ``blur`` (0..100) on a ``width`` x ``height`` image."""
    return blur / 100 * BLUR_FRACTION * min(width, height)


def sharpen_radius(width: int, height: int) -> float:
    """The unsharp mask's radius in pixels on a ``width`` x ``height`` image."""
    return max(MIN_SHARPEN_RADIUS, SHARPEN_FRACTION * min(width, height))


def apply_effects(image: Image.Image, spec: EffectsSpec) -> Image.Image:
    """``image`` blurred, sharpened, vignetted and faded as ``spec`` asks, in that order.

    The size never changes. Blur spreads alpha too (computed on premultiplied pixels, so hidden
    colours do not bleed in); sharpen and vignette change only the colour; opacity multiplies alpha,
    and an image without alpha gains one when ``opacity`` is below 100. A vignette colour that is not
    grey turns an ``L``/``LA`` image into ``RGB``/``RGBA``; otherwise the mode is kept.

    :param image: sRGB pixels in mode ``L``, ``LA``, ``RGB`` or ``RGBA``, at the output size.
    :returns: a new image, or ``image`` itself when ``spec`` changes nothing.
    :raises ValueError: ``image`` is in another mode.
    """
    if spec.is_identity:
        return image
    if image.mode not in _MODES:
        raise ValueError(f"effects need an L, LA, RGB or RGBA image, not {image.mode}")
    result = image
    if spec.blur > 0:
        result = _blur(result, blur_radius(result.width, result.height, spec.blur))
    if spec.sharpen > 0:
        result = _sharpen(result, spec.sharpen)
    if spec.vignette > 0:
        result = _vignette(result, spec.vignette, spec.vignette_color)
    if spec.opacity < 100:
        result = _fade(result, spec.opacity)
    return result


def _blur(image: Image.Image, radius: float) -> Image.Image:
    premultiplied = _PREMULTIPLIED.get(image.mode)
    work = image.convert(premultiplied) if premultiplied else image
    if radius <= _DIRECT_BLUR_RADIUS:
        blurred = work.filter(ImageFilter.GaussianBlur(radius))
    else:
        factor = int(radius // _REDUCED_BLUR_RADIUS)
        reduced = work.reduce(factor).filter(ImageFilter.GaussianBlur(radius / factor))
        # reduce() rounds its size up; the box maps the reduced pixels back onto exactly the original grid
        blurred = reduced.resize(
            work.size, Image.Resampling.BILINEAR, box=(0, 0, work.width / factor, work.height / factor)
        )
    return blurred.convert(image.mode) if premultiplied else blurred


def _sharpen(image: Image.Image, sharpen: float) -> Image.Image:
    radius = sharpen_radius(image.width, image.height)
    unsharp = ImageFilter.UnsharpMask(radius, percent=round(SHARPEN_PERCENT * sharpen), threshold=0)
    colour_mode = _COLOUR_MODES.get(image.mode)
    if colour_mode is None:
        return image.filter(unsharp)
    sharpened = image.convert(colour_mode).filter(unsharp)
    sharpened.putalpha(image.getchannel("A"))
    return sharpened


def _vignette(image: Image.Image, vignette: int, colour: RGBA) -> Image.Image:
    grey = colour[0] == colour[1] == colour[2]
    colour_mode = _COLOUR_MODES.get(image.mode, image.mode)
    if not grey:
        colour_mode = "RGB"
    ink: int | tuple[int, ...] = colour[0] if colour_mode == "L" else colour[:3]
    mask = _vignette_mask(image.size, vignette / 100 * colour[3] / 255)
    tinted = image.convert(colour_mode) if colour_mode != image.mode else image.copy()
    tinted.paste(ink, (0, 0, image.width, image.height), mask)
    if image.mode in ("LA", "RGBA"):
        tinted.putalpha(image.getchannel("A"))
    return tinted


def _vignette_mask(size: tuple[int, int], strength: float) -> Image.Image:
    """How much of the vignette colour covers each pixel (0..255), ``strength`` (0..1) in the corners."""
    n = _MASK_SIZE
    centres = [(2 * i + 1) / n - 1 for i in range(n)]  # -1..1 across the image, at pixel centres
    weights = bytearray(n * n)
    for row, v in enumerate(centres):
        for column, u in enumerate(centres):
            distance = math.sqrt((u * u + v * v) / 2)  # 0 in the centre, 1 in the corners
            t = min(1.0, max(0.0, (distance - VIGNETTE_START) / (1 - VIGNETTE_START)))
            weights[row * n + column] = round(255 * strength * t * t * (3 - 2 * t))
    return Image.frombytes("L", (n, n), bytes(weights)).resize(size, Image.Resampling.BILINEAR)


def _fade(image: Image.Image, opacity: int) -> Image.Image:
    alpha_mode = _ALPHA_MODES.get(image.mode)
    if alpha_mode is not None:
        faded = image.convert(alpha_mode)
        faded.putalpha((255 * opacity + 50) // 100)
        return faded
    *colour, alpha = image.split()
    scaled = alpha.point([(a * opacity + 50) // 100 for a in range(256)])
    return Image.merge(image.mode, (*colour, scaled))
