"""Regenerate the canvas and trim goldens in ``tests/golden/canvas/`` (then review them by eye).

    /tmp/venv/bin/python -m tests.golden.make_canvas_goldens

Run it from the repository root after an intended change to ``transforms/canvas.py`` or
``transforms/trim.py``, look at every PNG it rewrites, and keep them only if they look right.
``tests/transforms/test_canvas.py`` and ``tests/transforms/test_trim.py`` render the same
:data:`CASES` and compare the pixels with a tolerance (never the bytes).

The photo is ``fixtures/images/photo.jpg`` at 160x107 (what ``w=160`` gives). The trim sources are
built here, losslessly, so the trimmed box is exact: the photo on a cream backdrop with a different
margin on each side, and ``fixtures/images/watermark.png`` (a transparent margin of 2 px).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image

from tests.imaging import fixture_image
from transforms.canvas import apply_canvas
from transforms.options import CanvasSpec, Gravity, Length, TrimSpec
from transforms.trim import trim

GOLDEN = Path(__file__).resolve().parent / "canvas"
PHOTO_SIZE = (160, 107)
CREAM = (250, 245, 235)
MARGINS = (17, 9, 31, 23)
"""Left, top, right and bottom margins of :func:`bordered_photo`."""


def photo() -> Image.Image:
    """``photo.jpg`` resized to :data:`PHOTO_SIZE` (RGB)."""
    return fixture_image("photo.jpg").convert("RGB").resize(PHOTO_SIZE, Image.Resampling.LANCZOS)


def grey_photo() -> Image.Image:
    return photo().convert("L")


def bordered_photo() -> Image.Image:
    """:func:`photo` on a :data:`CREAM` backdrop with :data:`MARGINS` around it."""
    left, top, right, bottom = MARGINS
    image = Image.new("RGB", (PHOTO_SIZE[0] + left + right, PHOTO_SIZE[1] + top + bottom), CREAM)
    image.paste(photo(), (left, top))
    return image


def mark() -> Image.Image:
    return fixture_image("watermark.png")


def _canvas(source: Callable[[], Image.Image], spec: CanvasSpec) -> Callable[[], Image.Image]:
    return lambda: apply_canvas(source(), spec)


def _trim(source: Callable[[], Image.Image], spec: TrimSpec) -> Callable[[], Image.Image]:
    return lambda: trim(source(), spec)


CASES: dict[str, Callable[[], Image.Image]] = {
    "square_border": _canvas(
        photo,
        CanvasSpec(
            aspect_ratio=(1, 1),
            color=(30, 40, 60, 255),
            border_width=6,
            border_height=6,
            border_color=(230, 190, 40, 255),
        ),
    ),
    "wide_southeast_faded": _canvas(
        photo,
        CanvasSpec(
            width=Length(125, percent=True),
            aspect_ratio=(16, 9),
            position=Gravity.SOUTHEAST,
            color=(220, 30, 30, 255),
            opacity=40,
            border_width=4,
            border_height=8,
            border_color=(0, 0, 0, 255),
            border_opacity=70,
        ),
    ),
    "grey_north": _canvas(
        grey_photo,
        CanvasSpec(height=Length(160), width=Length(200), position=Gravity.NORTH, color=(90, 90, 90, 255)),
    ),
    "trim_padded": _trim(bordered_photo, TrimSpec(enabled=True, pad_x=Length(6), pad_y=Length(5, percent=True))),
    "trim_transparent": _trim(mark, TrimSpec(enabled=True)),
}
"""Golden name -> how to render it (``tests/golden/canvas/<name>.png``)."""


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, render in CASES.items():
        path = GOLDEN / f"{name}.png"
        image = render()
        image.save(path, format="PNG", optimize=True)
        print(f"{path.stat().st_size:>8}  {image.mode:<4} {image.width}x{image.height}  {path}")


if __name__ == "__main__":
    main()
