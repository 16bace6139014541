"""The HTTP endpoints: thin, calling the modules in order (verify → parse → act)."""

from __future__ import annotations

import time

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from origin import auth
from origin.errors import AuthError, NotFoundError
from origin.headers import Freshness, content_disposition, etag_matches, make_etag, max_age
from origin.negotiate import negotiate
from origin.params import merge_params, parse_query
from origin.paths import CANONICAL_PATH, IMAGE_EXTENSIONS, extension, is_reserved
from origin.state import AppState
from origin.store import SourceInfo
from transforms import Encoding, Rendered, RenderOptions, render


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})


async def image(request: Request) -> Response:
    state: AppState = request.app.state.origin
    settings = state.settings
    now = time.time()

    path: str = request.scope[CANONICAL_PATH]
    if is_reserved(path):
        raise NotFoundError()
    pairs = parse_query(request.scope.get("query_string", b""))
    tokens = [value for name, value in pairs if name == "jwt"]
    unsigned = [(name, value) for name, value in pairs if name != "jwt"]

    rule = settings.rule_for(path)
    claims = None
    if len(tokens) > 1:
        raise AuthError(auth.MALFORMED)
    if tokens:
        claims = auth.verify_token(tokens[0], path, rule, settings, now)
    elif rule.protect:
        raise AuthError(auth.MISSING)

    merged = merge_params(unsigned, claims.args if claims else None, rule, settings)
    if extension(path) not in IMAGE_EXTENSIONS:
        raise NotFoundError("only images are served")
    info = await anyio.to_thread.run_sync(state.store.stat, path)  # realpath and stat may block

    output = merged.options.output
    negotiated = negotiate(output.format, output.webp_fallback, request.headers.get("accept", ""))
    options_key = merged.options.cache_key(negotiated.encoding)
    rule_max_age = settings.cache_max_age if rule.cache_max_age is None else rule.cache_max_age
    token_expiry = claims.expires_at if claims is not None and rule.protect else None

    def describe(version: SourceInfo) -> tuple[tuple[str, str], dict[str, str]]:
        key = (version.version, options_key)
        freshness = Freshness(
            etag=make_etag(*key),
            last_modified=version.mtime,
            max_age=max_age(rule_max_age, token_expiry, now),
            now=now,
            vary_accept=negotiated.vary_accept,
        )
        return key, freshness.headers()

    key, headers = describe(info)
    headers["Access-Control-Allow-Origin"] = settings.cors_allow_origin
    headers["X-Content-Type-Options"] = "nosniff"
    if claims is not None:
        headers["X-Auth-Result"] = "ok"
    if merged.ignored:
        headers["X-Ignored-Params"] = ", ".join(merged.ignored)

    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)

    cached = state.cache.get(key)
    if cached is not None:
        rendered = cached
        headers["X-Cache"] = "HIT"
    else:
        started = time.perf_counter()

        async def read_render_keep() -> tuple[Rendered, SourceInfo]:
            rendered, current = await state.limiter.run(
                _read_and_render, state, info, merged.options, negotiated.encoding, state.limiter.deadline()
            )
            state.cache.put(key if current.version == info.version else describe(current)[0], rendered)
            return rendered, current

        (rendered, current), shared = await state.flights.run(key, read_render_keep)
        if current.version != info.version:  # the file changed after the stat: describe what was read
            headers.update(describe(current)[1])
        headers["X-Cache"] = "MISS"
        if not shared:
            headers["Server-Timing"] = _server_timing(rendered, time.perf_counter() - started)
    headers["Content-Disposition"] = content_disposition(path, rendered.extension, merged.download)
    return Response(rendered.body, headers=headers, media_type=rendered.media_type)


def _read_and_render(
    state: AppState, info: SourceInfo, options: RenderOptions, encoding: Encoding, deadline: float
) -> tuple[Rendered, SourceInfo]:
    """The whole miss in one render thread: read the source once, render it once."""
    data, current = state.store.read(info)
    return render(data, options, encoding, state.limits, deadline=deadline), current


def _server_timing(rendered: Rendered, total: float) -> str:
    parts = [
        ("decode", rendered.decode_seconds),
        ("transform", rendered.transform_seconds),
        ("encode", rendered.encode_seconds),
        ("total", total),
    ]
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in parts)
