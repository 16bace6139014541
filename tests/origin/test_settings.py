from __future__ import annotations

from pathlib import Path

import pytest

from origin.settings import ConfigError, Rule, Settings, load_settings
from tests.conftest import FIXTURES, SECRET
from transforms import OutputFormat

GOOD_KEY = "k" * 32


def write(tmp_path: Path, text: str) -> str:
    config = tmp_path / "origin.toml"
    config.write_text(text)
    return str(config)


def test_no_config_protects_the_root_with_the_environment_key() -> None:
    settings = load_settings(root=str(FIXTURES), env={"ORIGIN_JWT_SECRET": GOOD_KEY})
    assert settings.keys == {"default": GOOD_KEY.encode()}
    assert settings.rules == (Rule(prefix="/", protect=True),)


def test_refuses_to_start_without_a_key() -> None:
    with pytest.raises(ConfigError, match="no signing key"):
        load_settings(root=str(FIXTURES), env={})


def test_dev_mode_makes_a_random_key() -> None:
    first = load_settings(root=str(FIXTURES), env={}, dev=True)
    second = load_settings(root=str(FIXTURES), env={}, dev=True)
    assert len(first.keys["dev"]) >= 32
    assert first.keys != second.keys


@pytest.mark.parametrize("secret", ["short", "x" * 31])
def test_short_secrets_refuse_to_start(secret: str) -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        load_settings(root=str(FIXTURES), env={"ORIGIN_JWT_SECRET": secret})


def test_full_config_with_rotation_and_rules(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        f"""
root = "{FIXTURES}"
cache_max_age = 600
max_source_pixels = 1000000
default_format = "optimal"
source_formats = ["jpeg", "png"]

[keys]
main = "{GOOD_KEY}"
next = "{"n" * 40}"

[[rules]]
prefix = "/"
keys = ["main", "next"]
max_token_lifetime = 86400
unsigned_allowed = ["w", "h", "s", "q", "format"]
cache_max_age = 2592000

[[rules]]
prefix = "/public/"
protect = false
""",
    )
    settings = load_settings(config_path=config, env={})
    assert set(settings.keys) == {"main", "next"}
    assert settings.cache_max_age == 600
    assert settings.max_source_pixels == 1_000_000
    assert settings.default_format is OutputFormat.OPTIMAL
    assert settings.source_formats == frozenset({"JPEG", "PNG"})
    assert settings.rule_for("/public/a.jpg").protect is False
    assert settings.rule_for("/publicity.jpg").protect is True
    assert settings.rule_for("/x.jpg").unsigned_allowed == frozenset({"w", "h", "s", "q", "format"})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = write(tmp_path, f'root = "{FIXTURES}"\nrender_queue = 5\n[keys]\nmain = "{GOOD_KEY}"\n')
    settings = load_settings(config_path=config, env={"ORIGIN_RENDER_QUEUE": "9", "ORIGIN_JWT_LEEWAY": "2"})
    assert settings.render_queue == 9
    assert settings.jwt_leeway == 2.0


def test_rules_without_a_root_rule_fail_closed(tmp_path: Path) -> None:
    config = write(
        tmp_path, f'root = "{FIXTURES}"\n[keys]\nmain = "{GOOD_KEY}"\n[[rules]]\nprefix = "/public/"\nprotect = false\n'
    )
    settings = load_settings(config_path=config, env={})
    assert settings.rule_for("/other.jpg").protect is True


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("colour = 1", "colour"),
        ("max_source_bytes = -1", "max_source_bytes"),
        ("max_source_bytes = 'many'", "max_source_bytes"),
        ("render_timeout = 0", "render_timeout"),
        ("default_format = 'bmp'", "default_format"),
        ("source_formats = ['TIFF']", "source_formats"),
        ("[[rules]]\nprefix = '/'\nprotect = 'yes'", "rules[0].protect"),
        ("[[rules]]\nprefix = '/'\nkeys = ['nope']", "rules[/].keys"),
        ("[[rules]]\nprefix = 'x/'", "rules[x/].prefix"),
        ("[[rules]]\nprefix = '/'\nwhatever = 1", "rules[0].whatever"),
        ("[public_keys]\nb = 'x'", "public_keys"),
        ("this is not toml", "config"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, text: str, named: str) -> None:
    config = write(
        tmp_path,
        f'root = "{FIXTURES}"\n{text}\n'
        if not text.startswith("[")
        else f'root = "{FIXTURES}"\n[keys]\nmain = "{GOOD_KEY}"\n{text}\n',
    )
    with pytest.raises(ConfigError) as info:
        load_settings(config_path=config, env={"ORIGIN_JWT_SECRET": GOOD_KEY})
    assert str(info.value).startswith(named), str(info.value)


def test_bad_environment_value_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="^render_queue"):
        load_settings(root=str(FIXTURES), env={"ORIGIN_JWT_SECRET": GOOD_KEY, "ORIGIN_RENDER_QUEUE": "lots"})


def test_missing_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^root"):
        load_settings(root=str(tmp_path / "nope"), env={"ORIGIN_JWT_SECRET": GOOD_KEY})


def test_longest_prefix_wins() -> None:
    settings = Settings(
        root=FIXTURES,
        keys={"main": SECRET},
        rules=(Rule(prefix="/"), Rule(prefix="/a/", protect=False), Rule(prefix="/a/b/", protect=True)),
    )
    assert settings.rule_for("/a/x.jpg").protect is False
    assert settings.rule_for("/a/b/x.jpg").protect is True
    assert settings.rule_for("/ab.jpg").prefix == "/"
