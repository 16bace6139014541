"""The parameter registry: every name of SPEC §4, its aliases, group, parser and status.

``params.merge_params`` reads only this table, and the README's parameter table is printed from it
(``python -m origin.registry``), so the two cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import ImageColor

from origin.errors import InvalidPathError
from origin.fonts import FAMILIES
from origin.paths import IMAGE_EXTENSIONS, check_path, extension
from transforms import (
    COLORTONE_PRESETS,
    FontStyle,
    FontWeight,
    FrameStyle,
    Gravity,
    Layer,
    Length,
    OutputFormat,
    ScaleMode,
    Subsampling,
    TextAlign,
    ToneMode,
)


class ValueProblem(ValueError):
    """A parameter value that does not parse; the message is shown to the client."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_dimension: int
    max_text_length: int = 500


Parser = Callable[[str, Limits], Any]

_INT = re.compile(r"[0-9]{1,7}", re.ASCII)
_SIGNED_DECIMAL = re.compile(r"-?[0-9]{1,4}(?:\.[0-9]{1,4})?", re.ASCII)
_PERCENT = re.compile(r"([0-9]{1,4}(?:\.[0-9]{1,4})?)%", re.ASCII)
_RATIO = re.compile(r"([0-9]{1,4}):([0-9]{1,4})", re.ASCII)


def parse_size(text: str, limits: Limits) -> Length:
    message = f"must be 1..{limits.max_dimension} or 1%..1000%"
    if _INT.fullmatch(text):
        value = int(text)
        if 1 <= value <= limits.max_dimension:
            return Length(value)
        raise ValueProblem(message)
    match = _PERCENT.fullmatch(text)
    if match and 0 < float(match.group(1)) <= 1000:
        return Length(float(match.group(1)), percent=True)
    raise ValueProblem(message)


def parse_offset(text: str, limits: Limits) -> Length | None:
    """Crop offsets: pixels, a percentage 0..100, or ``center`` (``None``)."""
    if text == "center":
        return None
    if _INT.fullmatch(text) and int(text) <= limits.max_dimension:
        return Length(int(text))
    match = _PERCENT.fullmatch(text)
    if match and float(match.group(1)) <= 100:
        return Length(float(match.group(1)), percent=True)
    raise ValueProblem(f"must be 0..{limits.max_dimension}, 0%..100% or center")


def parse_bool(text: str, limits: Limits) -> bool:
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueProblem("must be true or false")


def _int_range(low: int, high: int) -> Parser:
    def parse(text: str, limits: Limits) -> int:
        if _INT.fullmatch(text) and low <= int(text) <= high:
            return int(text)
        raise ValueProblem(f"must be a whole number {low}..{high}")

    return parse


def _decimal_range(low: float, high: float) -> Parser:
    def parse(text: str, limits: Limits) -> float:
        if _SIGNED_DECIMAL.fullmatch(text) and low <= float(text) <= high:
            return float(text) + 0.0  # -0 → 0
        raise ValueProblem(f"must be a number {low:g}..{high:g}")

    return parse


def _choice(*values: str, convert: Callable[[str], Any] = str) -> Parser:
    def parse(text: str, limits: Limits) -> Any:
        if text in values:
            return convert(text)
        raise ValueProblem("must be one of " + ", ".join(values))

    return parse


def parse_ratio(text: str, limits: Limits) -> tuple[int, int]:
    match = _RATIO.fullmatch(text)
    if match and int(match.group(1)) > 0 and int(match.group(2)) > 0:
        return int(match.group(1)), int(match.group(2))
    raise ValueProblem("must be W:H, two whole numbers above 0 (16:9)")


_HEX_COLOUR = re.compile(r"#?([0-9a-fA-F]{6})([0-9a-fA-F]{2})?", re.ASCII)
_PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)


def parse_colour(text: str, limits: Limits) -> tuple[int, int, int, int]:
    """Hex ``RRGGBB`` or ``RRGGBBAA`` (``#`` optional) or a CSS colour name."""
    match = _HEX_COLOUR.fullmatch(text)
    if match:
        rgb = bytes.fromhex(match.group(1))
        alpha = int(match.group(2), 16) if match.group(2) else 255
        return rgb[0], rgb[1], rgb[2], alpha
    if text.lower() in ImageColor.colormap:
        red, green, blue = ImageColor.getrgb(text.lower())[:3]
        return red, green, blue, 255
    raise ValueProblem("must be RRGGBB, RRGGBBAA or a CSS colour name")


def parse_position(text: str, limits: Limits) -> Length:
    """Overlay offsets from their anchor: pixels (of the source) or a percentage 0..100."""
    if _INT.fullmatch(text) and int(text) <= limits.max_dimension:
        return Length(int(text))
    match = _PERCENT.fullmatch(text)
    if match and float(match.group(1)) <= 100:
        return Length(float(match.group(1)), percent=True)
    raise ValueProblem(f"must be 0..{limits.max_dimension} or 0%..100%")


def parse_text(text: str, limits: Limits) -> str:
    if not text.strip():
        raise ValueProblem("must not be empty")
    if len(text) > limits.max_text_length:
        raise ValueProblem(f"must be at most {limits.max_text_length} characters")
    if any(ord(char) < 32 and char not in "\n" for char in text):
        raise ValueProblem("must not hold control characters")
    return text


def parse_text64(text: str, limits: Limits) -> str:
    """Base64 (standard or URL-safe alphabet, padding optional) of UTF-8 text."""
    cleaned = text.strip().replace("-", "+").replace("_", "/").replace(" ", "+")
    try:
        decoded = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueProblem("must be base64 of UTF-8 text") from exc
    return parse_text(decoded, limits)


def parse_text_size(text: str, limits: Limits) -> float:
    """``text.size``: the widest line's share of the image width, ``1..100`` with or without ``%``."""
    number = text[:-1] if text.endswith("%") else text
    if re.fullmatch(r"[0-9]{1,3}(?:\.[0-9]{1,2})?", number, re.ASCII) and 0 < float(number) <= 100:
        return float(number)
    raise ValueProblem("must be 1..100 (% of the image width)")


def parse_family(text: str, limits: Limits) -> str:
    if text in FAMILIES:
        return text
    raise ValueProblem("must be one of " + ", ".join(FAMILIES))


def parse_weight(text: str, limits: Limits) -> FontWeight:
    if text in ("normal", "bold"):
        return FontWeight(text)
    if re.fullmatch(r"[1-9]00", text, re.ASCII):
        return FontWeight.BOLD if int(text) >= 600 else FontWeight.NORMAL
    raise ValueProblem("must be normal, bold or 100..900")


def parse_image_path(text: str, limits: Limits) -> str:
    """A watermark: the canonical path of an image under the root (checked like any request path)."""
    try:
        path = check_path(text)  # already decoded once, by the query parser (or JSON in a token)
    except InvalidPathError as exc:  # the same rules as a request path
        raise ValueProblem(f"must be a canonical path under the root ({exc})") from exc
    if extension(path) not in IMAGE_EXTENSIONS:
        raise ValueProblem("must name an image (" + ", ".join(sorted(IMAGE_EXTENSIONS)) + ")")
    return path


def parse_watermark_position(text: str, limits: Limits) -> Gravity | None:
    """A gravity, or ``tile`` (``None``)."""
    if text == "tile":
        return None
    return _choice(*(g.value for g in Gravity), "tile", convert=Gravity)(text, limits)  # type: ignore[no-any-return]


def parse_profile_name(text: str, limits: Limits) -> str:
    if _PROFILE_NAME.fullmatch(text):
        return text
    raise ValueProblem("must be 1..64 letters, digits, '-' or '_'")


def parse_crop_type(text: str, limits: Limits) -> str:
    """``trim``; ``poi`` would need a point of interest stored with the image, which this origin has not."""
    if text == "trim":
        return text
    if text == "poi":
        raise ValueProblem("a point of interest cannot be given to this origin: place the crop with cx and cy")
    raise ValueProblem("must be trim")


def parse_pixels(text: str, limits: Limits) -> int:
    """A whole number of pixels, ``0..max_dimension``."""
    if _INT.fullmatch(text) and int(text) <= limits.max_dimension:
        return int(text)
    raise ValueProblem(f"must be a whole number 0..{limits.max_dimension}")


_FORMATS = tuple(f.value for f in OutputFormat)
_FALLBACKS = tuple(f.value for f in OutputFormat if f not in (OutputFormat.WEBP, OutputFormat.OPTIMAL))


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    group: str
    parse: Parser
    values: str  # for the documentation table
    default: str = ""
    aliases: tuple[str, ...] = ()
    signed_only: bool = False
    supported: bool = True
    slot: str | None = None  # the parameter this one sets in another spelling (text.text64 sets text)
    # changes which part of the source is shown, or where it lies in the output (locked under a signed
    # overlay: a trim, a crop or a wide canvas or frame could otherwise leave the overlay beside the image)
    reframes: bool = False

    @property
    def key(self) -> str:
        """The name its value is merged under."""
        return self.slot or self.name


def _light(name: str) -> Param:
    return Param(name, "light and colour", _decimal_range(-100, 100), "-100..100", "0")


_GRAVITIES = _choice(*(g.value for g in Gravity), convert=Gravity)
_FRAME_WIDTH = _int_range(0, 1000)


PARAMS: tuple[Param, ...] = (
    Param("w", "size", parse_size, "px or %", aliases=("scale.width",)),
    Param("h", "size", parse_size, "px or %", aliases=("scale.height",)),
    Param("s", "size", parse_size, "px or % (longest side)"),
    Param(
        "scale.option",
        "size",
        _choice(*(m.value for m in ScaleMode), convert=ScaleMode),
        "fit, fill, ignore, noup",
        "fit",
    ),
    Param("cw", "crop", parse_size, "px or %", reframes=True),
    Param("ch", "crop", parse_size, "px or %", reframes=True),
    Param("cx", "crop", parse_offset, "px, % or center", "center", reframes=True),
    Param("cy", "crop", parse_offset, "px, % or center", "center", reframes=True),
    Param("crop.aspectratio", "crop", parse_ratio, "W:H", reframes=True),
    Param("crop.type", "crop", parse_crop_type, "trim", reframes=True),
    Param("crop.pad.x", "crop", parse_position, "px or % (needs crop.type=trim)", "0", reframes=True),
    Param("crop.pad.y", "crop", parse_position, "px or % (needs crop.type=trim)", "0", reframes=True),
    Param("canvas.width", "canvas", parse_size, "px or %", reframes=True),
    Param("canvas.height", "canvas", parse_size, "px or %", reframes=True),
    Param("canvas.color", "canvas", parse_colour, "colour", "FFFFFF"),
    Param("canvas.position", "canvas", _GRAVITIES, "gravity", "center", reframes=True),
    Param("canvas.opacity", "canvas", _int_range(0, 100), "0..100", "100"),
    Param("canvas.aspectratio", "canvas", parse_ratio, "W:H", reframes=True),
    Param("canvas.border.width", "canvas", parse_pixels, "px", "0", reframes=True),
    Param("canvas.border.height", "canvas", parse_pixels, "px", "0", reframes=True),
    Param("canvas.border.color", "canvas", parse_colour, "colour", "canvas.color"),
    Param("canvas.border.opacity", "canvas", _int_range(0, 100), "0..100", "100"),
    Param("rotate", "orientation", _decimal_range(-180, 180), "-180..180 degrees", "0"),
    Param("flip", "orientation", parse_bool, "true, false", "false"),
    Param("flop", "orientation", parse_bool, "true, false", "false"),
    *(_light(name) for name in ("brightness", "contrast", "exposure", "hue", "saturation", "lightness")),
    *(_light(name) for name in ("shadows", "highlights")),
    Param("grayscale", "light and colour", parse_bool, "true, false", "false"),
    Param("colorize.color", "light and colour", parse_colour, "colour", aliases=("colorize",)),
    Param("colorize.opacity", "light and colour", _int_range(0, 100), "0..100", "100"),
    Param("colortone", "light and colour", _choice(*COLORTONE_PRESETS), ", ".join(COLORTONE_PRESETS)),
    Param("colortone.color", "light and colour", parse_colour, "colour (instead of a colortone name)"),
    Param("colortone.level", "light and colour", _int_range(0, 100), "0..100 (% of a preset's own level)", "100"),
    Param(
        "colortone.mode",
        "light and colour",
        _choice(*(m.value for m in ToneMode), convert=ToneMode),
        ", ".join(m.value for m in ToneMode),
        "the preset's own; solid for colortone.color",
    ),
    Param("colorlevel.black", "light and colour", _int_range(0, 255), "0..255 (below colorlevel.white)", "0"),
    Param("colorlevel.white", "light and colour", _int_range(0, 255), "0..255", "255"),
    Param("blur", "effects", _decimal_range(0, 100), "0..100", "0"),
    Param("sharpen", "effects", _decimal_range(0, 100), "0..100", "0"),
    Param("vignette.value", "effects", _int_range(0, 100), "0..100", "0"),
    Param("vignette.color", "effects", parse_colour, "colour", "000000"),
    Param("opacity", "effects", _int_range(0, 100), "0..100", "100"),
    Param(
        "frame.style",
        "frame",
        _choice(*(s.value for s in FrameStyle), convert=FrameStyle),
        ", ".join(s.value for s in FrameStyle),
        "solid",
    ),
    Param("frame.color", "frame", parse_colour, "colour", "000000"),
    Param("frame.width", "frame", _FRAME_WIDTH, "0..1000 px", "0", reframes=True),
    Param("frame.rim.color", "frame", parse_colour, "colour", "FFFFFF"),
    Param("frame.rim.width", "frame", _FRAME_WIDTH, "0..1000 px", "0", reframes=True),
    Param("text", "text", parse_text, "UTF-8 text", signed_only=True),
    Param("text.text64", "text", parse_text64, "base64 of UTF-8 text", signed_only=True, slot="text"),
    Param("text.size", "text", parse_text_size, "1..100 (% of the width)", signed_only=True),
    Param(
        "text.align",
        "text",
        _choice(*(a.value for a in TextAlign), convert=TextAlign),
        "left, center, right",
        "center",
        signed_only=True,
    ),
    Param(
        "text.position",
        "text",
        _choice(*(g.value for g in Gravity), convert=Gravity),
        "gravity",
        "center",
        aliases=("text.position.gravity",),
        signed_only=True,
    ),
    Param("text.position.x", "text", parse_position, "px or %", signed_only=True),
    Param("text.position.y", "text", parse_position, "px or %", signed_only=True),
    Param("text.font.family", "text", parse_family, ", ".join(FAMILIES), "sans", signed_only=True),
    Param("text.font.size", "text", _int_range(1, 8192), "px", signed_only=True),
    Param(
        "text.font.style",
        "text",
        _choice(*(f.value for f in FontStyle), convert=FontStyle),
        "normal, italic",
        "normal",
        signed_only=True,
    ),
    Param("text.font.weight", "text", parse_weight, "normal, bold, 100..900", "normal", signed_only=True),
    Param("text.color", "text", parse_colour, "colour", "FFFFFF", signed_only=True),
    Param("text.opacity", "text", _int_range(0, 100), "0..100", "100", signed_only=True),
    Param("text.outline.width", "text", _int_range(0, 1000), "px", "0", signed_only=True),
    Param("text.outline.color", "text", parse_colour, "colour", "000000", signed_only=True),
    Param("text.outline.opacity", "text", _int_range(0, 100), "0..100", "100", signed_only=True),
    Param("text.outline.blur", "text", _int_range(0, 100), "px", "0", signed_only=True),
    Param("text.background.color", "text", parse_colour, "colour", "none", signed_only=True),
    Param("text.background.opacity", "text", _int_range(0, 100), "0..100", "100", signed_only=True),
    Param("watermark", "watermark", parse_image_path, "path of an image under the root", signed_only=True),
    Param(
        "watermark.position",
        "watermark",
        parse_watermark_position,
        "gravity or tile",
        "center",
        aliases=("watermark.position.gravity",),
        signed_only=True,
    ),
    Param("watermark.position.x", "watermark", parse_position, "px or %", signed_only=True),
    Param("watermark.position.y", "watermark", parse_position, "px or %", signed_only=True),
    Param("watermark.scale.width", "watermark", parse_size, "px or %", signed_only=True),
    Param("watermark.scale.height", "watermark", parse_size, "px or %", signed_only=True),
    Param(
        "watermark.scale.option",
        "watermark",
        _choice(*(m.value for m in ScaleMode), convert=ScaleMode),
        "fit, fill, ignore, noup",
        "fit",
        signed_only=True,
    ),
    Param("watermark.opacity", "watermark", _int_range(0, 100), "0..100", "100", signed_only=True),
    Param("watermark.rotate", "watermark", _decimal_range(-180, 180), "-180..180 degrees", "0", signed_only=True),
    Param(
        "watermark.layer",
        "watermark",
        _choice(*(layer.value for layer in Layer), convert=Layer),
        "front, back",
        "front",
        signed_only=True,
    ),
    Param("format", "output", _choice(*_FORMATS, convert=OutputFormat), ", ".join(_FORMATS), "original"),
    Param("q", "output", _int_range(1, 100), "1..100", "80", aliases=("quality",)),
    Param(
        "subsampling",
        "output",
        _choice(*(s.value for s in Subsampling), convert=Subsampling),
        "4:4:4, 4:2:2, 4:2:0",
        "4:2:0",
    ),
    Param("progressive", "output", parse_bool, "true, false", "false"),
    Param("webp-fallback", "output", _choice(*_FALLBACKS, convert=OutputFormat), ", ".join(_FALLBACKS)),
    Param("dl", "other", parse_bool, "true, false", "false"),
    Param("profile", "other", parse_profile_name, "name of a JSON file in profiles_dir", signed_only=True),
)

BY_NAME: dict[str, Param] = {}
for _param in PARAMS:
    for _name in (_param.name, *_param.aliases):
        BY_NAME[_name] = _param


def markdown_table() -> str:
    """The README's parameter table, from this registry."""
    rows = ["| parameter | group | values | default | notes |", "|---|---|---|---|---|"]
    for param in PARAMS:
        notes = []
        if param.aliases:
            notes.append("alias " + ", ".join(f"`{a}`" for a in param.aliases))
        if param.slot:
            notes.append(f"sets `{param.slot}`")
        if param.signed_only:
            notes.append("signed-only on protected paths")
        if param.reframes:
            notes.append("signed-only under a signed overlay")
        if not param.supported:
            notes.append("recognised, answered with 400 until implemented")
        values = param.values if param.supported else ""
        rows.append(f"| `{param.name}` | {param.group} | {values} | {param.default} | {'; '.join(notes)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
