"""Request-level helpers shared by the sign-in routes and the views: who is signed in, CSRF,
bounded form reading, and the template renderer."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from recorder.console.auth import SignedIn, same_token
from recorder.console.state import ConsoleState
from recorder.db.engine import transaction
from recorder.db.users import get_user

SESSION_COOKIE = "recorder_session"
MAX_FORM_BYTES = 16 * 1024
MAX_FIELD = 1024


def console_state(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


def templates(request: Request) -> Jinja2Templates:
    result: Jinja2Templates = request.app.state.templates
    return result


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def session_key(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE, "")


def require(request: Request) -> SignedIn:
    """The signed-in user of this request, whose account is still enabled; else 401."""
    state = console_state(request)
    signed = state.signed_in(session_key(request))
    if signed is None:
        raise HTTPException(401, "sign in first")
    with transaction(state.engine) as session:
        user = get_user(session, signed.user)
    if user is None or user.disabled or user.role != signed.role:
        state.sign_out(session_key(request))
        raise HTTPException(401, "sign in first")
    request.state.signed = signed
    return signed


def check_csrf(signed: SignedIn, form: dict[str, str]) -> None:
    if not same_token(signed.csrf, form.get("csrf")):
        raise HTTPException(403, "the form's CSRF token is missing or wrong; reload the page and try again")


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


def page(request: Request, name: str, signed: SignedIn | None, *, code: int = 200, **context: Any) -> Response:
    """A rendered template; every page knows who is signed in and their CSRF token."""
    return templates(request).TemplateResponse(
        request, name, {"user": signed, "csrf": signed.csrf if signed else "", **context}, status_code=code)
