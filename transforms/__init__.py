"""Pure image processing for the origin: Pillow and the standard library, no I/O.

``render`` is the entry point; the step functions are exported for reuse and tests. Nothing
here reads settings, the environment, the network or the file system.
"""

from __future__ import annotations

from .color import flatten, to_srgb
from .crop import crop
from .decode import SourceImage, load, open_image
from .encode import Encoded, encode, resolve_encoding
from .errors import (
    CorruptImageError,
    ImageTooLargeError,
    OutputTooLargeError,
    RenderTimeoutError,
    TooManyFramesError,
    TransformError,
    UnsupportedImageError,
)
from .options import (
    CropSpec,
    Encoding,
    Length,
    OrientSpec,
    OutputFormat,
    OutputSpec,
    RenderLimits,
    RenderOptions,
    ResizeSpec,
    ScaleMode,
    Subsampling,
)
from .orient import flip, flop, orient, rotate
from .pipeline import STEPS, Rendered, render
from .plan import Plan, plan_render, planned_size
from .resize import resize

__all__ = [
    "STEPS",
    "CorruptImageError",
    "CropSpec",
    "Encoded",
    "Encoding",
    "ImageTooLargeError",
    "Length",
    "OrientSpec",
    "OutputFormat",
    "OutputSpec",
    "OutputTooLargeError",
    "RenderTimeoutError",
    "Plan",
    "RenderLimits",
    "RenderOptions",
    "Rendered",
    "ResizeSpec",
    "ScaleMode",
    "SourceImage",
    "Subsampling",
    "TooManyFramesError",
    "TransformError",
    "UnsupportedImageError",
    "crop",
    "encode",
    "flatten",
    "flip",
    "flop",
    "load",
    "open_image",
    "orient",
    "plan_render",
    "planned_size",
    "render",
    "resize",
    "resolve_encoding",
    "rotate",
    "to_srgb",
]
