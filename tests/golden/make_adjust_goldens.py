"""Regenerate the light and colour goldens in ``tests/golden/adjust/`` (then review them by eye).

    /tmp/venv/bin/python -m tests.golden.make_adjust_goldens

Run it from the repository root after an intended change to ``transforms/adjust.py``, look at every
PNG it rewrites, and keep them only if they look right. Each golden is ``photo.jpg`` resized to
96x64 and passed through ``adjust`` with one representative setting per family of options, so
the files stay a few KB. ``tests/transforms/test_adjust.py`` imports :data:`CASES` and compares
the pixels with a tolerance (never the bytes).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from transforms.adjust import adjust
from transforms.options import ColourSpec, ToneMode

GOLDEN_DIR = Path(__file__).resolve().parent / "adjust"
PHOTO = Path(__file__).resolve().parents[2] / "fixtures" / "images" / "photo.jpg"
SIZE = (96, 64)

CASES: dict[str, ColourSpec] = {
    "light": ColourSpec(brightness=10, contrast=30, exposure=-20, lightness=5, shadows=50, highlights=-30),
    "hue_saturation": ColourSpec(hue=40, saturation=50),
    "grayscale": ColourSpec(grayscale=True, contrast=20),
    "colorize": ColourSpec(colorize_color=(0, 90, 200, 255), colorize_opacity=60),
    "colortone_sepia": ColourSpec(colortone="sepia"),
    "colortone_highlights": ColourSpec(
        colortone_color=(255, 60, 0, 255), colortone_level=80, colortone_mode=ToneMode.HIGHLIGHTS
    ),
    "colorlevel": ColourSpec(colorlevel_black=40, colorlevel_white=200),
}
"""Golden name -> the options it shows (``tests/golden/adjust/<name>.png``)."""


def photo() -> Image.Image:
    """``photo.jpg`` resized to :data:`SIZE`: the image every golden starts from."""
    with Image.open(PHOTO) as source:
        return source.convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)


def render_case(name: str) -> Image.Image:
    """What ``<name>.png`` holds."""
    return adjust(photo(), CASES[name])


def main() -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        path = GOLDEN_DIR / f"{name}.png"
        render_case(name).save(path, optimize=True)
        print(f"{path} {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
