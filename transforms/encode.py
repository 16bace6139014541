"""Encoding the result: format, quality, chroma subsampling and no metadata at all.

Nothing but pixels leaves: no EXIF (so no GPS), XMP, comment or ICC profile. The pixels are sRGB
(:func:`transforms.color.to_srgb`), which untagged images are taken to be.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import Any, NamedTuple

from PIL import Image

from .color import WHITE, flatten, has_alpha
from .options import Encoding, OutputSpec

PNG_COMPRESS_LEVEL = 6  # zlib's default: most of level 9's gain, several times faster
WEBP_METHOD = 4  # libwebp's default speed/size trade-off (0 fastest .. 6 smallest)
AVIF_SPEED = 7  # libavif 0 (slowest) .. 10; measured on a 1200x800 photo: 7 encodes ~1.7x faster than
# the default 6 for ~2% more bytes, 8 ~4x faster for ~5% more. 7 suits an on-demand server.
GIF_COLOURS = 255  # the 256th palette entry is kept for transparency


@dataclass(frozen=True, slots=True)
class _Format:
    pillow: str
    media_type: str
    extension: str


_FORMATS = {
    Encoding.JPEG: _Format("JPEG", "image/jpeg", "jpg"),
    Encoding.PNG: _Format("PNG", "image/png", "png"),
    Encoding.WEBP: _Format("WEBP", "image/webp", "webp"),
    Encoding.AVIF: _Format("AVIF", "image/avif", "avif"),
    Encoding.GIF: _Format("GIF", "image/gif", "gif"),
}
LABELS = frozenset((fmt.media_type, fmt.extension) for fmt in _FORMATS.values())
"""Every (media type, extension) pair an encoded result is labelled with."""
_SOURCE_ENCODINGS = {
    "JPEG": Encoding.JPEG,
    "MPO": Encoding.JPEG,
    "PNG": Encoding.PNG,
    "WEBP": Encoding.WEBP,
    "AVIF": Encoding.AVIF,
    "GIF": Encoding.GIF,
}


class Encoded(NamedTuple):
    """The encoded bytes with their media type (``image/jpeg``) and file extension (``jpg``)."""

    body: bytes
    media_type: str
    extension: str


def resolve_encoding(image: Image.Image, encoding: Encoding, source_format: str) -> Encoding:
    """The concrete format ``encoding`` means for ``image``.

    ``SOURCE`` is the source's own format (a source format that is not encoded here, such as a
    TIFF an operator allowed, falls back to ``CLASSIC``). ``CLASSIC`` is JPEG when ``image`` is
    opaque (no alpha, or an alpha channel that is fully opaque) and PNG otherwise.
    """
    if encoding is Encoding.SOURCE:
        encoding = _SOURCE_ENCODINGS.get(source_format.upper(), Encoding.CLASSIC)
    if encoding is Encoding.CLASSIC:
        return Encoding.PNG if has_alpha(image) else Encoding.JPEG
    return encoding


def encode(
    image: Image.Image,
    encoding: Encoding,
    spec: OutputSpec,
    source_format: str,
    background: tuple[int, int, int] = WHITE,
) -> Encoded:
    """``image`` encoded as ``encoding``, without any metadata.

    - JPEG: quality ``spec.quality``, ``spec.subsampling`` (Pillow's 4:2:0 when ``None``),
      transparency flattened onto ``background`` (white unless the options give ``canvas.color``),
      ``spec.progressive``; transparency is flattened onto white.
    - PNG: lossless, never quantised, zlib level 6.
    - WebP and AVIF: lossy at quality ``spec.quality``, alpha kept.
    - GIF: one frame, quantised to 255 colours; pixels under half opacity become transparent.

    An alpha channel that is fully opaque is dropped whatever the format.

    :param image: in any mode; ``L``, ``LA``, ``RGB`` and ``RGBA`` are encoded as they are.
    :param encoding: the target, including ``SOURCE`` and ``CLASSIC`` (see :func:`resolve_encoding`).
    :param spec: quality, subsampling and progressive.
    :param source_format: Pillow's name for the source's format, for ``Encoding.SOURCE``.
    :returns: the bytes, media type and extension; ``image`` is not modified.
    """
    pixels = _without_opaque_alpha(_standard_mode(image))
    target = resolve_encoding(pixels, encoding, source_format)
    if target is Encoding.JPEG:
        pixels = flatten(pixels, background)
    elif target in (Encoding.WEBP, Encoding.AVIF) and pixels.mode in ("L", "LA"):
        pixels = pixels.convert("RGBA" if pixels.mode == "LA" else "RGB")
    params: dict[str, Any] = _params(target, spec)
    if target is Encoding.GIF:
        pixels, transparency = _palette(pixels)
        if transparency is not None:
            params["transparency"] = transparency
    if pixels is image:
        pixels = image.copy()
    pixels.info.clear()  # our own copy: nothing from the source's info reaches the encoder
    out = BytesIO()
    pixels.save(out, format=_FORMATS[target].pillow, **params)
    return label(out.getvalue(), target)


def label(body: bytes, encoding: Encoding) -> Encoded:
    """``body`` with the media type and file extension of ``encoding`` (a concrete format, not
    ``SOURCE`` or ``CLASSIC``)."""
    fmt = _FORMATS[encoding]
    return Encoded(body, fmt.media_type, fmt.extension)


def _standard_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if image.mode in ("P", "PA") or image.has_transparency_data:
        return image.convert("RGBA")
    return image.convert("RGB")


def _without_opaque_alpha(image: Image.Image) -> Image.Image:
    if image.mode in ("LA", "RGBA") and not has_alpha(image):
        return image.convert("L" if image.mode == "LA" else "RGB")
    return image


def _params(target: Encoding, spec: OutputSpec) -> dict[str, Any]:
    if target is Encoding.JPEG:
        params: dict[str, Any] = {"quality": spec.quality, "progressive": spec.progressive}
        if spec.subsampling is not None:
            params["subsampling"] = spec.subsampling.value
        return params
    if target is Encoding.PNG:
        return {"compress_level": PNG_COMPRESS_LEVEL}
    if target is Encoding.WEBP:
        return {"quality": spec.quality, "method": WEBP_METHOD}
    if target is Encoding.AVIF:
        return {"quality": spec.quality, "speed": AVIF_SPEED}
    return {}


def _palette(image: Image.Image) -> tuple[Image.Image, int | None]:
    """A ``P`` image for GIF and its transparent index (``None`` when fully opaque)."""
    transparent = image.mode in ("LA", "RGBA")
    colours = GIF_COLOURS if transparent else GIF_COLOURS + 1
    quantised = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    if not transparent:
        return quantised, None
    palette = (quantised.getpalette() or [])[: GIF_COLOURS * 3]
    quantised.putpalette(palette + [0] * (256 * 3 - len(palette)))  # index 255 exists, unused
    mask = image.getchannel("A").point(lambda alpha: 255 if alpha < 128 else 0, mode="1")
    quantised.paste(GIF_COLOURS, mask=mask)
    return quantised, GIF_COLOURS
