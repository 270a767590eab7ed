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

import datetime as dt
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
from recorder.console.auth import same_token
from recorder.console.state import ConsoleConfig, ConsoleState, token
from recorder.console.web import (
    SESSION_COOKIE,
    check_csrf,
    console_state,
    page,
    read_form,
    require,
    session_key,
    wants_json,
)
from recorder.db.engine import transaction
from recorder.db.users import UserInfo, get_user, set_password_hash

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LOGIN_CSRF_COOKIE = "recorder_login_csrf"
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


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    secure = console_state(request).config.secure_cookies or request.url.scheme == "https"
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=secure)


def login_page(request: Request, error: str = "", status: int = 200) -> Response:
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or token()
    response = page(request, "login.html", None, code=status, error=error, csrf=csrf)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, csrf, max_age=3600)
    return response


def _check_password(state: ConsoleState, name: str, password: str) -> UserInfo | None:
    """The user if ``password`` is theirs and they are enabled (a stale hash is upgraded)."""
    with transaction(state.engine) as session:
        user = get_user(session, name)
    if user is None:
        passwords.verify_password(passwords.dummy_hash(), password)  # same time as a wrong password
        return None
    if not passwords.verify_password(user.password_hash, password) or user.disabled:
        return None
    if passwords.needs_rehash(user.password_hash):
        with transaction(state.engine) as session:
            set_password_hash(session, name, passwords.hash_password(password), now=dt.datetime.now(dt.UTC))
    return user


async def login(request: Request) -> Response:
    if request.method == "GET":
        return login_page(request)
    state = console_state(request)
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
    key, signed = state.sign_in(user.name, user.role)
    await run_in_threadpool(state.log, signed, "console_login", detail={"address": client_address(request)})
    response = RedirectResponse("/calls", status_code=303)
    set_cookie(response, request, SESSION_COOKIE, key, max_age=None)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


async def logout(request: Request) -> Response:
    state = console_state(request)
    signed = await run_in_threadpool(require, request)
    form = await read_form(request)
    check_csrf(signed, form)
    state.sign_out(session_key(request))
    await run_in_threadpool(state.log, signed, "console_logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 401 and not wants_json(request):
        return RedirectResponse("/login", status_code=303)
    if wants_json(request):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
    signed = getattr(request.state, "signed", None)
    return page(request, "error.html", signed, code=exc.status_code, status=exc.status_code,
                message=exc.detail)


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
