"""Regenerate the text-overlay goldens in ``tests/golden/text/`` (then review them by eye).

    /tmp/venv/bin/python tests/golden/make_text_goldens.py             # rewrite the goldens
    /tmp/venv/bin/python tests/golden/make_text_goldens.py --preview D # also write D/<name>.jpg

Each golden is the overlay alone: ``draw_text`` on a fully transparent 400x267 RGBA canvas (the
size of ``photo.jpg`` at ``w=400``, ``scale = 400/1200``), so the files stay a few KB. The preview
composites each one onto ``photo.jpg`` resized to 400x267 (what the origin would serve).
``tests/transforms/test_text.py`` imports :data:`CASES` and compares with a tolerance.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from origin.fonts import load_font_book
from transforms.options import FontWeight, Gravity, Length, TextAlign, TextSpec
from transforms.text import draw_text

GOLDEN_DIR = Path(__file__).resolve().parent / "text"
PHOTO = Path(__file__).resolve().parents[2] / "fixtures" / "images" / "photo.jpg"
SIZE = (400, 267)
SCALE = 400 / 1200

_LABELS = {
    Gravity.NORTHWEST: "NW",
    Gravity.NORTH: "N",
    Gravity.NORTHEAST: "NE",
    Gravity.WEST: "W",
    Gravity.CENTER: "C",
    Gravity.EAST: "E",
    Gravity.SOUTHWEST: "SW",
    Gravity.SOUTH: "S",
    Gravity.SOUTHEAST: "SE",
}


def _gravity(canvas: Image.Image) -> Image.Image:
    fonts = load_font_book()
    for gravity, label in _LABELS.items():
        spec = TextSpec(text=label, gravity=gravity, font_size=60, x=Length(30), y=Length(30))
        canvas = draw_text(canvas, spec, fonts, SCALE)
    return canvas


def _single(spec: TextSpec) -> Callable[[Image.Image], Image.Image]:
    return lambda canvas: draw_text(canvas, spec, load_font_book(), SCALE)


CASES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "gravity": _gravity,
    "outline": _single(
        TextSpec(text="Outline", font_size=120, weight=FontWeight.BOLD, outline_width=8, outline_color=(200, 0, 0, 255))
    ),
    "outline_blur": _single(
        TextSpec(text="Glow", font_size=150, color=(255, 255, 0, 255), outline_width=6, outline_blur=10)
    ),
    "background": _single(
        TextSpec(
            text="On a box",
            gravity=Gravity.SOUTH,
            y=Length(5, percent=True),
            color=(20, 20, 20, 255),
            background_color=(255, 255, 255, 255),
            background_opacity=70,
        )
    ),
    "rtl_arabic": _single(TextSpec(text="مرحبا بالعالم", size=60, outline_width=3)),
    "rtl_hebrew": _single(TextSpec(text="שלום עולם", size=50, family="serif", outline_width=3)),
    "wrap": _single(
        TextSpec(
            text="The quick brown fox jumps over the lazy dog and keeps running far beyond the edge of the picture",
            font_size=72,
            family="serif",
            align=TextAlign.LEFT,
            gravity=Gravity.NORTHWEST,
            opacity=90,
            outline_width=2,
        )
    ),
}
"""Golden name -> what to draw on a canvas (``tests/golden/text/<name>.png``)."""


def render_case(name: str) -> Image.Image:
    """The overlay of ``name`` on a transparent canvas (what ``<name>.png`` holds)."""
    return CASES[name](Image.new("RGBA", SIZE, (0, 0, 0, 0)))


def photo() -> Image.Image:
    """``photo.jpg`` resized to :data:`SIZE`."""
    with Image.open(PHOTO) as source:
        return source.convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preview", type=Path, help="also write each golden composited onto photo.jpg here")
    args = parser.parse_args()
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        overlay = render_case(name)
        path = GOLDEN_DIR / f"{name}.png"
        overlay.save(path, optimize=True)
        print(f"{path} {path.stat().st_size} bytes")
        if args.preview is not None:
            args.preview.mkdir(parents=True, exist_ok=True)
            base = photo().convert("RGBA")
            base.alpha_composite(overlay)
            base.convert("RGB").save(args.preview / f"{name}.jpg", quality=90)


if __name__ == "__main__":
    main()
