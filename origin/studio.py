"""The studio (SPEC §7): the designers' page behind the admin token, and its JSON API.

    GET  /studio                 the page (with a session) or the login form (without)
    GET  /studio/static/<name>   the page's files, from origin/static/studio/ (no session needed)
    POST /studio/login           form field ``token`` → session cookie, 303 to /studio
    POST /studio/logout          ``X-CSRF-Token`` → session gone, cookie cleared, 303 to /studio
    GET  /studio/api/browse      folders and images of one folder, with signed thumbnails
    GET  /studio/api/options     fonts, gravities, formats, key ids, lifetimes
    POST /studio/api/sign        ``X-CSRF-Token`` + the minting body → URL, token, header, payload

Everything answers 404 unless an admin token is configured, carries ``Cache-Control: no-store`` and
never ``Access-Control-Allow-Origin``. The cookie is ``HttpOnly; SameSite=Strict; Path=/studio``.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from origin.admin import AdminGate, client_address
from origin.catalogue import Listing, list_folder, list_images
from origin.errors import (
    CsrfError,
    InvalidPathError,
    NotFoundError,
    ParameterError,
    TooManyAttemptsError,
    UnauthorizedError,
)
from origin.fonts import FAMILIES
from origin.minting import NO_STORE, STUDIO_FIELDS, base_url, max_lifetime, mint, read_body, read_json_object
from origin.paths import check_path, is_reserved
from origin.registry import PARAMS
from origin.sessions import Session, SessionStore
from origin.settings import Settings
from origin.signing import sign_url
from origin.state import AppState
from origin.store import FolderStore
from transforms import Gravity, OutputFormat

COOKIE = "origin_studio"
CSRF_HEADER = "x-csrf-token"
STATIC_DIR = Path(__file__).resolve().parent / "static" / "studio"
THUMBNAIL_ARGS = {"w": 160, "h": 160, "format": "jpg"}
THUMBNAIL_SECONDS = 600
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https: http:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
    "Referrer-Policy": "same-origin",
}
_STATIC_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", re.ASCII)
_MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "json": "application/json",
    "map": "application/json",
    "svg": "image/svg+xml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "ico": "image/x-icon",
    "woff2": "font/woff2",
    "txt": "text/plain; charset=utf-8",
}
_PLACEHOLDERS = {
    "index.html": '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Studio</title>'
    '<meta name="csrf-token" content="{{csrf_token}}"></head><body><p>The studio page is not installed.</p>'
    "</body></html>",
    "login.html": '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Studio: log in</title>'
    '</head><body><form method="post" action="/studio/login"><p role="alert">{{error}}</p><label>Admin token '
    '<input type="password" name="token" autocomplete="current-password" required></label> '
    "<button>Log in</button></form></body></html>",
}


async def page(request: Request) -> Response:
    """``GET /studio``: the page with this session's CSRF token, or the login form."""
    _, _, sessions = _studio(request)
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        ended = "Your session has ended; log in again." if request.cookies.get(COOKIE) else ""
        response = await _login_page(ended, 200)
        if ended:
            response.headers["Set-Cookie"] = _cookie(request, "", clear=True)
        return response
    text = await _template("index.html")
    return HTMLResponse(text.replace("{{csrf_token}}", html.escape(session.csrf_token)), headers=PAGE_HEADERS)


async def static_file(request: Request) -> Response:
    """``GET /studio/static/<name>``: a plain file name from ``origin/static/studio/``."""
    _studio(request)
    name = request.path_params["name"]
    file = STATIC_DIR / name
    if not _STATIC_NAME.fullmatch(name) or not await anyio.to_thread.run_sync(file.is_file):
        raise NotFoundError()
    data = await anyio.to_thread.run_sync(file.read_bytes)
    media_type = _MEDIA_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    return Response(data, media_type=media_type, headers=PAGE_HEADERS)


async def login(request: Request) -> Response:
    """``POST /studio/login``: the admin token from a form; wrong ones are rate-limited per client."""
    _, gate, sessions = _studio(request)
    fields = parse_qsl((await read_body(request)).decode("utf-8", "replace"), keep_blank_values=True)
    tokens = [value for name, value in fields if name == "token"]
    try:
        gate.check(tokens[0] if len(tokens) == 1 and tokens[0] else None, client_address(request))
    except TooManyAttemptsError as exc:
        message = f"Too many wrong attempts; try again in {exc.retry_after} s."
        return await _login_page(message, exc.status_code, exc.headers())
    except UnauthorizedError as exc:
        return await _login_page("Wrong admin token.", exc.status_code, exc.headers())
    previous = request.cookies.get(COOKIE)
    if previous:
        sessions.delete(previous)
    session = sessions.create()
    response = RedirectResponse("/studio", status_code=303, headers=PAGE_HEADERS)
    response.headers["Set-Cookie"] = _cookie(request, session.id)
    return response


async def logout(request: Request) -> Response:
    """``POST /studio/logout``: ends the session (its CSRF token required), clears the cookie."""
    _, _, sessions = _studio(request)
    session = sessions.get(request.cookies.get(COOKIE))
    if session is not None:
        _check_csrf(request, session)
        sessions.delete(session.id)
    response = RedirectResponse("/studio", status_code=303, headers=PAGE_HEADERS)
    response.headers["Set-Cookie"] = _cookie(request, "", clear=True)
    return response


async def browse(request: Request) -> Response:
    """``GET /studio/api/browse?path=/folder/``: one folder's subfolders and images, sorted."""
    state, _ = _session(request)
    if not isinstance(state.store, FolderStore):
        raise NotFoundError("browsing needs a folder of images")
    folder = _folder(request.query_params.getlist("path"))
    listing: Listing = await anyio.to_thread.run_sync(list_folder, state.store, folder)
    marks = await anyio.to_thread.run_sync(list_images, state.store)
    base, now = base_url(request, state.settings), time.time()
    return JSONResponse(
        {
            "path": folder,
            "parent": None if folder == "/" else folder[: folder.rstrip("/").rfind("/") + 1],
            "folders": listing.folders,
            "images": [
                {"path": path, "thumbnail": _thumbnail(state.settings, path, base, now)} for path in listing.images
            ],
            "watermarks": marks,
            "truncated": listing.truncated,
        },
        headers=NO_STORE,
    )


async def options(request: Request) -> Response:
    """``GET /studio/api/options``: what the page's controls may offer (key ids, never secrets)."""
    state, _ = _session(request)
    settings = state.settings
    return JSONResponse(
        {
            "fonts": list(FAMILIES),
            "gravities": [gravity.value for gravity in Gravity],
            "formats": [fmt.value for fmt in OutputFormat],
            "keys": list(settings.keys),
            "max_lifetime": max_lifetime(settings.rule_for("/")),
            "rules": [
                {
                    "prefix": rule.prefix,
                    "protect": rule.protect,
                    "keys": list(settings.secrets_for(rule)),
                    "max_lifetime": max_lifetime(rule),
                }
                for rule in settings.rules
            ],
            "parameters": [
                {
                    "name": p.name,
                    "group": p.group,
                    "values": p.values,
                    "default": p.default,
                    "signed_only": p.signed_only,
                }
                for p in PARAMS
                if p.supported
            ],
        },
        headers=NO_STORE,
    )


async def sign(request: Request) -> Response:
    """``POST /studio/api/sign``: the REST endpoint's checks, the decoded token beside the URL."""
    state, session = _session(request)
    _check_csrf(request, session)
    body = await read_json_object(request)
    minted = await mint(state, body, STUDIO_FIELDS, base_url(request, state.settings), time.time())
    return JSONResponse(
        {"url": minted.url, "token": minted.token, "header": minted.header, "payload": minted.payload},
        headers=NO_STORE,
    )


def _studio(request: Request) -> tuple[AppState, AdminGate, SessionStore]:
    """The app's studio collaborators; 404 (like an unknown path) when no admin token is configured."""
    state: AppState = request.app.state.origin
    if state.admin is None or state.sessions is None:
        raise NotFoundError()
    return state, state.admin, state.sessions


def _session(request: Request) -> tuple[AppState, Session]:
    state, _, sessions = _studio(request)
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise UnauthorizedError("no studio session; log in at /studio")
    return state, session


def _check_csrf(request: Request, session: Session) -> None:
    if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
        raise CsrfError()


def _cookie(request: Request, value: str, *, clear: bool = False) -> str:
    attributes = [f"{COOKIE}={value}", "HttpOnly", "SameSite=Strict", "Path=/studio"]
    if clear:
        attributes += ["Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT"]
    settings: Settings = request.app.state.origin.settings
    public = settings.public_base_url or ""
    if request.url.scheme == "https" or public.startswith("https://"):
        attributes.append("Secure")
    return "; ".join(attributes)


def _folder(values: list[str]) -> str:
    """The ``path`` query parameter: ``/`` or a canonical folder path ending in ``/``."""
    if len(values) > 1:
        raise ParameterError({"path": "repeated parameter"})
    folder = values[0] if values else "/"
    if folder == "/":
        return folder
    if not folder.endswith("/"):
        raise ParameterError({"path": "must be a folder path ending in /"})
    try:
        check_path(folder[:-1])
    except InvalidPathError as exc:
        raise ParameterError({"path": f"must be a canonical folder path ({exc})"}) from exc
    if is_reserved(folder[:-1]) or any(part.startswith(".") for part in folder.split("/")):
        raise ParameterError({"path": "is not a folder of images"})
    return folder


def _thumbnail(settings: Settings, path: str, base: str, now: float) -> str | None:
    """A signed URL of a 160 px JPEG of ``path``, valid 10 minutes (less if the rule says so); ``None``
    when the rule has only public keys, with which the origin cannot sign."""
    rule = settings.rule_for(path)
    kid = next(iter(settings.secrets_for(rule)), None)
    if kid is None:
        return None
    return sign_url(
        path,
        key=settings.keys[kid],
        kid=kid,
        expires_in=min(THUMBNAIL_SECONDS, max_lifetime(rule)),
        args=THUMBNAIL_ARGS,
        base_url=base,
        now=now,
    )


async def _template(name: str) -> str:
    """A page from ``origin/static/studio/``, or a minimal stand-in while it is not installed."""
    file = STATIC_DIR / name
    try:
        return await anyio.to_thread.run_sync(lambda: file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _PLACEHOLDERS[name]


async def _login_page(error: str, status: int, headers: dict[str, str] | None = None) -> Response:
    text = (await _template("login.html")).replace("{{error}}", html.escape(error))
    return HTMLResponse(text, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})
