"""Frozen, validated descriptions of what a render does.

Built once by ``origin.params`` from the merged request parameters and passed down unchanged.
Each class checks its own invariants in ``__post_init__``, so an invalid one cannot exist.
``RenderOptions.cache_key()`` is the canonical text of everything that decides the output bytes.
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Everything one render needs, in processing order."""

    resize: ResizeSpec = field(default_factory=ResizeSpec)
    crop: CropSpec = field(default_factory=CropSpec)
    orient: OrientSpec = field(default_factory=OrientSpec)
    output: OutputSpec = field(default_factory=OutputSpec)

    def cache_key(self) -> str:
        """Canonical text of the options: equal options give equal keys, whatever the URL said."""
        return "|".join(_canonical(getattr(self, f.name)) for f in fields(self))


def _canonical(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Length):
        return value.canonical()
    if isinstance(value, StrEnum):
        return value.value
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
    source_formats: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "GIF", "AVIF"})
