"""The scale step: ``w``, ``h``, ``s`` and ``scale.option`` (sizes in :mod:`transforms.geometry`)."""

from __future__ import annotations

from PIL import Image

from .geometry import Size, fill_region, scaled_size
from .options import ResizeSpec

REDUCING_GAP = 3.0
"""``Image.resize``'s two-step reduction: a fast box reduction to at least 3x the target, then
Lanczos. At 3.0 the result is indistinguishable from a plain Lanczos pass, and much faster."""


def resize(
    image: Image.Image,
    spec: ResizeSpec,
    *,
    source_size: Size | None = None,
    max_side: int | None = None,
) -> Image.Image:
    """``image`` scaled as ``spec`` asks, with Lanczos resampling.

    ``FILL`` cuts and scales in one ``Image.resize`` call (its ``box``), so the part that is cut
    off is never resampled.

    :param image: the source pixels, possibly decoded at a reduced scale (JPEG draft).
    :param spec: the sizes, in pixels or percentages of ``source_size``.
    :param source_size: the size the source really has (after EXIF orientation), which
        percentages and the ``FILL`` region refer to; defaults to ``image.size``. When ``image``
        was decoded smaller, the region is mapped onto it proportionally.
    :param max_side: the longest side allowed, as :func:`transforms.geometry.scaled_size`.
    :returns: a new image, or ``image`` itself when its size is already the one asked for.
    :raises OutputTooLargeError: the result would have a side longer than ``max_side``.
    """
    src_w, src_h = source_size or image.size
    size = scaled_size(src_w, src_h, spec, max_side=max_side)
    region = fill_region(src_w, src_h, spec)
    if region is None:
        if size == image.size:
            return image
        return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    if size == image.size and region == (0, 0, *image.size):
        return image
    scale_x, scale_y = image.width / src_w, image.height / src_h
    left, top, right, bottom = region
    box = (left * scale_x, top * scale_y, right * scale_x, bottom * scale_y)
    return image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)
