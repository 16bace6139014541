from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519

from origin.settings import ConfigError, PublicKey, Rule, Settings, load_settings
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


def test_once_folder_is_found_from_the_configuration_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "elsewhere").mkdir()
    config = write(tmp_path / "conf", f'root = "{FIXTURES}"\nonce_folder = "run/links"\n[keys]\nmain = "{GOOD_KEY}"\n')
    monkeypatch.chdir(tmp_path / "elsewhere")  # not from the working directory
    assert load_settings(config_path=config, env={}).once_folder == (tmp_path / "conf" / "run" / "links").resolve()
    absolute = write(
        tmp_path / "conf", f'root = "{FIXTURES}"\nonce_folder = "{tmp_path}/links"\n[keys]\nmain = "{GOOD_KEY}"\n'
    )
    assert load_settings(config_path=absolute, env={}).once_folder == (tmp_path / "links").resolve()


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


# --- [public_keys] ------------------------------------------------------------------------------

PUBLIC = serialization.PublicFormat.SubjectPublicKeyInfo
PEM = serialization.Encoding.PEM


@functools.cache
def keys_of_every_kind() -> dict[str, Any]:
    """Private keys by name, made once: what a key file may hold, good or bad."""
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa1024": rsa.generate_private_key(public_exponent=65537, key_size=1024),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ed448": ed448.Ed448PrivateKey.generate(),
        "x25519": x25519.X25519PrivateKey.generate(),
    }


def public_pem(name: str) -> bytes:
    return bytes(keys_of_every_kind()[name].public_key().public_bytes(PEM, PUBLIC))


def private_pem(name: str, encryption: Any = None) -> bytes:
    return bytes(
        keys_of_every_kind()[name].private_bytes(
            PEM, serialization.PrivateFormat.PKCS8, encryption or serialization.NoEncryption()
        )
    )


def key_config(tmp_path: Path, files: dict[str, bytes], text: str) -> str:
    """A configuration in ``tmp_path/conf/`` with ``files`` written under ``tmp_path/conf/keys/``."""
    folder = tmp_path / "conf"
    (folder / "keys").mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / "keys" / name).write_bytes(data)
    config = folder / "origin.toml"
    config.write_text(f'root = "{FIXTURES}"\n{text}\n')
    return str(config)


@pytest.mark.parametrize(
    ("alg", "name"), [("RS256", "rsa"), ("ES256", "p256"), ("EdDSA", "ed25519")], ids=["RS256", "ES256", "EdDSA"]
)
def test_public_keys_alone_are_a_valid_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alg: str, name: str
) -> None:
    config = key_config(
        tmp_path,
        {"b.pub.pem": public_pem(name)},
        f'[public_keys]\nbackend = {{ file = "keys/b.pub.pem", alg = "{alg}" }}',
    )
    monkeypatch.chdir(tmp_path)  # the file is found from the configuration's folder, not from here
    settings = load_settings(config_path=config, env={})
    assert settings.keys == {}
    assert set(settings.public_keys) == {"backend"}
    public_key = settings.public_keys["backend"]
    assert public_key.alg == alg
    assert public_key.key == keys_of_every_kind()[name].public_key()
    assert public_key.file == tmp_path / "conf" / "keys" / "b.pub.pem"
    rule = settings.rule_for("/photo.jpg")
    assert settings.keys_for(rule) == {"backend": public_key}
    assert settings.secrets_for(rule) == {}


def test_rules_name_secrets_and_public_keys_alike(tmp_path: Path) -> None:
    config = key_config(
        tmp_path,
        {"b.pub.pem": public_pem("p256"), "r.pub.pem": public_pem("rsa")},
        f"""
[keys]
main = "{GOOD_KEY}"
[public_keys]
backend = {{ file = "keys/b.pub.pem", alg = "ES256" }}
partner = {{ file = "keys/r.pub.pem", alg = "RS256" }}
[[rules]]
prefix = "/"
keys = ["main", "backend"]
[[rules]]
prefix = "/partner/"
keys = ["partner"]
""",
    )
    settings = load_settings(config_path=config, env={})
    assert set(settings.keys_for(settings.rule_for("/a.jpg"))) == {"main", "backend"}
    assert settings.secrets_for(settings.rule_for("/a.jpg")) == {"main": GOOD_KEY.encode()}
    assert set(settings.keys_for(settings.rule_for("/partner/a.jpg"))) == {"partner"}
    assert settings.secrets_for(settings.rule_for("/partner/a.jpg")) == {}


BACKEND = '[public_keys]\nbackend = { file = "keys/b.pem", alg = "ES256" }'


@pytest.mark.parametrize(
    ("files", "text", "named", "says"),
    [
        pytest.param({}, BACKEND, "public_keys.backend", "cannot read", id="missing-file"),
        pytest.param({"b.pem": b"not a key"}, BACKEND, "public_keys.backend", "not a PEM public key", id="not-pem"),
        pytest.param({"b.pem": b""}, BACKEND, "public_keys.backend", "not a PEM public key", id="empty-file"),
        pytest.param(
            {"b.pem": public_pem("p256")[:-40]}, BACKEND, "public_keys.backend", "not a PEM public key", id="cut-pem"
        ),
        pytest.param(
            {"b.pem": private_pem("p256")}, BACKEND, "public_keys.backend", "give the public half", id="private-pkcs8"
        ),
        pytest.param(
            {
                "b.pem": keys_of_every_kind()["p256"].private_bytes(
                    PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
                )
            },
            BACKEND,
            "public_keys.backend",
            "holds a private key",
            id="private-ec-traditional",
        ),
        pytest.param(
            {"b.pem": private_pem("p256", serialization.BestAvailableEncryption(b"pass"))},
            BACKEND,
            "public_keys.backend",
            "holds a private key",
            id="private-encrypted",
        ),
        pytest.param(
            {
                "b.pem": keys_of_every_kind()["ed25519"].private_bytes(
                    PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
                )
            },
            BACKEND.replace("ES256", "EdDSA"),
            "public_keys.backend",
            "holds a private key",
            id="private-openssh",
        ),
        pytest.param(
            {
                "b.pem": keys_of_every_kind()["ed25519"]
                .public_key()
                .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            },
            BACKEND.replace("ES256", "EdDSA"),
            "public_keys.backend",
            "not a PEM public key",
            id="openssh-public-key",
        ),
        pytest.param(
            {"b.pem": public_pem("rsa")}, BACKEND, "public_keys.backend", "ES256 needs an EC key", id="es256-rsa"
        ),
        pytest.param({"b.pem": public_pem("p384")}, BACKEND, "public_keys.backend", "secp384r1", id="es256-p384"),
        pytest.param(
            {"b.pem": public_pem("ed25519")},
            BACKEND,
            "public_keys.backend",
            "ES256 needs an EC key",
            id="es256-ed25519",
        ),
        pytest.param(
            {"b.pem": public_pem("p256")},
            BACKEND.replace("ES256", "RS256"),
            "public_keys.backend",
            "RS256 needs an RSA key",
            id="rs256-ec",
        ),
        pytest.param(
            {"b.pem": public_pem("rsa")},
            BACKEND.replace("ES256", "EdDSA"),
            "public_keys.backend",
            "EdDSA needs an Ed25519 key",
            id="eddsa-rsa",
        ),
        pytest.param(
            {"b.pem": public_pem("ed448")},
            BACKEND.replace("ES256", "EdDSA"),
            "public_keys.backend",
            "EdDSA needs an Ed25519 key",
            id="eddsa-ed448",
        ),
        pytest.param(
            {"b.pem": public_pem("x25519")},
            BACKEND.replace("ES256", "EdDSA"),
            "public_keys.backend",
            "EdDSA needs an Ed25519 key",
            id="eddsa-x25519",
        ),
        pytest.param(
            {"b.pem": public_pem("rsa1024")},
            BACKEND.replace("ES256", "RS256"),
            "public_keys.backend",
            "at least 2048 bits, not 1024",
            id="rsa-1024-bits",
        ),
        pytest.param(
            {"b.pem": public_pem("p256")},
            BACKEND.replace("ES256", "ES384"),
            "public_keys.backend.alg",
            "",
            id="alg-es384",
        ),
        pytest.param(
            {"b.pem": public_pem("rsa")},
            BACKEND.replace("ES256", "PS256"),
            "public_keys.backend.alg",
            "",
            id="alg-ps256",
        ),
        pytest.param(
            {"b.pem": public_pem("p256")},
            BACKEND.replace("ES256", "HS256"),
            "public_keys.backend.alg",
            "",
            id="alg-hs256",
        ),
        pytest.param(
            {"b.pem": public_pem("p256")},
            BACKEND.replace("ES256", "es256"),
            "public_keys.backend.alg",
            "",
            id="alg-case",
        ),
        pytest.param(
            {"b.pem": public_pem("p256")},
            '[public_keys]\nbackend = { file = "keys/b.pem" }',
            "public_keys.backend.alg",
            "RS256, ES256, EdDSA",
            id="alg-missing",
        ),
        pytest.param(
            {}, '[public_keys]\nbackend = { alg = "ES256" }', "public_keys.backend.file", "", id="file-missing"
        ),
        pytest.param({}, '[public_keys]\nbackend = "keys/b.pem"', "public_keys.backend", "file", id="entry-a-string"),
        pytest.param({}, "public_keys = 1", "public_keys", "", id="not-a-table"),
        pytest.param(
            {"b.pem": public_pem("p256")},
            '[public_keys]\nbackend = { file = "keys/b.pem", alg = "ES256", pem = "x" }',
            "public_keys.backend.pem",
            "unknown",
            id="unknown-field",
        ),
        pytest.param(
            {"b.pem": public_pem("p256")},
            f'[keys]\nbackend = "{GOOD_KEY}"\n{BACKEND}',
            "public_keys.backend",
            "unique",
            id="duplicate-kid",
        ),
        pytest.param(
            {"b.pem": public_pem("p256")},
            f"{BACKEND}\n[[rules]]\nprefix = '/'\nkeys = ['backend', 'frontend', 'main']",
            "rules[/].keys",
            "['frontend', 'main']",
            id="rule-names-unknown-keys",
        ),
        pytest.param(
            {},
            "[keys]\nmain = '''" + public_pem("p256").decode() + "'''",
            "keys.main",
            "[public_keys]",
            id="pem-as-secret",
        ),
    ],
)
def test_bad_public_keys_name_the_key(
    tmp_path: Path, files: dict[str, bytes], text: str, named: str, says: str
) -> None:
    config = key_config(tmp_path, files, text)
    with pytest.raises(ConfigError) as info:
        load_settings(config_path=config, env={})
    assert str(info.value).startswith(named), str(info.value)
    assert says in str(info.value), str(info.value)


def test_settings_built_directly_check_the_key_type() -> None:
    p384 = keys_of_every_kind()["p384"].public_key()
    with pytest.raises(ConfigError, match=r"^public_keys\.x: ES256 needs an EC key on curve P-256"):
        Settings(root=FIXTURES, public_keys={"x": PublicKey(alg="ES256", key=p384)})
    with pytest.raises(ConfigError, match=r"^public_keys\.main: the key id is also in \[keys\]"):
        Settings(
            root=FIXTURES,
            keys={"main": SECRET},
            public_keys={"main": PublicKey(alg="ES256", key=keys_of_every_kind()["p256"].public_key())},
        )
