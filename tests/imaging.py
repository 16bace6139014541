"""Helpers for tests that look at pixels: fixtures, in-memory encoding, tolerant comparison.

Encoders are free to change their bytes between versions, so tests compare decoded pixels with a
tolerance (mean absolute difference per channel), never encoded bytes.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageCms, ImageStat

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "images"


def fixture_bytes(name: str) -> bytes:
    """The bytes of ``fixtures/images/<name>``."""
    return (FIXTURES / name).read_bytes()


def fixture_image(name: str) -> Image.Image:
    """``fixtures/images/<name>`` decoded (first frame), as stored: no EXIF orientation applied."""
    return decode(fixture_bytes(name))


def decode(data: bytes) -> Image.Image:
    """``data`` fully decoded, detached from its buffer."""
    with Image.open(BytesIO(data)) as image:
        image.load()
        return image


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    """``image`` saved as ``fmt`` into memory."""
    out = BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def _comparable(a: Image.Image, b: Image.Image) -> tuple[Image.Image, Image.Image]:
    alpha = any(image.mode in ("LA", "RGBA", "PA") or image.has_transparency_data for image in (a, b))
    mode = "RGBA" if alpha else "RGB"
    return a.convert(mode), b.convert(mode)


def channel_diffs(a: Image.Image, b: Image.Image) -> list[float]:
    """Mean absolute difference of each channel (RGB, or RGBA when either has alpha)."""
    assert a.size == b.size, f"sizes differ: {a.size} != {b.size}"
    first, second = _comparable(a, b)
    return list(ImageStat.Stat(ImageChops.difference(first, second)).mean)


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    """The largest of :func:`channel_diffs`."""
    return max(channel_diffs(a, b))


def assert_images_close(a: Image.Image, b: Image.Image, max_mean_diff: float = 2.0) -> None:
    """Fail unless ``a`` and ``b`` have the same size and every channel's mean absolute
    difference is at most ``max_mean_diff`` (0..255)."""
    diffs = channel_diffs(a, b)
    assert max(diffs) <= max_mean_diff, f"mean channel differences {diffs} exceed {max_mean_diff}"


def region_mean(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, ...]:
    """The mean of each band of ``image`` inside ``box``."""
    return tuple(ImageStat.Stat(image.crop(box)).mean)


def inset(box: tuple[int, int, int, int], margin: int) -> tuple[int, int, int, int]:
    """``box`` shrunk by ``margin`` on every side (to sample a patch away from its edges)."""
    left, top, right, bottom = box
    return left + margin, top + margin, right - margin, bottom - margin


def srgb_reference(image: Image.Image, icc_profile: bytes) -> Image.Image:
    """``image`` converted from ``icc_profile`` to sRGB by ImageCms directly (the reference)."""
    converted = ImageCms.profileToProfile(
        image, ImageCms.ImageCmsProfile(BytesIO(icc_profile)), ImageCms.createProfile("sRGB"), outputMode="RGB"
    )
    assert converted is not None
    return converted
