"""``GET /openapi.json``: the OpenAPI 3.1 description of every endpoint (SPEC §1).

The image route's query parameters are generated from the parameter registry, so the document
cannot drift from what the origin accepts. The admin endpoints are always described, and say that
they answer 404 unless ``ORIGIN_ADMIN_TOKEN`` is set.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from origin.registry import PARAMS
from origin.settings import Settings
from origin.state import AppState

Json = dict[str, Any]

_ADMIN_ONLY = " Answers 404, like an unknown path, unless ORIGIN_ADMIN_TOKEN is configured."
_NO_STORE = {"Cache-Control": {"schema": {"type": "string", "const": "no-store"}}}
_SCALAR: Json = {"type": ["string", "number", "boolean"]}
_BINARY: Json = {"type": "string", "format": "binary"}


async def document(request: Request) -> Response:
    state: AppState = request.app.state.origin
    return JSONResponse(openapi_document(state.settings), headers={"Cache-Control": "no-cache"})


def openapi_document(settings: Settings) -> Json:
    doc: Json = {
        "openapi": "3.1.0",
        "info": {
            "title": "image-origin",
            "version": _version(),
            "description": "A signed-URL image CDN origin. Parameter names and tokens follow Sirv's dynamic "
            "imaging and JWT protection.",
        },
        "paths": {
            "/{path}": _image_path(),
            "/healthz": {"get": _op("Liveness", {"200": _text("ok while the process can serve")})},
            "/metrics": {"get": _op("Prometheus metrics", {"200": _text("Prometheus text format")})},
            "/openapi.json": {"get": _op("This document", {"200": _json("OpenAPI 3.1 document", {"type": "object"})})},
            "/v2/files/jwt": {"post": _mint()},
            "/studio": {"get": _op("The studio page, or its login form without a session." + _ADMIN_ONLY, _html())},
            "/studio/login": {"post": _login()},
            "/studio/logout": {"post": _logout()},
            "/studio/static/{name}": {"get": _static()},
            "/studio/api/browse": {"get": _browse()},
            "/studio/api/options": {"get": _options()},
            "/studio/api/sign": {"post": _sign()},
        },
        "components": {"schemas": _schemas(), "securitySchemes": _security_schemes()},
    }
    if settings.public_base_url is not None:
        doc["servers"] = [{"url": settings.public_base_url}]
    return doc


def _version() -> str:
    try:
        return metadata.version("image-origin")
    except metadata.PackageNotFoundError:
        return "0"


def _op(summary: str, responses: Json, **more: Any) -> Json:
    return {"summary": summary, "responses": responses, **more}


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: Json, headers: Json | None = None) -> Json:
    response: Json = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _text(description: str) -> Json:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


def _html(status: str = "200", description: str = "HTML page") -> Json:
    return {status: {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}}


def _errors(*codes: str) -> Json:
    described = {
        "304": "If-None-Match matched",
        "400": "invalid path, body or parameters (every failing one named)",
        "401": "no admin token, a wrong one, or no studio session",
        "403": "token refused (X-Auth-Result says why), or a wrong X-CSRF-Token",
        "404": "no such file, or the admin endpoints are off",
        "413": "body over 16 KiB",
        "414": "URL over max_url_length",
        "422": "the source cannot be processed",
        "429": "too many wrong admin tokens from this client (Retry-After)",
        "503": "render queue full or render too slow (Retry-After)",
    }
    return {
        code: {"description": described[code]} if code == "304" else _json(described[code], _ref("Error"), _NO_STORE)
        for code in codes
    }


def _image_path() -> Json:
    parameters = [
        _param("path", "path", "Path of the file under the image root; may hold '/'."),
        _param("jwt", "query", "Signed token (HS256); required on protected paths."),
    ]
    for param in PARAMS:
        if not param.supported:
            continue
        notes = [param.values] + ([f"default {param.default}"] if param.default else [])
        if param.signed_only:
            notes.append("signed-only on protected paths")
        parameters.append(_param(param.name, "query", "; ".join(notes)))
        parameters += [_param(alias, "query", f"alias of {param.name}") for alias in param.aliases]
    image = {"description": "the processed image", "content": {"image/*": {"schema": _BINARY}}}
    responses = {"200": image, **_errors("304", "400", "403", "404", "414", "422", "503")}
    get = _op("Serve an image, processed by the query's and the token's parameters", responses, parameters=parameters)
    head = {**get, "summary": "The headers of GET", "operationId": "headImage"}
    return {"get": {**get, "operationId": "getImage"}, "head": head}


def _mint() -> Json:
    return _op(
        "Mint a signed URL (Sirv's REST shape)." + _ADMIN_ONLY,
        {"200": _json("the signed URL", _ref("MintResponse"), _NO_STORE), **_errors("400", "401", "404", "413", "429")},
        operationId="mintUrl",
        security=[{"adminToken": []}],
        requestBody={"required": True, "content": {"application/json": {"schema": _ref("MintRequest")}}},
    )


def _login() -> Json:
    form = {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}
    redirect = {
        "description": "logged in: session cookie set, to /studio",
        "headers": {"Set-Cookie": {"schema": {"type": "string"}}},
    }
    return _op(
        "Log in to the studio with the admin token." + _ADMIN_ONLY,
        {
            "303": redirect,
            **_html("401", "wrong token: the login form again"),
            **_html("429", "too many wrong tokens from this client"),
            **_errors("404", "413"),
        },
        operationId="studioLogin",
        requestBody={"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}},
    )


def _param(name: str, where: str, description: str, schema: Json | None = None) -> Json:
    required = where in ("path", "header")
    return {"name": name, "in": where, "required": required, "schema": schema or {"type": "string"}} | (
        {"description": description} if description else {}
    )


def _csrf() -> Json:
    return _param("X-CSRF-Token", "header", "the session's CSRF token, from the page's csrf-token meta tag")


def _logout() -> Json:
    return _op(
        "End the studio session." + _ADMIN_ONLY,
        {"303": {"description": "session ended, cookie cleared, to /studio"}, **_errors("403", "404")},
        operationId="studioLogout",
        parameters=[_csrf()],
    )


def _static() -> Json:
    name = _param("name", "path", "", {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"})
    ok = {"description": "a file of the studio page", "content": {"*/*": {"schema": _BINARY}}}
    return _op("A file of the studio page." + _ADMIN_ONLY, {"200": ok, **_errors("404")}, parameters=[name])


def _browse() -> Json:
    path = _param("path", "query", "a folder, ending in /", {"type": "string", "default": "/"})
    return _op(
        "One folder's subfolders and images, with signed thumbnails." + _ADMIN_ONLY,
        {"200": _json("the folder", _ref("Browse"), _NO_STORE), **_errors("400", "401", "404")},
        operationId="studioBrowse",
        parameters=[path],
        security=[{"studioSession": []}],
    )


def _options() -> Json:
    return _op(
        "What the studio's controls may offer." + _ADMIN_ONLY,
        {"200": _json("the options", _ref("Options"), _NO_STORE), **_errors("401", "404")},
        operationId="studioOptions",
        security=[{"studioSession": []}],
    )


def _sign() -> Json:
    return _op(
        "Sign a URL for the studio (checked like POST /v2/files/jwt)." + _ADMIN_ONLY,
        {
            "200": _json("the signed URL and its token", _ref("SignResponse"), _NO_STORE),
            **_errors("400", "401", "403", "404", "413"),
        },
        operationId="studioSign",
        parameters=[_csrf()],
        security=[{"studioSession": []}],
        requestBody={"required": True, "content": {"application/json": {"schema": _ref("SignRequest")}}},
    )


def _obj(required: list[str], properties: Json, *, closed: bool = True) -> Json:
    schema: Json = {"type": "object", "required": required, "properties": properties}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _schemas() -> Json:
    params = {"type": "object", "additionalProperties": _SCALAR, "description": "image parameters (SPEC §4)"}
    strings = {"type": "array", "items": {"type": "string"}}
    common = {
        "secureParams": {**params, "description": "signed: become the token's args"},
        "insecureParams": {**params, "description": "unsigned: added to the URL's query"},
        "kid": {"type": "string", "description": "key id (default: the first allowed for the path)"},
        "aud": {"type": "string", "description": "audience: a prefix of the path (default: the path)"},
    }
    lifetime = {"type": "integer", "minimum": 1, "description": "seconds, at most the rule's max_token_lifetime"}
    return {
        "Error": _obj(
            ["error"],
            {
                "error": {"type": "string"},
                "detail": {"type": "string"},
                "reason": {"type": "string"},
                "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        ),
        "MintRequest": _obj(
            ["filename", "expiresIn"], {"filename": {"type": "string"}, "expiresIn": lifetime, **common}
        ),
        "MintResponse": _obj(["url"], {"url": {"type": "string", "format": "uri"}}),
        "SignRequest": _obj(["path", "lifetime"], {"path": {"type": "string"}, "lifetime": lifetime, **common}),
        "SignResponse": _obj(
            ["url", "token", "header", "payload"],
            {
                "url": {"type": "string", "format": "uri"},
                "token": {"type": "string"},
                "header": {"type": "object"},
                "payload": {"type": "object"},
            },
        ),
        "Browse": _obj(
            ["path", "parent", "folders", "images", "watermarks"],
            {
                "path": {"type": "string"},
                "parent": {"type": ["string", "null"]},
                "folders": strings,
                "images": {
                    "type": "array",
                    "items": _obj(
                        ["path", "thumbnail"], {"path": {"type": "string"}, "thumbnail": {"type": ["string", "null"]}}
                    ),
                },
                "watermarks": strings,
                "truncated": {"type": "boolean"},
            },
            closed=False,
        ),
        "Options": _obj(
            ["fonts", "gravities", "formats", "keys", "max_lifetime"],
            {
                "fonts": strings,
                "gravities": strings,
                "formats": strings,
                "keys": strings,
                "max_lifetime": {"type": "integer"},
                "rules": {"type": "array", "items": {"type": "object"}},
                "parameters": {"type": "array", "items": {"type": "object"}},
            },
            closed=False,
        ),
    }


def _security_schemes() -> Json:
    return {
        "adminToken": {"type": "http", "scheme": "bearer", "description": "ORIGIN_ADMIN_TOKEN"},
        "studioSession": {"type": "apiKey", "in": "cookie", "name": "origin_studio"},
    }
