"""Colour: converting tagged pixels to sRGB, and flattening transparency onto a colour.

Outputs carry no ICC profile, so their pixels must already be sRGB (what every browser assumes
for untagged images). A source with an embedded profile is converted with littlecms
(``PIL.ImageCms``); the pipeline does it after scaling, on the small image.
"""

from __future__ import annotations

from io import BytesIO

from PIL import Image, ImageCms

_PROFILE_SPACES = {"L": "GRAY", "RGB": "RGB", "CMYK": "CMYK"}  # Pillow mode -> ICC colour space
_ALPHA_BASES = {"LA": "L", "RGBA": "RGB"}
WHITE = (255, 255, 255)


def to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert ``image`` from the colour space of ``icc_profile`` to sRGB.

    Alpha is carried over unchanged. ``L`` images stay ``L`` (a grey profile only changes the
    tone curve), ``CMYK`` images always become ``RGB``.

    Without a profile the pixels are taken to be sRGB already and returned untouched (a ``CMYK``
    image gets Pillow's plain conversion). A profile that littlecms cannot read, or whose colour
    space does not match the pixels (an RGB profile on a grey image), is disregarded the same
    way, as browsers do.

    :param image: in mode ``L``, ``LA``, ``RGB``, ``RGBA`` or ``CMYK``.
    :param icc_profile: the source's embedded ICC profile, or ``None``.
    :returns: a new image, or ``image`` itself when there is nothing to convert.
    """
    base_mode = _ALPHA_BASES.get(image.mode, image.mode)
    transform = _transform_to_srgb(icc_profile, base_mode) if icc_profile else None
    if transform is None:
        return image.convert("RGB") if image.mode == "CMYK" else image
    if base_mode == image.mode:
        return _apply(transform, image, base_mode)
    converted = _apply(transform, image.convert(base_mode), base_mode)
    converted.putalpha(image.getchannel("A"))
    return converted


def _transform_to_srgb(icc_profile: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    space = _PROFILE_SPACES.get(mode)
    try:
        source = ImageCms.ImageCmsProfile(BytesIO(icc_profile))
        if space is None or source.profile.xcolor_space.strip() != space:
            return None
        return ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), mode, "RGB", ImageCms.Intent.PERCEPTUAL)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


def _apply(transform: ImageCms.ImageCmsTransform, image: Image.Image, mode: str) -> Image.Image:
    converted = transform.apply(image)
    return converted.convert("L") if mode == "L" else converted


def has_alpha(image: Image.Image) -> bool:
    """Whether ``image`` has an alpha channel with at least one pixel that is not fully opaque."""
    if image.mode not in ("LA", "RGBA"):
        return False
    low, _ = image.getchannel("A").getextrema()
    return bool(low != 255)


def flatten(image: Image.Image, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """``image`` composited over an opaque ``background``, without an alpha channel.

    :param image: in mode ``L``, ``LA``, ``RGB`` or ``RGBA``; images without alpha are returned
        untouched.
    :param background: an RGB colour (a grey image stays grey when it is grey).
    :returns: an ``L`` or ``RGB`` image.
    """
    if image.mode not in ("LA", "RGBA"):
        return image
    grey = image.mode == "LA" and len(set(background)) == 1
    canvas = Image.new("RGBA", image.size, (*background, 255))
    canvas.alpha_composite(image.convert("RGBA"))
    return canvas.convert("L" if grey else "RGB")
