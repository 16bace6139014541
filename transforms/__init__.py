"""Pure image processing for the origin: Pillow and the standard library, no I/O.

``render`` is the entry point; the step functions are exported for reuse and tests. Nothing
here reads settings, the environment, the network or the file system.
"""

from __future__ import annotations

from .assets import Assets, FontBook, FontFace
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
from .mark import load_mark
from .options import (
    RGBA,
    CanvasSpec,
    ColourSpec,
    CropSpec,
    EffectsSpec,
    Encoding,
    FontStyle,
    FontWeight,
    FrameSpec,
    FrameStyle,
    Gravity,
    Layer,
    Length,
    OrientSpec,
    OutputFormat,
    OutputSpec,
    RenderLimits,
    RenderOptions,
    ResizeSpec,
    ScaleMode,
    Subsampling,
    TextAlign,
    TextSpec,
    ToneMode,
    TrimSpec,
    WatermarkSpec,
)
from .orient import flip, flop, orient, rotate
from .pipeline import STEPS, Rendered, render
from .plan import Plan, plan_render, planned_size
from .resize import resize
from .text import draw_text
from .watermark import apply_watermark

__all__ = [
    "Assets",
    "CanvasSpec",
    "ColourSpec",
    "CorruptImageError",
    "CropSpec",
    "Encoded",
    "EffectsSpec",
    "Encoding",
    "FontBook",
    "FontFace",
    "FontStyle",
    "FontWeight",
    "FrameSpec",
    "FrameStyle",
    "Gravity",
    "ImageTooLargeError",
    "Layer",
    "Length",
    "OrientSpec",
    "OutputFormat",
    "OutputSpec",
    "OutputTooLargeError",
    "Plan",
    "RGBA",
    "RenderLimits",
    "RenderOptions",
    "RenderTimeoutError",
    "Rendered",
    "ResizeSpec",
    "STEPS",
    "ScaleMode",
    "SourceImage",
    "Subsampling",
    "TextAlign",
    "TextSpec",
    "ToneMode",
    "TrimSpec",
    "TooManyFramesError",
    "TransformError",
    "UnsupportedImageError",
    "WatermarkSpec",
    "apply_watermark",
    "crop",
    "draw_text",
    "encode",
    "flatten",
    "flip",
    "flop",
    "load",
    "load_mark",
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
