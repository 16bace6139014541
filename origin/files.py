"""Passthrough files (SPEC §1): video, audio, PDF and archives, protected like images, served as they are.

Streaming, ``Range`` (single and multiple, 206/416), ``If-Range`` and ``HEAD`` are Starlette's
``FileResponse``; this module adds what the origin promises around it: the file opened once with the
store's confinement (the response reads that very descriptor, so a path swapped afterwards changes
nothing), a strong ETag from the path and version with ``304``, the caching headers of the rule and
token, ``nosniff``, a ``Content-Type`` from a fixed table, and ``Content-Disposition`` (``dl``).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence

from starlette.datastructures import MutableHeaders
from starlette.responses import FileResponse
from starlette.types import Message, Receive, Scope, Send

from origin.errors import ParameterError
from origin.params import NOT_ALLOWED, REPEATED, UNKNOWN, ArgValue
from origin.registry import BY_NAME, Limits, ValueProblem
from origin.settings import Rule

# Types a browser must get right to play or show a file; anything else is application/octet-stream.
MEDIA_TYPES = {
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "ogv": "video/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "gz": "application/gzip",  # never Content-Encoding: the client keeps the archive as it is
    "tar": "application/x-tar",
    "7z": "application/x-7z-compressed",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
NOT_FOR_FILES = "does not apply to files served as they are"


def media_type(extension: str) -> str:
    # An allowlist: any other type an operator lists is served as bytes, never as something a
    # browser renders as a document (HTML, SVG, XML with XHTML inside, ...).
    return MEDIA_TYPES.get(extension, "application/octet-stream")


def wants_download(
    unsigned: Sequence[tuple[str, str]], signed: Mapping[str, ArgValue] | None, rule: Rule, max_dimension: int
) -> bool:
    """``dl`` from the query or the token (the token wins). Any other parameter is a 400 naming it:
    nothing that would process an image is quietly dropped, so a token carrying a watermark never
    serves an unmarked file. A rule's strict profile cannot be applied to a file either."""
    problems: dict[str, str] = {}
    values: dict[str, bool] = {}
    limits = Limits(max_dimension=max_dimension)
    signed_pairs = [(name, _text(value)) for name, value in (signed or {}).items()]
    for layer, pairs in (("query", unsigned), ("args", signed_pairs)):
        seen: dict[str, str] = {}
        for given, text in pairs:
            param = BY_NAME.get(given)
            if param is None:
                problems[given] = UNKNOWN
            elif param.key in seen:
                problems[given] = problems[seen[param.key]] = REPEATED
            elif param.key != "dl":
                problems[given] = NOT_FOR_FILES
            elif (
                layer == "query"
                and rule.protect
                and rule.unsigned_allowed is not None
                and ("dl" not in rule.unsigned_allowed)
            ):
                problems[given] = NOT_ALLOWED
            else:
                try:
                    values[layer] = bool(param.parse(text, limits))
                except ValueProblem as exc:
                    problems[given] = str(exc)
            if param is not None:
                seen.setdefault(param.key, given)
    if rule.profile is not None:
        problems["profile (strict)"] = "this path's rule applies a profile, which a file served as it is cannot carry"
    if problems:
        raise ParameterError(problems)
    return values.get("args", values.get("query", False))


def _text(value: ArgValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class OpenFileResponse(FileResponse):
    """A ``FileResponse`` of a descriptor opened (and confined) by the store, closed when the
    response ends however it ends. ``/proc/self/fd/N`` reopens that same file, whatever the path
    names by then. Starlette's own 400/416 answers to a bad ``Range`` get ``no-store`` as every
    error of the origin does."""

    on_start: Callable[[int], Awaitable[None]] | None = None  # told the status when the response starts

    def __init__(self, fd: int, headers: Mapping[str, str], media_type: str) -> None:
        self.fd = fd
        super().__init__(f"/proc/self/fd/{fd}", headers=headers, media_type=media_type, stat_result=os.fstat(fd))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_marking_errors(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] >= 400:
                    headers = MutableHeaders(raw=message["headers"])
                    headers["Cache-Control"] = "no-store"
                    headers["X-Content-Type-Options"] = "nosniff"
                if self.on_start is not None:
                    await self.on_start(message["status"])
            await send(message)

        # A server that offers "pathsend" would open /proc/self/fd/N after this response has closed N
        # (by then perhaps another request's file): always stream from the descriptor here instead.
        extensions = {
            name: value for name, value in scope.get("extensions", {}).items() if name != "http.response.pathsend"
        }
        try:
            await super().__call__({**scope, "extensions": extensions}, receive, send_marking_errors)
        finally:
            os.close(self.fd)
