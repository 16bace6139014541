"""The light and colour step: Sirv's ``brightness`` … ``colorlevel`` options on an sRGB image.

Every tone operation (brightness, contrast, exposure, lightness, shadows, highlights, colour
levels) is a curve on 0..1 applied to each band alike; a run of them is composed and applied as
one 256-entry lookup table. Hue turns H in HSV; saturation, grayscale, colorize and colortone work
from the luma (ITU-R 601, Pillow's ``convert("L")``). Alpha is split off first and put back
unchanged at the end.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from PIL import Image, ImageChops

from .options import ColourSpec, ToneMode

Curve = Callable[[float], float]
_ImageOp = Callable[[Image.Image], Image.Image]


@dataclass(frozen=True, slots=True)
class TonePreset:
    """A named colour tone: ``color`` mixed into the tones ``mode`` picks at ``level`` (0..100),
    after the image's own colour is scaled by ``saturation`` (0 tones a monochrome image, as sepia
    does; above 1 the colours get richer first)."""

    color: tuple[int, int, int]
    level: int
    mode: ToneMode = ToneMode.SOLID
    saturation: float = 1.0


COLORTONE_PRESETS: Mapping[str, TonePreset] = MappingProxyType(
    {
        "sepia": TonePreset((170, 125, 80), 100, saturation=0.0),
        "warm": TonePreset((220, 130, 50), 50),
        "cold": TonePreset((60, 130, 210), 50),
        "sunlight": TonePreset((250, 190, 60), 80, ToneMode.HIGHLIGHTS, saturation=1.1),
        "lomo": TonePreset((30, 150, 140), 80, ToneMode.SHADOWS, saturation=1.4),
        "texas": TonePreset((210, 120, 40), 70, saturation=0.7),
        "desert": TonePreset((215, 175, 120), 70, ToneMode.HIGHLIGHTS, saturation=0.4),
    }
)
"""``colortone=<name>``: the presets, by their lowercase names."""

_GREY_MODES = {"L": "L", "LA": "L", "RGB": "RGB", "RGBA": "RGB"}  # image mode -> mode of its colour bands


def adjust(image: Image.Image, spec: ColourSpec) -> Image.Image:
    """``image`` with the light and colour options of ``spec`` applied, in the order of its fields.

    Alpha is kept byte for byte. A grey image (``L``/``LA``) stays grey unless colorize or
    colortone tint it (then it becomes ``RGB``/``RGBA``); a colour image keeps its mode.

    :param image: sRGB, in mode ``L``, ``LA``, ``RGB`` or ``RGBA``.
    :param spec: the options; ``spec.colortone`` must name one of :data:`COLORTONE_PRESETS`.
    :returns: a new image, or ``image`` itself when ``spec`` changes nothing.
    :raises ValueError: for another mode or an unknown colortone name.
    """
    if image.mode not in _GREY_MODES:
        raise ValueError(f"adjust takes L, LA, RGB or RGBA images, not {image.mode}")
    if spec.colortone is not None and spec.colortone not in COLORTONE_PRESETS:
        raise ValueError(f"unknown colortone {spec.colortone!r}")
    if spec.is_identity:
        return image
    colour = image.convert(_GREY_MODES[image.mode]) if image.mode in ("LA", "RGBA") else image
    for op in _image_ops(_steps(spec, grey=colour.mode == "L")):
        colour = op(colour)
    if colour.mode == "L" and image.mode in ("RGB", "RGBA"):
        colour = colour.convert("RGB")
    if image.mode in ("LA", "RGBA"):
        colour.putalpha(image.getchannel("A"))
    return colour


def _steps(spec: ColourSpec, grey: bool) -> list[_Tone | _ImageOp]:
    """The operations ``spec`` asks for, in order: curves (tone) or image operations (colour)."""
    steps: list[_Tone | _ImageOp] = []
    for value, make in ((spec.brightness, _brightness), (spec.contrast, _contrast), (spec.exposure, _exposure)):
        if value:
            steps.append(_Tone(make(value / 100)))
    shift = round(spec.hue * 1.28)  # -100..100 is -180..180 degrees, H is 0..255 for a turn
    if shift and not grey:
        steps.append(lambda image: _turn_hue(image, shift))
    if spec.saturation and not grey:
        factor = 1 + spec.saturation / 100 * (1 if spec.saturation < 0 else 2)
        steps.append(lambda image: _saturate(image, image.convert("L"), factor))
    for value, make in ((spec.lightness, _lightness), (spec.shadows, _shadows), (spec.highlights, _highlights)):
        if value:
            steps.append(_Tone(make(value / 100)))
    if spec.grayscale:
        steps.append(lambda image: image.convert("L"))
    if spec.colorize_color is not None:
        red, green, blue, alpha = spec.colorize_color
        opacity = spec.colorize_opacity / 100 * alpha / 255
        if opacity > 0:
            steps.append(lambda image: _colorize(image, (red, green, blue), opacity))
    tone = _tone_of(spec)
    if tone.level > 0:
        steps.append(lambda image: _tone(image, tone))
    if (spec.colorlevel_black, spec.colorlevel_white) != (0, 255):
        steps.append(_Tone(_levels(spec.colorlevel_black / 255, spec.colorlevel_white / 255)))
    return steps


@dataclass(frozen=True, slots=True)
class _Tone:
    """A tone curve as a step (told apart from image operations, so runs of curves compose)."""

    curve: Curve

    def __call__(self, x: float) -> float:
        return min(1.0, max(0.0, self.curve(x)))


def _image_ops(steps: list[_Tone | _ImageOp]) -> list[_ImageOp]:
    """``steps`` with each run of consecutive curves folded into one lookup-table operation."""
    ops: list[_ImageOp] = []
    run: list[_Tone] = []
    for step in steps:
        if isinstance(step, _Tone):
            run.append(step)
            continue
        if run:
            ops.append(_lookup(run))
            run = []
        ops.append(step)
    if run:
        ops.append(_lookup(run))
    return ops


def _lookup(curves: list[_Tone]) -> _ImageOp:
    table = []
    for i in range(256):
        x = i / 255
        for curve in curves:
            x = curve(x)
        table.append(int(x * 255 + 0.5))
    return lambda image: image.point(table * len(image.getbands()))


# --- tone curves: v is the option / 100 (-1..1), x and the result are 0..1 -----------------------


def _brightness(v: float) -> Curve:
    """Every tone moves by up to half the range."""
    return lambda x: x + 0.5 * v


def _contrast(v: float) -> Curve:
    """Tones spread from mid grey (slope 5 at 100) or gather to it (flat mid grey at -100)."""
    slope = 1 + v if v <= 0 else 1 / (1 - 0.8 * v)
    return lambda x: 0.5 + (x - 0.5) * slope


def _exposure(v: float) -> Curve:
    """Linear light multiplied by 2^(2v): two stops either way at ±100."""
    gain = 2 ** (2 * v)
    return lambda x: _to_srgb(_to_linear(x) * gain)


def _to_linear(x: float) -> float:
    return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4


def _to_srgb(x: float) -> float:
    x = min(1.0, x)
    return x * 12.92 if x <= 0.0031308 else 1.055 * x ** (1 / 2.4) - 0.055


def _lightness(v: float) -> Curve:
    """A blend towards white (v > 0) or black (v < 0): all white or all black at ±100."""
    return (lambda x: x + v * (1 - x)) if v > 0 else (lambda x: x * (1 + v))


def _lift_shadows(amount: float) -> Curve:
    """Raise the dark tones, most near a fifth of the range (by a quarter of the range at
    ``amount`` 1), with black fixed and the light tones nearly unchanged: ``x + 3 a x (1 - x)^4``,
    strictly increasing for ``0 <= a <= 1``."""
    return lambda x: x + 3 * amount * x * (1 - x) ** 4


def _shadows(v: float) -> Curve:
    """Lift the dark tones (v > 0), or lower them by exactly the inverse curve (v < 0)."""
    return _lift_shadows(v) if v > 0 else _inverse(_lift_shadows(-v))


def _highlights(v: float) -> Curve:
    """The mirror image of :func:`_shadows`: raise the light tones (v > 0) or lower them."""
    mirrored = _shadows(-v)
    return lambda x: 1 - mirrored(1 - x)


def _inverse(curve: Curve, steps: int = 1024) -> Curve:
    """The inverse of a strictly increasing ``curve`` from 0..1 onto 0..1, linearly interpolated."""
    xs = [i / steps for i in range(steps + 1)]
    ys = [curve(x) for x in xs]

    def inverse(y: float) -> float:
        i = min(max(bisect.bisect_left(ys, y), 1), steps)
        low, high = ys[i - 1], ys[i]
        return xs[i - 1] + (y - low) / (high - low) * (xs[i] - xs[i - 1])

    return inverse


def _levels(black: float, white: float) -> Curve:
    """Stretch ``black..white`` to the full range, clipping what lies outside."""
    return lambda x: (x - black) / (white - black)


# --- colour -----------------------------------------------------------------------------------------


def _turn_hue(image: Image.Image, shift: int) -> Image.Image:
    """Turn the colour wheel by ``shift``/256 of a turn (Pillow's H band is 0..255 for 0..360°)."""
    hue, saturation, value = image.convert("HSV").split()
    hue = hue.point([(i + shift) % 256 for i in range(256)])
    return Image.merge("HSV", (hue, saturation, value)).convert("RGB")


def _saturate(image: Image.Image, luma: Image.Image, factor: float) -> Image.Image:
    """``image`` moved away from its own luma by ``factor``: grey at 0, unchanged at 1, richer above."""
    return Image.blend(Image.merge("RGB", (luma, luma, luma)), image, factor)


def _overlay(y: float, c: float) -> float:
    """The tint of ``c`` at luma ``y``: black at 0, ``c`` at mid grey, white at 1."""
    return 2 * y * c if y <= 0.5 else 1 - 2 * (1 - y) * (1 - c)


def _tinted(luma: Image.Image, color: tuple[int, int, int]) -> Image.Image:
    bands = [luma.point([int(255 * _overlay(y / 255, c / 255) + 0.5) for y in range(256)]) for c in color]
    return Image.merge("RGB", bands)


def _colorize(image: Image.Image, color: tuple[int, int, int], opacity: float) -> Image.Image:
    """``image`` blended at ``opacity`` (0..1) with its own luma tinted in ``color``."""
    luma = image if image.mode == "L" else image.convert("L")
    return Image.blend(image.convert("RGB"), _tinted(luma, color), opacity)


@dataclass(frozen=True, slots=True)
class _ResolvedTone:
    color: tuple[int, int, int]
    level: float  # 0..1
    mode: ToneMode
    saturation: float


def _tone_of(spec: ColourSpec) -> _ResolvedTone:
    """The colour tone ``spec`` asks for (level 0 when none): a preset, scaled by
    ``colortone_level``, in ``colortone_mode`` when given, else the preset's own mode; or
    ``colortone_color`` (its alpha scales the level) in ``colortone_mode`` (solid when not given)."""
    scale = spec.colortone_level / 100
    if spec.colortone is not None:
        preset = COLORTONE_PRESETS[spec.colortone]
        mode = preset.mode if spec.colortone_mode is None else spec.colortone_mode
        return _ResolvedTone(preset.color, preset.level / 100 * scale, mode, 1 + (preset.saturation - 1) * scale)
    if spec.colortone_color is not None:
        red, green, blue, alpha = spec.colortone_color
        return _ResolvedTone((red, green, blue), scale * alpha / 255, spec.colortone_mode or ToneMode.SOLID, 1.0)
    return _ResolvedTone((128, 128, 128), 0.0, ToneMode.SOLID, 1.0)


def _tone_weight(mode: ToneMode, y: float) -> float:
    rising = y * y * (3 - 2 * y)  # smoothstep: 0 at black, 1/2 at mid grey, 1 at white
    if mode is ToneMode.HIGHLIGHTS:
        return rising
    if mode is ToneMode.SHADOWS:
        return 1 - rising
    return 1.0


def _tone(image: Image.Image, tone: _ResolvedTone) -> Image.Image:
    """Shift each pixel's colour by the tint ``tone.color`` gives at its luma (its difference from
    grey), weighted by ``tone.level`` and by how much ``tone.mode`` picks that luma. The image keeps
    its own colours (scaled by ``tone.saturation`` first), and a grey pixel becomes the tint."""
    rgb = image.convert("RGB")
    luma = rgb.convert("L")
    if tone.saturation != 1:
        rgb = _saturate(rgb, luma, tone.saturation)
        luma = rgb.convert("L")
    bands = []
    for c in tone.color:
        shifts = [
            255 * tone.level * _tone_weight(tone.mode, y / 255) * (_overlay(y / 255, c / 255) - y / 255)
            for y in range(256)
        ]
        bands.append(luma.point([_SHIFT_ZERO + round(max(-128.0, min(127.0, shift))) for shift in shifts]))
    return ImageChops.add(rgb, Image.merge("RGB", bands), offset=-_SHIFT_ZERO)  # signed shifts, one pass


_SHIFT_ZERO = 128  # a shift of 0 stored in a band (the tint's shifts stay within -128..127)
