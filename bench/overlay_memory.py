"""Peak memory of the overlay steps on a large output, run by hand: ``.venv/bin/python bench/overlay_memory.py``.

Each case runs in a fresh subprocess, which builds an 8192x8192 RGB image, runs one step on it and
reports its peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), so no case sees another's
heap. The cases:

``plain``  the baseline: the image and the one new image any pure step returns (``image.copy()``).
``tile``   ``apply_watermark`` of a 1x1 opaque mark, tiled, rotated 45°, opacity 50, scale 1.
``text``   ``draw_text`` of "© Studio — preview", size 60 (% of the width), outline 6, blur 4,
           background 000000 at opacity 50.

It prints the three peaks and each overlay's ratio to the baseline (and the difference), from a
single run: never a pass/fail. ``--case NAME`` runs one case in this process (what the parent calls).
The parent imports nothing heavy: Linux carries ``ru_maxrss`` over ``fork`` + ``exec``, so a child
never reports less than its parent's footprint at the fork.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from pathlib import Path

SIZE = (8192, 8192)
CASES = ("plain", "tile", "text")


def run_case(name: str) -> int:
    """Run ``name`` here and return this process's peak RSS in KiB (Linux reports ``ru_maxrss`` in KiB)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from PIL import Image

    from origin.fonts import load_font_book
    from transforms.options import TextSpec, WatermarkSpec
    from transforms.text import draw_text
    from transforms.watermark import apply_watermark

    fonts = load_font_book()
    image = Image.new("RGB", SIZE, (90, 120, 150))
    if name == "plain":
        result = image.copy()
    elif name == "tile":
        mark = Image.new("RGBA", (1, 1), (255, 0, 0, 255))
        spec = WatermarkSpec("/mark.png", tile=True, rotate=45, opacity=50)
        result = apply_watermark(image, mark, spec, 1.0)
    elif name == "text":
        text = TextSpec(
            "© Studio — preview",
            size=60,
            outline_width=6,
            outline_blur=4,
            background_color=(0, 0, 0, 255),
            background_opacity=50,
        )
        result = draw_text(image, text, fonts, 1.0)
    else:
        raise SystemExit(f"unknown case {name!r}")
    assert result.size == SIZE and result.mode == "RGB"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=CASES, help="run one case in this process and print its peak (KiB)")
    args = parser.parse_args()
    if args.case:
        print(run_case(args.case))
        return
    peaks = {}
    for name in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--case", name], check=True, capture_output=True, text=True
        ).stdout
        peaks[name] = int(out.split()[-1]) / 1024
    print(f"peak RSS, {SIZE[0]}x{SIZE[1]} RGB, one step per fresh process ({sys.executable}):")
    for name in CASES:
        extra = peaks[name] - peaks["plain"]
        print(f"  {name:6} {peaks[name]:8.0f} MiB   {peaks[name] / peaks['plain']:5.2f}x plain   {extra:+7.0f} MiB")


if __name__ == "__main__":
    main()
