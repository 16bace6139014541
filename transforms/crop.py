"""The crop step: ``cw``, ``ch``, ``cx``, ``cy`` and ``crop.aspectratio`` (box in :mod:`transforms.geometry`)."""

from __future__ import annotations

from PIL import Image

from .geometry import crop_box
from .options import CropSpec


def crop(image: Image.Image, spec: CropSpec) -> Image.Image:
    """The part of ``image`` that ``spec`` keeps.

    Sizes and offsets are pixels or percentages of ``image``; the box always lies inside the
    image and is never empty (see :func:`transforms.geometry.crop_box`).

    :returns: a new image, or ``image`` itself when the box is the whole image.
    """
    box = crop_box(image.width, image.height, spec)
    if box == (0, 0, image.width, image.height):
        return image
    return image.crop(box)
