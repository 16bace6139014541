"""Merging the request's parameters into one frozen ``RenderOptions`` (SPEC §4).

Layers, later winning: defaults (settings), the unsigned query, the token's signed ``args``.
Every problem is collected and reported together, named as the client wrote it; nothing is
ignored or fixed up. No parameter dict travels past this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from origin.errors import ParameterError
from origin.registry import BY_NAME, Limits, ValueProblem
from origin.settings import Rule, Settings
from transforms import CropSpec, OrientSpec, OutputSpec, RenderOptions, ResizeSpec

ArgValue = str | int | float | bool

UNKNOWN = "unknown parameter"
REPEATED = "repeated parameter"
SIGNED_ONLY = "allowed only in signed args"
NOT_ALLOWED = "not allowed unsigned on this path"


@dataclass(frozen=True, slots=True)
class Merged:
    options: RenderOptions
    download: bool
    ignored: tuple[str, ...]  # unsigned names that the token overrode (X-Ignored-Params)


def merge_params(
    unsigned: Sequence[tuple[str, str]],
    signed: Mapping[str, ArgValue] | None,
    rule: Rule,
    settings: Settings,
) -> Merged:
    problems: dict[str, str] = {}
    allowed = None
    if rule.unsigned_allowed is not None:
        allowed = {BY_NAME[name].name if name in BY_NAME else name for name in rule.unsigned_allowed}

    query = _canonical_layer(unsigned, problems)
    for canonical, (given, _) in query.items():
        param = BY_NAME[canonical]
        if rule.protect and param.signed_only:
            problems[given] = SIGNED_ONLY
        elif rule.protect and allowed is not None and canonical not in allowed:
            problems[given] = NOT_ALLOWED

    args = _canonical_layer([(name, _arg_text(value)) for name, value in (signed or {}).items()], problems)

    limits = Limits(max_dimension=settings.max_output_dimension)
    defaults = _parse_layer({"format": ("format", settings.default_format.value)}, limits, problems)
    unsigned_values = _parse_layer(query, limits, problems)  # checked even where the token overrides
    signed_values = _parse_layer(args, limits, problems)
    if problems:
        raise ParameterError(problems)
    values = {**defaults, **unsigned_values, **signed_values}
    ignored = tuple(given for canonical, (given, _) in query.items() if canonical in args)

    try:
        options = _build(values)
    except ValueError as exc:
        raise ParameterError({"parameters": str(exc)}) from exc
    return Merged(options=options, download=bool(values.get("dl", False)), ignored=ignored)


def _parse_layer(layer: Mapping[str, tuple[str, str]], limits: Limits, problems: dict[str, str]) -> dict[str, Any]:
    """Each value of one layer parsed by its registry entry; failures are added to ``problems``."""
    values: dict[str, Any] = {}
    for canonical, (given, text) in layer.items():
        if given in problems:
            continue
        try:
            values[canonical] = BY_NAME[canonical].parse(text, limits)
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
        elif param.name in layer:
            problems[given] = REPEATED
            problems[layer[param.name][0]] = REPEATED
        else:
            layer[param.name] = (given, text)
    return layer


def _arg_text(value: ArgValue) -> str:
    """Signed values are JSON scalars; they are parsed by the same rules as query text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def _build(values: Mapping[str, Any]) -> RenderOptions:
    """The frozen options from parsed values (the specs check cross-field rules themselves)."""
    output_defaults = OutputSpec()
    return RenderOptions(
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
        orient=OrientSpec(
            rotate=values.get("rotate", 0.0),
            flip=values.get("flip", False),
            flop=values.get("flop", False),
        ),
        output=OutputSpec(
            format=values["format"],
            quality=values.get("q", output_defaults.quality),
            subsampling=values.get("subsampling"),
            progressive=values.get("progressive", False),
            webp_fallback=values.get("webp-fallback"),
        ),
    )


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
