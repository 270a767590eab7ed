"""The console's pages and their JSON twins under ``/api/``; every view is on the access log.

Pages are read-only. ``require`` admits a signed-in, still-enabled user (else 401: a page
redirects to ``/login``, the API answers JSON); ``check_csrf`` guards every POST. Synchronous
views run in Starlette's thread pool, next to the synchronous database and archive code.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from recorder.audit.export import (
    ExportRefused,
    OpenedAudio,
    encode_wav,
    open_original_audio,
    open_redacted_audio,
)
from recorder.audit.queries import find_calls, show_session
from recorder.console import params
from recorder.console.auth import SignedIn
from recorder.console.integrity import integrity_status
from recorder.console.usage import usage_report
from recorder.console.waveform import peaks
from recorder.console.web import (
    check_csrf,
    console_state,
    page,
    read_form,
    require,
    session_key,
    wants_json,
)
from recorder.crypto.keys import IdentitiesUnavailable
from recorder.db.engine import transaction
from recorder.errors import IntegrityError, NotFound

PER_PAGE = 50
MAX_REASON = 500
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CALL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _bad(exc: params.BadParameter) -> HTTPException:
    return HTTPException(400, str(exc))


def _call_id(request: Request) -> str:
    """The call id in the path (a recorder id or a Hydra session id); anything else is a 404."""
    call_id: str = request.path_params["call_id"]
    if not _CALL_ID.match(call_id):
        raise HTTPException(404, "no such call")
    return call_id


# --- calls ---------------------------------------------------------------------------------------

def _calls(request: Request) -> tuple[SignedIn, dict[str, Any]]:
    signed = require(request)
    state = console_state(request)
    try:
        f = params.call_filter(request.query_params)
        page = params.page_of(request.query_params)
    except params.BadParameter as exc:
        raise _bad(exc) from exc
    with transaction(state.engine) as session:
        result = find_calls(session, f, page=page, per_page=PER_PAGE)
    filters = {k: v for k, v in request.query_params.items() if k != "page" and v}
    state.log(signed, "console_calls", detail={"filters": filters, "page": page, "count": len(result.rows),
                                               "api": wants_json(request)})
    return signed, {"calls": result.rows, "total": result.total, "page": result.page,
                    "pages": result.pages, "per_page": result.per_page, "filters": filters}


def calls_page(request: Request) -> Response:
    signed, data = _calls(request)
    return page(request, "calls.html", signed, **data)


def calls_api(request: Request) -> Response:
    _, data = _calls(request)
    return JSONResponse(data)


# --- one call ------------------------------------------------------------------------------------

def _call(request: Request) -> tuple[SignedIn, dict[str, Any]]:
    signed = require(request)
    state = console_state(request)
    key = _call_id(request)
    try:
        with transaction(state.engine) as session:
            call = show_session(session, key)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    call["integrity"] = integrity_status(state.config.home, state.engine, state.keystore, call["id"])
    call["cuts"] = [{"response_id": r["id"], "at_ms": r["cut_ms"]} for r in call["responses"]
                    if r["cut_ms"] is not None]
    call["audio_url"] = f"/calls/{call['id']}/audio"
    state.log(signed, "console_call", session_id=call["id"], detail={"api": wants_json(request)})
    return signed, call


def call_page(request: Request) -> Response:
    signed, call = _call(request)
    return page(request, "call.html", signed, call=call)


def call_api(request: Request) -> Response:
    _, call = _call(request)
    return JSONResponse(call)


def _open_redacted(request: Request, signed: SignedIn, call_id: str, action: str) -> OpenedAudio:
    state = console_state(request)
    try:
        return open_redacted_audio(state.config.home, state.engine, state.keystore, call_id,
                                   actor=signed.user, action=action, detail={"via": "console"})
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except ExportRefused as exc:
        raise HTTPException(409, str(exc)) from exc
    except (IdentitiesUnavailable, IntegrityError) as exc:
        raise HTTPException(503, str(exc)) from exc


def waveform_api(request: Request) -> Response:
    """Peaks of the redacted recording's two lanes, for the waveform drawn on the call page."""
    signed = require(request)
    opened = _open_redacted(request, signed, _call_id(request), "console_waveform")
    return JSONResponse(peaks(opened.samples, opened.rate))


def _ranged(request: Request, data: bytes, filename: str, *, download: bool) -> Response:
    """The WAV whole (200) or the byte range a player asks for (206), so it can seek."""
    headers = {"accept-ranges": "bytes",
               "content-disposition": f'{"attachment" if download else "inline"}; filename="{filename}"'}
    wanted = _RANGE.match(request.headers.get("range", ""))
    if wanted is None or not (wanted[1] or wanted[2]):
        return Response(data, media_type="audio/wav", headers=headers)
    size = len(data)
    if wanted[1]:
        start, end = int(wanted[1]), min(int(wanted[2]) if wanted[2] else size - 1, size - 1)
    else:
        start, end = max(0, size - int(wanted[2])), size - 1
    if start > end or start >= size:
        return Response(status_code=416, headers={"content-range": f"bytes */{size}"})
    headers["content-range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start:end + 1], status_code=206, media_type="audio/wav", headers=headers)


def audio(request: Request) -> Response:
    """The redacted recording. A fetch from its start is on the access log; the first per
    sign-in decrypts it, and the player's range requests are then served from memory."""
    signed = require(request)
    state = console_state(request)
    call_id = _call_id(request)
    key = session_key(request)
    download = request.query_params.get("download") == "1"
    data = None if download else state.cached_audio(key, call_id)
    if data is None:
        opened = _open_redacted(request, signed, call_id, "export" if download else "console_audio")
        data = encode_wav(opened.samples, opened.rate)
        state.cache_audio(key, call_id, data)
    elif request.headers.get("range", "bytes=0-").startswith("bytes=0-"):
        state.log(signed, "console_audio", session_id=call_id, detail={"redacted": True, "from_memory": True})
    return _ranged(request, data, f"{call_id}-redacted.wav", download=download)


# --- break-glass ---------------------------------------------------------------------------------

def _supervisor(request: Request, signed: SignedIn, call_id: str) -> None:
    if signed.role != "supervisor":
        console_state(request).log(signed, "console_original_refused", session_id=call_id,
                            detail={"why": "the auditor role cannot open originals"})
        raise HTTPException(403, "only a supervisor can open an original recording")


async def break_glass(request: Request) -> Response:
    """POST a reason: a grant for this sign-in to play or download the original of one call."""
    signed = await run_in_threadpool(require, request)
    call_id = _call_id(request)
    form = await read_form(request)
    check_csrf(signed, form)
    await run_in_threadpool(_supervisor, request, signed, call_id)
    reason = " ".join(form.get("reason", "").split())
    state = console_state(request)
    if not reason or len(reason) > MAX_REASON:
        await run_in_threadpool(state.log, signed, "console_original_refused", session_id=call_id,
                                detail={"why": "no reason given" if not reason else "reason too long"})
        raise HTTPException(400, f"opening the original needs a reason of 1 to {MAX_REASON} characters; "
                                 "it is kept in the access log")
    grant = state.grant(session_key(request), signed.user, call_id, reason)
    return RedirectResponse(f"/calls/{call_id}/original/{grant}", status_code=303)


def original_page(request: Request) -> Response:
    signed = require(request)
    call_id = _call_id(request)
    _supervisor(request, signed, call_id)
    state = console_state(request)
    grant = state.get_grant(request.path_params["grant"], session_key(request), call_id)
    if grant is None:
        raise HTTPException(403, "this break-glass grant expired or is not yours; ask again with a reason")
    state.log(signed, "console_original", session_id=call_id, reason=grant.reason)
    return page(request, "original.html", signed, call_id=call_id, grant=request.path_params["grant"],
                 reason=grant.reason)


def original_audio(request: Request) -> Response:
    """The original, decrypted in memory with the archive identity and streamed; every fetch
    is an ``export_original`` entry with the grant's reason. No range requests: never cached."""
    signed = require(request)
    call_id = _call_id(request)
    _supervisor(request, signed, call_id)
    state = console_state(request)
    grant = state.get_grant(request.path_params["grant"], session_key(request), call_id)
    if grant is None:
        raise HTTPException(403, "this break-glass grant expired or is not yours; ask again with a reason")
    download = request.query_params.get("download") == "1"
    try:
        opened = open_original_audio(state.config.home, state.engine, state.keystore, call_id,
                                     actor=signed.user, reason=grant.reason,
                                     detail={"via": "console", "download": download})
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except (IdentitiesUnavailable, IntegrityError, ExportRefused) as exc:
        raise HTTPException(503, str(exc)) from exc
    data = encode_wav(opened.samples, opened.rate)
    disposition = "attachment" if download else "inline"
    return Response(data, media_type="audio/wav", headers={
        "accept-ranges": "none", "content-disposition": f'{disposition}; filename="{call_id}-original.wav"'})


# --- usage ---------------------------------------------------------------------------------------

def _usage(request: Request) -> tuple[SignedIn, dict[str, Any]]:
    signed = require(request)
    state = console_state(request)
    try:
        since, until = params.date_range(request.query_params)
    except params.BadParameter as exc:
        raise _bad(exc) from exc
    with transaction(state.engine) as session:
        report = usage_report(session, since=since, until=until)
    state.log(signed, "console_usage", detail={"api": wants_json(request)})
    return signed, report


def usage_page(request: Request) -> Response:
    signed, report = _usage(request)
    return page(request, "usage.html", signed, usage=report)


def usage_api(request: Request) -> Response:
    _, report = _usage(request)
    return JSONResponse(report)


def home(request: Request) -> Response:
    require(request)
    return RedirectResponse("/calls", status_code=303)


ROUTES = [
    Route("/", home),
    Route("/calls", calls_page),
    Route("/api/calls", calls_api),
    Route("/calls/{call_id}", call_page),
    Route("/api/calls/{call_id}", call_api),
    Route("/calls/{call_id}/audio", audio),
    Route("/api/calls/{call_id}/waveform", waveform_api),
    Route("/calls/{call_id}/original", break_glass, methods=["POST"]),
    Route("/calls/{call_id}/original/{grant}", original_page),
    Route("/calls/{call_id}/original/{grant}/audio", original_audio),
    Route("/usage", usage_page),
    Route("/api/usage", usage_api),
]
