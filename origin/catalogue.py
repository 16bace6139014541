"""What the studio may show of the image root: folders and images, as request paths.

Only what the image route could serve is listed: names that make canonical, valid UTF-8 paths,
not hidden (a leading dot), not reserved, with an image extension, and that resolve (symlinks
included) inside the root. Listings are bounded and sorted. These functions block on the file
system: call them in a worker thread.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from origin.errors import InvalidPathError, NotFoundError
from origin.paths import IMAGE_EXTENSIONS, check_path, extension, is_reserved
from origin.store import FolderStore

MAX_ENTRIES = 1000  # folders and images listed for one folder
MAX_IMAGES = 500  # images offered as watermarks
MAX_SCANNED = 20_000  # directory entries looked at for one answer, however large the tree


@dataclass(frozen=True, slots=True)
class Listing:
    folders: list[str]  # "/folder/sub/"
    images: list[str]  # "/folder/a.jpg"
    truncated: bool  # more entries than were listed


def list_folder(store: FolderStore, folder: str) -> Listing:
    """The subfolders and images of ``folder`` (``/`` or a canonical path ending in ``/``)."""
    real = store.resolve(folder)
    if _kind(real) != "folder":
        raise NotFoundError("no such folder")
    folders: list[str] = []
    images: list[str] = []
    truncated = False
    try:
        with os.scandir(real) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_SCANNED:
                    truncated = True
                    break
                listed = _entry(store, folder, entry.name)
                if listed is None:
                    continue
                child, target = listed
                kind = _kind(target)
                if kind == "folder":
                    folders.append(child + "/")
                elif kind == "file" and extension(child) in IMAGE_EXTENSIONS:
                    images.append(child)
    except OSError as exc:  # the folder cannot be read (permissions): as if it were not there
        raise NotFoundError("no such folder") from exc
    folders.sort()
    images.sort()
    if len(folders) + len(images) > MAX_ENTRIES:
        truncated = True
        folders = folders[:MAX_ENTRIES]
        images = images[: MAX_ENTRIES - len(folders)]
    return Listing(folders=folders, images=images, truncated=truncated)


def list_images(store: FolderStore) -> list[str]:
    """Up to ``MAX_IMAGES`` image paths from anywhere under the root (the watermark picker's choice)."""
    limit = MAX_IMAGES
    found: list[str] = []
    scanned = 0
    pending = deque(["/"])
    while pending and len(found) < limit and scanned < MAX_SCANNED:
        folder = pending.popleft()
        try:
            with os.scandir(store.resolve(folder)) as entries:
                names = sorted(entry.name for entry in islice(entries, MAX_SCANNED - scanned))
        except (OSError, InvalidPathError):
            continue
        scanned += len(names)
        for name in names:
            listed = _entry(store, folder, name)
            if listed is None:
                continue
            child, target = listed
            kind = _kind(target)
            if kind == "folder":
                pending.append(child + "/")
            elif kind == "file" and extension(child) in IMAGE_EXTENSIONS and len(found) < limit:
                found.append(child)
    return sorted(found)


def _kind(target: Path) -> str | None:
    """``folder``, ``file`` or ``None`` (anything else, or what cannot be looked at)."""
    try:
        if target.is_dir():
            return "folder"
        return "file" if target.is_file() else None
    except OSError:  # permissions: skipped, never a 500
        return None


def _entry(store: FolderStore, folder: str, name: str) -> tuple[str, Path] | None:
    """The request path of ``name`` in ``folder`` and where it leads, if it may be listed."""
    if name.startswith("."):
        return None
    try:
        name.encode("utf-8")  # an undecodable file name (surrogate escapes) has no URL
        child = check_path(folder + name)
        target = store.resolve(child)  # a symlink out of the root is not listed
    except (UnicodeEncodeError, InvalidPathError):
        return None
    return None if is_reserved(child) else (child, target)
