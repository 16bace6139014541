"""The geometry of one render, worked out from the source's header before any pixel is decoded.

Knowing every size up front lets the pipeline refuse an oversized output before decoding, and
tells the JPEG decoder how small it may decode (:func:`transforms.decode.load`'s ``target``).

``crop.type=trim`` is the exception: how much a trim cuts depends on the pixels. A trimming render
decodes every pixel, and the trim step plans again from the trimmed size (:func:`plan_trimmed`),
which is where such a render is refused when its output would be too large.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .canvas import canvas_size
from .frame import framed_size
from .geometry import Size, check_size, cropped_size, decode_size, rotated_size, scaled_size
from .options import RenderLimits, RenderOptions, TrimSpec

_NO_TRIM = TrimSpec()


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes through the pipeline, all after EXIF orientation.

    :ivar source: the image entering the scale step: the source as displayed (EXIF orientation
        applied), or, planned again by :func:`plan_trimmed`, the trimmed source.
    :ivar decode: the smallest whole-source size the scale step needs, ``None`` when it needs
        every source pixel (no scaling asked for, or a trim).
    :ivar scaled: after the scale step.
    :ivar cropped: after the crop step.
    :ivar canvas: after the canvas step.
    :ivar rotated: after rotation.
    :ivar output: after the frame: the size of the encoded image.
    :ivar provisional: the sizes assume a trim that keeps the whole source; they are not checked
        against the limits until :func:`plan_trimmed` replaces them.
    """

    source: Size
    decode: Size | None
    scaled: Size
    cropped: Size
    canvas: Size
    rotated: Size
    output: Size
    provisional: bool = False


def plan_render(width: int, height: int, options: RenderOptions, limits: RenderLimits) -> Plan:
    """Plan a render of a ``width`` x ``height`` source (as displayed, after EXIF orientation).

    Sizes follow the pipeline: scale, crop, canvas (:func:`transforms.canvas.canvas_size`), rotate,
    frame (:func:`transforms.frame.framed_size`). With ``options.trim`` enabled the plan is
    provisional (see :class:`Plan`) and asks for a full decode.

    :raises OutputTooLargeError: The scaled image or the output would have a side longer than
        ``limits.max_output_dimension`` (never for a provisional plan).
    """
    if not options.trim.is_identity:
        return _plan(width, height, options, None, decode=None, provisional=True)
    decode = None if options.resize.is_identity else decode_size(width, height, options.resize)
    return _plan(width, height, options, limits.max_output_dimension, decode=decode, provisional=False)


def plan_trimmed(width: int, height: int, options: RenderOptions, limits: RenderLimits) -> Plan:
    """The plan of the steps after the trim, for a source trimmed (padding included) to ``width`` x ``height``.

    :raises OutputTooLargeError: As :func:`plan_render`.
    """
    untrimmed = replace(options, trim=_NO_TRIM)
    return _plan(width, height, untrimmed, limits.max_output_dimension, decode=None, provisional=False)


def _plan(
    width: int, height: int, options: RenderOptions, max_side: int | None, *, decode: Size | None, provisional: bool
) -> Plan:
    scaled = scaled_size(width, height, options.resize, max_side=max_side)
    cropped = cropped_size(*scaled, options.crop)
    canvas = cropped if options.canvas.is_identity else canvas_size(*cropped, options.canvas, max_side=max_side)
    rotated = rotated_size(*canvas, options.orient.rotate)
    output = rotated if options.frame.is_identity else framed_size(*rotated, options.frame)
    if max_side is not None:
        check_size(output, max_side)
    return Plan(
        source=(width, height),
        decode=decode,
        scaled=scaled,
        cropped=cropped,
        canvas=canvas,
        rotated=rotated,
        output=output,
        provisional=provisional,
    )


def planned_size(width: int, height: int, options: RenderOptions, limits: RenderLimits) -> Size:
    """The size ``render`` will produce for a ``width`` x ``height`` source (after EXIF orientation).

    With ``options.trim`` enabled, the size for a source whose trim keeps every pixel.

    :raises OutputTooLargeError: As :func:`plan_render`.
    """
    return plan_render(width, height, options, limits).output
