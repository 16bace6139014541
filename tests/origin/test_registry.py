from __future__ import annotations

import re
from pathlib import Path

from origin.registry import BY_NAME, PARAMS, markdown_table

REPO = Path(__file__).resolve().parents[2]
VALUE_WORDS = {
    "fit",
    "fill",
    "ignore",
    "noup",
    "trim",
    "poi",
    "solid",
    "mirror",
    "edge",
    "none",
    "front",
    "back",
    "original",
    "optimal",
    "jpg",
    "png",
    "webp",
    "avif",
    "gif",
    "tile",
    "north",
    "northeast",
    "center",
}


def test_readme_carries_the_generated_parameter_table() -> None:
    assert markdown_table() in (REPO / "README.md").read_text(encoding="utf-8")


def test_registry_knows_every_parameter_of_the_contract() -> None:
    spec = REPO.parent / "shared" / "SPEC.md"
    text = spec.read_text(encoding="utf-8")
    section = text[text.index("| group | parameters |") : text.index("Colours:")]
    names = set(re.findall(r"`([a-z][a-z0-9.\-]*)`", section)) - VALUE_WORDS
    assert len(names) > 90
    assert sorted(name for name in names if name not in BY_NAME) == []


def test_names_and_aliases_are_unique() -> None:
    names = [name for param in PARAMS for name in (param.name, *param.aliases)]
    assert len(names) == len(set(names)) == len(BY_NAME)


def test_every_parameter_of_the_contract_is_implemented() -> None:
    assert [param.name for param in PARAMS if not param.supported] == []
    assert all(param.values for param in PARAMS)
