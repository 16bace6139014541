"""One render, from source bytes to encoded bytes, in a fixed order.

    open_image  header only: format allowlist, pixel limit, EXIF orientation
    plan_render every size, from the header (refuses an oversized output before decoding)
    load        decode once (JPEG at the smallest sufficient DCT scale), EXIF orientation, mode
    STEPS       trim -> scale -> crop -> colour to sRGB -> canvas -> rotate/flip/flop
                -> light and colour -> effects -> frame -> watermark -> text
    encode      format, quality, transparency flattened for JPEG, no metadata

Whatever order the URL gave the parameters in, this is the order they act in (SPEC §4). Each step
returns its input untouched when its option asks for nothing, and a new image otherwise. Canvas
colours and the colour maths are sRGB, so the conversion to sRGB comes right after the crop.

A trim depends on the pixels, so a trimming render decodes every pixel and the trim step plans
the later steps again from the trimmed size (:func:`transforms.plan.plan_trimmed`), once per
render: every frame of an animation is cut by the box its first frame decided.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from .adjust import adjust
from .animation import Frame, encode_animation, play_count, read_frames, resolve_animation
from .assets import Assets
from .canvas import apply_canvas
from .color import to_srgb
from .crop import crop
from .decode import SourceImage, load, open_image
from .effects import apply_effects
from .encode import encode
from .errors import RenderTimeoutError
from .frame import apply_frame
from .geometry import Box
from .options import Encoding, RenderLimits, RenderOptions
from .orient import orient
from .plan import Plan, plan_render, plan_trimmed
from .resize import resize
from .text import draw_text
from .trim import trim_box
from .watermark import apply_watermark

_NO_ASSETS = Assets()


@dataclass(frozen=True, slots=True)
class Rendered:
    """An encoded image and what it took to make it."""

    body: bytes
    media_type: str
    extension: str
    width: int
    height: int
    decode_seconds: float
    transform_seconds: float
    encode_seconds: float


@dataclass(slots=True)
class _Trimmed:
    """What the trim step decided, once per render: the box it keeps and the plan from there on."""

    box: Box | None = None
    plan: Plan | None = None


@dataclass(frozen=True, slots=True)
class _Job:
    """What the steps read: the options, the plan, the source's colour space, the assets.

    The steps never write, except the trim step, which fills ``trimmed`` once (on the first frame).
    """

    options: RenderOptions
    plan: Plan
    limits: RenderLimits
    icc_profile: bytes | None
    assets: Assets
    trimmed: _Trimmed = field(default_factory=_Trimmed)

    @property
    def sizes(self) -> Plan:
        """The plan the steps after the trim follow: the trimmed source's, once a trim has been decided."""
        return self.trimmed.plan or self.plan

    @property
    def overlay_scale(self) -> float:
        """Output pixels per source pixel: overlay sizes in source pixels scale with the output."""
        return self.sizes.scaled[0] / self.sizes.source[0]


Step = Callable[[Image.Image, _Job], Image.Image]


def _trim(image: Image.Image, job: _Job) -> Image.Image:
    spec = job.options.trim
    if spec.is_identity:
        return image
    box = job.trimmed.box
    if box is None:  # the first frame decides for every frame
        box = trim_box(image, spec) or (0, 0, image.width, image.height)
        job.trimmed.plan = plan_trimmed(box[2] - box[0], box[3] - box[1], job.options, job.limits)
        job.trimmed.box = box
    return image if box == (0, 0, image.width, image.height) else image.crop(box)


def _scale(image: Image.Image, job: _Job) -> Image.Image:
    if job.options.resize.is_identity:
        return image
    spec, max_side = job.options.resize, job.limits.max_output_dimension
    return resize(image, spec, source_size=job.sizes.source, max_side=max_side)


def _crop(image: Image.Image, job: _Job) -> Image.Image:
    return image if job.options.crop.is_identity else crop(image, job.options.crop)


def _to_srgb(image: Image.Image, job: _Job) -> Image.Image:
    return to_srgb(image, job.icc_profile)


def _canvas(image: Image.Image, job: _Job) -> Image.Image:
    return image if job.options.canvas.is_identity else apply_canvas(image, job.options.canvas)


def _orient(image: Image.Image, job: _Job) -> Image.Image:
    return image if job.options.orient.is_identity else orient(image, job.options.orient)


def _colour(image: Image.Image, job: _Job) -> Image.Image:
    return image if job.options.colour.is_identity else adjust(image, job.options.colour)


def _effects(image: Image.Image, job: _Job) -> Image.Image:
    return image if job.options.effects.is_identity else apply_effects(image, job.options.effects)


def _frame(image: Image.Image, job: _Job) -> Image.Image:
    return image if job.options.frame.is_identity else apply_frame(image, job.options.frame)


def _watermark(image: Image.Image, job: _Job) -> Image.Image:
    spec = job.options.watermark
    if spec is None:
        return image
    if job.assets.watermark is None:
        raise ValueError("a watermark was asked for but not given")
    return apply_watermark(image, job.assets.watermark, spec, job.overlay_scale)


def _text(image: Image.Image, job: _Job) -> Image.Image:
    spec = job.options.text
    return image if spec is None else draw_text(image, spec, job.assets.fonts, job.overlay_scale)


STEPS: tuple[Step, ...] = (
    _trim,
    _scale,
    _crop,
    _to_srgb,
    _canvas,
    _orient,
    _colour,
    _effects,
    _frame,
    _watermark,
    _text,
)
"""The pixel steps between decoding and encoding, in the order they run."""


def render(
    data: bytes,
    options: RenderOptions,
    encoding: Encoding,
    limits: RenderLimits,
    *,
    assets: Assets = _NO_ASSETS,
    draft: bool = True,
    deadline: float | None = None,
) -> Rendered:
    """Decode ``data``, apply ``options`` and encode the result as ``encoding``.

    Synchronous and thread-safe: nothing is shared between calls.

    An animated GIF or WebP source stays animated when ``encoding`` resolves to GIF or WebP: its
    frames are decoded one at a time, each goes through every step with the same plan, and the
    durations and loop count are kept (:mod:`transforms.animation`). Any other output is the first
    frame, and the other frames are never read.

    :param data: the source file's bytes.
    :param options: what to do, in any order; applied in the order of this module's docstring.
    :param encoding: the negotiated output format (``SOURCE`` and ``CLASSIC`` included).
    :param limits: the bounds to respect.
    :param assets: the fonts and the watermark's bytes, when the options ask for overlays.
    :param draft: let JPEG sources decode at a reduced DCT scale when the output is small
        (the default); ``False`` always decodes every pixel (for comparisons and benchmarks).
    :param deadline: a ``time.monotonic()`` instant; past it the render stops at the next step.
    :raises UnsupportedImageError: ``data`` is not an image in an allowed format.
    :raises ImageTooLargeError: the source has more pixels than allowed.
    :raises CorruptImageError: ``data`` cannot be decoded.
    :raises OutputTooLargeError: the output would have a side longer than allowed.
    :raises TooManyFramesError: the animation is kept and has more frames than allowed.
    :raises RenderTimeoutError: ``deadline`` passed.
    """
    started = time.perf_counter()
    source = open_image(data, limits)
    plan = plan_render(*source.size, options, limits)
    job = _Job(options=options, plan=plan, limits=limits, icc_profile=source.icc_profile, assets=assets)
    animation = resolve_animation(source, encoding, limits, plan.output)
    if animation is not None:
        return _render_animation(source, job, animation, started, deadline)
    image = load(source, plan.decode if draft else None)
    decoded = time.perf_counter()
    for step in STEPS:
        _check_deadline(deadline)
        image = step(image, job)
    _check_deadline(deadline)
    transformed = time.perf_counter()
    encoded = encode(image, encoding, options.output, source.format, options.canvas.color[:3])
    finished = time.perf_counter()
    return Rendered(
        body=encoded.body,
        media_type=encoded.media_type,
        extension=encoded.extension,
        width=image.width,
        height=image.height,
        decode_seconds=decoded - started,
        transform_seconds=transformed - decoded,
        encode_seconds=finished - transformed,
    )


def _render_animation(
    source: SourceImage, job: _Job, encoding: Encoding, started: float, deadline: float | None
) -> Rendered:
    """The rest of :func:`render` for an animation kept as ``encoding`` (GIF or WebP).

    Frame after frame: decode one, run every step on it, keep only the result. The deadline is
    checked before every step of every frame, and before the next frame is decoded.
    """
    frames: list[Frame] = []
    decode_seconds = transform_seconds = 0.0
    clock = started
    for frame in read_frames(source, job.limits):
        decoded = time.perf_counter()
        decode_seconds += decoded - clock
        image = frame.image
        for step in STEPS:
            _check_deadline(deadline)
            image = step(image, job)
        _check_deadline(deadline)
        frames.append(frame._replace(image=image))
        clock = time.perf_counter()
        transform_seconds += clock - decoded
    encoded = encode_animation(frames, play_count(source), encoding, job.options.output)
    finished = time.perf_counter()
    width, height = frames[0].image.size
    return Rendered(
        body=encoded.body,
        media_type=encoded.media_type,
        extension=encoded.extension,
        width=width,
        height=height,
        decode_seconds=decode_seconds,
        transform_seconds=transform_seconds,
        encode_seconds=finished - clock,
    )


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise RenderTimeoutError("the render took longer than allowed")
