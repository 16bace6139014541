"""The parameter registry: every name of SPEC §4, its aliases, group, parser and status.

``params.merge_params`` reads only this table, and the README's parameter table is printed from it
(``python -m origin.registry``), so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transforms import Length, OutputFormat, ScaleMode, Subsampling


class ValueProblem(ValueError):
    """A parameter value that does not parse; the message is shown to the client."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_dimension: int


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


def _not_yet(text: str, limits: Limits) -> Any:
    raise ValueProblem("not supported yet")


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


def _planned(group: str, names: str, signed_only: bool = False) -> list[Param]:
    """Names of the contract that this version recognises but cannot render yet: always a 400."""
    return [
        Param(name, group, _not_yet, "not supported yet", signed_only=signed_only, supported=False)
        for name in names.split()
    ]


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
    Param("cw", "crop", parse_size, "px or %"),
    Param("ch", "crop", parse_size, "px or %"),
    Param("cx", "crop", parse_offset, "px, % or center", "center"),
    Param("cy", "crop", parse_offset, "px, % or center", "center"),
    Param("crop.aspectratio", "crop", parse_ratio, "W:H"),
    *_planned("crop", "crop.type crop.pad.x crop.pad.y"),
    Param("rotate", "orientation", _decimal_range(-180, 180), "-180..180 degrees", "0"),
    Param("flip", "orientation", parse_bool, "true, false", "false"),
    Param("flop", "orientation", parse_bool, "true, false", "false"),
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
    *_planned("other", "profile", signed_only=True),
    *_planned(
        "canvas",
        "canvas.width canvas.height canvas.color canvas.position canvas.opacity canvas.aspectratio "
        "canvas.border.width canvas.border.height canvas.border.color canvas.border.opacity",
    ),
    *_planned(
        "light and colour",
        "brightness contrast exposure hue saturation lightness shadows highlights grayscale colorize "
        "colorize.color colorize.opacity colortone colortone.color colortone.level colortone.mode "
        "colorlevel.black colorlevel.white",
    ),
    *_planned("effects", "blur sharpen vignette.value vignette.color opacity"),
    *_planned("frame", "frame.style frame.color frame.width frame.rim.color frame.rim.width"),
    *_planned(
        "text",
        "text text.text64 text.size text.align text.position text.position.x text.position.y "
        "text.position.gravity text.font.family text.font.size text.font.style text.font.weight text.color "
        "text.opacity text.outline.width text.outline.color text.outline.opacity text.outline.blur "
        "text.background.color text.background.opacity",
        signed_only=True,
    ),
    *_planned(
        "watermark",
        "watermark watermark.position watermark.position.x watermark.position.y watermark.position.gravity "
        "watermark.scale.width watermark.scale.height watermark.scale.option watermark.opacity "
        "watermark.rotate watermark.layer",
        signed_only=True,
    ),
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
        if param.signed_only:
            notes.append("signed-only on protected paths")
        if not param.supported:
            notes.append("recognised, answered with 400 until implemented")
        values = param.values if param.supported else ""
        rows.append(f"| `{param.name}` | {param.group} | {values} | {param.default} | {'; '.join(notes)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
