"""The origin's settings: frozen, validated once at start-up, then passed in.

Sources, later ones winning: the defaults below, the TOML file (``--config`` / ``ORIGIN_CONFIG``),
``ORIGIN_<NAME>`` environment variables, and the command line (``--root``). A setting that is unknown
or has a bad value stops the start with a message naming it. No secret has a default.

Keys come in two kinds: ``[keys]`` holds HMAC secrets (HS256), which verify and mint; ``[public_keys]``
names PEM files of public keys (RS256, ES256, EdDSA), read and checked here once, which only verify.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt

from transforms import OutputFormat, RenderLimits

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    VerifyingKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey

MIN_SECRET_BYTES = 32
DEV_KEY_ID = "dev"
ENV_KEY_ID = "default"

DEFAULT_PASSTHROUGH_TYPES = frozenset(
    {"mp4", "webm", "mov", "m4v", "mp3", "m4a", "ogg", "oga", "wav", "flac", "pdf", "zip", "gz", "tar", "7z"}
)
SOURCE_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "AVIF"})
HMAC_ALGORITHM = "HS256"
PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256", "EdDSA")
MIN_RSA_BITS = 2048


class ConfigError(Exception):
    """The configuration cannot be used; the message names the offending setting."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A key that verifies tokens and cannot mint them, with the one algorithm it verifies."""

    alg: str  # one of PUBLIC_KEY_ALGORITHMS
    key: VerifyingKey
    file: Path | None = None  # where it was read from, for messages


STORE_KINDS = ("folder", "http", "s3")


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """One ``[stores.NAME]`` table: where the originals of the rules naming it come from.

    The canonical request path is appended to the location as it is: ``/photos/cat.jpg`` is
    ``<root>/photos/cat.jpg`` (folder), ``<base_url>/photos/cat.jpg`` (http) or the object
    ``<prefix>photos/cat.jpg`` (s3).
    """

    name: str
    kind: str  # one of STORE_KINDS
    root: Path | None = None  # folder
    base_url: str | None = None  # http: scheme://host[:port][/path]
    allow_private_addresses: bool = False  # http: loopback, link-local and private upstreams allowed
    endpoint_url: str | None = None  # s3: an S3-compatible endpoint; None = AWS
    bucket: str | None = None  # s3
    prefix: str = ""  # s3: prepended to every object key
    region: str | None = None  # s3
    timeout: float = 10.0  # http, s3: seconds for connecting and for each read
    metadata_ttl: float = 5.0  # http, s3: seconds a source's version is trusted without asking again


@dataclass(frozen=True, slots=True)
class Rule:
    """How one path prefix is protected (SPEC §2). The longest matching prefix applies."""

    prefix: str = "/"
    protect: bool = True
    keys: tuple[str, ...] | None = None  # kids allowed to sign here; None = every key
    max_token_lifetime: int | None = None
    profile: str | None = None
    unsigned_allowed: frozenset[str] | None = None  # None = every non-signed-only parameter
    cache_max_age: int | None = None  # None = the global cache_max_age
    store: str | None = None  # a [stores] name; None = the folder at `root`

    def matches(self, path: str) -> bool:
        return path.startswith(self.prefix)


@dataclass(frozen=True, slots=True)
class Settings:
    root: Path
    keys: Mapping[str, bytes] = field(default_factory=dict)  # kid -> HMAC secret
    public_keys: Mapping[str, PublicKey] = field(default_factory=dict)  # kid -> public key (verify only)
    rules: tuple[Rule, ...] = (Rule(),)
    stores: Mapping[str, StoreConfig] = field(default_factory=dict)
    profiles_dir: Path | None = None
    default_format: OutputFormat = OutputFormat.ORIGINAL
    cache_max_age: int = 30 * 24 * 3600
    passthrough_types: frozenset[str] = DEFAULT_PASSTHROUGH_TYPES
    max_source_bytes: int = 50 * 1024 * 1024
    max_source_pixels: int = 50_000_000
    max_output_dimension: int = 8192
    max_text_length: int = 500
    max_url_length: int = 8192
    max_token_bytes: int = 4096
    jwt_leeway: float = 5.0
    render_concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)
    render_queue: int = 64
    render_timeout: float = 10.0
    cache_max_bytes: int = 256 * 1024 * 1024
    source_formats: frozenset[str] = SOURCE_FORMATS
    max_animation_frames: int = 100
    max_animation_pixels: int = 50_000_000  # frames x output pixels of a kept animation (all held until encoded)
    cors_allow_origin: str = "*"
    broken_source_ttl: float = 10.0
    watermark_cache_bytes: int = 64 * 1024 * 1024
    # Enables POST /v2/files/jwt and /studio. A secret: from ORIGIN_ADMIN_TOKEN only, never the file.
    admin_token: str | None = field(default=None, repr=False)
    public_base_url: str | None = None  # base of minted URLs; None = the request's own scheme://host
    folder_stat_in_thread: bool = False  # stat folder files in a worker thread (for network filesystems)
    once_grace: float = 60.0  # seconds after a one-time link's first use in which Range requests still work
    once_max_entries: int = 100_000  # one-time links remembered at once (new claims beyond: 503)
    once_folder: Path | None = None  # marker files shared by the processes of one host (set by --workers)
    redis_url: str | None = None  # a second-level render cache (and one-time links) shared by replicas
    once_redis_url: str | None = None  # one-time links in a Redis of their own; None = redis_url
    redis_ttl: int = 86_400  # seconds a render is kept in Redis
    redis_max_entry_bytes: int = 8 * 1024 * 1024  # larger renders are not published to Redis
    redis_timeout: float = 0.25  # seconds; slower than this, Redis counts as down for a while

    def __post_init__(self) -> None:
        _validate(self)

    def rule_for(self, path: str) -> Rule:
        """The rule with the longest prefix matching ``path`` (a canonical path)."""
        matching = [rule for rule in self.rules if rule.matches(path)]
        return max(matching, key=lambda rule: len(rule.prefix))

    def keys_for(self, rule: Rule) -> dict[str, bytes | PublicKey]:
        """Every key that may verify a token under ``rule``: secrets and public keys alike."""
        every: dict[str, bytes | PublicKey] = {**self.keys, **self.public_keys}
        if rule.keys is None:
            return every
        return {kid: every[kid] for kid in rule.keys}

    def secrets_for(self, rule: Rule) -> dict[str, bytes]:
        """The HMAC secrets allowed for ``rule``: the only keys the origin itself can mint with."""
        return {kid: key for kid, key in self.keys_for(rule).items() if isinstance(key, bytes)}

    @property
    def render_limits(self) -> RenderLimits:
        return RenderLimits(
            max_source_pixels=self.max_source_pixels,
            max_output_dimension=self.max_output_dimension,
            max_animation_frames=self.max_animation_frames,
            max_animation_pixels=self.max_animation_pixels,
            source_formats=self.source_formats,
        )


# Settings that a TOML top-level key or an ORIGIN_<NAME> variable may set, with their parsers.
_SCALARS = {f.name for f in fields(Settings) if f.name not in ("keys", "public_keys", "rules", "stores", "admin_token")}
_POSITIVE_INTS = (
    "cache_max_age",
    "max_source_bytes",
    "max_source_pixels",
    "max_output_dimension",
    "max_text_length",
    "max_url_length",
    "max_token_bytes",
    "render_concurrency",
    "render_queue",
    "cache_max_bytes",
    "max_animation_frames",
    "max_animation_pixels",
    "watermark_cache_bytes",
    "once_max_entries",
    "redis_ttl",
    "redis_max_entry_bytes",
)


def _validate(s: Settings) -> None:
    if not s.root.is_dir():
        raise ConfigError(f"root: {s.root} is not a directory")
    if not s.keys and not s.public_keys:
        raise ConfigError(
            "keys: no signing key configured (set ORIGIN_JWT_SECRET, [keys] or [public_keys], or use --dev)"
        )
    for kid, secret in s.keys.items():
        if not kid or not isinstance(kid, str):
            raise ConfigError("keys: a key id must be a non-empty string")
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(f"keys.{kid}: a secret must be at least {MIN_SECRET_BYTES} bytes")
        _check_secret(kid, secret)
    for kid, public_key in s.public_keys.items():
        if not kid or not isinstance(kid, str):
            raise ConfigError("public_keys: a key id must be a non-empty string")
        if kid in s.keys:
            raise ConfigError(f"public_keys.{kid}: the key id is also in [keys]; key ids must be unique")
        _check_public_key(kid, public_key)
    for name in _POSITIVE_INTS:
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}: must be a whole number above 0")
    if s.cache_max_age < 0:
        raise ConfigError("cache_max_age: must be 0 or more")
    if not 0 <= s.jwt_leeway <= 300:
        raise ConfigError("jwt_leeway: must be 0..300 seconds")
    if not 0 <= s.broken_source_ttl <= 3600:
        raise ConfigError("broken_source_ttl: must be 0..3600 seconds")
    if not 0 <= s.once_grace <= 3600:
        raise ConfigError("once_grace: must be 0..3600 seconds")
    if not 0 < s.redis_timeout <= 10:
        raise ConfigError("redis_timeout: must be above 0 and at most 10 seconds")
    for rule in s.rules:
        if rule.store is not None and rule.store not in s.stores:
            raise ConfigError(f"rules[{rule.prefix}].store: no [stores.{rule.store}] table")
    if not 0 < s.render_timeout <= 600:
        raise ConfigError("render_timeout: must be above 0 and at most 600 seconds")
    if s.max_output_dimension > 65_535:
        raise ConfigError("max_output_dimension: must be at most 65535")
    if not s.source_formats or not s.source_formats <= SOURCE_FORMATS:
        raise ConfigError(f"source_formats: must be a non-empty subset of {sorted(SOURCE_FORMATS)}")
    if s.default_format not in (
        OutputFormat.ORIGINAL,
        OutputFormat.OPTIMAL,
        OutputFormat.JPG,
        OutputFormat.PNG,
        OutputFormat.WEBP,
        OutputFormat.AVIF,
        OutputFormat.GIF,
    ):
        raise ConfigError("default_format: unknown format")
    if s.admin_token is not None:
        if len(s.admin_token.encode("utf-8")) < MIN_SECRET_BYTES:
            raise ConfigError(f"admin_token: ORIGIN_ADMIN_TOKEN must be at least {MIN_SECRET_BYTES} bytes")
        if s.admin_token.encode("utf-8") in s.keys.values():
            raise ConfigError("admin_token: ORIGIN_ADMIN_TOKEN must not be one of the signing keys")
    if s.public_base_url is not None:
        _check_base_url(s.public_base_url)
    if s.profiles_dir is not None and not s.profiles_dir.is_dir():
        raise ConfigError(f"profiles_dir: {s.profiles_dir} is not a directory")
    if not s.rules or not any(rule.prefix == "/" for rule in s.rules):
        raise ConfigError("rules: a rule for the prefix '/' is required")
    prefixes = [rule.prefix for rule in s.rules]
    if len(set(prefixes)) != len(prefixes):
        raise ConfigError("rules: two rules have the same prefix")
    for rule in s.rules:
        where = f"rules[{rule.prefix}]"
        if not rule.prefix.startswith("/"):
            raise ConfigError(f"{where}.prefix: must start with '/'")
        if rule.keys is not None:
            unknown = [kid for kid in rule.keys if kid not in s.keys and kid not in s.public_keys]
            if unknown or not rule.keys:
                raise ConfigError(f"{where}.keys: unknown or empty key list {unknown}")
        if rule.max_token_lifetime is not None and rule.max_token_lifetime < 1:
            raise ConfigError(f"{where}.max_token_lifetime: must be above 0")
        if rule.cache_max_age is not None and rule.cache_max_age < 0:
            raise ConfigError(f"{where}.cache_max_age: must be 0 or more")
        if rule.profile is not None:
            if s.profiles_dir is None:
                raise ConfigError(f"{where}.profile: needs profiles_dir")
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", rule.profile, re.ASCII):
                raise ConfigError(f"{where}.profile: must be 1..64 letters, digits, '-' or '_'")
            if not (s.profiles_dir / f"{rule.profile}.json").is_file():
                raise ConfigError(f"{where}.profile: no file {rule.profile}.json in {s.profiles_dir}")


def _check_secret(kid: str, secret: bytes) -> None:
    """A secret that PyJWT would refuse as an HMAC key (PEM, SSH or DER key text, a JWK) stops the start:
    every token would fail, and a public key must never be a secret (HMAC/public-key confusion)."""
    try:
        jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256).prepare_key(secret)
    except jwt.InvalidKeyError as exc:
        raise ConfigError(
            f"keys.{kid}: looks like a key file or a JWK, not a secret; public keys go under [public_keys]"
        ) from exc


def _check_public_key(kid: str, public_key: PublicKey) -> None:
    """The key's type matches its algorithm: RSA of 2048+ bits for RS256, P-256 for ES256, Ed25519 for EdDSA."""
    if public_key.alg not in PUBLIC_KEY_ALGORITHMS:
        raise ConfigError(f"public_keys.{kid}.alg: must be one of {', '.join(PUBLIC_KEY_ALGORITHMS)}")
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    key: object = public_key.key
    wanted = {"RS256": "an RSA key", "ES256": "an EC key on curve P-256", "EdDSA": "an Ed25519 key"}[public_key.alg]
    if public_key.alg == "RS256":
        matches = isinstance(key, rsa.RSAPublicKey)
    elif public_key.alg == "ES256":
        matches = isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    else:
        matches = isinstance(key, ed25519.Ed25519PublicKey)
    if not matches:
        raise ConfigError(f"public_keys.{kid}: {public_key.alg} needs {wanted}, not {_describe(key)}")
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ConfigError(f"public_keys.{kid}: an RSA key must have at least {MIN_RSA_BITS} bits, not {key.key_size}")


def _describe(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPublicKey):
        return f"an RSA key of {key.key_size} bits"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"an EC key on curve {key.curve.name}"
    name = type(key).__name__.removeprefix("_").removesuffix("PublicKey")
    return f"a key of type {name or type(key).__name__}"


def _check_base_url(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced [IPv6] host
        parts = urlsplit("")
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
        or any(char.isspace() or ord(char) < 32 for char in url)
    ):
        raise ConfigError("public_base_url: must be an http:// or https:// URL with a host, no query or fragment")


def load_settings(
    *,
    config_path: str | None = None,
    root: str | None = None,
    env: Mapping[str, str] | None = None,
    dev: bool = False,
) -> Settings:
    """Build the settings from the TOML file, the environment and the command line."""
    env = os.environ if env is None else env
    config_path = config_path or env.get("ORIGIN_CONFIG") or None
    raw: dict[str, Any] = {}
    if config_path:
        try:
            raw = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"config: cannot read {config_path}: {exc.strerror}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config: {config_path} is not valid TOML: {exc}") from exc
    base = Path(config_path).parent if config_path else Path.cwd()

    if "admin_token" in raw:
        raise ConfigError("admin_token: a secret; set it with ORIGIN_ADMIN_TOKEN, not in the configuration file")
    unknown = sorted(set(raw) - _SCALARS - {"keys", "rules", "public_keys", "stores"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown setting")

    values: dict[str, Any] = {}
    for name in sorted(_SCALARS):
        if name in raw:
            values[name] = _parse_setting(name, raw[name], base)
        env_value = env.get(f"ORIGIN_{name.upper()}")
        if env_value is not None and env_value != "":
            values[name] = _parse_setting(name, env_value, Path.cwd(), from_env=True)
    if root is not None:
        values["root"] = Path(root)
    if "root" not in values:
        raise ConfigError("root: no image root given (--root, ORIGIN_ROOT or root in the config)")

    keys = _parse_keys(raw.get("keys"))
    public_keys = _parse_public_keys(raw.get("public_keys"), base)
    env_secret = env.get("ORIGIN_JWT_SECRET")
    if not keys and env_secret:
        keys = {ENV_KEY_ID: env_secret.encode("utf-8")}
    if dev and not keys:
        keys = {DEV_KEY_ID: secrets.token_urlsafe(32).encode("ascii")}
    rules = _parse_rules(raw.get("rules"))
    stores = _parse_stores(raw.get("stores"), base)
    admin_token = env.get("ORIGIN_ADMIN_TOKEN") or None
    return Settings(keys=keys, public_keys=public_keys, rules=rules, stores=stores, admin_token=admin_token, **values)


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    """A copy of ``settings`` with some fields changed (validated again)."""
    return replace(settings, **changes)


def _parse_keys(raw: Any) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("keys: must be a table of kid = secret")
    keys = {}
    for kid, secret in raw.items():
        if not isinstance(secret, str):
            raise ConfigError(f"keys.{kid}: must be a string")
        keys[kid] = secret.encode("utf-8")
    return keys


_PUBLIC_KEY_SHAPE = 'must be { file = "NAME.pub.pem", alg = "RS256" | "ES256" | "EdDSA" }'


def _parse_public_keys(raw: Any, base: Path) -> dict[str, PublicKey]:
    """``[public_keys]``: each entry's PEM file (relative to the configuration file's folder), read once."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"public_keys: must be a table of kid = {{ file, alg }} entries; each {_PUBLIC_KEY_SHAPE}")
    public_keys = {}
    for kid, entry in raw.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"public_keys.{kid}: {_PUBLIC_KEY_SHAPE}")
        unknown = sorted(set(entry) - {"file", "alg"})
        if unknown:
            raise ConfigError(f"public_keys.{kid}.{unknown[0]}: unknown setting")
        alg = entry.get("alg")
        if alg not in PUBLIC_KEY_ALGORITHMS:
            raise ConfigError(f"public_keys.{kid}.alg: must be one of {', '.join(PUBLIC_KEY_ALGORITHMS)}")
        file = entry.get("file")
        if not isinstance(file, str) or not file:
            raise ConfigError(f"public_keys.{kid}.file: must be the path of a PEM public key")
        public_keys[kid] = load_public_key(base / file, alg, name=f"public_keys.{kid}")
    return public_keys


def load_public_key(file: Path, alg: str, *, name: str = "public key") -> PublicKey:
    """The public key in the PEM ``file``, for ``alg``; ``ConfigError`` starting with ``name`` if unusable.

    The key's type is checked against ``alg`` when the settings are validated.
    """
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {file}: {exc.strerror}") from exc
    if b"PRIVATE KEY-----" in data:
        raise ConfigError(
            f"{name}: {file} holds a private key; give the public half (origin keygen writes it as NAME.pub.pem)"
        )
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
    except ImportError as exc:
        raise ConfigError(f"{name}: public keys need the cryptography package (pip install 'pyjwt[crypto]')") from exc
    try:
        key = load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{name}: {file} is not a PEM public key") from exc
    return PublicKey(alg=alg, key=key, file=file)  # type: ignore[arg-type]  # any other type fails validation


_RULE_FIELDS = {f.name for f in fields(Rule)}


def _parse_rules(raw: Any) -> tuple[Rule, ...]:
    if raw is None:
        return (Rule(),)
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ConfigError("rules: must be an array of tables ([[rules]])")
    rules = []
    for index, item in enumerate(raw):
        where = f"rules[{index}]"
        unknown = sorted(set(item) - _RULE_FIELDS)
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}: unknown setting")
        prefix = item.get("prefix")
        if not isinstance(prefix, str):
            raise ConfigError(f"{where}.prefix: must be a string")
        protect = item.get("protect", True)
        if not isinstance(protect, bool):
            raise ConfigError(f"{where}.protect: must be true or false")
        keys = item.get("keys")
        if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise ConfigError(f"{where}.keys: must be a list of key ids")
        allowed = item.get("unsigned_allowed")
        if allowed is not None and not (isinstance(allowed, list) and all(isinstance(k, str) for k in allowed)):
            raise ConfigError(f"{where}.unsigned_allowed: must be a list of parameter names")
        for name in ("max_token_lifetime", "cache_max_age"):
            value = item.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{where}.{name}: must be a whole number")
        profile = item.get("profile")
        if profile is not None and not isinstance(profile, str):
            raise ConfigError(f"{where}.profile: must be a string")
        store = item.get("store")
        if store is not None and not isinstance(store, str):
            raise ConfigError(f"{where}.store: must be the name of a [stores] table")
        rules.append(
            Rule(
                prefix=prefix,
                protect=protect,
                keys=tuple(keys) if keys is not None else None,
                max_token_lifetime=item.get("max_token_lifetime"),
                profile=profile,
                unsigned_allowed=frozenset(allowed) if allowed is not None else None,
                cache_max_age=item.get("cache_max_age"),
                store=store,
            )
        )
    if not any(rule.prefix == "/" for rule in rules):
        rules.append(Rule())  # fail closed: paths no rule names are protected by every key
    return tuple(rules)


_STORE_FIELDS = {
    "folder": {"type", "root"},
    "http": {"type", "base_url", "allow_private_addresses", "timeout", "metadata_ttl"},
    "s3": {"type", "endpoint_url", "bucket", "prefix", "region", "timeout", "metadata_ttl"},
}


def _parse_stores(raw: Any, base: Path) -> dict[str, StoreConfig]:
    """``[stores.NAME]`` tables: ``type = "folder" | "http" | "s3"`` and that kind's fields."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("stores: must be a table of [stores.NAME] tables")
    stores = {}
    for name, item in raw.items():
        where = f"stores.{name}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be a table")
        kind = item.get("type")
        if kind not in STORE_KINDS:
            raise ConfigError(f"{where}.type: must be one of {', '.join(STORE_KINDS)}")
        unknown = sorted(set(item) - _STORE_FIELDS[kind])
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}: unknown setting for a {kind} store")
        values: dict[str, Any] = {}
        for key in ("base_url", "endpoint_url", "bucket", "prefix", "region", "root"):
            if key in item:
                if not isinstance(item[key], str) or (key != "prefix" and not item[key]):
                    raise ConfigError(f"{where}.{key}: must be a non-empty string")
                values[key] = item[key]
        for key in ("timeout", "metadata_ttl"):
            if key in item:
                value = item[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
                    raise ConfigError(f"{where}.{key}: must be a number of seconds 0..3600")
                values[key] = float(value)
        if "allow_private_addresses" in item:
            if not isinstance(item["allow_private_addresses"], bool):
                raise ConfigError(f"{where}.allow_private_addresses: must be true or false")
            values["allow_private_addresses"] = item["allow_private_addresses"]
        if kind == "folder":
            if "root" not in values:
                raise ConfigError(f"{where}.root: a folder store needs a root")
            values["root"] = (base / values["root"]).resolve()
            if not values["root"].is_dir():
                raise ConfigError(f"{where}.root: {values['root']} is not a directory")
        if kind == "http":
            url = urlsplit(values.get("base_url", ""))
            if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
                raise ConfigError(f"{where}.base_url: must be an http:// or https:// URL without query")
            if "timeout" in values and values["timeout"] <= 0:
                raise ConfigError(f"{where}.timeout: must be above 0")
        if kind == "s3":
            if "bucket" not in values:
                raise ConfigError(f"{where}.bucket: an s3 store needs a bucket")
            if "endpoint_url" in values and urlsplit(values["endpoint_url"]).scheme not in ("http", "https"):
                raise ConfigError(f"{where}.endpoint_url: must be an http:// or https:// URL")
        stores[name] = StoreConfig(name=name, kind=kind, **values)
    return stores


def _parse_setting(name: str, value: Any, base: Path, *, from_env: bool = False) -> Any:
    """Parse one top-level setting from TOML (typed) or the environment (text)."""
    try:
        if name in ("root", "profiles_dir"):
            if not isinstance(value, str) or not value:
                raise ValueError("must be a path")
            return (base / value).resolve()
        if name == "default_format":
            return OutputFormat(str(value))
        if name in ("passthrough_types", "source_formats"):
            items = value.split(",") if from_env and isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ValueError("must be a list of names")
            cleaned = {i.strip().lstrip(".") for i in items if i.strip()}
            return (
                frozenset(i.upper() for i in cleaned)
                if name == "source_formats"
                else frozenset(i.lower() for i in cleaned)
            )
        if name == "public_base_url":
            if not isinstance(value, str):
                raise ValueError("must be a URL")
            _check_base_url(value)
            return value.rstrip("/")
        if name == "cors_allow_origin":
            if not isinstance(value, str) or not value or any(c in value for c in "\r\n"):
                raise ValueError("must be a single-line string")
            return value
        if name == "folder_stat_in_thread":
            if isinstance(value, bool):
                return value
            if from_env and value in ("true", "false", "1", "0"):
                return value in ("true", "1")
            raise ValueError("must be true or false")
        if name in ("redis_url", "once_redis_url"):
            if not isinstance(value, str) or urlsplit(value).scheme not in ("redis", "rediss", "unix"):
                raise ValueError("must be a redis://, rediss:// or unix:// URL")
            return value
        if name == "once_folder":
            if not isinstance(value, str) or not value:
                raise ValueError("must be a folder path")
            return (base / value).resolve()
        if name in ("jwt_leeway", "render_timeout", "broken_source_ttl", "once_grace", "redis_timeout"):
            if isinstance(value, bool):
                raise ValueError("must be a number")
            return float(value)
        if name in _POSITIVE_INTS:
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError("must be a whole number")
            return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    raise ConfigError(f"{name}: unknown setting")
