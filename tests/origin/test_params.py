from __future__ import annotations

from typing import Any

import pytest

from origin.errors import ParameterError
from origin.params import Merged, merge_params, parse_query
from origin.settings import Rule, Settings
from tests.conftest import FIXTURES, SECRET
from transforms import (
    COLORTONE_PRESETS,
    CanvasSpec,
    ColourSpec,
    EffectsSpec,
    Encoding,
    FontWeight,
    FrameSpec,
    FrameStyle,
    Gravity,
    Layer,
    Length,
    OutputFormat,
    ScaleMode,
    Subsampling,
    ToneMode,
    TrimSpec,
)

PROTECTED = Rule(prefix="/", protect=True)
PUBLIC = Rule(prefix="/", protect=False)


@pytest.fixture
def settings() -> Settings:
    return Settings(root=FIXTURES, keys={"main": SECRET})


def merge(settings: Settings, query: str = "", args: dict[str, Any] | None = None, rule: Rule = PROTECTED) -> Merged:
    return merge_params(parse_query(query.encode()), args, rule, settings)


def problems(
    settings: Settings, query: str = "", args: dict[str, Any] | None = None, rule: Rule = PROTECTED
) -> dict[str, str]:
    with pytest.raises(ParameterError) as info:
        merge(settings, query, args, rule)
    return info.value.problems


def test_no_parameters_gives_defaults(settings: Settings) -> None:
    merged = merge(settings)
    assert merged.options.resize.is_identity
    assert merged.options.output.format is OutputFormat.ORIGINAL
    assert merged.options.output.quality == 80
    assert merged.download is False
    assert merged.ignored == ()


def test_default_format_comes_from_settings(settings: Settings) -> None:
    optimal = Settings(root=FIXTURES, keys={"main": SECRET}, default_format=OutputFormat.OPTIMAL)
    assert merge(optimal).options.output.format is OutputFormat.OPTIMAL
    assert merge(optimal, "format=png").options.output.format is OutputFormat.PNG


@pytest.mark.parametrize(
    ("query", "field", "expected"),
    [
        ("w=300", "width", Length(300)),
        ("scale.width=300", "width", Length(300)),
        ("h=40%25", "height", Length(40, percent=True)),
        ("scale.height=12.5%25", "height", Length(12.5, percent=True)),
        ("s=500", "longest", Length(500)),
        ("scale.option=fill", "mode", ScaleMode.FILL),
        ("scale.option=noup", "mode", ScaleMode.NOUP),
        ("scale.option=ignore", "mode", ScaleMode.IGNORE),
    ],
)
def test_size_parameters(settings: Settings, query: str, field: str, expected: object) -> None:
    assert getattr(merge(settings, query).options.resize, field) == expected


def test_crop_orientation_and_output_parameters(settings: Settings) -> None:
    options = merge(
        settings,
        "cw=200&ch=50%25&cx=center&cy=10&crop.aspectratio=16:9&rotate=-90&flip=true&flop=false"
        "&format=webp&quality=70&subsampling=4:4:4&progressive=true&webp-fallback=png&dl=true",
    )
    crop, orient, output = options.options.crop, options.options.orient, options.options.output
    assert (crop.width, crop.height, crop.x, crop.y) == (Length(200), Length(50, True), None, Length(10))
    assert crop.aspect_ratio == (16, 9)
    assert (orient.rotate, orient.flip, orient.flop) == (-90.0, True, False)
    assert output.format is OutputFormat.WEBP and output.quality == 70
    assert output.subsampling is Subsampling.S444 and output.progressive is True
    assert output.webp_fallback is OutputFormat.PNG
    assert options.download is True


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "8193",
        "-1",
        "+100",
        " 100",
        "100 ",
        "1_000",
        "１００",
        "1e3",
        "NaN",
        "inf",
        "0%",
        "1001%",
        "abc",
        "",
        "10px",
        "0x10",
        "100.0",
        "5%%",
    ],
)
def test_sizes_are_parsed_strictly(settings: Settings, value: str) -> None:
    from urllib.parse import quote

    assert problems(settings, f"w={quote(value)}") == {"w": "must be 1..8192 or 1%..1000%"}


def test_size_bound_follows_max_output_dimension() -> None:
    small = Settings(root=FIXTURES, keys={"main": SECRET}, max_output_dimension=1000)
    assert problems(small, "w=1001") == {"w": "must be 1..1000 or 1%..1000%"}
    assert merge(small, "w=1000").options.resize.width == Length(1000)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("q=0", "q"),
        ("q=101", "q"),
        ("quality=abc", "quality"),
        ("rotate=181", "rotate"),
        ("rotate=1e2", "rotate"),
        ("flip=yes", "flip"),
        ("format=jpeg2000", "format"),
        ("format=JPG", "format"),
        ("subsampling=4:1:1", "subsampling"),
        ("scale.option=cover", "scale.option"),
        ("cx=101%25", "cx"),
        ("crop.aspectratio=16x9", "crop.aspectratio"),
        ("crop.aspectratio=0:9", "crop.aspectratio"),
        ("webp-fallback=webp", "webp-fallback"),
        ("dl=maybe", "dl"),
    ],
)
def test_out_of_range_values_name_the_parameter(settings: Settings, query: str, name: str) -> None:
    assert list(problems(settings, query)) == [name]


def test_every_failing_parameter_is_named_at_once(settings: Settings) -> None:
    found = problems(settings, "w=0&h=abc&bogus=1&q=1000&text=hi")
    assert found == {
        "w": "must be 1..8192 or 1%..1000%",
        "h": "must be 1..8192 or 1%..1000%",
        "bogus": "unknown parameter",
        "q": "must be a whole number 1..100",
        "text": "allowed only in signed args",
    }


@pytest.mark.parametrize("query", ["w=1&w=2", "w=1&scale.width=2", "q=5&quality=6"])
def test_repeated_parameters_are_rejected_alias_or_not(settings: Settings, query: str) -> None:
    found = problems(settings, query)
    assert set(found.values()) == {"repeated parameter"}
    assert set(found) == {pair.split("=")[0] for pair in query.split("&")}


@pytest.mark.parametrize("name", ["text", "text.color", "text.text64", "watermark", "watermark.opacity", "profile"])
def test_signed_only_parameters_are_rejected_unsigned_on_protected_paths(settings: Settings, name: str) -> None:
    assert problems(settings, f"{name}=x") == {name: "allowed only in signed args"}
    # ... whether or not the token sets them too
    assert problems(settings, f"{name}=x", args={name: "y"}) == {name: "allowed only in signed args"}


def test_imaging_parameters_build_their_specs(settings: Settings) -> None:
    options = merge(
        settings,
        "crop.type=trim&crop.pad.x=5&crop.pad.y=10%25"
        "&canvas.width=120%25&canvas.height=900&canvas.color=red&canvas.position=northeast&canvas.opacity=50"
        "&canvas.aspectratio=4:3&canvas.border.width=7&canvas.border.height=8&canvas.border.color=00FF0080"
        "&canvas.border.opacity=30"
        "&brightness=-12.5&contrast=20&exposure=3&hue=-100&saturation=100&lightness=1&shadows=2&highlights=-3"
        "&grayscale=true&colorize=blue&colorize.opacity=40&colortone=sepia&colortone.level=60"
        "&colortone.mode=shadows&colorlevel.black=10&colorlevel.white=240"
        "&blur=2.5&sharpen=30&vignette.value=40&vignette.color=navy&opacity=90"
        "&frame.style=mirror&frame.color=FFFFFF&frame.width=12&frame.rim.color=000000&frame.rim.width=2",
        rule=PUBLIC,
    ).options
    assert options.trim == TrimSpec(enabled=True, pad_x=Length(5), pad_y=Length(10, percent=True))
    assert options.canvas == CanvasSpec(
        width=Length(120, percent=True),
        height=Length(900),
        color=(255, 0, 0, 255),
        position=Gravity.NORTHEAST,
        opacity=50,
        aspect_ratio=(4, 3),
        border_width=7,
        border_height=8,
        border_color=(0, 255, 0, 128),
        border_opacity=30,
    )
    assert options.colour == ColourSpec(
        brightness=-12.5,
        contrast=20,
        exposure=3,
        hue=-100,
        saturation=100,
        lightness=1,
        shadows=2,
        highlights=-3,
        grayscale=True,
        colorize_color=(0, 0, 255, 255),
        colorize_opacity=40,
        colortone="sepia",
        colortone_level=60,
        colortone_mode=ToneMode.SHADOWS,
        colorlevel_black=10,
        colorlevel_white=240,
    )
    assert options.effects == EffectsSpec(
        blur=2.5, sharpen=30, vignette=40, vignette_color=(0, 0, 128, 255), opacity=90
    )
    assert options.frame == FrameSpec(
        style=FrameStyle.MIRROR, color=(255, 255, 255, 255), width=12, rim_color=(0, 0, 0, 255), rim_width=2
    )


def test_no_imaging_parameters_give_identity_specs(settings: Settings) -> None:
    options = merge(settings, "w=100").options
    assert options.trim.is_identity and options.canvas.is_identity and options.colour.is_identity
    assert options.effects.is_identity and options.frame.is_identity


def test_colorize_is_an_alias_of_colorize_color(settings: Settings) -> None:
    assert merge(settings, "colorize.color=red").options.colour == merge(settings, "colorize=red").options.colour
    assert problems(settings, "colorize=red&colorize.color=blue") == {
        "colorize": "repeated parameter",
        "colorize.color": "repeated parameter",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("brightness=101", {"brightness": "must be a number -100..100"}),
        ("hue=-100.5", {"hue": "must be a number -100..100"}),
        ("contrast=1e2", {"contrast": "must be a number -100..100"}),
        ("grayscale=yes", {"grayscale": "must be true or false"}),
        ("colorize=blurple", {"colorize": "must be RRGGBB, RRGGBBAA or a CSS colour name"}),
        ("colorize.opacity=101", {"colorize.opacity": "must be a whole number 0..100"}),
        ("colortone=nope", {"colortone": "must be one of " + ", ".join(COLORTONE_PRESETS)}),
        ("colortone.mode=midtones", {"colortone.mode": "must be one of solid, highlights, shadows"}),
        ("colorlevel.white=256", {"colorlevel.white": "must be a whole number 0..255"}),
        ("blur=-1", {"blur": "must be a number 0..100"}),
        ("sharpen=100.01", {"sharpen": "must be a number 0..100"}),
        ("vignette.value=50.5", {"vignette.value": "must be a whole number 0..100"}),
        ("opacity=101", {"opacity": "must be a whole number 0..100"}),
        ("canvas.width=0", {"canvas.width": "must be 1..8192 or 1%..1000%"}),
        ("canvas.opacity=-1", {"canvas.opacity": "must be a whole number 0..100"}),
        ("canvas.position=middle", {"canvas.position": "must be one of " + ", ".join(g.value for g in Gravity)}),
        ("canvas.aspectratio=16x9", {"canvas.aspectratio": "must be W:H, two whole numbers above 0 (16:9)"}),
        ("canvas.border.width=8193", {"canvas.border.width": "must be a whole number 0..8192"}),
        ("frame.style=dotted", {"frame.style": "must be one of solid, mirror, edge, none"}),
        ("frame.width=1001", {"frame.width": "must be a whole number 0..1000"}),
        ("frame.rim.color=#FFF", {"frame.rim.color": "must be RRGGBB, RRGGBBAA or a CSS colour name"}),
        ("crop.type=smart", {"crop.type": "must be trim"}),
        ("crop.type=trim&crop.pad.x=101%25", {"crop.pad.x": "must be 0..8192 or 0%..100%"}),
    ],
)
def test_imaging_values_out_of_range_name_the_parameter(
    settings: Settings, query: str, expected: dict[str, str]
) -> None:
    assert problems(settings, query, rule=PUBLIC) == expected


def test_a_point_of_interest_crop_suggests_cx_and_cy(settings: Settings) -> None:
    found = problems(settings, "crop.type=poi", rule=PUBLIC)
    assert list(found) == ["crop.type"]
    assert "point of interest" in found["crop.type"] and "cx" in found["crop.type"] and "cy" in found["crop.type"]


@pytest.mark.parametrize(
    ("query", "args", "expected"),
    [
        ("crop.pad.x=5", None, {"crop.pad.x": "requires crop.type=trim"}),
        ("crop.pad.x=5&crop.pad.y=1", None, dict.fromkeys(["crop.pad.x", "crop.pad.y"], "requires crop.type=trim")),
        ("", {"crop.pad.y": "3%"}, {"crop.pad.y": "requires crop.type=trim"}),
        (
            "colortone=sepia&colortone.color=red",
            None,
            dict.fromkeys(
                ["colortone", "colortone.color"],
                "colortone names a preset; colortone.color gives a colour instead: not both",
            ),
        ),
        (
            "colorlevel.black=200&colorlevel.white=100",
            None,
            dict.fromkeys(
                ["colorlevel.black", "colorlevel.white"], "colorlevel.black must be below colorlevel.white, both 0..255"
            ),
        ),
        (
            "colorlevel.black=255&brightness=10",
            None,
            {"colorlevel.black": "colorlevel.black must be below colorlevel.white, both 0..255"},
        ),
    ],
)
def test_combinations_a_spec_refuses_name_their_parameters(
    settings: Settings, query: str, args: dict[str, Any] | None, expected: dict[str, str]
) -> None:
    assert problems(settings, query, args=args, rule=PUBLIC) == expected


def test_a_combination_split_between_query_and_token_names_both(settings: Settings) -> None:
    found = problems(settings, "colortone=warm", args={"colortone.color": "FF8800"}, rule=PUBLIC)
    assert set(found) == {"colortone", "colortone.color"}


REFRAMING = [
    "crop.type=trim",
    "crop.type=trim&crop.pad.x=5",
    "canvas.width=300%25",
    "canvas.height=900",
    "canvas.aspectratio=1:4",
    "canvas.position=northwest",
    "canvas.border.width=500",
    "canvas.border.height=500",
    "frame.width=1000",
    "frame.rim.width=1000",
]


@pytest.mark.parametrize("query", REFRAMING)
def test_reframing_imaging_parameters_are_locked_under_a_signed_overlay(settings: Settings, query: str) -> None:
    names = [pair.split("=")[0] for pair in query.split("&")]
    found = problems(settings, query, args={"text": "PROOF"}, rule=PUBLIC)
    assert found == dict.fromkeys(names, "not allowed unsigned under a signed overlay")
    assert merge(settings, query, rule=PUBLIC).options.text is None  # free without a signed overlay
    signed = {name: value for name, value in (pair.split("=") for pair in query.replace("%25", "%").split("&"))}
    assert merge(settings, args={**signed, "text": "PROOF"}).options.text is not None  # and signed


@pytest.mark.parametrize(
    "query", ["canvas.color=red&canvas.opacity=50", "brightness=50&blur=10&opacity=20", "frame.color=red"]
)
def test_looks_stay_free_under_a_signed_overlay(settings: Settings, query: str) -> None:
    assert merge(settings, query, args={"text": "PROOF"}, rule=PUBLIC).options.text is not None


def test_signed_args_win_and_overridden_keys_are_listed(settings: Settings) -> None:
    merged = merge(settings, "w=100&h=50&format=png", args={"w": 300, "format": "jpg", "q": 90})
    assert merged.options.resize.width == Length(300)
    assert merged.options.resize.height == Length(50)
    assert merged.options.output.format is OutputFormat.JPG
    assert merged.options.output.quality == 90
    assert merged.ignored == ("w", "format")


def test_alias_in_query_is_overridden_by_canonical_name_in_args(settings: Settings) -> None:
    merged = merge(settings, "scale.width=100", args={"w": 300})
    assert merged.options.resize.width == Length(300)
    assert merged.ignored == ("scale.width",)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"w": 300}, {}),
        ({"w": 300.0}, {}),
        ({"w": "300"}, {}),
        ({"w": "40%"}, {}),
        ({"flip": True}, {}),
        ({"w": 300.5}, {"w": "must be 1..8192 or 1%..1000%"}),
        ({"w": True}, {"w": "must be 1..8192 or 1%..1000%"}),
        ({"w": -3}, {"w": "must be 1..8192 or 1%..1000%"}),
        ({"q": 1e20}, {"q": "must be a whole number 1..100"}),
        ({"nope": 1}, {"nope": "unknown parameter"}),
        ({"w": 1, "scale.width": 2}, {"w": "repeated parameter", "scale.width": "repeated parameter"}),
    ],
)
def test_signed_args_are_validated_like_the_query(
    settings: Settings, args: dict[str, Any], expected: dict[str, str]
) -> None:
    if expected:
        assert problems(settings, args=args) == expected
    else:
        merge(settings, args=args)


def test_unsigned_allowlist_applies_on_protected_rules_only(settings: Settings) -> None:
    strict = Rule(prefix="/", protect=True, unsigned_allowed=frozenset({"w", "q"}))
    assert merge(settings, "scale.width=200&quality=50", rule=strict).options.resize.width == Length(200)
    assert problems(settings, "w=200&format=png&rotate=90", rule=strict) == {
        "format": "not allowed unsigned on this path",
        "rotate": "not allowed unsigned on this path",
    }
    # the token may still set what the query may not
    assert merge(settings, args={"format": "png"}, rule=strict).options.output.format is OutputFormat.PNG
    open_rule = Rule(prefix="/", protect=False, unsigned_allowed=frozenset({"w"}))
    assert merge(settings, "format=png", rule=open_rule).options.output.format is OutputFormat.PNG


def test_equal_options_give_equal_cache_keys_whatever_the_spelling(settings: Settings) -> None:
    a = merge(settings, "w=300&quality=80&scale.option=fit&format=original").options
    b = merge(settings, "scale.width=300").options
    c = merge(settings, args={"w": 300.0}).options
    assert a.cache_key(Encoding.SOURCE) == b.cache_key(Encoding.SOURCE) == c.cache_key(Encoding.SOURCE)
    assert a.cache_key(Encoding.SOURCE) != merge(settings, "w=301").options.cache_key(Encoding.SOURCE)
    assert a.cache_key(Encoding.SOURCE) != a.cache_key(Encoding.WEBP)


@pytest.mark.parametrize(
    ("first", "second", "encoding", "same"),
    [
        ("format=webp", "format=optimal", Encoding.WEBP, True),  # both resolved to WebP
        ("format=webp&webp-fallback=png", "format=webp", Encoding.WEBP, True),
        ("format=png&q=10", "format=png&q=90", Encoding.PNG, True),  # PNG ignores q
        ("format=png&subsampling=4:4:4", "format=png", Encoding.PNG, True),
        ("format=webp&progressive=true", "format=webp", Encoding.WEBP, True),
        ("format=webp&q=10", "format=webp&q=90", Encoding.WEBP, False),
        ("format=jpg&subsampling=4:4:4", "format=jpg", Encoding.JPEG, False),
        ("format=jpg&progressive=true", "format=jpg", Encoding.JPEG, False),
        ("q=10", "q=90", Encoding.SOURCE, False),  # the source may be a JPEG
    ],
)
def test_cache_key_counts_only_what_the_encoder_uses(
    settings: Settings, first: str, second: str, encoding: Encoding, same: bool
) -> None:
    a = merge(settings, first).options.cache_key(encoding)
    b = merge(settings, second).options.cache_key(encoding)
    assert (a == b) is same


def test_download_does_not_change_the_cache_key(settings: Settings) -> None:
    key = merge(settings).options.cache_key(Encoding.JPEG)
    assert merge(settings, "dl=true").options.cache_key(Encoding.JPEG) == key


def test_a_bad_unsigned_value_is_a_400_even_when_the_token_overrides_it(settings: Settings) -> None:
    assert problems(settings, "w=abc", args={"w": 100}) == {"w": "must be 1..8192 or 1%..1000%"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", []),
        (b"w=1&h=2", [("w", "1"), ("h", "2")]),
        (b"w=1;h=2", [("w", "1;h=2")]),
        (b"text=%C3%A9t%C3%A9", [("text", "été")]),
        (b"flip", [("flip", "")]),
    ],
)
def test_parse_query(raw: bytes, expected: list[tuple[str, str]]) -> None:
    assert parse_query(raw) == expected


@pytest.mark.parametrize("raw", [b"text=%ff", "w=é".encode(), b"&".join([b"a=1"] * 101)])
def test_parse_query_rejects_bad_encoding_and_floods(raw: bytes) -> None:
    with pytest.raises(ParameterError) as info:
        parse_query(raw)
    assert list(info.value.problems) == ["query"]


def test_text_parameters_build_a_text_spec(settings: Settings) -> None:
    text = merge(
        settings,
        args={
            "text": "© Studio — preview",
            "text.size": 40,
            "text.position": "southeast",
            "text.position.x": "2%",
            "text.font.family": "serif",
            "text.font.weight": 700,
            "text.color": "#ff000080",
            "text.opacity": 60,
            "text.outline.width": 2,
            "text.outline.color": "navy",
            "text.background.color": "000000",
        },
    ).options.text
    assert text is not None
    assert text.text == "© Studio — preview" and text.size == 40.0
    assert text.gravity is Gravity.SOUTHEAST and text.x == Length(2, percent=True)
    assert text.family == "serif" and text.weight is FontWeight.BOLD
    assert text.color == (255, 0, 0, 128) and text.opacity == 60
    assert text.outline_width == 2 and text.outline_color == (0, 0, 128, 255)
    assert text.background_color == (0, 0, 0, 255)


def test_text64_is_base64_of_utf8_in_either_alphabet(settings: Settings) -> None:
    import base64

    encoded = base64.urlsafe_b64encode("Привет ✓?>".encode()).decode().rstrip("=")
    text = merge(settings, args={"text.text64": encoded}).options.text
    assert text is not None and text.text == "Привет ✓?>"
    assert problems(settings, args={"text.text64": "***"}) == {"text.text64": "must be base64 of UTF-8 text"}
    assert problems(settings, args={"text": "a", "text.text64": "YQ"}) == {
        "text": "repeated parameter",
        "text.text64": "repeated parameter",
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"text.color": "FFFFFF"}, {"text": "required by text.color"}),
        (
            {"text": "x", "text.font.family": "../../etc/passwd"},
            {"text.font.family": "must be one of sans, serif, mono"},
        ),
        ({"text": "x", "text.font.family": "Arial"}, {"text.font.family": "must be one of sans, serif, mono"}),
        ({"text": "x", "text.color": "blurple"}, {"text.color": "must be RRGGBB, RRGGBBAA or a CSS colour name"}),
        ({"text": "x", "text.color": "#FFF"}, {"text.color": "must be RRGGBB, RRGGBBAA or a CSS colour name"}),
        ({"text": "x", "text.opacity": 101}, {"text.opacity": "must be a whole number 0..100"}),
        (
            {"text": "x", "text.position": "middle"},
            {"text.position": "must be one of " + ", ".join(g.value for g in Gravity)},
        ),
        ({"text": "   "}, {"text": "must not be empty"}),
        ({"text": "a\x00b"}, {"text": "must not hold control characters"}),
        ({"watermark.opacity": 50}, {"watermark": "required by watermark.opacity"}),
        (
            {"watermark": "/../etc/passwd.png"},
            {"watermark": "must be a canonical path under the root (empty, '.' or '..' segment)"},
        ),
        (
            {"watermark": "relative.png"},
            {"watermark": "must be a canonical path under the root (path must start with /)"},
        ),
        ({"watermark": "/notes.txt"}, {"watermark": "must name an image (avif, gif, jpeg, jpg, png, webp)"}),
        (
            {"watermark": "/w.png", "watermark.position": "tile", "watermark.position.gravity": "north"},
            {"watermark.position": "repeated parameter", "watermark.position.gravity": "repeated parameter"},
        ),
        ({"profile": "../brand"}, {"profile": "must be 1..64 letters, digits, '-' or '_'"}),
    ],
)
def test_overlay_values_are_checked(settings: Settings, args: dict[str, Any], expected: dict[str, str]) -> None:
    assert problems(settings, args=args) == expected


def test_text_length_follows_max_text_length() -> None:
    short = Settings(root=FIXTURES, keys={"main": SECRET}, max_text_length=10)
    assert problems(short, args={"text": "x" * 11}) == {"text": "must be at most 10 characters"}
    assert merge(short, args={"text": "x" * 10}).options.text is not None


def test_watermark_parameters_build_a_watermark_spec(settings: Settings) -> None:
    merged = merge(
        settings,
        args={
            "watermark": "/watermark.png",
            "watermark.position": "tile",
            "watermark.scale.width": "25%",
            "watermark.opacity": 40,
            "watermark.rotate": -30,
            "watermark.layer": "back",
        },
    )
    mark = merged.options.watermark
    assert mark is not None and merged.watermark_origin == "args"
    assert mark.path == "/watermark.png" and mark.tile is True
    assert mark.width == Length(25, percent=True) and mark.opacity == 40 and mark.rotate == -30.0
    assert mark.layer is Layer.BACK
    placed = merge(settings, "watermark=/w.png&watermark.position=northeast", rule=PUBLIC).options.watermark
    assert placed is not None and placed.gravity is Gravity.NORTHEAST and placed.tile is False


def test_profile_layers_sit_under_the_query_and_strict_profiles_on_top(settings: Settings) -> None:
    merged = merge_params(
        parse_query(b"w=100&h=90"),
        {"q": 70},
        PROTECTED,
        settings,
        profile={"w": 50, "q": 10, "format": "png", "text": "from profile"},
        strict={"h": 60, "text": "strict"},
    )
    options = merged.options
    assert options.resize.width == Length(100)  # query over profile
    assert options.output.quality == 70  # args over profile
    assert options.output.format is OutputFormat.PNG  # profile over defaults
    assert options.resize.height == Length(60)  # strict over everything
    assert options.text is not None and options.text.text == "strict"
    assert merged.ignored == ("h",)


def test_a_bad_profile_value_names_the_profile(settings: Settings) -> None:
    with pytest.raises(ParameterError) as info:
        merge_params([], None, PROTECTED, settings, profile={"w": 0, "zoom": 1})
    assert info.value.problems == {"profile": "zoom: unknown parameter; w: must be 1..8192 or 1%..1000%"}
