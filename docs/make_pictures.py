"""Render the README's overlay pictures through the app, exactly as the example URLs ask.

Run from the repository root: ``.venv/bin/python docs/make_pictures.py``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from origin import Settings, create_app, sign_url

ROOT = Path(__file__).resolve().parent.parent
KEY = b"docs-only-key-0123456789-0123456789"
EXAMPLES = {
    "text-overlay.jpg": (
        {
            "text": "© Studio — preview",
            "text.size": 70,
            "text.position": "south",
            "text.position.y": "6%",
            "text.color": "FFFFFF",
            "text.outline.width": 3,
            "text.outline.color": "000000",
            "text.outline.opacity": 60,
        },
        "w=600",
    ),
    "watermark.jpg": (
        {
            "watermark": "/watermark.png",
            "watermark.position": "tile",
            "watermark.scale.width": "20%",
            "watermark.opacity": 45,
            "watermark.rotate": -20,
        },
        "w=600",
    ),
}


def main() -> None:
    client = TestClient(create_app(Settings(root=ROOT / "fixtures" / "images", keys={"docs": KEY})))
    for name, (args, query) in EXAMPLES.items():
        url = sign_url("/photo.jpg", key=KEY, args=args, query=query, expires_in=600)
        response = client.get(url)
        response.raise_for_status()
        (ROOT / "docs" / name).write_bytes(response.content)
        print(f"docs/{name}: {len(response.content)} bytes")


if __name__ == "__main__":
    main()
