"""The console's ASGI application (Starlette): routes, security headers, sign-in and sign-out.

Starlette is small, typed and async, serves static files and Jinja2 templates itself, and runs
synchronous views in a thread pool, which suits the synchronous SQLAlchemy code it calls.

Sign-in: ``POST /login`` with ``username``, ``password`` and ``csrf`` (the token in the form,
double-submitted in a short-lived cookie). A session is a random token in an ``HttpOnly``,
``SameSite=Strict`` cookie (``Secure`` behind TLS) naming server-side state; every POST after
sign-in carries that session's CSRF token. Failed sign-ins are throttled per user name and per
client address (``recorder.console.auth.Throttle``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recorder.console import passwords, views
from recorder.console.auth import SignedIn, same_token
from recorder.console.state import ConsoleConfig, ConsoleState, token
from recorder.db.engine import transaction
from recorder.db.users import get_user, set_password_hash

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "recorder_session"
LOGIN_CSRF_COOKIE = "recorder_login_csrf"
MAX_FORM_BYTES = 16 * 1024
MAX_FIELD = 1024
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Adds the security headers to every response, and ``no-store`` to all but static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def secure(request: Request) -> bool:
    state: ConsoleState = request.app.state.console
    return state.config.secure_cookies or request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=secure(request))


async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST, at most ``MAX_FORM_BYTES``; fields at most ``MAX_FIELD``."""
    length = request.headers.get("content-length")
    if length == "0":
        return {}
    if length is None or not length.isdigit() or int(length) > MAX_FORM_BYTES:
        raise HTTPException(413 if length and length.isdigit() else 411,
                            f"a form must state its length and be at most {MAX_FORM_BYTES} bytes")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "expected an application/x-www-form-urlencoded form")
    form = await request.form(max_files=0, max_fields=20)
    out = {k: v for k, v in form.items() if isinstance(v, str)}
    if any(len(v) > MAX_FIELD for v in out.values()):
        raise HTTPException(400, f"a form field is longer than {MAX_FIELD} characters")
    return out


def login_page(request: Request, error: str = "", status: int = 200) -> Response:
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or token()
    response = templates(request).TemplateResponse(request, "login.html", {"csrf": csrf, "error": error,
                                                                          "user": None}, status_code=status)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, csrf, max_age=3600)
    return response


def templates(request: Request) -> Jinja2Templates:
    result: Jinja2Templates = request.app.state.templates
    return result


def _check_password(state: ConsoleState, name: str, password: str) -> SignedIn | None:
    """The user if ``password`` is theirs and they are enabled (a stale hash is upgraded)."""
    with transaction(state.engine) as session:
        user = get_user(session, name)
    if user is None:
        passwords.verify_password(passwords.dummy_hash(), password)  # same time as a wrong password
        return None
    if not passwords.verify_password(user.password_hash, password) or user.disabled:
        return None
    if passwords.needs_rehash(user.password_hash):
        import datetime as dt

        with transaction(state.engine) as session:
            set_password_hash(session, name, passwords.hash_password(password), now=dt.datetime.now(dt.UTC))
    return SignedIn(user.name, user.role, "", 0, 0)


async def login(request: Request) -> Response:
    if request.method == "GET":
        return login_page(request)
    state: ConsoleState = request.app.state.console
    form = await read_form(request)
    if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE), form.get("csrf")):
        return login_page(request, "The form expired; please sign in again.", 403)
    name, password = form.get("username", "").strip(), form.get("password", "")
    keys = [f"user:{name.lower()}", f"addr:{client_address(request)}"]
    with state.lock:
        wait = state.throttle.retry_after(keys, now=state.now())
    if wait > 0:
        logger.warning("sign-in throttled for %s", client_address(request))
        return login_page(request, f"Too many failed sign-ins; try again in {int(wait // 60) + 1} minutes.", 429)
    user = await run_in_threadpool(_check_password, state, name, password) if name and password else None
    if user is None:
        with state.lock:
            state.throttle.failed(keys, now=state.now())
        logger.warning("failed sign-in from %s", client_address(request))
        return login_page(request, "Wrong user name or password.", 401)
    with state.lock:
        state.throttle.succeeded(keys[0])
    key, signed = state.sign_in(user.user, user.role)
    await run_in_threadpool(state.log, signed, "console_login", detail={"address": client_address(request)})
    response = RedirectResponse("/calls", status_code=303)
    set_cookie(response, request, SESSION_COOKIE, key, max_age=None)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


async def logout(request: Request) -> Response:
    state: ConsoleState = request.app.state.console
    signed = views.require(request)
    form = await read_form(request)
    views.check_csrf(signed, form)
    state.sign_out(request.cookies.get(SESSION_COOKIE))
    await run_in_threadpool(state.log, signed, "console_logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 401 and not views.wants_json(request):
        return RedirectResponse("/login", status_code=303)
    if views.wants_json(request):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    signed = getattr(request.state, "signed", None)
    return templates(request).TemplateResponse(
        request, "error.html", {"status": exc.status_code, "message": exc.detail, "user": signed,
                                "csrf": signed.csrf if signed else ""}, status_code=exc.status_code)


def create_app(config: ConsoleConfig, engine: Engine) -> Starlette:
    routes: list[Any] = [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        *views.ROUTES,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.console = ConsoleState(config, engine)
    app.state.templates = Jinja2Templates(directory=HERE / "templates")
    app.add_middleware(SecurityHeaders)
    return app
