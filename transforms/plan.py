"""The geometry of one render, worked out from the source's header before any pixel is decoded.

Knowing every size up front lets the pipeline refuse an oversized output before decoding, and
tells the JPEG decoder how small it may decode (:func:`transforms.decode.load`'s ``target``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .geometry import Size, check_size, cropped_size, decode_size, rotated_size, scaled_size
from .options import RenderLimits, RenderOptions


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes through the pipeline, all after EXIF orientation.

    :ivar source: the source as displayed (EXIF orientation applied).
    :ivar decode: the smallest whole-source size the scale step needs, ``None`` when it needs
        every source pixel (no scaling asked for).
    :ivar scaled: after the scale step.
    :ivar cropped: after the crop step.
    :ivar output: after rotation: the size of the encoded image.
    """

    source: Size
    decode: Size | None
    scaled: Size
    cropped: Size
    output: Size


def plan_render(width: int, height: int, options: RenderOptions, limits: RenderLimits) -> Plan:
    """Plan a render of a ``width`` x ``height`` source (as displayed, after EXIF orientation).

    :raises OutputTooLargeError: The scaled image or the output would have a side longer than
        ``limits.max_output_dimension``.
    """
    max_side = limits.max_output_dimension
    scaled = scaled_size(width, height, options.resize, max_side=max_side)
    cropped = cropped_size(*scaled, options.crop)
    output = check_size(rotated_size(*cropped, options.orient.rotate), max_side)
    decode = None if options.resize.is_identity else decode_size(width, height, options.resize)
    return Plan(source=(width, height), decode=decode, scaled=scaled, cropped=cropped, output=output)


def planned_size(width: int, height: int, options: RenderOptions, limits: RenderLimits) -> Size:
    """The size ``render`` will produce for a ``width`` x ``height`` source (after EXIF orientation).

    :raises OutputTooLargeError: As :func:`plan_render`.
    """
    return plan_render(width, height, options, limits).output
