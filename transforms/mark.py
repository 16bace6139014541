"""Decoding a watermark image: as strictly as a source, and no larger than it can ever be drawn."""

from __future__ import annotations

from PIL import Image

from .color import to_srgb
from .decode import load, open_image
from .errors import TransformError
from .geometry import Size, scaled_size
from .options import Length, RenderLimits, ResizeSpec, ScaleMode
from .resize import REDUCING_GAP

_DCT_SCALES = (8, 4, 2, 1)  # the reductions a JPEG decoder can make for free


def load_mark(data: bytes, limits: RenderLimits, max_side: int | None = None) -> Image.Image:
    """Decode the watermark's bytes exactly as a source: allowlisted formats (from the bytes),
    ``limits.max_source_pixels`` checked from the header, first frame, EXIF orientation, colour
    converted to sRGB. Every error's message starts with ``"watermark: "``.

    :param max_side: when given, the longest side of the result is at most this: a JPEG is
        decoded at the smallest DCT scale still at least this large (:func:`draft_scale`), and
        anything larger is then reduced (Lanczos, aspect ratio kept, alpha premultiplied).
    :returns: a new ``RGBA`` image.
    :raises UnsupportedImageError: not an image in an allowed format.
    :raises ImageTooLargeError: more pixels than allowed.
    :raises CorruptImageError: the data cannot be decoded.
    :raises ValueError: ``max_side`` is below 1.
    """
    if max_side is not None and max_side < 1:
        raise ValueError("max_side must be at least 1")
    try:
        source = open_image(data, limits)
        scale = 1 if max_side is None else draft_scale(source.size, max_side)
        image = load(source, None if scale == 1 else (max(1, source.size[0] // scale), max(1, source.size[1] // scale)))
    except TransformError as exc:
        raise type(exc)(f"watermark: {exc.message}") from exc
    if max_side is not None and max(image.size) > max_side:
        size = scaled_size(*image.size, ResizeSpec(longest=Length(max_side), mode=ScaleMode.NOUP))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    image = to_srgb(image, source.icc_profile)
    return image if image.mode == "RGBA" else image.convert("RGBA")


def draft_scale(size: Size, max_side: int) -> int:
    """The largest JPEG DCT reduction (8, 4, 2 or 1) that keeps the longest side of ``size`` at
    least ``max_side``: the smallest decode that is still large enough (``n`` px decode to ``ceil(n / s)``)."""
    return next(scale for scale in _DCT_SCALES if -(-max(size) // scale) >= max_side or scale == 1)
