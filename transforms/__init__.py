"""Pure image processing for the origin: Pillow and the standard library, no I/O.

``render`` is the entry point; the step functions are exported for reuse and tests. Nothing
here reads settings, the environment, the network or the file system.
"""

from __future__ import annotations

from .adjust import COLORTONE_PRESETS, adjust
from .assets import Assets, FontBook, FontFace
from .canvas import apply_canvas, canvas_size
from .color import flatten, to_srgb
from .crop import crop
from .decode import SourceImage, load, open_image
from .effects import apply_effects
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
from .frame import apply_frame, framed_size
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
from .plan import Plan, plan_render, plan_trimmed, planned_size
from .resize import resize
from .text import draw_text
from .trim import trim, trim_box
from .watermark import apply_watermark

__all__ = [
    "COLORTONE_PRESETS",
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
    "adjust",
    "apply_canvas",
    "apply_effects",
    "apply_frame",
    "apply_watermark",
    "canvas_size",
    "crop",
    "draw_text",
    "encode",
    "flatten",
    "flip",
    "flop",
    "framed_size",
    "load",
    "load_mark",
    "open_image",
    "orient",
    "plan_render",
    "plan_trimmed",
    "planned_size",
    "render",
    "resize",
    "resolve_encoding",
    "rotate",
    "to_srgb",
    "trim",
    "trim_box",
]
