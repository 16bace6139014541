"""Minting signed URLs over HTTP (SPEC §7): ``POST /v2/files/jwt``, and the checks the studio shares.

A request is checked against everything the image route would refuse before anything is signed:
the path (canonical, not reserved, an image that exists), the lifetime (the rule's
``max_token_lifetime``), the key (allowed for the rule, and for a protected watermark), the audience,
and the parameters, merged exactly as the minted URL will be. Every problem is reported together in
one ``400 invalid parameters``, named by the body's field or by the image parameter.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from origin.admin import bearer_token, client_address
from origin.auth import ArgValue, Claims, decode_unverified
from origin.errors import (
    BodyTooLargeError,
    InvalidBodyError,
    InvalidPathError,
    NotFoundError,
    ParameterError,
    UnprocessableSourceError,
)
from origin.params import MAX_QUERY_FIELDS, parse_query
from origin.paths import IMAGE_EXTENSIONS, check_path, extension, is_reserved
from origin.routes import merge_layers, watermark_source
from origin.settings import Rule, Settings
from origin.signing import sign_url
from origin.state import AppState

MAX_BODY_BYTES = 16 * 1024
DEFAULT_MAX_LIFETIME = 30 * 24 * 3600  # when the rule sets no max_token_lifetime
NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True, slots=True)
class FieldNames:
    """How one API spells the path and the lifetime (the other fields are spelled alike)."""

    path: str
    lifetime: str

    @property
    def all(self) -> frozenset[str]:
        return frozenset({self.path, self.lifetime, "secureParams", "insecureParams", "kid", "aud"})


REST_FIELDS = FieldNames(path="filename", lifetime="expiresIn")  # Sirv's REST API
STUDIO_FIELDS = FieldNames(path="path", lifetime="lifetime")


@dataclass(frozen=True, slots=True)
class Minted:
    url: str
    token: str
    header: dict[str, Any]
    payload: dict[str, Any]


async def mint_url(request: Request) -> Response:
    """``POST /v2/files/jwt``: ``Authorization: Bearer <admin token>``, Sirv's body → ``{"url": ...}``."""
    state: AppState = request.app.state.origin
    if state.admin is None:
        raise NotFoundError()
    state.admin.check(bearer_token(request), client_address(request))
    body = await read_json_object(request)
    minted = await mint(state, body, REST_FIELDS, base_url(request, state.settings), time.time())
    return JSONResponse({"url": minted.url}, headers=NO_STORE)


def base_url(request: Request, settings: Settings) -> str:
    """Where minted URLs point: ``public_base_url``, else the request's own scheme://host."""
    return (settings.public_base_url or str(request.base_url)).rstrip("/")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(f"at most {limit} bytes")
    return bytes(body)


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object of real text (no lone surrogates, no NaN or Infinity)."""
    raw = await read_body(request)
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeError) as exc:  # JSONDecodeError, too many digits
        raise InvalidBodyError("must be a JSON object") from exc
    if not isinstance(value, dict):
        raise InvalidBodyError("must be a JSON object")
    return value


def _audience_reach(aud: str, path: str, settings: Settings) -> str | None:
    """Why a folder audience would open more than the operator meant, or ``None``.

    An audience is the file itself or a folder (ending in ``/``) holding it. Every path under the
    folder must fall under the file's own rule or a public one: otherwise a link minted for a file
    could open protected files of another rule, with other keys or a shorter lifetime.
    """
    if not aud.endswith("/"):
        return "must be the file itself or a folder (ending in /) that holds it"
    own = settings.rule_for(path)
    enclosing = settings.rule_for(aud)
    reached = [enclosing, *(rule for rule in settings.rules if rule.prefix.startswith(aud))]
    for rule in reached:
        if rule is not own and rule.protect:
            return f"would also open paths under the rule for {rule.prefix}"
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def mint(state: AppState, body: Mapping[str, Any], names: FieldNames, base: str, now: float) -> Minted:
    """A signed URL for ``body``, or ``ParameterError`` naming every field or parameter that fails."""
    settings = state.settings
    problems: dict[str, str] = {name: "unknown field" for name in body if name not in names.all}
    path = _path(body.get(names.path), names.path, problems)
    rule = settings.rule_for(path) if path is not None else None
    lifetime = _lifetime(body.get(names.lifetime), names.lifetime, rule, problems)
    secure = _scalars(body.get("secureParams"), "secureParams", problems)
    insecure = _scalars(body.get("insecureParams"), "insecureParams", problems)
    if "jwt" in insecure or len(insecure) >= MAX_QUERY_FIELDS:
        problems["insecureParams"] = f"at most {MAX_QUERY_FIELDS - 1} parameters, and not jwt (the token's own)"
        insecure = {}
    aud = body.get("aud")
    if aud is not None and not (isinstance(aud, str) and aud.startswith("/")):
        problems["aud"] = "must be a path prefix starting with /"
    elif aud is not None and path is not None and not path.startswith(aud):
        problems["aud"] = f"must be a prefix of {names.path}"
    elif aud is not None and path is not None and aud != path:
        reach = _audience_reach(aud, path, settings)
        if reach:
            problems["aud"] = reach
    kid = body.get("kid")
    if kid is not None and not isinstance(kid, str):
        problems["kid"] = "must be a key id"
    if path is None or rule is None:
        raise ParameterError(problems)  # nothing below can be checked without the path

    try:
        await anyio.to_thread.run_sync(state.store_for(path).stat, path)
    except (NotFoundError, InvalidPathError):
        problems[names.path] = f"no image at {path}"
    except UnprocessableSourceError as exc:
        problems[names.path] = str(exc)
    key_id = _key_id(kid if isinstance(kid, str) else None, rule, secure, settings, problems)
    query = urlencode([(name, _query_text(value)) for name, value in insecure.items()], quote_via=quote, safe="")
    try:
        merged = await merge_layers(state, parse_query(query.encode("ascii")), secure, rule)
        if key_id is not None:
            claims = Claims(expires_at=now + (lifetime or 0), audience=(aud or path,), args=secure, key_id=key_id)
            await watermark_source(state, merged, claims)
    except ParameterError as exc:
        problems.update({name: why for name, why in exc.problems.items() if name not in problems})
    if problems or key_id is None or lifetime is None:
        raise ParameterError(problems)

    url = sign_url(
        path,
        key=settings.keys[key_id],
        expires_in=lifetime,
        args=secure,
        query=query,
        aud=aud or path,
        kid=key_id,
        base_url=base,
        now=now,
    )
    token = url.rsplit("jwt=", 1)[1]
    if len(token.encode("ascii")) > settings.max_token_bytes:
        problems["secureParams"] = f"make a token over max_token_bytes ({settings.max_token_bytes})"
    target = url[len(base) :]
    if len(target.encode("ascii")) > settings.max_url_length:
        problems["url"] = f"would be over max_url_length ({settings.max_url_length} bytes)"
    if problems:
        raise ParameterError(problems)
    header, payload = decode_unverified(token)
    return Minted(url=url, token=token, header=header, payload=payload)


def max_lifetime(rule: Rule) -> int:
    return rule.max_token_lifetime if rule.max_token_lifetime is not None else DEFAULT_MAX_LIFETIME


def _path(value: Any, field: str, problems: dict[str, str]) -> str | None:
    if not isinstance(value, str):
        problems[field] = "required: the path of an image, such as /folder/image.jpg"
        return None
    try:
        path = check_path(value)
    except InvalidPathError as exc:
        problems[field] = f"must be a canonical path ({exc})"
        return None
    if is_reserved(path):
        problems[field] = "is a reserved path, never served"
        return None
    if extension(path) not in IMAGE_EXTENSIONS:
        problems[field] = "must name an image (" + ", ".join(sorted(IMAGE_EXTENSIONS)) + ")"
        return None
    return path


def _lifetime(value: Any, field: str, rule: Rule | None, problems: dict[str, str]) -> int | None:
    highest = max_lifetime(rule) if rule is not None else DEFAULT_MAX_LIFETIME
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
        problems[field] = f"must be a whole number of seconds 1..{highest}"
        return None
    return value


def _scalars(value: Any, field: str, problems: dict[str, str]) -> dict[str, ArgValue]:
    """An object of strings, finite numbers and booleans (what a token's ``args`` may hold)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems[field] = "must be an object of parameter: value"
        return {}
    bad = [
        name
        for name, item in value.items()
        if not isinstance(item, str | int | float | bool) or (isinstance(item, float) and not math.isfinite(item))
    ]
    if bad:
        problems[field] = "values must be strings, numbers or booleans: " + ", ".join(sorted(bad))
        return {}
    return dict(value)


def _key_id(
    kid: str | None, rule: Rule, secure: Mapping[str, ArgValue], settings: Settings, problems: dict[str, str]
) -> str | None:
    """The key to sign with: the one asked for if the rule allows it, else the first the rule allows
    that may also sign for a protected watermark (so that the URL does not fail on it). Only secrets
    mint: a public key verifies tokens that its private half, held elsewhere, signed."""
    allowed = list(settings.secrets_for(rule))
    if kid is not None and kid in settings.public_keys:
        problems["kid"] = "is a public key: the origin verifies its tokens but cannot mint them"
        return None
    if not allowed:
        problems["kid"] = f"no secret key may sign for {rule.prefix}: its keys are public keys, which only verify"
        return None
    if kid is not None:
        if kid not in allowed:
            problems["kid"] = "must be one of " + ", ".join(allowed) + f" (keys allowed for {rule.prefix})"
            return None
        return kid
    mark = secure.get("watermark")
    if isinstance(mark, str) and mark.startswith("/"):
        mark_rule = settings.rule_for(mark)
        if mark_rule.protect:
            both = [key for key in allowed if key in settings.secrets_for(mark_rule)]
            return both[0] if both else allowed[0]
    return allowed[0]


def _query_text(value: ArgValue) -> str:
    """A JSON scalar as a query value: what ``params`` reads back as the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
