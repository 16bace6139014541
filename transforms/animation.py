"""Animated sources: read one frame at a time, encoded back as one animation.

An animated GIF or WebP stays animated when the output format can hold an animation, GIF or
WebP, in either direction. Any other output (JPEG, PNG, AVIF) is the first frame, decoded by
:func:`transforms.decode.load` as for a still image, and the other frames are never read.

    resolve_animation from the headers: is the output an animation? (refuses too many frames)
    read_frames       lazily, frame after frame: composited, decoded, with its duration
    encode_animation  the transformed frames as one GIF or WebP, with the durations and loops

AVIF is not an animation format here. Pillow's AVIF encoder writes frames and durations with
``save_all``, but it has no loop count: every animation it writes loops for ever, so an animation
that plays once or three times could not be kept (and its reader reports no loop count to check).
It is also slower: 30 ms against WebP's 20 ms for six 240x160 photographic frames. An animated
AVIF source is also read as its first frame.

Loops are counted as *plays*: 0 plays forever, and 1 plays once. A GIF's NETSCAPE loop count N
means N + 1 plays (no loop block: one play). A WebP's loop count is the number of plays, which is
how browsers read both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from io import BytesIO
from typing import Any, NamedTuple

from PIL import Image

from .color import has_alpha
from .decode import SourceImage, count_frames, load_frame
from .encode import GIF_COLOURS, WEBP_METHOD, Encoded, label, resolve_encoding
from .errors import TooManyFramesError
from .options import Encoding, OutputSpec, RenderLimits

ANIMATION_ENCODINGS = frozenset({Encoding.GIF, Encoding.WEBP})
"""The output formats an animation is kept in."""

_ANIMATED_SOURCES = frozenset({"GIF", "WEBP"})
# A shared GIF palette is chosen from at most this many pixels: every frame, shrunk to its share.
_PALETTE_SAMPLE_PIXELS = 100_000  # measured: as close to the frames as 1 MP, in 3/4 of the time


class Frame(NamedTuple):
    """One frame of an animation: the full canvas as shown, and how long it is shown (ms)."""

    image: Image.Image
    duration: int


def resolve_animation(
    source: SourceImage, encoding: Encoding, limits: RenderLimits, output: tuple[int, int] | None = None
) -> Encoding | None:
    """The format ``source`` stays animated in when rendered as ``encoding`` (GIF or WebP), or
    ``None`` when the output is its first frame (a still source, or a format that cannot animate).

    Decided from the headers alone, before any frame is decoded.

    :param source: from :func:`transforms.decode.open_image`, not yet loaded.
    :param encoding: the negotiated output format (``SOURCE`` and ``CLASSIC`` included).
    :param output: the planned size of each output frame: every one is kept until the animation is
        encoded, so frames x this many pixels may not exceed ``limits.max_animation_pixels``.
    :raises TooManyFramesError: the animation would be kept and has more than
        ``limits.max_animation_frames`` frames, or more pixels in all than ``max_animation_pixels``.
    :raises CorruptImageError: the frame headers cannot be read.
    """
    if source.format not in _ANIMATED_SOURCES or encoding is Encoding.CLASSIC:
        return None  # CLASSIC is JPEG or PNG whatever the pixels: the first frame is enough
    # For a GIF or WebP source no other encoding depends on the pixels: nothing is decoded here.
    target = resolve_encoding(source.image, encoding, source.format)
    if target not in ANIMATION_ENCODINGS:
        return None
    frames = count_frames(source)
    if frames > limits.max_animation_frames:
        raise TooManyFramesError(f"the source has {frames} frames; the limit is {limits.max_animation_frames}")
    if output is not None and frames > 1 and frames * output[0] * output[1] > limits.max_animation_pixels:
        raise TooManyFramesError(
            f"{frames} frames of {output[0]}x{output[1]} are more than {limits.max_animation_pixels} pixels in all"
        )
    return target if frames > 1 else None


def play_count(source: SourceImage) -> int:
    """How many times the animation of ``source`` plays: 0 for ever (see the module's docstring)."""
    loop = source.image.info.get("loop")
    if source.format == "GIF":
        return 1 if loop is None else 0 if loop == 0 else int(loop) + 1
    return int(loop) if isinstance(loop, int) else 0


def read_frames(source: SourceImage, limits: RenderLimits) -> Iterator[Frame]:
    """Every frame of ``source``, decoded only when the iteration reaches it.

    A frame is the whole canvas as the animation shows it, composited over the frames before it
    (:func:`transforms.decode.load_frame`). Each frame is a new image, which the next one leaves
    alone, so the caller can keep only what it makes of each frame.

    :raises ImageTooLargeError: a frame enlarges the canvas past ``limits.max_source_pixels``.
    :raises CorruptImageError: a frame cannot be decoded.
    """
    for index in range(count_frames(source)):
        image = load_frame(source, index, limits)
        duration = source.image.info.get("duration")  # ms, known once the frame is loaded
        yield Frame(image, int(duration) if isinstance(duration, (int, float)) else 0)


def encode_animation(frames: Sequence[Frame], plays: int, encoding: Encoding, spec: OutputSpec) -> Encoded:
    """``frames`` encoded as one animation, without any metadata.

    - GIF: one palette for every frame, 255 colours chosen from all of them (MEDIANCUT, no
      dithering, so a still area stays the same from frame to frame and only the changes are
      written). When a frame has transparency, pixels under half opacity take the 256th entry,
      and every frame is disposed to the background, so a transparent pixel never shows the
      frame before it. Durations are rounded down to centiseconds, and identical consecutive
      frames become one that is shown for as long as both were.
    - WebP: lossy at quality ``spec.quality``, alpha kept, durations in ms.

    :param frames: all the same size, in any of ``L``, ``LA``, ``RGB`` and ``RGBA``; not modified.
    :param plays: 0 for ever, or the number of plays.
    :param encoding: ``GIF`` or ``WEBP``.
    :param spec: the quality (WebP).
    :raises ValueError: ``encoding`` cannot hold an animation, or the frames differ in size.
    """
    if encoding not in ANIMATION_ENCODINGS:
        raise ValueError(f"{encoding} cannot hold an animation")
    if not frames or len({frame.image.size for frame in frames}) != 1:
        raise ValueError("an animation needs frames that all have one size")
    durations = [frame.duration for frame in frames]
    params: dict[str, Any] = {"save_all": True, "duration": durations}
    if encoding is Encoding.GIF:
        transparent = any(has_alpha(frame.image) for frame in frames)
        images = _palette_frames([frame.image for frame in frames], transparent)
        if plays != 1:
            params["loop"] = 0 if plays == 0 else plays - 1
        if transparent:
            params.update(transparency=GIF_COLOURS, disposal=2)
    else:
        # Pillow's WebP writer reads nothing from the frames' info once the background is given.
        images = [frame.image for frame in frames]
        params.update(quality=spec.quality, method=WEBP_METHOD, loop=plays, background=(0, 0, 0, 0))
    out = BytesIO()
    images[0].save(out, format=encoding.name, append_images=images[1:], **params)
    return label(out.getvalue(), encoding)


def _palette_frames(images: Sequence[Image.Image], transparent: bool) -> list[Image.Image]:
    """``P`` frames sharing one palette; index ``GIF_COLOURS`` is transparent when ``transparent``."""
    colours = GIF_COLOURS if transparent else GIF_COLOURS + 1
    palette = _palette_sample(images).quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    frames = []
    for image in images:
        frame = image.convert("RGB").quantize(palette=palette, dither=Image.Dither.NONE)
        if transparent:
            entries = (frame.getpalette() or [])[: GIF_COLOURS * 3]
            frame.putpalette(entries + [0] * (256 * 3 - len(entries)))  # index 255 exists, unused
            if image.mode in ("LA", "RGBA"):
                mask = image.getchannel("A").point(lambda alpha: 255 if alpha < 128 else 0, mode="1")
                frame.paste(GIF_COLOURS, mask=mask)
        frame.info.clear()  # Pillow's GIF writer reads the first frame's info: nothing of the source's
        frames.append(frame)
    return frames


def _palette_sample(images: Sequence[Image.Image]) -> Image.Image:
    """One ``RGB`` image holding every frame, each shrunk to its share of the sample."""
    width, height = images[0].size
    scale = min(1.0, math.sqrt(_PALETTE_SAMPLE_PIXELS / len(images) / (width * height)))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    sample = Image.new("RGB", (size[0], size[1] * len(images)))
    for index, image in enumerate(images):
        rgb = image.convert("RGB")
        sample.paste(rgb if rgb.size == size else rgb.resize(size, Image.Resampling.NEAREST), (0, index * size[1]))
    return sample
