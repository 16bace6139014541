"""Turning source bytes into pixels, in two steps.

:func:`open_image` reads only the header: it identifies the format from the bytes (only the
allowed formats are ever tried), checks the pixel count and reads the EXIF orientation.
:func:`load` then decodes once, as small as the plan allows (JPEG DCT scaling), applies the EXIF
orientation and normalises the mode. An animation is read instead with :func:`count_frames` and
:func:`load_frame`, one frame at a time. Pillow's errors are translated here, where they enter.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import CorruptImageError, ImageTooLargeError, UnsupportedImageError
from .geometry import Size
from .options import RenderLimits

_ORIENTATIONS: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}  # the EXIF Orientation table, as ImageOps.exif_transpose
_FORMAT_ALIASES = {"MPO": "JPEG"}  # a camera JPEG with extra pictures is still a JPEG
# What Pillow's decoders raise on damaged data; libavif's binding reports failures as RuntimeError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, RuntimeError)


@dataclass(frozen=True, slots=True)
class SourceImage:
    """A source whose header has been read and whose pixels have not.

    :ivar image: the lazily opened Pillow image; :func:`load` decodes it (once).
    :ivar format: Pillow's format name (``"JPEG"``, ``"PNG"``, ``"WEBP"``, ``"GIF"``, ``"AVIF"``).
    :ivar orientation: the EXIF orientation, ``1`` (as stored) to ``8``.
    :ivar size: ``(width, height)`` as displayed, i.e. after the EXIF orientation.
    :ivar icc_profile: the embedded ICC profile, if any.
    """

    image: ImageFile.ImageFile
    format: str
    orientation: int
    size: Size
    icc_profile: bytes | None


def open_image(data: bytes, limits: RenderLimits) -> SourceImage:
    """Identify ``data`` and read its header, without decoding pixels.

    Only the formats in ``limits.source_formats`` are tried, each by its magic bytes: an EPS,
    PSD, TIFF or PDF is never parsed, whatever its file name.

    :raises UnsupportedImageError: ``data`` is not an image in an allowed format.
    :raises ImageTooLargeError: the header claims more than ``limits.max_source_pixels`` pixels.
    :raises CorruptImageError: the header is damaged.
    """
    try:
        image = Image.open(BytesIO(data), formats=sorted(limits.source_formats))
    except UnidentifiedImageError as exc:
        raise UnsupportedImageError("the source is not an image in an allowed format") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own process-wide guard (we never change it) fired before ours could: its
        # error above ~179 MP, or its warning above ~89 MP when warnings are made errors.
        raise ImageTooLargeError("the source has too many pixels") from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImageError("the source's header cannot be read") from exc
    width, height = image.size
    if width * height > limits.max_source_pixels:
        raise ImageTooLargeError(f"the source is {width}x{height} px; the limit is {limits.max_source_pixels} pixels")
    orientation = _orientation(image)
    size = (height, width) if orientation >= 5 else (width, height)
    icc_profile = image.info.get("icc_profile") or None
    return SourceImage(
        image=image,
        format=_FORMAT_ALIASES.get(image.format or "", image.format or ""),
        orientation=orientation,
        size=size,
        icc_profile=icc_profile if isinstance(icc_profile, bytes) else None,
    )


def _orientation(image: ImageFile.ImageFile) -> int:
    """The EXIF orientation (1..8; 1 when absent or unreadable), from the header, once.

    Read from the raw EXIF block by :func:`exif_orientation` rather than ``getexif``: Pillow's EXIF
    parser warns on damaged data (which a server must neither log per request nor turn into an
    error), and ``PngImageFile.getexif`` decodes every pixel to look for a late eXIf chunk.
    """
    raw = image.info.get("exif")
    return exif_orientation(raw) if isinstance(raw, bytes) else 1


_EXIF_PREFIX = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112


def exif_orientation(raw: bytes) -> int:
    """The Orientation tag of IFD0 in a raw EXIF block (with or without the ``Exif\\0\\0`` prefix),
    or 1 when there is none or the block is damaged; every read is bounds-checked."""
    tiff = raw[len(_EXIF_PREFIX) :] if raw.startswith(_EXIF_PREFIX) else raw
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1
    try:
        (magic, ifd) = struct.unpack_from(order + "HI", tiff, 2)
        if magic != 42:
            return 1
        (count,) = struct.unpack_from(order + "H", tiff, ifd)
        for index in range(min(count, 512)):
            tag, kind, _, value = struct.unpack_from(order + "HHI4s", tiff, ifd + 2 + 12 * index)
            if tag == _ORIENTATION_TAG and kind == 3:  # SHORT, stored in the first two value bytes
                (orientation,) = struct.unpack_from(order + "H", value)
                return orientation if 1 <= orientation <= 8 else 1
    except struct.error:
        return 1
    return 1


def load(source: SourceImage, target: Size | None = None) -> Image.Image:
    """Decode ``source`` (its first frame), oriented and in a mode every step handles.

    Call it once per :class:`SourceImage`: decoding consumes the lazily opened image.

    :param source: from :func:`open_image`.
    :param target: the smallest displayed size the caller needs; a JPEG is then decoded at the
        smallest DCT scale (1/2, 1/4, 1/8) that is still at least this large. ``None`` decodes
        at full size.
    :returns: an image in mode ``L``, ``LA``, ``RGB``, ``RGBA`` or ``CMYK``. CMYK is kept so that
        the conversion to sRGB (:func:`transforms.color.to_srgb`, with or without a profile)
        runs once on the scaled image rather than on every source pixel.
    :raises CorruptImageError: the pixel data cannot be decoded.
    """
    image = source.image
    if target is not None and source.format == "JPEG":
        stored = (target[1], target[0]) if source.orientation >= 5 else target
        image.draft(image.mode, stored)
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError("the source has too many pixels") from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImageError("the source's pixel data cannot be decoded") from exc
    oriented = _orient(image, source.orientation)
    return _normalise_mode(oriented)


def count_frames(source: SourceImage) -> int:
    """The number of frames ``source`` announces: 1 for a still image.

    No pixel is decoded, but a GIF has no frame count in its header: its blocks are walked to the
    end (22 ms for 10,000 1x1 frames). Call it before :func:`load_frame`, never after :func:`load`.

    :raises CorruptImageError: the frame headers cannot be read.
    """
    try:
        return int(getattr(source.image, "n_frames", 1))
    except _DECODE_ERRORS as exc:
        raise CorruptImageError("the source's frames cannot be read") from exc


def load_frame(source: SourceImage, index: int, limits: RenderLimits) -> Image.Image:
    """Decode frame ``index`` of an animated ``source`` as it is shown: composited over the frames
    before it (the format's disposal applied), on the first frame's canvas, oriented, in a mode
    every step handles (as :func:`load`).

    Call it with ``index`` 0, 1, 2, ... in order (each frame is decoded once, from the one before
    it), instead of :func:`load`. The result is a new image: loading the next frame does not
    change it.

    :raises ImageTooLargeError: a frame grows the canvas past ``limits.max_source_pixels``.
    :raises CorruptImageError: the frame cannot be decoded.
    """
    image = source.image
    canvas = (source.size[1], source.size[0]) if source.orientation >= 5 else source.size
    try:
        image.seek(index)
        width, height = image.size  # a GIF frame reaching past the logical screen enlarges it
        if width * height > limits.max_source_pixels:
            raise ImageTooLargeError(f"frame {index} is {width}x{height} px; the limit is {limits.max_source_pixels}")
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError("the source has too many pixels") from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImageError(f"frame {index} of the source cannot be decoded") from exc
    # The render was planned for the first frame's canvas: a frame that enlarged it is cut back to it.
    frame = image if image.size == canvas else image.crop((0, 0, *canvas))
    shown = _normalise_mode(_orient(frame, source.orientation))
    return shown.copy() if shown is image else shown


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    # As ImageOps.exif_transpose, but from the orientation decided by open_image, so the pixels
    # always agree with the size the render was planned for.
    method = _ORIENTATIONS.get(orientation)
    return image if method is None else image.transpose(method)


def _normalise_mode(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("L", "RGB") and image.has_transparency_data:
        return image.convert("LA" if mode == "L" else "RGBA")  # a tRNS colour becomes alpha
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image
    if mode in ("P", "PA"):
        return image.convert("RGBA" if mode == "PA" or image.has_transparency_data else "RGB")
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I;16") or mode == "I":  # 16-bit grey (PNG): scale, do not clip
        return image.convert("I").point(lambda value: value / 257 + 0.5).convert("L")
    if mode in ("F", "La"):
        return image.convert("L" if mode == "F" else "LA")
    alpha = "A" in image.getbands() or "a" in image.getbands()
    return image.convert("RGBA" if alpha else "RGB")
