"""Merging the request's parameters into one frozen ``RenderOptions`` (SPEC §4).

Layers, later winning: defaults (settings), the requested profile, the unsigned query, the token's
signed ``args``, the rule's strict profile. Every problem is collected and reported together,
named as the client wrote it; nothing is ignored or fixed up. No parameter dict travels past this
module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from cachetools import LRUCache

from origin.errors import ParameterError
from origin.registry import BY_NAME, Limits, ValueProblem
from origin.settings import Rule, Settings
from transforms import (
    CanvasSpec,
    ColourSpec,
    CropSpec,
    EffectsSpec,
    FrameSpec,
    OrientSpec,
    OutputSpec,
    RenderOptions,
    ResizeSpec,
    ScaleMode,
    TextSpec,
    TrimSpec,
    WatermarkSpec,
)

ArgValue = str | int | float | bool

UNKNOWN = "unknown parameter"
REPEATED = "repeated parameter"
SIGNED_ONLY = "allowed only in signed args"
NOT_ALLOWED = "not allowed unsigned on this path"

_TEXT_FIELDS = {
    "text.size": "size", "text.font.size": "font_size", "text.align": "align", "text.position": "gravity",
    "text.position.x": "x", "text.position.y": "y", "text.font.family": "family", "text.font.style": "style",
    "text.font.weight": "weight", "text.color": "color", "text.opacity": "opacity",
    "text.outline.width": "outline_width", "text.outline.color": "outline_color",
    "text.outline.opacity": "outline_opacity", "text.outline.blur": "outline_blur",
    "text.background.color": "background_color", "text.background.opacity": "background_opacity",
}  # fmt: skip
_WATERMARK_FIELDS = {
    "watermark.position.x": "x", "watermark.position.y": "y", "watermark.scale.width": "width",
    "watermark.scale.height": "height", "watermark.scale.option": "scale_mode", "watermark.opacity": "opacity",
    "watermark.rotate": "rotate", "watermark.layer": "layer",
}  # fmt: skip
_CANVAS_FIELDS = {
    "canvas.width": "width", "canvas.height": "height", "canvas.color": "color", "canvas.position": "position",
    "canvas.opacity": "opacity", "canvas.aspectratio": "aspect_ratio", "canvas.border.width": "border_width",
    "canvas.border.height": "border_height", "canvas.border.color": "border_color",
    "canvas.border.opacity": "border_opacity",
}  # fmt: skip
_COLOUR_FIELDS = {
    "brightness": "brightness", "contrast": "contrast", "exposure": "exposure", "hue": "hue",
    "saturation": "saturation", "lightness": "lightness", "shadows": "shadows", "highlights": "highlights",
    "grayscale": "grayscale", "colorize.color": "colorize_color", "colorize.opacity": "colorize_opacity",
    "colortone": "colortone", "colortone.color": "colortone_color", "colortone.level": "colortone_level",
    "colortone.mode": "colortone_mode", "colorlevel.black": "colorlevel_black", "colorlevel.white": "colorlevel_white",
}  # fmt: skip
_EFFECTS_FIELDS = {
    "blur": "blur", "sharpen": "sharpen", "vignette.value": "vignette", "vignette.color": "vignette_color",
    "opacity": "opacity",
}  # fmt: skip
_FRAME_FIELDS = {
    "frame.style": "style", "frame.color": "color", "frame.width": "width", "frame.rim.color": "rim_color",
    "frame.rim.width": "rim_width",
}  # fmt: skip
_TRIM_PADS = {"crop.pad.x": "pad_x", "crop.pad.y": "pad_y"}
REQUIRES_TRIM = "requires crop.type=trim"


@dataclass(frozen=True, slots=True)
class Merged:
    options: RenderOptions
    download: bool
    ignored: tuple[str, ...]  # unsigned names overridden by a higher layer (X-Ignored-Params)
    watermark_origin: str | None  # who chose the watermark: "query", "args" or "strict" (trusted)


@dataclass(frozen=True, slots=True)
class RequestedProfile:
    name: str
    origin: str  # "query" (public rules only) or "args": the profile speaks with its requester's authority


def requested_profile(
    unsigned: Sequence[tuple[str, str]], signed: Mapping[str, ArgValue] | None, rule: Rule
) -> RequestedProfile | None:
    """The profile a request names: the token's, else (on public rules only) the query's."""
    if signed is not None and "profile" in signed:
        return RequestedProfile(_arg_text(signed["profile"]), "args")
    if not rule.protect:
        names = [value for name, value in unsigned if name == "profile"]
        return RequestedProfile(names[0], "query") if len(names) == 1 else None
    return None


# An overlay is described by one layer: the highest that names its main parameter. The group's
# other parameters from any other layer are dropped, so nobody below a signed or strict overlay can
# fade, shrink or move it by setting one of its details.
_GROUPS = {"text": "text", "watermark": "watermark"}
_LOCKING_ORIGINS = ("args", "strict")
REFRAMES_UNDER_OVERLAY = "not allowed unsigned under a signed overlay"


def merge_params(
    unsigned: Sequence[tuple[str, str]],
    signed: Mapping[str, ArgValue] | None,
    rule: Rule,
    settings: Settings,
    *,
    profile: Mapping[str, ArgValue] | None = None,
    profile_origin: str = "args",
    strict: Mapping[str, ArgValue] | None = None,
) -> Merged:
    problems: dict[str, str] = {}
    allowed = None
    if rule.unsigned_allowed is not None:
        allowed = {BY_NAME[name].key if name in BY_NAME else name for name in rule.unsigned_allowed}

    query = _canonical_layer(unsigned, problems)
    for canonical, (given, _) in query.items():
        param = BY_NAME[given]
        if rule.protect and param.signed_only:
            problems[given] = SIGNED_ONLY
        elif rule.protect and allowed is not None and canonical not in allowed:
            problems[given] = NOT_ALLOWED
    args = _canonical_layer(_texts(signed), problems)

    limits = Limits(max_dimension=settings.max_output_dimension, max_text_length=settings.max_text_length)
    layers: dict[str, dict[str, Any]] = {  # lowest first
        "defaults": _parse_layer({"format": ("format", settings.default_format.value)}, limits, problems),
        "profile": _profile_layer(profile, "profile", limits, problems),
        "query": _parse_layer(query, limits, problems),  # checked even where a higher layer overrides it
        "args": _parse_layer(args, limits, problems),
        "strict": _profile_layer(strict, "profile (strict)", limits, problems),
    }
    if problems:
        raise ParameterError(problems)

    origins = {"defaults": "defaults", "profile": profile_origin, "query": "query", "args": "args", "strict": "strict"}
    dropped: set[str] = set()
    owners: dict[str, str] = {}
    for group, main in _GROUPS.items():
        owner = next((name for name in reversed(layers) if main in layers[name]), None)
        if owner is None:
            continue
        owners[group] = origins[owner]
        for name, layer in layers.items():
            for key in [key for key in layer if name != owner and BY_NAME[key].group == group]:
                del layer[key]
                if name == "query":
                    dropped.add(key)

    if any(origin in _LOCKING_ORIGINS for origin in owners.values()):
        for canonical, (given, _) in query.items():
            value = layers["query"].get(canonical)
            if BY_NAME[given].reframes or (canonical == "scale.option" and value is ScaleMode.FILL):
                problems[given] = REFRAMES_UNDER_OVERLAY
        if problems:
            raise ParameterError(problems)

    values: dict[str, Any] = {}
    for layer in layers.values():
        values.update(layer)
    values.pop("profile", None)  # already applied as a layer
    higher = layers["args"].keys() | layers["strict"].keys() | dropped
    ignored = tuple(given for canonical, (given, _) in query.items() if canonical in higher)

    spelled = {canonical: given for layer in (query, args) for canonical, (given, _) in layer.items()}
    options = _build(values, spelled, problems)
    if problems:
        raise ParameterError(problems)
    assert options is not None
    return Merged(
        options=options,
        download=bool(values.get("dl", False)),
        ignored=ignored,
        watermark_origin=owners.get("watermark"),
    )


MemoKey = tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str, ArgValue], ...] | None]


class MergeMemo:
    """Merged options of requests without profiles, by rule, unsigned query and signed ``args``: the
    same URL asked again (a cache hit, a 304) is not parsed and merged again. Only successes are kept
    (a refusal is cheap to repeat and must not fill the memo); bounded, least recently used go.
    Profiles are files that may change, so requests naming one are merged every time."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._entries: LRUCache[MemoKey, Merged] = LRUCache(max_entries)

    @staticmethod
    def key(unsigned: Sequence[tuple[str, str]], signed: Mapping[str, ArgValue] | None, rule: Rule) -> MemoKey:
        # The type is part of a signed value's identity: True == 1 in Python, not in a token.
        typed = None if signed is None else tuple((name, type(value).__name__, value) for name, value in signed.items())
        return rule.prefix, tuple(unsigned), typed

    def get(self, key: MemoKey) -> Merged | None:
        return self._entries.get(key)

    def put(self, key: MemoKey, merged: Merged) -> None:
        self._entries[key] = merged


def _texts(values: Mapping[str, ArgValue] | None) -> list[tuple[str, str]]:
    return [(name, _arg_text(value)) for name, value in (values or {}).items()]


def _profile_layer(
    values: Mapping[str, ArgValue] | None, label: str, limits: Limits, problems: dict[str, str]
) -> dict[str, Any]:
    """A profile's parameters, checked like the others; its problems are reported under ``label``."""
    if values is None:
        return {}
    found: dict[str, str] = {}
    parsed = _parse_layer(_canonical_layer(_texts(values), found), limits, found)
    if "profile" in parsed:
        found["profile"] = "a profile cannot name another profile"
    if found:
        problems[label] = "; ".join(f"{name}: {why}" for name, why in found.items())
    return parsed


def _parse_layer(layer: Mapping[str, tuple[str, str]], limits: Limits, problems: dict[str, str]) -> dict[str, Any]:
    """Each value of one layer parsed by its registry entry; failures are added to ``problems``."""
    values: dict[str, Any] = {}
    for canonical, (given, text) in layer.items():
        if given in problems:
            continue
        try:
            values[canonical] = BY_NAME[given].parse(text, limits)
        except ValueProblem as exc:
            problems[given] = str(exc)
    return values


def _canonical_layer(pairs: Sequence[tuple[str, str]], problems: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Map each pair to its canonical name; unknown and repeated names (aliases included) are problems."""
    layer: dict[str, tuple[str, str]] = {}
    for given, text in pairs:
        param = BY_NAME.get(given)
        if param is None:
            problems[given] = UNKNOWN
        elif param.key in layer:
            problems[given] = REPEATED
            problems[layer[param.key][0]] = REPEATED
        else:
            layer[param.key] = (given, text)
    return layer


def _arg_text(value: ArgValue) -> str:
    """Signed values are JSON scalars; they are parsed by the same rules as query text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def _build(values: Mapping[str, Any], spelled: Mapping[str, str], problems: dict[str, str]) -> RenderOptions | None:
    """The frozen options from parsed values (the specs check cross-field rules themselves)."""
    output_defaults = OutputSpec()
    try:
        return RenderOptions(
            trim=_trim(values, spelled, problems),
            resize=ResizeSpec(
                width=values.get("w"),
                height=values.get("h"),
                longest=values.get("s"),
                mode=values.get("scale.option", ResizeSpec().mode),
            ),
            crop=CropSpec(
                width=values.get("cw"),
                height=values.get("ch"),
                x=values.get("cx"),
                y=values.get("cy"),
                aspect_ratio=values.get("crop.aspectratio"),
            ),
            canvas=_spec(CanvasSpec, _CANVAS_FIELDS, values, spelled, problems),
            orient=OrientSpec(
                rotate=values.get("rotate", 0.0),
                flip=values.get("flip", False),
                flop=values.get("flop", False),
            ),
            colour=_spec(ColourSpec, _COLOUR_FIELDS, values, spelled, problems),
            effects=_spec(EffectsSpec, _EFFECTS_FIELDS, values, spelled, problems),
            frame=_spec(FrameSpec, _FRAME_FIELDS, values, spelled, problems),
            watermark=_watermark(values, spelled, problems),
            text=_text(values, spelled, problems),
            output=OutputSpec(
                format=values["format"],
                quality=values.get("q", output_defaults.quality),
                subsampling=values.get("subsampling"),
                progressive=values.get("progressive", False),
                webp_fallback=values.get("webp-fallback"),
            ),
        )
    except ValueError as exc:
        problems.setdefault("parameters", str(exc))
        return None


def _trim(values: Mapping[str, Any], spelled: Mapping[str, str], problems: dict[str, str]) -> TrimSpec:
    if values.get("crop.type") == "trim":
        return _spec(TrimSpec, _TRIM_PADS, values, spelled, problems, enabled=True)
    for name in _TRIM_PADS:
        if name in values:
            problems[spelled.get(name, name)] = REQUIRES_TRIM
    return TrimSpec()


_Spec = TypeVar("_Spec", CanvasSpec, ColourSpec, EffectsSpec, FrameSpec, TrimSpec)


def _spec(
    kind: type[_Spec],
    names: Mapping[str, str],
    values: Mapping[str, Any],
    spelled: Mapping[str, str],
    problems: dict[str, str],
    **extra: Any,
) -> _Spec:
    """``kind`` from the values of its parameters (``names``: parameter -> field).

    Each value is already in range; what the spec can still refuse is a combination (``colortone``
    with ``colortone.color``, ``colorlevel.black`` not below ``.white``). Its message is reported under
    the given parameters it names, or under all of them when it names none.
    """
    given = [name for name in names if name in values]
    try:
        return kind(**{names[name]: values[name] for name in given}, **extra)
    except ValueError as exc:
        named = set(re.findall(r"[a-z]+(?:\.[a-z]+)*", str(exc)))
        blamed = [name for name in given if name in named or spelled.get(name) in named] or given
        for name in blamed:
            problems[spelled.get(name, name)] = str(exc)
        return kind()


def _text(values: Mapping[str, Any], spelled: Mapping[str, str], problems: dict[str, str]) -> TextSpec | None:
    given = [name for name in _TEXT_FIELDS if name in values]
    text = values.get("text")
    if text is None:
        if given:
            problems["text"] = "required by " + ", ".join(spelled.get(name, name) for name in given)
        return None
    fields = {field: values[name] for name, field in _TEXT_FIELDS.items() if name in values}
    try:
        return TextSpec(text=text, **fields)
    except ValueError as exc:
        problems["text"] = str(exc)
        return None


def _watermark(values: Mapping[str, Any], spelled: Mapping[str, str], problems: dict[str, str]) -> WatermarkSpec | None:
    given = [name for name in (*_WATERMARK_FIELDS, "watermark.position") if name in values]
    if "watermark" not in values:
        if given:
            problems["watermark"] = "required by " + ", ".join(spelled.get(name, name) for name in given)
        return None
    fields = {field: values[name] for name, field in _WATERMARK_FIELDS.items() if name in values}
    if "watermark.position" in values:
        position = values["watermark.position"]
        fields["tile"] = position is None
        if position is not None:
            fields["gravity"] = position
    try:
        return WatermarkSpec(path=values["watermark"], **fields)
    except ValueError as exc:
        problems["watermark"] = str(exc)
        return None


MAX_QUERY_FIELDS = 100


def parse_query(raw: bytes) -> list[tuple[str, str]]:
    """The query string as ordered pairs (``&`` separated, one round of decoding, UTF-8 strictly)."""
    if not raw:
        return []
    try:
        text = raw.decode("ascii")
        return parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_QUERY_FIELDS
        )
    except UnicodeError as exc:
        raise ParameterError({"query": "must be percent-encoded UTF-8"}) from exc
    except ValueError as exc:
        raise ParameterError({"query": f"at most {MAX_QUERY_FIELDS} parameters"}) from exc
