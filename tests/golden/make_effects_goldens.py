"""Regenerate the effects and frame goldens in ``tests/golden/effects/`` (then review them by eye).

    /tmp/venv/bin/python tests/golden/make_effects_goldens.py             # rewrite the goldens
    /tmp/venv/bin/python tests/golden/make_effects_goldens.py --preview D # also write D/<name>.png at 600x400

Each golden is ``photo.jpg`` resized to 120x80 (:func:`photo`) with one effect or frame applied,
saved as PNG, so the files stay small. ``tests/transforms/test_effects.py`` and
``tests/transforms/test_frame.py`` import :data:`CASES` and compare with a tolerance.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from transforms.effects import apply_effects
from transforms.frame import apply_frame
from transforms.options import EffectsSpec, FrameSpec, FrameStyle

GOLDEN_DIR = Path(__file__).resolve().parent / "effects"
PHOTO = Path(__file__).resolve().parents[2] / "fixtures" / "images" / "photo.jpg"
SIZE = (120, 80)


def _effects(spec: EffectsSpec) -> Callable[[Image.Image], Image.Image]:
    return lambda image: apply_effects(image, spec)


def _frame(spec: FrameSpec) -> Callable[[Image.Image], Image.Image]:
    return lambda image: apply_frame(image, spec)


CASES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "blur": _effects(EffectsSpec(blur=40)),
    "sharpen": _effects(EffectsSpec(sharpen=100)),
    "vignette": _effects(EffectsSpec(vignette=80)),
    "vignette_white": _effects(EffectsSpec(vignette=60, vignette_color=(255, 255, 255, 255))),
    "opacity": _effects(EffectsSpec(opacity=50)),
    "all_effects": _effects(EffectsSpec(blur=10, sharpen=50, vignette=50, vignette_color=(80, 0, 40, 255), opacity=80)),
    "frame_solid": _frame(FrameSpec(color=(30, 60, 120, 255), width=10, rim_color=(240, 230, 200, 255), rim_width=3)),
    "frame_mirror": _frame(FrameSpec(style=FrameStyle.MIRROR, width=16, rim_width=2)),
    "frame_edge": _frame(FrameSpec(style=FrameStyle.EDGE, width=16, rim_color=(0, 0, 0, 255), rim_width=2)),
    "frame_translucent": _frame(FrameSpec(color=(200, 0, 0, 128), width=8)),
}
"""Golden name -> what to do to :func:`photo` (``tests/golden/effects/<name>.png``)."""


def photo(size: tuple[int, int] = SIZE) -> Image.Image:
    """``photo.jpg`` resized to ``size``."""
    with Image.open(PHOTO) as source:
        return source.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def render_case(name: str, size: tuple[int, int] = SIZE) -> Image.Image:
    """:func:`photo` with the effect or frame of ``name`` (at :data:`SIZE`, what ``<name>.png`` holds)."""
    return CASES[name](photo(size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preview", type=Path, help="also write each case at 600x400 here, to review by eye")
    args = parser.parse_args()
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        path = GOLDEN_DIR / f"{name}.png"
        render_case(name).save(path, optimize=True)
        print(f"{path} {path.stat().st_size} bytes")
        if args.preview is not None:
            args.preview.mkdir(parents=True, exist_ok=True)
            render_case(name, (600, 400)).save(args.preview / f"{name}.png")


if __name__ == "__main__":
    main()
