"""Frozen, validated descriptions of what a render does.

Built once by ``origin.params`` from the merged request parameters and passed down unchanged.
Each class checks its own invariants in ``__post_init__``, so an invalid one cannot exist.
``RenderOptions.cache_key(encoding)`` is the canonical text of everything that decides the output bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from enum import StrEnum


class ScaleMode(StrEnum):
    """How ``w``/``h`` are honoured (Sirv's ``scale.option``)."""

    FIT = "fit"  # fit inside the box, keep the aspect ratio, upscale if asked
    FILL = "fill"  # cover the box, keep the aspect ratio, cut the overflow (centre)
    IGNORE = "ignore"  # exactly the box, aspect ratio ignored
    NOUP = "noup"  # like FIT, but never larger than the source


class OutputFormat(StrEnum):
    """The ``format`` a request asks for."""

    ORIGINAL = "original"
    OPTIMAL = "optimal"
    JPG = "jpg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"
    GIF = "gif"


class Encoding(StrEnum):
    """The concrete target handed to ``render`` once the format has been negotiated."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"
    GIF = "gif"
    SOURCE = "source"  # the source's own format
    CLASSIC = "classic"  # JPEG when the result is opaque, PNG when it has transparency


class Subsampling(StrEnum):
    S444 = "4:4:4"
    S422 = "4:2:2"
    S420 = "4:2:0"


_LOSSY = frozenset({Encoding.JPEG, Encoding.WEBP, Encoding.AVIF, Encoding.SOURCE, Encoding.CLASSIC})
_JPEG_LIKE = frozenset({Encoding.JPEG, Encoding.SOURCE, Encoding.CLASSIC})


@dataclass(frozen=True, slots=True)
class Length:
    """A size or offset in pixels, or a percentage of a reference length."""

    value: float
    percent: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or self.value < 0:
            raise ValueError("a length must be a finite number >= 0")
        if not self.percent and self.value != int(self.value):
            raise ValueError("a pixel length must be a whole number")

    def resolve(self, reference: int) -> int:
        """Pixels for this length against ``reference`` pixels (percentages round half up)."""
        if self.percent:
            return int(math.floor(self.value * reference / 100 + 0.5))
        return int(self.value)

    def canonical(self) -> str:
        if self.percent:
            return f"{self.value:g}%"
        return str(int(self.value))


@dataclass(frozen=True, slots=True)
class ResizeSpec:
    """``w``, ``h``, ``s`` and ``scale.option``. All ``None`` means: keep the source size."""

    width: Length | None = None
    height: Length | None = None
    longest: Length | None = None
    mode: ScaleMode = ScaleMode.FIT

    def __post_init__(self) -> None:
        for name in ("width", "height", "longest"):
            length = getattr(self, name)
            if length is not None and length.value <= 0:
                raise ValueError(f"{name} must be above 0")

    @property
    def is_identity(self) -> bool:
        return self.width is None and self.height is None and self.longest is None


@dataclass(frozen=True, slots=True)
class CropSpec:
    """``cw``, ``ch``, ``cx``, ``cy`` and ``crop.aspectratio``, applied after scaling.

    ``x``/``y`` of ``None`` centre the crop on that axis. Percentages refer to the image as it
    enters the crop step (after scaling).
    """

    width: Length | None = None
    height: Length | None = None
    x: Length | None = None
    y: Length | None = None
    aspect_ratio: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            length = getattr(self, name)
            if length is not None and length.value <= 0:
                raise ValueError(f"crop {name} must be above 0")
        if self.aspect_ratio is not None and min(self.aspect_ratio) <= 0:
            raise ValueError("an aspect ratio needs two numbers above 0")

    @property
    def is_identity(self) -> bool:
        return self.width is None and self.height is None and self.aspect_ratio is None


@dataclass(frozen=True, slots=True)
class OrientSpec:
    """``rotate`` (degrees clockwise, -180..180), ``flip`` (upside down), ``flop`` (mirror)."""

    rotate: float = 0.0
    flip: bool = False
    flop: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.rotate) or not -180 <= self.rotate <= 180:
            raise ValueError("rotate must be -180..180")

    @property
    def is_identity(self) -> bool:
        return self.rotate % 360 == 0 and not self.flip and not self.flop


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """``format``, ``q``, ``subsampling``, ``progressive`` and ``webp-fallback``."""

    format: OutputFormat = OutputFormat.ORIGINAL
    quality: int = 80
    subsampling: Subsampling | None = None
    progressive: bool = False
    webp_fallback: OutputFormat | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.quality <= 100:
            raise ValueError("quality must be 1..100")
        if self.webp_fallback in (OutputFormat.WEBP, OutputFormat.OPTIMAL):
            raise ValueError("webp-fallback must name a format other than webp and optimal")

    def encoder_settings(self, encoding: Encoding) -> tuple[str, ...]:
        """The settings that change the bytes of ``encoding`` (its share of the cache key).

        ``SOURCE`` and ``CLASSIC`` may turn out to be JPEG, so they keep every JPEG setting.
        """
        settings: tuple[str, ...] = ()
        if encoding in _LOSSY:
            settings += (f"q{self.quality}",)
        if encoding in _JPEG_LIKE:
            settings += (_canonical(self.subsampling), _canonical(self.progressive))
        return settings


class Gravity(StrEnum):
    """Where an overlay is anchored on the image."""

    NORTHWEST = "northwest"
    NORTH = "north"
    NORTHEAST = "northeast"
    WEST = "west"
    CENTER = "center"
    EAST = "east"
    SOUTHWEST = "southwest"
    SOUTH = "south"
    SOUTHEAST = "southeast"


class TextAlign(StrEnum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class FontStyle(StrEnum):
    NORMAL = "normal"
    ITALIC = "italic"


class FontWeight(StrEnum):
    NORMAL = "normal"
    BOLD = "bold"


class Layer(StrEnum):
    FRONT = "front"  # over the image
    BACK = "back"  # under the image: shows only through its transparent parts


RGBA = tuple[int, int, int, int]


def _check_percent(name: str, value: int) -> None:
    if not 0 <= value <= 100:
        raise ValueError(f"{name} must be 0..100")


def _check_colour(name: str, value: RGBA | None) -> None:
    if value is not None and (len(value) != 4 or not all(0 <= channel <= 255 for channel in value)):
        raise ValueError(f"{name} must be four channels 0..255")


@dataclass(frozen=True, slots=True)
class TextSpec:
    """A text overlay (Sirv's ``text.*``), drawn on the final image after any watermark.

    Pixel values (``font_size``, ``x``/``y`` in pixels, outline width and blur) are in the source
    image's pixel grid and scale with the output, so the same options at ``w=300`` and ``w=1200``
    give the same relative layout. ``size`` is the width of the widest line as a percentage of the
    output width; with neither ``size`` nor ``font_size`` the font is 5% of the output width.
    """

    text: str
    size: float | None = None
    font_size: int | None = None
    align: TextAlign = TextAlign.CENTER
    gravity: Gravity = Gravity.CENTER
    x: Length | None = None
    y: Length | None = None
    family: str = "sans"
    style: FontStyle = FontStyle.NORMAL
    weight: FontWeight = FontWeight.NORMAL
    color: RGBA = (255, 255, 255, 255)
    opacity: int = 100
    outline_width: int = 0
    outline_color: RGBA = (0, 0, 0, 255)
    outline_opacity: int = 100
    outline_blur: int = 0
    background_color: RGBA | None = None
    background_opacity: int = 100

    def __post_init__(self) -> None:
        if not self.text or not self.text.strip():
            raise ValueError("text must not be empty")
        if self.size is not None and not 0 < self.size <= 100:
            raise ValueError("text size must be above 0 and at most 100 (% of the width)")
        if self.font_size is not None and self.font_size < 1:
            raise ValueError("font size must be at least 1 px")
        if self.outline_width < 0 or self.outline_blur < 0:
            raise ValueError("outline width and blur must be 0 or more")
        for name in ("opacity", "outline_opacity", "background_opacity"):
            _check_percent(name, getattr(self, name))
        for name in ("color", "outline_color", "background_color"):
            _check_colour(name, getattr(self, name))


@dataclass(frozen=True, slots=True)
class WatermarkSpec:
    """An image overlay (Sirv's ``watermark.*``). ``path`` is the canonical path of the mark under
    the image root; the origin reads it and hands its bytes to ``render``. ``width``/``height`` in
    pixels are in the source's pixel grid (they scale with the output); in percent, of the output.
    """

    path: str
    gravity: Gravity = Gravity.CENTER
    tile: bool = False
    x: Length | None = None
    y: Length | None = None
    width: Length | None = None
    height: Length | None = None
    scale_mode: ScaleMode = ScaleMode.FIT
    opacity: int = 100
    rotate: float = 0.0
    layer: Layer = Layer.FRONT

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError("a watermark path must start with /")
        _check_percent("opacity", self.opacity)
        if not math.isfinite(self.rotate) or not -180 <= self.rotate <= 180:
            raise ValueError("watermark rotate must be -180..180")
        for name in ("width", "height"):
            length = getattr(self, name)
            if length is not None and length.value <= 0:
                raise ValueError(f"watermark {name} must be above 0")


class FrameStyle(StrEnum):
    """``frame.style``: what fills the frame around the image."""

    SOLID = "solid"  # frame.color
    MIRROR = "mirror"  # the image's edge strips, mirrored outwards
    EDGE = "edge"  # the image's outermost pixels, stretched outwards
    NONE = "none"


class ToneMode(StrEnum):
    """``colortone.mode``: which tones a colour tone tints."""

    SOLID = "solid"  # every tone
    HIGHLIGHTS = "highlights"  # the light tones, fading out towards the shadows
    SHADOWS = "shadows"  # the dark tones, fading out towards the highlights


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be {low:g}..{high:g}")


@dataclass(frozen=True, slots=True)
class TrimSpec:
    """``crop.type=trim`` with ``crop.pad.x``/``.y``, applied to the decoded source before scaling.

    Trimming cuts away the uniform border (the colour of the corners, within a small tolerance) to
    the pixel; the padding then keeps that much of the cut border on each side again (pixels of the
    source, or a percentage of the trimmed size), never more than the source had.
    """

    enabled: bool = False
    pad_x: Length | None = None
    pad_y: Length | None = None

    def __post_init__(self) -> None:
        if not self.enabled and (self.pad_x is not None or self.pad_y is not None):
            raise ValueError("crop.pad needs crop.type=trim")

    @property
    def is_identity(self) -> bool:
        return not self.enabled


@dataclass(frozen=True, slots=True)
class CanvasSpec:
    """Sirv's ``canvas.*``: a larger backdrop the image is placed on, after scaling and cropping.

    ``width``/``height`` in pixels are output pixels; in percent, of the image entering the step. A
    canvas smaller than the image on an axis is as large as the image on that axis (the canvas never
    cuts). ``aspect_ratio`` then grows one side so the canvas has exactly that ratio. ``border_*``
    adds that many pixels on the left and right (width) and top and bottom (height), in
    ``border_color`` (by default the canvas colour). ``opacity`` (0..100) scales ``color``'s alpha.
    """

    width: Length | None = None
    height: Length | None = None
    color: RGBA = (255, 255, 255, 255)
    position: Gravity = Gravity.CENTER
    opacity: int = 100
    aspect_ratio: tuple[int, int] | None = None
    border_width: int = 0
    border_height: int = 0
    border_color: RGBA | None = None
    border_opacity: int = 100

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            length = getattr(self, name)
            if length is not None and length.value <= 0:
                raise ValueError(f"canvas {name} must be above 0")
        if self.aspect_ratio is not None and min(self.aspect_ratio) <= 0:
            raise ValueError("an aspect ratio needs two numbers above 0")
        if self.border_width < 0 or self.border_height < 0:
            raise ValueError("canvas border width and height must be 0 or more")
        _check_percent("canvas.opacity", self.opacity)
        _check_percent("canvas.border.opacity", self.border_opacity)
        _check_colour("canvas.color", self.color)
        _check_colour("canvas.border.color", self.border_color)

    @property
    def is_identity(self) -> bool:
        return (
            self.width is None
            and self.height is None
            and self.aspect_ratio is None
            and self.border_width == 0
            and self.border_height == 0
        )


@dataclass(frozen=True, slots=True)
class ColourSpec:
    """Sirv's light and colour options, applied after orientation, in sRGB, in this field order.

    The light values are -100..100 with 0 meaning unchanged. ``hue`` -100..100 turns the colour
    wheel by -180..180 degrees. ``colorize_color`` tints the whole image with that colour at
    ``colorize_opacity``; ``colortone`` names one of ``transforms.adjust.COLORTONE_PRESETS``, or
    ``colortone_color`` gives the tone's colour, mixed in at ``colortone_level`` (0..100) into the
    tones ``colortone_mode`` picks. ``colorlevel_black``/``_white`` (0..255) stretch that input
    range to the full output range.
    """

    brightness: float = 0.0
    contrast: float = 0.0
    exposure: float = 0.0
    hue: float = 0.0
    saturation: float = 0.0
    lightness: float = 0.0
    shadows: float = 0.0
    highlights: float = 0.0
    grayscale: bool = False
    colorize_color: RGBA | None = None
    colorize_opacity: int = 100
    colortone: str | None = None
    colortone_color: RGBA | None = None
    colortone_level: int = 100
    colortone_mode: ToneMode | None = None  # None: the preset's own mode (solid for colortone_color)
    colorlevel_black: int = 0
    colorlevel_white: int = 255

    def __post_init__(self) -> None:
        for name in ("brightness", "contrast", "exposure", "hue", "saturation", "lightness", "shadows", "highlights"):
            _check_range(name, getattr(self, name), -100, 100)
        _check_percent("colorize.opacity", self.colorize_opacity)
        _check_percent("colortone.level", self.colortone_level)
        _check_colour("colorize.color", self.colorize_color)
        _check_colour("colortone.color", self.colortone_color)
        if self.colortone is not None and self.colortone_color is not None:
            raise ValueError("colortone names a preset; colortone.color gives a colour instead: not both")
        if not 0 <= self.colorlevel_black < self.colorlevel_white <= 255:
            raise ValueError("colorlevel.black must be below colorlevel.white, both 0..255")

    @property
    def is_identity(self) -> bool:
        return self == _NO_COLOUR


_NO_COLOUR = ColourSpec()


@dataclass(frozen=True, slots=True)
class EffectsSpec:
    """Sirv's ``blur``, ``sharpen`` (0..100), ``vignette.value`` (0..100) with ``vignette.color``,
    and ``opacity`` (0..100, 100 = opaque). Radii scale with the image's size, never the source's."""

    blur: float = 0.0
    sharpen: float = 0.0
    vignette: int = 0
    vignette_color: RGBA = (0, 0, 0, 255)
    opacity: int = 100

    def __post_init__(self) -> None:
        _check_range("blur", self.blur, 0, 100)
        _check_range("sharpen", self.sharpen, 0, 100)
        _check_percent("vignette.value", self.vignette)
        _check_percent("opacity", self.opacity)
        _check_colour("vignette.color", self.vignette_color)

    @property
    def is_identity(self) -> bool:
        return self.blur == 0 and self.sharpen == 0 and self.vignette == 0 and self.opacity == 100


@dataclass(frozen=True, slots=True)
class FrameSpec:
    """Sirv's ``frame.*``: a frame of ``width`` output pixels around the image, and inside it a rim
    of ``rim_width`` pixels in ``rim_color`` next to the image. Both add to the output size."""

    style: FrameStyle = FrameStyle.SOLID
    color: RGBA = (0, 0, 0, 255)
    width: int = 0
    rim_color: RGBA = (255, 255, 255, 255)
    rim_width: int = 0

    def __post_init__(self) -> None:
        if self.width < 0 or self.rim_width < 0:
            raise ValueError("frame and rim widths must be 0 or more")
        _check_colour("frame.color", self.color)
        _check_colour("frame.rim.color", self.rim_color)

    @property
    def is_identity(self) -> bool:
        return self.style is FrameStyle.NONE or (self.width == 0 and self.rim_width == 0)


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Everything one render needs, in processing order."""

    trim: TrimSpec = field(default_factory=TrimSpec)
    resize: ResizeSpec = field(default_factory=ResizeSpec)
    crop: CropSpec = field(default_factory=CropSpec)
    canvas: CanvasSpec = field(default_factory=CanvasSpec)
    orient: OrientSpec = field(default_factory=OrientSpec)
    colour: ColourSpec = field(default_factory=ColourSpec)
    effects: EffectsSpec = field(default_factory=EffectsSpec)
    frame: FrameSpec = field(default_factory=FrameSpec)
    watermark: WatermarkSpec | None = None
    text: TextSpec | None = None
    output: OutputSpec = field(default_factory=OutputSpec)
    # Keys already worked out, per encoding: the origin asks for the key of the same (remembered)
    # options on every cache hit. Not part of the options' identity.
    _keys: dict[Encoding, str] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def cache_key(self, encoding: Encoding) -> str:
        """Canonical text of what decides the bytes once the format is negotiated: equal renders give
        equal keys, whatever the URL said (``format=webp`` and ``optimal`` resolved to WebP agree, and
        ``q`` counts only for an encoder that uses it)."""
        known = self._keys.get(encoding)
        if known is None:
            parts = [_canonical(getattr(self, f.name)) for f in fields(self) if f.name not in ("output", "_keys")]
            known = "|".join([*parts, encoding.value, *self.output.encoder_settings(encoding)])
            self._keys[encoding] = known
        return known


def _canonical(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Length):
        return value.canonical()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, str):
        return json.dumps(value)  # quoted and escaped: free text cannot forge a separator
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ":".join(_canonical(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return ",".join(_canonical(getattr(value, f.name)) for f in fields(value))  # type: ignore[arg-type]
    return str(value)


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """The bounds a render must respect (from the origin's settings)."""

    max_source_pixels: int = 50_000_000
    max_output_dimension: int = 8192
    max_animation_frames: int = 100
    max_animation_pixels: int = 50_000_000  # frames x output pixels of an animation that is kept
    source_formats: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "GIF", "AVIF"})
